"""Liveness and readiness: readiness is a full SOCKS handshake + CONNECT to the target."""

from __future__ import annotations

import aiohttp

from conftest import StartProxy, Upstream
from support.socks import Microsocks, free_port


async def test_health_is_always_200(start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    proxy = await start_proxy(target=f"http://127.0.0.1:{free_port()}")
    async with client.get(proxy.url + "/_devproxy/health") as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] == "ok"


async def test_ready_when_target_answers_through_socks(upstream: Upstream, socks_v4: Microsocks,
                                                       start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """200 with a JSON check naming the target, the SOCKS path and the latency; microsocks saw the CONNECT."""
    proxy = await start_proxy(target=upstream.url, socks=socks_v4.url)
    async with client.get(proxy.url + "/_devproxy/ready") as resp:
        assert resp.status == 200
        body = await resp.json()
    check = body["checks"]["target"]
    assert body["ready"] is True and check["ok"] is True
    assert check["via"] == socks_v4.url and check["socks_address"] == "127.0.0.1"
    assert check["latency_ms"] >= 0
    assert "--auth none" in body["warning"]
    assert socks_v4.connections() == [f"127.0.0.1:{upstream.port}"]
    assert proxy.events("ready.changed")[-1]["ready"] is True


async def test_not_ready_when_socks_is_down(upstream: Upstream, start_proxy: StartProxy,
                                            client: aiohttp.ClientSession) -> None:
    """503 with the reason when no SOCKS server answers."""
    proxy = await start_proxy(target=upstream.url, socks=f"socks5://127.0.0.1:{free_port()}")
    async with client.get(proxy.url + "/_devproxy/ready") as resp:
        assert resp.status == 503
        body = await resp.json()
    assert body["ready"] is False
    assert "no SOCKS server answered" in body["checks"]["target"]["error"]


async def test_not_ready_when_target_refuses(socks_v4: Microsocks, start_proxy: StartProxy,
                                             client: aiohttp.ClientSession) -> None:
    """503 when the SOCKS server is up but the target is not."""
    proxy = await start_proxy(target=f"http://127.0.0.1:{free_port()}", socks=socks_v4.url)
    async with client.get(proxy.url + "/_devproxy/ready") as resp:
        assert resp.status == 503
        assert "refused" in (await resp.json())["checks"]["target"]["error"]


async def test_devproxy_pages_answer_head_and_refuse_other_methods(start_proxy: StartProxy,
                                                                   client: aiohttp.ClientSession) -> None:
    """HEAD works wherever GET does; other methods get 405 with Allow; nothing under /_devproxy/ is proxied."""
    proxy = await start_proxy(target=f"http://127.0.0.1:{free_port()}")
    async with client.head(proxy.url + "/_devproxy/health") as resp:
        assert resp.status == 200
    async with client.post(proxy.url + "/_devproxy/health") as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET, HEAD"
    assert not proxy.events("http.access")
