"""The pooled upstream client's defects found by attacking it (issue 17) and after a freeze (issue 19),
one regression test each, against a scripted raw target and real browser connections."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp

from conftest import StartChild
from devproxy.runtime.log import EventLog
from devproxy.runtime.tunnel import Dialer, tunnel_to
from devproxy.runtime.upstream_http import Pool
from runtime.conftest import StartProxy, start_proxy  # noqa: F401  (the fixture)
from support.scripted import Incoming, answer, refusing_socks, scripted_target
from support.socks import Microsocks

TIMEOUT = aiohttp.ClientTimeout(total=15)
SMALL = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nsmall"
#: built at import, not in the event loop (the slow-callback guard would object).
MANY_FIELDS = (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: v\r\n" % n for n in range(40_000))
               + b"Content-Length: 0\r\n\r\n")
LONG_LINE = b"HTTP/1.1 200 OK\r\nX-Long: " + b"l" * 20_000_000 + b"\r\nContent-Length: 0\r\n\r\n"
DOWNLOAD = b"HTTP/1.1 200 OK\r\nContent-Length: 8388608\r\n\r\n" + b"d" * 8388608
UPLOAD = b"u" * (8 * 1024 * 1024)
BIG = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1100000\r\n\r\n"
       + b"b" * 1_100_000)


async def fetch(url: str, method: str = "GET", data: io.BytesIO | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, aiohttp.typedefs.LooseHeaders]:
    async with aiohttp.ClientSession(trust_env=False, auto_decompress=False) as client:
        async with client.request(method, url, data=data, headers=headers, timeout=TIMEOUT) as resp:
            return resp.status, await resp.read(), resp.headers


async def raw(port: int, data: bytes, *, until: bytes = b"", read_for: float = 3.0) -> bytes:
    """Send raw bytes on one browser connection; what comes back until `until` appears, EOF or `read_for` s."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    got = b""
    try:
        writer.write(data)
        async with asyncio.timeout(read_for):
            while not (until and until in got):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                got += chunk
    except TimeoutError:
        pass
    finally:
        writer.close()
    return got


async def test_pooled_connection_reads_on_after_a_big_answer_that_came_at_once(secure_child: StartChild) -> None:
    """An 8 MiB download, then a 1.1 MB answer with a Content-Type that arrives whole, then a small GET
    on the same pooled connection: the small one is answered at once, round after round; the runtime
    as a process, on uvloop, which reads all that is there in one go (issue 17, item 1)."""
    async with scripted_target() as target:
        target.scripts["/download"] = answer(DOWNLOAD)
        target.scripts["/big"] = answer(BIG)
        target.scripts["/small"] = answer(SMALL)
        child = await secure_child(target=target.url, env={"DEVPROXY_RESPONSE_TIMEOUT": "2"})
        cookie = {"Cookie": f"devproxy_session={child.cookie}"}
        for _ in range(5):
            assert (await fetch(child.url + "/download", headers=cookie))[0] == 200
            assert (await fetch(child.url + "/big", headers=cookie))[:2] == (200, b"b" * 1_100_000)
            assert (await fetch(child.url + "/small", headers=cookie))[:2] == (200, b"small")
        assert not child.events("upstream.timeout")
        assert target.connections == 1


async def test_answer_before_the_whole_upload_retires_the_connection(start_proxy: StartProxy) -> None:
    """A target that answers right after an 8 MiB POST's head and keeps reading the body: the next GET,
    from another browser connection, reaches the target as a request of its own (issue 17, item 2)."""

    async def early(request: Incoming) -> bool:
        request.writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly")
        await request.writer.drain()
        await request.read_body()  # keeps reading: whatever comes next on this connection is "body"
        return True

    async with scripted_target() as target:
        target.scripts["/upload"] = early
        target.scripts["/small"] = answer(SMALL)
        proxy = await start_proxy(target=target.url, env={"DEVPROXY_RESPONSE_TIMEOUT": "3"})
        for _ in range(3):
            assert (await fetch(proxy.url + "/upload", "POST", io.BytesIO(UPLOAD)))[:2] == (200, b"early")
            assert (await fetch(proxy.url + "/small"))[:2] == (200, b"small")
        assert target.paths().count("/small") == 3


