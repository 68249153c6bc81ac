"""The formats of deploy's settings, checked before anything else is done (pure).

A project id, region, image reference or port that cannot exist is a one-line `ConfigError`
(exit 2) here, before credentials are loaded or a wheel is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from devproxy.contract import AUTH_MODES
from devproxy.deploy.quantities import gib, vcpus
from devproxy.errors import ConfigError
from devproxy.route_specs import parse_specs

_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$")
#: 6-30 characters, optionally behind a legacy domain scope ("example.com:my-project").
_PROJECT = re.compile(r"^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+(?:-[a-z]+)+[0-9]+$")
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_PATH_PART}(?:/{_PATH_PART})*"
                    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*:[0-9a-fA-F]{32,})?$")
_TAG = re.compile(r"^tag:[A-Za-z0-9][A-Za-z0-9_-]*$")
_TOKEN = re.compile(r"^[A-Za-z0-9._:/-]+$")
_DOMAIN = re.compile(r"^(?=.{1,64}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_MEMBER = re.compile(r"^(user|group|serviceAccount|domain):([^\s=]+)$")
#: regions where Cloud Run domain mappings are offered (a preview feature).
DOMAIN_MAPPING_REGIONS = ("asia-east1", "asia-northeast1", "asia-southeast1", "europe-north1", "europe-west1",
                          "europe-west4", "us-central1", "us-east1", "us-east4", "us-west1")


def google_formats(project: str | None, region: str, image: str | None) -> None:
    """Names Google Cloud would refuse: a project id, region or image reference that cannot exist.

    Raises:
        ConfigError: the first one that cannot exist.
    """
    if project and not _PROJECT.match(project):
        raise ConfigError(f"project id {project!r} cannot exist",
                          hint="6-30 lowercase letters, digits and '-', starting with a letter; "
                               "`gcloud projects list` shows yours")
    if not _REGION.match(region):
        raise ConfigError(f"region {region!r} is not a Google Cloud region",
                          hint="for example us-central1 or europe-west4; `gcloud run regions list` lists them")
    if image and not _IMAGE.match(image):
        raise ConfigError(f"image {image!r} is not an image reference",
                          hint="REGISTRY/PATH[:TAG][@sha256:DIGEST], e.g. us-docker.pkg.dev/p/repo/devproxy:1")


def validate(values: Mapping[str, Any]) -> None:
    """Every setting's format (ports included) and the rules between settings.

    Raises:
        ConfigError: the first setting that cannot be right.
    """
    if values["auth"] not in AUTH_MODES:
        raise ConfigError(f"auth must be one of {', '.join(AUTH_MODES)}, got {values['auth']!r}")
    if not _NAME.match(values["service"]):
        raise ConfigError(f"service name {values['service']!r} is not valid for Cloud Run",
                          hint="lowercase letters, digits and '-', starting with a letter, at most 49")
    if values["target"]:
        check_url("target", values["target"])
    if values["login_server"]:
        check_url("login_server", values["login_server"],
                  hint="the URL of your Headscale server, e.g. https://headscale.example.com")
    vcpus(values["cpu"])
    gib(values["memory"])
    low, high = values["min_instances"], values["max_instances"]
    if low < 0 or high < 1 or low > high:
        raise ConfigError(f"instances: need 0 <= min ({low}) <= max ({high}) and max >= 1")
    _tailscale(values)
    _routes(values["routes"])
    _domain(values["domain"], values["region"])
    _allow(values["allow"], values["auth"], values["routes"])


def check_url(key: str, url: str, hint: str | None = None) -> None:
    """An http(s) URL with a host, a port that can exist, and no credentials.

    Raises:
        ConfigError: it is not one.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{key} {url!r} has a port that cannot exist", hint="ports run from 1 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or port == 0:
        raise ConfigError(f"{key} must be an http:// or https:// URL without credentials, got {url!r}", hint=hint)
    if parts.query or parts.fragment:  # the runtime refuses them too (runtime/config.parse_target)
        raise ConfigError(f"{key} {url!r} has a query or fragment, which a target cannot have", hint=hint)


