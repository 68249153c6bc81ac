"""The `devproxy` command line: parses, calls one library function, renders.

Each command group lives in its own `cli_*` module and registers itself here. This is the
one place that turns a `DevproxyError`, a usage error or Ctrl-C into a message and an exit code:

    0    ok
    1    a problem found (diagnosis, drift) or the operation failed (Google said no)
    2    bad usage or configuration: a flag, an environment variable, devproxy.toml, an input file
    130  interrupted (Ctrl-C), also at a prompt
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from devproxy import __version__
from devproxy.errors import DevproxyError

app = typer.Typer(
    name="devproxy",
    help="A public HTTPS URL on Google Cloud Run for a dev server on your Tailscale tailnet.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},
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
    from devproxy import cli_destroy, cli_open

    cli_open.register(app)
    cli_destroy.register(app)


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


OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


def run(args: Sequence[str]) -> int:
    """Run the command line `args`; returns the exit code (the convention in the module docstring)."""
    try:
        code = app(args=list(args), prog_name="devproxy", standalone_mode=False)
    except DevproxyError as exc:
        render_error(exc)
        return exc.exit_code
    except typer.TyperException as exc:  # the parser's usage errors: usage line, hint, message; exit 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"Error: {exc.format_message()}", err=True)
        return exc.exit_code
    except typer.Abort as exc:
        # a prompt turns Ctrl-C (and end of input) into Abort; the interrupt is its context
        if isinstance(exc.__context__, KeyboardInterrupt):
            return INTERRUPTED
        render_error(DevproxyError("aborted: no answer to the question"))
        return FAILED
    except KeyboardInterrupt:
        return INTERRUPTED
    except ModuleNotFoundError as exc:
        # the container image installs devproxy without the `cloud` extra (the runtime needs none of it)
        if not (exc.name or "").startswith("google"):
            raise
        render_error(CLOUD_EXTRA)
        return USAGE
    return code if isinstance(code, int) else OK


def main() -> None:
    """Entry point of the `devproxy` console script."""
    _register()
    sys.exit(run(sys.argv[1:]))
