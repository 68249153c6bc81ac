"""Header rewriting (pure): what the target and the browser each get."""

from __future__ import annotations

import pytest

from devproxy.runtime import closecodes
from devproxy.runtime.headers import (
    Forwarding,
    public_host,
    request_headers,
    response_headers,
    strip_cookie,
    subprotocols,
    ws_request_headers,
)

FWD = Forwarding(client_ip="198.51.100.9", public_host="dev.run.app:443", public_scheme="https")


def test_request_headers_order_host_and_forwarded() -> None:
    """Host becomes the target's; hop-by-hop gone; X-Forwarded-* appended last."""
    out = request_headers(
        [("Host", "dev.run.app"), ("A", "1"), ("Connection", "close, X-Hop"), ("X-Hop", "x"), ("A", "2"),
         ("X-Forwarded-Host", "spoofed"), ("Expect", "100-continue")],
        target_host="100.1.2.3:8888",
        fwd=FWD,
    )
    assert out == [
        ("Host", "100.1.2.3:8888"), ("A", "1"), ("A", "2"),
        ("X-Forwarded-For", "198.51.100.9"), ("X-Forwarded-Host", "dev.run.app"), ("X-Forwarded-Proto", "https"),
    ]


def test_request_headers_without_forwarding() -> None:
    out = request_headers([("Host", "x")], target_host="t", fwd=None)
    assert out == [("Host", "t")]


def test_cookie_replacement() -> None:
    out = request_headers([("Cookie", "a=1; dp=2")], target_host="t", fwd=None, cookie="a=1")
    assert out == [("Host", "t"), ("Cookie", "a=1")]
    assert request_headers([("Cookie", "dp=2")], target_host="t", fwd=None, cookie=None) == [("Host", "t")]


def test_ws_headers_leave_handshake_to_the_library() -> None:
    out = ws_request_headers(
        [("Host", "h"), ("Origin", "https://h"), ("Sec-WebSocket-Key", "k"), ("Sec-WebSocket-Version", "13"),
         ("Sec-WebSocket-Extensions", "permessage-deflate"), ("Sec-WebSocket-Protocol", "p"),
         ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Cookie", "c=1")],
        fwd=None,
    )
    assert out == [("Cookie", "c=1")]


def test_response_headers_drop_hop_by_hop_keep_repeats() -> None:
    out = response_headers([("Set-Cookie", "a"), ("Transfer-Encoding", "chunked"), ("Connection", "X-Y"),
                            ("X-Y", "1"), ("Set-Cookie", "b"), ("Content-Encoding", "gzip")])
    assert out == [("Set-Cookie", "a"), ("Set-Cookie", "b"), ("Content-Encoding", "gzip")]


@pytest.mark.parametrize(
    ("host", "scheme", "expected"),
    [("a.run.app:443", "https", "a.run.app"), ("a:80", "http", "a"), ("a:8443", "https", "a:8443"),
     ("[::1]:443", "https", "[::1]"), ("a:443", "http", "a:443"), (None, "https", None)],
)
def test_public_host(host: str | None, scheme: str, expected: str | None) -> None:
    """code-server compares host[:port]: the default port must go."""
    assert public_host(host, scheme) == expected


def test_subprotocols_in_order() -> None:
    assert subprotocols([("Sec-WebSocket-Protocol", "a, b"), ("Sec-WebSocket-Protocol", "c")]) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("a=1; devproxy_session=x; b=2", "a=1; b=2"), ("devproxy_session=x", None), ("a=1", "a=1")],
)
def test_strip_cookie(header: str, expected: str | None) -> None:
    assert strip_cookie(header, "devproxy_session") == expected


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [(4001, "bye", (4001, "bye")), (1000, "", (1000, "")), (None, "", (1011, "the target or the tailnet path to it closed the connection")),
     (1006, "", (1011, "the target or the tailnet path to it closed the connection")), (1005, "", (1000, "")), (1015, "", (1011, "the target or the tailnet path to it closed the connection")),
     (999, "", (1011, "invalid close code 999")), (1001, "é" * 100, (1001, "é" * 61))],
)
def test_close_code_relay(code: int | None, reason: str, expected: tuple[int, str]) -> None:
    """Codes cross unchanged when sendable; a vanished peer is 1011, never 1006."""
    assert closecodes.relay(code, reason) == expected


def test_headers_that_would_split_a_head_are_dropped() -> None:
    """A name that is not a token, or a value with a control character, never crosses either way."""
    incoming = [("X-Ok", "a\tb"), ("X-Bad", "a\r\nInjected: 1"), ("X-Nul", "a\x00"), ("Bad Name", "v"),
                ("Transfer-Encoding ", "chunked"), ("X-Del", "\x7f")]
    assert request_headers(incoming, target_host="t", fwd=None) == [("Host", "t"), ("X-Ok", "a\tb")]
    assert response_headers(incoming) == [("X-Ok", "a\tb")]
    fwd = Forwarding(client_ip="1.2.3.4\r\nX: y", public_host="evil\nX: y", public_scheme="https")
    assert request_headers([], target_host="t", fwd=fwd) == [("Host", "t"), ("X-Forwarded-Proto", "https")]
