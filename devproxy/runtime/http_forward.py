"""Plain HTTP forwarding: stream the request to the target and the response back, unchanged.

Bodies are streamed both ways with backpressure (a 1 GiB download never sits in memory);
status, reason, header order and repeats, the raw path and query, and Content-Encoding pass
through; redirects are not followed. All requests share one pooled client session whose
connections go through the SOCKS tunnel (remote DNS, so MagicDNS names work).
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.client_proto import ResponseHandler
from aiohttp_socks import ProxyConnector
from yarl import URL

from devproxy.errors import ProxyError, TargetUnreachableError, UpstreamTimeoutError
from devproxy.runtime import headers as hdr
from devproxy.runtime import upstream_http
from devproxy.runtime.context import ProxyContext, raw_headers
from devproxy.runtime.dial import Dialer

#: aiohttp must not invent headers the browser did not send.
SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Accept", "Accept-Encoding", "Content-Type"})
RETRYABLE = frozenset({"GET", "HEAD", "OPTIONS"})
#: bodiless methods the lean client sends exactly as aiohttp's would (no Content-Length: 0 added);
#: HEAD stays on aiohttp's client, whose parser knows a HEAD answer has no body.
LEAN_METHODS = frozenset({"GET", "OPTIONS"})
READ_BUFFER = 256 * 1024


class TunnelConnector(ProxyConnector):
    """aiohttp-socks' connector, dialing through devproxy's Dialer (every SOCKS address, mapped errors)."""

    def __init__(self, dialer: Dialer, **kwargs: Any) -> None:
        socks = dialer.socks
        super().__init__(
            host=socks.host if socks else "127.0.0.1",
            port=socks.port if socks else 1,
            rdns=True,
            **kwargs,
        )
        self._dialer = dialer

    async def _connect_via_proxy(
        self,
        host: str,
        port: int,
        ssl: ssl_module.SSLContext | None = None,
        timeout: float | None = None,
    ) -> tuple[asyncio.Transport, ResponseHandler]:
        sock: socket.socket = await self._dialer.open(host, port)
        loop = asyncio.get_running_loop()
        tls: dict[str, Any] = {}
        if ssl:
            tls = {"ssl": ssl, "server_hostname": host}
        transport, protocol = await loop.create_connection(
            lambda: ResponseHandler(loop), sock=sock, **tls
        )
        return transport, protocol


def create_session(dialer: Dialer) -> aiohttp.ClientSession:
    """The one long-lived client session: pooled keep-alive connections through the tunnel."""
    connector = TunnelConnector(dialer, limit=0, keepalive_timeout=60, enable_cleanup_closed=False)
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,
        trust_env=False,  # never pick up proxy settings from the environment
        timeout=aiohttp.ClientTimeout(total=None),
        skip_auto_headers=SKIP_AUTO_HEADERS,
        cookie_jar=aiohttp.DummyCookieJar(),
        raise_for_status=False,
        read_bufsize=READ_BUFFER,
    )


def map_client_error(exc: BaseException, ctx: ProxyContext) -> ProxyError:
    """The one place aiohttp client errors become devproxy errors."""
    seen: BaseException | None = exc
    while seen is not None:  # our own dial errors arrive wrapped by aiohttp
        if isinstance(seen, ProxyError):
            return seen
        seen = seen.__cause__
    target = ctx.config.target
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError(
            f"the target {target} did not answer within {ctx.config.timeouts.response:g} s"
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TargetUnreachableError(
            f"the target {target} closed the connection before answering",
            hint="did the dev server restart or crash?",
        )
    detail = str(exc)
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return TargetUnreachableError(f"request to the target {target} failed: {detail}")


def error_response(err: ProxyError) -> web.Response:
    """A short plain-text page naming the cause, with the error's HTTP status (502/504)."""
    body = f"devproxy: {err}\n"
    return web.Response(status=err.http_status, text=body, headers={"Cache-Control": "no-store"})


async def _send(
    ctx: ProxyContext, request: web.Request, url: URL, out_headers: list[tuple[str, str]]
) -> aiohttp.ClientResponse:
    assert ctx.session is not None
    has_body = request.body_exists
    attempts = 1 if has_body or request.method not in RETRYABLE else 2
    for attempt in range(attempts):
        try:
            async with asyncio.timeout(ctx.config.timeouts.response):
                return await ctx.session.request(
                    request.method,
                    url,
                    headers=out_headers,
                    data=request.content if has_body else None,
                    allow_redirects=False,
                    compress=None,
                )
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            # A pooled keep-alive connection the target had already closed: retry once, fresh.
            if attempt + 1 == attempts:
                raise
    raise AssertionError("unreachable")


class _OneWrite(web.StreamResponse):
    """A response whose head goes out with its body in one write (the whole body is in hand)."""

    _send_headers_immediately = False