async def test_bytes_after_a_head_answer_never_reach_the_browser(start_proxy: StartProxy) -> None:
    """A target that sends a body (here a whole forged answer) after its answer to HEAD: the browser's
    pipelined next request gets the target's real answer, never the forged one (issue 17, item 3)."""
    forged = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Forged: 1\r\n\r\nforged"
    async with scripted_target() as target:
        target.scripts["/doc"] = answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(forged) + forged)
        target.scripts["/small"] = answer(SMALL)
        proxy = await start_proxy(target=target.url)
        got = await raw(proxy.port, b"HEAD /doc HTTP/1.1\r\nHost: a\r\n\r\nGET /small HTTP/1.1\r\nHost: a\r\n\r\n",
                        until=b"small")
        assert b"forged" not in got and b"X-Forged" not in got
        assert got.count(b"HTTP/1.1 200 ") == 2 and got.endswith(b"\r\n\r\nsmall")
        assert (await fetch(proxy.url + "/small"))[:2] == (200, b"small")


async def test_response_head_is_bounded(start_proxy: StartProxy) -> None:
    """An answer with 40,000 header fields or a 20 MB header line is refused with a 502 naming the bound,
    quickly, and the proxy goes on answering (issue 17, item 4)."""
    async with scripted_target() as target:
        target.scripts["/many"] = answer(MANY_FIELDS)
        target.scripts["/long"] = answer(LONG_LINE)
        target.scripts["/small"] = answer(SMALL)
        proxy = await start_proxy(target=target.url)
        for path, words in (("/many", b"header fields"), ("/long", b"KiB")):
            started = time.monotonic()
            status, body, _ = await fetch(proxy.url + path)
            assert status == 502 and words in body, body
            assert time.monotonic() - started < 3
        assert (await fetch(proxy.url + "/small"))[:2] == (200, b"small")


async def test_browser_leaving_a_stalled_body_frees_the_tunnel_connection(start_proxy: StartProxy) -> None:
    """The target sends a head and 10 bytes of a 1 MB body, then stalls; the browser leaves: the proxy
    closes its connection to the target within a few seconds (issue 17, item 5)."""

    async def stall(request: Incoming) -> bool:
        request.writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n0123456789")
        await request.writer.drain()
        await request.reader.read()  # until the proxy closes
        return False

    async with scripted_target() as target:
        target.scripts["/stall"] = stall
        proxy = await start_proxy(target=target.url)
        for _ in range(3):
            got = await raw(proxy.port, b"GET /stall HTTP/1.1\r\nHost: a\r\n\r\n", until=b"0123456789")
            assert got.endswith(b"0123456789")
        async with asyncio.timeout(5):
            while target.open_connections:
                await asyncio.sleep(0.05)
        assert [e["bytes_out"] for e in proxy.events("http.access")] == [10, 10, 10]


