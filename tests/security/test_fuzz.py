"""Property tests of the pure parsers and the header rewriting, with inputs an attacker could choose."""

from __future__ import annotations

import string
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from devproxy.runtime.ratelimit import client_ip
from devproxy.runtime.sessions import (
    COOKIE_NAME,
    TOKEN_PARAM,
    cookie_values,
    make_session,
    safe_next,
    session_key,
    session_problem,
    without_param,
)
from devproxy.runtime.headers import (
    HOP_BY_HOP,
    PLATFORM_ONLY,
    WS_HANDSHAKE,
    Forwarding,
    connection_tokens,
    request_headers,
    response_headers,
    strip_cookie,
    ws_request_headers,
)
from devproxy.runtime.redact import MASK, Redactor
from devproxy.runtime.http_wire import request_head

FUZZ = settings(max_examples=300, deadline=None)
NASTY = "\r\n\x00\t ;,=:\"\\/%\x7f\u0085\u2028é"
TEXT = st.text(alphabet=st.sampled_from(string.printable + NASTY), max_size=40)
KNOWN_NAMES = sorted(HOP_BY_HOP | PLATFORM_ONLY | WS_HANDSHAKE | {"host", "cookie", "x-forwarded-for",
                                                                   "x-forwarded-host", "expect", "x-hop"})


@st.composite
def names(draw: st.DrawFn) -> str:
    """Header names: well-known ones in any case (sometimes with a stray byte), or anything."""
    if draw(st.booleans()):
        name = "".join(c.upper() if draw(st.booleans()) else c for c in draw(st.sampled_from(KNOWN_NAMES)))
        if draw(st.integers(0, 4)) == 0:
            name += draw(st.sampled_from([" ", "\r\n", "\x00", ":"]))
        return name
    return draw(TEXT)


@st.composite
def cookie_headers(draw: st.DrawFn) -> str:
    """A Cookie header mixing devproxy's cookie (odd spacing, quotes, repeats) with others."""
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            space = draw(st.sampled_from(["", " ", "  ", "\t"]))
            parts.append(f"{space}{COOKIE_NAME}{space}={draw(TEXT.filter(lambda v: ';' not in v))}")
        else:
            parts.append(draw(TEXT))
    return ";".join(parts)


HEADERS = st.lists(st.tuples(names(), TEXT) | st.tuples(st.just("Cookie"), cookie_headers()), max_size=12)
FORWARDING = st.builds(Forwarding, client_ip=st.none() | TEXT, public_host=st.none() | TEXT,
                       public_scheme=st.sampled_from(["http", "https"]))


def _cookie_for_target(headers: list[tuple[str, str]]) -> str | bool | None:
    """What the proxy hands request_headers: the browser's Cookie headers without devproxy's cookie."""
    values = [v for n, v in headers if n.lower() == "cookie"]
    return strip_cookie("; ".join(values), COOKIE_NAME) if values else True


def _assert_clean_head(out: list[tuple[str, str]], incoming: list[tuple[str, str]]) -> None:
    hop = HOP_BY_HOP | PLATFORM_ONLY | connection_tokens(incoming)
    for name, value in out:
        assert not set("\r\n\x00") & set(name + value), (name, value)
        assert name.lower() not in hop, name
    assert cookie_values([v for n, v in out if n.lower() == "cookie"], COOKIE_NAME) == []


@FUZZ
@given(HEADERS, st.none() | FORWARDING)
def test_request_headers_never_split_the_head_or_leak(headers: list[tuple[str, str]], fwd: Forwarding | None) -> None:
    """Whatever the browser sends: no CR/LF/NUL reaches the target's head, no hop-by-hop or platform
    header passes, devproxy's cookie is gone, and there is exactly one Host (the target's)."""
    out = request_headers(headers, target_host="100.64.0.7:8888", fwd=fwd, cookie=_cookie_for_target(headers))
    _assert_clean_head(out, headers)
    assert [v for n, v in out if n.lower() == "host"] == ["100.64.0.7:8888"]
    request_head("GET", "/p", out)  # the lean client's writer accepts it (it refuses control characters)


@FUZZ
@given(HEADERS, st.none() | FORWARDING)
def test_websocket_headers_never_split_the_head_or_leak(headers: list[tuple[str, str]],
                                                        fwd: Forwarding | None) -> None:
    """The upstream handshake's extra headers obey the same rules and leave the handshake to the library."""
    out = ws_request_headers(headers, fwd=fwd, cookie=_cookie_for_target(headers))
    _assert_clean_head(out, headers)
    assert not {n.lower() for n, _ in out} & WS_HANDSHAKE


