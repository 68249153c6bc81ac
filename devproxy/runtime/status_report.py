"""`/_devproxy/status`: what a user opens first when something is wrong (behind the access policy).

HTML for people, JSON (`Accept: application/json`) for scripts, both from one `StatusSnapshot`:
tailscaled's state, the SOCKS address in use, whether the target answers through it and how fast,
open WebSockets, and the most recent warnings and errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from devproxy import __version__
from devproxy.runtime.auth import AccessPolicy
from devproxy.runtime.context import ProxyContext
from devproxy.runtime.health import Readiness
from devproxy.runtime.page_table import Page, protected
from devproxy.runtime.pages import PAGE_HEADERS, status_page
from devproxy.runtime.snapshots import SocksView, StatusSnapshot, problems
from devproxy.runtime.supervisor import Supervisor

STATUS_PATH = "/_devproxy/status"


async def snapshot(ctx: ProxyContext, readiness: Readiness, access: AccessPolicy,
                   supervisor: Supervisor | None) -> StatusSnapshot:
    """Everything the status page shows, read now."""
    socks = ctx.dialer.socks
    return StatusSnapshot(
        version=__version__,
        auth=access.mode,
        tailscale=supervisor.snapshot() if supervisor is not None else None,
        socks=SocksView(url=str(socks) if socks else "none (direct)", answered_by=ctx.dialer.answered_by),
        target=await readiness.target_check(),
        websockets=ctx.ws_snapshot(),
        recent_errors=problems(ctx.log.recent_problems),
        client_error_count=ctx.log.client_problem_count,
        client_errors=problems(ctx.log.client_problems),
    )


def status_pages(ctx: ProxyContext, readiness: Readiness, access: AccessPolicy,
                 supervisor: Supervisor | None) -> list[Page]:
    """The status page, behind the access policy (the dispatcher checks it)."""
    async def status(request: web.Request) -> web.StreamResponse:
        report = await snapshot(ctx, readiness, access, supervisor)
        if "application/json" in request.headers.get("Accept", ""):
            return web.json_response(report.as_json(), headers={"Cache-Control": "no-store"})
        return web.Response(text=status_page(report), content_type="text/html", headers=PAGE_HEADERS)

    handler: Callable[[web.Request], Awaitable[web.StreamResponse]] = status
    return protected([web.get(STATUS_PATH, handler)])
