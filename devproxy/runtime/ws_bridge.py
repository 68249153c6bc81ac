"""WebSocket bridging: the browser's socket (aiohttp) <-> the target's socket (websockets over SOCKS).

The upstream handshake happens first, so a refused upgrade reaches the browser as the target's
own HTTP status instead of a 101 followed by a close. Messages of any size are relayed
(VS Code's frames exceed every library default), close codes and reasons cross both ways, and
a target or tunnel that dies becomes 1011 for the browser, never a bare 1006 (DESIGN rule 3).
Both directions await the other side's writes, so a reader that stalls cannot make the
proxy's memory grow without limit.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import WSMsgType, web
from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.http11 import Response
from websockets.typing import Origin, Subprotocol

from devproxy.errors import ProxyError, TargetUnreachableError, UpgradeRejectedError, UpstreamTimeoutError
from devproxy.runtime import closecodes
from devproxy.runtime import headers as hdr
from devproxy.runtime.context import ProxyContext, raw_headers
from devproxy.runtime.http_forward import error_response

#: keepalive on the tunnel leg: detects a dead tailnet path; VS Code pings the browser leg itself.
PING_INTERVAL = 20.0
PING_TIMEOUT = 20.0
#: messages buffered per direction before reading pauses (sizes are unbounded, counts are not).
MAX_QUEUE = 16
#: bytes buffered for writing before a send waits for the peer.
WRITE_LIMIT = 256 * 1024


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


class Bridge:
    """One live browser<->target WebSocket pair, with counters for logs and the status page."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.opened_at = time.time()
        self.bytes_in = 0  # browser -> target
        self.bytes_out = 0  # target -> browser
        self.closed_by: str | None = None
        self.browser: web.WebSocketResponse | None = None
        self.upstream: ClientConnection | None = None
        self.shutdown_code: int | None = None
        #: the code that ended the browser's side: the one it sent, or the one devproxy sent it.
        self.close_code: int | None = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "opened_at": self.opened_at,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }

    async def shut(self, code: int, reason: str) -> None:
        """Close both legs from the proxy's side (e.g. 1001 on SIGTERM so VS Code reconnects at once)."""
        if self.closed_by is None:
            self.closed_by = "proxy"
        self.shutdown_code = code
        if self.close_code is None:
            self.close_code = code
        if self.browser is not None and not self.browser.closed:
            await self.browser.close(code=code, message=reason.encode())
        if self.upstream is not None:
            await self.upstream.close(code, reason)


async def _open_upstream(request: web.Request, ctx: ProxyContext) -> ClientConnection:
    """Dial through the tunnel and do the target's handshake. Raises: ProxyError subclasses."""
    target = ctx.config.target
    incoming = raw_headers(request)
    extra = hdr.ws_request_headers(
        incoming, fwd=ctx.forwarding(request, incoming), cookie=ctx.cookie_for_target(incoming)
    )
    origin = request.headers.get("Origin")
    protocols = [Subprotocol(p) for p in hdr.subprotocols(incoming)]
    uri = f"{target.ws_scheme}://{target.host_header}{target.base_path}{request.raw_path}"
    timeout = ctx.config.timeouts.ws_open
    try:
        async with asyncio.timeout(timeout):
            sock = await ctx.dialer.open(target.host, target.port)
            return await connect(
                uri,
                sock=sock,
                proxy=None,
                origin=Origin(origin) if origin else None,
                subprotocols=protocols or None,
                additional_headers=extra,
                user_agent_header=None,
                compression=None,
                max_size=None,
                max_queue=MAX_QUEUE,
                write_limit=WRITE_LIMIT,
                open_timeout=None,
                ping_interval=PING_INTERVAL,
                ping_timeout=PING_TIMEOUT,
                close_timeout=5,
                server_hostname=target.host if target.scheme == "https" else None,
            )
    except ProxyError:
        raise
    except InvalidStatus as exc:
        response = exc.response
        status = response.status_code
        raise UpgradeRejectedError(
            f"the target answered the WebSocket upgrade of {request.path} with HTTP {status}",
            status=status,
            reason=response.reason_phrase,
            headers=list(response.headers.raw_items()),
            body=bytes(response.body or b""),
            hint=likely_cause(status),
        ) from exc
    except TimeoutError as exc:
        raise UpstreamTimeoutError(
            f"the WebSocket handshake with {target} did not finish within {timeout:g} s"
        ) from exc
    except (InvalidHandshake, OSError, EOFError) as exc:
        raise TargetUnreachableError(f"the WebSocket handshake with {target} failed: {exc}") from exc


def _rejected(err: UpgradeRejectedError) -> web.Response:
    """The target's own refusal, passed to the browser (status, reason, body)."""
    response = web.Response(status=err.status, reason=err.reason or None, body=err.body)
    for name, value in hdr.response_headers(err.headers):
        if name.lower() not in ("content-length", "date", "server"):
            response.headers.add(name, value)
    return response


