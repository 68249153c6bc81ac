"""A deadline for each connection's first request head (half-sent heads must not hold sockets).

aiohttp's keep-alive timer closes a connection that stays idle, but behind Google's front ends it
must be long (above their 600 s); a client that opens a connection and trickles half a request
line would keep it for that long. This server closes any connection whose first request head is
not complete within `head_timeout` seconds of opening, using aiohttp's public connection hooks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from devproxy import events
from devproxy.runtime.log import EventLog

ServerHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class DeadlineServer(web.Server):
    """aiohttp's low-level server; a connection whose first head is late is closed without an answer."""

    def __init__(self, handler: ServerHandler, *, head_timeout: float, log: EventLog, **kwargs: Any) -> None:
        super().__init__(self._head_arrived, **kwargs)
        self._inner = handler
        self._head_timeout = head_timeout
        self._log = log
        self._waiting: dict[RequestHandler, asyncio.TimerHandle] = {}
        #: connections closed for a late head since start (the status page shows it).
        self.reaped = 0

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        loop = asyncio.get_running_loop()
        self._waiting[handler] = loop.call_later(self._head_timeout, self._expire, handler)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        timer = self._waiting.pop(handler, None)
        if timer is not None:
            timer.cancel()
        super().connection_lost(handler, exc)

    async def _head_arrived(self, request: web.BaseRequest) -> web.StreamResponse:
        timer = self._waiting.pop(request.protocol, None)
        if timer is not None:
            timer.cancel()
        return await self._inner(request)

    def _expire(self, handler: RequestHandler) -> None:
        if self._waiting.pop(handler, None) is None:
            return
        self.reaped += 1
        peer = handler.peername
        self._log.info(
            events.HTTP_HEAD_TIMEOUT,
            f"closed a connection that sent no complete request within {self._head_timeout:g} s",
            client=str(peer[0]) if isinstance(peer, tuple) else None,
            reaped=self.reaped,
        )
        handler.force_close()
