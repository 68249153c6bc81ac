"""The upstream HTTP client through the runtime, against a scripted target that writes exact bytes."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import pytest

from conftest import StartProxy, Upstream
from support.scripted import Incoming, ScriptedTarget, answer, scripted_target


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedTarget]:
    async with scripted_target() as target:
        yield target


async def get(url: str) -> tuple[int, str, bytes, aiohttp.typedefs.LooseHeaders]:
    async with aiohttp.ClientSession(trust_env=False, auto_decompress=False) as client:
        async with client.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
            return resp.status, resp.reason or "", await resp.read(), resp.headers


async def test_request_head_is_exactly_the_filtered_headers(scripted: ScriptedTarget, start_proxy: StartProxy) -> None:
    """The target receives the raw path, the headers in order with repeats, nothing invented."""
    scripted.scripts["/a%2Fb?x=1&y=%20"] = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    proxy = await start_proxy(target=scripted.url)
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    writer.write(b"GET /a%2Fb?x=1&y=%20 HTTP/1.1\r\nHost: pub.example\r\nX-A: 1\r\nTE: trailers\r\n"
                 b"X-A: 2\r\nConnection: close\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"\r\n\r\nok")
    assert scripted.heads == [
        b"GET /a%2Fb?x=1&y=%20 HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{scripted.port}\r\n".encode()
        + b"X-A: 1\r\nX-A: 2\r\nX-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Host: pub.example\r\n"
        b"X-Forwarded-Proto: http\r\n\r\n"
    ]


async def test_chunked_answer_arrives_whole_and_connection_is_reused(scripted: ScriptedTarget,
                                                                      start_proxy: StartProxy) -> None:
    """A chunked body split over several writes is relayed whole; the next request reuses the tunnel."""

    async def chunked(request: Incoming) -> bool:
        writer = request.writer
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"6\r\n world\r\n0\r\n\r\n")
        return True

    scripted.scripts["/chunked"] = chunked
    proxy = await start_proxy(target=scripted.url)
    for _ in range(3):
        status, _, body, headers = await get(proxy.url + "/chunked")
        assert (status, body, headers["X-Kind"]) == (200, b"hello world", "chunked")
    assert scripted.connections == 1


async def test_close_delimited_body_ends_with_the_connection(scripted: ScriptedTarget, start_proxy: StartProxy) -> None:
    """No Content-Length, not chunked: the body is everything until the target closes; then a fresh dial."""
    scripted.scripts["/eof"] = answer(b"HTTP/1.1 200 OK\r\nX-Kind: eof\r\n\r\n" + b"e" * 100_000, keep=False)
    proxy = await start_proxy(target=scripted.url)
    for _ in range(2):
        status, _, body, _ = await get(proxy.url + "/eof")
        assert status == 200 and body == b"e" * 100_000
    assert scripted.connections == 2


@pytest.mark.parametrize("status", [204, 304])
async def test_bodiless_statuses_keep_the_connection(status: int, scripted: ScriptedTarget,
                                                     start_proxy: StartProxy) -> None:
    """204 and 304 end at their head, even with a Content-Length, and the connection stays pooled."""
    length = b"Content-Length: 10\r\n" if status == 304 else b""
    scripted.scripts["/empty"] = answer(f"HTTP/1.1 {status} Whatever\r\n".encode() + length + b"ETag: x\r\n\r\n")
    proxy = await start_proxy(target=scripted.url)
    for _ in range(2):
        got, reason, body, headers = await get(proxy.url + "/empty")
        assert (got, reason, body, headers["ETag"]) == (status, "Whatever", b"", "x")
    assert scripted.connections == 1


async def test_informational_answers_are_skipped(scripted: ScriptedTarget, start_proxy: StartProxy) -> None:
    """A 103 Early Hints before the final answer is not forwarded; the final answer is."""
    scripted.scripts["/hints"] = answer(
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Final: yes\r\n\r\ndone"
    )
    proxy = await start_proxy(target=scripted.url)
    status, _, body, headers = await get(proxy.url + "/hints")
    assert (status, body, headers["X-Final"]) == (200, b"done", "yes")
    assert "Link" not in headers


async def test_pooled_connection_closed_by_target_is_retried_once(scripted: ScriptedTarget,
                                                                   start_proxy: StartProxy) -> None:
    """The target closes an idle keep-alive connection; the next GET goes out again on a fresh one."""
    scripted.scripts["/once"] = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none", keep=False)
    proxy = await start_proxy(target=scripted.url)
    status, _, body, _ = await get(proxy.url + "/once")
    assert (status, body) == (200, b"one")
    await asyncio.sleep(0.1)  # the target has closed; the proxy may not have noticed yet
    for _ in range(3):
        status, _, body, _ = await get(proxy.url + "/once")
        assert (status, body) == (200, b"one")
    assert scripted.connections == 4


async def test_truncated_body_is_not_passed_off_as_complete(scripted: ScriptedTarget, start_proxy: StartProxy) -> None:
    """Content-Length 100 but 10 bytes then a close: the browser's connection is cut, the log says why."""
    scripted.scripts["/short"] = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", keep=False)
    proxy = await start_proxy(target=scripted.url)
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    writer.write(b"GET /short HTTP/1.1\r\nHost: h\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 100" in head and body == b"0123456789"
    failed = proxy.events("upstream.body_failed")
    assert failed and failed[-1]["bytes_out"] == 10


async def test_garbage_answer_is_502(scripted: ScriptedTarget, start_proxy: StartProxy) -> None:
    """Bytes that are not HTTP from the target give a 502 naming an invalid response."""
    scripted.scripts["/garbage"] = answer(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", keep=False)
    proxy = await start_proxy(target=scripted.url)
    status, _, body, _ = await get(proxy.url + "/garbage")
    assert status == 502 and b"invalid response from the target" in body
    assert proxy.events("http.access")[-1]["status"] == 502


async def test_head_and_bodies_share_the_pool(scripted: ScriptedTarget, start_proxy: StartProxy) -> None:
    """HEAD (no body despite Content-Length) and POST answer right on the same client."""
    scripted.scripts["/doc"] = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")

    async def post(request: Incoming) -> bool:
        writer = request.writer
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
        return False  # the body the proxy sent is not read; do not reuse

    scripted.scripts["/post"] = post
    proxy = await start_proxy(target=scripted.url)
    async with aiohttp.ClientSession(trust_env=False) as client:
        async with client.head(proxy.url + "/doc") as resp:
            assert resp.status == 200 and resp.headers["Content-Length"] == "1000"
        async with client.post(proxy.url + "/post", data=b"") as resp:
            assert resp.status == 201 and await resp.read() == b"ok"


async def test_long_length_framed_body_then_reuse(scripted: ScriptedTarget, start_proxy: StartProxy) -> None:
    """A 3 MiB Content-Length body written in pieces arrives byte-exact; the connection serves the next request."""
    block = bytes(range(256)) * 4096  # 1 MiB

    async def big(request: Incoming) -> bool:
        writer = request.writer
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\n\r\n" + block[:1000])
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(block[1000:] + block)
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(block)
        return True

    scripted.scripts["/big"] = big
    scripted.scripts["/next"] = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
    proxy = await start_proxy(target=scripted.url)
    status, _, body, _ = await get(proxy.url + "/big")
    assert status == 200 and body == block * 3
    status, _, body, _ = await get(proxy.url + "/next")
    assert (status, body) == (200, b"next")
    assert scripted.connections == 1
    assert [r["bytes_out"] for r in proxy.events("http.access")] == [3 * 1024 * 1024, 4]


async def test_bytes_beyond_the_length_are_dropped_with_the_connection(scripted: ScriptedTarget,
                                                                        start_proxy: StartProxy) -> None:
    """A target that sends more than its Content-Length: the browser gets exactly the declared body."""

    async def overlong(request: Incoming) -> bool:
        writer = request.writer
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(b"56789EXTRA-BYTES")
        return True

    scripted.scripts["/over"] = overlong
    scripted.scripts["/next"] = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
    proxy = await start_proxy(target=scripted.url)
    status, _, body, _ = await get(proxy.url + "/over")
    assert (status, body) == (200, b"0123456789")
    status, _, body, _ = await get(proxy.url + "/next")
    assert (status, body) == (200, b"next")
    assert scripted.connections == 2


async def test_get_and_head_write_the_same_head(scripted: ScriptedTarget, start_proxy: StartProxy) -> None:
    """GET and HEAD reach the target with identical bytes but the method."""
    path = "/caf%C3%A9/%2F/./x?q=%E4%B8%AD&x=%20&y"
    scripted.scripts[path] = answer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # fits HEAD too
    proxy = await start_proxy(target=scripted.url)
    for method in (b"GET", b"HEAD"):
        reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
        writer.write(method + b" " + path.encode("latin-1") + b" HTTP/1.1\r\nHost: pub.example\r\n"
                     b"X-Name: caf\xc3\xa9\r\nX-Tab: a\tb\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    get, head = scripted.heads
    assert get.startswith(b"GET " + path.encode("latin-1") + b" HTTP/1.1\r\n")
    assert get.removeprefix(b"GET ") == head.removeprefix(b"HEAD ")


async def test_response_timeout_starts_after_the_upload(upstream: Upstream, start_proxy: StartProxy) -> None:
    """A 1.5 s upload with a 0.5 s response timeout still gets the target's answer (issue 11, defect 8)."""
    proxy = await start_proxy(target=upstream.url, env={"DEVPROXY_RESPONSE_TIMEOUT": "0.5"})

    async def slow_body():  # type: ignore[no-untyped-def]
        for _ in range(6):
            yield b"s" * 1000
            await asyncio.sleep(0.25)

    async with aiohttp.ClientSession(trust_env=False) as client:
        async with client.post(proxy.url + "/upload", data=slow_body(),
                               timeout=aiohttp.ClientTimeout(total=10)) as resp:
            assert resp.status == 200
            assert (await resp.json())["received"] == 6000
    assert not proxy.events("upstream.timeout")


@pytest.mark.parametrize("attempt", range(3))
async def test_early_413_during_a_big_upload_reaches_the_browser(attempt: int, scripted: ScriptedTarget,
                                                                 start_proxy: StartProxy) -> None:
    """The target refuses a 20 MiB upload with 413 before reading it and closes: the browser gets the 413.

    Direct, not through microsocks: microsocks reads the uploading side first and drops the answer
    when the target resets, so there even a correct client can only report the reset (tailscaled
    copies both directions independently and passes the answer on).
    """
    scripted.scripts["/too-big"] = answer(
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large", keep=False)
    proxy = await start_proxy(target=scripted.url)
    async with aiohttp.ClientSession(trust_env=False) as client:
        async with client.post(proxy.url + "/too-big", data=io.BytesIO(b"u" * (20 * 1024 * 1024)),
                               timeout=aiohttp.ClientTimeout(total=20)) as resp:
            assert resp.status == 413
            assert await resp.read() == b"too large"
    assert [e["status"] for e in proxy.events("http.access")] == [413]
