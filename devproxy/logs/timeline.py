"""The diagnosis timeline: each layer's worst level per time bucket over the input's span."""

from __future__ import annotations

from collections.abc import Sequence

from devproxy.logs.findings import ERROR_LEVELS, Timeline, TimelineRow
from devproxy.logs.match import Hit
from devproxy.logs.model import SEVERITY_RANK, LogEntry
from devproxy.logs.signatures import Signature


def _level(entry: LogEntry, sig: Signature | None) -> int:
    """The signature's level, or the line's own when it is worse (a known symptom logged at ERROR)."""
    if sig is not None and sig.noise:
        return 1
    rank = SEVERITY_RANK.get(entry.severity, 0)
    stated = 3 if rank >= SEVERITY_RANK["ERROR"] else 2 if rank == SEVERITY_RANK["WARNING"] else 1
    if sig is None:
        return stated
    return max(stated, 3 if sig.severity in ERROR_LEVELS else 2 if sig.severity == "warning" else 1)


def build_timeline(
    entries: Sequence[LogEntry], hits: Sequence[Hit], buckets: int = 48
) -> Timeline:
    """Bucket entries by time and layer, keeping the worst level per bucket."""
    timed = [e for e in entries if e.time is not None]
    if not timed:
        return Timeline(None, None, (), len(entries))
    start = min(e.time for e in timed if e.time is not None)
    end = max(e.time for e in timed if e.time is not None)
    span = max((end - start).total_seconds(), 1e-6)
    by_entry = {id(h.entry): h.signature for h in hits}
    rows: dict[str, list[int]] = {}
    for entry in timed:
        assert entry.time is not None
        sig = by_entry.get(id(entry))
        layer = entry.layer or (sig.layer if sig else "") or "other"
        row = rows.setdefault(layer, [0] * buckets)
        index = min(buckets - 1, int((entry.time - start).total_seconds() / span * buckets))
        row[index] = max(row[index], _level(entry, sig))
    order = ("browser", "cloudrun", "proxy", "auth", "nginx", "code-server", "tailscale", "other")
    layers = sorted(rows, key=lambda name: order.index(name) if name in order else len(order))
    rows_out = tuple(TimelineRow(name, tuple(rows[name])) for name in layers)
    return Timeline(start, end, rows_out, len(entries) - len(timed))
