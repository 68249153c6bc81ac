"""Which Google Cloud project, region and service a command works on: one answer for every command.

Layers, lowest first: defaults < gcloud's active configuration < devproxy.toml ([deploy] table;
``DEVPROXY_CONFIG`` names another file) < GOOGLE_CLOUD_PROJECT / CLOUDSDK_CORE_PROJECT /
CLOUDSDK_RUN_REGION < DEVPROXY_PROJECT / DEVPROXY_REGION / DEVPROXY_SERVICE < flags.
`deploy` merges the same layers (with its other settings) through `config_layers`; `logs`,
`status`, `open` and `destroy` call `resolve`. The readers touch only the files and the
environment mapping they are given.
"""

from __future__ import annotations

import configparser
import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devproxy.errors import ConfigError

CONFIG_FILE = "devproxy.toml"
DEFAULT_REGION = "us-central1"
DEFAULT_SERVICE = "devproxy"
#: the keys this module resolves, with their defaults (None: no default).
PLACE_DEFAULTS: dict[str, str | None] = {"project": None, "region": DEFAULT_REGION, "service": DEFAULT_SERVICE}
PROJECT_HINT = ("pass --project, set GOOGLE_CLOUD_PROJECT, put project in devproxy.toml (`devproxy init`), "
                "or run `gcloud config set project P`")
_GOOGLE_ENV = (("CLOUDSDK_CORE_PROJECT", "project"), ("GOOGLE_CLOUD_PROJECT", "project"),
               ("CLOUDSDK_RUN_REGION", "region"))

#: (where the values came from, the values).
Layer = tuple[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Place:
    """A Cloud Run service: its project, region and name, and where each value came from."""

    project: str
    region: str
    service: str
    sources: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def source_of(self, key: str) -> str:
        """"default", "flag", "devproxy.toml", "gcloud config default", "env DEVPROXY_REGION", ..."""
        return dict(self.sources).get(key, "default")

    @property
    def chosen_region(self) -> str | None:
        """The region when something set it; None when it is only the default."""
        return None if self.source_of("region") == "default" else self.region


def gcloud_layer(env: Mapping[str, str], home: Path) -> Layer | None:
    """[core] project and [run] region from gcloud's active configuration file, if any."""
    root = Path(env["CLOUDSDK_CONFIG"]) if env.get("CLOUDSDK_CONFIG") else home / ".config" / "gcloud"
    name = env.get("CLOUDSDK_ACTIVE_CONFIG_NAME")
    if not name:
        try:
            name = (root / "active_config").read_text(encoding="utf-8").strip() or "default"
        except OSError:
            name = "default"
    parser = configparser.ConfigParser()
    try:
        if not parser.read(root / "configurations" / f"config_{name}", encoding="utf-8"):
            return None
    except configparser.Error:
        return None
    found: dict[str, Any] = {}
    if parser.has_option("core", "project"):
        found["project"] = parser.get("core", "project")
    if parser.has_option("run", "region"):
        found["region"] = parser.get("run", "region")
    return (f"gcloud config {name}", found) if found else None


def toml_layer(path: Path) -> Layer | None:
    """The [deploy] table (or the top level) of devproxy.toml, if the file exists.

    Raises:
        ConfigError: the file is not valid TOML.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    table = data.get("deploy", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [deploy] must be a table")
    return (str(path.name), table)


def config_path(env: Mapping[str, str], cwd: Path) -> Path:
    """devproxy.toml in the working directory, or the file DEVPROXY_CONFIG names."""
    return Path(env["DEVPROXY_CONFIG"]) if env.get("DEVPROXY_CONFIG") else cwd / CONFIG_FILE


def env_layers(env: Mapping[str, str], keys: Collection[str]) -> list[Layer]:
    """Google's usual variables, then DEVPROXY_<KEY> for each of `keys` (which win)."""
    google = {key: env[name] for name, key in _GOOGLE_ENV if env.get(name)}
    names = sorted(name for name, _ in _GOOGLE_ENV if env.get(name))
    layers: list[Layer] = [("env " + "/".join(names), google)] if google else []
    for key in keys:
        name = f"DEVPROXY_{key.upper()}"
        if env.get(name):
            layers.append((f"env {name}", {key: env[name]}))
    return layers


def config_layers(env: Mapping[str, str], *, cwd: Path, home: Path, keys: Collection[str]) -> list[Layer]:
    """Every layer below the flags, lowest first (the devproxy.toml layer holds all of its keys).

    Raises:
        ConfigError: devproxy.toml is not valid TOML.
    """
    layers = [layer for layer in (gcloud_layer(env, home), toml_layer(config_path(env, cwd))) if layer]
    return layers + env_layers(env, keys)


def merge_place(layers: Sequence[Layer]) -> Place:
    """Project, region and service from `layers` (lowest first; other keys are ignored).

    Raises:
        ConfigError: no project is set, or a value is not a string.
    """
    values = dict(PLACE_DEFAULTS)
    sources: dict[str, str] = {}
    for origin, layer in layers:
        for key in PLACE_DEFAULTS:
            value = layer.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise ConfigError(f"{key} must be a string, got {value!r} ({origin})")
            values[key] = value.strip()
            sources[key] = origin
    if not values["project"]:
        raise ConfigError("no project set", hint=PROJECT_HINT)
    return Place(str(values["project"]), str(values["region"]), str(values["service"]),
                 tuple(sorted(sources.items())))


def resolve(env: Mapping[str, str], flags: Mapping[str, str | None], *, cwd: Path, home: Path) -> Place:
    """The project, region and service a command works on (flags win over every file and variable).

    Raises:
        ConfigError: no project is set anywhere, or devproxy.toml is unreadable.
    """
    layers = config_layers(env, cwd=cwd, home=home, keys=PLACE_DEFAULTS)
    layers.append(("flag", {k: v for k, v in flags.items() if k in PLACE_DEFAULTS and v is not None}))
    return merge_place(layers)


#: the help texts of --project, --region and --service, one wording for every command.
PROJECT_HELP = "Google Cloud project id [default: devproxy.toml's, GOOGLE_CLOUD_PROJECT or gcloud's]"
REGION_HELP = f"Cloud Run region [default: devproxy.toml's or gcloud's, else {DEFAULT_REGION}]"
SERVICE_HELP = f"Cloud Run service name [default: devproxy.toml's, else {DEFAULT_SERVICE}]"