def _failed(ctx: ProxyContext, request: web.Request, exc: BaseException, started: float) -> web.Response:
    """The 502/504 page for a request the target never answered, with its log lines."""
    err = map_client_error(exc, ctx)
    ctx.log.error(
        err.event,
        str(err),
        method=request.method,
        path=request.path,
        status=err.http_status,
        target=str(ctx.config.target),
    )
    failure = error_response(err)
    _access(ctx, request, failure.status, started, 0)
    return failure


async def forward_http(request: web.Request, ctx: ProxyContext) -> web.StreamResponse:
    """Forward one HTTP request to the target and stream the answer back."""
    started = time.perf_counter()
    target = ctx.config.target
    incoming = raw_headers(request)
    cookie = ctx.cookie_for_target(incoming)
    out_headers = hdr.request_headers(
        incoming, target_host=target.host_header, fwd=ctx.forwarding(request, incoming), cookie=cookie
    )
    if ctx.pool is not None and request.method in LEAN_METHODS and not request.body_exists:
        return await _forward_lean(request, ctx, ctx.pool, out_headers, started)
    url = URL(f"{target.origin}{target.base_path}{request.raw_path}", encoded=True)
    try:
        upstream = await _send(ctx, request, url, out_headers)
    except (aiohttp.ClientError, OSError, TimeoutError, ProxyError) as exc:
        return _failed(ctx, request, exc, started)

    try:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in hdr.response_headers(
            (hdr.header_text(k), hdr.header_text(v)) for k, v in upstream.raw_headers
        ):
            response.headers.add(name, value)
        if await _prepare(ctx, request, response, upstream.close, started):
            await _pump_body(ctx, request, response, upstream.content.readany, upstream.close, started)
    finally:
        upstream.release()
    return response


async def _forward_lean(
    request: web.Request,
    ctx: ProxyContext,
    pool: upstream_http.Pool,
    out_headers: list[tuple[str, str]],
    started: float,
) -> web.StreamResponse:
    """A bodiless request on a pooled connection of the lean client (same answers as aiohttp's path)."""
    target = ctx.config.target
    head = upstream_http.request_head(request.method, f"{target.base_path}{request.raw_path}", out_headers)
    try:
        conn = await pool.exchange(
            head,
            timeout=ctx.config.timeouts.response,
            attempts=2 if request.method in RETRYABLE else 1,
        )
    except (aiohttp.ClientError, OSError, TimeoutError, ProxyError) as exc:
        return _failed(ctx, request, exc, started)

    status = conn.status
    try:
        # A small answer usually arrives whole with its head: send head and body in one write.
        # Otherwise the head goes out at once (a slow or endless body must not hold it back).
        factory = _OneWrite if conn.complete else web.StreamResponse
        response = factory(status=status, reason=conn.reason.decode("utf-8", "surrogateescape"))
        for name, value in hdr.response_headers(
            (hdr.header_text(k), hdr.header_text(v)) for k, v in conn.headers
        ):
            response.headers.add(name, value)
        if conn.complete:
            body = conn.buffered_body()
            try:
                await response.prepare(request)
                await response.write_eof(body)
            except ConnectionResetError:
                conn.close()  # the browser left before the answer came
                _access(ctx, request, status, started, 0)
                return response
            _access(ctx, request, status, started, len(body))
            return response
        if await _prepare(ctx, request, response, conn.close, started):
            await _pump_body(ctx, request, response, conn.read, conn.close, started)
    finally:
        conn.release()
    return response


async def _prepare(ctx: ProxyContext, request: web.Request, response: web.StreamResponse,
                   drop: Callable[[], None], started: float) -> bool:
    """Send the answer's head; False (target connection dropped, access logged) if the browser left."""
    try:
        await response.prepare(request)
    except ConnectionResetError:
        drop()
        _access(ctx, request, response.status, started, 0)
        return False
    return True


async def _pump_body(ctx: ProxyContext, request: web.Request, response: web.StreamResponse,
                     read: Callable[[], Awaitable[bytes]], drop: Callable[[], None], started: float) -> None:
    """Stream the target's body to the browser with backpressure; one access line whatever happens."""
    sent = 0
    while True:
        try:
            chunk = await read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            ctx.log.error(
                "upstream.body_failed",
                f"the target's response body broke off after {sent} bytes: {exc}",
                method=request.method,
                path=request.path,
                bytes_out=sent,
            )
            if request.transport is not None:
                request.transport.close()  # a truncated body must not look complete
            break
        if not chunk:
            await response.write_eof()
            break
        try:
            await response.write(chunk)
        except ConnectionResetError:
            drop()  # the browser went away: drop the target connection too
            break
        sent += len(chunk)
    _access(ctx, request, response.status, started, sent)


def _access(ctx: ProxyContext, request: web.Request, status: int, started: float, sent: int) -> None:
    ctx.log.emit(
        "INFO" if status < 500 else "WARNING",
        "http.access",
        f"{request.method} {request.path} {status}",
        method=request.method,
        path=request.path,
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        bytes_out=sent,
    )
