"""After a freeze (economy mode): the detector, the request gate, the supervisor's checks, a real frozen process."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from conftest import Upstream
from devproxy.runtime.freeze import Freeze, FreezeDetector
from devproxy.runtime.log import EventLog
from devproxy.runtime.thaw import ThawGuard
from support.runtime_proc import spawn_runtime
from support.tailscale_standins import Standin, free_port, wait_until


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        ([(100.0, 5.0), (101.0, 6.0), (102.1, 7.1)], None),  # on schedule
        ([(100.0, 5.0), (102.5, 7.5)], None),  # late by 1.5 s: load, not a freeze
        ([(100.0, 5.0), (121.0, 26.0)], Freeze(20.0, "late wake-up")),  # SIGSTOP / CPU throttled
        ([(100.0, 5.0), (191.0, 6.0)], Freeze(90.0, "wall clock jump")),  # suspended VM: monotonic stood still
        ([(100.0, 5.0), (50.0, 6.0)], None),  # the wall clock set back: not a freeze
        ([(100.0, 5.0), (301.0, 206.0), (302.0, 207.0)], Freeze(200.0, "late wake-up")),  # reported once
    ],
)
def test_freeze_detector(readings: list[tuple[float, float]], expected: Freeze | None) -> None:
    """Either clock running ahead of the 1 s schedule by 3 s or more is a freeze of that length."""
    detector = FreezeDetector(interval_s=1.0, threshold_s=3.0)
    found = [f for f in (detector.tick(wall, mono) for wall, mono in readings) if f is not None]
    assert found == ([] if expected is None else [expected])


class Clock:
    def __init__(self) -> None:
        self.wall, self.mono = 1_000.0, 50.0

    def __call__(self) -> tuple[float, float]:
        return self.wall, self.mono

    def freeze(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


async def test_requests_wait_for_the_path_check_after_a_freeze() -> None:
    """A freeze closes the gate at once, flushes idle connections; requests go on once the check is done."""
    clock, checked, flushed = Clock(), asyncio.Event(), []
    out = io.StringIO()

    async def check(freeze: Freeze) -> None:
        await checked.wait()

    guard = ThawGuard(EventLog(out), check=check, flush=lambda: flushed.append(1) or 3, clock=clock)
    assert await asyncio.wait_for(guard.admit(), 1)  # no freeze: at once
    clock.freeze(60)
    waiting = asyncio.create_task(guard.admit())
    await asyncio.sleep(0.05)
    assert guard.holding and not waiting.done() and flushed == [1]
    checked.set()
    assert await asyncio.wait_for(waiting, 1) is True
    assert not guard.holding
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    thawed = [r for r in records if r["event"] == "runtime.thawed"]
    assert len(thawed) == 1 and thawed[0]["frozen_s"] == 59.0 and thawed[0]["idle_closed"] == 3
    assert [r["ok"] for r in records if r["event"] == "runtime.thaw_checked"] == [True]
    await guard.stop()


async def test_past_the_bound_a_request_gets_503_with_retry_after() -> None:
    """A check that outlasts a request's wait: that request gets 503, Retry-After and words, not a hang."""
    clock, never = Clock(), asyncio.Event()

    async def check(freeze: Freeze) -> None:
        await never.wait()

    guard = ThawGuard(EventLog(io.StringIO()), check=check, clock=clock, hold_s=0.2, check_bound_s=0.5)
    guard.poll()
    clock.freeze(30)
    started = time.monotonic()
    assert await asyncio.wait_for(guard.admit(), 2) is False
    assert 0.15 < time.monotonic() - started < 1.0
    refusal = guard.refusal()
    assert refusal.status == 503 and refusal.headers["Retry-After"] == "5"
    assert refusal.text is not None and "reconnecting to the tailnet" in refusal.text
    # Past the check's own bound the gate opens anyway: requests then meet whatever is there.
    await wait_until(lambda: not guard.holding, timeout=2, what="the gate to open after the check bound")
    assert await asyncio.wait_for(guard.admit(), 1) is True
    await guard.stop()