async def test_trailer_fields_never_become_response_headers(start_proxy: StartProxy) -> None:
    """A chunked answer's trailer fields (a Set-Cookie among them) do not appear in the browser's
    answer, whole or streamed (issue 17, item 8)."""
    chunked = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: Set-Cookie\r\n"
               b"\r\n5\r\nhello\r\n0\r\nSet-Cookie: stolen=1\r\nX-Trailer: t\r\n\r\n")

    async def slow(request: Incoming) -> bool:
        request.writer.write(chunked[:-40])
        await request.writer.drain()
        await asyncio.sleep(0.1)
        request.writer.write(chunked[-40:])
        return True

    async with scripted_target() as target:
        target.scripts["/whole"] = answer(chunked)
        target.scripts["/slow"] = slow
        proxy = await start_proxy(target=target.url)
        for path in ("/whole", "/slow", "/whole"):
            got = await raw(proxy.port, f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
            assert got.startswith(b"HTTP/1.1 200 ") and b"hello" in got
            assert b"stolen" not in got and b"X-Trailer" not in got


async def test_status_below_100_is_a_bad_gateway(start_proxy: StartProxy) -> None:
    """`HTTP/1.1 0 Weird` (or 42) from the target is not passed on: 502 naming the status (issue 17, also seen)."""
    async with scripted_target() as target:
        target.scripts["/zero"] = answer(b"HTTP/1.1 0 Weird\r\nContent-Length: 0\r\n\r\n")
        target.scripts["/low"] = answer(b"HTTP/1.1 042 Low\r\nContent-Length: 0\r\n\r\n")
        proxy = await start_proxy(target=target.url)
        for path in ("/zero", "/low"):
            status, body, _ = await fetch(proxy.url + path)
            assert status == 502 and b"status" in body, body


async def test_reset_on_a_stale_pooled_connection_is_retried_on_a_fresh_one(start_proxy: StartProxy) -> None:
    """The target resets (not closes) a pooled keep-alive connection when the next request comes: an
    idempotent GET goes out again at once on a fresh connection and succeeds (issue 17, also seen)."""

    async def once_per_connection(request: Incoming) -> bool:
        if request.number > 1:
            request.reset()
            return False
        request.writer.write(SMALL)
        return True

    async with scripted_target() as target:
        target.scripts["/small"] = once_per_connection
        proxy = await start_proxy(target=target.url)
        for _ in range(4):
            assert (await fetch(proxy.url + "/small"))[:2] == (200, b"small")
        assert target.connections == 4


async def test_a_vanished_box_fails_a_reused_connection_as_fast_as_a_fresh_dial(
        start_proxy: StartProxy, socks_v4: Microsocks) -> None:
    """A pooled connection whose box vanished without closing it (the target stops answering and takes
    no new connections): the next GET gets a 502 within about a second, not the response timeout's 504
    (issue 19, section 3)."""

    async def silent_after_first(request: Incoming) -> bool:
        if request.number > 1:
            await request.reader.read()  # a black hole: reads, never answers
            return False
        request.writer.write(SMALL)
        return True

    async with scripted_target() as target:
        target.scripts["/small"] = silent_after_first
        proxy = await start_proxy(target=target.url, socks=socks_v4.url, env={"DEVPROXY_RESPONSE_TIMEOUT": "8"})
        assert (await fetch(proxy.url + "/small"))[:2] == (200, b"small")
        await target.stop_listening()
        started = time.monotonic()
        status, body, _ = await fetch(proxy.url + "/small")
        assert status == 502, body
        assert time.monotonic() - started < 3


async def test_a_dial_refused_at_the_socks_stage_is_tried_again(start_proxy: StartProxy) -> None:
    """The SOCKS server answers the first CONNECT with "general failure" (tailscaled after a freeze):
    the request still succeeds through a second dial; a path that keeps failing still ends in a 502
    within the connect budget (issue 19, section 3)."""
    async with scripted_target() as target, refusing_socks(1, delay=0.2) as socks:
        target.scripts["/small"] = answer(SMALL)
        proxy = await start_proxy(target=target.url, socks=socks.url)
        assert (await fetch(proxy.url + "/small"))[:2] == (200, b"small")
        assert (socks.refused, socks.connects) == (1, 2)
    async with scripted_target() as target, refusing_socks(100) as socks:
        proxy = await start_proxy(target=target.url, socks=socks.url, env={"DEVPROXY_CONNECT_TIMEOUT": "3"})
        started = time.monotonic()
        status, body, _ = await fetch(proxy.url + "/small")
        assert status == 502 and b"general SOCKS server failure" in body, body
        assert time.monotonic() - started < 3.5 and socks.connects == 3
        assert target.heads == []


async def test_flush_drops_every_idle_connection() -> None:
    """`Pool.flush()` (called after the runtime sees its clock jump) closes every idle connection: the
    target sees them closed; `warm()` dials the next request's connection ahead, or says why it cannot
    (issue 19, section 3)."""
    async with scripted_target() as target:
        target.scripts["/small"] = answer(SMALL)
        pool = Pool(tunnel_to(Dialer(None, connect_timeout=5, log=EventLog()), "127.0.0.1", target.port, https=False))
        try:
            answers = [await pool.exchange(b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n", target="t", timeout=5, retry=True)
                       for _ in range(2)]
            for response in answers:
                assert await response.read() == b"small"
                response.release()
            assert (pool.idle_count(), target.connections) == (2, 2)
            assert pool.flush() == 2
            async with asyncio.timeout(5):
                while target.open_connections:
                    await asyncio.sleep(0.02)
            assert await pool.warm() is None  # a connection dialed ahead for the next request
            assert (pool.idle_count(), target.connections) == (1, 3)
            response = await pool.exchange(b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n", target="t", timeout=5, retry=True)
            assert await response.read() == b"small"
            response.release()
            assert target.connections == 3
            await target.stop_listening()
            pool.flush()
            assert "cannot connect" in str(await pool.warm())
        finally:
            pool.close()
