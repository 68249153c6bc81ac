"""The one HTTP/1.1 client to the target: pooled keep-alive tunnel connections, bodies streamed both ways.

A request is one write of the already-filtered head, then its body (streamed from the browser
with backpressure, re-chunked when the browser sent it chunked); the answer is parsed by llhttp
(httptools' C parser) and its body goes from the socket to the browser with no reader in between.
HEAD, 1xx answers, bodiless statuses, close-delimited bodies and https targets are handled here.
The response timeout starts once the whole request has been sent, so a slow upload is not a slow
target; a target that answers before taking the whole body (413 on a big upload) is answered to
the browser, not turned into a 502.

This module is the seam for the target's errors: everything that goes wrong in an exchange
leaves `Pool.exchange` and `Connection.read` as a devproxy `ProxyError`, chained `from exc`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast

import httptools

from devproxy.errors import ProxyError, TargetUnreachableError, UpstreamTimeoutError
from devproxy.runtime.dial import Dialer
from devproxy.runtime.http_wire import AnswerHead

#: body bytes buffered from the target before reading from it pauses (the browser is slower).
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
#: idle pooled connections are closed after this long.
IDLE_SECONDS = 60.0

Read = Callable[[], Awaitable[bytes]]


class Disconnected(ConnectionError):
    """The target closed the connection before any byte of an answer (a reused one may be retried)."""


class InvalidAnswer(ConnectionError):
    """The target's bytes are not an HTTP/1.1 answer."""


class BodyBroken(ConnectionError):
    """The answer's body ended before its framing said it would."""


def map_error(exc: BaseException, target: str, timeout: float) -> ProxyError:
    """The one place where the target's failures become devproxy errors, in words a user can act on."""
    if isinstance(exc, ProxyError):
        return exc
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError(f"the target {target} did not answer within {timeout:g} s")
    if isinstance(exc, Disconnected):
        return TargetUnreachableError(
            f"the target {target} closed the connection before answering", hint="did the dev server restart or crash?"
        )
    detail = str(exc) or type(exc).__name__
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return TargetUnreachableError(f"request to the target {target} failed: {detail}")


