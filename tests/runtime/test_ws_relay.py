"""The frame relay's own duties: handshake checks before dialing, close codes, protocol errors, pings."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from conftest import StartProxy, Upstream
from devproxy.runtime import ws_bridge
from support.socks import Microsocks
from support.upstream import CLOSE_CODES, RawTarget


class RawBrowser:
    """A browser on websockets' sans-I/O client, which can also write frames the library never would."""

    def __init__(self, proto: ClientProtocol, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.proto, self.reader, self.writer = proto, reader, writer

    @classmethod
    async def open(cls, url: str) -> "RawBrowser":
        uri = parse_uri(url)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(uri.host, uri.port), 5)
        browser = cls(ClientProtocol(uri), reader, writer)
        browser.proto.send_request(browser.proto.connect())
        browser.flush()
        async with asyncio.timeout(5):
            while browser.proto.state is State.CONNECTING:
                await browser.pump()
        assert browser.proto.handshake_exc is None, browser.proto.handshake_exc
        browser.proto.events_received()  # the handshake response
        return browser

    def flush(self) -> None:
        for data in self.proto.data_to_send():
            if data:
                self.writer.write(data)

    async def pump(self) -> bool:
        """Read once from the proxy; False at EOF."""
        data = await self.reader.read(65536)
        if data:
            self.proto.receive_data(data)
        else:
            self.proto.receive_eof()
        self.flush()
        return bool(data)

    async def frames(self, timeout: float = 5) -> list[Frame]:
        """Every frame until the proxy closes the connection (bounded)."""
        got: list[Frame] = []
        async with asyncio.timeout(timeout):
            while await self.pump():
                got += [e for e in self.proto.events_received() if isinstance(e, Frame)]
        return got + [e for e in self.proto.events_received() if isinstance(e, Frame)]

    def close(self) -> None:
        self.writer.close()


async def test_upgrade_without_key_is_refused_before_dialing(upstream: Upstream, socks_v4: Microsocks,
                                                             start_proxy: StartProxy,
                                                             client: aiohttp.ClientSession) -> None:
    """No Sec-WebSocket-Key: 400, and no tunnel connection was ever opened (issue 11, defect 3)."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"}
    async with client.get(proxy.url + "/ws/echo", headers=upgrade) as resp:
        assert resp.status == 400
        assert "Sec-WebSocket-Key" in await resp.text()
    async with client.get(proxy.url + "/ws/echo", headers={**upgrade, "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                           "Sec-WebSocket-Version": "8"}) as resp:
        assert resp.status == 426 and resp.headers["Sec-WebSocket-Version"] == "13"
    await asyncio.sleep(0.1)
    assert socks_v4.connections() == []
    assert [e["status"] for e in proxy.events("ws.bad_handshake")] == [400, 426]


async def test_refused_upgrade_leaves_no_tunnel_connection_open(upstream: Upstream, start_proxy: StartProxy,
                                                                client: aiohttp.ClientSession) -> None:
    """After the target's refusal the tunnel connection is closed: the target sees its client leave."""
    proxy = await start_proxy(target=upstream.url)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect(proxy.ws_url + "/ws/reject/403")
    # the target answered and nothing keeps its connection: a second refusal works the same
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect(proxy.ws_url + "/ws/reject/404")
    assert info.value.status == 404


async def test_empty_close_is_relayed_as_no_status(upstream: Upstream, start_proxy: StartProxy) -> None:
    """An empty close frame reaches the target as an empty close and nobody gets 1011 (issue 11, defect 4)."""
    proxy = await start_proxy(target=upstream.url)
    browser = await RawBrowser.open(proxy.ws_url + "/ws/echo")
    browser.proto.send_close()  # no code: an empty close frame, as a browser's ws.close() sends
    browser.flush()
    frames = await browser.frames()
    [close] = [f for f in frames if f.opcode is Opcode.CLOSE]
    assert close.data == b"" or Close.parse(close.data).code == 1000
    browser.close()
    for _ in range(100):
        if proxy.events("ws.closed"):
            break
        await asyncio.sleep(0.02)
    assert 1011 not in upstream.app[CLOSE_CODES]
    [closed] = proxy.events("ws.closed")
    assert closed["close_code"] == 1005 and closed["closed_by"] == "browser"


