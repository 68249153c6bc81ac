"""A finding's words from its own evidence: what the lines themselves say beyond the catalog's text.

Pure. The catalog says what a kind of failure means in general; this module sharpens it with the
capture at hand: a lone symptom gets a fix that does not point at causes that are not there; the
SOCKS clients that never spoke SOCKS are told apart (a probe at a regular interval, or connects
given up by a blocked loop); an abnormal WebSocket close says which side ended it; a finding is
raised to error when the component itself logged its lines at ERROR.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from statistics import median

from devproxy.logs.findings import SEVERITY_ORDER, Finding
from devproxy.logs.match import Hit
from devproxy.logs.model import SEVERITY_RANK

#: fixes for symptoms that are seen with no cause in the capture (their catalog fix points at one).
LONE_FIX: dict[str, str] = {
    "browser-ws-1006": (
        "Nothing else in this capture says why. Read the proxy's and tailscaled's lines of the same minutes "
        "(devproxy logs --since 1h --diagnose reads them all from Cloud Logging): a 'could not read packet "
        "header' from tailscaled, a 403/401 on the upstream upgrade, or a request cut at the timeout names it."
    ),
    "browser-initial-connect-failed": (
        "Reload once the server answers; the first connection's failure is in the proxy's log of that minute "
        "(devproxy logs --since 1h --diagnose)."
    ),
    "cr-http-5xx": (
        "Nothing else in this capture names the cause: read the container's own lines at those times "
        "(devproxy logs --since 1h --diagnose includes stdout and stderr)."
    ),
    "dp-ws-abnormal": (
        "Nothing else in this capture names the cause: read the side that ended it (closed_by) at those times: "
        "the dev server's own log for 'target', the browser console for 'browser', tailscaled's lines for a "
        "dropped tunnel."
    ),
}

_SIDES = {
    "target": "the dev server's side (through the tailnet) ended without a close frame: the dev server "
    "closed or restarted, or the tailnet path dropped",
    "browser": "the browser's side ended without a close frame: the tab closed, the network changed, or "
    "Cloud Run's front end cut the request",
}

#: share of variation in the gaps between lines below which they repeat at a fixed interval.
_REGULAR = 0.15
_PROBE_IDS = frozenset({"ts-packet-header", "socks-not-spoken"})


def _interval(times: Sequence[datetime]) -> float | None:
    """The fixed interval (s) the times repeat at, or None when they are not regular (4+ needed)."""
    if len(times) < 4:
        return None
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    typical = median(gaps)
    if typical < 0.5:
        return None
    if all(abs(gap - typical) <= max(0.5, typical * _REGULAR) for gap in gaps):
        return typical
    return None


def _probe(finding: Finding, hits: Sequence[Hit]) -> Finding:
    times = sorted(h.when for h in hits if h.when is not None and h.signature.id == "ts-packet-header")
    every = _interval(times)
    if every is None:
        return finding
    cause = (
        f"tailscaled logged 'could not read packet header' every {every:.0f} s: something opens a TCP "
        "connection to its SOCKS5 port at a fixed interval and closes it without speaking SOCKS, a bare "
        "health or port probe of 127.0.0.1:1055."
    )
    fix = (
        "Probe the proxy's HTTP health endpoint (/_devproxy/health, /_devproxy/ready) instead, or make the "
        "check a full SOCKS greeting and CONNECT; never a bare TCP probe of the SOCKS port."
    )
    return replace(finding, cause=cause, fix=fix)


def _ws_side(finding: Finding, hits: Sequence[Hit]) -> Finding:
    sides = {str(h.entry.fields.get("closed_by") or "") for h in hits}
    sides.discard("")
    if len(sides) != 1:
        return finding
    side = sides.pop()
    if side not in _SIDES:
        return finding
    return replace(finding, cause=f"{finding.cause} In each, {_SIDES[side]}.")


def _stated_error(finding: Finding, hits: Sequence[Hit]) -> Finding:
    """A warning-level kind whose lines the component itself logged at ERROR is an error."""
    if finding.noise or SEVERITY_ORDER[finding.severity] <= SEVERITY_ORDER["error"]:
        return finding
    if any(SEVERITY_RANK.get(h.entry.severity, 0) >= SEVERITY_RANK["ERROR"] for h in hits):
        return replace(finding, severity="error")
    return finding


def refine(finding: Finding, hits: Sequence[Hit]) -> Finding:
    """The finding with words and severity taken from its own evidence."""
    finding = _stated_error(finding, hits)
    if finding.id in _PROBE_IDS:
        finding = _probe(finding, hits)
    if finding.id == "dp-ws-abnormal":
        finding = _ws_side(finding, hits)
    return finding


def alone(finding: Finding) -> Finding:
    """A symptom nothing in the capture explains: its fix must not point at causes that are not there."""
    if finding.explained_by or finding.id not in LONE_FIX:
        return finding
    return replace(finding, fix=LONE_FIX[finding.id])
