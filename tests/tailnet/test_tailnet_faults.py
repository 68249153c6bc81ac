"""The watchdog and proof 8: network faults between the container and the dev box, made with the dev box's
network namespace (nftables drops its UDP; `ip link` cuts its only link)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from conftest import Runtime, runtime_env, start_runtime
from netns import Netns
from support.socks import free_port
from tailnet import Binaries, Control, Node


async def test_watchdog_restarts_a_running_tailscaled_whose_dials_keep_failing(
    bins: Binaries, control: Control, devbox: Node, tmp_path: Path, session: aiohttp.ClientSession,
) -> None:
    """Running, but every dial to the target fails for longer than DEVPROXY_TAILSCALE_WATCHDOG: tailscaled is
    restarted once, with the reason logged under a stable event name, and the runtime keeps serving."""
    closed = free_port()  # nothing listens there on the dev box either
    rt = await start_runtime(f"http://devbox:{closed}", runtime_env(
        bins, control, tmp_path / "ts", DEVPROXY_TAILSCALE_WATCHDOG="3"))
    try:
        await rt.wait_event("tailscaled.state", timeout=60, state="running")
        fired = await rt.wait_event("tailscaled.watchdog", timeout=20)
        assert fired["severity"] == "WARNING" and fired["target"] == f"devbox:{closed}"
        assert "failed for 3 s" in fired["reason"] and fired["next_bound_s"] == 6.0
        restart = await rt.wait_event("tailscaled.restart", timeout=10)
        assert restart["message"].startswith("restarting tailscaled in 1 s (watchdog: every dial")
        await rt.wait_event("tailscaled.state", timeout=60, after=rt.lines.index(restart), state="running")
        assert len(rt.events("tailscaled.started")) == 2
        status, body = await rt.ready(session)
        assert status == 503 and body["checks"]["target"]["ok"] is False
    finally:
        assert await rt.stop() == 0
