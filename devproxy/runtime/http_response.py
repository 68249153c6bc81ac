"""The target's answer to one request as a value: status, reason, headers, the body as a stream, release.

`upstream_http.Pool.exchange` returns one per request (as httpx returns a `Response`); the caller
reads the body (piece by piece, whole, or streamed straight to a transport) and releases it, and
never sees the connection or the parser behind it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from devproxy.errors import TargetUnreachableError
from devproxy.runtime.http_exchange import Exchange


class Carrier(Protocol):
    """The connection an answer came on (upstream_http.Connection)."""

    @property
    def exchange(self) -> Exchange | None: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...


class Response:
    """The target's answer to one request: status, reason, headers, the body as a stream, and release."""

    __slots__ = ("status", "reason", "headers", "_conn", "_exchange")

    def __init__(self, conn: Carrier, exchange: Exchange) -> None:
        self.status = exchange.status
        self.reason = bytes(exchange.reason)
        self.headers = tuple(exchange.headers)
        self._conn = conn
        self._exchange = exchange

    def whole(self) -> bytes | None:
        """The whole body if it has already arrived (a small answer usually comes with its head), else None."""
        return self._exchange.whole()

    def take(self) -> bytes | None:
        """The next body bytes already here; b"" at the end; None when the caller must `wait`.

        Raises: TargetUnreachableError when the body broke off.
        """
        try:
            return self._exchange.take()
        except Exception as exc:
            raise TargetUnreachableError(str(exc) or type(exc).__name__) from exc

    async def wait(self, timeout: float | None) -> None:
        """Until more body bytes arrived, the body ended or broke, or `timeout` seconds passed."""
        await self._exchange.arrival(timeout)

    def stream_to(self, sink: asyncio.WriteTransport) -> None:
        """Write the body's bytes to `sink` as they arrive, from the connection's callback (see `relay`)."""
        self._exchange.stream_to(sink)

    @property
    def streamed(self) -> int:
        """Body bytes written to the sink so far."""
        return self._exchange.streamed

    async def relay(self, timeout: float) -> str:
        """After `stream_to`: wait (at most `timeout` s) for what the caller must act on.

        "done" (the whole body was written), "full" (the sink must drain, then `unblock`), "gone"
        (the sink closed) or "waiting". Raises: TargetUnreachableError when the body broke off.
        """
        exchange = self._exchange
        await exchange.arrival(timeout)
        if exchange.sink_gone:
            return "gone"
        if exchange.complete:
            return "done"
        if exchange.error is not None:
            raise TargetUnreachableError(str(exchange.error)) from exchange.error
        return "full" if exchange.blocked else "waiting"

    def unblock(self) -> None:
        """The sink drained: read the target again."""
        self._exchange.unblock()

    async def read(self) -> bytes:
        """The next body bytes; b"" at the end. Raises: TargetUnreachableError when the body broke off."""
        while (data := self.take()) is None:
            await self.wait(None)
        return data

    def release(self) -> None:
        """The caller is done: the connection goes back to the pool or is closed (idempotent)."""
        if self._conn.exchange is self._exchange:
            self._conn.finish()

    def abort(self) -> None:
        """Drop the connection (the browser left, or the body must not be read further)."""
        self._conn.close()
