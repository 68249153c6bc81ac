"""Suite-wide fixtures: no proxy settings from the environment; asyncio debug mode, and a guard that fails a
test whose event loop callbacks used > 100 ms of CPU or in which product code made a blocking call."""

from __future__ import annotations

import asyncio
import collections
import gc
import ipaddress
import logging
import os
import socket
import subprocess
import sys
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
#: where product code lives: a blocking call is reported when one of these frames made it.
PRODUCT_DIR = os.sep + "devproxy" + os.sep
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxy variables in the environment must never change what the code under test does."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


class _CpuClock(threading.Thread):
    """Samples how much CPU time the test thread has used (Linux schedstat), every few ms.

    asyncio's debug mode reports a callback by its wall time, and on a loaded machine wall time
    includes waiting for a CPU and waiting for the GIL while another thread of this process (this
    sampler included) is itself preempted: neither is the callback's doing, and neither shows in
    the thread's CPU time. A slow callback is judged by a lower bound of the CPU time it used.
    """

    def __init__(self, tid: int) -> None:
        super().__init__(daemon=True, name="cpu-clock")
        self._path = f"/proc/self/task/{tid}/schedstat"
        self.samples: collections.deque[tuple[float, float]] = collections.deque(maxlen=4000)
        self.stopped = threading.Event()

    def read(self) -> float | None:
        try:
            with open(self._path) as stat:
                return int(stat.read().split()[0]) / 1e9
        except (OSError, IndexError, ValueError):
            return None

    def run(self) -> None:
        while not self.stopped.wait(0.004):
            used = self.read()
            if used is not None:
                self.samples.append((time.monotonic(), used))

    def used_at_least(self, start: float, end_used: float) -> float:
        """A lower bound of the CPU seconds the thread used from `start` until now (`end_used` read now).

        From a sample at t ≤ start, at most (start - t) of the difference can precede `start`;
        a sample at t ≥ start bounds it directly. Missing samples make the bound smaller, never larger.
        """
        best = 0.0
        before = after = None
        for t, used in list(self.samples):
            if t <= start:
                before = (t, used)
            elif after is None:
                after = (t, used)
        if before is not None:
            best = max(best, end_used - before[1] - (start - before[0]))
        if after is not None:
            best = max(best, end_used - after[1])
        return best


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
    """asyncio's "Executing ... took N seconds" lines of this thread's loop, kept when the callback
    itself used ≥ 100 ms of CPU (garbage collection excepted)."""

    def __init__(self, clock: _CpuClock, tid: int) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []
        self._clock = clock
        self._tid = tid

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not (message.startswith("Executing") and " took " in message):
            return
        if threading.get_native_id() != self._tid:
            return  # another thread's loop: not the code under test in this test's loop
        took = float(record.args[-1]) if isinstance(record.args, tuple) and record.args else SLOW_CALLBACK_SECONDS
        now = time.monotonic()
        end_used = self._clock.read()
        if end_used is None:
            self.records.append(message)
            return
        used = self._clock.used_at_least(now - took, end_used)
        collecting = GC_PAUSES.within(now - took, now)
        if used - collecting >= SLOW_CALLBACK_SECONDS:
            self.records.append(f"{message} ({used:.3f} s of CPU, {collecting:.3f} s of it collecting garbage)")


def _product_caller() -> str | None:
    """Where in devproxy's own code the current call was made, if it was (innermost frame first)."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if PRODUCT_DIR in filename and not filename.startswith(TESTS_DIR):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _waits_for_the_child() -> bool:
    """Whether this Popen was made by subprocess.run/call/check_output, which then wait for the child;
    a bare Popen (asyncio's subprocess transport, the runtime's own spawn) only forks and execs."""
    frame = sys._getframe(3)  # above _waits_for_the_child < _blocking < _audit: Popen's own frames
    while frame is not None and frame.f_code.co_filename == subprocess.__file__ and frame.f_code.co_name in (
            "_execute_child", "__init__"):
        frame = frame.f_back
    return frame is not None and frame.f_code.co_filename == subprocess.__file__


def _numeric_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return host is None
    return True


def _blocking(event: str, args: tuple[object, ...]) -> bool:
    """Whether an audited call blocks the thread that makes it (the calls DESIGN rule 1 forbids in async code)."""
    if event == "time.sleep":
        return bool(args) and isinstance(args[0], (int, float)) and args[0] > 0
    if event == "socket.connect":
        sock = args[0]
        return isinstance(sock, socket.socket) and sock.gettimeout() != 0.0
    if event == "socket.getaddrinfo":
        return not _numeric_host(args[0] if args else None)
    if event in ("socket.gethostbyname", "socket.gethostbyaddr"):
        return True
    if event == "subprocess.Popen":
        return _waits_for_the_child()
    return event == "os.system"


WATCHED_CALLS = frozenset({"time.sleep", "socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                           "socket.gethostbyaddr", "subprocess.Popen", "os.system"})
#: blocking calls product code made inside an event loop callback during the running test.
BLOCKING_CALLS: list[str] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    """Record a blocking call (time.sleep, a blocking connect, DNS, subprocess) made by product code
    while an event loop runs on this thread: it blocks the loop however briefly it takes here."""
    if BLOCKING_CALLS is None or event not in WATCHED_CALLS:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    if not _blocking(event, args):
        return
    where = _product_caller()
    if where is not None:
        BLOCKING_CALLS.append(f"{event} in an event loop callback at {where}")


sys.addaudithook(_audit)
_real_sleep = time.sleep


def _watched_sleep(secs: float) -> None:
    """time.sleep, which raises no audit event before Python 3.12, reported like the audited calls."""
    _audit("time.sleep", (secs,))
    _real_sleep(secs)


time.sleep = _watched_sleep


@pytest.fixture(autouse=True)
def _fail_on_slow_callbacks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if a callback of this thread's event loop used > 100 ms of CPU, or if product code
    made a blocking call (sleep, blocking socket, DNS, subprocess) inside one."""
    global BLOCKING_CALLS
    if request.node.get_closest_marker("allow_slow_callbacks"):
        yield
        return
    tid = threading.get_native_id()
    clock = _CpuClock(tid)
    clock.start()
    handler = _SlowCallbacks(clock, tid)
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    BLOCKING_CALLS = found = []
    try:
        yield
    finally:
        BLOCKING_CALLS = None
        logger.removeHandler(handler)
        clock.stopped.set()
        clock.join(1)
    problems = found + handler.records
    if problems:
        pytest.fail("event loop blocked: " + "; ".join(problems[:3]), pytrace=False)
