"""Access control: token sessions, login page, one-time links, rate limits, WebSocket upgrades, none mode."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from devproxy.errors import AuthError
from devproxy.runtime.auth import AccessPolicy, NoAccess, TokenAccess, build_access
from devproxy.runtime.config import public_scheme
from devproxy.runtime.config_access import access_settings
from devproxy.runtime.ratelimit import RateLimiter, client_ip
from devproxy.runtime.sessions import (
    COOKIE_NAME,
    cookie_values,
    make_session,
    redact_query,
    safe_next,
    session_key,
    session_problem,
    without_param,
)
from devproxy.runtime.headers import strip_cookie
from devproxy.runtime.log import EventLog

TOKEN = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
NEW_TOKEN = "tok-rotated-00112233445566778899aabb"
DAY = 86400.0
NOW = 1_800_000_000.0


def _access(mode: str, env: dict[str, str], log: EventLog) -> AccessPolicy:
    """The access policy the config builder and the root make from `env`."""
    return build_access(access_settings(env, mode), log, public_scheme=public_scheme(env))


# -- pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"a=1; {COOKIE_NAME}=xyz; b=2", "a=1; b=2"),
        (f"{COOKIE_NAME}=xyz; b=2", "b=2"),
        (f"a=1;{COOKIE_NAME}=xyz", "a=1"),
        (f"{COOKIE_NAME}=xyz", None),
        (f"{COOKIE_NAME}=xyz; {COOKIE_NAME}=old", None),
        ("a=1;  b=\"q;x\"", "a=1;  b=\"q;x\""),
        ("code-server-session=abc%3D%3D; vscode-tkn=1", "code-server-session=abc%3D%3D; vscode-tkn=1"),
        (f"x{COOKIE_NAME}=1; {COOKIE_NAME}x=2", f"x{COOKIE_NAME}=1; {COOKIE_NAME}x=2"),
        ("", None),
    ],
)
def test_strip_cookie(header: str, expected: str | None) -> None:
    """Only devproxy's cookie is removed; the rest reaches the target byte for byte."""
    assert strip_cookie(header, COOKIE_NAME) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/app?x=1#f", "/app?x=1#f"),
        ("/", "/"),
        ("/%2F%2Fevil.example/", "/%2F%2Fevil.example/"),
        (None, "/"),
        ("", "/"),
        ("//evil.example/", "/"),
        ("///evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("/_devproxy/login", "/"),
    ],
)
def test_safe_next_only_allows_local_paths(value: str | None, expected: str) -> None:
    """`next` can never send the browser to another site."""
    assert safe_next(value) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"/p?a=1&devproxy_token={TOKEN}&b=2", "/p?a=1&b=2"),
        (f"/p?devproxy_token={TOKEN}", "/p"),
        (f"/p?devproxy_token={TOKEN}&devproxy_token=x&z=%20", "/p?z=%20"),
        ("/p?b=2&a=1&b=1", "/p?b=2&a=1&b=1"),
        (f"/p?devproxy%5Ftoken={TOKEN}&a", "/p?a"),
        (f"//evil.example/?devproxy_token={TOKEN}", "/evil.example/"),
        ("/stable-abc?reconnectionToken=r&skipWebSocketFrames=false", "/stable-abc?reconnectionToken=r&skipWebSocketFrames=false"),
    ],
)
def test_without_param(raw: str, expected: str) -> None:
    """The token parameter is removed; other parameters keep their order and bytes."""
    assert without_param(raw, "devproxy_token") == expected


def test_redact_query() -> None:
    """Access logs can print a path without the one-time token."""
    assert redact_query(f"/p?a=1&devproxy_token={TOKEN}") == "/p?a=1&devproxy_token=REDACTED"
    assert redact_query("/p?a=1") == "/p?a=1"


