"""Access control wired into the running proxy: nothing reaches the target without a session."""

from __future__ import annotations

import json

import aiohttp
import pytest

from conftest import StartProxy, Upstream
from support.socks import Microsocks

TOKEN = "correct-horse-battery-staple-42"
ENV = {"DEVPROXY_ACCESS_TOKEN": TOKEN}


async def test_token_mode_is_the_default(upstream: Upstream) -> None:
    """Without --auth the runtime wants a token: starting without one is a one-line AuthError (exit 2)."""
    from devproxy.errors import AuthError
    from devproxy.runtime.config import build_config

    assert build_config({}, target=upstream.url, socks="none", listen="127.0.0.1:0", auth="none").auth == "none"
    with pytest.raises(AuthError) as info:
        build_config({}, target=upstream.url, socks="none", listen="127.0.0.1:0")
    assert info.value.exit_code == 2 and "DEVPROXY_ACCESS_TOKEN" in str(info.value)


async def test_requests_without_a_session_never_reach_the_target(
        upstream: Upstream, socks_v4: Microsocks, start_proxy: StartProxy) -> None:
    """A browser is sent to the login page, a script gets 401, a WebSocket upgrade gets 401 (never 101)."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url, auth="token", env=ENV)
    async with aiohttp.ClientSession(trust_env=False) as client:
        async with client.get(proxy.url + "/echo", headers={"Accept": "text/html"}, allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"].startswith("/_devproxy/login")
        async with client.post(proxy.url + "/echo", data=b"x") as resp:
            assert resp.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await client.ws_connect(proxy.ws_url + "/ws/echo")
        assert info.value.status == 401
        async with client.get(proxy.url + "/_devproxy/status", headers={"Accept": "application/json"}) as resp:
            assert resp.status == 401
    assert socks_v4.connections() == []  # nothing was dialed toward the target


async def test_login_then_http_websocket_and_status(upstream: Upstream, socks_v4: Microsocks,
                                                    start_proxy: StartProxy) -> None:
    """After logging in, HTTP and WebSocket pass; the target never sees devproxy's cookie; status shows state."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url, auth="token", env=ENV)
    async with aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.post(proxy.url + "/_devproxy/login", data={"token": TOKEN, "next": "/echo"},
                               allow_redirects=False) as resp:
            assert resp.status == 303
            assert "devproxy_session" in resp.cookies
        async with client.get(proxy.url + "/echo", headers={"Cookie": "app=1"}) as resp:
            assert resp.status == 200
            body = await resp.json()
        cookies = [v for n, v in body["headers"] if n.lower() == "cookie"]
        assert cookies and all("devproxy_session" not in c for c in cookies)
        async with client.ws_connect(proxy.ws_url + "/ws/echo?hello=1") as ws:
            hello = json.loads((await ws.receive(timeout=5)).data)
            assert all("devproxy_session" not in v for n, v in hello["headers"] if n.lower() == "cookie")
            async with client.get(proxy.url + "/_devproxy/status", headers={"Accept": "application/json"}) as resp:
                assert resp.status == 200
                status = await resp.json()
            assert status["auth"] == "token"
            assert status["target"]["ok"] is True
            assert status["socks"]["answered_by"] == "127.0.0.1"
            assert status["websockets"]["open"] == 1
        async with client.get(proxy.url + "/_devproxy/status") as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            assert "devproxy" in await resp.text()


async def test_wrong_token_is_refused(upstream: Upstream, start_proxy: StartProxy) -> None:
    """A wrong token sets no session."""
    proxy = await start_proxy(target=upstream.url, auth="token", env=ENV)
    async with aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.post(proxy.url + "/_devproxy/login", data={"token": "nope", "next": "/"},
                               allow_redirects=False) as resp:
            assert resp.status == 401
            assert "devproxy_session" not in resp.cookies
        async with client.post(proxy.url + "/echo") as resp:
            assert resp.status == 401


async def test_one_time_link_sets_session_and_strips_token(upstream: Upstream, start_proxy: StartProxy) -> None:
    """?devproxy_token=T logs in and redirects to the same URL without the token."""
    proxy = await start_proxy(target=upstream.url, auth="token", env=ENV)
    async with aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(proxy.url + f"/echo?a=1&devproxy_token={TOKEN}&b=2", allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == "/echo?a=1&b=2"
        async with client.get(proxy.url + "/echo?a=1&b=2") as resp:
            assert resp.status == 200
    assert TOKEN not in "".join(json.dumps(r) for r in proxy.records)
