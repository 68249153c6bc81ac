"""Failed logins per client: who the client is behind trusted proxies, and a sliding-window limit."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


def client_ip(forwarded_for: str | None, peer: str | None, trusted_hops: int = 0) -> str:
    """The client address for rate limiting and logs.

    Each trusted proxy in front appends the address it saw to X-Forwarded-For, so with N trusted
    hops the client is the N-th entry from the end (Cloud Run's front end: the last one). Entries
    before it are whatever the client sent; with no trusted hop (the port reached directly) the
    header is ignored, or anyone could pick a fresh bucket per guess or lock another address out.
    """
    if trusted_hops > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",")]
        if len(hops) >= trusted_hops and hops[-trusted_hops]:
            return hops[-trusted_hops]
    return peer or "unknown"


class RateLimiter:
    """Failed logins per client in a sliding window, optionally with a ceiling across all clients.

    The runtime uses no global ceiling: anyone could reach it on purpose and lock the owner out
    of their own editor, while the per-client limit already makes guessing a random token hopeless.
    """

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_s: float = 60.0,
        global_max_failures: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.global_max_failures = global_max_failures
        self._clock = clock
        self._max_clients = max_clients
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _prune(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window_s:
            times.popleft()

    def retry_after(self, client: str) -> float | None:
        """Seconds until `client` may try again, or None when it may try now."""
        now = self._clock()
        self._prune(self._all, now)
        waits = []
        if self.global_max_failures is not None and len(self._all) >= self.global_max_failures:
            waits.append(self._all[0] + self.window_s - now)
        times = self._failures.get(client)
        if times is not None:
            self._prune(times, now)
            if len(times) >= self.max_failures:
                waits.append(times[0] + self.window_s - now)
            elif not times:
                del self._failures[client]
        return max(waits) if waits else None

    def record_failure(self, client: str) -> None:
        now = self._clock()
        if client not in self._failures and len(self._failures) >= self._max_clients:
            # Bounded memory: forget the client whose window started first.
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(client, deque()).append(now)
        self._all.append(now)

    def forget(self, client: str) -> None:
        self._failures.pop(client, None)
