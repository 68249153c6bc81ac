"""WebSockets through the runtime: messages of any size, close codes both ways, refusals as statuses."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from websockets.asyncio.client import connect as ws_connect
from yarl import URL

from conftest import StartProxy, Upstream
from support.socks import Microsocks
from support.upstream import CLOSE_CODES, FLOOD_SENT

MiB = 1024 * 1024


async def test_text_and_binary_echo_through_socks(upstream: Upstream, socks_v4: Microsocks,
                                                  start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """Text and binary frames are echoed through microsocks unchanged."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    async with client.ws_connect(proxy.ws_url + "/ws/echo") as ws:
        await ws.send_str("héllo")
        assert (await ws.receive(timeout=5)).data == "héllo"
        await ws.send_bytes(b"\x00\x01\xff")
        assert (await ws.receive(timeout=5)).data == b"\x00\x01\xff"
    assert f"127.0.0.1:{upstream.port}" in socks_v4.connections()


async def test_handshake_carries_origin_cookie_forwarded_and_subprotocol(
        upstream: Upstream, socks_v4: Microsocks, start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """The target sees one Origin, the Cookie, X-Forwarded-*, the raw query; the browser gets its subprotocol."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    path = "/ws/echo?hello=1&reconnectionToken=a%2Fb-1&reconnection=true&skipWebSocketFrames=false"
    async with client.ws_connect(
        URL(proxy.ws_url + path, encoded=True),
        origin="http://public.example:8443",
        headers={"Cookie": "key=v1", "Host": "public.example:8443", "User-Agent": "TestBrowser/1.0"},
        protocols=("chat.v2", "other"),
    ) as ws:
        assert ws.protocol == "chat.v2"
        hello = json.loads((await ws.receive(timeout=5)).data)
    headers = hello["headers"]
    assert hello["raw_path"] == path
    assert [v for n, v in headers if n.lower() == "origin"] == ["http://public.example:8443"]
    got = {n.lower(): v for n, v in headers}
    assert got["cookie"] == "key=v1"
    assert got["host"] == f"127.0.0.1:{upstream.port}"
    assert got["x-forwarded-host"] == "public.example:8443"
    assert got["x-forwarded-proto"] == "http"
    assert got["x-forwarded-for"] == "127.0.0.1"
    assert [v for n, v in headers if n.lower() == "user-agent"] == ["TestBrowser/1.0"]


@pytest.mark.allow_slow_callbacks  # one 64 MiB frame is unmasked/copied in one piece by the libraries
async def test_64_mib_messages_pass_both_ways(upstream: Upstream, socks_v4: Microsocks,
                                              start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """A 64 MiB binary message crosses to the target and back whole (no 1009)."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    payload = bytes(range(256)) * (64 * MiB // 256)
    async with client.ws_connect(proxy.ws_url + "/ws/echo", max_msg_size=0) as ws:
        await ws.send_bytes(payload)
        msg = await ws.receive(timeout=60)
        assert msg.type is aiohttp.WSMsgType.BINARY
        assert len(msg.data) == len(payload) and msg.data == payload


async def test_4_mib_messages_keep_the_loop_responsive(upstream: Upstream, socks_v4: Microsocks,
                                                       start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """Large (4 MiB) messages cross both ways without any callback holding the loop > 100 ms."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    payload = b"\x5a" * (4 * MiB)
    async with client.ws_connect(proxy.ws_url + "/ws/echo", max_msg_size=0) as ws:
        for _ in range(3):
            await ws.send_bytes(payload)
            msg = await ws.receive(timeout=30)
            assert msg.data == payload


async def test_fragmented_message_is_reassembled(upstream: Upstream, start_proxy: StartProxy) -> None:
    """A message sent in fragments arrives at the target as one message."""
    proxy = await start_proxy(target=upstream.url)
    async with ws_connect(proxy.ws_url + "/ws/echo", proxy=None, max_size=None) as ws:
        await ws.send(["frag-", "men", "ted"])
        assert await asyncio.wait_for(ws.recv(), 5) == "frag-mented"


async def test_ping_gets_pong(upstream: Upstream, start_proxy: StartProxy) -> None:
    """The browser's pings are answered."""
    proxy = await start_proxy(target=upstream.url)
    async with ws_connect(proxy.ws_url + "/ws/echo", proxy=None) as ws:
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)


async def test_upstream_close_code_and_reason_reach_browser(upstream: Upstream, socks_v4: Microsocks,
                                                            start_proxy: StartProxy,
                                                            client: aiohttp.ClientSession) -> None:
    """Target closes 4001 'bye' -> the browser gets 4001 'bye'."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    async with client.ws_connect(proxy.ws_url + "/ws/close/4001?reason=bye") as ws:
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert (msg.data, msg.extra) == (4001, "bye")
    await asyncio.sleep(0.05)
    closed = proxy.events("ws.closed")
    assert closed[-1]["closed_by"] == "upstream" and closed[-1]["upstream_close_code"] == 4001
    assert closed[-1]["close_code"] == 4001


@pytest.mark.parametrize("code", [1000, 4002])
async def test_browser_close_code_reaches_upstream(code: int, upstream: Upstream, start_proxy: StartProxy,
                                                   client: aiohttp.ClientSession) -> None:
    """Browser closes with a code -> the target receives that code."""
    proxy = await start_proxy(target=upstream.url)
    ws = await client.ws_connect(proxy.ws_url + "/ws/echo")
    await ws.send_str("x")
    await ws.receive(timeout=5)
    await ws.close(code=code, message=b"done")
    for _ in range(100):
        if upstream.app[CLOSE_CODES]:
            break
        await asyncio.sleep(0.02)
    assert upstream.app[CLOSE_CODES] == [code]


async def test_upstream_that_drops_tcp_gives_1011(upstream: Upstream, socks_v4: Microsocks,
                                                  start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """The target vanishing without a close frame is 1011 for the browser, never 1006."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    async with client.ws_connect(proxy.ws_url + "/ws/drop") as ws:
        assert (await ws.receive(timeout=5)).data == "bye soon"
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == 1011


async def test_socks_killed_mid_session_gives_1011(upstream: Upstream, socks_v4: Microsocks,
                                                   start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """Killing the SOCKS server under an open WebSocket closes the browser's side with 1011."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    async with client.ws_connect(proxy.ws_url + "/ws/echo") as ws:
        await ws.send_str("before")
        assert (await ws.receive(timeout=5)).data == "before"
        socks_v4.stop()
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == 1011


@pytest.mark.parametrize("status", [403, 404])
async def test_refused_upgrade_reaches_browser_as_http_status(status: int, upstream: Upstream,
                                                              start_proxy: StartProxy,
                                                              client: aiohttp.ClientSession) -> None:
    """A refused upgrade is the target's status for the browser (not 101 then close), logged with a cause."""
    proxy = await start_proxy(target=upstream.url)
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect(proxy.ws_url + f"/ws/reject/{status}")
    assert info.value.status == status
    event = proxy.events("ws.upgrade_rejected")[-1]
    assert event["status"] == status
    if status == 403:
        assert "origin check" in event["likely_cause"]


async def test_refused_upgrade_body_is_the_targets(upstream: Upstream, start_proxy: StartProxy,
                                                   client: aiohttp.ClientSession) -> None:
    """The browser sees the target's own refusal text."""
    proxy = await start_proxy(target=upstream.url)
    async with client.get(proxy.url + "/ws/reject/403",
                          headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                   "Sec-WebSocket-Version": "13"}) as resp:
        assert resp.status == 403
        assert await resp.text() == "Forbidden by upstream"


async def test_websocket_to_unreachable_socks_is_502(upstream: Upstream, start_proxy: StartProxy,
                                                     client: aiohttp.ClientSession) -> None:
    """No SOCKS server: the upgrade gets a 502, not a 101."""
    from support.socks import free_port

    proxy = await start_proxy(target=upstream.url, socks=f"socks5://127.0.0.1:{free_port()}")
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect(proxy.ws_url + "/ws/echo")
    assert info.value.status == 502


async def test_stalled_reader_bounds_buffering(upstream: Upstream, socks_v4: Microsocks,
                                               start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """A browser that stops reading stops the target's sends too: buffering is bounded."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    async with client.ws_connect(proxy.ws_url + "/ws/flood?kib=64&n=4000") as ws:
        await ws.receive(timeout=5)  # the flood has started; now stop reading
        await asyncio.sleep(1.5)
        first = upstream.app[FLOOD_SENT][0]
        await asyncio.sleep(0.5)
        second = upstream.app[FLOOD_SENT][0]
        assert second == first, "the target kept sending into an unread socket"
        assert second < 96 * MiB  # kernel socket buffers on four hops plus small bounded queues
        received = 64 * 1024
        while received < 8 * MiB:  # reading resumes the flow
            msg = await ws.receive(timeout=5)
            received += len(msg.data)
    assert upstream.app[FLOOD_SENT][0] > second


async def test_shutdown_closes_websockets_with_1001(upstream: Upstream, start_proxy: StartProxy,
                                                    client: aiohttp.ClientSession) -> None:
    """Stopping the runtime (SIGTERM) closes open WebSockets with 1001 on both sides so VS Code reconnects at once."""
    proxy = await start_proxy(target=upstream.url)
    ws = await client.ws_connect(proxy.ws_url + "/ws/echo")
    await ws.send_str("x")
    await ws.receive(timeout=5)
    proxy.stop.set()
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
    await ws.close()
    assert proxy.task is not None
    assert await asyncio.wait_for(proxy.task, 10) == 0
    [closed] = proxy.events("ws.closed")
    assert closed["close_code"] == 1001 and closed["closed_by"] == "proxy"
    assert upstream.app[CLOSE_CODES] == [1001]  # the target got 1001 too (a masked client close)


async def test_session_log_line_counts_bytes(upstream: Upstream, start_proxy: StartProxy,
                                             client: aiohttp.ClientSession) -> None:
    """One ws.closed line per session with duration, bytes each way, close code and closer."""
    proxy = await start_proxy(target=upstream.url)
    async with client.ws_connect(proxy.ws_url + "/ws/echo") as ws:
        await ws.send_bytes(b"a" * 1000)
        await ws.receive(timeout=5)
    for _ in range(100):
        if proxy.events("ws.closed"):
            break
        await asyncio.sleep(0.02)
    [closed] = proxy.events("ws.closed")
    assert closed["bytes_in"] == 1000 and closed["bytes_out"] == 1000
    assert closed["closed_by"] == "browser" and closed["close_code"] == 1000
    assert closed["duration_s"] >= 0
