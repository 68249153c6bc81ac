"""WebSocket relay rules found by attacking it (issue 17, "also seen"): one close per side, no body on an
upgrade, no 1-byte close payloads. Real runtime in this loop, raw sockets on both ends."""

from __future__ import annotations

import asyncio
import os
import struct

import pytest

from runtime.conftest import RunningProxy, StartProxy, start_proxy  # noqa: F401  (the in-loop runtime)
from support.upstream import RawTarget

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
OP_BINARY, OP_CLOSE = 0x2, 0x8
Frame = tuple[int, bytes]  # (opcode, unmasked payload)


def frame(opcode: int, payload: bytes, *, mask: bool) -> bytes:
    """One final frame of up to 125 payload bytes, masked as a browser sends it or not as a target does."""
    assert len(payload) < 126
    if not mask:
        return bytes([0x80 | opcode, len(payload)]) + payload
    key = os.urandom(4)
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_code(payload: bytes) -> int:
    return int(struct.unpack("!H", payload[:2])[0])


def parse(data: bytes) -> list[Frame]:
    """The whole frames in `data` (masked or not), in order."""
    frames: list[Frame] = []
    pos = 0
    while len(data) - pos >= 2:
        opcode, length, head = data[pos] & 0x0F, data[pos + 1] & 0x7F, 2
        if length == 126:
            length, head = int.from_bytes(data[pos + 2:pos + 4], "big"), 4
        elif length == 127:
            length, head = int.from_bytes(data[pos + 2:pos + 10], "big"), 10
        key = data[pos + head:pos + head + 4] if data[pos + 1] & 0x80 else b""
        head += len(key)
        if len(data) - pos < head + length:
            break
        payload = data[pos + head:pos + head + length]
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        frames.append((opcode, payload))
        pos += head + length
    return frames


async def read_to_eof(reader: asyncio.StreamReader, timeout: float = 10) -> bytes:
    data = b""
    async with asyncio.timeout(timeout):
        while chunk := await reader.read(65536):
            data += chunk
    return data


async def open_browser(proxy: RunningProxy, path: str = "/ws", extra: str = "") -> tuple[
        asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A raw browser connection after the upgrade; the answer's head."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.port), 5)
    writer.write((f"GET {path} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {KEY}\r\n{extra}\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head


async def test_after_devproxys_1001_the_targets_own_close_never_reaches_the_browser(
        start_proxy: StartProxy) -> None:
    """SIGTERM while the target is mid-frame: the browser gets the rest of the frame and exactly one close
    frame, devproxy's 1001, never the target's own close as a second one."""
    target_got_close: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def mid_frame(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(bytes([0x80 | OP_BINARY, 126]) + (1000).to_bytes(2, "big") + b"a" * 500)
        await writer.drain()
        target_got_close.set_result(await asyncio.wait_for(reader.read(65536), 10))
        writer.write(b"a" * 500 + frame(OP_CLOSE, struct.pack("!H", 4000) + b"target says bye", mask=False))
        await writer.drain()
        await asyncio.wait_for(reader.read(65536), 10)

    async with RawTarget(mid_frame) as target:
        proxy = await start_proxy(target=target.url)
        reader, writer, head = await open_browser(proxy)
        assert head.startswith(b"HTTP/1.1 101")
        first = await asyncio.wait_for(reader.readexactly(504), 5)  # the target is now mid-frame
        proxy.stop.set()
        received = first + await read_to_eof(reader)
        writer.close()
        up = parse(await asyncio.wait_for(target_got_close, 5))
    frames = parse(received)
    assert frames[0] == (OP_BINARY, b"a" * 1000)
    closes = [payload for opcode, payload in frames if opcode == OP_CLOSE]
    assert [close_code(p) for p in closes] == [1001], frames
    assert [(opcode, close_code(p)) for opcode, p in up] == [(OP_CLOSE, 1001)]


@pytest.mark.parametrize("header", ["Content-Length: 5", "Content-Length: 0", "Transfer-Encoding: chunked"])
async def test_upgrade_with_a_body_is_refused_before_dialing(header: str, start_proxy: StartProxy) -> None:
    """An upgrade request that announces a body gets 400 and the target never sees it: the target and the
    relay could otherwise disagree on where the frames start."""

    async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.wait_for(reader.read(65536), 5)

    async with RawTarget(never) as target:
        proxy = await start_proxy(target=target.url)
        body = "0\r\n\r\n" if "chunked" in header else ("hello" if header.endswith("5") else "")
        reader, writer, head = await open_browser(proxy, extra=f"{header}\r\n")
        writer.write(body.encode())
        writer.close()
        await asyncio.sleep(0.2)  # a forwarded request would have reached the target by now
        assert head.startswith(b"HTTP/1.1 400"), head
        assert target.requests == []
    [refused] = proxy.events("ws.bad_handshake")
    assert refused["status"] == 400


async def test_one_byte_close_from_the_browser_fails_it_with_1002(start_proxy: StartProxy) -> None:
    """A browser's close frame with a 1-byte payload (RFC 6455 §5.5.1: invalid) is not relayed: the browser
    gets 1002, the target a 1001 of devproxy's own."""
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.set_result(await read_to_eof(reader))

    async with RawTarget(record) as target:
        proxy = await start_proxy(target=target.url)
        reader, writer, head = await open_browser(proxy)
        assert head.startswith(b"HTTP/1.1 101")
        writer.write(frame(OP_CLOSE, b"\x03", mask=True))
        received = parse(await read_to_eof(reader))
        writer.close()
        up = parse(await asyncio.wait_for(got, 10))
    assert [(opcode, close_code(p)) for opcode, p in received] == [(OP_CLOSE, 1002)]
    assert [(opcode, close_code(p)) for opcode, p in up] == [(OP_CLOSE, 1001)]
    [closed] = proxy.events("ws.closed")
    assert "1-byte" in closed["protocol_error"] and closed["why"] == "protocol_error"


async def test_one_byte_close_from_the_target_fails_it_with_1002(start_proxy: StartProxy) -> None:
    """A target's close frame with a 1-byte payload is not relayed: the target gets 1002, the browser 1011
    naming the target's fault."""
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def one_byte(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(OP_CLOSE, b"\x03", mask=False))
        await writer.drain()
        got.set_result(await read_to_eof(reader))

    async with RawTarget(one_byte) as target:
        proxy = await start_proxy(target=target.url)
        reader, writer, head = await open_browser(proxy)
        assert head.startswith(b"HTTP/1.1 101")
        received = parse(await read_to_eof(reader))
        writer.close()
        up = parse(await asyncio.wait_for(got, 10))
    assert [(opcode, close_code(p)) for opcode, p in received] == [(OP_CLOSE, 1011)]
    assert b"1-byte" in received[0][1]
    assert [(opcode, close_code(p)) for opcode, p in up] == [(OP_CLOSE, 1002)]
