"""Shared links: a signed, expiring grant that opens one route prefix, and nothing else. Pure.

`devproxy share PREFIX` signs a grant `g1.<prefix>.<issued>.<until>.<nonce>.<signature>` (prefix in
unpadded base64url, issued in epoch milliseconds so that a link made right after a revocation is
not caught by it, until in epoch seconds) with a key derived from the access token under its own
label, so a grant can never pass for a session cookie and a new access token ends every grant. The
runtime turns a valid grant into a cookie scoped to the prefix. Revoking every link is a
"not before" time: grants issued earlier are refused (`DEVPROXY_SHARE_NOT_BEFORE` at start, or a
signed revoke request to the running service).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from devproxy.errors import ConfigError

GRANT_VERSION = "g1"
_KEY_LABEL = b"devproxy share grant v1"
_REVOKE_LABEL = "devproxy revoke-all v1"
DEFAULT_SECONDS = 3600
MAX_SECONDS = 7 * 86400
#: how far a revoke request's time may be from the runtime's clock (seconds).
REVOKE_SKEW = 300
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)\s*([smhdw])")


def grant_key(token: str) -> bytes:
    """The grant-signing key, derived from the access token (a new token ends every grant)."""
    return hmac.new(_KEY_LABEL, token.encode(), hashlib.sha256).digest()


def _sign(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid grant says: which prefix, issued when, valid until when (epoch seconds)."""

    prefix: str
    issued: float
    until: int
    nonce: str

    @property
    def stem(self) -> str:
        return self.prefix.rstrip("/")


def is_grant(value: str) -> bool:
    """Whether a link token or cookie value is a grant (not an access token or a session)."""
    return value.startswith(GRANT_VERSION + ".")


def make_grant(key: bytes, prefix: str, issued: float, seconds: float, nonce: str) -> str:
    """A signed grant for `prefix`, valid for `seconds` from `issued`."""
    payload = f"{GRANT_VERSION}.{_b64(prefix)}.{int(issued * 1000)}.{int(issued + seconds)}.{nonce}"
    return f"{payload}.{_sign(key, payload)}"


def read_grant(key: bytes, value: str) -> Grant | None:
    """The grant a value carries, when its signature is right (expiry is checked apart)."""
    parts = value.split(".")
    if len(parts) != 6 or parts[0] != GRANT_VERSION or not (parts[2].isdigit() and parts[3].isdigit()):
        return None
    payload = ".".join(parts[:5])
    if not hmac.compare_digest(_sign(key, payload).encode(), parts[5].encode()):
        return None
    try:
        prefix = _unb64(parts[1])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return Grant(prefix, int(parts[2]) / 1000, int(parts[3]), parts[4])


def grant_problem(grant: Grant, now: float, not_before: float) -> str | None:
    """Why a correctly signed grant no longer opens anything (None while it does)."""
    if grant.issued < not_before:
        return "revoked"
    if grant.until <= now:
        return "expired"
    if grant.until - grant.issued > MAX_SECONDS + 60 or grant.issued > now + REVOKE_SKEW:
        return "invalid"
    return None


def parse_duration(text: str) -> int:
    """`--for`: "90m", "1h", "2d", "1h30m", "1w" (seconds), up to 7 days. Raises: ConfigError."""
    value = text.strip().lower().replace(" ", "")
    if value.isdigit():
        raise ConfigError(f"invalid duration {text!r}: add a unit, e.g. {value}m or {value}h")
    matches = list(_DURATION.finditer(value))
    if not value or "".join(m.group(0) for m in matches) != value:
        raise ConfigError(f"invalid duration {text!r}: use e.g. 30m, 1h, 1h30m, 2d or 7d")
    seconds = sum(int(m.group(1)) * _UNITS[m.group(2)] for m in matches)
    if seconds <= 0:
        raise ConfigError(f"invalid duration {text!r}: it must be longer than zero")
    if seconds > MAX_SECONDS:
        raise ConfigError(f"invalid duration {text!r}: a shared link lasts at most 7 days (7d)")
    return seconds


def share_prefix(text: str) -> str:
    """The prefix to share as typed on the command line ("jupyter" is "/jupyter/"). Raises: ConfigError."""
    value = text.strip()
    if not value:
        raise ConfigError("nothing to share: name a route prefix, e.g. /jupyter/ (or / for the default route)")
    if not value.startswith("/"):
        value = "/" + value
    if not value.endswith("/"):
        value += "/"
    if value.startswith("/_devproxy/") or "//" in value or any(ch in value for ch in "?#\\ \t"):
        raise ConfigError(f"cannot share {text!r}: name a route prefix such as /jupyter/")
    return value


def revoke_message(key: bytes, not_before: float) -> str:
    """The signed body of a revoke-all request: `<not_before in epoch milliseconds>.<signature>`."""
    stamp = int(not_before * 1000)
    return f"{stamp}.{_sign(key, f'{_REVOKE_LABEL}.{stamp}')}"


def read_revoke(key: bytes, body: str, now: float) -> float | None:
    """The "not before" time (epoch seconds) of a correctly signed, current revoke-all request (None otherwise)."""
    stamp, _, signature = body.strip().partition(".")
    if not stamp.isdigit() or not hmac.compare_digest(
            _sign(key, f"{_REVOKE_LABEL}.{stamp}").encode(), signature.encode()):
        return None
    if abs(int(stamp) / 1000 - now) > REVOKE_SKEW:
        return None  # an old request replayed (or a clock far off)
    return int(stamp) / 1000


@dataclass(frozen=True, slots=True)
class GrantView:
    """A grant in use as the status page shows it: the prefix and until when, never the grant itself."""

    prefix: str
    until: float
    issued: float

    def as_json(self) -> dict[str, object]:
        return {"prefix": self.prefix, "until": int(self.until), "issued": int(self.issued)}


class GrantsSeen:
    """The grants this instance has honoured (for the status page); entries leave when they expire."""

    def __init__(self, limit: int = 1000) -> None:
        self._seen: dict[str, Grant] = {}
        self._limit = limit

    def note(self, grant: Grant, now: float) -> None:
        self._seen = {n: g for n, g in self._seen.items() if g.until > now}
        if len(self._seen) >= self._limit and grant.nonce not in self._seen:
            del self._seen[min(self._seen, key=lambda n: self._seen[n].until)]
        self._seen[grant.nonce] = grant

    def active(self, now: float, not_before: float) -> list[GrantView]:
        return sorted(
            (GrantView(g.prefix, g.until, g.issued) for g in self._seen.values()
             if grant_problem(g, now, not_before) is None),
            key=lambda view: (view.until, view.prefix),
        )
