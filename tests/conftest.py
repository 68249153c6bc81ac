"""Suite-wide fixtures: no proxy settings from the environment, asyncio debug that fails slow callbacks."""

from __future__ import annotations

import collections
import gc
import logging
import os
import threading
import time
from collections.abc import Iterator

import pytest

PROXY_VARS = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "WS_PROXY", "WSS_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy", "wss_proxy",
)
# Every event loop the tests create runs in asyncio debug mode, whose slow-callback
# threshold is 100 ms (DESIGN rule 1); asyncio reads this at each loop creation.
os.environ["PYTHONASYNCIODEBUG"] = "1"

#: a callback that holds the loop longer than this fails the test (DESIGN rule 1).
SLOW_CALLBACK_SECONDS = 0.1


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxy variables in the environment must never change what the code under test does."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


class _RunqueueClock(threading.Thread):
    """Samples how long the test thread has waited for a CPU (Linux schedstat), every few ms.

    On a loaded 2-core machine the scheduler can preempt the loop thread in the middle of a
    short callback; that time is spent runnable, not blocked. Subtracting it from a slow
    callback's wall time leaves what the callback itself held the loop for (CPU work, or a
    blocking call such as time.sleep or a synchronous socket), which is what must stay < 100 ms.
    """

    def __init__(self, tid: int) -> None:
        super().__init__(daemon=True, name="runqueue-clock")
        self._path = f"/proc/self/task/{tid}/schedstat"
        self.samples: collections.deque[tuple[float, float]] = collections.deque(maxlen=4000)
        self.stopped = threading.Event()

    def read(self) -> float | None:
        try:
            with open(self._path) as stat:
                return int(stat.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return None

    def run(self) -> None:
        while not self.stopped.wait(0.005):
            waited = self.read()
            if waited is not None:
                self.samples.append((time.monotonic(), waited))

    def waited_between(self, start: float, end: float) -> float:
        """Seconds the test thread spent runnable but not running in [start, end] (0 if unknown)."""
        samples = list(self.samples)
        before = [w for t, w in samples if t <= start]
        after = [w for t, w in samples if t >= end]
        now_waited = self.read()
        if not before:
            return 0.0
        last = after[0] if after else now_waited
        return max(0.0, (last or before[-1]) - before[-1])


class _GcPauses:
    """When the collector ran: a full collection over everything earlier tests left behind is
    the test process's own pause, not the code under test holding the loop."""

    def __init__(self) -> None:
        self.pauses: collections.deque[tuple[float, float]] = collections.deque(maxlen=1000)
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.monotonic()
        else:
            self.pauses.append((self._started, time.monotonic()))

    def within(self, start: float, end: float) -> float:
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in list(self.pauses))


GC_PAUSES = _GcPauses()
gc.callbacks.append(GC_PAUSES)


class _SlowCallbacks(logging.Handler):
    def __init__(self, clock: _RunqueueClock | None) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []
        self._clock = clock

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not (message.startswith("Executing") and " took " in message):
            return
        took = float(record.args[-1]) if isinstance(record.args, tuple) and record.args else SLOW_CALLBACK_SECONDS
        now = time.monotonic()
        preempted = 0.0
        if self._clock is not None:
            preempted = self._clock.waited_between(now - took - 0.01, now)
        collecting = GC_PAUSES.within(now - took - 0.01, now)
        if took - preempted - collecting >= SLOW_CALLBACK_SECONDS:
            self.records.append(
                f"{message} ({preempted:.3f} s of it waiting for a CPU, {collecting:.3f} s collecting garbage)"
            )


@pytest.fixture(autouse=True)
def _fail_on_slow_callbacks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run every event loop in debug mode and fail the test if a callback blocked it > 100 ms."""
    if request.node.get_closest_marker("allow_slow_callbacks"):
        yield
        return
    clock: _RunqueueClock | None = _RunqueueClock(threading.get_native_id())
    assert clock is not None
    if clock.read() is None:
        clock = None
    else:
        clock.start()
    handler = _SlowCallbacks(clock)
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        if clock is not None:
            clock.stopped.set()
            clock.join(1)
    if handler.records:
        pytest.fail("event loop blocked: " + "; ".join(handler.records[:3]), pytrace=False)
