"""`devproxy deploy`, `devproxy init`, `devproxy status`: parse, call one library function, render."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from devproxy.project import PROJECT_HELP, REGION_HELP, SERVICE_HELP


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)
    app.command("init")(init)
    app.command("status")(status)


def _config(required: tuple[str, ...] = ("project", "target"), **flags: Any) -> Any:
    from devproxy.deploy.checks import google_formats
    from devproxy.deploy.config import load_config

    cfg = load_config(os.environ, flags, cwd=Path.cwd(), home=Path.home(), required=required)
    google_formats(cfg.project, cfg.region, cfg.image)  # before credentials, a wheel or any call
    return cfg


def _out(line: str) -> None:
    typer.echo(line)


def _err(line: str, style: str = "") -> None:
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, highlight=False, soft_wrap=True).print(Text(line, style=style))


def deploy(
    project: Optional[str] = typer.Option(None, "--project", help=PROJECT_HELP),
    region: Optional[str] = typer.Option(None, "--region", help=REGION_HELP),
    service: Optional[str] = typer.Option(None, "--service", help=SERVICE_HELP),
    target: Optional[str] = typer.Option(
        None, "--target", help="URL of the dev server on your tailnet, e.g. http://devbox:8888 "
        "[default: devproxy.toml's]"
    ),
    image: Optional[str] = typer.Option(
        None, "--image", help="Deploy this image; skips the build [default: build one]"
    ),
    auth: Optional[str] = typer.Option(None, "--auth", help="Access control: token|iap|none [default: token]"),
    min_instances: Optional[int] = typer.Option(
        None, "--min-instances", help="Instances kept running; 0 scales to zero (slow first request) [default: 1]"
    ),
    max_instances: Optional[int] = typer.Option(None, "--max-instances", help="Most instances at once [default: 1]"),
    login_server: Optional[str] = typer.Option(
        None, "--login-server", help="Control server URL, e.g. your Headscale [default: Tailscale's]"
    ),
    ts_authkey_file: Optional[str] = typer.Option(
        None, "--ts-authkey-file",
        help="File holding the Tailscale auth key or OAuth client secret (tskey-client-...) "
             "[default: TS_AUTHKEY, else asked]",
    ),
    economy: Optional[bool] = typer.Option(
        None, "--economy/--always-on",
        help="economy: scale to zero (min 0, max 1 instance, CPU only during requests, startup boost); "
             "always-on: one instance with CPU always allocated [default: always-on]",
    ),
    tailscale_client_id: Optional[str] = typer.Option(
        None, "--tailscale-client-id",
        help="Keyless: the client id of a Tailscale federated identity; no Tailscale secret is stored",
    ),
    tailscale_audience: Optional[str] = typer.Option(
        None, "--tailscale-audience", help="Keyless: the ID token's audience [default: api.tailscale.com/CLIENT_ID]"
    ),
    tags: Optional[str] = typer.Option(
        None, "--tags", help="Tailscale tags, comma-separated (needed with an OAuth client secret) "
                             "[default: tag:devproxy when keyless]"
    ),
    hours_per_day: Optional[float] = typer.Option(
        None, "--hours-per-day", help="Hours of use a day the cost estimate assumes [default: 4]"
    ),
    route: Optional[list[str]] = typer.Option(
        None, "--route", help="PREFIX=URL beside the target, e.g. /jupyter/=http://devbox:8889 (repeatable)"
    ),
    domain: Optional[str] = typer.Option(
        None, "--domain", help="Map your own domain to the service, e.g. dev.example.com (Cloud Run domain mapping)"
    ),
    allow: Optional[list[str]] = typer.Option(
        None, "--allow", help="With --auth iap: let this member through IAP, e.g. user:alice@example.com, "
                              "group:..., domain:example.com; MEMBER=PREFIX limits them to one route, e.g. "
                              "user:bob@example.com=/jupyter/ (repeatable)"
    ),
    rotate_token: bool = typer.Option(False, "--rotate-token", help="Generate a new access token"),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan against the project (read-only), Dockerfile and spec; change nothing"
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before changing the project"),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON"),
) -> None:
    """Build the image, store the secrets and create or update the Cloud Run service."""
    from devproxy.deploy import apply, render

    cfg = _config(project=project, region=region, service=service, target=target, image=image, auth=auth,
                  min_instances=min_instances, max_instances=max_instances, login_server=login_server,
                  economy=economy, tailscale_client_id=tailscale_client_id, tailscale_audience=tailscale_audience,
                  tailscale_tags=tags, hours_per_day=hours_per_day, routes=route or None, domain=domain,
                  allow=allow or None)
    from devproxy.deploy.cloud_api import Cloud

    if dry_run:
        key = apply.read_authkey(os.environ, ts_authkey_file, None)
        report = apply.dry_run(cfg, Cloud(cfg, os.environ), authkey=key, rotate_token=rotate_token)
        _print(render.dry_run_json(report)) if as_json else render.write_dry_run(report, _out)
        return
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    prompt = (lambda: typer.prompt("Tailscale auth key (Enter keeps the stored one)",
                                   default="", hide_input=True, show_default=False)) if tty and not cfg.keyless else None
    authkey = apply.read_authkey(os.environ, ts_authkey_file, prompt)
    hooks = apply.Hooks(progress=lambda m: _err(f"- {m}", "cyan"), log=lambda m: _err(f"  | {m}", "dim"),
                        confirm=lambda actions: yes or not tty or _confirm(actions, cfg), interactive=tty)
    result = apply.deploy(cfg, Cloud(cfg, os.environ), hooks, authkey=authkey, rotate_token=rotate_token)
    _print(render.result_json(result)) if as_json else render.write_result(result, _out)


def _confirm(actions: list[Any], cfg: Any) -> bool:
    from devproxy.deploy import cost, render

    for number, action in enumerate(actions, 1):
        _err(f"  {number}. {action.describe()}")
    render.write_cost(cost.header(cfg), tuple(cost.estimates(cfg)), _err)
    return typer.confirm("Apply these changes?", default=True, err=True)


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def init(
    path: Path = typer.Option(
        Path("devproxy.toml"), "--path", show_default=False, help="Where to write the file [default: devproxy.toml]"
    ),
    project: Optional[str] = typer.Option(None, "--project", help="Google Cloud project id [default: asked]"),
    region: Optional[str] = typer.Option(None, "--region", help="Cloud Run region [default: asked]"),
    service: Optional[str] = typer.Option(None, "--service", help="Cloud Run service name [default: asked]"),
    target: Optional[str] = typer.Option(None, "--target", help="Dev server URL on the tailnet [default: asked]"),
    auth: Optional[str] = typer.Option(None, "--auth", help="Access control: token|iap|none [default: asked]"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file"),
    check: bool = typer.Option(False, "--check", help="Only check the project's APIs and your roles; write no file"),
    enable_apis: bool = typer.Option(
        False, "--enable-apis", help="Enable the disabled APIs without asking [default: ask on a terminal]"
    ),
    no_check: bool = typer.Option(False, "--no-check", help="Only write the file; do not check the project"),
) -> None:
    """Write a commented devproxy.toml, then check the project: disabled APIs (enabled with consent), missing roles."""
    from devproxy.cli_preflight import preflight

    if check:
        flags = dict(project=project, region=region, service=service, auth=auth)
        raise typer.Exit(preflight(enable_apis=enable_apis, flags=flags))
    from devproxy.deploy.init_config import answers, write_init

    ask = (lambda label, default: str(typer.prompt(label, default=default))) if sys.stdin.isatty() else None
    values = answers(os.environ, dict(project=project, region=region, service=service, target=target,
                                      auth=auth), ask, home=Path.home())
    write_init(path, values, force=force)
    _out(f"wrote {path}; next: devproxy deploy --dry-run")
    if not no_check:
        raise typer.Exit(preflight(enable_apis=enable_apis, config_path=path, required=False))


def status(
    project: Optional[str] = typer.Option(None, "--project", help=PROJECT_HELP),
    region: Optional[str] = typer.Option(None, "--region", help=REGION_HELP),
    service: Optional[str] = typer.Option(None, "--service", help=SERVICE_HELP),
    auth: Optional[str] = typer.Option(None, "--auth", help="The access mode you deployed with [default: token]"),
    domain: Optional[str] = typer.Option(
        None, "--domain", help="The domain you mapped: show its DNS records and certificate [default: devproxy.toml's]"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON"),
) -> None:
    """Show the service URL, ready revision, drift (what deploy would change) and readiness; exit 1 unless in sync and ready."""
    from devproxy.deploy import service_status as st
    from devproxy.deploy.cloud_api import Cloud

    cfg = _config(("project",), project=project, region=region, service=service, auth=auth, domain=domain)
    report = st.read_status(cfg, Cloud(cfg, os.environ))
    _print(st.status_json(report)) if as_json else st.write_status(report, _out)
    if not report.healthy:
        raise typer.Exit(1)
