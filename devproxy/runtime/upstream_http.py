"""A lean HTTP/1.1 client for bodiless requests on pooled keep-alive tunnel connections.

The proxy's hot path is small GETs (code-server's assets, VS Code's JSON calls). aiohttp's
client builds a request object, a response object, a stream reader and a timer per request;
here a request is one `bytes` write of the already-filtered head, the response is parsed by
llhttp (httptools' C parser), and body chunks go from the socket to the browser with no
reader in between. Anything this client does not handle (request bodies, HEAD, TLS targets)
stays on the aiohttp client path in `http_forward`.

Errors are aiohttp's own types (`ServerDisconnectedError`, `ClientOSError`,
`ClientPayloadError`, `TimeoutError`) so that `http_forward.map_client_error` stays the one
seam that turns them into devproxy errors with the same words as before.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Sequence
from typing import cast

import aiohttp
import httptools

from devproxy.runtime.dial import Dialer

#: body bytes buffered from the target before reading from it pauses (the browser is slower).
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
#: idle pooled connections are closed after this long, like aiohttp's keepalive_timeout.
IDLE_SECONDS = 60.0


#: control characters that must never reach a header (injection); the same set aiohttp's client refuses.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def request_head(method: str, target: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """The request line and headers as given (order, repeats, raw target), UTF-8 like aiohttp's client.

    Raises: ValueError for a control character in the line or a header (header injection).
    """
    line = f"{method} {target} HTTP/1.1"
    if _FORBIDDEN.search(line) is not None:
        raise ValueError("control character in the request line")
    lines = [line, "\r\n"]
    for name, value in headers:
        if _FORBIDDEN.search(name) is not None or _FORBIDDEN.search(value) is not None:
            raise ValueError(f"control character in the request header {name!r}")
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


class Connection(asyncio.Protocol):
    """One keep-alive connection to the target; carries one exchange at a time."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._head_timer: asyncio.TimerHandle | None = None
        self._reset_exchange()

    def _reset_exchange(self) -> None:
        self.busy = False
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self._head: asyncio.Future[None] | None = None
        self.head_done = False
        self.complete = False
        self.close_delimited = False
        self.keep_alive = False
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._paused = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        if not self.busy or self.complete:
            self.close()  # bytes nobody asked for: this connection's framing cannot be trusted
            return
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if not self.complete:  # after a whole answer, extra bytes only cost the connection
                words = f"invalid response from the target: {exc}"
                self._fail(aiohttp.ClientPayloadError(words) if self.head_done else aiohttp.ClientConnectionError(words))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.forget(self)
        if not self.busy or self.complete:
            return
        if self.head_done and self.close_delimited and exc is None:
            self.complete = True  # the body ends where the connection does
            self._wake()
            return
        if not self.head_done:
            error: BaseException = (
                aiohttp.ServerDisconnectedError() if exc is None
                else aiohttp.ClientOSError(getattr(exc, "errno", None) or 0, str(exc))
            )
        else:
            error = aiohttp.ClientPayloadError(
                "Response payload is not completed" + (f": {exc!r}" if exc else "")
            )
        self._fail(error)

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.head_done:
            raise ValueError("a second response to one request")
        self.status = 0
        self.reason = b""
        self.headers = []

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            return  # informational (103 Early Hints...): not forwarded, like aiohttp's client
        self.status = status
        self.keep_alive = self._parser.should_keep_alive()
        framed = status in (204, 304)
        for name, value in self.headers:
            lname = name.lower()
            if lname == b"content-length" or (lname == b"transfer-encoding" and b"chunked" in value.lower()):
                framed = True
        self.close_delimited = not framed
        self.head_done = True
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._wake_head()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self.head_done:
            return  # the end of an informational response; the final one follows
        self.complete = True
        self._wake()

    # -- the exchange -------------------------------------------------------------------------

    def _wake_head(self) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        # Waiters are woken, not failed: they read `_error`, so no exception goes unretrieved.
        self._wake_head()
        self._wake()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        self._fail(TimeoutError())
        self.close()

    async def send(self, head: bytes, timeout: float) -> None:
        """Write the request head; return once the final response head has arrived."""
        assert self.transport is not None
        self.busy = True
        self._head = self._loop.create_future()
        self._head_timer = self._loop.call_at(self._loop.time() + timeout, self._head_timed_out)
        self.transport.write(head)
        await self._head
        if self._error is not None:
            raise self._error

    def buffered_body(self) -> bytes:
        """Everything received of the body so far, taken out of the buffer."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        return data

    async def read(self) -> bytes:
        """The next body bytes; b"" at the end. Raises: ClientPayloadError when the body breaks off."""
        while not self._chunks:
            if self.complete:
                return b""
            if self._error is not None:
                raise self._error
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._chunks.popleft()  # one received piece at a time: no join, no copy
        self._buffered -= len(data)
        if self._paused and self._buffered < LOW_WATER and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def release(self) -> None:
        """The exchange is over: back to the pool when the whole answer was read and it may be reused."""
        reusable = (
            self.complete and not self._chunks and self.keep_alive and not self.close_delimited
            and self._error is None and not self.closed
        )
        if not reusable:
            self.close()
            return
        self._reset_exchange()
        self.idle_since = self._loop.time()
        self._pool.put(self)

    def close(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if not self.closed:
            self.closed = True
            self._pool.forget(self)
            if self.transport is not None:
                self.transport.close()


class Pool:
    """Idle keep-alive connections to one target through the tunnel (last used first)."""

    def __init__(self, dialer: Dialer, host: str, port: int) -> None:
        self.loop = asyncio.get_running_loop()
        self._dialer = dialer
        self._host = host
        self._port = port
        self._idle: list[Connection] = []
        self._sweeper: asyncio.TimerHandle | None = None

    def put(self, conn: Connection) -> None:
        self._idle.append(conn)
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(IDLE_SECONDS / 4, self._sweep)

    def _sweep(self) -> None:
        """Close connections idle for longer than IDLE_SECONDS (one timer per pool, not per request)."""
        self._sweeper = None
        limit = self.loop.time() - IDLE_SECONDS
        for conn in [c for c in self._idle if c.idle_since < limit]:
            conn.close()
        if self._idle:
            self._sweeper = self.loop.call_later(IDLE_SECONDS / 4, self._sweep)

    def forget(self, conn: Connection) -> None:
        try:
            self._idle.remove(conn)
        except ValueError:
            pass

    async def _dial(self) -> Connection:
        """A fresh connection. Raises: devproxy ProxyError (dialing), OSError."""
        sock = await self._dialer.open(self._host, self._port)
        try:
            _, conn = await self.loop.create_connection(lambda: Connection(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        return conn

    async def exchange(self, head: bytes, *, timeout: float, attempts: int) -> Connection:
        """Send a bodiless request; the connection, with the final response head parsed.

        A pooled connection the target closed meanwhile fails before any response byte; with
        `attempts=2` (idempotent methods) the request is sent once more on a fresh connection.
        Raises: devproxy ProxyError, aiohttp.ServerDisconnectedError/ClientOSError, TimeoutError.
        """
        deadline = self.loop.time() + timeout
        for attempt in range(attempts):
            conn = self._idle.pop() if self._idle and attempt == 0 else None
            if conn is None:
                remaining = deadline - self.loop.time()
                if remaining <= 0:
                    raise TimeoutError()
                conn = await asyncio.wait_for(self._dial(), remaining)  # rare: pooled connections are reused
            try:
                await conn.send(head, max(0.0, deadline - self.loop.time()))
                return conn
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                conn.close()
                if attempt + 1 == attempts:
                    raise
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._idle):
            conn.close()
        self._idle.clear()

