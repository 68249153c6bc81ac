"""Access control in front of the target: a public URL to VS Code is a remote shell.

Modes: `token` (an access token, a login page and an HMAC-signed session cookie), `iap`
(Google IAP's signed JWT header, see iap.py) and `none` (explicit opt-out, loud warning).
The app calls `policy.check(request)` before proxying anything (HTTP and WebSocket alike);
`None` means go ahead, anything else is the response to send instead.

The pure helpers at the top (session values, cookie stripping, redirect targets, rate limiting)
hold the logic; the classes only read requests and build responses. The token and the cookie
value never appear in a log record.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import quote, unquote, urlsplit

from aiohttp import web

from devproxy.contract import ACCESS_TOKEN_ENV, PAGE_PREFIX, public_scheme
from devproxy.errors import AuthError
from devproxy.runtime.context import is_websocket
from devproxy.runtime.log import EventLog
from devproxy.runtime.pages import PAGE_HEADERS, login_page

COOKIE_NAME = "devproxy_session"
TOKEN_PARAM = "devproxy_token"
LOGIN_PATH = PAGE_PREFIX + "login"
LOGOUT_PATH = PAGE_PREFIX + "logout"
SESSION_VERSION = "v1"
DEFAULT_SESSION_DAYS = 30.0
#: a short token can be guessed despite the rate limit; deploy generates 32 random bytes.
WEAK_TOKEN_LENGTH = 16
_KEY_LABEL = b"devproxy session cookie v1"


class AccessPolicy(Protocol):
    """What the app needs from an access-control mode."""

    mode: str
    #: devproxy's own cookie, stripped from the Cookie header sent to the target.
    cookie_name: str | None

    def routes(self) -> list[web.RouteDef]: ...

    async def check(self, request: web.Request) -> web.StreamResponse | None: ...


# -- pure helpers ---------------------------------------------------------------------------


def session_key(token: str) -> bytes:
    """The cookie-signing key, derived from the token: a new token invalidates every old cookie."""
    return hmac.new(_KEY_LABEL, token.encode(), hashlib.sha256).digest()


def _sign(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_session(key: bytes, now: float, lifetime_s: float, nonce: str) -> str:
    """A cookie value `v1.<expiry>.<nonce>.<signature>`."""
    payload = f"{SESSION_VERSION}.{int(now + lifetime_s)}.{nonce}"
    return f"{payload}.{_sign(key, payload)}"


def session_problem(key: bytes, value: str, now: float, lifetime_s: float) -> str | None:
    """Why a cookie value is not a valid session (None when it is)."""
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != SESSION_VERSION or not parts[1].isdigit():
        return "malformed session cookie"
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(_sign(key, payload).encode(), parts[3].encode()):
        return "session cookie signature does not match"
    expiry = int(parts[1])
    if expiry <= now:
        return "session cookie expired"
    if expiry > now + lifetime_s + 60:
        # Signed under a longer DEVPROXY_SESSION_DAYS: honour the current, shorter limit.
        return "session cookie outlives the session limit"
    return None


def cookie_values(headers: list[str], name: str) -> list[str]:
    """Every value of cookie `name` in the given Cookie headers (tolerant of odd neighbours)."""
    values = []
    for header in headers:
        for part in header.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key.strip() == name:
                values.append(value.strip().strip('"'))
    return values


def safe_next(value: str | None) -> str:
    """A local path to return to after login; anything that could leave this site becomes "/"."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    # Browsers drop tabs/newlines and read "\" as "/" in URLs: "/\t/evil" and "/\evil" are off-site.
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path in (LOGIN_PATH, LOGOUT_PATH):
        return "/"
    return value


def without_param(raw_path_qs: str, param: str) -> str:
    """The same local URL without `param` in its query; other parameters keep their order and bytes."""
    path, sep, query = raw_path_qs.partition("?")
    # "//host/..." in a Location header would send the browser to another site.
    path = "/" + path.lstrip("/")
    if not sep:
        return path
    kept = [item for item in query.split("&") if unquote(item.split("=", 1)[0]) != param]
    rest = "&".join(item for item in kept if item)
    return f"{path}?{rest}" if rest else path


def redact_query(raw_path_qs: str) -> str:
    """The path for an access log: a one-time login token in the query is masked."""
    path, sep, query = raw_path_qs.partition("?")
    if not sep or TOKEN_PARAM not in unquote(query):
        return raw_path_qs
    items = [
        f"{TOKEN_PARAM}=REDACTED" if unquote(item.split("=", 1)[0]) == TOKEN_PARAM else item
        for item in query.split("&")
    ]
    return f"{path}?{'&'.join(items)}"