async def test_unmasked_client_frame_fails_the_connection_with_1002(upstream: Upstream,
                                                                    start_proxy: StartProxy) -> None:
    """RFC 6455 §5.1: an unmasked frame from the browser gets close 1002 and is not relayed."""
    proxy = await start_proxy(target=upstream.url)
    browser = await RawBrowser.open(proxy.ws_url + "/ws/echo")
    browser.writer.write(Frame(Opcode.TEXT, b"unmasked").serialize(mask=False))
    frames = await browser.frames()
    assert [f.opcode for f in frames] == [Opcode.CLOSE]
    assert Close.parse(frames[0].data).code == 1002
    browser.close()
    for _ in range(100):
        if proxy.events("ws.closed"):
            break
        await asyncio.sleep(0.02)
    [closed] = proxy.events("ws.closed")
    assert closed["close_code"] == 1002 and "unmasked" in closed["protocol_error"]


async def test_idle_tunnel_is_pinged_and_the_pongs_stay_with_the_proxy(
        upstream: Upstream, start_proxy: StartProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    """devproxy's own pings keep an idle connection checked; the browser never sees their pongs."""
    monkeypatch.setattr(ws_bridge, "PING_INTERVAL", 0.1)
    proxy = await start_proxy(target=upstream.url)
    browser = await RawBrowser.open(proxy.ws_url + "/ws/echo")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.6):  # several ping intervals of silence from the browser's side
            await browser.pump()
    assert browser.proto.events_received() == []
    browser.proto.send_text(b"still there")
    browser.flush()
    async with asyncio.timeout(5):
        while not (events := browser.proto.events_received()):
            await browser.pump()
    assert [(f.opcode, f.data) for f in events] == [(Opcode.TEXT, b"still there")]
    browser.close()


async def test_silent_target_is_detected_and_the_browser_gets_1011(
        start_proxy: StartProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    """A target that stops answering (a dead tailnet path) is found by the pings: 1011 with a reason."""
    monkeypatch.setattr(ws_bridge, "PING_INTERVAL", 0.1)
    silence = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.wait_for(silence.wait(), 10)

    async with RawTarget(silent) as target:
        proxy = await start_proxy(target=target.url)
        async with ws_connect(proxy.ws_url + "/", proxy=None, ping_interval=None) as ws:
            async with asyncio.timeout(3):
                await ws.wait_closed()
        silence.set()
    assert ws.close_code == 1011 and "pings" in (ws.close_reason or "")


async def test_target_dying_mid_frame_closes_the_browsers_tcp(start_proxy: StartProxy) -> None:
    """Mid-frame no close frame can be sent: the browser's TCP connection is closed instead (documented)."""

    async def half_frame(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(bytes([0x82, 126, 0x10, 0x00]) + b"y" * 100)  # a 4096-byte frame cut after 100
        await writer.drain()
        writer.transport.abort()

    async with RawTarget(half_frame) as target:
        proxy = await start_proxy(target=target.url)
        browser = await RawBrowser.open(proxy.ws_url + "/")
        frames = await browser.frames()
        browser.close()
    assert frames == []
    assert browser.proto.close_rcvd is None  # no close frame: the connection just ended


async def test_permessage_deflate_is_negotiated_end_to_end(upstream: Upstream, start_proxy: StartProxy) -> None:
    """The ends negotiate compression with each other; devproxy relays the compressed bytes as they are."""
    proxy = await start_proxy(target=upstream.url)
    message = "compressible " * 1000
    async with ws_connect(proxy.ws_url + "/ws/echo", proxy=None, compression="deflate") as ws:
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
        await ws.send(message)
        assert await asyncio.wait_for(ws.recv(), 5) == message
    for _ in range(100):
        if proxy.events("ws.closed"):
            break
        await asyncio.sleep(0.02)
    [closed] = proxy.events("ws.closed")
    assert 0 < closed["bytes_in"] < len(message) // 10 and closed["messages_in"] == 1
