"""The one-time login link never redirects off-site, and logging out really ends the session."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import aiohttp
import pytest

from conftest import TOKEN, Recorded, StartProxy, browser, login, raw_exchange, statuses

TIMEOUT = aiohttp.ClientTimeout(total=10)
PUBLIC = "https://dev.example"


def browser_destination(location: str) -> str:
    """Where a browser goes for `location` on PUBLIC (WHATWG: tabs/newlines dropped, "\\" read as "/")."""
    cleaned = location.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x1f ")
    cleaned = "".join(ch for ch in cleaned if ch not in "\t\r\n").replace("\\", "/")
    # Special schemes ignore any number of slashes before the authority ("///evil" is "//evil").
    return urljoin(PUBLIC + "/", re.sub(r"^/{2,}", "//", cleaned))


def _location(answer: bytes) -> str:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"location":
            return value.strip().decode("latin-1")
    raise AssertionError(f"no Location in {answer[:300]!r}")


LINK_PATHS = [
    "/\\evil.example/", "/\\\\evil.example/", "/\\/evil.example/", "//evil.example/", "///evil.example/",
    "/%5cevil.example/", "/%5C%5Cevil.example/", "/%2F%2Fevil.example/", "/%09/evil.example/",
    "/%0d%0a/evil.example/", "/\\evil.example/path?x=\\y", "/.\\/evil.example/", "/\\\tevil.example/",
]


@pytest.mark.parametrize("path", LINK_PATHS)
async def test_login_link_redirect_stays_on_site(path: str, recorded: Recorded, secure_proxy: StartProxy) -> None:
    """`PATH?devproxy_token=T` answers a Location a browser resolves to this site, whatever PATH holds."""
    proxy = await secure_proxy(target=recorded.url)
    sep = "&" if "?" in path else "?"
    for extra in ("", f"Cookie: devproxy_session={proxy.cookie}\r\n"):
        token = TOKEN if not extra else "wrong"  # with a session, a wrong link token still redirects
        request = f"GET {path}{sep}devproxy_token={token} HTTP/1.1\r\nHost: dev.example\r\n{extra}Connection: close\r\n\r\n"
        answer = await raw_exchange(proxy.port, request.encode("latin-1"))
        if statuses(answer)[:1] == [400]:
            continue  # the request line itself was refused: nothing to follow
        assert statuses(answer)[:1] == [303], answer[:300]
        destination = urlsplit(browser_destination(_location(answer)))
        assert (destination.scheme, destination.netloc) == ("https", "dev.example"), _location(answer)
        assert "devproxy_token" not in _location(answer)
    assert recorded.paths() == []


async def test_link_redirect_keeps_an_ordinary_path_readable(recorded: Recorded, secure_proxy: StartProxy) -> None:
    """Plain paths and queries come back unchanged; only what browsers reinterpret is encoded."""
    proxy = await secure_proxy(target=recorded.url)
    answer = await raw_exchange(
        proxy.port, f"GET /a/b%20c/?q=1&devproxy_token={TOKEN}&r=%2F HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert _location(answer) == "/a/b%20c/?q=1&r=%2F"
    answer = await raw_exchange(
        proxy.port, f"GET /\\evil.example/?devproxy_token={TOKEN} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert _location(answer) == "/%5Cevil.example/"


async def _status(session: aiohttp.ClientSession, url: str, cookie: str) -> int:
    async with session.get(url, headers={"Cookie": f"devproxy_session={cookie}"}, allow_redirects=False,
                           timeout=TIMEOUT) as resp:
        return resp.status


async def _logout(session: aiohttp.ClientSession, url: str, cookie: str, headers: dict[str, str]) -> aiohttp.ClientResponse:
    async with session.post(url + "/_devproxy/logout", headers={"Cookie": f"devproxy_session={cookie}", **headers},
                            allow_redirects=False, timeout=TIMEOUT) as resp:
        await resp.read()
        return resp


async def test_logout_ends_the_session_for_the_same_cookie(recorded: Recorded, secure_proxy: StartProxy) -> None:
    """After POST /_devproxy/logout the same cookie value, replayed, never reaches the target; others still do."""
    proxy = await secure_proxy(target=recorded.url)
    async with aiohttp.ClientSession(trust_env=False) as bare:
        async with bare.post(proxy.url + "/_devproxy/login", data={"token": TOKEN, "next": "/"},
                             allow_redirects=False, timeout=TIMEOUT) as resp:
            mine = resp.cookies["devproxy_session"].value
        assert await _status(bare, proxy.url + "/echo?before", mine) == 200
        origin = {"Origin": proxy.url}
        resp = await _logout(bare, proxy.url, mine, origin)
        assert resp.status == 303 and resp.headers["Location"] == "/_devproxy/login"
        assert await _status(bare, proxy.url + "/echo?after", mine) == 401
        assert await _status(bare, proxy.url + "/_devproxy/status", mine) == 401
        assert await _status(bare, proxy.url + "/echo?other", proxy.cookie) == 200  # another session lives on
    assert recorded.paths() == ["/echo?before", "/echo?other"]
    assert proxy.events("auth.logout")[-1]["sessions"] == 1


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
])
async def test_another_site_cannot_log_users_out(headers: dict[str, str], recorded: Recorded,
                                                 secure_proxy: StartProxy) -> None:
    """A cross-site POST to the logout page is refused with 403 and the session keeps working."""
    proxy = await secure_proxy(target=recorded.url)
    async with aiohttp.ClientSession(trust_env=False) as bare:
        resp = await _logout(bare, proxy.url, proxy.cookie, headers)
        assert resp.status == 403
        assert "Set-Cookie" not in resp.headers
        assert await _status(bare, proxy.url + "/echo", proxy.cookie) == 200
    assert recorded.paths() == ["/echo"]


async def test_logout_by_get_changes_nothing(recorded: Recorded, secure_proxy: StartProxy) -> None:
    """GET /_devproxy/logout shows a page with a POST button; the cookie is neither cleared nor revoked."""
    proxy = await secure_proxy(target=recorded.url)
    async with aiohttp.ClientSession(trust_env=False) as bare:
        async with bare.get(proxy.url + "/_devproxy/logout", headers={"Cookie": f"devproxy_session={proxy.cookie}"},
                            allow_redirects=False, timeout=TIMEOUT) as resp:
            assert resp.status == 200
            assert "Set-Cookie" not in resp.headers
            page = await resp.text()
        assert '<form method="post" action="/_devproxy/logout">' in page
        assert await _status(bare, proxy.url + "/echo", proxy.cookie) == 200
        # The page's own form posts from the same origin (browsers send Origin): that logs out.
        async with browser() as session:
            mine = await login(session, proxy.url)
        resp = await _logout(bare, proxy.url, mine, {"Origin": proxy.url, "Sec-Fetch-Site": "same-origin"})
        assert resp.status == 303
        assert await _status(bare, proxy.url + "/echo?after", mine) == 401
    assert recorded.paths() == ["/echo"]
