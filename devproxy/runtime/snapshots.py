"""The runtime's typed views of itself: tailscaled, the target check, live WebSockets, the status page.

Frozen values built once per request; the HTML page renders them and the JSON is serialised from
the same object (`as_json`), so the two cannot disagree about a field's name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: the fields of a log record that every problem line shows; the rest travel as details.
_PROBLEM_KEYS = ("time", "severity", "event", "message")


@dataclass(frozen=True, slots=True)
class WatchdogView:
    """The watchdog while its probes through the tunnel fail."""

    failing_s: float
    restart_after_s: float
    last_error: str

    def as_json(self) -> dict[str, Any]:
        return {"failing_s": self.failing_s, "restart_after_s": self.restart_after_s, "last_error": self.last_error}


@dataclass(frozen=True, slots=True)
class TailscaleCheck:
    """tailscaled as the supervisor sees it: ok only while BackendState is Running."""

    ok: bool
    state: str
    detail: str
    backend_state: str
    restarts: int
    watchdog: WatchdogView | None = None
    #: how it logs in: keyless, oauth-client or auth-key (the name only, never the secret).
    credential: str = ""

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "state": self.state, "detail": self.detail,
                                "backend_state": self.backend_state, "restarts": self.restarts,
                                "credential": self.credential}
        if self.watchdog is not None:
            body["watchdog"] = self.watchdog.as_json()
        return body


@dataclass(frozen=True, slots=True)
class TargetCheck:
    """One SOCKS greeting + CONNECT to the target: whether it answered, through what, how fast."""

    ok: bool
    target: str
    via: str
    latency_ms: float
    socks_address: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "target": self.target, "via": self.via, "latency_ms": self.latency_ms}
        if self.socks_address:
            body["socks_address"] = self.socks_address
        if self.error:
            body["error"] = self.error
        return body


@dataclass(frozen=True, slots=True)
class BridgeSnapshot:
    """One relayed WebSocket: its path, when it opened (epoch seconds), bytes each way."""

    path: str
    opened_at: float
    bytes_in: int
    bytes_out: int

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "opened_at": self.opened_at, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out}


@dataclass(frozen=True, slots=True)
class SocksView:
    """The SOCKS server in use and the address that answered the last dial."""

    url: str
    answered_by: str | None

    def as_json(self) -> dict[str, Any]:
        return {"url": self.url, "answered_by": self.answered_by}


@dataclass(frozen=True, slots=True)
class Problem:
    """A warning or error the runtime logged, as the status page lists it."""

    time: str
    severity: str
    event: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> Problem:
        """The problem a log record describes (its other fields kept as details)."""
        return cls(
            time=str(record.get("time", "")), severity=str(record.get("severity", "")),
            event=str(record.get("event", "")), message=str(record.get("message", "")),
            details={k: v for k, v in record.items() if k not in _PROBLEM_KEYS},
        )

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time, "severity": self.severity, "event": self.event, "message": self.message,
                **self.details}


def problems(records: Iterable[Mapping[str, Any]]) -> tuple[Problem, ...]:
    """Log records as problems, newest first (the log keeps them oldest first)."""
    return tuple(Problem.of(r) for r in reversed(list(records)))


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Everything `/_devproxy/status` shows; `recent_errors` and `client_errors` are newest first."""

    version: str
    auth: str
    tailscale: TailscaleCheck | None
    socks: SocksView
    target: TargetCheck
    websockets: tuple[BridgeSnapshot, ...] = ()
    recent_errors: tuple[Problem, ...] = ()
    #: malformed requests and failed logins: counted, a few kept.
    client_error_count: int = 0
    client_errors: tuple[Problem, ...] = ()
    #: freezes noticed (economy mode), whether requests are being held now, and how many got a 503.
    freezes: tuple[int, bool, int] = (0, False, 0)

    @property
    def ok(self) -> bool:
        """The headline: the target answers and tailscaled (when supervised here) is Running."""
        return self.target.ok and (self.tailscale is None or self.tailscale.ok)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "auth": self.auth,
            "tailscale": self.tailscale.as_json() if self.tailscale is not None else None,
            "socks": self.socks.as_json(),
            "target": self.target.as_json(),
            "websockets": {"open": len(self.websockets), "sessions": [b.as_json() for b in self.websockets]},
            "recent_errors": [p.as_json() for p in self.recent_errors],
            "client_errors": {"count": self.client_error_count, "recent": [p.as_json() for p in self.client_errors]},
            "freezes": {"seen": self.freezes[0], "holding": self.freezes[1], "refused": self.freezes[2]},
        }
