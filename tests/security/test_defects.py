"""The hardening defects found by attacking the runtime, one regression test each."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from conftest import ENV, TOKEN, Exposure, StartProxy, browser, login, raw_exchange, statuses
from runtime.conftest import Upstream
from support.socks import Microsocks

TIMEOUT = aiohttp.ClientTimeout(total=10)


async def test_secrets_in_rejected_requests_never_reach_logs_or_status(
        upstream: Upstream, secure_proxy: StartProxy, exposure: Exposure) -> None:
    """Requests aiohttp rejects (huge cookie, control character, huge query with the token) quote the
    offending line; neither the token nor the cookie reaches a log line or the status page (defect 1)."""
    proxy = await secure_proxy(target=upstream.url)
    async with browser() as session:
        cookie = await login(session, proxy.url)
    exposure.cookies.append(cookie)
    attacks = [
        b"GET /x HTTP/1.1\r\nHost: a\r\nCookie: devproxy_session=" + cookie.encode() + b"; pad="
        + b"p" * 70000 + b"\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a\r\nCookie: devproxy_session=" + cookie.encode() + b"\x01x\r\n\r\n",
        b"GET /x?devproxy_token=" + TOKEN.encode() + b"&q=" + b"a" * 70000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /x?devproxy_token=" + TOKEN.encode() + b"\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a\r\nX-Token: " + TOKEN.encode() + b"\x00\r\n\r\n",
    ]
    for attack in attacks:
        assert statuses(await raw_exchange(proxy.port, attack))[:1] == [400]
    problems = [r for r in proxy.records if r["severity"] in ("WARNING", "ERROR")]
    assert len(problems) >= len(attacks)  # the rejections are still reported, masked
    # the leak search itself runs in the fixture's teardown over every line and both status views


async def test_forwarded_for_is_not_trusted_on_a_direct_connection(
        upstream: Upstream, secure_proxy: StartProxy) -> None:
    """Reached directly, a fresh X-Forwarded-For per guess does not buy a fresh rate-limit bucket (defect 2)."""
    proxy = await secure_proxy(target=upstream.url)
    seen = []
    async with browser() as session:
        for guess in range(7):
            async with session.post(proxy.url + "/_devproxy/login", data={"token": f"wrong-{guess}"},
                                    headers={"X-Forwarded-For": f"198.51.100.{guess}"},
                                    allow_redirects=False, timeout=TIMEOUT) as resp:
                seen.append(resp.status)
    assert seen == [401] * 5 + [429, 429]


async def test_forwarded_for_names_the_client_behind_a_trusted_front_end(
        upstream: Upstream, secure_proxy: StartProxy) -> None:
    """Behind one trusted hop the entry it appended is the client: forging earlier entries changes nothing,
    and forging a victim's address as an earlier entry does not lock the victim out (defect 2)."""
    proxy = await secure_proxy(target=upstream.url, env={"DEVPROXY_TRUSTED_HOPS": "1"})
    seen = []
    async with browser() as session:
        for guess in range(6):
            async with session.post(proxy.url + "/_devproxy/login", data={"token": "wrong"},
                                    headers={"X-Forwarded-For": f"203.0.113.7, 198.51.100.{guess}, 192.0.2.1"},
                                    allow_redirects=False, timeout=TIMEOUT) as resp:
                seen.append(resp.status)
        async with session.post(proxy.url + "/_devproxy/login", data={"token": TOKEN},
                                headers={"X-Forwarded-For": "203.0.113.7"},
                                allow_redirects=False, timeout=TIMEOUT) as resp:
            victim = resp.status
    assert seen == [401] * 5 + [429]  # all keyed on 192.0.2.1, the entry the front end appended
    assert victim == 303


