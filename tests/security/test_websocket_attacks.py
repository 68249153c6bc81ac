"""Malformed WebSocket frames both ways. Whatever the relay does with them, the proxy must not crash,
must end the session in bounded time, must keep serving others and must leak nothing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import AsyncIterator

import aiohttp
import pytest

from conftest import Recorded, StartProxy, raw_exchange, statuses

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True, rsv: int = 0,
          length: int | None = None) -> bytes:
    """One raw frame; `length` lies about the payload length when given."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    size = len(payload) if length is None else length
    if size < 126:
        head = struct.pack("!BB", first, (0x80 if mask else 0) | size)
    elif size < 65536:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, size)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def bad_frames(mask: bool) -> dict[str, bytes]:
    """Malformed frames, masked as a browser sends them or unmasked as a target does."""
    return {
        "reserved-bits": frame(0x1, b"hi", rsv=0b111, mask=mask),
        "unknown-opcode": frame(0x3, b"hi", mask=mask),
        "unknown-control-opcode": frame(0xB, b"hi", mask=mask),
        "fragmented-ping": frame(0x9, b"hi", fin=False, mask=mask),
        "long-ping": frame(0x9, b"p" * 126, mask=mask),
        "bad-utf8": frame(0x1, b"\xff\xfe\xfd", mask=mask),
        "continuation-first": frame(0x0, b"hi", mask=mask),
        "text-inside-fragments": frame(0x1, b"a", fin=False, mask=mask) + frame(0x1, b"b", mask=mask),
        "close-one-byte": frame(0x8, b"\x03", mask=mask),
        "close-code-999": frame(0x8, struct.pack("!H", 999), mask=mask),
        "close-code-1005": frame(0x8, struct.pack("!H", 1005), mask=mask),
        "close-bad-utf8-reason": frame(0x8, struct.pack("!H", 1000) + b"\xff", mask=mask),
        "wrong-masking": frame(0x1, b"masked the wrong way", mask=not mask),
        # a declared 8 EiB message: nothing may be allocated for it up front
        "length-2-63": frame(0x2, b"", length=2**63 - 1, mask=mask),
    }


NAMES = sorted(bad_frames(True))
#: frames after which the session may go on: one only announces data still to come; whether an
#: unmasked browser frame fails the connection (RFC 6455 §5.1) is the relay's decision.
MAY_CONTINUE = {"length-2-63", "wrong-masking"}


def _upgrade(cookie: str, path: str = "/ws/echo") -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY.decode()}\r\n"
            f"Cookie: devproxy_session={cookie}\r\n\r\n").encode()


async def _healthy(port: int) -> None:
    answer = await raw_exchange(port, b"GET /_devproxy/health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert statuses(answer) == [200]


@pytest.mark.parametrize("name", NAMES)
async def test_malformed_frames_from_the_browser(name: str, recorded: Recorded, secure_proxy: StartProxy) -> None:
    """A logged-in browser sends a malformed frame: the session ends within 15 s (unless the frame only
    announces more data), and the proxy keeps serving."""
    proxy = await secure_proxy(target=recorded.url)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(_upgrade(proxy.cookie))
    await writer.drain()
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 101")
    writer.write(bad_frames(True)[name])
    await writer.drain()
    if name not in MAY_CONTINUE:
        async with asyncio.timeout(15):
            while await reader.read(65536):
                pass  # whatever the proxy answers, until it closes the connection
    writer.close()
    await _healthy(proxy.port)
    assert proxy.task.done() is False


@pytest.fixture
async def bad_target() -> AsyncIterator[tuple[int, list[bytes]]]:
    """A raw WebSocket 'target' that accepts the upgrade and then sends the frame it is told to
    (the path names it: /bad/<name>); records each request head."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            heads.append(head)
            key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            name = head.split(b" ", 2)[1].rsplit(b"/", 1)[-1].decode()
            writer.write(bad_frames(False)[name])
            await writer.drain()
            await asyncio.wait_for(reader.read(65536), 10)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, StopIteration, KeyError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], heads
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("name", NAMES)
async def test_malformed_frames_from_the_target(name: str, bad_target: tuple[int, list[bytes]],
                                                secure_proxy: StartProxy) -> None:
    """The target sends a malformed frame: the browser's session ends within 15 s, the proxy lives on."""
    port, heads = bad_target
    proxy = await secure_proxy(target=f"http://127.0.0.1:{port}")
    async with aiohttp.ClientSession(trust_env=False) as session:
        ws = await session.ws_connect(f"ws://127.0.0.1:{proxy.port}/bad/{name}",
                                      headers={"Cookie": f"devproxy_session={proxy.cookie}"})
        async with asyncio.timeout(15):  # the target gives up after 10 s at the latest
            async for _ in ws:
                pass
        await ws.close()
    assert heads and all(b"devproxy_session" not in head for head in heads)
    await _healthy(proxy.port)
