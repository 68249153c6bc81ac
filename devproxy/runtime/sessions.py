"""The pure rules of token access: signed session cookie values, cookie parsing, safe redirect targets.

No I/O and no clock of its own: `auth.TokenAccess` passes the time in. A session value is
`v1.<expiry>.<nonce>.<signature>`, an HMAC under a key derived from the access token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import unquote, urlsplit

from devproxy.contract import PAGE_PREFIX

COOKIE_NAME = "devproxy_session"
TOKEN_PARAM = "devproxy_token"
LOGIN_PATH = PAGE_PREFIX + "login"
LOGOUT_PATH = PAGE_PREFIX + "logout"
SESSION_VERSION = "v1"
DEFAULT_SESSION_DAYS = 30.0
_KEY_LABEL = b"devproxy session cookie v1"


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


def without_param(raw_path_qs: str, param: str) -> str:
    """The same local URL without `param` in its query; other parameters keep their order and bytes."""
    path, sep, query = raw_path_qs.partition("?")
    # "//host/..." in a Location header would send the browser to another site.
    path = "/" + path.lstrip("/")
    if not sep:
        return path
    kept = [item for item in query.split("&") if unquote(item.split("=", 1)[0]) != param]
    rest = "&".join(item for item in kept if item)
    return f"{path}?{rest}" if rest else path


def redact_query(raw_path_qs: str) -> str:
    """The path for an access log: a one-time login token in the query is masked."""
    path, sep, query = raw_path_qs.partition("?")
    if not sep or TOKEN_PARAM not in unquote(query):
        return raw_path_qs
    items = [
        f"{TOKEN_PARAM}=REDACTED" if unquote(item.split("=", 1)[0]) == TOKEN_PARAM else item
        for item in query.split("&")
    ]
    return f"{path}?{'&'.join(items)}"
