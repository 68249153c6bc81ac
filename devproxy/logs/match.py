"""Match log entries against the signature catalog, fast enough for 10,000 lines in well under a second.

Every text pattern is compiled once. Each pattern also yields a required literal (its "needle"),
so a line is only run through the regexes whose needle it contains: one lower-casing and a
few substring tests per line instead of a regex per signature.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from devproxy.logs.model import SEVERITY_RANK, LogEntry
from devproxy.logs.catalog import CATALOG
from devproxy.logs.signatures import FINDING_SEVERITIES, Signature

_SEVERITY_ORDER = {name: n for n, name in enumerate(FINDING_SEVERITIES)}

_META = set(".^$*+?{}[]|()\\")

#: Cloud Run request timeouts people set; a 101 that ends right at one of them was cut by it.
SHORT_TIMEOUTS_S = (300.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0)
MAX_TIMEOUT_S = 3600.0


def needle(pattern: str) -> str:
    """The longest literal text every match of `pattern` must contain (lower-cased).

    Raises:
        ValueError: the pattern has a top-level alternation or no literal of 3+ characters.
    """
    pieces: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            pieces.append("".join(current))
            current.clear()

    depth = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if depth == 0 and not nxt.isalnum():
                current.append(nxt)
            else:
                flush()
            i += 2
            continue
        if char == "[":
            flush()
            i += 1
            if i < len(pattern) and pattern[i] == "]":
                i += 1
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            continue
        if char == "(":
            depth += 1
            flush()
        elif char == ")":
            depth -= 1
            flush()
        elif char == "|" and depth == 0:
            raise ValueError(f"top-level alternation in {pattern!r}: use several patterns")
        elif char in "?*{":
            if current:
                current.pop()  # the previous character is optional
            flush()
            if char == "{":
                i = pattern.index("}", i)
        elif char == "+":
            flush()
        elif char in _META:
            flush()
        elif depth == 0:
            current.append(char)
        i += 1
    flush()
    best = max(pieces, key=len, default="")
    if len(best) < 3:
        raise ValueError(f"no literal of 3+ characters in {pattern!r}")
    return best.lower()


def _ws_cut(entry: LogEntry) -> tuple[float, float] | None:
    """(latency, nearest timeout) of an upgraded request that ended right at a timeout."""
    fields = entry.fields
    if str(fields.get("status")) != "101":
        return None
    latency = fields.get("latency_s")
    if not isinstance(latency, (int, float)):
        return None
    for timeout in (*SHORT_TIMEOUTS_S, MAX_TIMEOUT_S):
        if abs(latency - timeout) <= max(2.0, timeout * 0.005):
            return float(latency), timeout
    return None


def _ws_cut_at_timeout(entry: LogEntry) -> bool:
    cut = _ws_cut(entry)
    return cut is not None and cut[1] < MAX_TIMEOUT_S


def _ws_cut_hourly(entry: LogEntry) -> bool:
    cut = _ws_cut(entry)
    return cut is not None and cut[1] == MAX_TIMEOUT_S


def _request_5xx(entry: LogEntry) -> bool:
    """A request-log entry with a server error status (not one a timeout check explains)."""
    if entry.layer != "cloudrun":
        return False
    try:
        status = int(str(entry.fields.get("status")))
    except ValueError:
        return False
    return 500 <= status <= 599 and _ws_cut(entry) is None


#: computed predicates a signature can name in `check`.
CHECKS: Mapping[str, Callable[[LogEntry], bool]] = {
    "ws_cut_at_timeout": _ws_cut_at_timeout,
    "ws_cut_hourly": _ws_cut_hourly,
    "request_5xx": _request_5xx,
}


@dataclass(frozen=True, slots=True)
class Hit:
    """One entry recognised as one signature; `when` is when it happened (end time for requests)."""

    signature: Signature
    entry: LogEntry
    when: datetime | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    signature: Signature
    regex: re.Pattern[str]
    exclude: re.Pattern[str] | None


class Matcher:
    """The catalog compiled for matching; build once, use for every entry."""

    def __init__(self, catalog: Iterable[Signature] = CATALOG) -> None:
        self.catalog = tuple(catalog)
        self._by_needle: dict[str, list[_Compiled]] = {}
        self._by_event: dict[str, list[tuple[Signature, tuple[tuple[str, re.Pattern[str]], ...], re.Pattern[str] | None]]] = {}
        self._checks: list[tuple[Signature, Callable[[LogEntry], bool]]] = []
        self._order = {sig.id: n for n, sig in enumerate(self.catalog)}
        for sig in self.catalog:
            exclude = re.compile("|".join(f"(?:{p})" for p in sig.exclude), re.I) if sig.exclude else None
            for pattern in sig.patterns:
                compiled = _Compiled(sig, re.compile(pattern, re.I), exclude)
                self._by_needle.setdefault(needle(pattern), []).append(compiled)
            for event in sig.events:
                where = tuple((name, re.compile(rx)) for name, rx in sig.where)
                self._by_event.setdefault(event, []).append((sig, where, exclude))
            if sig.check:
                self._checks.append((sig, CHECKS[sig.check]))
        self._needles = tuple(self._by_needle.items())

    def matches(self, entry: LogEntry) -> list[Signature]:
        """Every signature that recognises `entry`, in catalog order."""
        found: list[Signature] = []
        if entry.event:
            rank = SEVERITY_RANK.get(entry.severity, 0)
            for sig, where, veto in self._by_event.get(entry.event, ()):
                if sig.min_severity and rank < SEVERITY_RANK[sig.min_severity]:
                    continue
                if veto and entry.message and veto.search(entry.message):
                    continue
                # A field the entry lacks reads as "": a `where` regex that accepts "" accepts its absence.
                if all(rx.fullmatch(str(entry.fields.get(name, ""))) for name, rx in where):
                    found.append(sig)
        if entry.fields:
            for sig, check in self._checks:
                if check(entry):
                    found.append(sig)
        message = entry.message
        if message:
            low = message.lower()
            for text, compiled_list in self._needles:
                if text in low:
                    for compiled in compiled_list:
                        if compiled.signature in found:
                            continue
                        if compiled.regex.search(message) and not (
                            compiled.exclude and compiled.exclude.search(message)
                        ):
                            found.append(compiled.signature)
        found.sort(key=lambda sig: self._order[sig.id])
        return found

    def match(self, entry: LogEntry) -> Signature | None:
        """The one signature an entry counts for: the most severe; on a tie its event's own, then catalog order.

        A devproxy event whose message quotes another stack's line (``tailscale up failed: invalid
        key ...``) thus counts as the more specific, more severe signature of that line.
        """
        found = self.matches(entry)
        if not found:
            return None
        return min(
            found,
            key=lambda sig: (
                _SEVERITY_ORDER[sig.severity],
                0 if entry.event and entry.event in sig.events else 1,
                self._order[sig.id],
            ),
        )

    def hits(self, entries: Iterable[LogEntry]) -> list[Hit]:
        """Match a batch of entries."""
        out: list[Hit] = []
        for entry in entries:
            sig = self.match(entry)
            if sig is not None:
                out.append(Hit(sig, entry, when_of(entry)))
        return out


def when_of(entry: LogEntry) -> datetime | None:
    """When the entry's event happened: a request's end, otherwise its timestamp."""
    if entry.time is None:
        return None
    latency = entry.fields.get("latency_s") if entry.layer == "cloudrun" else None
    if isinstance(latency, (int, float)):
        return entry.time + timedelta(seconds=float(latency))
    return entry.time
