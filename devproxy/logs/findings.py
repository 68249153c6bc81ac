"""What a diagnosis says: findings (cause, symptom, noise, unrecognised), the timeline, the whole diagnosis.

Pure data shared by the correlator, the timeline, the renderer and `--follow`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from devproxy.logs.signatures import reference_link
from devproxy.logs.unknown import UnknownGroup

#: finding severities, most severe first.
SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}
ERROR_LEVELS = frozenset({"critical", "error"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnosed cause, symptom or noise, with its evidence."""

    id: str
    title: str
    severity: str
    cause: str
    fix: str
    reference: str
    layer: str
    role: str  # root | symptom | noise | correlated | unrecognised
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    examples: tuple[str, ...]
    explained_by: str = ""
    evidence: tuple[str, ...] = ()
    #: the masked text shared by the lines of an unrecognised finding ("" otherwise).
    template: str = ""

    @property
    def noise(self) -> bool:
        return self.role == "noise"

    @property
    def link(self) -> str:
        return reference_link(self.reference)


_UNKNOWN_SEVERITY = {"WARNING": "warning", "ERROR": "error"}


def unrecognised_finding(group: UnknownGroup) -> Finding:
    """An "unrecognised error" finding quoting lines no signature explains."""
    severity = _UNKNOWN_SEVERITY.get(group.severity, "critical")
    digest = hashlib.sha1(f"{group.layer}|{group.template}".encode()).hexdigest()[:10]
    kind = "warning" if severity == "warning" else "error"
    return Finding(
        id=f"unrecognised-{digest}",
        title=f"Unrecognised {kind}: {group.template[:120]}",
        severity=severity,
        cause=f"{group.count} {group.severity} line{'s' if group.count != 1 else ''} that no known signature "
        "explains, all of this template: " + group.template,
        fix="Read the examples and the entries around them; if it is a known failure of another name, "
        "report the line so the catalog learns it.",
        reference="",
        layer=group.layer,
        role="unrecognised",
        count=group.count,
        first_seen=group.first_seen,
        last_seen=group.last_seen,
        examples=group.examples,
        template=group.template,
    )


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One layer's activity per time bucket: 0 none, 1 activity, 2 warning, 3 error."""

    layer: str
    levels: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Timeline:
    """Events by layer over the input's time span."""

    start: datetime | None
    end: datetime | None
    rows: tuple[TimelineRow, ...] = ()
    #: entries without a timestamp (pasted browser console lines, for example), not shown.
    untimed: int = 0


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Findings ordered most important first, plus a timeline."""

    findings: tuple[Finding, ...]
    timeline: Timeline
    entries: int
    matched: int

    @property
    def has_errors(self) -> bool:
        return any(f.severity in ERROR_LEVELS and not f.noise for f in self.findings)
