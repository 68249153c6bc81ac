"""`devproxy share`'s work on the laptop: sign a link for one route prefix, or revoke every link.

The grant format and its checks are the runtime's (runtime/grants.py); this module adds the
service URL and the one network call (`--revoke-all` posts a signed request to the running
service). The network call is the seam where urllib's errors become a `DevproxyError`.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devproxy.contract import ACCESS_TOKEN_ENV, SHARE_REVOKE_PATH
from devproxy.errors import ConfigError, DevproxyError
from devproxy.runtime.grants import grant_key, make_grant, revoke_message
from devproxy.runtime.sessions import TOKEN_PARAM

#: the environment variable that may name the service URL instead of --url.
URL_ENV = "DEVPROXY_URL"
REVOKE_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class SharedLink:
    """A link that opens `prefix` until `until` (epoch seconds)."""

    url: str
    prefix: str
    until: int


def access_token(value: str | None) -> str:
    """The signing secret. Raises: ConfigError with the way to get it when it is missing."""
    token = (value or "").strip()
    if not token:
        raise ConfigError(
            f"devproxy share signs links with the access token: set {ACCESS_TOKEN_ENV}",
            hint="or name the deployed service (--project, or devproxy.toml) to read it from Secret Manager",
        )
    return token


def from_service(env: Mapping[str, str], flags: Mapping[str, Any], *, cwd: Path,
                 home: Path) -> tuple[str | None, str | None]:
    """The deployed service's access token and URL, read as `devproxy open` reads them (deploy's `read_login`).

    `(None, None)` when no project is named (flags, environment or devproxy.toml): there is nothing
    to read, and the caller says what to set instead.

    Raises:
        ConfigError: the service does not run token mode (its links are not signed with a token).
        CloudError: Google refused a read, or the service or its token does not exist.
    """
    from devproxy.deploy.cloud_api import Cloud
    from devproxy.deploy.config import load_config
    from devproxy.deploy.login import read_login

    cfg = load_config(env, flags, cwd=cwd, home=home, required=())
    if not cfg.project:
        return None, None
    login = read_login(cfg, Cloud(cfg, env))
    if login.token is None:
        raise ConfigError(f"service {cfg.service} runs --auth {login.auth}: shared links need token mode",
                          hint="with --auth iap, grant a person one prefix with devproxy deploy --allow MEMBER=PREFIX")
    return login.token, login.url


def service_url(value: str | None) -> str:
    """The service's base URL (`--url`, else DEVPROXY_URL). Raises: ConfigError."""
    text = (value or "").strip().rstrip("/")
    if not text:
        raise ConfigError(f"no service URL: pass --url https://… (what devproxy deploy printed) or set {URL_ENV}")
    try:
        parts = urlsplit(text)
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise ConfigError(f"invalid service URL {value!r}: {exc}") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment \
            or parts.path not in ("", "/") or parts.username:
        raise ConfigError(f"invalid service URL {value!r}: use https://HOST (for example https://dev-abc.a.run.app)")
    return f"{parts.scheme}://{parts.netloc}"


def share_link(token: str, url: str, prefix: str, seconds: int, *, now: float | None = None) -> SharedLink:
    """A link that opens only `prefix` for `seconds` from now."""
    issued = time.time() if now is None else now
    grant = make_grant(grant_key(token), prefix, issued, seconds, secrets.token_urlsafe(9))
    return SharedLink(f"{url}{prefix}?{TOKEN_PARAM}={grant}", prefix, int(issued + seconds))


def revoke_all(token: str, url: str, *, now: float | None = None) -> float:
    """Tell the running service to refuse every link issued before now; returns that time.

    Raises: DevproxyError naming what went wrong (the service refused, or could not be reached).
    """
    stamp = round(time.time() if now is None else now, 3)
    request = urllib.request.Request(
        url + SHARE_REVOKE_PATH, data=revoke_message(grant_key(token), stamp).encode(), method="POST",
        headers={"Content-Type": "text/plain", "User-Agent": "devproxy-share"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy from the environment
    try:
        with opener.open(request, timeout=REVOKE_TIMEOUT) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip().removeprefix("devproxy: ")
        raise DevproxyError(
            f"the service at {url} refused to revoke (HTTP {exc.code}): {detail or exc.reason}",
            hint="is DEVPROXY_ACCESS_TOKEN the token this service runs with, and does it run --auth token?",
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DevproxyError(f"cannot reach {url} to revoke the shared links: {reason}") from exc
    return stamp
