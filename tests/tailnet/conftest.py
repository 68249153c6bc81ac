"""tests/tailnet: the session's test tailnet (tailnet_fixtures.py) and a fresh runtime per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tailnet.tailnet_fixtures import (  # noqa: F401  (fixtures)
    Runtime,
    bins,
    control,
    dev_port,
    devbox,
    devbox_ip,
    identity,
    netns,
    runtime_env,
    start_runtime,
)
from tailnet.tailnet_procs import Binaries, Control, Node

@pytest.fixture
async def runtime(bins: Binaries, control: Control, devbox: Node, dev_port: int,
                  tmp_path: Path) -> AsyncIterator[Runtime]:
    """The runtime, its target the dev box by MagicDNS name: http://devbox:PORT."""
    rt = await start_runtime(f"http://devbox:{dev_port}", runtime_env(bins, control, tmp_path / "ts"))
    try:
        yield rt
    finally:
        await rt.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as s:
        yield s
