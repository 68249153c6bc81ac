"""The `devproxy` command line: parses, calls one library function, renders.

Each command group lives in its own `cli_*` module and registers itself here. This is the
one place that turns a `DevproxyError` into a red line on stderr and an exit code.
"""

from __future__ import annotations

import sys

import typer

from devproxy import __version__
from devproxy.errors import DevproxyError

app = typer.Typer(
    name="devproxy",
    help="A public HTTPS URL on Google Cloud Run for a dev server on your Tailscale tailnet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"devproxy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """A public HTTPS URL on Google Cloud Run for a dev server on your Tailscale tailnet."""


def _register() -> None:
    from devproxy import cli_runtime

    cli_runtime.register(app)
    from devproxy import cli_share

    cli_share.register(app)
    try:
        from devproxy import cli_deploy
    except ImportError:  # pragma: no cover - only while the module is being written
        pass
    else:
        cli_deploy.register(app)
    try:
        from devproxy import cli_logs
    except ImportError:  # pragma: no cover - only while the module is being written
        pass
    else:
        cli_logs.register(app)


def render_error(exc: DevproxyError) -> None:
    """Print one red line (and nothing else) for a devproxy error."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text.assemble(("error: ", "bold red"), str(exc))
    )


#: what a command that talks to Google Cloud says when the `cloud` extra is not installed.
CLOUD_EXTRA = DevproxyError(
    "this command needs the Google Cloud client libraries, which are not installed",
    hint="pip install 'devproxy[cloud]'",
)


def main() -> None:
    """Entry point of the `devproxy` console script."""
    _register()
    try:
        app()
    except DevproxyError as exc:
        render_error(exc)
        sys.exit(exc.exit_code)
    except ModuleNotFoundError as exc:
        # the container image installs devproxy without the `cloud` extra (the runtime needs none of it)
        if not (exc.name or "").startswith("google"):
            raise
        render_error(CLOUD_EXTRA)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
