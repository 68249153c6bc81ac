"""`create_app`: wires routes, typed state and lifecycle; the handlers live in their own modules."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from devproxy.runtime.context import ProxyContext
from devproxy.runtime.health import Readiness, health, ready_handler
from devproxy.runtime.http_forward import create_session, forward_http
from devproxy.runtime.upstream_http import Pool
from devproxy.runtime.vsda import vsda_stub
from devproxy.runtime.ws_bridge import bridge_websocket

CTX = web.AppKey("ctx", ProxyContext)
READINESS = web.AppKey("readiness", Readiness)
#: devproxy's own pages live under this prefix; nothing there is forwarded (DESIGN rule 6).
PREFIX = "/_devproxy/"


class Access(Protocol):
    """Access control in front of the proxy (token, iap or none)."""

    mode: str
    cookie_name: str | None

    def routes(self) -> list[web.RouteDef]: ...

    async def check(self, request: web.Request) -> web.StreamResponse | None: ...


def is_websocket(request: web.Request) -> bool:
    return request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket"


def proxy_handler(ctx: ProxyContext, access: Access | None) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def proxy(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(PREFIX):
            return web.Response(status=404, text="devproxy: no such page\n")
        stub = vsda_stub(path)
        if stub is not None:
            return stub
        if access is not None:
            denied = await access.check(request)
            if denied is not None:
                return denied
        if is_websocket(request):
            return await bridge_websocket(request, ctx)
        return await forward_http(request, ctx)

    return proxy


def create_app(
    ctx: ProxyContext,
    readiness: Readiness,
    *,
    access: Access | None = None,
    extra_routes: list[web.RouteDef] | None = None,
) -> web.Application:
    """The runtime's web application: devproxy pages first, then everything else to the target."""
    app = web.Application(handler_args={"max_field_size": 65536, "max_line_size": 65536})
    app[CTX] = ctx
    app[READINESS] = readiness
    app.router.add_get(PREFIX + "health", health)
    app.router.add_get(PREFIX + "ready", ready_handler(readiness))
    if access is not None:
        app.router.add_routes(access.routes())
        ctx.cookie_name = access.cookie_name
    if extra_routes:
        app.router.add_routes(extra_routes)
    app.router.add_route("*", "/{tail:.*}", proxy_handler(ctx, access))
    app.cleanup_ctx.append(_client_session)
    return app


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CTX]
    ctx.session = create_session(ctx.dialer)
    target = ctx.config.target
    if target.scheme == "http":
        ctx.pool = Pool(ctx.dialer, target.host, target.port)
    yield
    if ctx.pool is not None:
        ctx.pool.close()
        ctx.pool = None
    await ctx.session.close()


def context_snapshot(ctx: ProxyContext) -> dict[str, Any]:
    return {"websockets": ctx.ws_snapshot()}
