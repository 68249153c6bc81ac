"""The tunnel's SOCKS server (microsocks) killed or frozen in the middle of sessions."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp

from conftest import StartProxy
from runtime.conftest import Upstream
from support.socks import Microsocks, start_microsocks

TIMEOUT = aiohttp.ClientTimeout(total=10)


def _no_tracebacks(records: list[dict[str, object]]) -> None:
    assert not [r for r in records if "exception" in r], "a traceback was logged"


async def test_socks_killed_mid_session(upstream: Upstream, socks_v4: Microsocks, tmp_path: Path,
                                        secure_proxy: StartProxy) -> None:
    """SOCKS dies under an open WebSocket and a pending request: both end within bounds, new requests get
    a devproxy 502 naming the cause, the process stays up, and it recovers once SOCKS is back."""
    proxy = await secure_proxy(target=upstream.url, socks=socks_v4.url)
    cookie = {"Cookie": f"devproxy_session={proxy.cookie}"}
    async with aiohttp.ClientSession(trust_env=False) as session:
        ws = await session.ws_connect(proxy.url.replace("http", "ws") + "/ws/echo", headers=cookie)
        await ws.send_str("before")
        assert (await ws.receive(timeout=5)).data == "before"
        pending = asyncio.create_task(session.get(proxy.url + "/slow?s=3", headers=cookie, timeout=TIMEOUT))
        await asyncio.sleep(0.3)
        socks_v4.proc.kill()
        socks_v4.proc.wait(timeout=5)
        msg = await ws.receive(timeout=10)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        await ws.close()
        try:
            slow = await asyncio.wait_for(pending, 12)
            assert slow.status in (502, 504)
            slow.release()
        except aiohttp.ClientError:
            pass  # the connection was dropped: acceptable, the browser sees a failed load
        async with session.get(proxy.url + "/echo", headers=cookie, timeout=TIMEOUT) as resp:
            assert resp.status == 502
            assert "devproxy" in await resp.text()
        async with session.get(proxy.url + "/_devproxy/health", timeout=TIMEOUT) as resp:
            assert resp.status == 200
        revived = start_microsocks("127.0.0.1", tmp_path, port=socks_v4.port)
        try:
            for _ in range(20):
                async with session.get(proxy.url + "/echo", headers=cookie, timeout=TIMEOUT) as resp:
                    if resp.status == 200:
                        break
                await asyncio.sleep(0.1)
            assert resp.status == 200
        finally:
            revived.stop()
    _no_tracebacks(proxy.records)


async def test_socks_frozen_mid_session(upstream: Upstream, socks_v4: Microsocks, secure_proxy: StartProxy) -> None:
    """SOCKS stops answering (SIGSTOP): requests end with 502/504 within the configured timeouts, the
    proxy's own pages stay fast (the loop is never blocked), and traffic flows again after SIGCONT."""
    proxy = await secure_proxy(target=upstream.url, socks=socks_v4.url,
                               env={"DEVPROXY_RESPONSE_TIMEOUT": "2", "DEVPROXY_CONNECT_TIMEOUT": "1"})
    cookie = {"Cookie": f"devproxy_session={proxy.cookie}"}
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(trust_env=False) as session:
        async with session.get(proxy.url + "/echo", headers=cookie, timeout=TIMEOUT) as resp:
            assert resp.status == 200
        ws = await session.ws_connect(proxy.url.replace("http", "ws") + "/ws/echo", headers=cookie)
        os.kill(socks_v4.proc.pid, signal.SIGSTOP)
        try:
            await ws.send_str("into the void")
            began = loop.time()
            async with session.get(proxy.url + "/echo?frozen=1", headers=cookie, timeout=TIMEOUT) as resp:
                assert resp.status in (502, 504)
            assert loop.time() - began < 5
            began = loop.time()
            async with session.get(proxy.url + "/_devproxy/health", timeout=TIMEOUT) as resp:
                assert resp.status == 200
            assert loop.time() - began < 1
        finally:
            os.kill(socks_v4.proc.pid, signal.SIGCONT)
        assert (await ws.receive(timeout=10)).data == "into the void"  # delivered once SOCKS thaws
        await ws.close()
        async with session.get(proxy.url + "/echo", headers=cookie, timeout=TIMEOUT) as resp:
            assert resp.status == 200
    _no_tracebacks(proxy.records)
