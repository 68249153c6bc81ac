"""Request smuggling and pipelining over raw sockets: the target sees only what devproxy authenticated."""

from __future__ import annotations

import pytest

from conftest import Recorded, StartProxy, raw_exchange, statuses

SMUGGLED = b"GET /echo/smuggled HTTP/1.1\r\nHost: a\r\n\r\n"

#: (name, head lines after the request line, body): each tries to hide SMUGGLED from devproxy's parser.
ATTACKS = [
    ("cl-te", [b"Content-Length: 4", b"Transfer-Encoding: chunked"], b"0\r\n\r\n" + SMUGGLED),
    ("te-cl", [b"Transfer-Encoding: chunked", b"Content-Length: 60"], b"0\r\n\r\n" + SMUGGLED),
    ("two-cl", [b"Content-Length: 0", b"Content-Length: 40"], SMUGGLED),
    ("cl-list", [b"Content-Length: 0, 40"], SMUGGLED),
    ("cl-plus", [b"Content-Length: +0"], SMUGGLED),
    ("te-xchunked", [b"Transfer-Encoding: xchunked", b"Content-Length: 0"], SMUGGLED),
    ("te-chunked-identity", [b"Transfer-Encoding: chunked, identity"], b"0\r\n\r\n" + SMUGGLED),
    ("te-identity-chunked", [b"Transfer-Encoding: identity, chunked"], b"0\r\n\r\n" + SMUGGLED),
    ("te-space-name", [b"Transfer-Encoding : chunked"], b"0\r\n\r\n" + SMUGGLED),
    ("te-tab", [b"Transfer-Encoding:\tchunked"], b"0\r\n\r\n" + SMUGGLED),
    ("te-twice", [b"Transfer-Encoding: chunked", b"Transfer-Encoding: identity"], b"0\r\n\r\n" + SMUGGLED),
    ("te-folded", [b"Transfer-Encoding:", b" chunked"], b"0\r\n\r\n" + SMUGGLED),
    ("te-vtab", [b"Transfer-Encoding:\x0bchunked"], b"0\r\n\r\n" + SMUGGLED),
    ("chunk-hex-prefix", [b"Transfer-Encoding: chunked"], b"0x0\r\n\r\n" + SMUGGLED),
    ("chunk-negative", [b"Transfer-Encoding: chunked"], b"-1\r\n\r\n" + SMUGGLED),
    ("chunk-huge", [b"Transfer-Encoding: chunked"], b"fffffffffffffffff\r\n\r\n" + SMUGGLED),
    ("chunk-lf-only", [b"Transfer-Encoding: chunked"], b"0\n\n" + SMUGGLED),
    ("chunk-ext-crlf", [b"Transfer-Encoding: chunked"], b"0;x=\"\r\n\"\r\n\r\n" + SMUGGLED),
    ("bare-lf-head", [b"X-A: 1\nContent-Length: 40"], SMUGGLED),
    ("bare-cr-head", [b"X-A: 1\rContent-Length: 40"], SMUGGLED),
    ("nul-in-value", [b"X-A: 1\x00Content-Length: 40"], SMUGGLED),
]


@pytest.mark.parametrize(("name", "lines", "body"), ATTACKS, ids=[a[0] for a in ATTACKS])
async def test_smuggled_requests_never_reach_the_target(name: str, lines: list[bytes], body: bytes,
                                                        recorded: Recorded, secure_proxy: StartProxy) -> None:
    """With a valid session on the outer request, the hidden unauthenticated one never reaches the target:
    the proxy refuses the framing (400), or reads the hidden bytes as a body or as its own request (401)."""
    proxy = await secure_proxy(target=recorded.url)
    head = b"\r\n".join([b"POST /echo HTTP/1.1", b"Host: a", b"Cookie: devproxy_session=" + proxy.cookie.encode(),
                         *lines]) + b"\r\n\r\n"
    answer = await raw_exchange(proxy.port, head + body, read_for=1)
    codes = statuses(answer)
    assert codes and all(code in (200, 400, 401, 413, 501) for code in codes), (codes, answer[:300])
    assert "/echo/smuggled" not in recorded.paths()
    for _, _, headers in recorded.seen:  # whatever got through carries one framing header at most
        framing = [n.lower() for n, _ in headers if n.lower() in ("content-length", "transfer-encoding")]
        assert len(framing) <= 1, headers


async def test_pipelined_requests_are_each_checked(recorded: Recorded, secure_proxy: StartProxy) -> None:
    """Three requests in one write, the middle one without a session: 200, 401, 200, in order, and the
    target sees only the first and the last."""
    proxy = await secure_proxy(target=recorded.url)
    cookie = b"Cookie: devproxy_session=" + proxy.cookie.encode() + b"\r\n"
    data = (b"GET /echo?n=1 HTTP/1.1\r\nHost: a\r\n" + cookie + b"\r\n"
            b"GET /echo?n=2 HTTP/1.1\r\nHost: a\r\n\r\n"
            b"POST /echo?n=3 HTTP/1.1\r\nHost: a\r\n" + cookie + b"Content-Length: 5\r\nConnection: close\r\n\r\nhello")
    answer = await raw_exchange(proxy.port, data, read_for=5)
    assert statuses(answer) == [200, 401, 200]
    assert recorded.paths() == ["/echo?n=1", "/echo?n=3"]


async def test_a_pipelined_upgrade_after_a_request_needs_its_own_session(recorded: Recorded,
                                                                         secure_proxy: StartProxy) -> None:
    """An authenticated request followed, on the same connection, by an unauthenticated upgrade: 200 then 401."""
    proxy = await secure_proxy(target=recorded.url)
    data = (b"GET /echo HTTP/1.1\r\nHost: a\r\nCookie: devproxy_session=" + proxy.cookie.encode() + b"\r\n\r\n"
            b"GET /ws/echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    answer = await raw_exchange(proxy.port, data, read_for=3)
    assert statuses(answer) == [200, 401]
    assert recorded.paths() == ["/echo"]
