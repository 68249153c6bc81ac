"""`devproxy runtime`: the in-container proxy (PID 1 on Cloud Run)."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("runtime")(runtime)


def runtime(
    target: Optional[str] = typer.Option(
        None, "--target", help="URL of the dev server on the tailnet [env DEVPROXY_TARGET]"
    ),
    listen: Optional[str] = typer.Option(
        None, "--listen", help="HOST:PORT to serve [env DEVPROXY_LISTEN; default 0.0.0.0:$PORT]"
    ),
    socks: Optional[str] = typer.Option(
        None,
        "--socks",
        help="SOCKS5 URL of tailscaled, or 'none' to dial directly "
        "[env DEVPROXY_SOCKS; default socks5://127.0.0.1:1055]",
    ),
    no_tailscale: bool = typer.Option(
        False, "--no-tailscale", help="Do not start tailscaled (it runs elsewhere, or --socks none)"
    ),
    auth: Optional[str] = typer.Option(
        None, "--auth", help="Access control: none|token|iap [env DEVPROXY_AUTH]"
    ),
    log_format: Optional[str] = typer.Option(
        None, "--log-format",
        help="auto|json|text: auto writes JSON lines when stdout is not a terminal or on Cloud Run, "
        "text on a terminal [env DEVPROXY_LOG_FORMAT; default auto]",
    ),
) -> None:
    """Serve $PORT and forward HTTP and WebSocket traffic to the target through SOCKS5."""
    from devproxy.runtime.config import build_config
    from devproxy.runtime.server import serve

    config = build_config(
        os.environ, target=target, listen=listen, socks=socks, no_tailscale=no_tailscale, auth=auth,
        log_format_flag=log_format, stdout_tty=sys.stdout.isatty(),
    )
    raise typer.Exit(serve(config))
