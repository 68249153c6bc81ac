"""The watchdog and proof 8: network faults between the container and the dev box, made with the dev box's
network namespace (nftables drops its UDP; `ip link` cuts its only link)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from support.socks import free_port
from tailnet.tailnet_fixtures import runtime_env, start_runtime
from tailnet.tailnet_netns import Netns
from tailnet.tailnet_procs import Binaries, Control, Node


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
        # The reason names how long the dials have failed: the 3 s bound, or more when a probe lands late.
        failing = re.search(r"failed for (\d+) s", fired["reason"])
        assert failing is not None and int(failing.group(1)) >= 3 and fired["next_bound_s"] == 6.0
        restart = await rt.wait_event("tailscaled.restart", timeout=10)
        assert restart["message"].startswith("restarting tailscaled in 1 s (watchdog: every dial")
        await rt.wait_event("tailscaled.state", timeout=60, after=rt.lines.index(restart), state="running")
        assert len(rt.events("tailscaled.started")) == 2
        status, body = await rt.ready(session)
        assert status == 503 and body["checks"]["target"]["ok"] is False
    finally:
        assert await rt.stop() == 0


async def peer_path(bins: Binaries, socket_path: Path, peer_ip: str) -> dict[str, str]:
    """How the container's tailscaled reaches a peer: {"CurAddr": direct UDP address or "", "Relay": DERP region}."""
    proc = await asyncio.create_subprocess_exec(bins.tailscale, f"--socket={socket_path}", "status", "--json",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    for peer in json.loads(out)["Peer"].values():
        if peer_ip in peer.get("TailscaleIPs", []):
            return {"CurAddr": peer.get("CurAddr", ""), "Relay": peer.get("Relay", "")}
    raise AssertionError(f"no peer {peer_ip} in tailscale status")


@pytest.fixture
def udp_dropped(netns: Netns) -> Iterator[None]:
    netns.drop_udp(True)
    try:
        yield
    finally:
        netns.drop_udp(False)


@pytest.fixture
def link(netns: Netns) -> Iterator[Netns]:
    try:
        yield netns
    finally:
        netns.cut_link(False)


async def test_udp_dropped_traffic_flows_over_derp(
    udp_dropped: None, bins: Binaries, control: Control, devbox_ip: str, dev_port: int, tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    """No UDP in or out of the dev box: no direct WireGuard path, yet HTTP and WebSocket flow through DERP."""
    rt = await start_runtime(f"http://devbox:{dev_port}", runtime_env(bins, control, tmp_path / "ts"))
    try:
        await rt.wait_ready(session, 200, timeout=60)
        async with session.get(f"{rt.url}/big?mib=8") as resp:
            assert resp.status == 200 and len(await resp.read()) == 8 * 1024 * 1024
        async with session.ws_connect(f"{rt.url}/ws/echo") as ws:
            await ws.send_str("over derp")
            assert (await asyncio.wait_for(ws.receive(), 30)).data == "over derp"
        path = await peer_path(bins, tmp_path / "ts" / "tailscaled.sock", devbox_ip)
        assert path == {"CurAddr": "", "Relay": "test"}, path
    finally:
        assert await rt.stop() == 0


async def test_link_cut_makes_readiness_503_and_the_watchdog_restart_then_recovers(
    link: Netns, bins: Binaries, control: Control, devbox: Node, dev_port: int, tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    """Cable pulled: readiness 503 within 15 s, the watchdog restarts tailscaled (logged); cable back: ready
    and serving again, same runtime process."""
    rt = await start_runtime(f"http://devbox:{dev_port}", runtime_env(
        bins, control, tmp_path / "ts", DEVPROXY_TAILSCALE_WATCHDOG="5"))
    try:
        await rt.wait_ready(session, 200, timeout=60)
        mark = len(rt.lines)
        link.cut_link(True)
        loop = asyncio.get_running_loop()
        cut_at = loop.time()
        await rt.wait_ready(session, 503, timeout=15)
        print(f"readiness 503 {loop.time() - cut_at:.1f} s after the cut")
        fired = await rt.wait_event("tailscaled.watchdog", timeout=30, after=mark)
        print(f"watchdog restart {loop.time() - cut_at:.1f} s after the cut: {fired['reason']}")
        await rt.wait_event("tailscaled.started", timeout=15, after=rt.lines.index(fired))
        link.cut_link(False)
        back_at = loop.time()
        await rt.wait_ready(session, 200, timeout=90)
        print(f"ready again {loop.time() - back_at:.1f} s after the link came back")
        async with session.get(f"{rt.url}/echo/recovered") as resp:
            assert resp.status == 200
        assert rt.proc.returncode is None
    finally:
        assert await rt.stop() == 0
