"""Human and JSON renderings of dry runs, deploy results and status (no I/O beyond the writer)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devproxy.deploy.config import DeployConfig
from devproxy.deploy.cost import Estimate
from devproxy.deploy.credentials import FederatedIdentity
from devproxy.deploy.plan import Action
from devproxy.deploy.templates import Rendered

Write = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DryRun:
    """Everything a dry run shows: no secret value is in here, only references."""

    cfg: DeployConfig
    actions: tuple[Action, ...]
    templates: Rendered | None
    spec: dict[str, Any]
    #: why the plan is against an empty project (no credentials); empty when the project was read.
    note: str = ""
    credential: str = ""
    federation: FederatedIdentity | None = None
    cost: tuple[Estimate, ...] = ()
    cost_header: str = ""


@dataclass(frozen=True, slots=True)
class DeployResult:
    """What a finished deploy reports."""

    service: str
    url: str
    revision: str
    image: str
    actions: tuple[Action, ...]
    auth: str
    #: how to get in: a command to print the token, or a console hint (never the token itself).
    login_hint: str = ""
    login_link: str | None = field(default=None, repr=False)
    credential: str = ""
    #: what to enter in Tailscale's admin console (keyless mode only).
    federation: FederatedIdentity | None = None
    #: this deploy set keyless mode up or changed it: print the federation, once.
    federation_new: bool = False
    cost: tuple[Estimate, ...] = ()
    cost_header: str = ""
    domain: list[str] = field(default_factory=list)
    domain_json: dict[str, Any] | None = None


def action_dict(action: Action) -> dict[str, Any]:
    """An action as JSON: references as their text; the service spec is shown once, as "service"."""
    data: dict[str, Any] = {"action": type(action).__name__, "description": action.describe()}
    for key in action.__dataclass_fields__:
        value = getattr(action, key)
        if key == "changes":
            data[key] = [{"field": c.field, "old": c.old, "new": c.new} for c in value]
        elif key != "spec":
            data[key] = value if isinstance(value, (str, bool, int)) or value is None else str(value)
    return data


def settings_lines(cfg: DeployConfig) -> list[str]:
    keys = ("project", "region", "service", "target", "auth", "economy", "min_instances", "max_instances")
    return [f"  {k}: {getattr(cfg, k)}  ({cfg.source_of(k)})" for k in keys]


def write_dry_run(report: DryRun, write: Write) -> None:
    cfg = report.cfg
    write("Dry run: nothing is changed. Settings:")
    for line in settings_lines(cfg):
        write(line)
    write("")
    if report.note:
        write(report.note)
    write_plan(report.actions, write, "Plan (what `devproxy deploy` would do now, in order):")
    write("")
    write(f"Tailscale credential: {report.credential}")
    if report.federation:
        write_federation(report.federation, write)
    write("")
    write_cost(report.cost_header, report.cost, write)
    write("")
    if report.templates is not None:
        args = " ".join(f"{k}={v}" for k, v in report.templates.build_args)
        write(f"Dockerfile (build args: {args}):")
        for line in report.templates.dockerfile.splitlines():
            write(f"  {line}")
        write("")
    else:
        write(f"Image: {cfg.image} (--image: nothing is built)")
        write("")
    write(f"Cloud Run service {cfg.service_name} (secrets are references, never values):")
    for line in json.dumps(report.spec, indent=2).splitlines():
        write(f"  {line}")


def write_plan(actions: tuple[Action, ...], write: Write, title: str) -> None:
    if not actions:
        write("Nothing to change: the project already matches these settings.")
        return
    write(title)
    for number, action in enumerate(actions, 1):
        write(f"  {number}. {action.describe()}")


def write_federation(identity: FederatedIdentity, write: Write) -> None:
    write("  In Tailscale's admin console, add a federated identity (Settings -> Trust credentials) with:")
    for line in identity.lines():
        write(f"    {line}")


def write_cost(header: str, estimates: tuple[Estimate, ...], write: Write) -> None:
    write(header)
    for estimate in estimates:
        write(f"  {estimate.line()}")


def _cost_json(header: str, estimates: tuple[Estimate, ...]) -> dict[str, Any]:
    return {"estimate": True, "basis": header,
            "modes": [{"mode": e.mode, "usd_per_month": round(e.list_usd, 2),
                       "usd_per_month_after_free_tier": round(e.after_free_tier_usd, 2), "chosen": e.chosen}
                      for e in estimates]}


def _federation_json(identity: FederatedIdentity | None) -> dict[str, Any] | None:
    if identity is None:
        return None
    return {"issuer": identity.issuer, "subject": identity.subject, "account": identity.account,
            "audience": identity.audience, "tags": list(identity.tags), "client_id": identity.client_id}


def dry_run_json(report: DryRun) -> dict[str, Any]:
    templates = report.templates
    return {
        "dry_run": True,
        "observed": not report.note,
        "note": report.note,
        "credential": report.credential,
        "federated_identity": _federation_json(report.federation),
        "cost": _cost_json(report.cost_header, report.cost),
        "settings": {k: v for k, v in _cfg_dict(report.cfg).items()},
        "plan": [action_dict(a) for a in report.actions],
        "dockerfile": templates.dockerfile if templates else None,
        "build_args": dict(templates.build_args) if templates else {},
        "service": report.spec,
    }


def _cfg_dict(cfg: DeployConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in cfg.__dataclass_fields__ if k != "sources"}


def write_result(result: DeployResult, write: Write) -> None:
    if not result.actions:
        write("Nothing to change.")
    write(f"Service {result.service} is ready: {result.url}")
    write(f"  revision: {result.revision}")
    write(f"  image: {result.image}")
    if result.login_link:
        write(f"  one-time login link (keep it private): {result.login_link}")
    if result.login_hint:
        write(f"  {result.login_hint}")
    write(f"  Tailscale credential: {result.credential}")
    if result.federation and result.federation_new:
        write_federation(result.federation, write)
    for line in result.domain:
        write(line)
    write_cost(result.cost_header, result.cost, write)


def result_json(result: DeployResult) -> dict[str, Any]:
    return {
        "service": result.service,
        "url": result.url,
        "revision": result.revision,
        "image": result.image,
        "auth": result.auth,
        "actions": [action_dict(a) for a in result.actions],
        "login_hint": result.login_hint,
        "credential": result.credential,
        "federated_identity": _federation_json(result.federation),
        "domain": result.domain_json,
        "cost": _cost_json(result.cost_header, result.cost),
    }
