"""The access section of the runtime's configuration: the mode and what it needs.

Pure: part of the config builder (`config.build_config` is the only caller), reading the
environment mapping it is handed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from devproxy.contract import ACCESS_TOKEN_ENV, AUTH_MODES
from devproxy.errors import AuthError, ConfigError
from devproxy.runtime import config_env
from devproxy.runtime.sessions import DEFAULT_SESSION_DAYS

DEFAULT_IAP_KEYS_URL = "https://www.gstatic.com/iap/verify/public_key-jwk"


@dataclass(frozen=True, slots=True)
class IapSettings:
    """`--auth iap`: the audience the IAP JWT must carry and where IAP's public keys are."""

    audience: str
    keys_url: str = DEFAULT_IAP_KEYS_URL
    leeway_s: float = 30.0
    keys_ttl_s: float = 3600.0
    #: least time between two fetches triggered by an unknown kid (a forged kid must not flood Google).
    refetch_min_s: float = 60.0
    fetch_timeout_s: float = 5.0
    #: pause after a failed fetch before the next one.
    fetch_retry_s: float = 5.0


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """Access control: the mode and what it needs."""

    mode: str = "none"
    #: `--auth token`: the access token (never shown).
    token: str | None = field(default=None, repr=False)
    session_days: float = DEFAULT_SESSION_DAYS
    #: `--auth iap`.
    iap: IapSettings | None = None
    #: proxies in front that append to X-Forwarded-For (1 on Cloud Run); 0 trusts only the peer address.
    trusted_hops: int = 0


def iap_settings(env: Mapping[str, str]) -> IapSettings:
    """Read DEVPROXY_IAP_AUDIENCE and DEVPROXY_IAP_KEYS_URL. Raises: AuthError (exit 2)."""
    audience = config_env.text(env, "DEVPROXY_IAP_AUDIENCE")
    if not audience:
        raise AuthError(
            "--auth iap needs the expected audience in DEVPROXY_IAP_AUDIENCE",
            hint="the Signed Header JWT audience of this service, e.g. "
            "/projects/PROJECT_NUMBER/locations/REGION/services/SERVICE for IAP on Cloud Run",
        )
    keys_url = config_env.text(env, "DEVPROXY_IAP_KEYS_URL", DEFAULT_IAP_KEYS_URL)
    parts = urlsplit(keys_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AuthError(f"invalid DEVPROXY_IAP_KEYS_URL={keys_url!r}: use an http(s) URL")
    return IapSettings(audience=audience, keys_url=keys_url)


def access_settings(env: Mapping[str, str], mode: str) -> AccessSettings:
    """The access section for `mode`. Raises: AuthError (exit 2) when the mode cannot work."""
    if mode not in AUTH_MODES:
        raise AuthError(f"unknown auth mode {mode!r}: choose one of {', '.join(AUTH_MODES)}")
    # DEVPROXY_TRUSTED_HOPS, else 1 on Cloud Run (its front end appends the client) and 0 elsewhere.
    hops = config_env.whole(env, "DEVPROXY_TRUSTED_HOPS", 1 if env.get("K_SERVICE") else 0, low=0, high=10)
    if mode == "token":
        token = config_env.text(env, ACCESS_TOKEN_ENV)
        if not token:
            raise AuthError(
                "--auth token needs an access token in DEVPROXY_ACCESS_TOKEN",
                hint="`devproxy deploy` keeps one in Secret Manager; locally: "
                "export DEVPROXY_ACCESS_TOKEN=$(openssl rand -hex 24)",
            )
        try:
            days = config_env.number(env, "DEVPROXY_SESSION_DAYS", DEFAULT_SESSION_DAYS, low=0.001, high=400,
                                     unit=" days")
        except ConfigError as exc:
            raise AuthError(exc.message) from None
        return AccessSettings(mode, token=token, session_days=days, trusted_hops=hops)
    if mode == "iap":
        return AccessSettings(mode, iap=iap_settings(env), trusted_hops=hops)
    return AccessSettings(mode, trusted_hops=hops)
