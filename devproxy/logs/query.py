"""What to ask Cloud Logging for: the Cloud Run service's entries since a point in time. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from devproxy.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DEFAULT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class CloudQuery:
    """One Cloud Run service's logs: project, service, optional region, start time, how many."""

    project: str
    service: str
    since: datetime
    region: str | None = None
    limit: int = DEFAULT_LIMIT


def parse_since(value: str, now: datetime) -> datetime:
    """A relative duration ("90s", "30m", "1h", "2d") or an RFC 3339 time, as an aware UTC datetime.

    Raises:
        ConfigError: the value is neither.
    """
    match = _DURATION.match(value)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(
            f"--since {value!r} is not a duration or a timestamp",
            hint="use e.g. 30m, 1h, 2d or 2026-01-31T12:00:00Z",
        ) from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def rfc3339(when: datetime) -> str:
    """UTC RFC 3339 with microseconds and a Z, as Cloud Logging filters expect."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_filter(service: str, since: datetime, region: str | None = None) -> str:
    """The Logging query language filter selecting a Cloud Run service's entries since `since`."""
    parts = [
        'resource.type="cloud_run_revision"',
        f"resource.labels.service_name={_quote(service)}",
    ]
    if region:
        parts.append(f"resource.labels.location={_quote(region)}")
    parts.append(f'timestamp>="{rfc3339(since)}"')
    return " AND ".join(parts)
