"""A floor for any Python proxy on this path: a bare asyncio byte relay through SOCKS5.

Not a proxy anyone should deploy: no HTTP or WebSocket parsing, no headers, no logs, one SOCKS
tunnel per client connection. It shows what the event loop, two sockets and the SOCKS hop cost
on their own, so the benchmark can separate devproxy's per-request work from the design's floor.
Run by the benchmark as `python -m bench.floor --socks HOST:PORT --target HOST:PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import struct


class Pipe(asyncio.Protocol):
    """One side of a relay: what it reads goes to its peer; a slow peer pauses this side."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: Pipe | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


async def _socks_dial(socks: tuple[str, int], target: tuple[str, int]) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await loop.sock_connect(sock, socks)
    await loop.sock_sendall(sock, b"\x05\x01\x00")
    await _recv_exact(sock, 2)
    await loop.sock_sendall(sock, b"\x05\x01\x00\x01" + socket.inet_aton(target[0]) + struct.pack("!H", target[1]))
    head = await _recv_exact(sock, 4)
    if head[1] != 0:
        raise ConnectionError(f"SOCKS5 CONNECT failed with reply {head[1]}")
    await _recv_exact(sock, 6 if head[3] == 1 else 18)
    return sock


async def _recv_exact(sock: socket.socket, n: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < n:
        chunk = await loop.sock_recv(sock, n - len(data))
        if not chunk:
            raise ConnectionError("SOCKS server closed the connection")
        data += chunk
    return data


async def serve(socks: tuple[str, int], target: tuple[str, int]) -> None:
    loop = asyncio.get_running_loop()

    async def attach(client: Pipe) -> None:
        try:
            sock = await _socks_dial(socks, target)
        except OSError:
            if client.transport is not None:
                client.transport.close()
            return
        _, upstream = await loop.create_connection(Pipe, sock=sock)
        upstream.peer, client.peer = client, upstream
        for data in client.pending:
            assert upstream.transport is not None
            upstream.transport.write(data)
        client.pending.clear()

    def accept() -> Pipe:
        client = Pipe()
        loop.create_task(attach(client))
        return client

    server = await loop.create_server(accept, "127.0.0.1", 0, backlog=2048)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor")
    parser.add_argument("--socks", required=True)
    parser.add_argument("--target", required=True)
    args = parser.parse_args()
    shost, sport = args.socks.rsplit(":", 1)
    thost, tport = args.target.rsplit(":", 1)
    coro = serve((shost, int(sport)), (thost, int(tport)))
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
