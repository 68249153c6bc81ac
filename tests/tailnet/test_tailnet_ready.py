"""Proof 1: the runtime starts the real tailscaled, logs in through the key file, and is ready only once
Running and the dev box answers across the tailnet (by MagicDNS name and by 100.x address)."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tailnet.tailnet_fixtures import KEY, Runtime, runtime_env, start_runtime
from tailnet.tailnet_procs import Binaries, Control


async def test_ready_after_running_and_target_through_the_tunnel(runtime: Runtime, session: aiohttp.ClientSession) -> None:
    """Readiness is 503 until BackendState Running and the target answers via tailscaled; then 200."""
    status, body = await runtime.ready(session)
    assert status == 503, body
    body = await runtime.wait_ready(session, 200, timeout=60)
    assert body["checks"]["tailscale"]["backend_state"] == "Running"
    running = await runtime.wait_event("tailscale.backend_state", timeout=5, backend_state="Running")
    ready = await runtime.wait_event("ready.changed", timeout=5, ready=True)
    assert runtime.lines.index(ready) > runtime.lines.index(running)
    assert body["checks"]["target"]["ok"] is True
    async with session.get(f"{runtime.url}/echo/hello") as resp:
        assert resp.status == 200
        assert (await resp.json())["raw_path"] == "/echo/hello"


async def test_target_by_tailnet_address_and_the_key_only_in_a_file(
    bins: Binaries, control: Control, devbox_ip: str, dev_port: int, tmp_path: Path, session: aiohttp.ClientSession,
) -> None:
    """http://100.x.y.z:PORT works too; the key from TS_AUTHKEY reached `tailscale up` as a file that is gone
    afterwards, and no log line or argv shows it."""
    state = tmp_path / "ts"
    rt = await start_runtime(f"http://{devbox_ip}:{dev_port}", runtime_env(bins, control, state))
    try:
        await rt.wait_ready(session, 200, timeout=60)
        async with session.get(f"{rt.url}/echo/by-address") as resp:
            assert resp.status == 200 and (await resp.json())["raw_path"] == "/echo/by-address"
        assert control.node(devbox_ip) is not None
        assert not list(state.glob(".authkey-*")), "the key file outlived `tailscale up`"
    finally:
        assert await rt.stop() == 0
    assert rt.events("tailscale.up")
    assert all(KEY not in str(record) for record in rt.lines)
