"""Lines no signature explains, grouped by template, so that no error disappears from a diagnosis.

Pure. `template()` masks what varies between two occurrences of the same failure (timestamps,
numbers, ids, addresses, ports, hosts, paths, URLs, quoted values) and keeps the wording;
`group_unknown()` keeps the entries that are errors (or warnings that recur) and groups them by
template, first and last time, layer and examples.

Why not Drain3: it clusters by token position and learns as it goes, so the first occurrence of a
template stays unmasked, the result depends on input order, and tokens like ``100.64.0.9:8888:``
are masked as a whole with their punctuation. Diagnosis needs a template for a single line and
the same template whatever else is in the capture, which a fixed masking gives.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from devproxy import events as ev
from devproxy.logs.model import SEVERITY_RANK, LogEntry

#: events whose severity is the relay's, not a judgement of the line (devproxy re-emits tailscaled's
#: output at INFO, or WARNING when it recognises the line): their text decides.
RELAYED_EVENTS = frozenset({ev.TAILSCALED_LINE})

#: how many occurrences make a WARNING recurring (an ERROR counts from one).
RECURRING_WARNINGS = 2
MAX_EXAMPLES = 2

#: a leading timestamp and level: the same line at another time or through another logger.
_PREFIX = re.compile(
    r"^\s*(?:\[?\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?\s*)?"
    r"(?:\[?(?:DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|CRITICAL|FATAL)\]?[:\s]\s*)?"
)

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, flags), replacement)
    for pattern, replacement, flags in (
        # leading timestamps and levels are the same line at another time
        (_PREFIX.pattern, "", 0),
        (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?", "<time>", 0),
        (r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>)\]]+", "<url>", re.I),
        (r"'[^'\n]{0,200}'", "'<*>'", 0),
        (r'"[^"\n]{0,200}"', '"<*>"', 0),
        (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<id>", re.I),
        (r"\[[0-9a-f:]*:[0-9a-f:.]*\](?::\d+)?", "<ip>", re.I),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<ip>", 0),
        (r"\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4}\b", "<ip>", re.I),
        (r"\b(?:[a-z0-9-]+\.)+[a-z]{2,}:\d+\b", "<host>", re.I),
        (r"\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|dev|app|internal|local|test)\b", "<host>", re.I),
        (r"\b[a-z0-9-]+:\d{2,5}\b", "<host>", re.I),
        (r"(?<![\w<])(?:~|\.{1,2})?(?:/[\w.@%+-]+){2,}/?", "<path>", 0),
        (r"\b0x[0-9a-f]+\b", "<id>", re.I),
        (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", "<id>", re.I),
        (r"\b[A-Za-z0-9_-]*\d[A-Za-z0-9_-]*[A-Za-z][A-Za-z0-9_-]{10,}\b", "<id>", 0),
        (r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?:ms|s|m|h|MiB|KiB|MB|kB|B)?\b", "<n>", 0),
        (r"\s+", " ", 0),
    )
)

_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception)\b(?::|$)")
_TRACEBACK_FRAME = re.compile(
    r"^\s*(?:Traceback \(most recent call last\)|File \"|During handling|The above exception)"
)
_FAILURE_WORDS = re.compile(
    r"\b(?:fail(?:ed|ure)?|fatal|panic|refused|denied|unreachable|timed out|timeout|cannot|can't|unable|invalid|"
    r"error)\b",
    re.I,
)


def failure_words(message: str) -> bool:
    """Whether a line's own words say something failed (refused, denied, cannot, timed out, ...)."""
    return _FAILURE_WORDS.search(message) is not None


def template(message: str) -> str:
    """The message with what varies between occurrences masked, whitespace collapsed."""
    text = message
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text.strip()[:240]


