"""Structured JSON log lines on stdout, in Cloud Logging's format.

Every line has `severity`, `message`, `time`, a stable `event` name and a `component`
(`proxy`, `tailscaled`, `supervisor`, `auth`). Cloud Logging lifts these into the entry;
`devproxy logs --diagnose` keys on `event`.

Warnings and errors pass through a `Redactor` before they are written or kept: library messages
quote client bytes, which may hold the access token or a session cookie. For a person at a
terminal the same records (masked the same way) can be written as text lines instead
(`--log-format text`): time, severity, component, event, message, then the fields as key=value.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

from devproxy import events
from devproxy.runtime.redact import Redactor

SEVERITIES = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")
PROBLEMS = frozenset({"WARNING", "ERROR", "CRITICAL"})
#: problems anyone on the internet can cause at will: counted apart so they cannot push real ones out.
CLIENT_INPUT_EVENTS = frozenset({events.HTTP_BAD_REQUEST, events.AUTH_LOGIN_FAILED, events.AUTH_RATE_LIMITED})


#: one encoder for every line: `json.dumps` with options builds a new encoder per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


class _Clock:
    """RFC 3339 timestamps; the formatted second is cached (one access line per request needs it)."""

    __slots__ = ("_second", "_prefix")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def stamp(self, ts: float) -> str:
        secs = int(ts)
        if secs != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
            self._second = secs
        return f"{self._prefix}.{int((ts - secs) * 1_000_000):06d}Z"


def _json_line(record: dict[str, Any]) -> str:
    return _ENCODER.encode(record) + "\n"


_HEAD = frozenset({"severity", "message", "time", "event", "component"})


def _text_line(record: dict[str, Any]) -> str:
    """`HH:MM:SS.mmm SEVERITY component event: message key=value ...` for a terminal."""
    clock = record["time"][11:23]
    fields = " ".join(
        f"{key}={value if isinstance(value, str) and value and ' ' not in value else _ENCODER.encode(value)}"
        for key, value in record.items() if key not in _HEAD
    )
    line = f"{clock} {record['severity']:<7} {record['component']} {record['event']}: {record['message']}"
    return f"{line}  {fields}\n" if fields else line + "\n"


class EventLog:
    """Writes one JSON object per line; keeps the most recent warnings and errors for the status page.

    Problems caused by client input (malformed requests, wrong tokens) go to their own short list
    and a counter, so a flood of them leaves the real problems in `recent_problems`.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.time,
        keep_recent: int = 50,
        redactor: Redactor | None = None,
        text: bool = False,
    ) -> None:
        self._stream = stream
        self._render = _text_line if text else _json_line
        self._clock = clock
        self.redactor = redactor or Redactor()
        #: newest last (appended as they happen).
        self.recent_problems: deque[dict[str, Any]] = deque(maxlen=keep_recent)
        self.client_problems: deque[dict[str, Any]] = deque(maxlen=10)
        self.client_problem_count = 0
        self._hooks: list[Callable[[dict[str, Any]], None]] = []
        self._stamps = _Clock()
        #: the stream written since the last flush; flushed once per event-loop iteration.
        self._unflushed: TextIO | None = None

    def add_hook(self, hook: Callable[[dict[str, Any]], None]) -> None:
        """Call `hook` with every record (tests and the status page use this)."""
        self._hooks.append(hook)

    def emit(
        self,
        severity: str,
        event: str,
        message: str,
        *,
        component: str = "proxy",
        **fields: Any,
    ) -> None:
        record: dict[str, Any] = {
            "severity": severity,
            "message": message,
            "time": self._stamps.stamp(self._clock()),
            "event": event,
            "component": component,
        }
        for key, value in fields.items():
            if value is not None:
                record[key] = value
        problem = severity in PROBLEMS
        if problem or event == events.LIBRARY_LOG:
            record = self.redactor.value(record)
        self._write(self._render(record))
        if problem:
            if event in CLIENT_INPUT_EVENTS:
                self.client_problems.append(record)
                self.client_problem_count += 1
            else:
                self.recent_problems.append(record)
        for hook in self._hooks:
            hook(record)

    def _write(self, line: str) -> None:
        """Write one whole line; flush at the end of this loop iteration (at once outside a loop)."""
        stream = self._stream or sys.stdout
        if self._unflushed is not None and self._unflushed is not stream:
            self.flush()
        stream.write(line)
        if self._unflushed is not None:
            return  # a flush is already scheduled for this iteration
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread (start-up, worker threads): flush now
            stream.flush()
            return
        self._unflushed = stream
        loop.call_soon(self._flush_later)

    def flush(self) -> None:
        """Push buffered lines to the stream's file now."""
        stream, self._unflushed = self._unflushed, None
        if stream is not None:
            stream.flush()

    def _flush_later(self) -> None:
        try:
            self.flush()
        except (OSError, ValueError):  # stdout gone (closed pipe): nobody is left to read the lines
            pass

    def info(self, event: str, message: str, **fields: Any) -> None:
        self.emit("INFO", event, message, **fields)

    def warning(self, event: str, message: str, **fields: Any) -> None:
        self.emit("WARNING", event, message, **fields)

    def error(self, event: str, message: str, **fields: Any) -> None:
        self.emit("ERROR", event, message, **fields)
