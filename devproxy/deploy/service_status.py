"""`devproxy status`: observe and plan without applying (drift), and the service's readiness."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from devproxy.contract import READY_PATH
from devproxy.deploy import domains
from devproxy.deploy.config import DeployConfig
from devproxy.deploy.diff import changes, service_facts
from devproxy.deploy.plan import Action, DeployService, Desired, plan
from devproxy.deploy.render import action_dict
from devproxy.errors import CloudError

if TYPE_CHECKING:
    from devproxy.deploy.cloud_api import Cloud
    from google.cloud import run_v2

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
    #: what `devproxy deploy` would do now (empty: in sync).
    plan: tuple[Action, ...] = ()
    #: the custom domain's DNS records, conditions and next step (`domains.lines`), when one is set.
    domain: tuple[str, ...] = ()
    domain_json: dict[str, Any] | None = None

    @property
    def in_sync(self) -> bool:
        return not self.plan

    @property
    def healthy(self) -> bool:
        return self.ready_status == 200 and self.in_sync


def drift(expected: run_v2.Service, actual: run_v2.Service, cfg: DeployConfig | None = None) -> list[Drift]:
    """Every setting whose deployed value differs from what devproxy would deploy (pure)."""
    found = changes(service_facts(actual), service_facts(expected))
    return [Drift(c.field, c.new, c.old) for c in found]


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
    """Observe the project, plan against it without applying (drift), and call the readiness page.

    What status cannot know from its flags (the target, the image a build would produce) is
    taken from the deployed service, so only settings devproxy would change count as drift.

    Raises:
        CloudError: the service does not exist or cannot be read.
    """
    from devproxy.deploy.apply import observe

    service = cloud.get_service()
    if service is None:
        raise CloudError(f"service {cfg.service} does not exist in {cfg.project}/{cfg.region}",
                         hint="create it with `devproxy deploy`")
    facts = service_facts(service)
    cfg = replace(cfg, image=cfg.image or facts.get("image", ""),
                  target=cfg.target or facts.get("env DEVPROXY_TARGET", ""))
    current = observe(cloud, cfg)
    actions = tuple(plan(Desired(cfg), current))
    updates = [a for a in actions if isinstance(a, DeployService) and not a.create]
    condition = service.terminal_condition
    state = f"{condition.state.name} {condition.message}".strip() if condition.type_ else "unknown"
    url = str(service.uri)
    status, detail = fetch(f"{url}{READY_PATH}") if url else (None, "no URL yet")
    mapping = cloud.get_domain_mapping(cfg.domain) if cfg.domain else None
    return StatusReport(
        service=cfg.service,
        url=url,
        revision=str(service.latest_ready_revision).rsplit("/", 1)[-1],
        condition=state,
        drift=tuple(Drift(c.field, c.new, c.old) for a in updates for c in a.changes),
        ready_status=status,
        ready_detail=detail,
        plan=actions,
        domain=tuple(domains.lines(mapping, cfg.domain)) if cfg.domain else (),
        domain_json=domains.as_json(mapping, cfg.domain) if cfg.domain else None,
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
    others = [a for a in report.plan if not isinstance(a, DeployService)]
    if others:
        write("missing (deploy would do):")
        for action in others:
            write(f"  - {action.describe()}")
    if report.in_sync:
        write("drift: none")
    else:
        write("run `devproxy deploy` to apply these changes")
    shown = report.ready_status if report.ready_status is not None else "-"
    write(f"readiness ({READY_PATH}): {shown} {report.ready_detail}".rstrip())
    for line in report.domain:
        write(line)


def status_json(report: StatusReport) -> dict[str, Any]:
    return {
        "service": report.service,
        "url": report.url,
        "revision": report.revision,
        "condition": report.condition,
        "drift": [{"field": d.field, "expected": d.expected, "actual": d.actual} for d in report.drift],
        "plan": [action_dict(a) for a in report.plan],
        "in_sync": report.in_sync,
        "domain": report.domain_json,
        "ready": {"status": report.ready_status, "detail": report.ready_detail},
        "healthy": report.healthy,
    }
