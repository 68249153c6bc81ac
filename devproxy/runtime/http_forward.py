"""Plain HTTP forwarding: stream the request to the target and the response back, unchanged.

Bodies are streamed both ways with backpressure (a 1 GiB download never sits in memory);
status, reason, header order and repeats, the raw path and query, and Content-Encoding pass
through; redirects are not followed. Every request goes through the one upstream client
(`upstream_http`) on pooled keep-alive tunnel connections (remote DNS, so MagicDNS names work).
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from devproxy import events
from devproxy.errors import ProxyError, TargetUnreachableError
from devproxy.runtime import headers as hdr
from devproxy.runtime import http_wire
from devproxy.runtime.forwarder import Forwarder
from devproxy.runtime.incoming import raw_headers
from devproxy.runtime.http_response import Response

#: methods that may be sent once more on a fresh connection when a reused one was dead.
RETRYABLE = frozenset({"GET", "HEAD", "OPTIONS"})
#: statuses whose answers never have a body, whatever their headers say.
BODILESS = frozenset({204, 304})
#: while the target's body stalls, how often to look whether the browser is still there (seconds).
BROWSER_CHECK = 1.0


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
        incoming, target_host=target.host_header, fwd=proxy.headers.forwarding(request, incoming),
        cookie=proxy.headers.cookie_for_target(incoming),
    )
    has_body = request.body_exists
    chunked = has_body and request.content_length is None
    if chunked:  # the browser's chunks were undone by the server: frame the body anew
        out_headers.append(("Transfer-Encoding", "chunked"))
    method = request.method
    try:
        head = http_wire.request_head(method, f"{target.base_path}{request.raw_path}", out_headers)
    except ValueError as exc:
        return _failed(proxy, request, TargetUnreachableError(f"cannot forward this request: {exc}"), started)
    try:
        answer = await proxy.pool.exchange(
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
    try:
        return await _answer(proxy, request, answer, started)
    finally:
        answer.release()


async def _answer(proxy: Forwarder, request: web.Request, answer: Response, started: float) -> web.StreamResponse:
    """Send the target's answer to the browser: in one write when it is small and whole, else streamed."""
    status = answer.status
    headers = hdr.response_headers((hdr.header_text(k), hdr.header_text(v)) for k, v in answer.headers)
    reason = answer.reason.decode("utf-8", "surrogateescape")
    if request.method != "HEAD" and status not in BODILESS and _has(headers, "content-type"):
        body = answer.whole()
        if body is not None:
            # A small answer usually arrives whole with its head: send head and body in one write.
            whole = web.Response(status=status, reason=reason, body=body)
            for name, value in headers:
                whole.headers.add(name, value)
            try:
                await whole.prepare(request)
                await whole.write_eof()
            except ConnectionResetError:
                _access(proxy, request, status, started, 0)  # the browser left before the answer came
                return whole
            _access(proxy, request, status, started, len(body))
            return whole
    # Otherwise the head goes out at once (a slow or endless body must not hold it back).
    response = web.StreamResponse(status=status, reason=reason)
    for name, value in headers:
        response.headers.add(name, value)
    try:
        await response.prepare(request)
    except ConnectionResetError:
        answer.abort()
        _access(proxy, request, response.status, started, 0)
        return response
    transport = request.transport
    if (transport is not None and response.content_length is not None and not response.chunked
            and request.method != "HEAD" and status not in BODILESS):
        await _relay_body(proxy, request, response, answer, transport, started)
    else:
        await _pump_body(proxy, request, response, answer, started)
    return response


def _has(headers: list[tuple[str, str]], lname: str) -> bool:
    return any(n.lower() == lname for n, _ in headers)


def _browser_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _pump_body(proxy: Forwarder, request: web.Request, response: web.StreamResponse,
                     answer: Response, started: float) -> None:
    """Stream the target's body to the browser with backpressure; one access line whatever happens.

    While the target's body stalls, the browser's side is looked at every `BROWSER_CHECK` seconds:
    a browser that left frees the tunnel connection instead of holding it until the target writes.
    """
    sent = 0
    while True:
        try:
            chunk = answer.take()
        except ProxyError as exc:
            _body_failed(proxy, request, exc, sent)
            break
        if chunk is None:
            await answer.wait(BROWSER_CHECK)
            if _browser_gone(request):
                answer.abort()
                break
            continue
        if not chunk:
            await response.write_eof()
            break
        try:
            await response.write(chunk)
        except ConnectionResetError:
            answer.abort()  # the browser went away: drop the target connection too
            break
        sent += len(chunk)
    _access(proxy, request, response.status, started, sent)


async def _relay_body(proxy: Forwarder, request: web.Request, response: web.StreamResponse,
                      answer: Response, transport: asyncio.Transport, started: float) -> None:
    """A body framed by its length: written to the browser's transport as it arrives, from the target
    connection's callback, with no task in between; this task only waits for the browser to drain
    when it reads slower (then reading the target pauses) and for the end. One access line."""
    answer.stream_to(transport)
    while True:
        try:
            state = await answer.relay(BROWSER_CHECK)
        except ProxyError as exc:
            _body_failed(proxy, request, exc, answer.streamed)
            break
        if state == "done":
            try:
                await response.write_eof()
            except ConnectionResetError:
                answer.abort()
            break
        if state == "gone" or _browser_gone(request):
            answer.abort()
            break
        if state == "full":
            try:
                await request.writer.drain()
            except ConnectionResetError:
                answer.abort()
                break
            answer.unblock()
    _access(proxy, request, response.status, started, answer.streamed)


def _body_failed(proxy: Forwarder, request: web.Request, exc: ProxyError, sent: int) -> None:
    """The target's body broke off: log it and cut the browser's connection (a truncated body must not look complete)."""
    proxy.log.error(
        events.UPSTREAM_BODY_FAILED,
        f"the target's response body broke off after {sent} bytes: {exc}",
        method=request.method,
        path=request.path,
        bytes_out=sent,
    )
    if request.transport is not None:
        request.transport.close()


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
