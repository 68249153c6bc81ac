"""The tunnel module's probe, as the watchdog and readiness use it: a full SOCKS greeting + CONNECT through microsocks."""

from __future__ import annotations

from conftest import Upstream
from devproxy.runtime.watchdog import socks_probe
from support.socks import Microsocks, free_port


async def test_watchdog_probe_goes_through_the_tunnel_module(upstream: Upstream, socks_v4: Microsocks) -> None:
    """The watchdog's probe is a full SOCKS greeting + CONNECT through microsocks: None when the target
    answers, the tunnel's own words when nothing listens or no SOCKS server answers."""
    assert await socks_probe(socks_v4.host, socks_v4.port, "127.0.0.1", upstream.port, 5) is None
    assert socks_v4.connections() == [f"127.0.0.1:{upstream.port}"]
    refused = await socks_probe(socks_v4.host, socks_v4.port, "127.0.0.1", free_port(), 5)
    assert refused is not None and "could not reach" in refused
    nobody = await socks_probe("127.0.0.1", free_port(), "127.0.0.1", upstream.port, 5)
    assert nobody is not None and "no SOCKS server answered" in nobody
