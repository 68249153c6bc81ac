"""WebSocket relaying: the browser's upgrade goes to the target, then frames pass byte for byte.

The browser's handshake is checked first (nothing is dialed for a bad one), then forwarded
through the tunnel with the usual header rewriting and the Sec-WebSocket-* headers as sent, so
the two ends negotiate subprotocol and compression with each other. The browser gets the
target's own 101, or its refusal (status, reason, headers, body). After the 101 the relay's
protocol state lives in a sans-I/O core (ws_relay.RelayCore: frame boundaries each way, who
closed it, held close frames, the ping clock, the maximum age); the `Bridge` here is transport
glue that feeds it bytes and time and carries out what it returns. Payloads are never unmasked,
decoded or joined, so a message of any size costs the same bounded buffers.
Each direction stops reading while the other side's write buffer is full (backpressure).
The target's leg lives in ws_target.py.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, cast

from aiohttp import web

from devproxy import events
from devproxy.errors import ProxyError, UpgradeRejectedError
from devproxy.runtime import ws_handshake
from devproxy.runtime.bridges import LiveBridges
from devproxy.runtime.forwarder import Forwarder
from devproxy.runtime.http_forward import error_response
from devproxy.runtime.incoming import raw_headers
from devproxy.runtime.snapshots import BridgeSnapshot
from devproxy.runtime.ws_relay import DropBrowser, RelayCore
from devproxy.runtime.ws_target import TargetLeg, open_target, rejected

#: keepalive on the tunnel leg: a ping after this long without a byte from the target, and the
#: path counts as dead when the next tick still has heard nothing. VS Code pings the browser leg.
PING_INTERVAL = 20.0
#: how long a closing handshake (or SIGTERM's) may take before both connections are dropped.
CLOSE_TIMEOUT = 5.0
#: the payload of devproxy's own pings; their pongs are consumed, never passed on.
PING_TOKEN = b"devproxy" + os.urandom(4)


class Bridge:
    """One relayed WebSocket's I/O: both connections, the core's timer, backpressure, counters for status."""

    # slots: a thousand idle WebSockets should cost little more than their sockets
    __slots__ = (
        "path", "opened_at", "loop", "browser_transport", "browser_protocol", "_writer", "target", "core",
        "_clock", "done", "_draining", "_drain_task", "_timer", "_timer_at", "__weakref__",
    )

    def __init__(self, path: str, request: web.Request, target: TargetLeg, *, max_age: float | None) -> None:
        self.path = path
        self.opened_at = time.time()
        self.loop = asyncio.get_running_loop()
        self.browser_transport = request.transport
        self.browser_protocol = request.protocol
        self._writer = request.writer
        self.target = target
        self._clock = self.loop.time
        self.core = RelayCore(now=self._clock(), ping_interval=PING_INTERVAL, close_timeout=CLOSE_TIMEOUT,
                              max_age=max_age, ping_token=PING_TOKEN)
        self.done: asyncio.Future[None] = self.loop.create_future()
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._schedule()

    # -- status and counters -------------------------------------------------------------------

    @property
    def bytes_in(self) -> int:
        return self.core.up.payload_bytes

    @property
    def bytes_out(self) -> int:
        return self.core.down.payload_bytes

    def snapshot(self) -> BridgeSnapshot:
        return BridgeSnapshot(path=self.path, opened_at=self.opened_at, bytes_in=self.bytes_in, bytes_out=self.bytes_out)

    # -- inputs: the browser's bytes (fed by aiohttp's server protocol, like its own WebSocket reader) ---

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if not self.done.done():
            self.core.from_browser(data, self._clock())
            self._carry_out()
        return False, b""

    def feed_eof(self) -> None:
        """The browser's TCP connection is gone."""
        if not self.done.done():
            self.core.browser_gone()
            self._carry_out()

    def from_target(self, data: bytes) -> None:
        if not self.done.done():
            self.core.from_target(data, self._clock())
            self._carry_out()

    def target_lost(self) -> None:
        """The tunnel connection is gone: 1011 (or the browser's own code echoed) if between frames."""
        if not self.done.done():
            self.core.target_gone()
            self._carry_out()

    def _tick(self) -> None:
        self._timer = None
        self._timer_at = -1.0  # rescheduled whatever the core says (a timer may fire a hair early)
        if not self.done.done():
            self.core.tick(self.loop.time())
            self._carry_out()

    async def shut(self, code: int, reason: str) -> None:
        """Close both sides from the proxy (1001 on SIGTERM, so VS Code reconnects at once)."""
        if self.done.done():
            return
        self.core.shutdown(code, reason, self.loop.time())
        self._carry_out()
        try:
            await asyncio.wait_for(asyncio.shield(self.done), CLOSE_TIMEOUT)
        except TimeoutError:
            self._finish()

    # -- outputs -----------------------------------------------------------------------------------

    def _carry_out(self) -> None:
        """Write what the core produced for each side, then do its actions, then follow its deadline."""
        core = self.core
        if core.to_target:
            transport = self.target.transport
            if transport is not None:
                for data in core.to_target:
                    transport.write(data)
            core.to_target.clear()
        if core.to_browser:
            for data in core.to_browser:
                self._write_down(data)
            core.to_browser.clear()
        if core.actions:
            actions, core.actions = core.actions, []
            for action in actions:
                if isinstance(action, DropBrowser):
                    if self.browser_transport is not None:
                        self.browser_transport.abort()
                else:
                    self._finish()
                    return
        if core.deadline != self._timer_at:
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = self.core.deadline
        self._timer = self.loop.call_at(self._timer_at, self._tick)

    def _write_down(self, data: bytes) -> None:
        transport = self.browser_transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if self.browser_protocol.writing_paused and not self._draining and self.target.transport is not None:
            self._draining = True
            self.core.target_paused(True)
            self.target.transport.pause_reading()
            self._drain_task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        """Resume reading the target once the browser has taken what was written to it."""
        try:
            await self._writer.drain()
        except ConnectionError:
            pass
        finally:
            self._draining = False
            self.core.target_paused(False)
            if not self.done.done() and self.target.transport is not None:
                self.target.transport.resume_reading()

    # -- ending ----------------------------------------------------------------------------------

    def _finish(self) -> None:
        """Both connections closed (buffered bytes still go out first); the handler may return."""
        if self.done.done():
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.target.transport is not None:
            self.target.transport.close()
        if self.browser_transport is not None:
            self.browser_transport.close()
        self.done.set_result(None)

    def abort(self) -> None:
        """Drop both connections at once (the handler is being cancelled)."""
        if self.target.transport is not None:
            self.target.transport.abort()
        if self.browser_transport is not None:
            self.browser_transport.abort()
        self._finish()


