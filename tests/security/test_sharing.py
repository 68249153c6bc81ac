"""Shared links against the running proxy: one prefix for a limited time, never the editor or devproxy's pages."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from conftest import TOKEN, Proxy, Recorded, StartProxy, raw_exchange, statuses
from devproxy.runtime.grants import grant_key, make_grant, revoke_message

TIMEOUT = aiohttp.ClientTimeout(total=10)
KEY = grant_key(TOKEN)
APP = web.AppKey("app", str)


async def _app_handler(request: web.Request) -> web.StreamResponse:
    if request.headers.get("Upgrade", "").lower() == "websocket":
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(f"shared:{request.raw_path}:{message.data}")
        return ws
    return web.json_response({"app": request.app[APP], "path": request.raw_path,
                              "cookie": request.headers.get("Cookie")})


@pytest.fixture
async def shared_app() -> AsyncIterator[str]:
    """The app a teammate may see (a second dev server)."""
    app = web.Application()
    app[APP] = "shared"
    app.router.add_route("*", "/{tail:.*}", _app_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def _start(secure_proxy: StartProxy, recorded: Recorded, shared_app: str, **env: str) -> Proxy:
    routes = f"/app/={shared_app}/,/nb/={shared_app}"
    return await secure_proxy(target=recorded.url, env={"DEVPROXY_ROUTES": routes, **env})


def _link(prefix: str, *, issued: float | None = None, seconds: int = 3600) -> str:
    now = time.time() if issued is None else issued
    return make_grant(KEY, prefix, now, seconds, f"n{int(now * 1000) % 100000}")


async def _open(session: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, str, aiohttp.ClientResponse]:
    async with session.get(URL(url, encoded=True), allow_redirects=False, timeout=TIMEOUT,
                           headers={"Accept": "text/html", **headers}) as resp:
        return resp.status, await resp.text(), resp


async def test_a_link_opens_only_its_prefix(recorded: Recorded, shared_app: str, secure_proxy: StartProxy) -> None:
    """The link sets a cookie scoped to /app/; with it /app/ (HTTP and WebSocket) works, nothing else does."""
    proxy = await _start(secure_proxy, recorded, shared_app)
    grant = _link("/app/")
    async with aiohttp.ClientSession(trust_env=False) as bare:
        status, _, resp = await _open(bare, f"{proxy.url}/app/page?x=1&devproxy_token={grant}")
        assert (status, resp.headers["Location"]) == (303, "/app/page?x=1")
        morsel = resp.cookies["devproxy_session"]
        assert morsel["path"] == "/app/" and morsel["httponly"] and 3500 < int(morsel["max-age"]) <= 3600
        cookie = {"Cookie": f"devproxy_session={morsel.value}"}
        status, body, _ = await _open(bare, proxy.url + "/app/page?x=1", **cookie)
        assert status == 200 and '"path": "/page?x=1"' in body
        assert '"cookie": null' in body  # devproxy's cookie never reaches the app
        async with bare.ws_connect(proxy.url.replace("http://", "ws://") + "/app/ws", headers=cookie, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
            await ws.send_str("hi")
            assert (await ws.receive(timeout=5)).data == "shared:/ws:hi"
        for path in ("/", "/echo", "/nb/", "/_devproxy/status", "/appx", "/%5Fdevproxy/status"):
            status, _, resp = await _open(bare, proxy.url + path, **cookie)
            assert status == 303 and resp.headers["Location"].startswith("/_devproxy/login"), path
        async with bare.get(proxy.url + "/_devproxy/status", headers={**cookie, "Accept": "application/json"},
                            timeout=TIMEOUT) as resp:
            assert resp.status == 401
    for path in ("/app/../echo", "/app/%2e%2e/echo", "/app/..%2fecho", "/app/./x"):
        answer = await raw_exchange(proxy.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n"
                                                f"Cookie: devproxy_session={morsel.value}\r\nConnection: close\r\n\r\n".encode())
        assert statuses(answer)[:1] in ([400], [401], [404]), (path, answer[:200])
    assert recorded.paths() == []  # the editor never saw a request


async def test_sharing_the_default_route_never_opens_devproxy_pages(recorded: Recorded, shared_app: str,
                                                                    secure_proxy: StartProxy) -> None:
    """A link for / opens the default route but not /_devproxy/status nor the other routes."""
    proxy = await _start(secure_proxy, recorded, shared_app)
    async with aiohttp.ClientSession(trust_env=False) as bare:
        status, _, resp = await _open(bare, f"{proxy.url}/?devproxy_token={_link('/')}")
        assert status == 303 and resp.cookies["devproxy_session"]["path"] == "/"
        cookie = {"Cookie": f"devproxy_session={resp.cookies['devproxy_session'].value}"}
        assert (await _open(bare, proxy.url + "/echo", **cookie))[0] == 200
        for path in ("/_devproxy/status", "/app/", "/nb/x"):
            status, _, resp = await _open(bare, proxy.url + path, **cookie)
            assert status == 303 and resp.headers["Location"].startswith("/_devproxy/login"), path
        status, _, _ = await _open(bare, f"{proxy.url}/_devproxy/status?devproxy_token={_link('/')}")
        assert status in (401, 403, 303)
        assert status != 200
    assert recorded.paths() == ["/echo"]


@pytest.mark.parametrize(
    ("grant", "path", "status", "words"),
    [
        (lambda: _link("/app/", issued=time.time() - 7200), "/app/", 410, "This shared link has expired"),
        (lambda: _link("/app/"), "/", 403, "It opens only /app/"),
        (lambda: _link("/app/"), "/nb/", 403, "It opens only /app/"),
        (lambda: _link("/gone/"), "/gone/", 403, "not here"),
        (lambda: _link("/app/")[:-3] + "AAA", "/app/", 403, "This shared link is not valid"),
        (lambda: make_grant(grant_key("old-token-1234567890"), "/app/", time.time(), 3600, "n"), "/app/", 403,
         "not valid"),
    ],
)
async def test_bad_links_get_a_clear_page(grant: object, path: str, status: int, words: str, recorded: Recorded,
                                          shared_app: str, secure_proxy: StartProxy) -> None:
    """Expired, altered, misused and foreign links get a page that says why (not a bare 401), and no cookie."""
    proxy = await _start(secure_proxy, recorded, shared_app)
    value = grant()  # type: ignore[operator]
    async with aiohttp.ClientSession(trust_env=False) as bare:
        got, page, resp = await _open(bare, f"{proxy.url}{path}?devproxy_token={value}")
    assert got == status and words in page
    assert "Set-Cookie" not in resp.headers and value not in page
    assert recorded.paths() == []


async def _cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devproxy", "share", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **env})
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_link_works_and_revoke_all_withdraws_it(recorded: Recorded, shared_app: str,
                                                          secure_proxy: StartProxy) -> None:
    """`devproxy share /app/` prints a working link; `--revoke-all` makes it (and its cookie) a 'revoked' page."""
    proxy = await _start(secure_proxy, recorded, shared_app)
    env = {"DEVPROXY_ACCESS_TOKEN": TOKEN}
    code, out, err = await _cli("/app/", "--for", "30m", "--url", proxy.url, env=env)
    assert code == 0 and "opens only /app/ until" in err
    link = out.strip()
    assert re.fullmatch(re.escape(proxy.url) + r"/app/\?devproxy_token=g1\.[\w.-]+", link)
    async with aiohttp.ClientSession(trust_env=False) as bare:
        status, _, resp = await _open(bare, link)
        assert status == 303
        cookie = {"Cookie": f"devproxy_session={resp.cookies['devproxy_session'].value}"}
        assert (await _open(bare, proxy.url + "/app/x", **cookie))[0] == 200
        async with bare.get(proxy.url + "/_devproxy/status", headers={"Accept": "application/json",
                            "Cookie": f"devproxy_session={proxy.cookie}"}, timeout=TIMEOUT) as resp:
            body = await resp.json()
        assert [g["prefix"] for g in body["shared_links"]] == ["/app/"]
        assert 1700 < body["shared_links"][0]["until"] - time.time() <= 1800
        assert link.split("=", 1)[1] not in str(body)
        code, out, err = await _cli("--revoke-all", "--url", proxy.url, env=env)
        assert code == 0 and "is revoked on the running service" in out and "DEVPROXY_SHARE_NOT_BEFORE=" in err
        status, page, _ = await _open(bare, proxy.url + "/app/x", **cookie)
        assert status == 410 and "This shared link was revoked" in page
        status, page, _ = await _open(bare, link)
        assert status == 410 and "revoked" in page
        async with bare.get(proxy.url + "/_devproxy/status", headers={"Accept": "application/json",
                            "Cookie": f"devproxy_session={proxy.cookie}"}, timeout=TIMEOUT) as resp:
            assert (await resp.json())["shared_links"] == []
        assert (await _open(bare, proxy.url + "/echo", Cookie=f"devproxy_session={proxy.cookie}"))[0] == 200
    code, _, err = await _cli("--revoke-all", "--url", proxy.url, env={"DEVPROXY_ACCESS_TOKEN": "wrong-token-123456"})
    assert code == 1 and "refused to revoke (HTTP 403)" in err and len(err.strip().splitlines()) == 1
    assert proxy.events("auth.share_revoked")[0]["not_before"] > 0
    assert link.split("=", 1)[1] not in "\n".join(proxy.lines())  # the grant never reaches a log line


async def test_revoke_requests_must_be_signed_and_fresh(recorded: Recorded, shared_app: str,
                                                        secure_proxy: StartProxy) -> None:
    """A revoke request with a wrong signature or a replayed old one is refused; links keep working."""
    proxy = await _start(secure_proxy, recorded, shared_app)
    grant = _link("/app/")
    async with aiohttp.ClientSession(trust_env=False) as bare:
        for body in ("", "junk", revoke_message(grant_key("guess-0123456789"), int(time.time())),
                     revoke_message(KEY, int(time.time()) - 3600)):
            async with bare.post(proxy.url + "/_devproxy/share/revoke", data=body, timeout=TIMEOUT) as resp:
                assert resp.status == 403
        assert (await _open(bare, f"{proxy.url}/app/?devproxy_token={grant}"))[0] == 303


async def test_not_before_from_the_environment_survives_a_restart(recorded: Recorded, shared_app: str,
                                                                 secure_proxy: StartProxy) -> None:
    """DEVPROXY_SHARE_NOT_BEFORE (what --revoke-all prints) refuses older links from the start."""
    old = _link("/app/", issued=time.time() - 60)
    proxy = await _start(secure_proxy, recorded, shared_app, DEVPROXY_SHARE_NOT_BEFORE=str(int(time.time()) - 30))
    async with aiohttp.ClientSession(trust_env=False) as bare:
        status, page, _ = await _open(bare, f"{proxy.url}/app/?devproxy_token={old}")
        assert status == 410 and "revoked" in page
        assert (await _open(bare, f"{proxy.url}/app/?devproxy_token={_link('/app/')}"))[0] == 303