def client_ip(forwarded_for: str | None, peer: str | None, trusted_hops: int = 0) -> str:
    """The client address for rate limiting and logs.

    Each trusted proxy in front appends the address it saw to X-Forwarded-For, so with N trusted
    hops the client is the N-th entry from the end (Cloud Run's front end: the last one). Entries
    before it are whatever the client sent; with no trusted hop (the port reached directly) the
    header is ignored, or anyone could pick a fresh bucket per guess or lock another address out.
    """
    if trusted_hops > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        if len(hops) >= trusted_hops and hops[-trusted_hops]:
            return hops[-trusted_hops]
    return peer or "unknown"


class RateLimiter:
    """Failed logins per client in a sliding window, optionally with a ceiling across all clients.

    The runtime uses no global ceiling: anyone could reach it on purpose and lock the owner out
    of their own editor, while the per-client limit already makes guessing a random token hopeless.
    """

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_s: float = 60.0,
        global_max_failures: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.global_max_failures = global_max_failures
        self._clock = clock
        self._max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _prune(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window_s:
            times.popleft()

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may try again, or None when it may try now."""
        now = self._clock()
        self._prune(self._all, now)
        waits = []
        if self.global_max_failures is not None and len(self._all) >= self.global_max_failures:
            waits.append(self._all[0] + self.window_s - now)
        times = self._failures.get(client)
        if times is not None:
            self._prune(times, now)
            if len(times) >= self.max_failures:
                waits.append(times[0] + self.window_s - now)
            elif not times:
                del self._failures[client]
        return max(waits) if waits else None

    def record_failure(self, client: str) -> None:
        now = self._clock()
        if client not in self._failures and len(self._failures) >= self._max_clients:
            # Bounded memory: forget the client whose window started first.
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(client, deque()).append(now)
        self._all.append(now)

    def forget(self, client: str) -> None:
        self._failures.pop(client, None)


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
            self.log.info("auth.login", f"logged in ({method})", component="auth", client=client, method=method)
            return response
        self._limiter.record_failure(client)
        self.log.warning(
            "auth.login_failed", f"wrong access token ({method})", component="auth",
            client=client, method=method, path=request.path,
        )
        return None

    def _deny(self, request: web.Request, problem: str, *, websocket: bool) -> web.StreamResponse:
        self.log.info(
            "auth.denied", f"not logged in: {problem}", component="auth",
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
            "auth.rate_limited", f"too many failed logins; next attempt allowed in {seconds} s",
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
        self.log.info("auth.logout", "logged out", component="auth", client=self._client(request))
        return response


# -- construction ---------------------------------------------------------------------------


def _session_days(env: Mapping[str, str]) -> float:
    raw = env.get("DEVPROXY_SESSION_DAYS", "").strip()
    if not raw:
        return DEFAULT_SESSION_DAYS
    try:
        days = float(raw)
    except ValueError:
        raise AuthError(f"invalid DEVPROXY_SESSION_DAYS={raw!r}: expected a number of days") from None
    if not 0 < days <= 400:
        raise AuthError(f"invalid DEVPROXY_SESSION_DAYS={raw!r}: use a number between 0 and 400")
    return days


def build_access(
    mode: str,
    env: Mapping[str, str],
    log: EventLog,
    *,
    clock: Callable[[], float] = time.time,
    trusted_hops: int = 0,
) -> AccessPolicy:
    """The access policy for `--auth MODE`. Raises: AuthError (exit 2) when it cannot work."""
    if mode == "none":
        log.warning(
            "runtime.auth_disabled",
            "access control is OFF (--auth none): anyone who can reach this URL can use the target",
            component="auth",
        )
        return NoAccess()
    if mode == "token":
        token = env.get(ACCESS_TOKEN_ENV, "").strip()
        if not token:
            raise AuthError(
                "--auth token needs an access token in DEVPROXY_ACCESS_TOKEN",
                hint="`devproxy deploy` keeps one in Secret Manager; locally: "
                "export DEVPROXY_ACCESS_TOKEN=$(openssl rand -hex 24)",
            )
        if len(token) < WEAK_TOKEN_LENGTH:
            log.warning(
                "auth.weak_token",
                f"the access token is shorter than {WEAK_TOKEN_LENGTH} characters; use a long random one",
                component="auth",
            )
        return TokenAccess(
            token, log, session_days=_session_days(env), public_scheme=public_scheme(env), clock=clock,
            trusted_hops=trusted_hops,
        )
    if mode == "iap":
        from devproxy.runtime.iap import IapAccess, iap_settings

        return IapAccess(iap_settings(env), log, clock=clock)
    raise AuthError(f"unknown auth mode {mode!r}: choose none, token or iap")
