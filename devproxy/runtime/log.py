"""Structured JSON log lines on stdout, in Cloud Logging's format.

Every line has `severity`, `message`, `time`, a stable `event` name and a `component`
(`proxy`, `tailscaled`, `supervisor`, `auth`). Cloud Logging lifts these into the entry;
`devproxy logs --diagnose` keys on `event`.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TextIO

SEVERITIES = ("DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")


def _rfc3339(ts: float) -> str:
    secs = int(ts)
    micros = int((ts - secs) * 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{micros:06d}Z"


class EventLog:
    """Writes one JSON object per line; keeps the most recent warnings and errors for the status page."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.time,
        keep_recent: int = 50,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self.recent_problems: deque[dict[str, Any]] = deque(maxlen=keep_recent)
        self._hooks: list[Callable[[dict[str, Any]], None]] = []

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
            "time": _rfc3339(self._clock()),
            "event": event,
            "component": component,
        }
        for key, value in fields.items():
            if value is not None:
                record[key] = value
        line = json.dumps(record, separators=(",", ":"), default=str)
        stream = self._stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()
        if severity in ("WARNING", "ERROR", "CRITICAL"):
            self.recent_problems.append(record)
        for hook in self._hooks:
            hook(record)

    def info(self, event: str, message: str, **fields: Any) -> None:
        self.emit("INFO", event, message, **fields)

    def warning(self, event: str, message: str, **fields: Any) -> None:
        self.emit("WARNING", event, message, **fields)

    def error(self, event: str, message: str, **fields: Any) -> None:
        self.emit("ERROR", event, message, **fields)
