"""`--auth iap`: every request must carry a valid IAP JWT in X-Goog-IAP-JWT-Assertion.

IAP signs with ES256 and publishes its public keys as a JWK set. Verification here is plain
`cryptography`: header `alg` must be ES256, `kid` must name a published key, the signature must
verify, `aud` must equal the configured audience, `iss` must be IAP, and `exp`/`iat` must hold
within a small leeway. Keys are fetched with a client that ignores proxy variables, cached,
and refetched (rate-limited) when an unknown `kid` shows up after a key rotation.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from devproxy import events
from devproxy.runtime.config_access import IapSettings
from devproxy.runtime.log import EventLog

HEADER = "X-Goog-IAP-JWT-Assertion"
ISSUER = "https://cloud.google.com/iap"
_MAX_KEYS_BYTES = 1 << 20
#: the verified user's email, for the access log: `request.get(IAP_USER)`.
IAP_USER: Any = web.RequestKey("devproxy_iap_user", str) if hasattr(web, "RequestKey") else "devproxy_iap_user"


class AssertionRejected(Exception):
    """The IAP assertion is not acceptable; the message says why (never the token itself)."""


class KeysUnavailable(Exception):
    """IAP's public keys could not be fetched or parsed."""


def _b64decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise AssertionRejected("assertion is not base64url") from exc


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except ValueError as exc:
        raise AssertionRejected("assertion segment is not JSON") from exc
    if not isinstance(value, dict):
        raise AssertionRejected("assertion segment is not a JSON object")
    return value


