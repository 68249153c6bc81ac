"""`devproxy status`: the deployed service against what devproxy would deploy, and its readiness."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devproxy.deploy.config import DeployConfig
from devproxy.contract import READY_PATH, SECRET_ENV
from devproxy.deploy.spec import PROJECT_NUMBER_PLACEHOLDER, build_service
from devproxy.errors import CloudError

if TYPE_CHECKING:
    from devproxy.deploy.cloud_api import Cloud
    from google.cloud import run_v2

_NUMBER = re.compile(r"^/projects/\d+/")
Fetch = Callable[[str], tuple[int | None, str]]


@dataclass(frozen=True, slots=True)
class Drift:
    field: str
    expected: str
    actual: str


@dataclass(frozen=True, slots=True)
class StatusReport:
    service: str
    url: str
    revision: str
    condition: str
    drift: tuple[Drift, ...]
    ready_status: int | None
    ready_detail: str

    @property
    def healthy(self) -> bool:
        return self.ready_status == 200


def _facts(service: run_v2.Service, cfg: DeployConfig) -> dict[str, str]:
    """The settings devproxy cares about, flattened to comparable strings (pure)."""
    template = service.template
    container = template.containers[0] if template.containers else None
    facts = {
        "timeout": f"{template.timeout.seconds}s",
        "session_affinity": str(bool(template.session_affinity)),
        "execution_environment": template.execution_environment.name,
        "min_instances": str(template.scaling.min_instance_count),
        "max_instances": str(template.scaling.max_instance_count),
        "service_account": template.service_account,
        "invoker_iam_disabled": str(bool(service.invoker_iam_disabled)),
        "iap_enabled": str(bool(service.iap_enabled)),
    }
    if container is not None:
        facts["cpu_idle"] = str(bool(container.resources.cpu_idle))
        facts["port"] = ",".join(f"{p.name}:{p.container_port}" for p in container.ports)
        facts["startup_probe"] = container.startup_probe.http_get.path or "(none)"
        for env in container.env:
            if env.value_source.secret_key_ref.secret:
                ref = env.value_source.secret_key_ref
                facts[f"env {env.name}"] = f"secret {ref.secret}:{ref.version}"
            elif env.name in SECRET_ENV:
                # never echo a secret someone stored as a plain value; say that it is one
                facts[f"env {env.name}"] = "plain value (should be a secret reference)"
            elif env.name == "DEVPROXY_IAP_AUDIENCE":
                # the expected spec cannot know the project number; compare the rest
                facts[f"env {env.name}"] = _NUMBER.sub(f"/projects/{PROJECT_NUMBER_PLACEHOLDER}/", env.value)
            elif env.name != "DEVPROXY_TARGET" or cfg.target:
                facts[f"env {env.name}"] = env.value
    return facts


def drift(expected: run_v2.Service, actual: run_v2.Service, cfg: DeployConfig) -> list[Drift]:
    """Every setting whose deployed value differs from what devproxy would deploy (pure)."""
    want, have = _facts(expected, cfg), _facts(actual, cfg)
    keys = sorted(set(want) | set(have))
    return [Drift(k, want.get(k, "(absent)"), have.get(k, "(absent)")) for k in keys
            if want.get(k) != have.get(k)]


def fetch_ready(url: str, timeout: float = 10.0) -> tuple[int | None, str]:
    """GET the readiness page (sync: status runs no event loop)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - https/http URL from Cloud Run
            return int(response.status), response.read(300).decode("utf-8", "replace").strip()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(300).decode("utf-8", "replace").strip()
    except (urllib.error.URLError, OSError) as exc:
        return None, f"unreachable: {getattr(exc, 'reason', exc)}"


def read_status(cfg: DeployConfig, cloud: Cloud, fetch: Fetch = fetch_ready) -> StatusReport:
    """Read the service and call its readiness page.

    Raises:
        CloudError: the service does not exist or cannot be read.
    """
    service = cloud.get_service()
    if service is None:
        raise CloudError(f"service {cfg.service} does not exist in {cfg.project}/{cfg.region}",
                         hint="create it with `devproxy deploy`")
    image = service.template.containers[0].image if service.template.containers else ""
    expected = build_service(cfg, image)
    condition = service.terminal_condition
    state = f"{condition.state.name} {condition.message}".strip() if condition.type_ else "unknown"
    url = str(service.uri)
    status, detail = fetch(f"{url}{READY_PATH}") if url else (None, "no URL yet")
    return StatusReport(
        service=cfg.service,
        url=url,
        revision=str(service.latest_ready_revision).rsplit("/", 1)[-1],
        condition=state,
        drift=tuple(drift(expected, service, cfg)),
        ready_status=status,
        ready_detail=detail,
    )


def write_status(report: StatusReport, write: Callable[[str], None]) -> None:
    write(f"service: {report.service}")
    write(f"url: {report.url}")
    write(f"ready revision: {report.revision or '(none)'}")
    write(f"condition: {report.condition}")
    if report.drift:
        write("drift from what devproxy deploys:")
        for item in report.drift:
            write(f"  {item.field}: expected {item.expected}, deployed {item.actual}")
    else:
        write("drift: none")
    shown = report.ready_status if report.ready_status is not None else "-"
    write(f"readiness ({READY_PATH}): {shown} {report.ready_detail}".rstrip())


def status_json(report: StatusReport) -> dict[str, Any]:
    return {
        "service": report.service,
        "url": report.url,
        "revision": report.revision,
        "condition": report.condition,
        "drift": [{"field": d.field, "expected": d.expected, "actual": d.actual} for d in report.drift],
        "ready": {"status": report.ready_status, "detail": report.ready_detail},
        "healthy": report.healthy,
    }
