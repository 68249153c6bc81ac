"""The deploy configuration: one frozen value merged from layers, lowest first.

defaults < gcloud configuration files < devproxy.toml < GOOGLE_CLOUD_PROJECT / CLOUDSDK_*
< DEVPROXY_* < flags. The layers are read by `devproxy.project`, so project, region and service
resolve the same way for every command; `merge` is pure and is what the table tests exercise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devproxy.contract import AUTH_MODES
from devproxy.errors import ConfigError
from devproxy.project import PROJECT_HINT, Layer, config_layers

DEFAULT_TAILSCALE_VERSION = "v1.102.5"

#: every key devproxy.toml may hold, with its default (None: derived or required).
DEFAULTS: dict[str, Any] = {
    "project": None,
    "region": "us-central1",
    "service": "devproxy",
    "target": None,
    "image": None,
    "auth": "token",
    "min_instances": 1,
    "max_instances": 1,
    "cpu": "1",
    "memory": "512Mi",
    "repository": "devproxy",
    "bucket": None,
    "service_account": None,
    "tailscale_version": DEFAULT_TAILSCALE_VERSION,
    "tailscale_hostname": None,
    "login_server": None,
    "wheel": None,
}
_INT_KEYS = ("min_instances", "max_instances")
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class DeployConfig:
    """Everything a deploy needs to know, already validated."""

    project: str
    region: str
    service: str
    target: str
    auth: str = "token"
    image: str | None = None
    min_instances: int = 1
    max_instances: int = 1
    cpu: str = "1"
    memory: str = "512Mi"
    repository: str = "devproxy"
    bucket: str | None = None
    service_account: str | None = None
    tailscale_version: str = DEFAULT_TAILSCALE_VERSION
    tailscale_hostname: str | None = None
    #: a self-hosted control server (Headscale); None: Tailscale's own.
    login_server: str | None = None
    #: a prebuilt devproxy wheel to put in the image instead of building one.
    wheel: str | None = None
    #: where each value came from ("default", "devproxy.toml", "env DEVPROXY_REGION", ...).
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"

    @property
    def service_name(self) -> str:
        return f"{self.parent}/services/{self.service}"

    @property
    def account_id(self) -> str:
        """The runtime service account's id (6-30 chars, the part before @)."""
        if self.service_account:
            return self.service_account.split("@", 1)[0]
        base = f"{self.service}-runtime"[:30].rstrip("-")
        return base if len(base) >= 6 else f"{base}-devproxy"[:30]

    @property
    def service_account_email(self) -> str:
        if self.service_account and "@" in self.service_account:
            return self.service_account
        return f"{self.account_id}@{self.project}.iam.gserviceaccount.com"

    @property
    def authkey_secret(self) -> str:
        return f"{self.service}-ts-authkey"

    @property
    def token_secret(self) -> str:
        return f"{self.service}-access-token"

    @property
    def secret_ids(self) -> tuple[str, ...]:
        """Secrets the service reads, in the order they are created."""
        if self.auth == "token":
            return (self.authkey_secret, self.token_secret)
        return (self.authkey_secret,)

    @property
    def build_bucket(self) -> str:
        return self.bucket or f"{self.project}-devproxy-build"

    @property
    def image_repository(self) -> str:
        """Artifact Registry path images are pushed to (without tag)."""
        return f"{self.region}-docker.pkg.dev/{self.project}/{self.repository}/{self.service}"

    def source_of(self, key: str) -> str:
        return dict(self.sources).get(key, "default")


def merge(layers: Sequence[Layer], required: Sequence[str] = ("project", "target")) -> DeployConfig:
    """Merge layers (lowest first) over the defaults and validate the result.

    Raises:
        ConfigError: an unknown key, a value of the wrong type, or a required value missing.
    """
    values: dict[str, Any] = dict(DEFAULTS)
    sources: dict[str, str] = {}
    for origin, layer in layers:
        for key, value in layer.items():
            if key not in DEFAULTS:
                raise ConfigError(f"unknown setting {key!r} in {origin}",
                                  hint="known: " + ", ".join(DEFAULTS))
            if value is None or value == "":
                continue
            values[key] = _coerce(key, value, origin)
            sources[key] = origin
    for key in required:
        if not values[key]:
            raise ConfigError(f"no {key} set", hint=_MISSING_HINTS[key])
    values["target"] = values["target"] or ""
    _validate(values)
    return DeployConfig(**values, sources=tuple(sorted(sources.items())))


_MISSING_HINTS = {
    "project": PROJECT_HINT,
    "target": "pass --target http://HOST:PORT (the dev server on your tailnet) or run `devproxy init`",
}


def _coerce(key: str, value: Any, origin: str) -> Any:
    if key in _INT_KEYS:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a whole number, got {value!r} ({origin})") from None
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r} ({origin})")
    return value.strip()


def _validate(values: dict[str, Any]) -> None:
    if values["auth"] not in AUTH_MODES:
        raise ConfigError(f"auth must be one of {', '.join(AUTH_MODES)}, got {values['auth']!r}")
    if not _NAME.match(values["service"]):
        raise ConfigError(f"service name {values['service']!r} is not valid for Cloud Run",
                          hint="lowercase letters, digits and '-', starting with a letter, at most 49")
    target = urlsplit(values["target"])
    if values["target"] and (target.scheme not in ("http", "https") or not target.hostname):
        raise ConfigError(f"target must be an http:// or https:// URL, got {values['target']!r}")
    if values["login_server"]:
        login = urlsplit(values["login_server"])
        if login.scheme not in ("http", "https") or not login.hostname or login.username or login.query:
            raise ConfigError(f"login_server must be an http:// or https:// URL without credentials, "
                              f"got {values['login_server']!r}",
                              hint="the URL of your Headscale server, e.g. https://headscale.example.com")
    low, high = values["min_instances"], values["max_instances"]
    if low < 0 or high < 1 or low > high:
        raise ConfigError(f"instances: need 0 <= min ({low}) <= max ({high}) and max >= 1")


def load_config(
    env: Mapping[str, str],
    flags: Mapping[str, Any],
    *,
    cwd: Path,
    home: Path,
    required: Sequence[str] = ("project", "target"),
) -> DeployConfig:
    """Read every layer (the same ones every command reads: `devproxy.project`) and merge them."""
    layers = config_layers(env, cwd=cwd, home=home, keys=DEFAULTS)
    layers.append(("flag", {k: v for k, v in flags.items() if v is not None}))
    return merge(layers, required)
