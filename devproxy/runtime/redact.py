"""The one masker: secrets out of text that came from elsewhere, before it is logged or shown.

aiohttp's parser errors quote the offending request line or header, so a malformed request can
carry the access token or a session cookie into a log line; tailscale's CLI and tailscaled may
print a key or a token. Pure: known secrets (the access token, the auth key or OAuth client
secret) plus patterns for devproxy's cookie and login parameter, anything shaped like a Tailscale
key and anything shaped like a signed token (the ID tokens of keyless logins) in, the same text
with them masked out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

MASK = "REDACTED"

#: `devproxy_session=<value>` and `devproxy_token=<value>`, also percent-encoded or
#: backslash-escaped (repr of bytes), up to the next separator or the end of a truncated quote.
_NAMED = re.compile(
    r"(devproxy(?:_|%5[fF])(?:session|token))(\s*(?:=|%3[dD])\s*)([^\s;&,'\"<>\\]*)",
)
#: a session value without its name: v1.<expiry>.<nonce>.<signature> (see sessions.make_session).
_SESSION_VALUE = re.compile(r"v1\.\d{6,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}")
#: anything shaped like a Tailscale key (auth key, OAuth client secret, API token), configured or not.
_TAILSCALE_KEY = re.compile(r"tskey-[A-Za-z0-9_-]+")
#: a signed JWT (header.payload.signature, base64url JSON objects): Google ID tokens, IAP assertions.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")
#: secrets shorter than this are not masked by value (they would mask ordinary words).
MIN_SECRET = 8


class Redactor:
    """Masks registered secrets and anything shaped like a session, a Tailscale key or a signed token."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Mask `secret` (and its percent-encoded form) from now on."""
        if not secret or len(secret) < MIN_SECRET:
            return
        for form in {secret, quote(secret, safe=""), repr(secret)[1:-1]}:
            if form not in self._secrets:
                self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)  # longest first: no half-masked encodings

    def text(self, value: str) -> str:
        """`value` with every secret masked."""
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        if "devproxy" in value or "%5" in value:
            value = _NAMED.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", value)
        if "v1." in value:
            value = _SESSION_VALUE.sub(MASK, value)
        if "tskey-" in value:
            value = _TAILSCALE_KEY.sub(MASK, value)
        if "eyJ" in value:
            value = _JWT.sub(MASK, value)
        return value

    def value(self, value: Any) -> Any:
        """Strings masked; lists, tuples and dicts walked; anything else as is."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value
