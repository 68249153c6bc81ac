"""`devproxy init`: a commented devproxy.toml from flags, gcloud's defaults and (on a terminal) answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from devproxy.contract import AUTH_MODES
from devproxy.deploy.config import DEFAULTS
from devproxy.errors import ConfigError
from devproxy.project import gcloud_layer

Ask = Callable[[str, str], str]

_QUESTIONS = (
    ("project", "Google Cloud project id"),
    ("region", "Cloud Run region"),
    ("service", "Cloud Run service name"),
    ("target", "URL of your dev server on the tailnet (e.g. http://devbox:8080)"),
    ("auth", f"Access control ({'|'.join(AUTH_MODES)})"),
)


def answers(env: Mapping[str, str], flags: Mapping[str, str | None], ask: Ask | None,
            *, home: Path) -> dict[str, str]:
    """Flags win; the rest is asked (defaults from gcloud's configuration) or left at defaults."""
    suggested: dict[str, Any] = {k: DEFAULTS[k] for k, _ in _QUESTIONS}
    found = gcloud_layer(env, home)
    from_gcloud = dict(found[1]) if found else {}
    suggested.update(from_gcloud)
    values: dict[str, str] = {}
    for key, label in _QUESTIONS:
        if flags.get(key):
            values[key] = str(flags[key])
        elif ask is not None:
            values[key] = ask(label, str(suggested[key] or ""))
        elif key in from_gcloud:
            values[key] = str(from_gcloud[key])
    if values.get("auth", "token") not in AUTH_MODES:
        raise ConfigError(f"auth must be one of {', '.join(AUTH_MODES)}")
    return {k: v for k, v in values.items() if v}


def render_toml(values: Mapping[str, str]) -> str:
    """The file text: every known setting, commented out unless it has a value."""
    notes = {
        "project": "Google Cloud project (else GOOGLE_CLOUD_PROJECT or gcloud's default)",
        "region": "Cloud Run region",
        "service": "Cloud Run service name; secrets are named <service>-ts-authkey, <service>-access-token",
        "target": "the dev server on your tailnet that the public URL reaches",
        "auth": "token (login page + cookie), iap (Identity-Aware Proxy), or none (anyone with the URL)",
        "image": "deploy a prebuilt image instead of building one with Cloud Build",
        "min_instances": "keep one instance (and its tailnet node) up",
        "max_instances": "one instance: one tailnet node, no hostname churn",
        "cpu": "vCPUs (CPU stays allocated between requests for tailscaled)",
        "memory": "gen2 needs at least 512Mi",
        "repository": "Artifact Registry repository for built images",
        "bucket": "Cloud Storage bucket for build contexts (default <project>-devproxy-build)",
        "service_account": "runtime service account (default <service>-runtime@<project>...)",
        "tailscale_version": "tag of the official tailscale/tailscale image",
        "tailscale_hostname": "the node's name on your tailnet",
        "login_server": "control server URL when you run Headscale (default: Tailscale's)",
        "wheel": "a prebuilt devproxy wheel to install in the image (default: build one from this checkout)",
        "economy": "true: scale to zero (min 0, max 1, CPU only during requests); false: always on",
        "tailscale_client_id": "keyless: client id of a Tailscale federated identity (no stored secret)",
        "tailscale_audience": "keyless: ID token audience (default api.tailscale.com/<client id>)",
        "tailscale_tags": "tags the node advertises (default tag:devproxy when keyless)",
        "hours_per_day": "hours of use a day the cost estimate assumes",
        "routes": 'more dev servers beside the target, e.g. ["/jupyter/=http://devbox:8889"]',
        "domain": "your own domain for the service, e.g. dev.example.com (Cloud Run domain mapping)",
        "allow": 'with auth = "iap": who may pass IAP, e.g. ["user:alice@example.com", "group:dev@example.com"]',
    }
    lines = ["# devproxy deploy settings. Precedence: flags > DEVPROXY_* env > this file > gcloud config.",
             "# The Tailscale auth key never goes here: use TS_AUTHKEY or --ts-authkey-file.", "[deploy]"]
    for key, default in DEFAULTS.items():
        lines.append(f"# {notes[key]}")
        if key in values:
            lines.append(f"{key} = {json.dumps(values[key])}")
        else:
            shown = json.dumps(default) if default is not None else '""'
            lines.append(f"# {key} = {shown}")
    return "\n".join(lines) + "\n"


def write_init(path: Path, values: Mapping[str, str], *, force: bool) -> None:
    """Write the file, refusing to overwrite one unless `force`.

    Raises:
        ConfigError: the file exists (without force) or cannot be written.
    """
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists", hint="pass --force to overwrite it")
    try:
        path.write_text(render_toml(values), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc
