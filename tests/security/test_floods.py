"""Floods: clients that never read, slowloris heads. Memory stays bounded and real users are still served."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from conftest import Child, StartChild, StartProxy, raw_exchange, statuses
from runtime.conftest import Upstream

MiB = 1024 * 1024


async def _settled_rss(child: Child, seconds: float) -> float:
    """The highest RSS seen over `seconds` (sampled every 0.1 s)."""
    peak = child.rss_mib()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        peak = max(peak, child.rss_mib())
    return peak


async def _stalled_download(child: Child, mib: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", child.port), 5)
    writer.write(f"GET /big?mib={mib} HTTP/1.1\r\nHost: a\r\nCookie: devproxy_session={child.cookie}\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def test_clients_that_never_read_do_not_grow_memory(upstream: Upstream, secure_child: StartChild) -> None:
    """40 clients each ask for a 256 MiB download and never read: RSS stays bounded (backpressure all the
    way to the target), and a real user is served meanwhile."""
    child = await secure_child(target=upstream.url)
    before = await _settled_rss(child, 0.5)
    stalled = [await _stalled_download(child, 256) for _ in range(40)]
    peak = await _settled_rss(child, 3.0)
    async with aiohttp.ClientSession(trust_env=False) as session:
        async with session.get(child.url + "/echo", headers={"Cookie": f"devproxy_session={child.cookie}"},
                               timeout=aiohttp.ClientTimeout(total=5)) as resp:
            assert resp.status == 200
    for _, writer in stalled:
        writer.close()
    assert peak - before < 96, f"RSS grew from {before:.0f} to {peak:.0f} MiB"


async def test_websocket_floods_toward_non_reading_browsers_stay_bounded(
        upstream: Upstream, secure_child: StartChild) -> None:
    """Targets that push 1 MiB messages as fast as they can at browsers that never read: the proxy does
    not crash and its memory stays bounded (the relay must apply backpressure, whatever it is)."""
    child = await secure_child(target=upstream.url)
    before = await _settled_rss(child, 0.5)
    sockets = []
    for _ in range(3):
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", child.port), 5)
        writer.write(b"GET /ws/flood?kib=1024 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Cookie: devproxy_session=" + child.cookie.encode() + b"\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        sockets.append(writer)
    peak = await _settled_rss(child, 3.0)
    for writer in sockets:
        writer.close()
    assert child.proc.returncode is None
    assert peak - before < 192, f"RSS grew from {before:.0f} to {peak:.0f} MiB"


async def test_slowloris_connections_are_reaped_and_users_still_served(
        upstream: Upstream, secure_proxy: StartProxy) -> None:
    """150 connections trickling a request head one byte at a time are closed after the head timeout;
    meanwhile and afterwards a normal request is answered at once."""
    proxy = await secure_proxy(target=upstream.url, env={"DEVPROXY_REQUEST_HEAD_TIMEOUT": "1"})
    conns = [await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.port), 5) for _ in range(150)]
    began = time.monotonic()
    closed: set[int] = set()
    head = b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"x" * 64
    for step in range(40):
        for i, (reader, writer) in enumerate(conns):
            if i in closed:
                continue
            if reader.at_eof() or writer.is_closing():
                closed.add(i)
                continue
            try:
                writer.write(head[step:step + 1] or b"x")
            except (ConnectionError, RuntimeError):
                closed.add(i)
        if step == 2:
            answer = await raw_exchange(proxy.port, b"GET /_devproxy/health HTTP/1.1\r\nHost: a\r\n"
                                        b"Connection: close\r\n\r\n", read_for=2)
            assert statuses(answer) == [200]
        await asyncio.sleep(0.1)
        for i, (reader, _) in enumerate(conns):
            if i not in closed and reader.at_eof():
                closed.add(i)
        if len(closed) == len(conns):
            break
    assert len(closed) == len(conns), f"{len(conns) - len(closed)} slow connections still open"
    assert time.monotonic() - began < 4
    for _, writer in conns:
        writer.close()
    assert len(proxy.events("http.head_timeout")) == 150
    answer = await raw_exchange(proxy.port, b"GET /_devproxy/health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert statuses(answer) == [200]


async def test_a_login_flood_is_refused_counted_and_keeps_the_owner_in(
        upstream: Upstream, secure_proxy: StartProxy) -> None:
    """330 wrong tokens from one address: 401s then 429s, never a session; they are counted as client
    input (not as real problems), and a browser already logged in keeps working."""
    proxy = await secure_proxy(target=upstream.url)
    seen: dict[int, int] = {}
    async with aiohttp.ClientSession(trust_env=False) as session:
        for guess in range(330):
            async with session.post(proxy.url + "/_devproxy/login", data={"token": f"guess-{guess}"},
                                    allow_redirects=False, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                seen[resp.status] = seen.get(resp.status, 0) + 1
                assert "devproxy_session" not in resp.cookies
        owner = {"Cookie": f"devproxy_session={proxy.cookie}"}
        async with session.get(proxy.url + "/echo", headers=owner, timeout=aiohttp.ClientTimeout(total=10)) as resp:
            assert resp.status == 200
        async with session.get(proxy.url + "/_devproxy/status", headers={**owner, "Accept": "application/json"},
                               timeout=aiohttp.ClientTimeout(total=10)) as resp:
            status = await resp.json()
    assert seen == {401: 5, 429: 325}
    assert status["client_errors"]["count"] == 330
    assert not [e for e in status["recent_errors"] if e["event"].startswith("auth.")]
