"""Access control in front of the target: a public URL to VS Code is a remote shell.

Modes: `token` (an access token, a login page and an HMAC-signed session cookie), `iap`
(Google IAP's signed JWT header, see iap.py) and `none` (explicit opt-out, loud warning).
The app calls `policy.check(request)` before proxying anything (HTTP and WebSocket alike);
`None` means go ahead, anything else is the response to send instead.

The pure rules live apart (sessions.py: session values, cookies, redirect targets; ratelimit.py:
the client address and failed-login limit); the classes here only read requests and build
responses. The token and the cookie
value never appear in a log record.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import quote

from aiohttp import web

from devproxy import events
from devproxy.errors import AuthError
from devproxy.runtime.config_access import AccessSettings
from devproxy.runtime.incoming import is_websocket
from devproxy.runtime.log import EventLog
from devproxy.runtime.pages import PAGE_HEADERS, login_page
from devproxy.runtime.ratelimit import RateLimiter, client_ip
from devproxy.runtime.sessions import (
    COOKIE_NAME,
    DEFAULT_SESSION_DAYS,
    LOGIN_PATH,
    LOGOUT_PATH,
    TOKEN_PARAM,
    cookie_values,
    make_session,
    safe_next,
    session_key,
    session_problem,
    without_param,
)

#: a short token can be guessed despite the rate limit; deploy generates 32 random bytes.
WEAK_TOKEN_LENGTH = 16


class AccessPolicy(Protocol):
    """What the app needs from an access-control mode."""

    mode: str
    #: devproxy's own cookie, stripped from the Cookie header sent to the target.
    cookie_name: str | None

    def routes(self) -> list[web.RouteDef]: ...

    async def check(self, request: web.Request) -> web.StreamResponse | None: ...


def _html(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8",
        headers={**PAGE_HEADERS, **(headers or {})},
    )


def _plain(text: str, status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        text=text, status=status, content_type="text/plain", charset="utf-8",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _wants_html(request: web.Request) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and (
            "text/html" in request.headers.get("Accept", "")
            or request.headers.get("Sec-Fetch-Mode", "") == "navigate"
        )
    )


# -- the modes ------------------------------------------------------------------------------


class NoAccess:
    """`--auth none`: everything is allowed (chosen explicitly; logged loudly at start)."""

    mode = "none"
    cookie_name: str | None = None

    def routes(self) -> list[web.RouteDef]:
        return []

    async def check(self, request: web.Request) -> web.StreamResponse | None:
        return None


class TokenAccess:
    """`--auth token`: a login page checks the access token and sets a signed session cookie."""

    mode = "token"
    cookie_name: str | None = COOKIE_NAME

    def __init__(
        self,
        token: str,
        log: EventLog,
        *,
        session_days: float = DEFAULT_SESSION_DAYS,
        public_scheme: str | None = None,
        clock: Callable[[], float] = time.time,
        limiter: RateLimiter | None = None,
        trusted_hops: int = 0,
    ) -> None:
        self._token = token.encode()
        self._trusted_hops = trusted_hops
        self._key = session_key(token)
        self._lifetime_s = session_days * 86400.0
        self._public_scheme = public_scheme
        self._clock = clock
        self._limiter = limiter or RateLimiter()
        self.log = log

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(LOGIN_PATH, self._login_form),
            web.post(LOGIN_PATH, self._login_submit),
            web.get(LOGOUT_PATH, self._logout),
            web.post(LOGOUT_PATH, self._logout),
        ]

    async def check(self, request: web.Request) -> web.StreamResponse | None:
        if request.path in (LOGIN_PATH, LOGOUT_PATH):
            return None
        websocket = is_websocket(request)
        link_tokens = request.rel_url.query.getall(TOKEN_PARAM, [])
        if link_tokens:
            if websocket:
                # The token would travel on to the target in the URL; links are for pages.
                return self._deny(request, "login token in a WebSocket URL", websocket=True)
            return self._token_link(request, link_tokens[-1])
        problem = self._session_problem(request)
        if problem is None:
            return None
        return self._deny(request, problem, websocket=websocket)

    # -- pieces of check() --------------------------------------------------------------

    def _session_problem(self, request: web.Request) -> str | None:
        values = cookie_values(request.headers.getall("Cookie", []), COOKIE_NAME)
        if not values:
            return "no session cookie"
        now = self._clock()
        problems = [session_problem(self._key, value, now, self._lifetime_s) for value in values]
        return None if None in problems else problems[0]

    def _token_link(self, request: web.Request, token: str) -> web.StreamResponse:
        client = self._client(request)
        location = without_param(request.raw_path, TOKEN_PARAM)
        wait = self._limiter.retry_after(client)
        if wait is not None:
            return self._rate_limited(request, client, wait)
        logged_in = self._log_in(request, client, token, location, method="link")
        if logged_in is not None:
            return logged_in
        if self._session_problem(request) is None:
            return web.Response(status=303, headers={"Location": location, **PAGE_HEADERS})
        return self._deny(request, "wrong token in login link", websocket=False)

    def _log_in(self, request: web.Request, client: str, token: str, location: str, *,
                method: str) -> web.Response | None:
        """A 303 to `location` with a fresh session when `token` is right; None (failure counted) if not."""
        if token and hmac.compare_digest(token.encode(), self._token):
            response = web.Response(status=303, headers={"Location": location, **PAGE_HEADERS})
            self._set_session(response, request)
            self._limiter.forget(client)
            self.log.info(events.AUTH_LOGIN, f"logged in ({method})", component="auth", client=client, method=method)
            return response
        self._limiter.record_failure(client)
        self.log.warning(
            events.AUTH_LOGIN_FAILED, f"wrong access token ({method})", component="auth",
            client=client, method=method, path=request.path,
        )
        return None

    def _deny(self, request: web.Request, problem: str, *, websocket: bool) -> web.StreamResponse:
        self.log.info(
            events.AUTH_DENIED, f"not logged in: {problem}", component="auth",
            client=self._client(request), method=request.method, path=request.path,
            websocket=websocket or None,
        )
        if websocket:
            return _plain("devproxy: not logged in; open /_devproxy/login first\n", 401)
        if _wants_html(request):
            back = safe_next(without_param(request.raw_path, TOKEN_PARAM))
            location = f"{LOGIN_PATH}?next={quote(back, safe='')}"
            return web.Response(status=303, headers={"Location": location, **PAGE_HEADERS})
        return _plain("devproxy: not logged in; open /_devproxy/login\n", 401)

    def _rate_limited(self, request: web.Request, client: str, wait: float) -> web.Response:
        seconds = max(1, math.ceil(wait))
        self.log.warning(
            events.AUTH_RATE_LIMITED, f"too many failed logins; next attempt allowed in {seconds} s",
            component="auth", client=client, retry_after_s=seconds,
        )
        headers = {"Retry-After": str(seconds)}
        if request.method == "POST" or _wants_html(request):
            page = login_page(error=f"Too many failed attempts. Try again in {seconds} seconds.",
                              next_path="/")
            return _html(page, 429, headers)
        return _plain(f"devproxy: too many failed logins; retry in {seconds} s\n", 429, headers)

    def _client(self, request: web.Request) -> str:
        forwarded = request.headers.getall("X-Forwarded-For", [])
        return client_ip(", ".join(forwarded), request.remote, self._trusted_hops)

    def _secure(self, request: web.Request) -> bool:
        """Secure cookies only where the browser uses https (plain http on loopback must log in too)."""
        if self._public_scheme == "https" or request.secure:
            return True
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return proto == "https"

    def _set_session(self, response: web.StreamResponse, request: web.Request) -> None:
        value = make_session(self._key, self._clock(), self._lifetime_s, secrets.token_urlsafe(12))
        response.set_cookie(
            COOKIE_NAME, value, max_age=int(self._lifetime_s), path="/",
            httponly=True, secure=self._secure(request), samesite="Lax",
        )

    # -- routes -------------------------------------------------------------------------

    async def _login_form(self, request: web.Request) -> web.StreamResponse:
        return _html(login_page(error=None, next_path=safe_next(request.query.get("next"))))

    async def _login_submit(self, request: web.Request) -> web.StreamResponse:
        client = self._client(request)
        wait = self._limiter.retry_after(client)
        if wait is not None:
            return self._rate_limited(request, client, wait)
        form = await request.post()
        token = form.get("token")
        next_field = form.get("next")
        next_path = safe_next(next_field if isinstance(next_field, str) else None)
        logged_in = self._log_in(request, client, token.strip() if isinstance(token, str) else "",
                                 next_path, method="form")
        if logged_in is not None:
            return logged_in
        return _html(login_page(error="That access token is not right.", next_path=next_path), 401)

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(status=303, headers={"Location": LOGIN_PATH, **PAGE_HEADERS})
        response.set_cookie(
            COOKIE_NAME, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", path="/",
            httponly=True, secure=self._secure(request), samesite="Lax",
        )
        self.log.info(events.AUTH_LOGOUT, "logged out", component="auth", client=self._client(request))
        return response


# -- construction ---------------------------------------------------------------------------


def build_access(
    settings: AccessSettings,
    log: EventLog,
    *,
    public_scheme: str | None = None,
    clock: Callable[[], float] = time.time,
) -> AccessPolicy:
    """The access policy the configuration chose (the config builder checked what each mode needs)."""
    mode = settings.mode
    if mode == "none":
        log.warning(
            events.RUNTIME_AUTH_DISABLED,
            "access control is OFF (--auth none): anyone who can reach this URL can use the target",
            component="auth",
        )
        return NoAccess()
    if mode == "token" and settings.token:
        if len(settings.token) < WEAK_TOKEN_LENGTH:
            log.warning(
                events.AUTH_WEAK_TOKEN,
                f"the access token is shorter than {WEAK_TOKEN_LENGTH} characters; use a long random one",
                component="auth",
            )
        return TokenAccess(
            settings.token, log, session_days=settings.session_days, public_scheme=public_scheme, clock=clock,
            trusted_hops=settings.trusted_hops,
        )
    if mode == "iap" and settings.iap is not None:
        from devproxy.runtime.iap import IapAccess

        return IapAccess(settings.iap, log, clock=clock)
    raise AuthError(f"auth mode {mode!r} is not configured: choose none, token or iap")