@pytest.mark.parametrize(
    ("xff", "peer", "hops", "expected"),
    [
        (None, "10.0.0.1", 1, "10.0.0.1"),
        ("203.0.113.9", "169.254.1.1", 1, "203.0.113.9"),
        ("1.1.1.1, 203.0.113.9", "169.254.1.1", 1, "203.0.113.9"),
        ("1.1.1.1, 203.0.113.9, 35.1.2.3", "169.254.1.1", 2, "203.0.113.9"),
        ("203.0.113.9", "169.254.1.1", 2, "169.254.1.1"),  # fewer entries than trusted hops
        ("203.0.113.9", "127.0.0.1", 0, "127.0.0.1"),  # reached directly: the header is anyone's
        (" , ", "10.0.0.1", 1, "10.0.0.1"),
        (None, None, 0, "unknown"),
    ],
)
def test_client_ip(xff: str | None, peer: str | None, hops: int, expected: str) -> None:
    """With N trusted hops the N-th X-Forwarded-For entry from the end names the client; with none, the peer."""
    assert client_ip(xff, peer, hops) == expected


def test_cookie_values_tolerates_odd_cookies() -> None:
    """A malformed neighbour cookie does not hide devproxy's."""
    assert cookie_values(['bad"cookie; =x; devproxy_session="v1.2.n.s"'], COOKIE_NAME) == ["v1.2.n.s"]


def test_session_values() -> None:
    """Sessions verify until expiry and only under the key of the token that signed them."""
    key = session_key(TOKEN)
    good = make_session(key, NOW, 30 * DAY, "nonce1")
    assert session_problem(key, good, NOW + 29 * DAY, 30 * DAY) is None
    assert session_problem(key, good, NOW + 30 * DAY + 1, 30 * DAY) == "session cookie expired"
    assert "signature" in str(session_problem(session_key(NEW_TOKEN), good, NOW, 30 * DAY))
    version, expiry, nonce, sig = good.split(".")
    tampered = f"{version}.{int(expiry) + 999_999}.{nonce}.{sig}"
    assert "signature" in str(session_problem(key, tampered, NOW, 30 * DAY))
    forged = f"{version}.{expiry}.{nonce}.{'A' * len(sig)}"
    assert "signature" in str(session_problem(key, forged, NOW, 30 * DAY))
    for junk in ("", "v1", "v2.1.n.s", "v1.x.n.s", "v1.1.n.s.extra"):
        assert session_problem(key, junk, NOW, 30 * DAY) == "malformed session cookie"
    # Lowering the session limit takes effect for cookies already issued.
    assert session_problem(key, good, NOW, 1 * DAY) == "session cookie outlives the session limit"


def test_rate_limiter_window_and_global_ceiling() -> None:
    """5 failures per client per minute, then a wait that ends when the oldest failure ages out."""
    now = [0.0]
    limiter = RateLimiter(max_failures=5, window_s=60, global_max_failures=8, clock=lambda: now[0])
    for i in range(5):
        assert limiter.retry_after("a") is None
        limiter.record_failure("a")
        now[0] += 1
    assert limiter.retry_after("a") == pytest.approx(55.0)
    assert limiter.retry_after("b") is None
    for _ in range(3):
        limiter.record_failure("b")
    assert limiter.retry_after("c") == pytest.approx(55.0)  # the global ceiling (8) is reached
    now[0] = 61.0
    assert limiter.retry_after("a") is None
    assert limiter.retry_after("c") is None


def test_rate_limiter_memory_is_bounded() -> None:
    """Tracking many clients cannot grow memory without limit."""
    limiter = RateLimiter(max_clients=100, global_max_failures=10**9, clock=lambda: 0.0)
    for i in range(1000):
        limiter.record_failure(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._failures) == 100


# -- a real aiohttp app on port 0 ----------------------------------------------------------


