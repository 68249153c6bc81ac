"""Lean blocking-socket clients for the benchmark (HTTP download, WebSocket), with optional SOCKS5.

Blocking sockets keep the client's own cost per message to a few microseconds, so the
figures are about the path under test, not the client. These run in the bench process only,
never inside an event loop.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import threading
import time

TIMEOUT = 10.0
#: a zero masking key leaves the payload as is, so the client spends no time masking.
_MASK = b"\0\0\0\0"


class Endpoint:
    """Where a client connects: host:port, optionally through a SOCKS5 server."""

    def __init__(self, host: str, port: int, socks: tuple[str, int] | None = None) -> None:
        self.host = host
        self.port = port
        self.socks = socks

    @property
    def host_header(self) -> str:
        return f"{self.host}:{self.port}"

    def open(self) -> socket.socket:
        """A connected TCP socket to host:port, tunnelled through SOCKS5 when configured."""
        addr = self.socks or (self.host, self.port)
        sock = socket.create_connection(addr, timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.socks:
            _socks5_connect(sock, self.host, self.port)
        return sock


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        r = sock.recv_into(view[got:], n - got)
        if r == 0:
            raise ConnectionError("connection closed")
        got += r
    return bytes(buf)


def _socks5_connect(sock: socket.socket, host: str, port: int) -> None:
    sock.sendall(b"\x05\x01\x00")
    if _recv_exact(sock, 2) != b"\x05\x00":
        raise ConnectionError("SOCKS5 greeting refused")
    sock.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack("!H", port))
    head = _recv_exact(sock, 4)
    if head[1] != 0:
        raise ConnectionError(f"SOCKS5 CONNECT failed with reply {head[1]}")
    atyp = head[3]
    rest = 6 if atyp == 1 else 18 if atyp == 4 else _recv_exact(sock, 1)[0] + 2
    _recv_exact(sock, rest)


def download(ep: Endpoint, path: str = "/big") -> tuple[int, float]:
    """GET path with Connection: close; returns (body bytes, seconds from request to EOF)."""
    sock = ep.open()
    try:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        t0 = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {ep.host_header}\r\nConnection: close\r\n\r\n".encode())
        total = 0
        head_len = -1
        first = b""
        while True:
            n = sock.recv_into(view)
            if n == 0:
                break
            total += n
            if head_len < 0:
                first += bytes(view[:n])
                end = first.find(b"\r\n\r\n")
                if end >= 0:
                    if not first.startswith(b"HTTP/1.1 200"):
                        raise ConnectionError(f"download failed: {first[:60]!r}")
                    head_len = end + 4
        elapsed = time.perf_counter() - t0
    finally:
        sock.close()
    return total - max(head_len, 0), elapsed


class WS:
    """A minimal RFC 6455 client on a blocking socket: binary frames, no extensions."""

    def __init__(self, ep: Endpoint, path: str = "/ws") -> None:
        self.sock = ep.open()
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: {ep.host_header}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://{ep.host_header}\r\n\r\n"
            ).encode()
        )
        self.rfile = self.sock.makefile("rb", buffering=256 * 1024)
        status = self.rfile.readline()
        if not status.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"upgrade refused: {status!r}")
        while self.rfile.readline() not in (b"\r\n", b""):
            pass

    def send(self, payload: bytes, opcode: int = 2) -> None:
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        self.sock.sendall(head + _MASK + payload)

    def recv(self) -> tuple[int, bytes]:
        """One whole message (continuation frames joined); control frames other than close skipped."""
        parts: list[bytes] = []
        opcode = 0
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read(8))
            if b1 & 0x80:
                raise ConnectionError("server frames must not be masked")
            data = self._read(n)
            op = b0 & 0x0F
            if op in (9, 10):  # ping/pong from the peer: not a message
                continue
            if op == 8:
                return 8, data
            if op:
                opcode = op
            parts.append(data)
            if b0 & 0x80:
                return opcode, parts[0] if len(parts) == 1 else b"".join(parts)

    def _read(self, n: int) -> bytes:
        data: bytes = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionError("connection closed mid-frame")
        return data

    def echo(self, payload: bytes) -> None:
        self.send(payload)
        op, data = self.recv()
        if op != 2 or len(data) != len(payload):
            raise ConnectionError(f"bad echo: opcode {op}, {len(data)} bytes")

    def close(self) -> None:
        try:
            self.send(struct.pack("!H", 1000), opcode=8)
            self.sock.settimeout(2.0)
            self.recv()
        except OSError:
            pass
        finally:
            self.rfile.close()
            self.sock.close()


def ws_round_trips(ep: Endpoint, count: int, size: int = 64) -> list[float]:
    """Seconds per round trip of a `size`-byte message on one connection."""
    ws = WS(ep)
    payload = os.urandom(size)
    try:
        for _ in range(min(200, count)):  # warm up: buffers, code paths
            ws.echo(payload)
        out = []
        clock = time.perf_counter
        for _ in range(count):
            t0 = clock()
            ws.echo(payload)
            out.append(clock() - t0)
        return out
    finally:
        ws.close()


def ws_throughput(ep: Endpoint, messages: int, size: int = 64 * 1024, window: int = 4) -> float:
    """Echoed payload MB/s on one connection: a thread sends while this one receives.

    At most `window` messages are in flight: microsocks relays each connection with one thread
    doing blocking writes, so unbounded pipelining against an echo server deadlocks it.
    """
    ws = WS(ep)
    payload = os.urandom(size)
    try:
        ws.echo(payload)
        failure: list[BaseException] = []
        credit = threading.Semaphore(window)

        def pump() -> None:
            try:
                for _ in range(messages):
                    if not credit.acquire(timeout=TIMEOUT):
                        raise TimeoutError("no echo within the timeout")
                    ws.send(payload)
            except BaseException as exc:  # reported by the receiving side
                failure.append(exc)

        t0 = time.perf_counter()
        sender = threading.Thread(target=pump, daemon=True)
        sender.start()
        for _ in range(messages):
            op, data = ws.recv()
            credit.release()
            if len(data) != size:
                raise ConnectionError(f"bad echo size {len(data)}")
        elapsed = time.perf_counter() - t0
        sender.join(TIMEOUT)
        if failure:
            raise failure[0]
        return messages * size / elapsed / 1e6
    finally:
        ws.close()


def ws_connect_to_echo(ep: Endpoint, count: int) -> list[float]:
    """Seconds from a new TCP connect to the first 64-byte echo, `count` fresh connections."""
    payload = os.urandom(64)
    out = []
    for _ in range(count):
        t0 = time.perf_counter()
        ws = WS(ep)
        ws.echo(payload)
        out.append(time.perf_counter() - t0)
        ws.close()
    return out