async def test_half_sent_and_idle_connections_are_reaped(upstream: Upstream, secure_proxy: StartProxy) -> None:
    """Half a request line is closed after the request-head timeout; an idle keep-alive connection after
    the keep-alive timeout (defect 6)."""
    proxy = await secure_proxy(target=upstream.url, env={"DEVPROXY_REQUEST_HEAD_TIMEOUT": "0.5",
                                                         "DEVPROXY_KEEPALIVE_TIMEOUT": "1"})
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"GET /_devproxy/hea")
    await writer.drain()
    async with asyncio.timeout(3):
        assert await reader.read() == b""  # closed by the proxy, with no answer
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"GET /_devproxy/health HTTP/1.1\r\nHost: a\r\n\r\n")
    await writer.drain()
    async with asyncio.timeout(3):
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        await reader.read()  # the rest, until the idle connection is closed
    writer.close()


async def test_absolute_form_and_connect_are_refused_without_a_traceback(
        upstream: Upstream, socks_v4: Microsocks, secure_proxy: StartProxy) -> None:
    """With a valid session, CONNECT gets 405 and absolute-form targets 400; nothing reaches the target
    and no traceback is logged for client input (defect 7)."""
    proxy = await secure_proxy(target=upstream.url, socks=socks_v4.url)
    async with browser() as session:
        cookie = await login(session, proxy.url)
    auth = b"Host: a\r\nCookie: devproxy_session=" + cookie.encode() + b"\r\n"
    cases = [
        (b"POST http://evil/abs HTTP/1.1\r\n" + auth + b"Content-Length: 2\r\n\r\nhi", 400),
        (b"GET http://evil/abs HTTP/1.1\r\n" + auth + b"\r\n", 400),
        (b"GET http://evil/ws HTTP/1.1\r\n" + auth + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
         b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 400),
        (b"CONNECT evil:443 HTTP/1.1\r\n" + auth + b"\r\n", 405),
        (b"OPTIONS * HTTP/1.1\r\n" + auth + b"\r\n", 400),
    ]
    for request, status in cases:
        assert statuses(await raw_exchange(proxy.port, request))[:1] == [status], request[:40]
    assert socks_v4.connections() == []
    assert not [r for r in proxy.records if "exception" in r or r["severity"] == "ERROR"]


async def test_status_page_shows_the_newest_real_problems(upstream: Upstream, secure_proxy: StartProxy) -> None:
    """The HTML status page lists the newest problems first, and a flood of client garbage is counted
    without pushing a real problem out (defect 9)."""
    proxy = await secure_proxy(target="http://127.0.0.1:9", env={"DEVPROXY_CONNECT_TIMEOUT": "2"})
    async with browser() as session:
        await login(session, proxy.url)
        for n in range(25):
            async with session.get(proxy.url + f"/real-{n:02d}", timeout=TIMEOUT) as resp:
                assert resp.status == 502
        for _ in range(60):
            await raw_exchange(proxy.port, b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", read_for=1)
        async with session.get(proxy.url + "/_devproxy/status", headers={"Accept": "text/html"},
                               timeout=TIMEOUT) as resp:
            page = await resp.text()
        async with session.get(proxy.url + "/_devproxy/status", headers={"Accept": "application/json"},
                               timeout=TIMEOUT) as resp:
            body = await resp.json()
    # two problems per request (the failure and its access line); the page shows the newest 20
    assert "/real-24" in page and "/real-15" in page and "/real-14" not in page
    assert page.index("/real-24") < page.index("/real-15")
    assert body["client_errors"]["count"] >= 60
    messages = [e["message"] for e in body["recent_errors"]]
    assert "/real-24" in messages[0] and any("/real-00" in m for m in messages)


async def test_status_page_shows_the_target(upstream: Upstream, secure_proxy: StartProxy) -> None:
    """The status page's target row shows the configured target (it rendered a key the snapshot lacks)."""
    proxy = await secure_proxy(target=upstream.url)
    async with browser() as session:
        await login(session, proxy.url)
        async with session.get(proxy.url + "/_devproxy/status", timeout=TIMEOUT) as resp:
            page = await resp.text()
    assert f"<dt>target</dt><dd>{upstream.url}</dd>" in page
    assert json.dumps(ENV) not in page
