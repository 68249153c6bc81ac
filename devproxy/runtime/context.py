"""What every proxy handler shares: config, dialer, the pool of tunnel connections, the log, live sockets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from devproxy.runtime.config import RuntimeConfig
from devproxy.runtime.dial import Dialer
from devproxy.runtime.headers import Forwarding, forwarded_scheme, header_text, strip_cookie
from devproxy.runtime.log import EventLog
from devproxy.runtime.snapshots import BridgeSnapshot

if TYPE_CHECKING:
    from devproxy.runtime.upstream_http import Pool
    from devproxy.runtime.ws_bridge import Bridge


@dataclass
class ProxyContext:
    config: RuntimeConfig
    dialer: Dialer
    log: EventLog
    #: keep-alive tunnel connections to the target (the one upstream HTTP client).
    pool: "Pool | None" = None
    #: devproxy's own cookie, removed before the target sees the Cookie header.
    cookie_name: str | None = None
    bridges: set["Bridge"] = field(default_factory=set)
    stopping: bool = False

    def forwarding(self, request: web.Request, headers: list[tuple[str, str]]) -> Forwarding | None:
        """X-Forwarded-* facts for this request (None when the test-only switch turns them off)."""
        if not self.config.forwarded_headers:
            return None
        fallback = self.config.public_scheme or request.scheme
        scheme = forwarded_scheme(headers, fallback)
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

    def ws_snapshot(self) -> tuple[BridgeSnapshot, ...]:
        return tuple(b.snapshot() for b in list(self.bridges))


def is_websocket(request: web.BaseRequest) -> bool:
    """A WebSocket upgrade (RFC 6455 §4.1: a GET with Upgrade: websocket)."""
    return request.method == "GET" and "websocket" in request.headers.get("Upgrade", "").lower()


def raw_headers(request: web.Request) -> list[tuple[str, str]]:
    """The browser's headers as sent: order and repeats kept."""
    return [(header_text(k), header_text(v)) for k, v in request.raw_headers]
