"""`/_devproxy/status`: what a user opens first when something is wrong (behind the access policy).

HTML for people, JSON (`Accept: application/json`) for scripts, both from one `StatusSnapshot`:
tailscaled's state, the SOCKS address in use, whether the target answers through it and how fast,
open WebSockets, and the most recent warnings and errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from devproxy import __version__
from devproxy.runtime.bridges import LiveBridges
from devproxy.runtime.tunnel import Dialer
from devproxy.runtime.health import Readiness
from devproxy.runtime.log import EventLog
from devproxy.runtime.page_table import Page, protected
from devproxy.runtime.pages import PAGE_HEADERS, status_page
from devproxy.runtime.snapshots import SocksView, StatusSnapshot, problems
from devproxy.runtime.supervisor import Supervisor
from devproxy.runtime.thaw import ThawGuard

STATUS_PATH = "/_devproxy/status"


@dataclass(frozen=True, slots=True)
class StatusSources:
    """Where the status page reads from: the parts of the runtime it reports on."""

    dialer: Dialer
    log: EventLog
    bridges: LiveBridges
    readiness: Readiness
    auth_mode: str
    supervisor: Supervisor | None
    thaw: ThawGuard


async def snapshot(sources: StatusSources) -> StatusSnapshot:
    """Everything the status page shows, read now."""
    socks = sources.dialer.socks
    log = sources.log
    return StatusSnapshot(
        version=__version__,
        auth=sources.auth_mode,
        tailscale=sources.supervisor.snapshot() if sources.supervisor is not None else None,
        socks=SocksView(url=str(socks) if socks else "none (direct)", answered_by=sources.dialer.answered_by),
        target=await sources.readiness.target_check(),
        websockets=sources.bridges.snapshot(),
        recent_errors=problems(log.recent_problems),
        client_error_count=log.client_problem_count,
        client_errors=problems(log.client_problems),
        freezes=(sources.thaw.freezes, sources.thaw.holding, sources.thaw.refused),
    )


def status_pages(sources: StatusSources) -> list[Page]:
    """The status page, behind the access policy (the dispatcher checks it)."""
    async def status(request: web.Request) -> web.StreamResponse:
        report = await snapshot(sources)
        if "application/json" in request.headers.get("Accept", ""):
            return web.json_response(report.as_json(), headers={"Cache-Control": "no-store"})
        return web.Response(text=status_page(report), content_type="text/html", headers=PAGE_HEADERS)

    handler: Callable[[web.Request], Awaitable[web.StreamResponse]] = status
    return protected([web.get(STATUS_PATH, handler)])
