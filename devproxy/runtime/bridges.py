"""The set of live WebSocket relays: added and discarded by the bridge, read by the status page,
shut all at once on SIGTERM."""

from __future__ import annotations

import asyncio
from typing import Protocol

from devproxy import events
from devproxy.runtime.log import EventLog
from devproxy.runtime.snapshots import BridgeSnapshot


class Relay(Protocol):
    """What the set needs from one relayed WebSocket (ws_bridge.Bridge)."""

    @property
    def done(self) -> asyncio.Future[None]: ...

    def snapshot(self) -> BridgeSnapshot: ...

    async def shut(self, code: int, reason: str) -> None: ...

    def abort(self) -> None: ...


class LiveBridges:
    """The relays open right now."""

    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._open: set[Relay] = set()

    def add(self, relay: Relay) -> None:
        self._open.add(relay)

    def discard(self, relay: Relay) -> None:
        self._open.discard(relay)

    def __len__(self) -> int:
        return len(self._open)

    def snapshot(self) -> tuple[BridgeSnapshot, ...]:
        """Each open relay as the status page shows it."""
        return tuple(relay.snapshot() for relay in list(self._open))

    async def shut_all(self, code: int, reason: str, grace_s: float) -> None:
        """`code` to every relay; the legs of those whose ends do not answer within `grace_s` are dropped."""
        relays: list[Relay] = list(self._open)
        if not relays:
            return
        tasks = [asyncio.create_task(relay.shut(code, reason)) for relay in relays]
        done, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=0.2)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                self._log.warning(events.RUNTIME_WEBSOCKET_CLOSE_FAILED, f"closing a WebSocket failed: {task.exception()}")
        for relay in relays:
            if not relay.done.done():
                relay.abort()  # neither side answered in time: drop both connections
        self._log.info(events.RUNTIME_WEBSOCKETS_CLOSED, f"closed {len(done)} of {len(relays)} WebSockets with {code}",
                       closed=len(done), open=len(relays))