def parse_jwk_set(data: object) -> dict[str, ec.EllipticCurvePublicKey]:
    """P-256 keys of a JWK set by kid; other key types are skipped. Raises: KeysUnavailable."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise KeysUnavailable("the IAP key document is not a JWK set")
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for jwk in data["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        kid, x, y = jwk.get("kid"), jwk.get("x"), jwk.get("y")
        if not (isinstance(kid, str) and isinstance(x, str) and isinstance(y, str)):
            continue
        try:
            numbers = ec.EllipticCurvePublicNumbers(
                int.from_bytes(_b64decode(x), "big"), int.from_bytes(_b64decode(y), "big"), ec.SECP256R1()
            )
            keys[kid] = numbers.public_key()
        except (AssertionRejected, ValueError):
            continue
    if not keys:
        raise KeysUnavailable("the IAP key document has no usable P-256 keys")
    return keys


def split_assertion(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signed bytes, raw signature). Raises: AssertionRejected."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AssertionRejected("assertion is not a JWT")
    header = _json_segment(parts[0])
    claims = _json_segment(parts[1])
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii", "replace"), _b64decode(parts[2])


def verify_signature(key: ec.EllipticCurvePublicKey, signed: bytes, signature: bytes) -> None:
    """ES256: the JWS signature is r||s, 32 bytes each. Raises: AssertionRejected."""
    if len(signature) != 64:
        raise AssertionRejected("signature has the wrong length for ES256")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise AssertionRejected("signature does not verify") from exc


def check_claims(claims: Mapping[str, Any], *, audience: str, now: float, leeway_s: float) -> None:
    """aud, iss, exp and iat. Raises: AssertionRejected."""
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise AssertionRejected("audience does not match DEVPROXY_IAP_AUDIENCE")
    if claims.get("iss") != ISSUER:
        raise AssertionRejected("issuer is not IAP")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp + leeway_s < now:
        raise AssertionRejected("assertion expired")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool) or iat - leeway_s > now:
        raise AssertionRejected("assertion issued in the future")


class IapVerifier:
    """Verifies IAP assertions against IAP's published keys (fetched lazily, cached)."""

    def __init__(self, settings: IapSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._fetched_at: float | None = None
        self._retry_at = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid assertion. Raises: AssertionRejected, KeysUnavailable."""
        header, claims, signed, signature = split_assertion(token)
        if header.get("alg") != "ES256":
            raise AssertionRejected("algorithm is not ES256")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise AssertionRejected("assertion has no key id")
        key = await self._key(kid)
        verify_signature(key, signed, signature)
        check_claims(claims, audience=self.settings.audience, now=self._clock(), leeway_s=self.settings.leeway_s)
        return claims

    async def _key(self, kid: str) -> ec.EllipticCurvePublicKey:
        if self._needs_fetch(kid):
            async with self._lock:
                # Another request may have refreshed the keys while this one waited.
                if self._needs_fetch(kid):
                    try:
                        self._keys = await self._fetch()
                        self._fetched_at = time.monotonic()
                    except KeysUnavailable:
                        self._retry_at = time.monotonic() + self.settings.fetch_retry_s
                        if not self._keys:
                            raise
                        # Keep verifying with the keys we have; IAP rotates them slowly.
        key = self._keys.get(kid)
        if key is None:
            raise AssertionRejected("unknown key id")
        return key

    def _needs_fetch(self, kid: str) -> bool:
        now = time.monotonic()
        if now < self._retry_at:
            return False
        if self._fetched_at is None or now - self._fetched_at > self.settings.keys_ttl_s:
            return True
        return kid not in self._keys and now - self._fetched_at > self.settings.refetch_min_s

    async def _fetch(self) -> dict[str, ec.EllipticCurvePublicKey]:
        timeout = aiohttp.ClientTimeout(total=self.settings.fetch_timeout_s)
        try:
            # Key refreshes are rare (hourly), so a short-lived session is simplest; proxy
            # variables from the environment must not redirect where keys come from.
            async with aiohttp.ClientSession(trust_env=False, timeout=timeout) as session:
                async with session.get(self.settings.keys_url) as response:
                    if response.status != 200:
                        raise KeysUnavailable(f"{self.settings.keys_url} answered HTTP {response.status}")
                    body = await response.content.read(_MAX_KEYS_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise KeysUnavailable(f"could not fetch {self.settings.keys_url}: {exc!r}") from exc
        if len(body) > _MAX_KEYS_BYTES:
            raise KeysUnavailable(f"{self.settings.keys_url} returned more than 1 MiB")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise KeysUnavailable(f"{self.settings.keys_url} did not return JSON") from exc
        return parse_jwk_set(data)


class IapAccess:
    """`--auth iap`: the access policy built on IapVerifier."""

    mode = "iap"
    cookie_name: str | None = None

    def __init__(self, settings: IapSettings, log: EventLog, *, clock: Callable[[], float] = time.time) -> None:
        self.verifier = IapVerifier(settings, clock=clock)
        self.log = log

    def routes(self) -> list[web.RouteDef]:
        return []

    async def check(self, request: web.Request) -> web.StreamResponse | None:
        token = request.headers.get(HEADER)
        if not token:
            return self._deny(request, "no IAP assertion header (is IAP enabled on this service?)")
        try:
            claims = await self.verifier.verify(token.strip())
        except AssertionRejected as exc:
            return self._deny(request, str(exc))
        except KeysUnavailable as exc:
            self.log.error(
                events.AUTH_IAP_KEYS_FAILED, f"cannot verify IAP assertions: {exc}", component="auth",
                hint="check egress to www.gstatic.com or DEVPROXY_IAP_KEYS_URL",
            )
            return web.Response(
                status=503, text="devproxy: cannot verify the IAP assertion right now\n",
                headers={"Cache-Control": "no-store", "Retry-After": "5"},
            )
        email = claims.get("email")
        if isinstance(email, str):
            request[IAP_USER] = email
        return None

    def _deny(self, request: web.Request, reason: str) -> web.StreamResponse:
        self.log.info(
            events.AUTH_DENIED, f"IAP assertion rejected: {reason}", component="auth",
            method=request.method, path=request.path,
        )
        return web.Response(
            status=401, text="devproxy: this service only accepts requests through IAP\n",
            headers={"Cache-Control": "no-store"},
        )
