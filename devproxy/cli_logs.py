"""`devproxy logs`: read Cloud Logging, a file or stdin; `--diagnose` names the cause and the fix."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from devproxy.errors import ConfigError
from devproxy.project import PROJECT_HELP, SERVICE_HELP

if TYPE_CHECKING:  # imported lazily at run time so `devproxy --help` stays fast
    from rich.console import Console

    from devproxy.logs.findings import Finding
    from devproxy.logs.model import LogEntry
    from devproxy.logs.query import CloudQuery


def register(app: typer.Typer) -> None:
    app.command("logs")(logs)


def logs(
    file: Optional[str] = typer.Option(
        None, "--file", help="Read this file ('-' for stdin) instead of Cloud Logging"
    ),
    diagnose: bool = typer.Option(False, "--diagnose", "-d", help="Name the most likely cause and its fix"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (key 'findings' with --diagnose)"),
    follow: bool = typer.Option(False, "--follow", help="Keep reading new entries until Ctrl-C"),
    project: Optional[str] = typer.Option(None, "--project", help=PROJECT_HELP),
    service: Optional[str] = typer.Option(None, "--service", help=SERVICE_HELP),
    region: Optional[str] = typer.Option(
        None, "--region", help="Cloud Run region [default: devproxy.toml's or gcloud's, else all regions]"
    ),
    since: Optional[str] = typer.Option(
        None, "--since", help="How far back: 30m, 1h, 2d or a timestamp [default: 1h; 1m with --follow]"
    ),
    limit: int = typer.Option(
        1000, "--limit", show_default=False, help="Read at most this many (newest) entries [default: 1000]"
    ),
    poll_interval: float = typer.Option(
        2.0, "--poll-interval", show_default=False, help="Seconds between polls with --follow [default: 2]"
    ),
    max_polls: Optional[int] = typer.Option(None, "--max-polls", hidden=True),
    no_service: bool = typer.Option(
        False, "--no-service", help="With --diagnose from Cloud Logging: do not read the service's settings"
    ),
) -> None:
    """Show a service's logs (Cloud Logging, a file or stdin); --diagnose says what is wrong and how to fix it."""
    from rich.console import Console

    if limit <= 0:
        raise ConfigError("--limit must be a positive number")
    if poll_interval < 0:
        raise ConfigError("--poll-interval must not be negative")
    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    env: Mapping[str, str] = os.environ
    if follow:
        code = _follow(
            console, errors, file=file, diagnose=diagnose, as_json=as_json, env=env, project=project,
            service=service, region=region, since=since, limit=limit, poll_interval=poll_interval,
            max_polls=max_polls, no_service=no_service,
        )
        raise typer.Exit(code)
    settings: tuple[Finding, ...] = ()
    if file is not None:
        from devproxy.logs.source import read_path

        parsed = read_path(file, sys.stdin)
        entries, bad_lines, fmt = list(parsed.entries), parsed.bad_lines, parsed.format
    else:
        from devproxy.logs.cloud import read_entries

        query = _query(env, project, service, region, since or "1h", limit)
        entries = read_entries(query, env)
        bad_lines, fmt = 0, "cloud-logging"
        if diagnose and not no_service:
            settings = _service_findings(errors, query.project, query.service, query.region, env)
    raise typer.Exit(
        _show(console, errors, entries, bad_lines, fmt, diagnose=diagnose, as_json=as_json, settings=settings)
    )


def _service_findings(
    errors: Console, project: str, service: str, region: str | None, env: Mapping[str, str]
) -> tuple[Finding, ...]:
    """What the service's own settings get wrong; a warning (and none) when they cannot be read."""
    from devproxy.logs.service import check_service
    from devproxy.logs.service_read import ServiceReadError, read_service

    try:
        return check_service(read_service(project, service, region, env))
    except ServiceReadError as exc:
        errors.print(f"warning: service settings not checked: {exc}")
        return ()


