"""`devproxy runtime` as a real child process, started the way a user (or Cloud Run) starts it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any


async def spawn_runtime(*args: str, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, list[dict[str, Any]]]:
    """Start `python -m devproxy runtime ARGS` and wait (bounded) for its `runtime.started` line.

    Returns the process and the JSON lines read so far (the last one is `runtime.started`, with the
    bound port). The child gets this environment plus `env`, without the tests' asyncio debug mode.
    """
    base = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devproxy", "runtime", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**base, **env},
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[dict[str, Any]] = []
    async with asyncio.timeout(20):
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                raise AssertionError("runtime exited before listening: " + (await proc.stderr.read()).decode())
            lines.append(json.loads(raw))
            if lines[-1]["event"] == "runtime.started":
                return proc, lines