async def bridge_websocket(request: web.Request, proxy: Forwarder, live: LiveBridges) -> web.StreamResponse:
    """Handle one WebSocket upgrade from the browser."""
    started = time.perf_counter()
    incoming = raw_headers(request)
    refusal = ws_handshake.check_browser((request.version.major, request.version.minor), incoming)
    if refusal is not None:
        proxy.log.warning(events.WS_BAD_HANDSHAKE, f"refused the WebSocket upgrade of {request.path}: {refusal.reason}",
                        path=request.path, status=refusal.status)
        return web.Response(status=refusal.status, text=f"devproxy: {refusal.reason}\n", headers=dict(refusal.headers))
    key = next(v for n, v in incoming if n.lower() == "sec-websocket-key")
    try:
        leg = await open_target(request, proxy, incoming, key)
    except UpgradeRejectedError as err:
        proxy.log.warning(err.event, str(err), path=request.path, status=err.status, likely_cause=err.hint)
        return rejected(err)
    except ProxyError as err:
        proxy.log.error(err.event, str(err), path=request.path, status=err.http_status, websocket=True)
        return error_response(err)

    headers = leg.text_headers()
    response = web.StreamResponse(status=101, reason=leg.reason.decode("utf-8", "replace") or None)
    for name, value in ws_handshake.browser_switch_headers(headers):
        response.headers.add(name, value)
    response.force_close()
    try:
        await response.prepare(request)
    except ConnectionError:
        leg.abort()
        return response
    if request.transport is None:
        leg.abort()
        return response
    subprotocol = ws_handshake.subprotocol(headers)
    del incoming, headers  # held for the connection's life otherwise
    leg.headers, leg.body, leg.reason = [], bytearray(), bytearray()
    bridge = Bridge(request.path, request, leg, max_age=proxy.config.timeouts.ws_max_age)
    leg.bridge = bridge
    request.protocol.set_parser(cast(Any, bridge))
    if leg.tail:
        tail, leg.tail = leg.tail, b""
        bridge.from_target(tail)
        if leg.transport is not None and not bridge._draining:
            leg.transport.resume_reading()
    live.add(bridge)
    proxy.log.info(events.WS_OPEN, f"WebSocket {request.path} open", path=request.path,
                 subprotocol=subprotocol,
                 connect_ms=round((time.perf_counter() - started) * 1000, 2))
    try:
        await bridge.done
    finally:
        if not bridge.done.done():
            bridge.abort()
        live.discard(bridge)
        _log_closed(proxy, bridge, started)
    return response


def _log_closed(proxy: Forwarder, bridge: Bridge, started: float) -> None:
    core, close = bridge.core, bridge.core.close
    proxy.log.info(
        events.WS_CLOSED,
        f"WebSocket {bridge.path} closed by {close.closed_by or 'unknown'}",
        path=bridge.path,
        duration_s=round(time.perf_counter() - started, 3),
        bytes_in=bridge.bytes_in,
        bytes_out=bridge.bytes_out,
        messages_in=core.up.messages,
        messages_out=core.down.messages,
        close_code=close.close_code,
        upstream_close_code=close.upstream_code,
        close_reason=close.upstream_reason or None,
        closed_by=close.closed_by,
        why=close.why,
        protocol_error=close.protocol_error,
    )