def _tailscale(values: Mapping[str, Any]) -> None:
    for tag in values["tailscale_tags"]:
        if not _TAG.match(tag):
            raise ConfigError(f"tag {tag!r} is not a Tailscale tag", hint="tags read tag:NAME, e.g. --tags tag:devproxy")
    for key in ("tailscale_client_id", "tailscale_audience"):
        if values[key] and not _TOKEN.match(values[key]):
            raise ConfigError(f"{key} {values[key]!r} has characters a {key.split('_')[-1]} does not",
                              hint="copy it from the federated identity in Tailscale's admin console")
    if values["tailscale_audience"] and not values["tailscale_client_id"]:
        raise ConfigError("tailscale_audience is set without tailscale_client_id",
                          hint="keyless mode needs --tailscale-client-id (the federated identity's client id)")


def _routes(routes: tuple[tuple[str, str], ...]) -> None:
    """The runtime's own rule for a route (route_specs), then the URL as deploy checks any URL."""
    specs = parse_specs(f"{prefix}={url}" for prefix, url in routes)
    for spec in specs:
        if any(c in spec.url for c in ", "):  # DEVPROXY_ROUTES separates routes with commas
            raise ConfigError(f"invalid route {spec.prefix}={spec.url}: a URL holds no ',' or space")
        check_url(f"route {spec.prefix}", spec.url)


def _domain(domain: str | None, region: str) -> None:
    if not domain:
        return
    if not _DOMAIN.match(domain):
        raise ConfigError(f"domain {domain!r} is not a domain name devproxy can map",
                          hint="a lowercase name such as dev.example.com, at most 64 characters, no wildcard")
    if region not in DOMAIN_MAPPING_REGIONS:
        raise ConfigError(f"Cloud Run domain mappings are not offered in {region}; they are in "
                          f"{', '.join(DOMAIN_MAPPING_REGIONS)}",
                          hint="deploy in one of those, or put a global external Application Load Balancer "
                               "with a serverless NEG in front of the service")


def allow_grants(entries: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    """`--allow` entries as (member, route prefix or None): `user:bob@example.com=/jupyter/` limits bob to it."""
    grants = []
    for entry in entries:
        member, sep, rest = entry.partition("=/")
        grants.append((member, "/" + rest if sep else None))
    return tuple(grants)


def _allow(entries: tuple[str, ...], auth: str, routes: tuple[tuple[str, str], ...]) -> None:
    if entries and auth != "iap":
        raise ConfigError("--allow grants access through IAP, which needs --auth iap",
                          hint="add --auth iap, or drop --allow")
    stems = {prefix.rstrip("/"): prefix for prefix, _ in routes}
    scopes: dict[str, set[str | None]] = {}
    for entry, (member, prefix) in zip(entries, allow_grants(entries)):
        found = _MEMBER.match(member)
        if not found or ("@" not in found.group(2)) == (found.group(1) != "domain"):
            raise ConfigError(f"--allow {entry!r} is not a member IAP knows",
                              hint="user:EMAIL, group:EMAIL, serviceAccount:EMAIL or domain:example.com, "
                                   "optionally =PREFIX of a route, e.g. user:bob@example.com=/jupyter/")
        if prefix is not None and prefix.rstrip("/") not in stems:
            known = ", ".join(stems.values()) or "none"
            raise ConfigError(f"--allow {entry!r}: {prefix} is not one of the routes (routes: {known})",
                              hint="a member limited to a prefix gets exactly one route; without =PREFIX "
                                   "the member reaches everything")
        scopes.setdefault(member, set()).add(prefix)
    for member, scope in scopes.items():
        if None in scope and len(scope) > 1:
            raise ConfigError(f"--allow {member} is given both for everything and for a route prefix",
                              hint="keep one: MEMBER for everything, or MEMBER=PREFIX for each route")
