"""The set-up check `devproxy init` runs: print what is off or missing, enable the APIs with consent."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import typer

from devproxy.errors import CloudError, ConfigError


def _err(line: str) -> None:
    typer.echo(line, err=True)


def preflight(*, enable_apis: bool, flags: Mapping[str, str | None] | None = None, config_path: Path | None = None,
              required: bool = True) -> int:
    """Check the configured project; 0 when ready, 1 when something is still off or missing.

    With `required` false (after `init` wrote its file) the check is advice: a missing project or a
    check Google refused is a warning, and the exit code stays 0.

    Raises:
        ConfigError: no project is set (only when `required`).
        CloudError: Google refused the check (only when `required`).
    """
    try:
        code = _check(enable_apis=enable_apis, flags=flags or {}, config_path=config_path)
    except (ConfigError, CloudError) as exc:
        if required:
            raise
        _err(f"warning: set-up not checked: {exc}")
        return 0
    return code if required else 0


def _check(*, enable_apis: bool, flags: Mapping[str, str | None], config_path: Path | None) -> int:
    from devproxy.deploy.cloud_setup import SetupCloud
    from devproxy.deploy.config import load_config
    from devproxy.deploy.preflight import Checker, write_findings

    env = dict(os.environ)
    if config_path is not None:
        env["DEVPROXY_CONFIG"] = str(config_path)
    cfg = load_config(env, flags, cwd=Path.cwd(), home=Path.home(), required=("project",))
    checker = Checker(cfg, SetupCloud(cfg, env))
    typer.echo(f"Checking project {cfg.project} for what devproxy deploy needs...")
    findings = checker.check()
    write_findings(findings, typer.echo)
    if findings.disabled and (enable_apis or (sys.stdin.isatty() and typer.confirm(
            f"Enable {len(findings.disabled)} API{'s' if len(findings.disabled) != 1 else ''} now "
            "through the Service Usage API?", default=True, err=True))):
        findings = checker.enable(findings, lambda line: _err(f"- {line}"))
        typer.echo(f"enabled; checking again: {'ready' if findings.ready else 'still missing:'}")
        if not findings.ready:
            write_findings(findings, typer.echo)
    return 0 if findings.ready else 1
