"""SIGTERM with clients that do not cooperate: the process still exits in time for Cloud Run's 10 s."""

from __future__ import annotations

import asyncio
import re
import signal

from conftest import Child, StartChild
from runtime.conftest import Upstream

#: without tailscaled: WS_CLOSE_GRACE + 2 * HTTP_DRAIN_GRACE (3 s) plus process exit; tailscaled's
#: logout (at most 5 s) runs alongside the drain, so a real container stays inside 10 s.
SHUTDOWN_BOUND_S = 4.5
#: an unmasked close frame, code 1001, with a short reason
CLOSE_1001 = re.compile(rb"\x88[\x02-\x7d]\x03\xe9")


async def _connect(child: Child, request: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", child.port), 5)
    writer.write(request)
    await writer.drain()
    return reader, writer


async def test_sigterm_with_stuck_clients_exits_in_time(upstream: Upstream, secure_child: StartChild) -> None:
    """WebSockets that never answer the close (two of them flooded, so not even a close frame fits), a
    download nobody reads, a request the target is still working on and half-sent heads: SIGTERM still
    ends the process (exit 0) within the bound, and the WebSockets that could take it got a 1001 close."""
    child = await secure_child(target=upstream.url)
    cookie = f"Cookie: devproxy_session={child.cookie}\r\n".encode()
    sockets = []
    for path in (b"/ws/echo", b"/ws/echo", b"/ws/flood?kib=256", b"/ws/flood?kib=256"):
        reader, writer = await _connect(child, b"GET " + path + b" HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                                        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + cookie + b"\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 101")
        sockets.append((reader, writer))
    stuck = [await _connect(child, b"GET /big?mib=256 HTTP/1.1\r\nHost: a\r\n" + cookie + b"\r\n"),
             await _connect(child, b"GET /slow?s=6 HTTP/1.1\r\nHost: a\r\n" + cookie + b"\r\n")]
    stuck += [await _connect(child, b"GET /echo HTTP/1.1\r\nHost: a\r\nX-Half: ") for _ in range(10)]
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    began = loop.time()
    child.proc.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(child.proc.wait(), 15)
    took = loop.time() - began
    assert code == 0
    print(f"shutdown took {took:.2f} s")
    assert took < SHUTDOWN_BOUND_S, f"shutdown took {took:.1f} s"
    for reader, writer in sockets[:2]:  # the flooded two cannot even take a close frame
        received = await asyncio.wait_for(reader.read(), 5)
        assert CLOSE_1001.search(received), received[-64:]
    for _, writer in sockets:
        writer.close()
    for _, writer in stuck:
        writer.close()
    assert child.events("runtime.stopped")
