"""Run the real `devproxy` console entry point in a subprocess (so exit codes and stderr are real)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: variables from the developer's machine that would change what deploy reads.
_SCRUB_PREFIXES = ("DEVPROXY_", "GOOGLE_", "CLOUDSDK_", "TS_", "TAILSCALE_")


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def devproxy(args: list[str], *, cwd: Path, env: Mapping[str, str] | None = None,
             stdin: str = "", timeout: float = 120) -> Ran:
    """`python -m devproxy ARGS` with a clean, isolated environment (HOME = cwd)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    full.update({"HOME": str(cwd), "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    full.update(env or {})
    done = subprocess.run([sys.executable, "-m", "devproxy", *args], cwd=cwd, env=full, input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Ran(done.returncode, done.stdout, done.stderr)
