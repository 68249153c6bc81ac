"""After a freeze: hold requests until the tailnet path is checked, and make the checks happen.

A ticker reads the clocks every second (`freeze.FreezeDetector` decides); each request reads them
too, since after a thaw the request that woke the instance may run before the ticker does. On a
freeze the gate closes at once, idle pooled connections are flushed (they may lead to a dev box
that vanished meanwhile), and the tailnet path is checked (the supervisor logs in again or restarts
tailscaled when it is stale). Requests wait while the gate is closed, up to a bound; past it they
get a 503 with Retry-After and words, never a hang. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from devproxy import events
from devproxy.runtime.freeze import DEFAULT_THRESHOLD_S, Freeze, FreezeDetector
from devproxy.runtime.log import EventLog

#: how long one request waits for the check before it gets a 503.
HOLD_S = 20.0
#: how long the check may take before the gate opens anyway (requests then meet what is there).
CHECK_BOUND_S = 30.0
RETRY_AFTER_S = 5


class ThawGuard:
    """Notices freezes and holds requests while the tailnet path is checked after one."""

    def __init__(
        self,
        log: EventLog,
        *,
        check: Callable[[Freeze], Awaitable[None]] | None = None,
        flush: Callable[[], object] | None = None,
        interval_s: float = 1.0,
        threshold_s: float = DEFAULT_THRESHOLD_S,
        hold_s: float = HOLD_S,
        check_bound_s: float = CHECK_BOUND_S,
        clock: Callable[[], tuple[float, float]] = lambda: (time.time(), time.monotonic()),
    ) -> None:
        self._log = log
        self._check = check
        self._flush = flush
        self._interval_s = interval_s
        self._hold_s = hold_s
        self._check_bound_s = check_bound_s
        self._clock = clock
        self._detector = FreezeDetector(interval_s, threshold_s)
        self._open = asyncio.Event()
        self._open.set()
        self._ticker: asyncio.Task[None] | None = None
        self._handling: asyncio.Task[None] | None = None
        #: freezes seen since start, and requests answered 503 because the check took too long.
        self.freezes = 0
        self.refused = 0

    @property
    def holding(self) -> bool:
        """True while requests wait for the path check after a freeze."""
        return not self._open.is_set()

    def poll(self) -> None:
        """Read the clocks now; a freeze closes the gate at once and starts its handling."""
        freeze = self._detector.tick(*self._clock())
        if freeze is None or self._handling is not None:
            return
        self.freezes += 1
        self._open.clear()
        self._handling = asyncio.get_running_loop().create_task(self._thawed(freeze), name="devproxy-thaw")

    async def admit(self) -> bool:
        """True when a request may go on (at once, or once the path is checked); False past the bound."""
        self.poll()
        if self._open.is_set():
            return True
        try:
            await asyncio.wait_for(self._open.wait(), self._hold_s)
        except TimeoutError:
            self.refused += 1
            return False
        return True

    def refusal(self) -> web.Response:
        """What a request gets when the check outlasted its wait: 503, Retry-After and the reason."""
        return web.Response(
            status=503, headers={"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"},
            text="devproxy: this instance was paused and is reconnecting to the tailnet; "
            f"try again in {RETRY_AFTER_S} seconds\n",
        )

    async def start(self) -> None:
        """Start the ticker (once)."""
        if self._ticker is None:
            self.poll()
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="devproxy-freeze-ticker")

    async def stop(self) -> None:
        """Stop the ticker and any check in progress; the gate opens (shutdown must not hold anyone)."""
        for task in (self._ticker, self._handling):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, 2.0)
        self._ticker = self._handling = None
        self._open.set()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            self.poll()

    async def _thawed(self, freeze: Freeze) -> None:
        started = time.monotonic()
        flushed = self._flush() if self._flush is not None else None
        self._log.warning(
            events.RUNTIME_THAWED,
            f"this instance did not run for {freeze.seconds:g} s ({freeze.how}); checking the tailnet path "
            "before forwarding", frozen_s=freeze.seconds, how=freeze.how,
            idle_closed=flushed if isinstance(flushed, int) else None,
        )
        try:
            if self._check is not None:
                await asyncio.wait_for(self._check(freeze), self._check_bound_s)
        except TimeoutError:
            self._log.warning(
                events.RUNTIME_THAW_CHECKED,
                f"the tailnet path was not confirmed within {self._check_bound_s:g} s of the thaw; "
                "forwarding again anyway", ok=False, took_s=round(time.monotonic() - started, 2),
            )
        else:
            self._log.info(events.RUNTIME_THAW_CHECKED, "tailnet path checked after the thaw", ok=True,
                           took_s=round(time.monotonic() - started, 2))
        finally:
            self._open.set()
            self._handling = None