async def bridge_websocket(request: web.Request, ctx: ProxyContext) -> web.StreamResponse:
    """Handle one WebSocket upgrade from the browser."""
    started = time.perf_counter()
    try:
        upstream = await _open_upstream(request, ctx)
    except UpgradeRejectedError as err:
        ctx.log.warning(
            err.event,
            str(err),
            path=request.path,
            status=err.status,
            likely_cause=err.hint,
        )
        return _rejected(err)
    except ProxyError as err:
        ctx.log.error(err.event, str(err), path=request.path, status=err.http_status, websocket=True)
        return error_response(err)

    # The handshake's headers are never read again: free them for the connection's life (about
    # 4 KiB per idle WebSocket). The response stays non-None: the client reads that as "open".
    handshake = upstream.response
    upstream.request = None
    if handshake is not None:
        upstream.response = Response(handshake.status_code, handshake.reason_phrase, Headers())
    bridge = Bridge(request.path)
    bridge.upstream = upstream
    browser = web.WebSocketResponse(
        protocols=(upstream.subprotocol,) if upstream.subprotocol else (),
        max_msg_size=0,
        compress=False,
        autoping=True,
        autoclose=False,
    )
    bridge.browser = browser
    try:
        await browser.prepare(request)
    except ConnectionResetError:
        await upstream.close()
        return browser
    ctx.bridges.add(bridge)
    ctx.log.info(
        "ws.open",
        f"WebSocket {request.path} open",
        path=request.path,
        subprotocol=upstream.subprotocol,
        connect_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    try:
        await _relay(bridge, browser, upstream)
    finally:
        ctx.bridges.discard(bridge)
        _log_closed(ctx, bridge, browser, upstream, started)
    return browser


async def _browser_to_upstream(bridge: Bridge, browser: web.WebSocketResponse, upstream: ClientConnection) -> None:
    while True:
        msg = await browser.receive()
        if msg.type is WSMsgType.TEXT:
            bridge.bytes_in += len(msg.data)
            await upstream.send(msg.data)
        elif msg.type is WSMsgType.BINARY:
            bridge.bytes_in += len(msg.data)
            await upstream.send(msg.data)
        elif msg.type is WSMsgType.CLOSE:
            if bridge.closed_by is None:
                bridge.closed_by = "browser"
            code, reason = closecodes.relay(msg.data, msg.extra or "")
            if bridge.close_code is None:
                bridge.close_code = msg.data
            await upstream.close(code, reason)
            if not browser.closed:
                await browser.close(code=code, message=reason.encode())
            return
        else:  # CLOSING, CLOSED, ERROR: the browser's socket is gone
            if bridge.closed_by is None:
                bridge.closed_by = "browser"
            await upstream.close(closecodes.GOING_AWAY, "browser went away")
            return


async def _upstream_to_browser(bridge: Bridge, browser: web.WebSocketResponse, upstream: ClientConnection) -> None:
    try:
        async for message in upstream:
            if isinstance(message, str):
                bridge.bytes_out += len(message)
                await browser.send_str(message)
            else:
                bridge.bytes_out += len(message)
                await browser.send_bytes(message)
    except ConnectionClosed:
        pass
    if bridge.closed_by is None:
        bridge.closed_by = "upstream"
    if browser.closed:
        return
    received = upstream.protocol.close_rcvd
    if bridge.closed_by == "proxy" and bridge.shutdown_code is not None:
        code, reason = bridge.shutdown_code, "devproxy is restarting"
    elif received is None:
        code, reason = closecodes.relay(None, "")
    else:
        code, reason = closecodes.relay(received.code, received.reason)
    if bridge.close_code is None:
        bridge.close_code = code
    await browser.close(code=code, message=reason.encode())


async def _relay(bridge: Bridge, browser: web.WebSocketResponse, upstream: ClientConnection) -> None:
    """Pump both directions; when one side ends, finish the other within a bounded time."""
    up = asyncio.create_task(_upstream_to_browser(bridge, browser, upstream))
    down = asyncio.create_task(_browser_to_upstream(bridge, browser, upstream))
    try:
        done, pending = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(pending, timeout=10)
    finally:
        for task in (up, down):
            if not task.done():
                task.cancel()
        results = await asyncio.gather(up, down, return_exceptions=True)
        if not browser.closed:
            await browser.close(code=closecodes.INTERNAL_ERROR, message=b"devproxy relay error")
        if upstream.state.name != "CLOSED":
            upstream.transport.abort()
    for result in results:
        if isinstance(result, Exception) and not isinstance(result, (ConnectionError, ConnectionClosed)):
            raise result


def _log_closed(
    ctx: ProxyContext,
    bridge: Bridge,
    browser: web.WebSocketResponse,
    upstream: ClientConnection,
    started: float,
) -> None:
    received = upstream.protocol.close_rcvd
    ctx.log.info(
        "ws.closed",
        f"WebSocket {bridge.path} closed by {bridge.closed_by or 'unknown'}",
        path=bridge.path,
        duration_s=round(time.perf_counter() - started, 3),
        bytes_in=bridge.bytes_in,
        bytes_out=bridge.bytes_out,
        close_code=bridge.close_code if bridge.close_code is not None else browser.close_code,
        upstream_close_code=received.code if received else None,
        close_reason=received.reason if received and received.reason else None,
        closed_by=bridge.closed_by,
    )
