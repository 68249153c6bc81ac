"""Proof 2: HTTP (streamed both ways, 1 GiB with flat memory) and WebSocket (64 MiB messages, close codes
both ways) through the real tailscaled's SOCKS5 server, WireGuard and the dev box's tailscaled."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tailnet.tailnet_fixtures import Runtime

MiB = 1024 * 1024


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the most resident memory the process has had so far."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_http_streams_both_ways_and_1_gib_with_flat_memory(runtime: Runtime, session: aiohttp.ClientSession) -> None:
    """A 64 MiB upload arrives whole; a 1 GiB download arrives byte-exact while the runtime's peak RSS barely moves."""
    await runtime.wait_ready(session)

    piece = os.urandom(MiB)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield piece

    async with session.post(f"{runtime.url}/upload", data=body()) as resp:
        assert resp.status == 200
        assert (await resp.json())["received"] == 64 * MiB

    # Warm up the paths (buffers, TLS-less HTTP client pool), then measure the big one.
    async with session.get(f"{runtime.url}/big?mib=16") as resp:
        assert resp.status == 200 and len(await resp.read()) == 16 * MiB
    before = peak_rss_kib(runtime.proc.pid)
    print(f"runtime peak RSS before the 1 GiB download: {before / 1024:.1f} MiB")
    block = bytes(range(256)) * 4096
    received = 0
    started = time.monotonic()
    async with session.get(f"{runtime.url}/big?mib=1024") as resp:
        assert resp.status == 200
        assert resp.content_length == 1024 * MiB
        pending = b""
        async for chunk in resp.content.iter_chunked(256 * 1024):
            pending += chunk
            whole = len(pending) - len(pending) % MiB
            for offset in range(0, whole, MiB):
                assert pending[offset:offset + MiB] == block, f"corrupt MiB at {received + offset}"
            received += whole
            pending = pending[whole:]
            await asyncio.sleep(0)  # buffered chunks would otherwise be checked in one long callback
    received += len(pending)
    elapsed = time.monotonic() - started
    growth_mib = (peak_rss_kib(runtime.proc.pid) - before) / 1024
    print(f"1 GiB through the tailnet in {elapsed:.1f} s ({1024 / elapsed:.0f} MiB/s); "
          f"runtime peak RSS growth {growth_mib:.1f} MiB")
    assert received == 1024 * MiB
    assert growth_mib < 64, f"the runtime's peak RSS grew by {growth_mib:.0f} MiB during a 1 GiB download"


# Building and comparing 64 MiB messages holds the test's own loop; the runtime is another process.
@pytest.mark.allow_slow_callbacks
async def test_websocket_64_mib_messages_and_close_codes_both_ways(runtime: Runtime, session: aiohttp.ClientSession,
                                                                   dev_port: int) -> None:
    """64 MiB binary and text messages echo intact; the dev server's close code reaches the browser and the
    browser's reaches the dev server."""
    await runtime.wait_ready(session)
    payload = os.urandom(64 * MiB)
    async with session.ws_connect(f"{runtime.url}/ws/echo", max_msg_size=0) as ws:
        await ws.send_bytes(payload)
        msg = await asyncio.wait_for(ws.receive(), 120)
        assert msg.type is aiohttp.WSMsgType.BINARY and msg.data == payload
        text = "é" * (32 * MiB)
        await ws.send_str(text)
        msg = await asyncio.wait_for(ws.receive(), 120)
        assert msg.type is aiohttp.WSMsgType.TEXT and msg.data == text
        await ws.send_str("close:4002:from the dev server")
        msg = await asyncio.wait_for(ws.receive(), 30)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (4002, "from the dev server")

    async with session.ws_connect(f"{runtime.url}/ws/echo") as ws:
        await ws.send_str("ping")
        assert (await asyncio.wait_for(ws.receive(), 30)).data == "ping"
        await asyncio.wait_for(ws.close(code=4003, message=b"from the browser"), 30)

    async def codes() -> list[int]:
        async with session.get(f"{runtime.url}/_test/close_codes") as resp:
            return list(await resp.json())

    async with asyncio.timeout(10):
        while 4003 not in await codes():
            await asyncio.sleep(0.1)
