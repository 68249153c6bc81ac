"""Forged and replayed cookies, path tricks and login tricks: nothing reaches the target without a session."""

from __future__ import annotations

import base64
import io
import hashlib
import hmac

import aiohttp
import pytest

from conftest import TOKEN, Recorded, StartProxy, browser, login, raw_exchange, statuses
from devproxy.runtime.sessions import make_session, session_key

TIMEOUT = aiohttp.ClientTimeout(total=10)
NOW = 1_900_000_000


def _resign(payload: str, key: bytes) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def _forgeries(real: str) -> list[str]:
    version, expiry, nonce, signature = real.split(".")
    far = str(int(expiry) + 400 * 86400)
    return [
        "", "x", "v1", "v1...", f"{version}.{expiry}.{nonce}", f"{real}.extra",
        f"{version}.{far}.{nonce}.{signature}",  # longer life, old signature
        f"{version}.{expiry}.other.{signature}",  # another nonce
        f"v2.{expiry}.{nonce}.{signature}",
        f"{version}.{expiry}.{nonce}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{version}.{expiry}.{nonce}.{signature.upper()}",
        _resign(f"v1.{far}.{nonce}", session_key("guessed-token")),  # signed with the wrong key
        _resign(f"v1.{far}.{nonce}", b""),
        make_session(session_key(TOKEN), 1_000_000_000, 86400, "n"),  # right key, long expired
        make_session(session_key(TOKEN), NOW * 2, 86400, "n"),  # right key, beyond the session limit
        f"{version}.-{expiry}.{nonce}.{signature}",
        f'"{version}.{expiry}.{nonce}.{signature}x"',
    ]


async def test_forged_cookies_never_reach_the_target(recorded: Recorded, secure_proxy: StartProxy) -> None:
    """Altered, re-signed, expired and over-long sessions, and the cookie in the wrong place, all get 401."""
    proxy = await secure_proxy(target=recorded.url)
    async with browser() as session:
        real = await login(session, proxy.url)
    async with aiohttp.ClientSession(trust_env=False) as bare:
        for forged in _forgeries(real):
            for headers in ({"Cookie": f"devproxy_session={forged}"},
                            {"Cookie": f"a=1; devproxy_session={forged}; b=2"}):
                async with bare.get(proxy.url + "/echo", headers=headers, timeout=TIMEOUT) as resp:
                    assert resp.status == 401, forged
        for misplaced in ({"Cookie2": f"devproxy_session={real}"}, {"X-Cookie": f"devproxy_session={real}"},
                          {"Authorization": f"Bearer {real}"}):
            async with bare.get(proxy.url + "/echo", headers=misplaced, timeout=TIMEOUT) as resp:
                assert resp.status == 401
        async with bare.get(proxy.url + f"/echo?devproxy_session={real}", timeout=TIMEOUT) as resp:
            assert resp.status == 401
        async with bare.get(proxy.url + "/echo", headers={"Cookie": f"devproxy_session={real}"},
                            timeout=TIMEOUT) as resp:
            assert resp.status == 200  # the real one still works
    assert recorded.paths() == ["/echo"]


async def test_cookies_and_links_from_an_old_token_are_refused(recorded: Recorded,
                                                               secure_proxy: StartProxy) -> None:
    """After the token is rotated, replaying an old session or an old login link gets nothing."""
    old = await secure_proxy(target=recorded.url)
    async with browser() as session:
        cookie = await login(session, old.url)
    new = await secure_proxy(target=recorded.url, env={"DEVPROXY_ACCESS_TOKEN": TOKEN + "-rotated"})
    async with aiohttp.ClientSession(trust_env=False) as bare:
        async with bare.get(new.url + "/echo", headers={"Cookie": f"devproxy_session={cookie}"},
                            timeout=TIMEOUT) as resp:
            assert resp.status == 401
        async with bare.get(new.url + f"/echo?devproxy_token={TOKEN}", allow_redirects=False,
                            timeout=TIMEOUT) as resp:
            assert resp.status == 401
    assert recorded.paths() == []


PATH_TRICKS = [
    "/_devproxy/../echo", "/_devproxy/%2e%2e/echo", "/%5fdevproxy/status", "/_devproxy%2fstatus",
    "//_devproxy/status", "/_DEVPROXY/status", "/_devproxy/status/", "/_devproxy/login/../../echo",
    "/_devproxy/login%00", "/_devproxy/login;x=1", "/.%2e/echo", "/echo%00", "/echo#frag",
    "/_devproxy/health/../../echo", "/vsda.js/../echo", "/_devproxy//login", "/%2F%2Fevil/echo",
    "/echo?devproxy_token=", "/echo?devproxy_token=wrong&devproxy_token=", "/_devproxy/logout/../echo",
]


