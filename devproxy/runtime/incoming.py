"""What the handlers read from the browser's request as it came: the raw headers, whether it upgrades."""

from __future__ import annotations

from aiohttp import web

from devproxy.runtime.headers import header_text


def is_websocket(request: web.BaseRequest) -> bool:
    """A WebSocket upgrade (RFC 6455 §4.1: a GET with Upgrade: websocket)."""
    return request.method == "GET" and "websocket" in request.headers.get("Upgrade", "").lower()


def raw_headers(request: web.Request) -> list[tuple[str, str]]:
    """The browser's headers as sent: order and repeats kept."""
    return [(header_text(k), header_text(v)) for k, v in request.raw_headers]
