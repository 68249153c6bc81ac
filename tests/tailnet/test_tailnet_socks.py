"""Proof 3: the loopback-family lesson against the real tailscaled's SOCKS5 listener."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
from pathlib import Path

import aiohttp
import pytest

from support.runtime_proc import spawn_runtime
from support.socks import free_port
from tailnet.tailnet_fixtures import Runtime, diagnose, runtime_env
from tailnet.tailnet_procs import Binaries, Control, Node


def socks_flag(runtime: Runtime) -> str:
    """The --socks5-server tailscaled says it started with (its "Program starting" line, re-emitted)."""
    for line in runtime.tailscaled_lines():
        if "Program starting" in line and (match := re.search(r'"--socks5-server=([^"]+)"', line)):
            return match.group(1)
    raise AssertionError("tailscaled never logged its command line")


def listening_sockets(pid: int) -> set[str]:
    """The TCP addresses process `pid` listens on, from the kernel's tables (not from anyone's word)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            raw, port = fields[1].split(":")
            packed = bytes.fromhex(raw)
            # The kernel prints each 32-bit word in host (little-endian) order.
            packed = b"".join(packed[i:i + 4][::-1] for i in range(0, len(packed), 4))
            host = socket.inet_ntop(family, packed)
            found.add(f"[{host}]:{int(port, 16)}" if family == socket.AF_INET6 else f"{host}:{int(port, 16)}")
    return found


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_runtime_and_tailscaled_meet_on_the_same_literal(
    host: str, bins: Binaries, control: Control, devbox: Node, dev_port: int, tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    """Whichever loopback family is configured, tailscaled listens on exactly the literal the runtime dials."""
    port = free_port(host)
    bracketed = f"[{host}]" if ":" in host else host
    proc, lines = await spawn_runtime(
        "--target", f"http://devbox:{dev_port}", "--listen", "127.0.0.1:0", "--socks",
        f"socks5://{bracketed}:{port}", "--auth", "none", env=runtime_env(bins, control, tmp_path / "ts"))
    rt = Runtime(proc, int(lines[-1]["port"]), lines)
    rt.collector = asyncio.create_task(rt.collect())
    try:
        body = await rt.wait_ready(session, 200, timeout=60)
        address = f"{bracketed}:{port}"
        assert socks_flag(rt) == address
        assert address in listening_sockets(int(rt.events("tailscaled.started")[-1]["pid"]))
        assert body["checks"]["target"]["via"] == f"socks5://{address}"
        assert body["checks"]["target"]["socks_address"] == host
    finally:
        assert await rt.stop() == 0


async def test_bare_connects_log_packet_header_errors_and_our_probes_never_do(
    runtime: Runtime, session: aiohttp.ClientSession, tmp_path: Path,
) -> None:
    """Many readiness probes leave tailscaled silent; one bare TCP connect makes it log the famous line, which
    `devproxy logs --diagnose` names from the runtime's own output."""
    await runtime.wait_ready(session, 200, timeout=60)
    for _ in range(5):
        await runtime.ready(session)
        await asyncio.sleep(2.1)  # past the readiness cache: each one is a real SOCKS greeting + CONNECT
    address = socks_flag(runtime)
    assert not [line for line in runtime.tailscaled_lines() if "could not read packet header" in line]

    host, _, port = address.rpartition(":")
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), 5)
    writer.close()
    await asyncio.wait_for(writer.wait_closed(), 5)
    async with asyncio.timeout(10):
        while not [line for line in runtime.tailscaled_lines() if "could not read packet header" in line]:
            await asyncio.sleep(0.1)
    findings = await diagnose(runtime.lines, tmp_path / "runtime.jsonl")
    assert any("could not read packet header" in line for line in findings["ts-packet-header"])
