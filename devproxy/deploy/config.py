"""The deploy configuration: one frozen value merged from layers, lowest first.

defaults < gcloud configuration files < devproxy.toml < GOOGLE_CLOUD_PROJECT / CLOUDSDK_*
< DEVPROXY_* < flags. The layers are read by `devproxy.project`, so project, region and service
resolve the same way for every command; `merge` is pure and is what the table tests exercise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devproxy.deploy.checks import validate
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
    "economy": False,
    "tailscale_client_id": None,
    "tailscale_audience": None,
    "tailscale_tags": (),
    "hours_per_day": 4.0,
    "routes": (),
    "domain": None,
    "allow": (),
}
_INT_KEYS = ("min_instances", "max_instances")
_BOOL_KEYS = ("economy",)
_FLOAT_KEYS = ("hours_per_day",)
#: settings that hold several values: a TOML array, or one comma-separated string (env, flags).
_LIST_KEYS = ("tailscale_tags", "allow")
DEFAULT_TAGS = ("tag:devproxy",)


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
    #: scale to zero: min 0, max 1 instance, CPU only during requests, startup CPU boost.
    economy: bool = False
    #: keyless: the Tailscale federated identity's client id (no Tailscale secret is stored).
    tailscale_client_id: str | None = None
    tailscale_audience: str | None = None
    tailscale_tags: tuple[str, ...] = ()
    #: hours of use a day the cost estimate assumes.
    hours_per_day: float = 4.0
    #: (prefix, URL) pairs beside the target, passed to the service as DEVPROXY_ROUTES.
    routes: tuple[tuple[str, str], ...] = ()
    #: a custom domain mapped to the service (Cloud Run domain mapping).
    domain: str | None = None
    #: IAP members (user:, group:, serviceAccount:, domain:) granted access through IAP.
    allow: tuple[str, ...] = ()
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
    def keyless(self) -> bool:
        """The service's own Google identity joins the tailnet (workload identity federation)."""
        return bool(self.tailscale_client_id)

    @property
    def audience(self) -> str:
        """The audience of the ID token keyless mode exchanges (Tailscale's usual one by default)."""
        return self.tailscale_audience or f"api.tailscale.com/{self.tailscale_client_id}"

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags the node advertises: as configured, else tag:devproxy where tags are needed."""
        return self.tailscale_tags or (DEFAULT_TAGS if self.keyless else ())

    @property
    def secret_ids(self) -> tuple[str, ...]:
        """Secrets the service reads, in the order they are created."""
        tailscale = () if self.keyless else (self.authkey_secret,)
        if self.auth == "token":
            return (*tailscale, self.token_secret)
        return tailscale

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
    validate(values)
    _economy(values, sources)
    return DeployConfig(**values, sources=tuple(sorted(sources.items())))


def _economy(values: dict[str, Any], sources: dict[str, str]) -> None:
    """Economy mode fixes the instance counts; an explicit contrary count is a mistake, not a wish."""
    if not values["economy"]:
        return
    for key, wanted in (("min_instances", 0), ("max_instances", 1)):
        if key in sources and values[key] != wanted:
            raise ConfigError(f"economy mode runs {key.replace('_', ' ')} = {wanted}, but {key} = {values[key]} "
                              f"({sources[key]})", hint=f"drop {key}, or leave economy mode with --always-on")
        values[key] = wanted
        sources.setdefault(key, "economy")


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
    if key in _BOOL_KEYS:
        return _bool(key, value, origin)
    if key in _FLOAT_KEYS:
        return _float(key, value, origin)
    if key in _LIST_KEYS:
        return _list(key, value, origin)
    if key == "routes":
        return _routes(value, origin)
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r} ({origin})")
    return value.strip()


def _bool(key: str, value: Any, origin: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {value!r} ({origin})")


def _float(key: str, value: Any, origin: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number, got {value!r} ({origin})") from None
    if not 0 < number <= 24:  # also refuses nan; inf is above 24
        raise ConfigError(f"{key} must be more than 0 and at most 24, got {value!r} ({origin})")
    return number


def _list(key: str, value: Any, origin: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{key} must be a list of strings or one comma-separated string, got {value!r} "
                          f"({origin})")
    return tuple(i.strip() for i in items if i.strip())


def _routes(value: Any, origin: str) -> tuple[tuple[str, str], ...]:
    """`["/p/=URL", ...]`, a `{"/p/" = "URL"}` table, or `/p/=URL,/q/=URL` (env, flags) as pairs."""
    if isinstance(value, dict):
        pairs = [(str(k), v) for k, v in value.items()]
    else:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"routes must be PREFIX=URL strings or a table, got {value!r} ({origin})")
        pairs = []
        for item in (i.strip() for i in items if i.strip()):
            prefix, sep, url = item.partition("=")
            if not sep:
                raise ConfigError(f"route {item!r} is not PREFIX=URL ({origin})", hint="e.g. /jupyter/=http://devbox:8889")
            pairs.append((prefix, url))
    if not all(isinstance(url, str) for _, url in pairs):
        raise ConfigError(f"routes: every URL must be a string ({origin})")
    return tuple((p.strip(), str(u).strip()) for p, u in pairs)


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
