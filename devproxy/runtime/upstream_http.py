"""The one HTTP/1.1 client to the target: pooled keep-alive tunnel connections, bodies streamed both ways.

The pool's invariant: **a connection goes back to the pool only when its exchange ended exactly at
a message boundary with nothing pending either way** (the whole request written, the whole answer
parsed and read out, no byte that belongs to no answer, keep-alive on both sides, reading not
paused). Everything else closes the connection (`Exchange.at_boundary`, `Connection.finish`).

A request is one write of the already-filtered head, then its body (streamed from the browser
with backpressure, re-chunked when the browser sent it chunked); its answer is parsed by a fresh
`http_exchange.Exchange` (llhttp) and handed to the caller as a `Response` value. The response
timeout starts once the whole request has been sent, so a slow upload is not a slow target; a
target that answers before taking the whole body (413 on a big upload) is answered to the browser,
not turned into a 502, and that connection is retired.

A reused connection must never be slower to fail than a fresh one. Idle connections are checked
before reuse (closed, EOF or stray bytes waiting, idle too long); a reused connection that ended or
was reset before any answer byte is retried at once on a fresh dial for idempotent requests; and
when a reused connection stays silent for `SILENCE_CHECK` seconds a dial checks the path meanwhile:
if the target cannot be reached (a dev box that vanished without closing its connections), the
request fails with that dial's error instead of waiting out the response timeout. `flush()` drops
every idle connection and `warm()` dials a fresh one (after the runtime saw its clock jump: a freeze).

This module is the seam for the target's errors: everything that goes wrong in an exchange leaves
`Pool.exchange` and `Response.read` as a devproxy `ProxyError`, chained `from exc`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import cast

from devproxy.errors import ProxyError, TargetUnreachableError, UpstreamTimeoutError
from devproxy.runtime.http_exchange import Disconnected, Exchange
from devproxy.runtime.http_response import Response
from devproxy.runtime.tunnel import Tunnel

#: idle pooled connections are closed after this long.
IDLE_SECONDS = 60.0
#: an idle connection older than this is looked at (a peek for EOF or stray bytes) before reuse.
PEEK_AFTER = 1.0
#: a reused connection silent this long has the path to the target checked by a fresh dial.
SILENCE_CHECK = 0.5

Read = Callable[[], Awaitable[bytes]]


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


class Connection(asyncio.Protocol):
    """One keep-alive connection to the target: transport and flow control; one exchange at a time."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._loop = pool.loop
        self.transport: asyncio.Transport | None = None
        #: the plain TCP socket under the transport, for `_salvage` and `idle_ok` (None under TLS).
        self.sock: socket.socket | None = None
        self.closed = False
        #: requests carried so far.
        self.uses = 0
        self.idle_since = 0.0
        self.exchange: Exchange | None = None
        self._reading_paused = False
        self._writable: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:
            self.close()  # bytes nobody asked for: this connection's framing cannot be trusted
            return
        exchange.feed(data)
        if exchange.stray or exchange.error is not None:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        exchange = self.exchange
        if exc is not None and exchange is not None and not exchange.complete and self.sock is not None:
            self._salvage(self.sock, exchange)
        self.closed = True
        self._pool.forget(self)
        writable = self._writable
        if writable is not None and not writable.done():
            writable.set_result(None)
        if exchange is not None:
            exchange.ended(exc)

    def _salvage(self, sock: socket.socket, exchange: Exchange) -> None:
        """Read what the target sent before a reset (a 413 before it closes on an upload).

        A failed write ends the transport at once, unread answer bytes included; the socket is
        still open here and its queue is small (bounded by the receive buffer), so drain it.
        """
        for _ in range(64):
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data or exchange.complete or exchange.error is not None:
                return
            exchange.feed(data)

    def pause_writing(self) -> None:
        self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            if not self.closed:
                self.transport.resume_reading()

    # -- one exchange -------------------------------------------------------------------------

    def idle_ok(self) -> bool:
        """Fit for another request: open, and nothing waiting to be read (no EOF, no stray bytes)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        if self.sock is None:
            return True
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return False  # EOF or bytes nobody asked for

    def _write(self, data: bytes) -> bool:
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True

    async def _upload(self, exchange: Exchange, read: Read, chunked: bool) -> None:
        """Stream the request body; stops early when the target has answered or gone (then it is not `sent`)."""
        while True:
            chunk = await read()
            if exchange.head_done or exchange.error is not None or self.closed:
                return
            if not chunk:
                break
            if not self._write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk):
                return
            writable = self._writable
            if writable is not None:
                await writable
        if (not chunked or self._write(b"0\r\n\r\n")) and not self.closed:
            exchange.sent = True

    async def send(self, head: bytes, *, body: Read | None, chunked: bool, no_body: bool) -> Exchange:
        """Write the request (head, then body); the exchange, once the request is sent or answered early.

        Raises: the browser's own read errors, when no answer has arrived.
        """
        self.exchange = exchange = Exchange(self._loop, no_body=no_body, pause=self._pause_reading,
                                            resume=self._resume_reading)
        self.uses += 1
        if self.closed:
            exchange.ended(None)  # gone between the pool's check and now: nothing was sent
        if body is None:
            exchange.sent = self._write(head)
            return exchange
        self._write(head)
        upload = self._loop.create_task(self._upload(exchange, body, chunked))
        await asyncio.wait((upload, exchange.head_ready), return_when=asyncio.FIRST_COMPLETED)
        if not upload.done():  # the target answered before taking the whole body: never reused
            upload.cancel()
            await asyncio.wait((upload,))
        elif upload.exception() is not None and not exchange.head_done:
            self.close()
            raise cast(BaseException, upload.exception())
        return exchange

    def finish(self) -> None:
        """The exchange is over: back to the pool only at a message boundary with nothing pending."""
        exchange, self.exchange = self.exchange, None
        if exchange is None or not exchange.at_boundary() or self.closed:
            self.close()
            return
        self._resume_reading()
        self.idle_since = self._loop.time()
        self._pool.put(self)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._pool.forget(self)
            if self.transport is not None:
                self.transport.close()


class Pool:
    """Idle keep-alive connections to one target through the tunnel (last used first)."""

    def __init__(self, tunnel: Tunnel) -> None:
        self.loop = asyncio.get_running_loop()
        self.tunnel = tunnel
        self._idle: list[Connection] = []
        self._sweeper: asyncio.TimerHandle | None = None
        #: dials checking the path under silent reused connections.
        self._checks: set[asyncio.Task[None]] = set()

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
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)

    def flush(self) -> int:
        """Close every idle connection (after a freeze, none of them can be trusted); how many were closed."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        return len(idle)

    async def warm(self) -> ProxyError | None:
        """Dial one connection and keep it idle (after a freeze, so the first request finds the path ready).

        Returns the dial's error when the target cannot be reached, else None.
        """
        try:
            conn = await self._dial()
        except ProxyError as exc:
            return exc
        except (OSError, ssl.SSLError) as exc:
            return map_error(exc, f"{self.tunnel.host}:{self.tunnel.port}", self.tunnel.dialer.connect_timeout)
        conn.idle_since = self.loop.time()
        self.put(conn)
        return None

    def idle_count(self) -> int:
        return len(self._idle)

    def _take_idle(self) -> Connection | None:
        """The most recently used idle connection that is still fit for a request."""
        now = self.loop.time()
        while self._idle:
            conn = self._idle.pop()
            idle = now - conn.idle_since
            # A connection idle for a moment was just watched by the loop; older ones are looked at.
            if idle < IDLE_SECONDS and (idle < PEEK_AFTER or conn.idle_ok()):
                return conn
            conn.close()
        return None

    async def _dial(self) -> Connection:
        """A fresh connection. Raises: devproxy ProxyError (dialing), OSError, ssl.SSLError."""
        conn, sock = await self.tunnel.connect(lambda: Connection(self))
        conn.sock = sock
        return conn

    def _check_path(self, exchange: Exchange) -> None:
        """A reused connection stayed silent: dial the target meanwhile (see the module docstring)."""
        if exchange.head_done or exchange.error is not None:
            return
        task = self.loop.create_task(self._path_check(exchange))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _path_check(self, exchange: Exchange) -> None:
        """Fail `exchange` with the dial's error if the path is dead; keep a good connection idle."""
        try:
            conn = await self._dial()
        except ProxyError as exc:
            exchange.fail(exc)
            return
        except (OSError, ssl.SSLError):
            return  # the path carries bytes: the target's own trouble shows on the request itself
        conn.idle_since = self.loop.time()
        self.put(conn)

    async def _head(self, conn: Connection, exchange: Exchange, timeout: float) -> None:
        """Wait for the final answer head. Raises: the exchange's error (TimeoutError, a path check's ProxyError)."""
        ready = exchange.head_ready
        if not ready.done():
            timer = self.loop.call_later(timeout, exchange.timed_out)
            check = self.loop.call_later(SILENCE_CHECK, self._check_path, exchange) if conn.uses > 1 else None
            try:
                await ready
            finally:
                timer.cancel()
                if check is not None:
                    check.cancel()
        if exchange.error is not None:
            raise exchange.error

    async def exchange(self, head: bytes, *, target: str, timeout: float, retry: bool, body: Read | None = None,
                       chunked: bool = False, no_body: bool = False) -> Response:
        """Send a request; its answer, with the final response head parsed.

        A reused connection that ends before any answer byte is retried once at once on a fresh
        dial when `retry` (idempotent, bodiless requests). Raises: devproxy ProxyError only (mapped here).
        """
        deadline = self.loop.time() + timeout
        fresh = False
        try:
            while True:
                conn = None if fresh else self._take_idle()
                if conn is None:
                    remaining = deadline - self.loop.time()
                    if remaining <= 0:
                        raise TimeoutError()
                    conn = await asyncio.wait_for(self._dial(), remaining)
                try:
                    exchange = await conn.send(head, body=body, chunked=chunked, no_body=no_body)
                    await self._head(conn, exchange, max(0.0, deadline - self.loop.time()) if body is None else timeout)
                    return Response(conn, exchange)
                except Disconnected:
                    conn.close()
                    if not (retry and conn.uses > 1):
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
        for task in self._checks:
            task.cancel()
        self.flush()
