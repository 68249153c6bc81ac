"""Show entries and diagnoses: a rich report for people, a JSON document for scripts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from devproxy.logs.findings import Diagnosis, Finding, Timeline
from devproxy.logs.model import SEVERITY_RANK, LogEntry

_FINDING_STYLE = {"critical": "bold white on red", "error": "bold red", "warning": "yellow", "info": "dim"}
_LEVEL_MARK = {0: (" ", ""), 1: ("·", "dim"), 2: ("▲", "yellow"), 3: ("✖", "bold red")}


def _entry_style(severity: str) -> str:
    rank = SEVERITY_RANK.get(severity, 0)
    if rank >= SEVERITY_RANK["ERROR"]:
        return "red"
    if rank == SEVERITY_RANK["WARNING"]:
        return "yellow"
    if rank <= SEVERITY_RANK["DEBUG"]:
        return "dim"
    return ""


def _clock(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S") if when else "-"


def iso(when: datetime | None) -> str | None:
    """RFC 3339 text for JSON output."""
    return when.isoformat().replace("+00:00", "Z") if when else None


def entry_line(entry: LogEntry) -> Text:
    """One entry as a colored line: time, layer, severity, message."""
    when = entry.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if entry.time else "-" * 23
    severity = entry.severity if entry.severity != "DEFAULT" else ""
    return Text.assemble(
        (when, "dim"),
        "  ",
        (f"{entry.layer or '-':<11}", "cyan"),
        " ",
        (f"{severity:<8}", _entry_style(entry.severity)),
        " ",
        (entry.message, _entry_style(entry.severity)),
    )


def print_entries(console: Console, entries: Iterable[LogEntry]) -> None:
    """Print entries readably, one per line."""
    for entry in entries:
        console.print(entry_line(entry))


def print_finding(console: Console, number: int | None, finding: Finding, numbers: dict[str, int] | None = None) -> None:
    """One finding: title line, cause, fix, when, examples; `numbers` maps ids to their place in the report."""
    head = Text()
    if number is not None:
        head.append(f"{number:>2}. ")
    head.append(f"{finding.severity.upper():<8}", _FINDING_STYLE[finding.severity])
    head.append(" ")
    head.append(finding.title, "bold")
    head.append(f"  [{finding.id}]", "dim")
    console.print(head)
    pad = "    "
    if finding.explained_by:
        place = (numbers or {}).get(finding.explained_by)
        console.print(Text(f"{pad}explained by {f'#{place} ' if place else ''}({finding.explained_by})", "dim"))
    console.print(Text.assemble((f"{pad}cause: ", "bold"), finding.cause))
    console.print(Text.assemble((f"{pad}fix:   ", "bold green"), finding.fix))
    seen = f"{finding.count} time{'s' if finding.count != 1 else ''}"
    if finding.first_seen and finding.first_seen == finding.last_seen:
        seen += f", at {_clock(finding.first_seen)} UTC"
    elif finding.first_seen:
        seen += f", first {_clock(finding.first_seen)}, last {_clock(finding.last_seen)} UTC"
    console.print(Text(f"{pad}seen:  {seen}", "dim"))
    if finding.template:
        console.print(Text.assemble((f"{pad}template: ", "dim"), finding.template))
    for example in finding.examples:
        console.print(Text.assemble((f"{pad}e.g.  ", "dim"), (example, "italic")))
    if finding.evidence:
        console.print(Text(f"{pad}evidence: {', '.join(finding.evidence)}", "dim"))
    if finding.link:
        console.print(Text(f"{pad}see:   {finding.link}", "dim"))


def print_timeline(console: Console, timeline: Timeline) -> None:
    """A compact grid of layers over time: · activity, ▲ warning, ✖ error."""
    if not timeline.rows or timeline.start is None or timeline.end is None:
        return
    columns = len(timeline.rows[0].levels)
    step = (timeline.end - timeline.start).total_seconds() / columns
    console.print(
        Text(
            f"Timeline {_clock(timeline.start)} → {_clock(timeline.end)} UTC "
            f"({step:.1f} s per column; · activity ▲ warning ✖ error)",
            "bold",
        )
    )
    for row in timeline.rows:
        line = Text(f"  {row.layer:<11} ")
        for level in row.levels:
            mark, style = _LEVEL_MARK[level]
            line.append(mark, style)
        console.print(line)
    if timeline.untimed:
        console.print(Text(f"  ({timeline.untimed} entries without a timestamp are not shown)", "dim"))


def print_report(console: Console, diagnosis: Diagnosis, *, fmt: str = "", bad_lines: int = 0) -> None:
    """The full diagnosis: causes first, then the rest, noise summarised, then the timeline."""
    summary = f"{diagnosis.entries} entries"
    if fmt:
        summary += f" ({fmt})"
    summary += f", {diagnosis.matched} matched a known signature"
    if bad_lines:
        summary += f", {bad_lines} unreadable line{'s' if bad_lines != 1 else ''} skipped"
    console.print(Text(summary, "dim"))
    real = [f for f in diagnosis.findings if not f.noise]
    noise = [f for f in diagnosis.findings if f.noise]
    if not diagnosis.has_errors:
        console.print(Text("No error found.", "bold green"))
    if real:
        console.print()
        label = "Most likely cause first:" if diagnosis.has_errors else "Findings:"
        console.print(Text(label, "bold"))
        numbers = {finding.id: number for number, finding in enumerate(real, 1)}
        for number, finding in enumerate(real, 1):
            print_finding(console, number, finding, numbers)
    if noise:
        console.print()
        parts = ", ".join(f"{f.title} ×{f.count}" for f in noise)
        console.print(Text(f"Known noise (ignored): {parts}", "dim"))
    if diagnosis.timeline.rows:
        console.print()
        print_timeline(console, diagnosis.timeline)


def finding_json(finding: Finding) -> dict[str, Any]:
    """A finding as plain JSON data."""
    return {
        "id": finding.id,
        "title": finding.title,
        "severity": finding.severity,
        "cause": finding.cause,
        "fix": finding.fix,
        "count": finding.count,
        "first_seen": iso(finding.first_seen),
        "last_seen": iso(finding.last_seen),
        "examples": list(finding.examples),
        "layer": finding.layer,
        "role": finding.role,
        "noise": finding.noise,
        "explained_by": finding.explained_by or None,
        "evidence": list(finding.evidence),
        "reference": finding.reference,
        "link": finding.link or None,
        "template": finding.template or None,
    }


def entry_json(entry: LogEntry) -> dict[str, Any]:
    """An entry as plain JSON data."""
    return {
        "time": iso(entry.time),
        "layer": entry.layer,
        "severity": entry.severity,
        "message": entry.message,
        "event": entry.event or None,
    }


def diagnosis_json(diagnosis: Diagnosis, *, fmt: str = "", bad_lines: int = 0) -> str:
    """The whole diagnosis as one JSON document (key `findings`, most important first)."""
    timeline = diagnosis.timeline
    document = {
        "findings": [finding_json(f) for f in diagnosis.findings],
        "summary": {
            "entries": diagnosis.entries,
            "matched": diagnosis.matched,
            "bad_lines": bad_lines,
            "format": fmt or None,
            "has_errors": diagnosis.has_errors,
        },
        "timeline": {
            "start": iso(timeline.start),
            "end": iso(timeline.end),
            "rows": {row.layer: list(row.levels) for row in timeline.rows},
        },
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def entries_json(entries: Sequence[LogEntry]) -> str:
    """Entries as a JSON document (key `entries`)."""
    return json.dumps({"entries": [entry_json(e) for e in entries]}, indent=2, ensure_ascii=False)
