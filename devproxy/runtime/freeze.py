"""Noticing that the instance was frozen: pure, fed clock readings, no sleeping of its own.

On Cloud Run with request-based billing (economy mode) the CPU is throttled to nothing between
requests: every process stops, then runs again when a request arrives. A thawed tailscaled can fail
its dials for a while (tailscale#20331, #19791), so the runtime must know it was frozen. A ticker
reads both clocks at a fixed interval; either clock running ahead of that schedule by more than a
threshold means the process did not run in between: the loop woke late (the monotonic clock kept
counting while the process was stopped) or the wall clock jumped (a suspended VM, where the
monotonic clock stood still).
"""

from __future__ import annotations

from dataclasses import dataclass

#: a pause shorter than this is load, not a freeze (a busy event loop can be late by a second).
DEFAULT_THRESHOLD_S = 3.0


@dataclass(frozen=True, slots=True)
class Freeze:
    """The process did not run for about `seconds` (beyond the tick it expected)."""

    seconds: float
    #: "late wake-up" (monotonic clock) or "wall clock jump".
    how: str


class FreezeDetector:
    """Compares each tick's clock readings with the previous ones and the expected interval."""

    def __init__(self, interval_s: float, threshold_s: float = DEFAULT_THRESHOLD_S) -> None:
        self.interval_s = interval_s
        self.threshold_s = threshold_s
        self._last: tuple[float, float] | None = None

    def tick(self, wall: float, monotonic: float) -> Freeze | None:
        """Feed one reading of (time.time(), time.monotonic()); return the freeze it reveals, if any."""
        last, self._last = self._last, (wall, monotonic)
        if last is None:
            return None
        late = monotonic - last[1] - self.interval_s
        jump = wall - last[0] - self.interval_s
        if late >= self.threshold_s and late >= jump - self.threshold_s:
            return Freeze(round(late, 1), "late wake-up")
        if jump >= self.threshold_s:
            return Freeze(round(jump, 1), "wall clock jump")
        return None
