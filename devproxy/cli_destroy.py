"""`devproxy destroy`: print the removal plan, confirm (or --yes), remove what deploy created."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from devproxy.errors import ConfigError
from devproxy.project import PROJECT_HELP, REGION_HELP, SERVICE_HELP


def register(app: typer.Typer) -> None:
    app.command("destroy")(destroy)


def destroy(
    project: Optional[str] = typer.Option(None, "--project", help=PROJECT_HELP),
    region: Optional[str] = typer.Option(None, "--region", help=REGION_HELP),
    service: Optional[str] = typer.Option(None, "--service", help=SERVICE_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask (for scripts) [default: ask on a terminal]"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be removed; remove nothing"),
) -> None:
    """Remove the service, its secrets, its images and its service account (the plan is printed first)."""
    interactive = sys.stdin.isatty()
    if not (yes or dry_run or interactive):
        raise ConfigError("destroy removes the service for good and needs a confirmation",
                          hint="run it on a terminal, or pass --yes")
    from devproxy.deploy import destroy as removal
    from devproxy.deploy.cloud_removal import Removal
    from devproxy.deploy.config import load_config

    cfg = load_config(os.environ, {"project": project, "region": region, "service": service}, cwd=Path.cwd(),
                      home=Path.home(), required=("project",))
    cloud = Removal(cfg, os.environ)
    actions = removal.plan_removal(cfg, removal.read_found(cfg, cloud))
    where = f"{cfg.project}/{cfg.region}"
    if not actions:
        typer.echo(f"Nothing to remove: devproxy created nothing for service {cfg.service} in {where}.")
        return
    typer.echo(f"Destroying {cfg.service} in {where} will:")
    for number, action in enumerate(actions, 1):
        typer.echo(f"  {number}. {action.describe()}")
    typer.echo("It keeps: " + "; ".join(removal.kept(cfg)) + ".")
    if dry_run:
        return
    if not yes and not typer.confirm(f"Remove {cfg.service} for good?", default=False, err=True):
        typer.echo("Nothing removed.", err=True)
        raise typer.Exit(1)
    removal.execute(actions, cloud, lambda line: typer.echo(f"- {line}", err=True))
    typer.echo(f"Destroyed {cfg.service}: {len(actions)} resource{'s' if len(actions) != 1 else ''} removed.")