@dataclass
class Harness:
    """An app whose catch-all handler reports what the target would see, behind a policy."""

    base: str
    session: aiohttp.ClientSession
    out: io.StringIO
    records: list[dict[str, Any]]
    clock: list[float]
    policy_box: list[Any] = field(default_factory=list)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == name]

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        # encoded=True: send the path and query bytes exactly as written.
        return await self.session.get(URL(self.base + path, encoded=True), allow_redirects=False, **kwargs)

    async def login(self, token: str = TOKEN, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.session.post(
            self.base + "/_devproxy/login", data={"token": token, "next": kwargs.pop("next", "/")},
            allow_redirects=False, **kwargs,
        )


def _set_cookie(response: aiohttp.ClientResponse) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


def _session_cookie(response: aiohttp.ClientResponse) -> str:
    return f"{COOKIE_NAME}={_set_cookie(response)[COOKIE_NAME].value}"


async def _catch_all(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() == "websocket":
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                await ws.send_str("echo:" + message.data)
        return ws
    cookies = [strip_cookie(h, COOKIE_NAME) for h in request.headers.getall("Cookie", [])]
    return web.json_response({"path_qs": request.raw_path, "cookie": [c for c in cookies if c is not None]})


async def _serve(policy_box: list[Any]) -> tuple[web.AppRunner, str]:
    """The policy's routes, then a catch-all; a middleware asks the policy before every request."""

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        denied = await policy_box[0].check(request)
        if denied is not None:
            return denied
        result: web.StreamResponse = await handler(request)
        return result

    app = web.Application(middlewares=[guard])
    app.add_routes(policy_box[0].routes())
    app.router.add_route("*", "/{tail:.*}", _catch_all)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    out = io.StringIO()
    log = EventLog(out)
    records: list[dict[str, Any]] = []
    log.add_hook(records.append)
    clock = [NOW]
    # The harness plays Cloud Run's front end: the X-Forwarded-For the tests send is its last entry.
    box: list[Any] = [TokenAccess(TOKEN, log, clock=lambda: clock[0], limiter=RateLimiter(clock=lambda: clock[0]),
                                  trusted_hops=1)]
    runners = []
    runner, base = await _serve(box)
    runners.append(runner)
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(
        timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
    ) as session:
        h = Harness(base, session, out, records, clock, box)

        async def restart_with(policy: Any) -> None:
            """Serve a new policy (as a redeploy with a new secret version would)."""
            box[0] = policy
            new_runner, h.base = await _serve(box)
            runners.append(new_runner)

        h.restart_with = restart_with  # type: ignore[attr-defined]
        yield h
    for runner in runners:
        await runner.cleanup()


def _no_secrets_logged(h: Harness, *secrets: str) -> None:
    text = h.out.getvalue()
    for secret in secrets:
        assert secret not in text


BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


async def test_browser_without_session_is_sent_to_login(harness: Harness) -> None:
    """A page load without a cookie is a 303 to the login page with the path to come back to."""
    response = await harness.get("/some/page?q=1&r=%20", headers=BROWSER)
    assert response.status == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/_devproxy/login"
    assert parse_qs(location.query)["next"] == ["/some/page?q=1&r=%20"]
    assert harness.events("auth.denied")[0]["message"].startswith("not logged in")


async def test_api_request_without_session_is_401(harness: Harness) -> None:
    """Non-page requests without a cookie get a short 401, not a redirect."""
    response = await harness.get("/api/data", headers={"Accept": "application/json"})
    assert response.status == 401
    assert "log" in (await response.text())
    response = await harness.session.post(harness.base + "/api/data", data=b"x", allow_redirects=False)
    assert response.status == 401


async def test_login_page_is_served_with_safe_headers(harness: Harness) -> None:
    """GET /_devproxy/login shows the form; `next` is carried (escaped) in a hidden field."""
    response = await harness.get('/_devproxy/login?next=/a%22%3E%3Cscript%3E')
    assert response.status == 200
    page = await response.text()
    assert '<form method="post" action="/_devproxy/login">' in page
    assert 'value="/a&quot;&gt;&lt;script&gt;"' in page
    assert "<script>" not in page
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


async def test_login_sets_a_signed_cookie_and_the_target_never_sees_it(harness: Harness) -> None:
    """A correct token sets HttpOnly, SameSite=Lax, Path=/ (not Secure on plain local http)."""
    response = await harness.login(next="/after?x=1")
    assert response.status == 303
    assert response.headers["Location"] == "/after?x=1"
    morsel = _set_cookie(response)[COOKIE_NAME]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
    assert not morsel["secure"]
    assert int(morsel["max-age"]) == 30 * 86400
    cookie = _session_cookie(response)
    page = await harness.get("/x?y=2", headers={"Cookie": f"a=1; {cookie}; b=2"})
    assert page.status == 200
    seen = await page.json()
    assert seen == {"path_qs": "/x?y=2", "cookie": ["a=1; b=2"]}
    only_ours = await (await harness.get("/x", headers={"Cookie": cookie})).json()
    assert only_ours["cookie"] == []
    assert [r["method"] for r in harness.events("auth.login")] == ["form"]
    _no_secrets_logged(harness, TOKEN, cookie.split("=", 1)[1])


@pytest.mark.parametrize(
    ("headers", "secure"),
    [({"X-Forwarded-Proto": "https"}, True), ({"X-Forwarded-Proto": "http"}, False)],
)
async def test_cookie_is_secure_when_the_public_scheme_is_https(
    harness: Harness, headers: dict[str, str], secure: bool
) -> None:
    """Behind Cloud Run (X-Forwarded-Proto https) the cookie is Secure."""
    response = await harness.login(headers=headers)
    assert bool(_set_cookie(response)[COOKIE_NAME]["secure"]) is secure


async def test_cookie_is_always_secure_with_public_scheme_https(harness: Harness) -> None:
    """With DEVPROXY_PUBLIC_SCHEME=https (or K_SERVICE) the cookie is Secure even over local http."""
    policy = _access("token", {"DEVPROXY_ACCESS_TOKEN": TOKEN, "K_SERVICE": "svc"}, EventLog(io.StringIO()))
    await harness.restart_with(policy)  # type: ignore[attr-defined]
    assert _set_cookie(await harness.login())[COOKIE_NAME]["secure"]


async def test_wrong_token_is_refused_and_logged_without_the_token(harness: Harness) -> None:
    """A wrong token gives 401 with the form and an auth.login_failed record that hides the guess."""
    guess = "guess-" + TOKEN[:10]
    response = await harness.login(token=guess)
    assert response.status == 401
    assert "not right" in await response.text()
    assert COOKIE_NAME not in _set_cookie(response)
    failed = harness.events("auth.login_failed")
    assert len(failed) == 1 and failed[0]["severity"] == "WARNING" and failed[0]["client"] == "127.0.0.1"
    _no_secrets_logged(harness, guess, TOKEN)


@pytest.mark.parametrize(
    "bad_cookie",
    [
        "garbage",
        "v1.99999999999.n.sig",
        "",
    ],
)
async def test_forged_cookies_are_refused(harness: Harness, bad_cookie: str) -> None:
    """Cookies not signed by this token's key are refused."""
    response = await harness.get("/x", headers={"Cookie": f"{COOKIE_NAME}={bad_cookie}"})
    assert response.status == 401


async def test_tampered_and_expired_cookies_are_refused(harness: Harness) -> None:
    """Changing the expiry breaks the signature; an old cookie stops working when it expires."""
    cookie = _session_cookie(await harness.login())
    name, value = cookie.split("=", 1)
    version, expiry, nonce, sig = value.split(".")
    tampered = f"{name}={version}.{int(expiry) + 86400}.{nonce}.{sig}"
    assert (await harness.get("/x", headers={"Cookie": tampered})).status == 401
    assert (await harness.get("/x", headers={"Cookie": cookie})).status == 200
    harness.clock[0] += 30 * DAY + 1
    assert (await harness.get("/x", headers={"Cookie": cookie})).status == 401
    assert "expired" in harness.events("auth.denied")[-1]["message"]


async def test_rotating_the_token_invalidates_old_cookies(harness: Harness) -> None:
    """After the token changes (a new secret version), cookies from the old token are refused."""
    cookie = _session_cookie(await harness.login())
    assert (await harness.get("/x", headers={"Cookie": cookie})).status == 200
    await harness.restart_with(  # type: ignore[attr-defined]
        TokenAccess(NEW_TOKEN, EventLog(io.StringIO()), clock=lambda: harness.clock[0])
    )
    assert (await harness.get("/x", headers={"Cookie": cookie})).status == 401
    assert (await harness.login(token=TOKEN)).status == 401
    fresh = _session_cookie(await harness.login(token=NEW_TOKEN))
    assert (await harness.get("/x", headers={"Cookie": fresh})).status == 200


async def test_websocket_upgrade_needs_the_cookie(harness: Harness) -> None:
    """An upgrade without a valid cookie gets 401 and never a 101; with the cookie it is bridged."""
    url = harness.base + "/stable-abc?reconnectionToken=t&skipWebSocketFrames=false"
    for headers in ({}, {"Cookie": f"{COOKIE_NAME}=v1.1.n.forged"}, {"Cookie": "other=1"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await harness.session.ws_connect(url, headers=headers)
        assert info.value.status == 401
    cookie = _session_cookie(await harness.login())
    async with harness.session.ws_connect(url, headers={"Cookie": cookie}) as ws:
        await ws.send_str("hi")
        assert (await ws.receive(timeout=5)).data == "echo:hi"
    denied = [r for r in harness.events("auth.denied") if r.get("websocket")]
    assert len(denied) == 3


async def test_websocket_with_a_token_in_the_url_is_refused(harness: Harness) -> None:
    """A one-time token in a WebSocket URL is not accepted (it would travel on to the target)."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await harness.session.ws_connect(harness.base + f"/ws?devproxy_token={TOKEN}")
    assert info.value.status == 401


async def test_one_time_link_sets_the_cookie_and_strips_the_token(harness: Harness) -> None:
    """?devproxy_token=T sets the cookie and redirects to the same URL without the token."""
    response = await harness.get(f"/folder/?a=1&devproxy_token={TOKEN}&b=%2F", headers=BROWSER)
    assert response.status == 303
    assert response.headers["Location"] == "/folder/?a=1&b=%2F"
    cookie = _session_cookie(response)
    seen = await (await harness.get("/folder/?a=1&b=%2F", headers={"Cookie": cookie})).json()
    assert seen["path_qs"] == "/folder/?a=1&b=%2F"
    assert [r["method"] for r in harness.events("auth.login")] == ["link"]
    _no_secrets_logged(harness, TOKEN)


async def test_one_time_link_cannot_redirect_off_site(harness: Harness) -> None:
    """A link like //evil.example/?devproxy_token=T redirects to a local path, never off-site."""
    response = await harness.get(f"//evil.example/?devproxy_token={TOKEN}")
    assert response.status == 303
    location = response.headers["Location"]
    assert location == "/evil.example/"
    assert not urlsplit(location).netloc


async def test_bad_link_token_goes_to_login_without_the_token(harness: Harness) -> None:
    """A wrong link token counts as a failed login and the login redirect drops it."""
    response = await harness.get("/p?devproxy_token=wrong&x=1", headers=BROWSER)
    assert response.status == 303
    location = urlsplit(response.headers["Location"])
    assert parse_qs(location.query)["next"] == ["/p?x=1"]
    assert "wrong" not in response.headers["Location"]
    assert len(harness.events("auth.login_failed")) == 1


@pytest.mark.parametrize(
    "next_value",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "javascript:alert(1)"],
)
async def test_login_never_redirects_off_site(harness: Harness, next_value: str) -> None:
    """Open-redirect attempts in `next` end at "/"."""
    response = await harness.login(next=next_value)
    assert response.status == 303
    assert response.headers["Location"] == "/"


async def test_failed_logins_are_rate_limited_per_client(harness: Harness) -> None:
    """After 5 failures in a minute the client gets 429 + Retry-After, even with the right token."""
    attacker = {"X-Forwarded-For": "198.51.100.7"}
    for _ in range(5):
        assert (await harness.login(token="nope", headers=attacker)).status == 401
    limited = await harness.login(token=TOKEN, headers=attacker)
    assert limited.status == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert COOKIE_NAME not in _set_cookie(limited)
    link = await harness.get(f"/?devproxy_token={TOKEN}", headers=attacker)
    assert link.status == 429
    # Spoofing an earlier hop does not give a fresh bucket; another real client is unaffected.
    spoofed = {"X-Forwarded-For": "192.0.2.1, 198.51.100.7"}
    assert (await harness.login(token=TOKEN, headers=spoofed)).status == 429
    other = {"X-Forwarded-For": "203.0.113.20"}
    assert (await harness.login(token=TOKEN, headers=other)).status == 303
    assert harness.events("auth.rate_limited")
    harness.clock[0] += 61
    assert (await harness.login(token=TOKEN, headers=attacker)).status == 303


async def test_logout_clears_the_cookie(harness: Harness) -> None:
    """/_devproxy/logout expires the cookie and returns to the login page."""
    response = await harness.get("/_devproxy/logout")
    assert response.status == 303
    assert response.headers["Location"] == "/_devproxy/login"
    morsel = _set_cookie(response)[COOKIE_NAME]
    assert morsel.value == "" and morsel["max-age"] == "0"


# -- build_access ---------------------------------------------------------------------------


def test_build_access_token_mode_needs_a_token() -> None:
    """Token mode without DEVPROXY_ACCESS_TOKEN is an AuthError with exit code 2."""
    with pytest.raises(AuthError) as info:
        _access("token", {}, EventLog(io.StringIO()))
    assert info.value.exit_code == 2
    assert "DEVPROXY_ACCESS_TOKEN" in str(info.value)


@pytest.mark.parametrize(
    ("mode", "env", "needle"),
    [
        ("token", {"DEVPROXY_ACCESS_TOKEN": TOKEN, "DEVPROXY_SESSION_DAYS": "forever"}, "DEVPROXY_SESSION_DAYS"),
        ("token", {"DEVPROXY_ACCESS_TOKEN": TOKEN, "DEVPROXY_SESSION_DAYS": "0"}, "DEVPROXY_SESSION_DAYS"),
        ("iap", {}, "DEVPROXY_IAP_AUDIENCE"),
        ("iap", {"DEVPROXY_IAP_AUDIENCE": "a", "DEVPROXY_IAP_KEYS_URL": "ftp://x/"}, "DEVPROXY_IAP_KEYS_URL"),
        ("basic", {}, "unknown auth mode"),
    ],
)
def test_build_access_rejects_bad_setups(mode: str, env: dict[str, str], needle: str) -> None:
    """Misconfigured access control stops the runtime with a one-line reason (exit 2)."""
    with pytest.raises(AuthError) as info:
        _access(mode, env, EventLog(io.StringIO()))
    assert needle in str(info.value) and info.value.exit_code == 2


def test_build_access_none_warns_loudly() -> None:
    """--auth none works only when chosen and logs runtime.auth_disabled as a WARNING."""
    out = io.StringIO()
    policy = _access("none", {}, EventLog(out))
    assert isinstance(policy, NoAccess) and policy.mode == "none" and policy.cookie_name is None
    record = json.loads(out.getvalue().splitlines()[0])
    assert record["event"] == "runtime.auth_disabled" and record["severity"] == "WARNING"


def test_build_access_token_mode() -> None:
    """Token mode exposes its cookie name and the login/logout routes; a short token is warned about."""
    out = io.StringIO()
    policy = _access("token", {"DEVPROXY_ACCESS_TOKEN": " short \n"}, EventLog(out))
    assert policy.mode == "token" and policy.cookie_name == COOKIE_NAME
    paths = sorted({route.path for route in policy.routes()})  # type: ignore[attr-defined]
    assert paths == ["/_devproxy/login", "/_devproxy/logout"]
    assert "auth.weak_token" in out.getvalue() and "short" not in out.getvalue().replace("shorter", "")


async def test_none_mode_allows_everything() -> None:
    """NoAccess.check lets every request through."""
    from aiohttp.test_utils import make_mocked_request

    assert await NoAccess().check(make_mocked_request("GET", "/x")) is None


def test_no_global_lockout_by_default() -> None:
    """Strangers failing from many addresses cannot lock the owner out of the login page."""
    limiter = RateLimiter(clock=lambda: 0.0)
    for i in range(1000):
        limiter.record_failure(f"198.51.100.{i % 250}-{i}")
    assert limiter.retry_after("203.0.113.5") is None
