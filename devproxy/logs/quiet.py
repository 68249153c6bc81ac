"""When a noisy component's routine failure words are expected: tailscaled's cold start and shutdown.

Pure. tailscaled writes "error" and "failed" in the milliseconds before it is Running (no TUN stats,
no TPM, no profile yet, "Tailscale is stopped") and while it shuts down. Those lines raise nothing
when that start did reach Running (or that shutdown was asked for); a start that never reached
Running keeps them as evidence (they are its last words).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from devproxy import events as ev
from devproxy.logs.model import LogEntry

#: after Running, tailscaled still settles (DNS, DERP, peers) for a moment.
SETTLE = timedelta(seconds=3)
#: a start that takes longer than this is not a cold start any more.
MAX_START = timedelta(seconds=90)

_STARTS = frozenset({ev.TAILSCALED_STARTED})
_STOPS = frozenset({ev.TAILSCALED_STOPPING, ev.RUNTIME_STOPPING})
_ENDS = frozenset({ev.TAILSCALED_EXITED, ev.RUNTIME_STOPPED})


def _running(entry: LogEntry) -> bool:
    if entry.event == ev.TAILSCALE_BACKEND_STATE:
        return str(entry.fields.get("backend_state")) == "Running"
    if entry.event == ev.TAILSCALED_STATE:
        return str(entry.fields.get("state")) == "running"
    return "Switching ipn state" in entry.message and "-> Running" in entry.message


def _text_start(entry: LogEntry) -> bool:
    return not entry.event and entry.layer == "tailscale" and "Program starting:" in entry.message


def _text_stop(entry: LogEntry) -> bool:
    return entry.layer == "tailscale" and "got signal terminated" in entry.message


def windows(entries: Sequence[LogEntry]) -> list[tuple[datetime, datetime]]:
    """The [start, end] spans in which tailscaled's routine lines are expected."""
    spans: list[tuple[datetime, datetime]] = []
    started: datetime | None = None
    stopping: datetime | None = None
    for entry in entries:
        when = entry.time
        if when is None:
            continue
        if entry.event in _STARTS or _text_start(entry):
            started = when
        elif started is not None and _running(entry):
            if when - started <= MAX_START:
                spans.append((started, when + SETTLE))
            started = None
        if entry.event in _STOPS or _text_stop(entry):
            stopping = stopping or when
        elif stopping is not None and entry.event in _ENDS:
            spans.append((stopping, when))
            stopping = None
    if stopping is not None:
        spans.append((stopping, stopping + SETTLE))
    return spans


def expected(entries: Sequence[LogEntry]) -> Callable[[LogEntry], bool]:
    """A predicate: is this tailscaled line inside a cold start that succeeded, or a shutdown?"""
    spans = windows(entries)

    def inside(entry: LogEntry) -> bool:
        if entry.layer != "tailscale" or entry.time is None:
            return False
        return any(start <= entry.time <= end for start, end in spans)

    return inside
