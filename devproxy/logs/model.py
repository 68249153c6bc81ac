"""The one shape every log source is normalised into before diagnosis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: severities in the order Cloud Logging ranks them.
SEVERITIES = ("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

#: layers a line can come from; "" when nothing says which.
LAYERS = ("browser", "code-server", "nginx", "proxy", "tailscale", "cloudrun", "auth")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log line from any source: when, which layer, how bad, what it says."""

    time: datetime | None
    layer: str
    severity: str
    message: str
    event: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    raw: str = ""  # the input line; "" for entries of a JSON array or from the API
    insert_id: str = ""


def severity_name(value: object) -> str:
    """Normalise a severity from any source (names, Python level names, numbers) to Cloud Logging's names."""
    if isinstance(value, int):
        # LogSeverity numbers: 100 DEBUG, 200 INFO, ... 800 EMERGENCY
        return SEVERITIES[max(0, min(len(SEVERITIES) - 1, value // 100))]
    text = str(value or "").strip().upper()
    aliases = {"WARN": "WARNING", "ERR": "ERROR", "FATAL": "CRITICAL", "CRIT": "CRITICAL", "TRACE": "DEBUG"}
    text = aliases.get(text, text)
    return text if text in SEVERITY_RANK else "DEFAULT"
