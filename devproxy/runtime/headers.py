"""Header rewriting between the browser and the target. Pure: lists of (name, value) in, lists out.

Order and repeated headers are kept. Hop-by-hop headers (RFC 9110 §7.6.1, plus any named in
`Connection`) never cross the proxy, and neither do Cloud Run's and IAP's credentials.
`X-Forwarded-Host`/`-Proto` are what satisfy code-server's origin check (DESIGN rule 4).
A header whose name is not an HTTP token or whose value holds a control character (CR, LF, NUL
and the rest; HTAB is allowed) is dropped, so no input can split a head on either side (the
parsers reject most of these already).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Headers = list[tuple[str, str]]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: credentials and identity set by Cloud Run / IAP for devproxy, not for the target.
PLATFORM_ONLY = frozenset(
    {
        "x-serverless-authorization",
        "x-goog-iap-jwt-assertion",
        "x-goog-authenticated-user-email",
        "x-goog-authenticated-user-id",
    }
)
#: set fresh by the proxy toward the target.
FORWARDED = frozenset({"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-prefix"})
#: the WebSocket client library writes these itself for the upstream handshake.
WS_HANDSHAKE = frozenset(
    {
        "host",
        "origin",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)


#: RFC 9110 §5.1: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TCHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: RFC 9110 §5.5: no control characters but HTAB in a value (CR/LF/NUL would split the head).
_LINE_BREAKING = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def safe_field(name: str, value: str) -> bool:
    """True when the header can be written without splitting the head (token name, no control characters)."""
    return _TOKEN.fullmatch(name) is not None and _LINE_BREAKING.search(value) is None


def _all_safe(headers: Sequence[tuple[str, str]]) -> bool:
    """`safe_field` for every header at once (a few C-speed scans per request instead of two per header)."""
    names = [n for n, _ in headers]
    if not names:
        return True
    if "" in names or _LINE_BREAKING.search("".join([v for _, v in headers])) is not None:
        return False
    try:
        return not "".join(names).encode("ascii").translate(None, _TCHARS)
    except UnicodeEncodeError:
        return False


@dataclass(frozen=True, slots=True)
class Forwarding:
    """What the proxy knows about the browser's request, for X-Forwarded-*."""

    client_ip: str | None
    public_host: str | None  # the Host the browser used
    public_scheme: str  # "https" behind Cloud Run


def header_text(raw: bytes) -> str:
    """A raw header name or value as text that both HTTP libraries write back byte for byte.

    aiohttp encodes header text as UTF-8 on the way out, so UTF-8 bytes (a file name in
    Content-Disposition, say) must be decoded as UTF-8 to survive; anything else falls back to
    Latin-1, the only reading that never fails.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def connection_tokens(headers: Iterable[tuple[str, str]]) -> frozenset[str]:
    """Header names listed in `Connection` (they are hop-by-hop too)."""
    tokens: set[str] = set()
    for name, value in headers:
        if name.lower() == "connection":
            tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return frozenset(tokens)


def public_host(host: str | None, scheme: str) -> str | None:
    """The Host header without the scheme's default port (code-server compares host[:port])."""
    if not host:
        return None
    default = ":443" if scheme == "https" else ":80"
    if host.endswith(default):
        return host[: -len(default)]
    return host


def _first(headers: Sequence[tuple[str, str]], lname: str) -> str | None:
    for name, value in headers:
        if name.lower() == lname:
            return value
    return None


def forwarded_scheme(headers: Sequence[tuple[str, str]], fallback: str) -> str:
    """X-Forwarded-Proto as set by Cloud Run's front end, else the fallback."""
    value = _first(headers, "x-forwarded-proto")
    if value:
        first = value.split(",")[0].strip().lower()
        if first in ("http", "https"):
            return first
    return fallback


def forwarding_values(headers: Sequence[tuple[str, str]], fwd: Forwarding) -> Headers:
    """X-Forwarded-For (appended to the incoming chain), -Host and -Proto for the target."""
    out: Headers = []
    chain = [v.strip() for n, v in headers if n.lower() == "x-forwarded-for" and v.strip()]
    if fwd.client_ip:
        chain.append(fwd.client_ip)
    if chain:
        out.append(("X-Forwarded-For", ", ".join(chain)))
    host = public_host(fwd.public_host, fwd.public_scheme)
    if host:
        out.append(("X-Forwarded-Host", host))
    out.append(("X-Forwarded-Proto", fwd.public_scheme))
    return out if _all_safe(out) else [(n, v) for n, v in out if safe_field(n, v)]


def request_headers(
    headers: Sequence[tuple[str, str]],
    *,
    target_host: str,
    fwd: Forwarding | None,
    drop: frozenset[str] = frozenset(),
    cookie: str | None | bool = True,
) -> Headers:
    """Headers for the target's HTTP request: Host rewritten, hop-by-hop and platform headers dropped.

    `cookie=True` keeps Cookie as is; a string replaces it (devproxy's own cookie removed);
    None or False drops it.
    """
    skip = HOP_BY_HOP | PLATFORM_ONLY | FORWARDED | connection_tokens(headers) | drop
    check = not _all_safe(headers)
    out: Headers = []
    host_done = False
    for name, value in headers:
        lname = name.lower()
        if lname in skip or lname == "expect" or (check and not safe_field(name, value)):
            continue
        if lname == "host":
            if not host_done:
                out.append((name, target_host))
                host_done = True
            continue
        if lname == "cookie" and cookie is not True:
            continue
        out.append((name, value))
    if not host_done:
        out.insert(0, ("Host", target_host))
    if isinstance(cookie, str) and cookie and safe_field("Cookie", cookie):
        out.append(("Cookie", cookie))
    if fwd is not None:
        out.extend(forwarding_values(headers, fwd))
    return out


def ws_request_headers(
    headers: Sequence[tuple[str, str]],
    *,
    fwd: Forwarding | None,
    cookie: str | None | bool = True,
) -> Headers:
    """Extra headers for the upstream WebSocket handshake (the client library adds Host, Origin, Sec-*)."""
    out = request_headers(headers, target_host="", fwd=fwd, drop=WS_HANDSHAKE, cookie=cookie)
    return [(n, v) for n, v in out if n.lower() != "host"]


def response_headers(headers: Iterable[tuple[str, str]]) -> Headers:
    """The target's response headers minus hop-by-hop ones, order and repeats kept."""
    items = list(headers)
    skip = HOP_BY_HOP | connection_tokens(items)
    if _all_safe(items):
        return [(n, v) for n, v in items if n.lower() not in skip]
    return [(n, v) for n, v in items if n.lower() not in skip and safe_field(n, v)]


def subprotocols(headers: Sequence[tuple[str, str]]) -> list[str]:
    """The browser's requested WebSocket subprotocols, in order."""
    found: list[str] = []
    for name, value in headers:
        if name.lower() == "sec-websocket-protocol":
            found.extend(p.strip() for p in value.split(",") if p.strip())
    return found


def strip_cookie(cookie_header: str, name: str) -> str | None:
    """The Cookie header without cookie `name`, the others byte for byte; None when nothing is left."""
    parts = cookie_header.split(";")
    kept = [part for part in parts if part.split("=", 1)[0].strip() != name]
    if not any(part.strip() for part in kept):
        return None
    if len(kept) == len(parts):
        return cookie_header
    return ";".join(kept).lstrip()
