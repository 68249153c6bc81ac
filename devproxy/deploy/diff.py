"""A Cloud Run service as named, comparable facts, and the difference of two such views (pure).

Deploy plans an update only when a fact differs, and `status` reports the same differences as
drift. Each fact is one setting devproxy decides (`build_service` sets nothing this module does
not name: a test changes every field of the built spec and expects a change here). Output-only
fields and defaults Cloud Run fills in are not facts, so a service read back compares equal to
the one sent. Secret values are never facts: a secret env var is its reference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devproxy.contract import SECRET_ENV
from devproxy.deploy.spec import SECRET_VERSIONS_LABEL
from devproxy.deploy.spec import labels as devproxy_labels

if TYPE_CHECKING:
    from google.cloud import run_v2

Facts = Mapping[str, str]
IAP_AUDIENCE_ENV = "DEVPROXY_IAP_AUDIENCE"
_NUMBER = re.compile(r"^/projects/\d+/")


@dataclass(frozen=True, slots=True)
class Change:
    """One fact whose deployed value (`old`) differs from what devproxy deploys (`new`)."""

    field: str
    old: str
    new: str

    def describe(self) -> str:
        return f"{self.field}: {self.old} -> {self.new}"


def _probe(probe: run_v2.Probe) -> str:
    if not probe.http_get.path:
        return "(none)"
    return (f"GET {probe.http_get.path} :{probe.http_get.port} every {probe.period_seconds}s, "
            f"{probe.failure_threshold} tries, {probe.timeout_seconds}s timeout")


def _labels(labels: Mapping[str, str]) -> str:
    """The labels devproxy sets; labels someone added by hand (or Google) are theirs, not drift."""
    return ",".join(f"{k}={labels[k]}" for k in sorted(devproxy_labels()) if k in labels) or "(none)"


def service_facts(service: run_v2.Service) -> dict[str, str]:
    """The settings devproxy decides, flattened to strings."""
    template = service.template
    facts = {
        "labels": _labels(service.labels),
        "ingress": service.ingress.name,
        "invoker_iam_disabled": str(bool(service.invoker_iam_disabled)),
        "iap_enabled": str(bool(service.iap_enabled)),
        "revision_labels": _labels(template.labels),
        "secret_versions": template.labels.get(SECRET_VERSIONS_LABEL, "(none)"),
        "min_instances": str(template.scaling.min_instance_count),
        "max_instances": str(template.scaling.max_instance_count),
        "timeout": f"{template.timeout.seconds}s",
        "service_account": template.service_account,
        "execution_environment": template.execution_environment.name,
        "session_affinity": str(bool(template.session_affinity)),
        "containers": str(len(template.containers)),
    }
    if template.containers:
        container = template.containers[0]
        facts.update({
            "container": container.name,
            "image": container.image,
            "port": ",".join(f"{p.name}:{p.container_port}" for p in container.ports),
            "cpu": container.resources.limits.get("cpu", "(default)"),
            "memory": container.resources.limits.get("memory", "(default)"),
            "cpu_idle": str(bool(container.resources.cpu_idle)),
            "startup_cpu_boost": str(bool(container.resources.startup_cpu_boost)),
            "startup_probe": _probe(container.startup_probe),
            "liveness_probe": _probe(container.liveness_probe),
        })
        for env in container.env:
            facts[f"env {env.name}"] = _env_fact(env)
    return facts


def _env_fact(env: run_v2.EnvVar) -> str:
    ref = env.value_source.secret_key_ref
    if ref.secret:
        return f"secret {ref.secret}:{ref.version}"
    if env.name in SECRET_ENV:
        # never echo a secret someone stored as a plain value; say that it is one
        return "plain value (should be a secret reference)"
    if env.name == IAP_AUDIENCE_ENV:
        # a plan without the project's number spells it as a placeholder; the rest must match
        return _NUMBER.sub("/projects/PROJECT_NUMBER/", env.value)
    return env.value


def changes(deployed: Facts, wanted: Facts) -> list[Change]:
    """Every fact whose deployed value differs from the wanted one, sorted by name."""
    keys = sorted(set(deployed) | set(wanted))
    return [Change(k, deployed.get(k, "(absent)"), wanted.get(k, "(absent)")) for k in keys
            if deployed.get(k) != wanted.get(k)]
