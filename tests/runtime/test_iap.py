"""IAP mode: ES256 assertions signed with a test key, keys served by a local JWK endpoint."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from devproxy.runtime.auth import build_access
from devproxy.runtime.config_access import IapSettings, access_settings, iap_settings
from devproxy.runtime.iap import HEADER, IAP_USER, ISSUER, IapAccess
from devproxy.runtime.log import EventLog

AUDIENCE = "/projects/123456789/locations/europe-west1/services/devproxy"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": _b64(numbers.x.to_bytes(32, "big")), "y": _b64(numbers.y.to_bytes(32, "big")),
    }


def sign(key: ec.EllipticCurvePrivateKey, claims: dict[str, Any], *, kid: str = "k1", alg: str = "ES256") -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    der = key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{header}.{payload}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "aud": AUDIENCE, "iss": ISSUER, "iat": now - 5, "exp": now + 600,
        "sub": "accounts.google.com:1234", "email": "dev@example.com",
    }
    base.update(overrides)
    return base


@dataclass
class KeyServer:
    """A local JWK endpoint that records every fetch."""

    url: str
    keys: list[dict[str, str]]
    fetches: list[str] = field(default_factory=list)
    status: int = 200


@pytest.fixture
async def key_server() -> AsyncIterator[KeyServer]:
    box: list[KeyServer] = []

    async def jwk(request: web.Request) -> web.Response:
        server = box[0]
        server.fetches.append(request.path)
        if server.status != 200:
            return web.Response(status=server.status, text="unavailable")
        return web.json_response({"keys": server.keys})

    app = web.Application()
    app.router.add_get("/iap/verify/public_key-jwk", jwk)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    box.append(KeyServer(f"http://127.0.0.1:{port}/iap/verify/public_key-jwk", []))
    yield box[0]
    await runner.cleanup()


@pytest.fixture
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Policy:
    access: IapAccess
    out: io.StringIO

    async def status(self, token: str | None, path: str = "/x") -> int:
        headers = {HEADER: token} if token is not None else {}
        request = make_mocked_request("GET", path, headers=headers)
        response = await self.access.check(request)
        return 200 if response is None else response.status

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in map(json.loads, self.out.getvalue().splitlines()) if r["event"] == name]


@pytest.fixture
def policy(key_server: KeyServer, signing_key: ec.EllipticCurvePrivateKey) -> Policy:
    key_server.keys = [_jwk(signing_key, "k1")]
    out = io.StringIO()
    access = build_access(
        access_settings({"DEVPROXY_IAP_AUDIENCE": AUDIENCE, "DEVPROXY_IAP_KEYS_URL": key_server.url}, "iap"),
        EventLog(out),
    )
    assert isinstance(access, IapAccess)
    return Policy(access, out)


async def test_valid_assertion_is_accepted(policy: Policy, signing_key: ec.EllipticCurvePrivateKey) -> None:
    """A correctly signed assertion for our audience passes and names the user."""
    token = sign(signing_key, claims())
    request = make_mocked_request("GET", "/x", headers={HEADER: token})
    assert await policy.access.check(request) is None
    assert request[IAP_USER] == "dev@example.com"
    assert policy.access.mode == "iap" and policy.access.cookie_name is None and policy.access.routes() == []


async def test_keys_are_fetched_once_and_cached(
    policy: Policy, key_server: KeyServer, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """Many requests cost one key fetch."""
    for _ in range(5):
        assert await policy.status(sign(signing_key, claims())) == 200
    assert key_server.fetches == ["/iap/verify/public_key-jwk"]


@pytest.mark.parametrize(
    ("claim_changes", "why"),
    [
        ({"aud": "/projects/999/locations/x/services/other"}, "audience"),
        ({"aud": None}, "audience"),
        ({"iss": "https://accounts.google.com"}, "issuer"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"exp": "never"}, "expired"),
        ({"iat": int(time.time()) + 3600}, "future"),
    ],
)
async def test_bad_claims_are_refused(
    policy: Policy, signing_key: ec.EllipticCurvePrivateKey, claim_changes: dict[str, Any], why: str
) -> None:
    """Wrong audience or issuer, expired or future-dated assertions get 401."""
    assert await policy.status(sign(signing_key, claims(**claim_changes))) == 401
    denied = policy.events("auth.denied")
    assert len(denied) == 1 and why in denied[0]["message"]


async def test_small_clock_skew_is_tolerated(policy: Policy, signing_key: ec.EllipticCurvePrivateKey) -> None:
    """exp a few seconds in the past (within the leeway) still passes."""
    assert await policy.status(sign(signing_key, claims(exp=int(time.time()) - 5))) == 200


async def test_bad_signature_is_refused(policy: Policy, signing_key: ec.EllipticCurvePrivateKey) -> None:
    """An assertion signed by another key under a published kid is refused; so is a tampered one."""
    impostor = ec.generate_private_key(ec.SECP256R1())
    assert await policy.status(sign(impostor, claims(), kid="k1")) == 401
    header, payload, signature = sign(signing_key, claims()).split(".")
    other_payload = _b64(json.dumps(claims(email="root@example.com")).encode())
    assert await policy.status(f"{header}.{other_payload}.{signature}") == 401
    assert await policy.status(f"{header}.{payload}.{signature[:-4]}") == 401
    assert all("signature" in r["message"] for r in policy.events("auth.denied"))


async def test_unknown_kid_missing_header_and_junk_are_refused(
    policy: Policy, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """Unknown key ids, a missing header, other algorithms and garbage all get 401."""
    assert await policy.status(sign(signing_key, claims(), kid="nope")) == 401
    assert await policy.status(None) == 401
    assert await policy.status(sign(signing_key, claims(), alg="HS256")) == 401
    none_alg = f"{_b64(json.dumps({'alg': 'none', 'kid': 'k1'}).encode())}.{_b64(json.dumps(claims()).encode())}."
    assert await policy.status(none_alg) == 401
    for junk in ("", "a.b", "a.b.c", "###.###.###", "e30.e30.e30"):
        assert await policy.status(junk) == 401
    messages = [r["message"] for r in policy.events("auth.denied")]
    assert any("unknown key id" in m for m in messages)
    assert any("no IAP assertion header" in m for m in messages)


async def test_key_rotation_triggers_a_refetch(
    key_server: KeyServer, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """An assertion under a new kid makes the verifier refetch the key set once."""
    key_server.keys = [_jwk(signing_key, "k1")]
    settings = replace(iap_settings({"DEVPROXY_IAP_AUDIENCE": AUDIENCE, "DEVPROXY_IAP_KEYS_URL": key_server.url}),
                       refetch_min_s=0.0)
    policy = Policy(IapAccess(settings, EventLog(io.StringIO())), io.StringIO())
    assert await policy.status(sign(signing_key, claims())) == 200
    new_key = ec.generate_private_key(ec.SECP256R1())
    key_server.keys = [_jwk(signing_key, "k1"), _jwk(new_key, "k2")]
    assert await policy.status(sign(new_key, claims(), kid="k2")) == 200
    assert len(key_server.fetches) == 2


async def test_unreachable_keys_give_503_and_an_error_event(
    key_server: KeyServer, signing_key: ec.EllipticCurvePrivateKey
) -> None:
    """When IAP's keys cannot be fetched the request is refused with 503 and the cause is logged."""
    key_server.status = 500
    out = io.StringIO()
    settings = IapSettings(audience=AUDIENCE, keys_url=key_server.url)
    policy = Policy(IapAccess(settings, EventLog(out)), out)
    assert await policy.status(sign(signing_key, claims())) == 503
    failed = policy.events("auth.iap_keys_failed")
    assert failed and "HTTP 500" in failed[0]["message"] and failed[0]["severity"] == "ERROR"


async def test_proxy_variables_do_not_affect_the_key_fetch(
    policy: Policy, signing_key: ec.EllipticCurvePrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys are fetched directly even when proxy variables point at a dead proxy."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    assert await policy.status(sign(signing_key, claims())) == 200
