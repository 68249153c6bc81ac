"""`devproxy share`: a link that opens one route prefix for a limited time, or revoke every link."""

from __future__ import annotations

import os
import time
from typing import Optional

import typer


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
        None, "--url", help="The service URL that devproxy deploy printed [env var: DEVPROXY_URL]"
    ),
    revoke: bool = typer.Option(
        False, "--revoke-all", help="Withdraw every link shared so far (asks the running service at --url)"
    ),
) -> None:
    """Print a link that opens only PREFIX until it expires (signed with DEVPROXY_ACCESS_TOKEN).

    Printing the link is this command's purpose: anyone holding it can open that prefix until it
    expires or `devproxy share --revoke-all` withdraws it.
    """
    from devproxy.errors import ConfigError
    from devproxy.runtime.grants import parse_duration, share_prefix
    from devproxy.share import URL_ENV, access_token, revoke_all, service_url, share_link

    token = access_token(os.environ.get("DEVPROXY_ACCESS_TOKEN"))
    base = service_url(url if url is not None else os.environ.get(URL_ENV))
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
