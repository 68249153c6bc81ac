"""A thaw must be invisible: every process of the runtime (devproxy and its tailscaled) is stopped with SIGSTOP,
as Cloud Run throttles an idle instance, for 20 s, 90 s and 200 s (past WireGuard's 180 s key lifetime and
tailscaled's map-poll and DERP read timeouts), and once for 200 s with the node removed by the control server
meanwhile. At once after SIGCONT, one HTTP request and one WebSocket go through: both succeed, no 5xx,
within THAW_BOUND_S.

A removed node must also log in again by itself, after which traffic flows once more.

The freezes run at once (each its own runtime and tailscaled, in a thread with its own event loop), so
the module costs one 200 s freeze, not four; each test then judges its own scenario.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tailnet.tailnet_fixtures import Runtime, runtime_env, start_runtime
from tailnet.tailnet_procs import Binaries, Control, Node

#: what a developer may wait after a thaw before the page answers (Cloud Run's own cold start is 2-5 s)
THAW_BOUND_S = 10.0
#: the client's own limit per attempt: long enough to measure a hang past the bound (the 120 s response timeout)
CLIENT_TIMEOUT_S = 130.0


@dataclass(frozen=True)
class Freeze:
    seconds: float
    remove_node: bool = False


FREEZES = {
    "20s": Freeze(20),
    "90s": Freeze(90),
    "200s": Freeze(200),
    "20s-node-removed": Freeze(20, remove_node=True),
    "90s-node-removed": Freeze(90, remove_node=True),
    "200s-node-removed": Freeze(200, remove_node=True),
}


@dataclass
class Thaw:
    """What one scenario saw after SIGCONT: each request's outcome and seconds since the thaw."""

    http_status: int | None = None
    http_body: str = ""
    http_s: float | None = None
    ws_echo: str | None = None
    ws_s: float | None = None
    errors: list[str] = field(default_factory=list)
    #: tailscale's backend states the runtime reported after the thaw
    states: list[str] = field(default_factory=list)
    #: a removed node: the HTTP status and WebSocket echo once it has logged in again
    after_login: tuple[int | None, str | None] = (None, None)
    log: list[str] = field(default_factory=list)


