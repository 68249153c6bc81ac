"""The pure rules of token access: signed session cookie values, cookie parsing, safe redirect targets.

No I/O and no clock of its own: `auth.TokenAccess` passes the time in. A session value is
`v1.<expiry>.<nonce>.<signature>`, an HMAC under a key derived from the access token. Logging out
revokes the session's nonce until the session would have expired (`Revocations`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, unquote, urlsplit

from devproxy.contract import PAGE_PREFIX
from devproxy.runtime.redact import MASK

COOKIE_NAME = "devproxy_session"
TOKEN_PARAM = "devproxy_token"
LOGIN_PATH = PAGE_PREFIX + "login"
LOGOUT_PATH = PAGE_PREFIX + "logout"
SESSION_VERSION = "v1"
DEFAULT_SESSION_DAYS = 30.0
_KEY_LABEL = b"devproxy session cookie v1"
#: revoked sessions kept at most (each needs a login with the token first); the soonest to expire go first.
MAX_REVOKED = 10000
#: what `Sec-Fetch-Site` says of a request another site made the browser send.
_FOREIGN_FETCH_SITES = ("cross-site", "same-site")


def session_key(token: str) -> bytes:
    """The cookie-signing key, derived from the token: a new token invalidates every old cookie."""
    return hmac.new(_KEY_LABEL, token.encode(), hashlib.sha256).digest()


def _sign(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_session(key: bytes, now: float, lifetime_s: float, nonce: str) -> str:
    """A cookie value `v1.<expiry>.<nonce>.<signature>`."""
    payload = f"{SESSION_VERSION}.{int(now + lifetime_s)}.{nonce}"
    return f"{payload}.{_sign(key, payload)}"


def session_problem(key: bytes, value: str, now: float, lifetime_s: float) -> str | None:
    """Why a cookie value is not a valid session (None when it is)."""
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != SESSION_VERSION or not parts[1].isdigit():
        return "malformed session cookie"
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(_sign(key, payload).encode(), parts[3].encode()):
        return "session cookie signature does not match"
    expiry = int(parts[1])
    if expiry <= now:
        return "session cookie expired"
    if expiry > now + lifetime_s + 60:
        # Signed under a longer DEVPROXY_SESSION_DAYS: honour the current, shorter limit.
        return "session cookie outlives the session limit"
    return None


def cookie_values(headers: list[str], name: str) -> list[str]:
    """Every value of cookie `name` in the given Cookie headers (tolerant of odd neighbours)."""
    values = []
    for header in headers:
        for part in header.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key.strip() == name:
                values.append(value.strip().strip('"'))
    return values


def safe_next(value: str | None) -> str:
    """A local path to return to after login; anything that could leave this site becomes "/"."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    # Browsers drop tabs/newlines and read "\" as "/" in URLs: "/\t/evil" and "/\evil" are off-site.
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path in (LOGIN_PATH, LOGOUT_PATH):
        return "/"
    return value


def _escape_unsafe(text: str) -> str:
    """Percent-encode what a browser would reinterpret in a Location: "\\", controls, spaces, non-ASCII."""
    return "".join(
        quote(ch, safe="", errors="surrogateescape") if ch == "\\" or ord(ch) <= 0x20 or ord(ch) >= 0x7F else ch for ch in text
    )


def local_location(raw_path_qs: str) -> str:
    """A request's own path and query as a Location header that cannot leave this site.

    Browsers drop tabs and newlines from URLs and read "\\" as "/", so "/\\evil.example/" or
    "/\t/evil.example" would be followed as "//evil.example": those characters are percent-encoded
    (the target sees the same path either way) and leading slashes collapse to one.
    """
    path, sep, query = raw_path_qs.partition("?")
    path = "/" + _escape_unsafe(path).lstrip("/")
    return f"{path}?{_escape_unsafe(query)}" if sep else path


def without_param(raw_path_qs: str, param: str) -> str:
    """The same local URL without `param` in its query, safe as a Location; other parameters keep their order."""
    path, sep, query = raw_path_qs.partition("?")
    if not sep:
        return local_location(path)
    kept = [item for item in query.split("&") if unquote(item.split("=", 1)[0]) != param]
    rest = "&".join(item for item in kept if item)
    return local_location(f"{path}?{rest}" if rest else path)


def session_nonce(value: str) -> tuple[str, int] | None:
    """(nonce, expiry) of a well-formed session value (check it with `session_problem` first)."""
    parts = value.split(".")
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    return parts[2], int(parts[1])


class Revocations:
    """Sessions ended by logging out: each nonce is kept until its session would have expired anyway."""

    def __init__(self, limit: int = MAX_REVOKED) -> None:
        self._until: dict[str, int] = {}
        self._limit = limit

    def revoke(self, nonce: str, expiry: int, now: float) -> None:
        """End the session `nonce` (valid until `expiry`) from now on."""
        self._until = {n: e for n, e in self._until.items() if e > now}
        if len(self._until) >= self._limit:
            # Full of live sessions: forget the one closest to expiring on its own.
            del self._until[min(self._until, key=self._until.__getitem__)]
        self._until[nonce] = expiry

    def revoked(self, nonce: str) -> bool:
        return nonce in self._until

    def __len__(self) -> int:
        return len(self._until)


def same_origin(origin: str | None, fetch_site: str | None, host: str, scheme: str) -> bool:
    """Whether a state-changing request (logout) came from this site's own pages, not another site's.

    Browsers send `Origin` with every POST; an `Origin` of another host, or "null" (sandboxed or
    privacy-sensitive contexts), or another scheme than this site's `scheme`, is refused. Without `Origin`, `Sec-Fetch-Site` decides; a client
    that sends neither (curl) is not a browser another site can drive, so it passes.
    """
    if origin is not None:
        try:
            parts = urlsplit(origin.strip())
            port = parts.port
        except ValueError:
            return False
        if parts.scheme != scheme or not parts.hostname:
            return False
        default = 443 if scheme == "https" else 80
        return _host_port(host, default) == (parts.hostname.lower(), port or default)
    return (fetch_site or "").strip().lower() not in _FOREIGN_FETCH_SITES


def _host_port(host: str, default: int) -> tuple[str, int] | None:
    try:
        parts = urlsplit("//" + host.strip())
        return (parts.hostname or "").lower(), parts.port or default
    except ValueError:
        return None


def redact_query(raw_path_qs: str) -> str:
    """The path for an access log: a one-time login token in the query is masked."""
    path, sep, query = raw_path_qs.partition("?")
    if not sep or TOKEN_PARAM not in unquote(query):
        return raw_path_qs
    items = [
        f"{TOKEN_PARAM}={MASK}" if unquote(item.split("=", 1)[0]) == TOKEN_PARAM else item
        for item in query.split("&")
    ]
    return f"{path}?{'&'.join(items)}"
