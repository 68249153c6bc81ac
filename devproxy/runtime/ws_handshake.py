"""The WebSocket opening handshake as the relay sees it. Pure: headers in, verdicts and bytes out.

The browser's upgrade is checked before anything is dialed (a bad one costs no tunnel
connection). It is then forwarded to the target with the proxy's usual header rewriting, its
Sec-WebSocket-Key, -Version, -Protocol and -Extensions passed through so that the two ends
negotiate subprotocol and compression with each other; the target's own 101 (or refusal) is
what the browser gets.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from devproxy.runtime import headers as hdr

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: headers a 101 must not carry on to the browser (it has no body; the upgrade is stated anew).
_UPGRADE_HEADERS = frozenset({"content-length", "date", "server"})


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the browser's upgrade request is refused before dialing: an HTTP status and a line."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


def _values(headers: Sequence[tuple[str, str]], lname: str) -> list[str]:
    return [v for n, v in headers if n.lower() == lname]


def _tokens(headers: Sequence[tuple[str, str]], lname: str) -> set[str]:
    return {t.strip().lower() for v in _values(headers, lname) for t in v.split(",")}


def check_browser(version: tuple[int, int], headers: Sequence[tuple[str, str]]) -> Refusal | None:
    """None when the upgrade request is a valid RFC 6455 §4.2.1 handshake, else the refusal."""
    if version < (1, 1):
        return Refusal(400, "a WebSocket upgrade needs HTTP/1.1")
    if "upgrade" not in _tokens(headers, "connection"):
        return Refusal(400, "the WebSocket upgrade lacks 'Connection: Upgrade'")
    keys = _values(headers, "sec-websocket-key")
    if len(keys) != 1:
        return Refusal(400, "the WebSocket upgrade needs exactly one Sec-WebSocket-Key")
    try:
        raw = base64.b64decode(keys[0].strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        return Refusal(400, "Sec-WebSocket-Key is not 16 bytes in base64")
    if _values(headers, "content-length") or _values(headers, "transfer-encoding"):
        # the target would read a body where the relay sees frames: the two would disagree on where frames start
        return Refusal(400, "a WebSocket upgrade must not carry a body (Content-Length or Transfer-Encoding)")
    if _values(headers, "sec-websocket-version") != ["13"]:
        return Refusal(426, "only WebSocket version 13 is supported", (("Sec-WebSocket-Version", "13"),))
    return None


def accept_for(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer `key` with."""
    return base64.b64encode(hashlib.sha1(key.strip().encode("ascii") + GUID).digest()).decode("ascii")


def upstream_headers(
    headers: Sequence[tuple[str, str]],
    *,
    target_host: str,
    fwd: hdr.Forwarding | None,
    cookie: str | None | bool,
) -> hdr.Headers:
    """The target's upgrade request headers: the browser's, rewritten like any request, plus the upgrade."""
    out = hdr.request_headers(headers, target_host=target_host, fwd=fwd, cookie=cookie)
    return out + [("Upgrade", "websocket"), ("Connection", "Upgrade")]


def check_switch(browser_key: str, response_headers: Sequence[tuple[str, str]]) -> str | None:
    """None when the target's 101 completes the browser's handshake, else what is wrong with it."""
    if "websocket" not in _tokens(response_headers, "upgrade"):
        return "the target's 101 does not upgrade to websocket"
    if _values(response_headers, "sec-websocket-accept") != [accept_for(browser_key)]:
        return "the target's 101 has a wrong Sec-WebSocket-Accept"
    return None


def browser_switch_headers(response_headers: Sequence[tuple[str, str]]) -> hdr.Headers:
    """The headers of the 101 for the browser: the target's own, with the upgrade stated once."""
    kept = [(n, v) for n, v in hdr.response_headers(response_headers) if n.lower() not in _UPGRADE_HEADERS]
    return [("Upgrade", "websocket"), ("Connection", "Upgrade")] + kept


def subprotocol(response_headers: Sequence[tuple[str, str]]) -> str | None:
    """The subprotocol the target chose, if any."""
    values = _values(response_headers, "sec-websocket-protocol")
    return values[0].strip() if values else None
