"""The small responses devproxy's access control answers with itself: an HTML page or one line of text."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from devproxy.runtime.pages import PAGE_HEADERS


def html_response(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """One of devproxy's pages, with its safe headers (no framing, caching or scripts)."""
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8",
        headers={**PAGE_HEADERS, **(headers or {})},
    )


def plain_response(text: str, status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    """One line of text for scripts and WebSocket clients."""
    return web.Response(
        text=text, status=status, content_type="text/plain", charset="utf-8",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def wants_html(request: web.Request) -> bool:
    """A page load (a browser navigating), which gets a page or a redirect rather than a bare status."""
    return (
        request.method in ("GET", "HEAD")
        and (
            "text/html" in request.headers.get("Accept", "")
            or request.headers.get("Sec-Fetch-Mode", "") == "navigate"
        )
    )
