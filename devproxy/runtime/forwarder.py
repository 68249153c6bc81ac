"""The target side of every proxied request: config, tunnel dialer, keep-alive pool, header policy, log.

Built once by the composition root (root.py), fully initialised and frozen; the HTTP forwarder and
the WebSocket bridge take it as their one dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from devproxy.runtime.config import RuntimeConfig
from devproxy.runtime.tunnel import Dialer, Tunnel, tunnel_to
from devproxy.runtime.headers import Forwarding, forwarded_scheme, strip_cookie
from devproxy.runtime.log import EventLog
from devproxy.runtime.upstream_http import Pool


@dataclass(frozen=True, slots=True)
class HeaderPolicy:
    """What the target is told about the browser: X-Forwarded-* facts, and the Cookie without devproxy's own."""

    #: X-Forwarded-* on (off only through a test switch).
    forwarded_headers: bool
    #: the scheme browsers use when the runtime knows it (Cloud Run: https), else the request's own.
    public_scheme: str | None
    #: devproxy's own cookie, removed before the target sees the Cookie header (None: nothing removed).
    cookie_name: str | None

    def forwarding(self, request: web.Request, headers: list[tuple[str, str]]) -> Forwarding | None:
        """X-Forwarded-* facts for this request (None when the test-only switch turns them off)."""
        if not self.forwarded_headers:
            return None
        scheme = forwarded_scheme(headers, self.public_scheme or request.scheme)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        client_ip = str(peer[0]) if peer else None
        return Forwarding(client_ip=client_ip, public_host=request.host, public_scheme=scheme)

    def cookie_for_target(self, headers: list[tuple[str, str]]) -> str | bool | None:
        """The Cookie header for the target: as sent, or without devproxy's own cookie."""
        if not self.cookie_name:
            return True
        values = [v for n, v in headers if n.lower() == "cookie"]
        if not values:
            return True
        return strip_cookie("; ".join(values), self.cookie_name)


@dataclass(frozen=True, slots=True)
class Forwarder:
    """Everything needed to reach the target for one request, shared by all of them."""

    config: RuntimeConfig
    #: the way to the target (dial, TLS): the pool's and the WebSocket leg's.
    tunnel: Tunnel
    #: keep-alive tunnel connections to the target (the one upstream HTTP client).
    pool: Pool
    headers: HeaderPolicy
    log: EventLog

    def close(self) -> None:
        """Close the pooled tunnel connections (at shutdown)."""
        self.pool.close()


def create_forwarder(config: RuntimeConfig, dialer: Dialer, log: EventLog, *, cookie_name: str | None) -> Forwarder:
    """The forwarder for `config`, with its pool and header policy."""
    target = config.target
    tunnel = tunnel_to(dialer, target.host, target.port, https=target.scheme == "https")
    return Forwarder(
        config=config,
        tunnel=tunnel,
        pool=Pool(tunnel),
        headers=HeaderPolicy(config.forwarded_headers, config.public_scheme, cookie_name),
        log=log,
    )
