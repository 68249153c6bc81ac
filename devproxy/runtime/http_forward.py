"""Plain HTTP forwarding: stream the request to the target and the response back, unchanged.

Bodies are streamed both ways with backpressure (a 1 GiB download never sits in memory);
status, reason, header order and repeats, the raw path and query, and Content-Encoding pass
through; redirects are not followed. Every request goes through the one upstream client
(`upstream_http`) on pooled keep-alive tunnel connections (remote DNS, so MagicDNS names work).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from devproxy import events
from devproxy.errors import ProxyError, TargetUnreachableError
from devproxy.runtime import headers as hdr
from devproxy.runtime import http_wire
from devproxy.runtime.forwarder import Forwarder
from devproxy.runtime.incoming import raw_headers

#: methods that may be sent once more on a fresh connection when a reused one was dead.
RETRYABLE = frozenset({"GET", "HEAD", "OPTIONS"})
#: statuses whose answers never have a body, whatever their headers say.
BODILESS = frozenset({204, 304})


def error_response(err: ProxyError) -> web.Response:
    """A short plain-text page naming the cause, with the error's HTTP status (502/504)."""
    body = f"devproxy: {err}\n"
    return web.Response(status=err.http_status, text=body, headers={"Cache-Control": "no-store"})


def _failed(proxy: Forwarder, request: web.Request, err: ProxyError, started: float) -> web.Response:
    """The 502/504 page for a request the target never answered, with its log lines."""
    proxy.log.error(
        err.event,
        str(err),
        method=request.method,
        path=request.path,
        status=err.http_status,
        target=str(proxy.config.target),
    )
    failure = error_response(err)
    _access(proxy, request, failure.status, started, 0)
    return failure


async def forward_http(request: web.Request, proxy: Forwarder) -> web.StreamResponse:
    """Forward one HTTP request to the target and stream the answer back."""
    started = time.perf_counter()
    target = proxy.config.target
    incoming = raw_headers(request)
    out_headers = hdr.request_headers(
        incoming, target_host=proxy.target_host(request), fwd=proxy.headers.forwarding(request, incoming),
        cookie=proxy.headers.cookie_for_target(incoming),
    ) + proxy.route_headers()
    has_body = request.body_exists
    chunked = has_body and request.content_length is None
    if chunked:  # the browser's chunks were undone by the server: frame the body anew
        out_headers.append(("Transfer-Encoding", "chunked"))
    method = request.method
    try:
        head = http_wire.request_head(method, proxy.target_path(request.raw_path), out_headers)
    except ValueError as exc:
        return _failed(proxy, request, TargetUnreachableError(f"cannot forward this request: {exc}"), started)
    try:
        conn = await proxy.pool.exchange(
            head,
            target=str(target),
            timeout=proxy.config.timeouts.response,
            retry=method in RETRYABLE and not has_body,
            body=request.content.readany if has_body else None,
            chunked=chunked,
            no_body=method == "HEAD",
        )
    except ProxyError as err:
        return _failed(proxy, request, err, started)

    status = conn.status
    try:
        headers = proxy.answer_headers(
            hdr.response_headers((hdr.header_text(k), hdr.header_text(v)) for k, v in conn.headers), request)
        reason = conn.reason.decode("utf-8", "surrogateescape")
        if conn.complete and method != "HEAD" and status not in BODILESS and _has(headers, "content-type"):
            # A small answer usually arrives whole with its head: send head and body in one write.
            body = conn.buffered_body()
            whole = web.Response(status=status, reason=reason, body=body)
            for name, value in headers:
                whole.headers.add(name, value)
            try:
                await whole.prepare(request)
                await whole.write_eof()
            except ConnectionResetError:
                conn.close()  # the browser left before the answer came
                _access(proxy, request, status, started, 0)
                return whole
            _access(proxy, request, status, started, len(body))
            return whole
        # Otherwise the head goes out at once (a slow or endless body must not hold it back).
        response = web.StreamResponse(status=status, reason=reason)
        for name, value in headers:
            response.headers.add(name, value)
        if await _prepare(proxy, request, response, conn.close, started):
            await _pump_body(proxy, request, response, conn.read, conn.close, started)
    finally:
        conn.release()
    return response


def _has(headers: list[tuple[str, str]], lname: str) -> bool:
    return any(n.lower() == lname for n, _ in headers)


async def _prepare(proxy: Forwarder, request: web.Request, response: web.StreamResponse,
                   drop: Callable[[], None], started: float) -> bool:
    """Send the answer's head; False (target connection dropped, access logged) if the browser left."""
    try:
        await response.prepare(request)
    except ConnectionResetError:
        drop()
        _access(proxy, request, response.status, started, 0)
        return False
    return True


async def _pump_body(proxy: Forwarder, request: web.Request, response: web.StreamResponse,
                     read: Callable[[], Awaitable[bytes]], drop: Callable[[], None], started: float) -> None:
    """Stream the target's body to the browser with backpressure; one access line whatever happens."""
    sent = 0
    while True:
        try:
            chunk = await read()
        except ProxyError as exc:
            proxy.log.error(
                events.UPSTREAM_BODY_FAILED,
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
    _access(proxy, request, response.status, started, sent)


def _access(proxy: Forwarder, request: web.Request, status: int, started: float, sent: int) -> None:
    proxy.log.emit(
        "INFO" if status < 500 else "WARNING",
        events.HTTP_ACCESS,
        f"{request.method} {request.path} {status}",
        method=request.method,
        path=request.path,
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
        bytes_out=sent,
    )