@FUZZ
@given(st.lists(st.tuples(names(), TEXT), max_size=12))
def test_response_headers_never_carry_hop_by_hop_or_line_breaks(headers: list[tuple[str, str]]) -> None:
    """The target's answer reaches the browser without hop-by-hop headers or a split head."""
    out = response_headers(headers)
    skip = HOP_BY_HOP | connection_tokens(headers)
    assert all(n.lower() not in skip and not set("\r\n\x00") & set(n + v) for n, v in out)


@FUZZ
@given(cookie_headers())
def test_strip_cookie_removes_only_devproxys_cookie(header: str) -> None:
    """The stripped header holds no devproxy cookie, and every other cookie survives byte for byte."""
    stripped = strip_cookie(header, COOKIE_NAME)
    assert cookie_values([stripped or ""], COOKIE_NAME) == []
    for part in header.split(";"):
        if part.split("=", 1)[0].strip() != COOKIE_NAME and part.strip():
            assert stripped is not None and part.strip() in stripped


@FUZZ
@given(TEXT | st.builds(lambda a, b: a + b, st.sampled_from(["/", "//", "/\\", "/%2f", "http:", "/\t/"]), TEXT))
def test_safe_next_never_leaves_the_site(value: str) -> None:
    """The post-login redirect is a local path whatever `next` holds."""
    result = safe_next(value)
    parts = urlsplit(result)
    assert result.startswith("/") and not result.startswith("//")
    assert not parts.scheme and not parts.netloc
    assert "\\" not in result and all(0x20 <= ord(c) != 0x7F for c in result)


@FUZZ
@given(TEXT, st.lists(TEXT, max_size=4))
def test_without_param_drops_the_token_and_stays_local(path: str, extra: list[str]) -> None:
    """After a login link the redirect has no token parameter and cannot point at another host."""
    query = "&".join([f"{TOKEN_PARAM}=secret", *extra])
    result = without_param(f"/{path}?{query}", TOKEN_PARAM)
    assert result.startswith("/") and not result.startswith("//")
    assert f"{TOKEN_PARAM}=secret" not in result.split("?", 1)[-1].split("&") or "?" not in result


KEY = session_key("fuzz-token-0123456789abcdef")


@FUZZ
@given(TEXT, st.integers(0, 200), st.sampled_from(string.ascii_letters + string.digits + "-_."))
def test_sessions_cannot_be_forged(value: str, position: int, char: str) -> None:
    """Arbitrary values never parse as a session, and neither does a real one with any byte changed."""
    now = 1_800_000_000.0
    assert session_problem(KEY, value, now, 86400.0) is not None
    real = make_session(KEY, now, 86400.0, "nonce-abc")
    assert session_problem(KEY, real, now, 86400.0) is None
    position %= len(real)
    forged = real[:position] + char + real[position + 1:]
    if forged != real:
        assert session_problem(KEY, forged, now, 86400.0) is not None


SECRET = "tok-" + "9f8e7d6c5b4a3928" * 2


@FUZZ
@given(TEXT, TEXT, st.sampled_from(["{s}", "devproxy_token={s}", "devproxy_token%3D{s}", "b'{s}\\x01'",
                                     "Cookie: devproxy_session={c}", "{c}...", "devproxy_session={c}"]))
def test_redaction_masks_secrets_anywhere(prefix: str, suffix: str, shape: str) -> None:
    """The token and any session value are masked whatever surrounds them in a message."""
    cookie = make_session(KEY, 1_800_000_000.0, 86400.0, "n0nce_XYZ")
    text = prefix + shape.format(s=SECRET, c=cookie) + suffix
    masked = Redactor([SECRET]).text(text)
    assert SECRET not in masked and cookie not in masked and MASK in masked


@FUZZ
@given(st.none() | TEXT, st.none() | TEXT, st.integers(0, 3))
def test_client_ip_comes_from_the_peer_or_a_trusted_hop(xff: str | None, peer: str | None, hops: int) -> None:
    """The rate-limit key is the peer, or (behind trusted hops) the entry the nearest trusted hop appended."""
    result = client_ip(xff, peer, hops)
    if hops == 0 or not xff:
        assert result == (peer or "unknown")
    else:
        entries = [e.strip() for e in xff.split(",")]
        assert result in (peer or "unknown", *(entries[-hops:][:1]))