async def test_node_removed_while_frozen_logs_in_again_at_once(standin: Standin) -> None:
    """NeedsLogin after Running: a new login at once, not after the rest of the 'not Running' deadline."""
    sup = standin.supervisor(up_timeout_s=30.0)
    await sup.start()
    try:
        await wait_until(lambda: sup.check()["ok"] is True, what="Running")
        Path(sup.settings.socket + ".state").write_text("NeedsLogin\n")
        removed = time.monotonic()
        await wait_until(lambda: sup.check()["ok"] is False, what="the drop")
        await wait_until(lambda: sup.check()["ok"] is True, timeout=5, what="Running again")
        assert time.monotonic() - removed < 5  # the old code waited out the 30 s deadline
        assert sup.restarts == 0 and standin.record("tailscale.calls").count("up ") == 2
    finally:
        await sup.stop(grace_s=1)


async def test_a_thaw_with_a_working_path_needs_no_restart(standin: Standin, upstream: Upstream) -> None:
    """After a thaw the path is probed at once; when it works the check returns and tailscaled keeps running."""
    sup = standin.supervisor(watch_target=(upstream.host, upstream.port), running_poll_s=30.0, watchdog_s=None)
    await sup.start()
    try:
        await wait_until(lambda: sup.check()["ok"] is True, what="Running")
        started = time.monotonic()
        await asyncio.wait_for(sup.after_thaw(Freeze(200.0, "late wake-up")), 5)
        assert time.monotonic() - started < 3  # not the 30 s poll interval
        assert sup.restarts == 0
    finally:
        await sup.stop(grace_s=1)


async def test_a_stale_path_after_a_thaw_restarts_tailscaled_at_once(standin: Standin) -> None:
    """The first probe after a thaw fails: tailscaled is restarted with no pause, and the check waits for it."""
    dead = ("127.0.0.1", free_port())
    sup = standin.supervisor(watch_target=dead, running_poll_s=30.0, watchdog_s=None, backoff_initial_s=5.0)
    await sup.start()
    try:
        await wait_until(lambda: sup.check()["ok"] is True, what="Running")
        await asyncio.wait_for(sup.after_thaw(Freeze(200.0, "late wake-up")), 10)
        assert sup.restarts == 1
        assert [r["delay_s"] for r in standin.events("tailscaled.restart")] == [0.0]
        assert standin.events("tailscaled.watchdog")[0]["thaw"] is True
    finally:
        await sup.stop(grace_s=1)


async def test_a_frozen_runtime_notices_and_still_answers(upstream: Upstream) -> None:
    """The real process stopped for 4.5 s (as Cloud Run's throttling does): it logs the freeze, the
    request that wakes it is answered, not failed, and the status page counts the freeze."""
    proc, _ = await spawn_runtime("--target", upstream.url, "--socks", "none", "--listen", "127.0.0.1:0",
                                  "--auth", "none", env={})
    try:
        async with aiohttp.ClientSession(trust_env=False) as client:
            url = f"http://127.0.0.1:{_port(_)}/echo"
            async with client.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                assert resp.status == 200
            proc.send_signal(signal.SIGSTOP)
            await asyncio.sleep(4.5)
            proc.send_signal(signal.SIGCONT)
            async with client.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                assert resp.status == 200
            async with client.get(url.replace("/echo", "/_devproxy/status"), headers={"Accept": "application/json"},
                                  timeout=aiohttp.ClientTimeout(total=10)) as resp:
                assert (await resp.json())["freezes"] == {"seen": 1, "holding": False, "refused": 0}
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 10)
    out = (await proc.stdout.read()).decode()  # type: ignore[union-attr]
    thawed = [json.loads(line) for line in out.splitlines() if '"runtime.thawed"' in line]
    assert len(thawed) == 1 and thawed[0]["frozen_s"] >= 3 and thawed[0]["idle_closed"] == 1


def _port(lines: list[dict[str, object]]) -> int:
    return int(str(lines[-1]["port"]))