def process_tree(pid: int) -> list[int]:
    """pid and every descendant (tailscaled, and any tailscale CLI it runs), parents first."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    queue.extend(int(child) for child in children.read().split())
        except FileNotFoundError:
            continue
    return tree


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


async def http_once(session: aiohttp.ClientSession, url: str, thawed: float, result: Thaw) -> None:
    try:
        async with session.get(url) as resp:
            body = await resp.text()
            result.http_status = resp.status
            if resp.status != 200:
                result.http_body = body
    except (aiohttp.ClientError, TimeoutError) as exc:
        result.errors.append(f"HTTP: {exc!r}")
    result.http_s = time.monotonic() - thawed


async def ws_once(session: aiohttp.ClientSession, url: str, thawed: float, result: Thaw) -> None:
    try:
        async with session.ws_connect(url) as ws:
            await ws.send_str("after the thaw")
            msg = await ws.receive(timeout=CLIENT_TIMEOUT_S)
            result.ws_echo = msg.data if msg.type is aiohttp.WSMsgType.TEXT else f"{msg.type.name} {msg.data} {msg.extra}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        result.errors.append(f"WebSocket: {exc!r}")
    result.ws_s = time.monotonic() - thawed


async def freeze_and_thaw(freeze: Freeze, bins: Binaries, control: Control, dev_port: int, state_dir: Path,
                          starting: asyncio.Semaphore) -> Thaw:
    result = Thaw()
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT_S)
    async with starting:  # a few at a time: six interpreters importing at once on two busy cores are slow
        rt: Runtime = await start_runtime(f"http://devbox:{dev_port}", runtime_env(bins, control, state_dir))
        session = aiohttp.ClientSession(timeout=timeout)
        try:
            await rt.wait_ready(session, timeout=60)
        except BaseException:
            await session.close()
            await rt.stop()
            raise
    try:
        async with session:
            # A pooled keep-alive connection and an open WebSocket before the freeze, as a developer leaves them.
            async with session.get(f"{rt.url}/echo/before") as resp:
                assert resp.status == 200
            async with session.ws_connect(f"{rt.url}/ws/echo") as ws:
                await ws.send_str("before")
                assert (await ws.receive(timeout=30)).data == "before"
            address = rt.events("tailscaled.state")[-1]["detail"].split("(")[1].split(",")[0]
            node = await asyncio.to_thread(control.node, address)
            assert node is not None
            pids = process_tree(rt.proc.pid)
            assert len(pids) >= 2, "no tailscaled under the runtime"
            signal_all(pids, signal.SIGSTOP)
            result.log.append(f"froze {len(pids)} processes for {freeze.seconds:g} s")
            if freeze.remove_node:
                await asyncio.to_thread(control.remove, node["node_key"])
            await asyncio.sleep(freeze.seconds)
            mark = len(rt.lines)
            signal_all(list(reversed(process_tree(rt.proc.pid))), signal.SIGCONT)
            thawed, thawed_wall = time.monotonic(), time.time()
            await asyncio.gather(http_once(session, f"{rt.url}/echo/after-thaw", thawed, result),
                                 ws_once(session, f"{rt.url}/ws/echo", thawed, result))
            assert rt.proc.returncode is None, "the runtime exited"

            def states() -> list[str]:
                return [str(r["backend_state"]) for r in rt.lines[mark:] if r.get("event") == "tailscale.backend_state"]

            def logged_in_again() -> bool:
                seen = states()
                return "NeedsLogin" in seen and "Running" in seen[seen.index("NeedsLogin"):]

            if freeze.remove_node:
                # The node may learn of its removal only when its map poll comes back; then it logs in again
                # and traffic must flow once more.
                async with asyncio.timeout(60):
                    while not logged_in_again():
                        await asyncio.sleep(0.1)
                again = Thaw()
                await asyncio.gather(http_once(session, f"{rt.url}/echo/after-login", thawed, again),
                                     ws_once(session, f"{rt.url}/ws/echo", thawed, again))
                result.after_login = (again.http_status, again.ws_echo)
            await asyncio.sleep(2)  # the states tailscale passes through right after the thaw
            result.states = states()
            result.log = [timeline_entry(r, thawed_wall) for r in rt.lines[mark:] if r.get("event") != "tailscaled.line"]
    finally:
        signal_all(process_tree(rt.proc.pid), signal.SIGCONT)
        await rt.stop()
    return result


def timeline_entry(record: dict[str, Any], thawed_wall: float) -> str:
    """`+1.23 s event: message`, the time counted from the thaw."""
    at = datetime.fromisoformat(str(record["time"]).replace("Z", "+00:00")).timestamp() - thawed_wall
    return f"{at:+.2f} s {record.get('event')}: {str(record.get('message', ''))[:160]}"


@pytest.fixture(scope="module")
def thaws(bins: Binaries, control: Control, devbox: Node, dev_port: int,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Thaw | BaseException]]:
    """Every scenario of FREEZES, run at once in one thread with its own event loop."""
    results: dict[str, Thaw | BaseException] = {}

    async def run_all() -> None:
        names, starting = list(FREEZES), asyncio.Semaphore(2)
        outcomes = await asyncio.gather(
            *(freeze_and_thaw(FREEZES[n], bins, control, dev_port, tmp_path_factory.mktemp(f"freeze-{n}"), starting)
              for n in names), return_exceptions=True)
        results.update(zip(names, outcomes))

    worker = threading.Thread(target=lambda: asyncio.run(run_all()), name="freezes")
    worker.start()
    worker.join(max(f.seconds for f in FREEZES.values()) + 2 * CLIENT_TIMEOUT_S + 120)
    assert not worker.is_alive(), "the freeze scenarios did not finish"
    yield results


@pytest.mark.parametrize("name", list(FREEZES))
def test_after_a_thaw_one_request_and_one_websocket_succeed_at_once(
    thaws: dict[str, Thaw | BaseException], name: str,
) -> None:
    """After SIGSTOP of the runtime and its tailscaled and SIGCONT, an HTTP request gets 200 and a WebSocket
    echoes, each within THAW_BOUND_S of the thaw (no 5xx, no hang)."""
    result = thaws[name]
    if isinstance(result, BaseException):
        raise result
    print(f"{name}: HTTP {result.http_status} after {result.http_s:.2f} s {result.http_body!r}, WebSocket "
          f"{result.ws_echo!r} after {result.ws_s:.2f} s; states after the thaw {result.states}; {result.errors}")
    print("\n".join(f"    {line}" for line in result.log))
    if FREEZES[name].remove_node:
        assert "NeedsLogin" in result.states, "the removal did not reach the node"
        assert result.after_login == (200, "after the thaw"), result.log
    assert result.http_status == 200 and result.ws_echo == "after the thaw", (result.errors, result.log)
    assert result.http_s is not None and result.http_s <= THAW_BOUND_S, result.log
    assert result.ws_s is not None and result.ws_s <= THAW_BOUND_S, result.log
