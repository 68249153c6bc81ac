"""`devproxy open` (alias `login-link`): print, and on a desktop open, the deployed service's login link."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from devproxy.project import PROJECT_HELP, REGION_HELP, SERVICE_HELP

HELP = ("Print, and on a desktop open, a login link for the deployed service. In token mode the link holds "
        "the access token (read from Secret Manager): printing it is this command's purpose, so keep the "
        "output private.")


def register(app: typer.Typer) -> None:
    app.command("open", help=HELP)(open_service)
    app.command("login-link", help="Same as `devproxy open`: " + HELP)(open_service)


def open_service(
    project: Optional[str] = typer.Option(None, "--project", help=PROJECT_HELP),
    region: Optional[str] = typer.Option(None, "--region", help=REGION_HELP),
    service: Optional[str] = typer.Option(None, "--service", help=SERVICE_HELP),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Only print the link [default: open it too when a display is available]"
    ),
) -> None:
    from devproxy.browser import display_available, open_secret_link
    from devproxy.deploy.cloud_api import Cloud
    from devproxy.deploy.config import load_config
    from devproxy.deploy.login import read_login

    cfg = load_config(os.environ, {"project": project, "region": region, "service": service}, cwd=Path.cwd(),
                      home=Path.home(), required=("project",))
    login = read_login(cfg, Cloud(cfg, os.environ))
    link = login.link or login.url
    typer.echo(link)
    if login.link:
        typer.echo(f"login link for {cfg.service} (it holds the access token: keep it private)", err=True)
    else:
        typer.echo(f"auth {login.auth}: " + ("sign in with your Google account" if login.auth == "iap"
                                             else "no login (anyone with the URL gets in)"), err=True)
    if no_browser or not display_available(os.environ):
        return
    if open_secret_link(link):
        typer.echo("opened in your browser", err=True)
    else:
        typer.echo("no browser opened the link; open it yourself", err=True)