def _query(
    env: Mapping[str, str], project: str | None, service: str | None, region: str | None, since: str, limit: int
) -> CloudQuery:
    from devproxy.logs.query import CloudQuery, parse_since
    from devproxy.project import resolve

    place = resolve(env, {"project": project, "service": service, "region": region}, cwd=Path.cwd(),
                    home=Path.home())
    now = datetime.now(timezone.utc)
    return CloudQuery(place.project, place.service, parse_since(since, now), place.chosen_region, limit)


def _show(
    console: Console,
    errors: Console,
    entries: Sequence[LogEntry],
    bad_lines: int,
    fmt: str,
    *,
    diagnose: bool,
    as_json: bool,
    settings: Sequence[Finding] = (),
) -> int:
    from devproxy.logs import render

    if bad_lines and not as_json:
        errors.print(f"warning: {bad_lines} unreadable line{'s' if bad_lines != 1 else ''} skipped")
    if not diagnose:
        if as_json:
            console.print_json(render.entries_json(entries))
        else:
            render.print_entries(console, entries)
        return 0
    from devproxy.logs.correlate import diagnose as run_diagnosis

    diagnosis = run_diagnosis(entries, settings=settings)
    if as_json:
        sys.stdout.write(render.diagnosis_json(diagnosis, fmt=fmt, bad_lines=bad_lines) + "\n")
    else:
        render.print_report(console, diagnosis, fmt=fmt, bad_lines=bad_lines)
    return 1 if diagnosis.has_errors else 0


def _follow(
    console: Console,
    errors: Console,
    *,
    file: str | None,
    diagnose: bool,
    as_json: bool,
    env: Mapping[str, str],
    project: str | None,
    service: str | None,
    region: str | None,
    since: str | None,
    limit: int,
    poll_interval: float,
    max_polls: int | None,
    no_service: bool = False,
) -> int:
    from devproxy.logs import follow, render

    batches: Iterable[Sequence[LogEntry | None]]
    settings: tuple[Finding, ...] = ()
    if file == "-":
        batches = follow.stream_lines(sys.stdin)
    elif file is not None:
        batches = follow.tail_file(file, interval_s=poll_interval, max_polls=max_polls)
    else:
        from devproxy.logs.cloud import poll_entries

        query = _query(env, project, service, region, since or "1m", limit)
        batches = poll_entries(query, env, interval_s=poll_interval, max_polls=max_polls)
        if diagnose and not no_service:
            settings = _service_findings(errors, query.project, query.service, query.region, env)
    live = follow.LiveDiagnosis(settings=settings)
    if diagnose:
        for finding in settings:  # what the service's settings get wrong is known before any entry
            if as_json:
                sys.stdout.write(json.dumps({"finding": render.finding_json(finding)}) + "\n")
            else:
                render.print_finding(console, None, finding)

    def on_batch(batch: Sequence[LogEntry | None]) -> None:
        fresh = live.add(batch)
        if diagnose:
            for finding in fresh:
                if as_json:
                    sys.stdout.write(json.dumps({"finding": render.finding_json(finding)}) + "\n")
                else:
                    render.print_finding(console, None, finding)
        else:
            for entry in batch:
                if entry is None:
                    continue
                if as_json:
                    sys.stdout.write(json.dumps(render.entry_json(entry)) + "\n")
                else:
                    console.print(render.entry_line(entry))
        sys.stdout.flush()

    interrupted = follow.run(batches, on_batch)
    if interrupted:
        errors.print("stopped")
    if live.bad_lines:
        errors.print(f"warning: {live.bad_lines} unreadable line{'s' if live.bad_lines != 1 else ''} skipped")
    diagnosis = live.diagnosis() if diagnose else None
    if diagnosis is not None and not as_json:
        console.print()
        render.print_report(console, diagnosis, bad_lines=live.bad_lines)
    if interrupted:
        return 130  # Ctrl-C, as for every command (README "Exit codes")
    return 1 if diagnosis is not None and diagnosis.has_errors else 0
