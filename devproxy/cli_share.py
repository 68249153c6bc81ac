"""`devproxy share`: a link that opens one route prefix for a limited time, or revoke every link."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

import typer

from devproxy.project import PROJECT_HELP, REGION_HELP, SERVICE_HELP


def register(app: typer.Typer) -> None:
    app.command("share")(share)


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def share(
    prefix: Optional[str] = typer.Argument(
        None, help="The route prefix to open, e.g. /jupyter/ ('/' opens the --target app, the editor)"
    ),
    duration: str = typer.Option(
        "1h", "--for", show_default=False, help="How long the link works: 30m, 1h, 2d, at most 7d [default: 1h]"
    ),
    url: Optional[str] = typer.Option(
        None, "--url", help="The service URL that devproxy deploy printed [env var: DEVPROXY_URL; "
        "default: read from the deployed service]"
    ),
    revoke: bool = typer.Option(
        False, "--revoke-all", help="Withdraw every link shared so far (asks the running service at --url)"
    ),
    project: Optional[str] = typer.Option(None, "--project", help=PROJECT_HELP),
    region: Optional[str] = typer.Option(None, "--region", help=REGION_HELP),
    service: Optional[str] = typer.Option(None, "--service", help=SERVICE_HELP),
) -> None:
    """Print a link that opens only PREFIX until it expires (signed with the service's access token).

    The token is DEVPROXY_ACCESS_TOKEN, else read from the deployed service's secret, as `devproxy open` does.

    Printing the link is this command's purpose: anyone holding it can open that prefix until it
    expires or `devproxy share --revoke-all` withdraws it.
    """
    from devproxy.errors import ConfigError
    from devproxy.runtime.grants import parse_duration, share_prefix
    from devproxy.contract import ACCESS_TOKEN_ENV
    from devproxy.share import URL_ENV, access_token, from_service, revoke_all, service_url, share_link

    given_token = os.environ.get(ACCESS_TOKEN_ENV, "").strip() or None
    given_url = url if url is not None else os.environ.get(URL_ENV)
    if given_token is None or given_url is None:
        flags = {"project": project, "region": region, "service": service}
        read_token, read_url = from_service(os.environ, flags, cwd=Path.cwd(), home=Path.home())
        given_token, given_url = given_token or read_token, given_url if given_url is not None else read_url
    token = access_token(given_token)
    base = service_url(given_url)
    if revoke:
        if prefix is not None:
            raise ConfigError("--revoke-all withdraws every link: give no PREFIX with it")
        stamp = revoke_all(token, base)
        typer.echo(f"every link shared before {_utc(stamp)} is revoked on the running service")
        typer.echo(
            "to keep them revoked after the service restarts, set DEVPROXY_SHARE_NOT_BEFORE="
            f"{stamp:.3f} on it, e.g. gcloud run services update SERVICE --region REGION "
            f"--update-env-vars DEVPROXY_SHARE_NOT_BEFORE={stamp:.3f}",
            err=True,
        )
        return
    if prefix is None:
        raise ConfigError("name the route prefix to share, e.g. devproxy share /jupyter/ (or --revoke-all)")
    link = share_link(token, base, share_prefix(prefix), parse_duration(duration))
    typer.echo(link.url)
    typer.echo(f"opens only {link.prefix} until {_utc(link.until)}; devproxy share --revoke-all withdraws it",
               err=True)