def level(entry: LogEntry) -> str:
    """The entry's Cloud Logging severity; a bare text line gets one from what it says.

    Pasted terminals, tracebacks and tailscaled's stderr carry no level (devproxy relays tailscaled
    at INFO): the last line of a Python traceback is an ERROR, a line with failure words a WARNING
    (it counts once it recurs).
    """
    message = _PREFIX.sub("", entry.message, count=1).strip()
    if _TRACEBACK_FRAME.match(message) or message.startswith("^"):
        return "DEFAULT"  # the frames of a traceback; its last line carries the error
    relayed = entry.severity in ("INFO", "DEFAULT") and (entry.event in RELAYED_EVENTS or not entry.event)
    if entry.severity != "DEFAULT" and not relayed:
        return entry.severity
    if _EXCEPTION_LINE.match(message):
        return "ERROR"
    if _FAILURE_WORDS.search(message):
        return "WARNING"
    return "DEFAULT"


@dataclass(slots=True)
class UnknownGroup:
    """Unexplained entries sharing one template."""

    template: str
    severity: str  # the worst Cloud Logging severity seen
    layer: str
    entries: list[LogEntry] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def first_seen(self) -> datetime | None:
        times = [e.time for e in self.entries if e.time is not None]
        return min(times) if times else None

    @property
    def last_seen(self) -> datetime | None:
        times = [e.time for e in self.entries if e.time is not None]
        return max(times) if times else None

    @property
    def examples(self) -> tuple[str, ...]:
        out: list[str] = []
        for entry in self.entries:
            text = entry.message if len(entry.message) <= 300 else entry.message[:297] + "..."
            if text not in out:
                out.append(text)
            if len(out) == MAX_EXAMPLES:
                break
        return tuple(out)


def _request_template(entry: LogEntry) -> str:
    """Request-log entries group by method and status, whatever the URL and latency."""
    status = entry.fields.get("status") if entry.layer == "cloudrun" else None
    if status is None:
        return ""
    return f"{entry.fields.get('method') or 'request'} <url> {status}"


def group_unknown(
    entries: Iterable[LogEntry], expected: Callable[[LogEntry], bool] | None = None
) -> list[UnknownGroup]:
    """Unexplained entries worth reporting, by template: every ERROR or worse, and recurring WARNINGs.

    A line at INFO or DEFAULT that is not one of devproxy's own judged events (a foreign line, or a
    relayed one) counts by its words. `expected` marks lines of a routine window (a noisy component's
    cold start or shutdown) that raise nothing below ERROR. Ordered worst severity first, then by
    count (most first), then by template.
    """
    groups: dict[tuple[str, str], UnknownGroup] = {}
    templates: dict[str, str] = {}  # repeated lines are common: mask each distinct text once
    warning, error = SEVERITY_RANK["WARNING"], SEVERITY_RANK["ERROR"]
    for entry in entries:
        stated = SEVERITY_RANK.get(entry.severity, 0)
        foreign = entry.event in RELAYED_EVENTS or not entry.event
        if entry.severity != "DEFAULT" and stated < warning and not (foreign and stated >= SEVERITY_RANK["INFO"]):
            continue  # devproxy's own INFO, or DEBUG: no need to look at the text
        severity = level(entry)
        rank = SEVERITY_RANK.get(severity, 0)
        if rank < warning or not entry.message.strip():
            continue
        if rank < error and expected is not None and expected(entry):
            continue
        masked = _request_template(entry)
        if not masked:
            masked = templates.get(entry.message) or templates.setdefault(entry.message, template(entry.message))
        key = (entry.layer, masked)
        group = groups.get(key)
        if group is None:
            group = groups[key] = UnknownGroup(key[1], severity, entry.layer)
        elif rank > SEVERITY_RANK[group.severity]:
            group.severity = severity
        group.entries.append(entry)
    kept = [
        g for g in groups.values()
        if SEVERITY_RANK[g.severity] >= error or g.count >= RECURRING_WARNINGS
    ]
    kept.sort(key=lambda g: (-SEVERITY_RANK[g.severity], -g.count, g.template))
    return kept