class Connection(AnswerHead, asyncio.Protocol):
    """One keep-alive connection to the target; carries one exchange at a time."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._loop = pool.loop
        self.transport: asyncio.Transport | None = None
        #: the plain TCP socket under the transport, for `_salvage` (None for TLS).
        self.sock: socket.socket | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._head_timer: asyncio.TimerHandle | None = None
        self._writable: asyncio.Future[None] | None = None
        self._reset_exchange()

    def _reset_exchange(self) -> None:
        self._parser: httptools.HttpResponseParser | None = None
        self.busy = False
        self.no_body = False  # the answer to HEAD: framing headers, no body
        self.status = 0
        self.reason = bytearray()
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
        self._got_bytes = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        if not self.busy or self.complete or self._parser is None:
            self.close()  # bytes nobody asked for: this connection's framing cannot be trusted
            return
        self._got_bytes = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if not self.complete:  # after a whole answer, extra bytes only cost the connection
                words = f"invalid response from the target: {exc}"
                self._fail(BodyBroken(words) if self.head_done else InvalidAnswer(words))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.busy and not self.complete and self.sock is not None:
            self._salvage(self.sock)
        self.closed = True
        self._pool.forget(self)
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)
        if not self.busy or self.complete:
            return
        if self.head_done and self.close_delimited and exc is None:
            self.complete = True  # the body ends where the connection does
            self._wake()
            return
        error: BaseException
        if not self.head_done:
            error = Disconnected() if exc is None and not self._got_bytes else InvalidAnswer(
                f"the connection broke before a whole answer{f': {exc}' if exc else ''}"
            )
        else:
            error = BodyBroken("Response payload is not completed" + (f": {exc!r}" if exc else ""))
        self._fail(error)

    def _salvage(self, sock: socket.socket) -> None:
        """Read what the target sent before a reset (a 413 before it closes on an upload).

        A failed write ends the transport at once, unread answer bytes included; the socket is
        still open here and its queue is small (bounded by the receive buffer), so drain it.
        """
        for _ in range(64):
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data or self.complete:
                return
            self.data_received(data)

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.head_done:
            raise ValueError("a second response to one request")
        self.status = 0
        self.reason = bytearray()
        self.headers = []

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            return  # informational (100 Continue, 103 Early Hints...): not forwarded
        self.status = status
        self.keep_alive = self._parser.should_keep_alive()
        framed = status in (204, 304) or self.no_body
        for name, value in self.headers:
            lname = name.lower()
            if lname == b"content-length" or (lname == b"transfer-encoding" and b"chunked" in value.lower()):
                framed = True
        self.close_delimited = not framed
        self.head_done = True
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self.no_body:
            self.complete = True  # llhttp cannot be told about HEAD; this parser is not fed again
            self._parser = None
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

    def _write(self, data: bytes) -> bool:
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    async def _upload(self, read: Read, chunked: bool) -> None:
        """Stream the request body; stops early when the target has answered or gone."""
        while True:
            chunk = await read()
            if self.head_done or self._error is not None or self.closed:
                return
            if not chunk:
                break
            if not self._write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk):
                return
            writable = self._writable
            if writable is not None:
                await writable
        if chunked:
            self._write(b"0\r\n\r\n")

    async def send(self, head: bytes, timeout: float, *, body: Read | None = None, chunked: bool = False,
                   no_body: bool = False) -> None:
        """Write the request; return once the final response head has arrived.

        The timeout runs from the moment the whole request has been written.
        Raises: Disconnected, InvalidAnswer, TimeoutError, OSError; the browser's own read errors.
        """
        assert self.transport is not None
        self.busy = True
        self.no_body = no_body
        self._parser = httptools.HttpResponseParser(self)
        self._head = head_ready = self._loop.create_future()
        self._write(head)
        if body is not None:
            upload = self._loop.create_task(self._upload(body, chunked))
            await asyncio.wait((upload, head_ready), return_when=asyncio.FIRST_COMPLETED)
            if not upload.done():  # the target answered before taking the whole body: no reuse
                self.keep_alive = False
                upload.cancel()
                await asyncio.wait((upload,))
            elif upload.exception() is not None and not self.head_done:
                self.close()
                raise cast(BaseException, upload.exception())
        if not head_ready.done() and self._error is None:
            self._head_timer = self._loop.call_at(self._loop.time() + timeout, self._head_timed_out)
        await head_ready
        if self._error is not None:
            raise self._error

    def buffered_body(self) -> bytes:
        """Everything received of the body so far, taken out of the buffer."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        return data

    async def read(self) -> bytes:
        """The next body bytes; b"" at the end. Raises: TargetUnreachableError when the body breaks off."""
        while not self._chunks:
            if self.complete:
                return b""
            if self._error is not None:
                raise TargetUnreachableError(str(self._error)) from self._error
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
        self.reused = True
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

    def __init__(self, dialer: Dialer, host: str, port: int, *, tls: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self._dialer = dialer
        self._host = host
        self._port = port
        #: https targets: verified like any client would (the tailnet's certificates are real ones).
        self.tls = ssl.create_default_context() if tls else None
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
        """A fresh connection. Raises: devproxy ProxyError (dialing), OSError, ssl.SSLError."""
        sock = await self._dialer.open(self._host, self._port)
        try:
            if self.tls is not None:
                _, conn = await self.loop.create_connection(
                    lambda: Connection(self), sock=sock, ssl=self.tls, server_hostname=self._host
                )
            else:
                _, conn = await self.loop.create_connection(lambda: Connection(self), sock=sock)
                conn.sock = sock
        except BaseException:
            sock.close()
            raise
        return conn

    async def exchange(self, head: bytes, *, target: str, timeout: float, retry: bool, body: Read | None = None,
                       chunked: bool = False, no_body: bool = False) -> Connection:
        """Send a request; the connection, with the final response head parsed.

        A pooled connection the target closed meanwhile fails before any answer byte; with
        `retry` (idempotent, bodiless requests) the request goes out once more on a fresh one.
        Raises: devproxy ProxyError only (mapped here).
        """
        deadline = self.loop.time() + timeout
        fresh = False
        try:
            while True:
                conn = self._idle.pop() if self._idle and not fresh else None
                if conn is None:
                    remaining = deadline - self.loop.time()
                    if remaining <= 0:
                        raise TimeoutError()
                    conn = await asyncio.wait_for(self._dial(), remaining)
                try:
                    await conn.send(head, max(0.0, deadline - self.loop.time()) if body is None else timeout,
                                    body=body, chunked=chunked, no_body=no_body)
                    return conn
                except Disconnected:
                    conn.close()
                    if not (retry and conn.reused):
                        raise
                    retry, fresh = False, True  # once, on a fresh connection
                except BaseException:
                    conn.close()
                    raise
        except (ProxyError, OSError, TimeoutError, ssl.SSLError) as exc:
            raise map_error(exc, target, timeout) from exc

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._idle):
            conn.close()
        self._idle.clear()
