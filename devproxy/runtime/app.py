"""`create_handler`: devproxy's pages by exact path (closed by default), everything else to the target.

aiohttp's low-level server drives this one handler (no Application router or middlewares: the
proxy path is hot and needs no routing beyond the `/_devproxy/` prefix). The handlers live in
their own modules; this module only dispatches (root.py builds what it dispatches to).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import web

from devproxy.contract import HEALTH_PATH, PAGE_PREFIX, READY_PATH
from devproxy.runtime.auth import AccessPolicy
from devproxy.runtime.bridges import LiveBridges
from devproxy.runtime.forwarder import Forwarder
from devproxy.runtime.health import Readiness, health, ready_handler
from devproxy.runtime.http_forward import forward_http
from devproxy.runtime.incoming import is_websocket
from devproxy.runtime.page_table import Handler, Page, PageTable, public
from devproxy.runtime.thaw import ThawGuard
from devproxy.runtime.vsda import vsda_stub
from devproxy.runtime.ws_bridge import bridge_websocket

ServerHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


async def _continue(request: web.BaseRequest) -> None:
    """Answer `Expect: 100-continue` (the client holds its body until then); the target never sees Expect."""
    if request.version >= (1, 1) and request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


def proxy_handler(proxy: Forwarder, live: LiveBridges, access: AccessPolicy | None) -> Handler:
    async def forward(request: web.Request) -> web.StreamResponse:
        stub = vsda_stub(request.path)
        if stub is not None:
            return stub
        if access is not None:
            denied = await access.check(request)
            if denied is not None:
                return denied
        if is_websocket(request):
            return await bridge_websocket(request, proxy, live)
        await _continue(request)
        return await forward_http(request, proxy)

    return forward


def page_table(readiness: Readiness, access: AccessPolicy | None, extra: list[Page]) -> PageTable:
    """devproxy's pages: health, readiness and the access policy's own pages are public, the rest not."""
    pages = public([web.get(HEALTH_PATH, health), web.get(READY_PATH, ready_handler(readiness))])
    if access is not None:
        pages += public(access.routes())  # login and logout: reachable before logging in
    return PageTable.of(pages + extra)


def create_handler(proxy: Forwarder, live: LiveBridges, pages: PageTable, *,
                   access: AccessPolicy | None = None, gate: ThawGuard | None = None) -> ServerHandler:
    """The runtime's one request handler: devproxy pages first, then everything else to the target.

    After a freeze `gate` holds requests for the target (bounded) until the tailnet path is checked;
    devproxy's own pages answer at once.
    """
    forward = proxy_handler(proxy, live, access)

    async def dispatch(base: web.BaseRequest) -> web.StreamResponse:
        # The low-level server builds BaseRequest; handlers use nothing of Request beyond it.
        request = cast(web.Request, base)
        refused = _refuse_target_form(request)
        if refused is not None:
            return refused
        if not request.path.startswith(PAGE_PREFIX):
            if gate is not None and not await gate.admit():
                return gate.refusal()
            return await forward(request)
        page = pages.get(request.path)
        if access is not None and (page is None or not page.public):
            # Closed by default: unknown paths too, so a client without a session learns nothing.
            denied = await access.check(request)
            if denied is not None:
                return denied
        if page is None:
            return web.Response(status=404, text="devproxy: no such page\n")
        handler = page.methods.get(request.method) or page.methods.get("*")
        if handler is None:
            return web.Response(status=405, text="devproxy: method not allowed\n",
                                headers={"Allow": ", ".join(sorted(page.methods))})
        return await handler(request)

    return dispatch


def _refuse_target_form(request: web.BaseRequest) -> web.Response | None:
    """CONNECT and absolute- or asterisk-form targets: devproxy is a reverse proxy for one target.

    aiohttp parses `GET http://evil/x` into host `evil` and path `/x`; forwarding it would hand the
    target a Host of the client's choosing, so only origin-form (`/path?query`) gets through.
    """
    if request.method == "CONNECT":
        return web.Response(status=405, text="devproxy: CONNECT is not supported (this is not a forward proxy)\n",
                            headers={"Allow": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"})
    if not request.raw_path.startswith("/"):
        return web.Response(status=400, text="devproxy: the request target must be a path (/...)\n")
    return None
