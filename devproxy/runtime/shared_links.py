"""Shared links in the runtime: a grant (grants.py) becomes a cookie for its route's prefix, and only there.

A grant opens requests that the route table sends to the grant's prefix, never devproxy's own
pages and never a path with dot segments (which a target might resolve outside the prefix). The
cookie carries the grant itself under devproxy's cookie name, with `Path` set to the prefix, so
the browser sends it only there and the proxy strips it before the target like any session.
Expired, revoked and altered links get a page that says so. `TokenAccess` owns the rate limit and
calls in here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from devproxy import events
from devproxy.contract import PAGE_PREFIX
from devproxy.runtime.grants import Grant, GrantsSeen, GrantView, grant_key, grant_problem, is_grant, read_grant, read_revoke
from devproxy.runtime.log import EventLog
from devproxy.runtime.pages import PAGE_HEADERS, share_page
from devproxy.runtime.responses import html_response, plain_response, wants_html
from devproxy.route_specs import has_dot_segment
from devproxy.runtime.routes import Route, RouteTable
from devproxy.runtime.sessions import COOKIE_NAME, TOKEN_PARAM, cookie_values, without_param

#: a grant for a prefix that matches no route any more.
UNROUTED = "for a path this devproxy does not route"
ELSEWHERE = "for another path"


class SharedLinks:
    """Checks grants against the route table; remembers the ones in use and the revocation time."""

    def __init__(self, token: str, log: EventLog, *, routes: RouteTable[Any] | None, not_before: float = 0.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = grant_key(token)
        self._routes = routes
        #: grants issued before this time are refused (`devproxy share --revoke-all`).
        self._not_before = not_before
        self._clock = clock
        self._seen = GrantsSeen()
        self.log = log

    def active(self) -> list[GrantView]:
        """Shared links in use on this instance (prefix and until when; never the grant)."""
        return self._seen.active(self._clock(), self._not_before)

    def _route(self, request: web.Request) -> Route[Any] | None:
        """The route a request goes to, or None when no grant may open it (devproxy's pages, dot segments)."""
        if self._routes is None or request.path.startswith(PAGE_PREFIX) or \
                request.raw_path.startswith(PAGE_PREFIX) or has_dot_segment(request.raw_path.partition("?")[0]):
            return None
        return self._routes.match(request.raw_path)

    def _problem(self, request: web.Request, grant: Grant) -> str | None:
        """Why `grant` does not open this request (None when it does)."""
        problem = grant_problem(grant, self._clock(), self._not_before)
        if problem is not None:
            return problem
        if self._routes is not None and all(r.stem != grant.stem for r in self._routes.all()):
            return UNROUTED
        route = self._route(request)
        if route is None or route.stem != grant.stem:
            return ELSEWHERE
        return None

    def allows(self, request: web.Request) -> tuple[bool, str | None]:
        """Whether a grant cookie opens this request; else why a grant cookie sent with it was refused."""
        trouble: str | None = None
        for value in cookie_values(request.headers.getall("Cookie", []), COOKIE_NAME):
            grant = read_grant(self._key, value) if is_grant(value) else None
            if grant is None:
                continue
            problem = self._problem(request, grant)
            if problem is None:
                return True, None
            if problem != ELSEWHERE:
                trouble = f"shared link {problem}"
        return False, trouble

    def open_link(self, request: web.Request, value: str, *, client: str, secure: bool) -> tuple[web.Response, bool]:
        """A shared link: a valid grant for this path becomes a cookie scoped to its prefix.

        Returns the response and whether the grant was genuine (a forged one counts as a failed login).
        """
        grant = read_grant(self._key, value)
        if grant is None:
            return self.refused(request, "shared link not valid", None, client=client), False
        problem = self._problem(request, grant)
        route = self._route(request)
        if problem is not None or route is None:
            return self.refused(request, f"shared link {problem}", grant, client=client), True
        now = self._clock()
        response = web.Response(status=303, headers={
            "Location": without_param(request.raw_path, TOKEN_PARAM), **PAGE_HEADERS})
        response.set_cookie(
            COOKIE_NAME, value, max_age=max(1, int(grant.until - now)), path=route.prefix,
            httponly=True, secure=secure, samesite="Lax",
        )
        self._seen.note(grant, now)
        self.log.info(events.AUTH_SHARE_OPENED, f"shared link for {grant.prefix} opened", component="auth",
                      client=client, prefix=grant.prefix, until=grant.until)
        return response, True

    def refused(self, request: web.Request, problem: str, grant: Grant | None, *, client: str) -> web.Response:
        """A page that says why a shared link does not work (not a bare 401)."""
        self.log.info(events.AUTH_DENIED, f"not logged in: {problem}", component="auth",
                      client=client, method=request.method, path=request.path)
        status = 410 if problem.endswith(("expired", "revoked")) else 403
        if not wants_html(request) and request.method != "GET":
            return plain_response(f"devproxy: {problem}\n", status)
        page = share_page(problem, grant.prefix if grant else None, grant.until if grant else None)
        return html_response(page, status)

    def revoke(self, body: str, *, client: str) -> web.Response:
        """A signed revoke-all request moves "not before" to its time (200), anything else is a 403."""
        stamp = read_revoke(self._key, body, self._clock())
        if stamp is None:
            self.log.warning(events.AUTH_LOGIN_FAILED, "revoke request refused: wrong signature or stale time",
                             component="auth", client=client, method="revoke")
            return plain_response("devproxy: revoke refused: wrong signature, or the clocks differ by more than "
                                  "5 minutes\n", 403)
        self._not_before = max(self._not_before, stamp)
        self.log.info(events.AUTH_SHARE_REVOKED, "every shared link issued so far was revoked",
                      component="auth", client=client, not_before=stamp)
        return web.json_response({"revoked_before": stamp}, headers={"Cache-Control": "no-store"})
