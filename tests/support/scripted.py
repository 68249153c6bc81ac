"""A raw HTTP/1.1 target on loopback whose answers are scripted byte for byte, and a scripted SOCKS5 server.

The target reads each request head itself and hands it to the script for its path; the script
writes whatever bytes it likes and says whether the connection stays open. It records every head,
counts connections and knows which are still open, so tests can assert what reached the target
and what the proxy left open. The SOCKS5 server refuses the first CONNECTs it is told to (a
failure reply, like tailscaled's after its own 5 s limit) and relays the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Incoming:
    """One request as the target read it."""

    head: bytes
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    #: which connection (1-based, in accept order) and which request on it (1-based).
    connection: int
    number: int

    @property
    def method(self) -> str:
        return self.head.split(b" ", 1)[0].decode()

    @property
    def path(self) -> str:
        return self.head.split(b" ", 2)[1].decode()

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None

    async def read_body(self) -> bytes:
        """The request body by its Content-Length (chunked bodies: until the last chunk)."""
        length = self.header("content-length")
        if length is not None:
            return await self.reader.readexactly(int(length))
        if (self.header("transfer-encoding") or "").lower() == "chunked":
            body = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    return bytes(body)
                body += await self.reader.readexactly(size)
                await self.reader.readexactly(2)
        return b""

    def reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), not a clean FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


#: a script writes the answer; True keeps the connection open for the next request.
Script = Callable[[Incoming], Awaitable[bool]]


def answer(data: bytes, keep: bool = True) -> Script:
    """A script that writes `data` at once (a request body is left unread: keep=False then)."""

    async def script(request: Incoming) -> bool:
        request.writer.write(data)
        return keep

    return script


@dataclass
class ScriptedTarget:
    port: int = 0
    scripts: dict[str, Script] = field(default_factory=dict)
    heads: list[bytes] = field(default_factory=list)
    connections: int = 0
    #: connections the proxy has not closed yet (the target never closes first unless scripted).
    open_connections: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [head.split(b" ", 2)[1].decode() for head in self.heads]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_connections += 1
        connection = self.connections
        self.writers.append(writer)
        number = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                self.heads.append(head)
                number += 1
                request = Incoming(head, reader, writer, connection, number)
                keep = await self.scripts[request.path](request)
                if writer.is_closing():
                    return
                await writer.drain()
                if not keep:
                    return
        except ConnectionError:
            return
        finally:
            self.open_connections -= 1
            writer.close()

    async def stop_listening(self) -> None:
        """New connections are refused from now on; open ones stay as they are."""
        assert self.server is not None
        self.server.close()


@contextlib.asynccontextmanager
async def scripted_target() -> AsyncIterator[ScriptedTarget]:
    target = ScriptedTarget()
    target.server = await asyncio.start_server(target.handle, "127.0.0.1", 0, limit=1 << 20)
    target.port = target.server.sockets[0].getsockname()[1]
    try:
        yield target
    finally:
        for writer in target.writers:
            writer.close()
        target.server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(target.server.wait_closed(), 5)


@dataclass
class RefusingSocks:
    """A SOCKS5 server (no auth) that answers the first `refuse` CONNECTs with `code` after `delay` s."""

    refuse: int
    code: int = 1
    delay: float = 0.0
    port: int = 0
    connects: int = 0
    refused: int = 0

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            version, count = await reader.readexactly(2)
            await reader.readexactly(count)
            writer.write(b"\x05\x00")
            _, command, _, kind = await reader.readexactly(4)
            if kind == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            elif kind == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            else:
                host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
            port = int.from_bytes(await reader.readexactly(2), "big")
            self.connects += 1
            if version != 5 or command != 1 or self.refused < self.refuse:
                self.refused += 1
                await asyncio.sleep(self.delay)
                writer.write(b"\x05" + bytes([self.code]) + b"\x00\x01" + bytes(6))
                await writer.drain()
                return
            up_reader, up_writer = await asyncio.open_connection(host, port)
            try:
                writer.write(b"\x05\x00\x00\x01" + bytes(6))
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write_eof()


@contextlib.asynccontextmanager
async def refusing_socks(refuse: int, *, code: int = 1, delay: float = 0.0) -> AsyncIterator[RefusingSocks]:
    socks = RefusingSocks(refuse, code, delay)
    server = await asyncio.start_server(socks.handle, "127.0.0.1", 0)
    socks.port = server.sockets[0].getsockname()[1]
    try:
        yield socks
    finally:
        server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5)
