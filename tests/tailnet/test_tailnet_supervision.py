"""The supervisor against the real tailscaled where a stand-in used to stand in: a daemon that dies at start
(its SOCKS port is taken) is restarted with capped backoff, and no child inherits a secret."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp

from support.runtime_proc import spawn_runtime
from tailnet.tailnet_fixtures import KEY, Runtime, diagnose, runtime_env
from tailnet.tailnet_procs import Binaries, Control, Node


async def test_tailscaled_dying_at_start_is_restarted_with_capped_backoff(
    bins: Binaries, control: Control, devbox: Node, dev_port: int, tmp_path: Path, session: aiohttp.ClientSession,
) -> None:
    """The real "SOCKS5 listener: ... address already in use" is recognised (by the runtime and by
    `devproxy logs --diagnose`), and restarts back off 0.2, 0.4, 0.8, 0.8 s while readiness stays 503."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = runtime_env(bins, control, tmp_path / "ts", DEVPROXY_TAILSCALE_BACKOFF_INITIAL="0.2",
                          DEVPROXY_TAILSCALE_BACKOFF_MAX="0.8", DEVPROXY_TARGET=f"http://devbox:{dev_port}")
        proc, lines = await spawn_runtime("--listen", "127.0.0.1:0", "--socks", f"socks5://127.0.0.1:{port}",
                                          "--auth", "none", env=env)
        rt = Runtime(proc, int(lines[-1]["port"]), lines)
        rt.collector = asyncio.create_task(rt.collect())
        try:
            async with asyncio.timeout(20):
                while len(rt.events("tailscaled.restart")) < 4:
                    await asyncio.sleep(0.1)
            assert (await rt.ready(session))[0] == 503
        finally:
            assert await rt.stop() == 0
    assert [r["delay_s"] for r in rt.events("tailscaled.restart")][:4] == [0.2, 0.4, 0.8, 0.8]
    assert all(r["returncode"] == 1 for r in rt.events("tailscaled.exited")[:4])
    in_use = [r for r in rt.lines if r.get("signature") == "socks_in_use"]
    assert in_use and "address already in use" in in_use[0]["message"]
    findings = await diagnose(rt.lines, tmp_path / "runtime.jsonl")
    assert any(f"127.0.0.1:{port}: bind: address already in use" in line for line in findings["ts-listener-in-use"])


async def test_tailscaled_and_the_cli_get_no_secret_in_their_environment(runtime: Runtime,
                                                                         session: aiohttp.ClientSession) -> None:
    """The running tailscaled's /proc environ has no TS_AUTHKEY and no key value."""
    await runtime.wait_ready(session)
    pid = int(runtime.events("tailscaled.started")[-1]["pid"])
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    names = {entry.split(b"=", 1)[0] for entry in environ.split(b"\0")}
    assert b"TS_ASSUME_NETWORK_UP_FOR_TEST" in names  # the environment really is the runtime's
    assert b"TS_AUTHKEY" not in names and KEY.encode() not in environ