@pytest.mark.parametrize("path", PATH_TRICKS)
async def test_path_tricks_never_reach_the_target(path: str, recorded: Recorded, secure_proxy: StartProxy) -> None:
    """No spelling of a path gets a request to the target without a session, nor devproxy's pages."""
    proxy = await secure_proxy(target=recorded.url)
    answer = await raw_exchange(proxy.port, f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
    assert statuses(answer)[:1] in ([400], [401], [404]) or b"vsda" in answer, answer[:200]
    assert b'"version"' not in answer  # never the status page
    assert recorded.paths() == []


@pytest.mark.parametrize("next_path", ["//evil.example/", "/\\evil.example", "https://evil.example/",
                                       "/\t/evil.example", "%2F%2Fevil.example", "/_devproxy/login"])
async def test_login_never_redirects_off_site(next_path: str, recorded: Recorded, secure_proxy: StartProxy) -> None:
    """Whatever `next` says, a successful login lands on a local path."""
    proxy = await secure_proxy(target=recorded.url)
    async with browser() as session:
        async with session.post(proxy.url + "/_devproxy/login", data={"token": TOKEN, "next": next_path},
                                allow_redirects=False, timeout=TIMEOUT) as resp:
            assert resp.status == 303
            location = resp.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location


async def test_websocket_upgrades_need_the_cookie(recorded: Recorded, secure_proxy: StartProxy) -> None:
    """An upgrade without a session, with a forged one, or with the token in its URL never reaches the target."""
    proxy = await secure_proxy(target=recorded.url)
    async with aiohttp.ClientSession(trust_env=False) as bare:
        for url, headers in ((f"{proxy.url}/ws/echo", {}),
                             (f"{proxy.url}/ws/echo", {"Cookie": "devproxy_session=v1.9999999999.n.sig"}),
                             (f"{proxy.url}/ws/echo?devproxy_token={TOKEN}", {})):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await bare.ws_connect(url.replace("http://", "ws://"), headers=headers, timeout=aiohttp.ClientWSTimeout(ws_receive=5))
            assert info.value.status == 401
    assert recorded.paths() == []


def _runtime_page_table() -> list[tuple[str, str, bool]]:
    """(path, method, public) for every page of the runtime's real table in token mode."""
    from devproxy.runtime.config import build_config
    from devproxy.runtime.log import EventLog
    from devproxy.runtime.root import create_runtime

    env = {"DEVPROXY_ACCESS_TOKEN": TOKEN}
    config = build_config(env, target="http://127.0.0.1:9", socks="none", listen="127.0.0.1:0",
                          no_tailscale=True, auth="token")
    runtime = create_runtime(config, EventLog(io.StringIO()))
    runtime.forwarder.close()
    return [(page.path, method, page.public) for page in runtime.pages.pages.values() for method in page.methods]


async def test_every_page_not_declared_public_needs_a_session(recorded: Recorded, secure_proxy: StartProxy) -> None:
    """Each non-public /_devproxy/ page (every method) answers 401 to a plain client and sends a
    browser to the login page; public pages answer without a session; unknown pages need one too."""
    routes = _runtime_page_table()
    closed = [(path, method) for path, method, public in routes if not public]
    assert ("/_devproxy/status", "GET") in closed
    assert {path for path, _, public in routes if public} == {
        "/_devproxy/health", "/_devproxy/ready", "/_devproxy/login", "/_devproxy/logout"}
    proxy = await secure_proxy(target=recorded.url)
    async with aiohttp.ClientSession(trust_env=False) as session:
        for path, method in closed + [("/_devproxy/no-such-page", "GET"), ("/_devproxy/status", "POST")]:
            async with session.request(method, proxy.url + path, allow_redirects=False, timeout=TIMEOUT) as resp:
                assert resp.status == 401, (method, path)
                assert method == "HEAD" or "not logged in" in await resp.text()
            if method in ("GET", "HEAD"):
                async with session.request(method, proxy.url + path, allow_redirects=False, timeout=TIMEOUT,
                                           headers={"Accept": "text/html"}) as resp:
                    assert resp.status == 303, (method, path)
                    assert resp.headers["Location"].startswith("/_devproxy/login?next=")
        for path, method, public in routes:
            if public and method in ("GET", "HEAD"):
                async with session.request(method, proxy.url + path, allow_redirects=False,
                                           timeout=TIMEOUT) as resp:
                    assert resp.status not in (401, 403), (method, path)
    assert not recorded.seen
