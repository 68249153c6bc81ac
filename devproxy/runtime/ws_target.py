"""The target's leg of a relayed WebSocket: dial through the tunnel, send the upgrade, read the 101.

Everything opened is closed again on every failure path; a refusal comes back as
`UpgradeRejectedError` carrying the target's status, headers and body for the browser. After the
101 the leg hands every byte to the bridge that owns it.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Protocol, cast

import httptools
from aiohttp import web

from devproxy.errors import ProxyError, TargetUnreachableError, UpgradeRejectedError, UpstreamTimeoutError
from devproxy.runtime import headers as hdr
from devproxy.runtime import http_wire, ws_handshake
from devproxy.runtime.forwarder import Forwarder


class LegOwner(Protocol):
    """The bridge a target leg feeds once the upgrade is through (ws_bridge.Bridge)."""

    @property
    def browser_protocol(self) -> Any: ...

    def from_target(self, data: bytes) -> None: ...

    def target_lost(self) -> None: ...


#: a refused upgrade's body is passed on up to this size (the rest is cut off).
MAX_REFUSAL_BODY = 1024 * 1024


def likely_cause(status: int) -> str:
    """What a refused upgrade most likely means, in words a user can act on."""
    if status == 403:
        return (
            "code-server's origin check: the Origin host differs from Host/X-Forwarded-Host; "
            "devproxy forwards X-Forwarded-Host, so check for another proxy in between or use "
            "code-server --trusted-origins"
        )
    if status == 401:
        return "the target wants authentication: is its session cookie being sent?"
    if status == 404:
        return "no WebSocket endpoint at this path on the target (wrong base path?)"
    if 300 <= status < 400:
        return "the target redirected the upgrade (a base path or login redirect?)"
    return f"the target refused the WebSocket upgrade with HTTP {status}"


class TargetLeg(http_wire.AnswerHead, asyncio.Protocol):
    """The tunnel connection to the target: first the answer to the upgrade, then frames."""

    __slots__ = ("transport", "bridge", "_parser", "answered", "status", "reason", "headers", "body", "tail")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.transport: asyncio.Transport | None = None
        self.bridge: LegOwner | None = None
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.answered: asyncio.Future[None] = loop.create_future()
        self.status = 0
        self.reason = bytearray()
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.tail = b""  # frames that arrived with the 101

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.bridge is not None:
            self.bridge.from_target(data)
            return
        if self._parser is None:  # frames right after the 101, before the relay starts: keep them
            self.tail += data
            if len(self.tail) > MAX_REFUSAL_BODY and self.transport is not None:
                self.transport.pause_reading()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self.tail = data[int(exc.args[0]):]
            self._answer(None)
        except httptools.HttpParserError as exc:
            self._answer(ConnectionError(f"invalid answer to the upgrade: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.bridge is not None:
            self.bridge.target_lost()
        elif self.status and not self.answered.done() and self.status != 101:
            self._answer(None)  # a refusal whose body ends with the connection
        else:
            self._answer(ConnectionError(f"the target closed the connection during the upgrade{f': {exc}' if exc else ''}"))

    def pause_writing(self) -> None:
        if self.bridge is not None:
            self.bridge.browser_protocol.pause_reading()

    def resume_writing(self) -> None:
        if self.bridge is not None:
            self.bridge.browser_protocol.resume_reading()

    # httptools callbacks (on_status and on_header come from AnswerHead)
    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.reason, self.headers = bytearray(), []  # an informational answer: the final one follows
            return
        self.status = status

    def on_body(self, body: bytes) -> None:
        if len(self.body) < MAX_REFUSAL_BODY:
            self.body += body[: MAX_REFUSAL_BODY - len(self.body)]

    def on_message_complete(self) -> None:
        if self.status and self.status != 101:
            self._answer(None)

    def _answer(self, error: BaseException | None) -> None:
        self._parser = None
        if self.answered.done():
            return
        if error is None:
            self.answered.set_result(None)
        else:
            self.answered.set_exception(error)

    def text_headers(self) -> list[tuple[str, str]]:
        return [(n.decode("latin-1"), v.decode("utf-8", "surrogateescape")) for n, v in self.headers]

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
        if not self.answered.done():
            self.answered.cancel()


async def open_target(request: web.Request, proxy: Forwarder, incoming: list[tuple[str, str]], key: str) -> TargetLeg:
    """Dial through the tunnel and forward the upgrade; the leg with the target's 101 read.

    Whatever was opened is closed again on every failure path.
    Raises: ProxyError subclasses (UpgradeRejectedError for the target's refusal).
    """
    target = proxy.config.target
    out = ws_handshake.upstream_headers(
        incoming, target_host=target.host_header, fwd=proxy.headers.forwarding(request, incoming),
        cookie=proxy.headers.cookie_for_target(incoming),
    )
    head = http_wire.request_head("GET", f"{target.base_path}{request.raw_path}", out)
    timeout = proxy.config.timeouts.ws_open
    loop = asyncio.get_running_loop()
    leg: TargetLeg | None = None
    try:
        async with asyncio.timeout(timeout):
            leg, _ = await proxy.tunnel.connect(lambda: TargetLeg(loop))
            assert leg.transport is not None
            leg.transport.write(head)
            await leg.answered
    except ProxyError:
        if leg is not None:
            leg.abort()
        raise
    except TimeoutError as exc:
        if leg is not None:
            leg.abort()
        raise UpstreamTimeoutError(f"the WebSocket handshake with {target} did not finish within {timeout:g} s") from exc
    except (OSError, ssl.SSLError) as exc:
        if leg is not None:
            leg.abort()
        raise TargetUnreachableError(f"the WebSocket handshake with {target} failed: {exc}") from exc
    except BaseException:
        if leg is not None:
            leg.abort()
        raise
    headers = leg.text_headers()
    if leg.status != 101:
        leg.abort()
        raise UpgradeRejectedError(
            f"the target answered the WebSocket upgrade of {request.path} with HTTP {leg.status}",
            status=leg.status,
            reason=leg.reason.decode("utf-8", "replace"),
            headers=headers,
            body=bytes(leg.body),
            hint=likely_cause(leg.status),
        )
    wrong = ws_handshake.check_switch(key, headers)
    if wrong is not None:
        leg.abort()
        raise TargetUnreachableError(f"the WebSocket handshake with {target} failed: {wrong}")
    return leg


def rejected(err: UpgradeRejectedError) -> web.Response:
    """The target's own refusal, passed to the browser (status, reason, body)."""
    response = web.Response(status=err.status, reason=err.reason or None, body=err.body)
    for name, value in hdr.response_headers(err.headers):
        if name.lower() not in ("content-length", "date", "server"):
            response.headers.add(name, value)
    return response
