"""WebSocket relaying: the browser's upgrade goes to the target, then frames pass byte for byte.

The browser's handshake is checked first (nothing is dialed for a bad one), then forwarded
through the tunnel with the usual header rewriting and the Sec-WebSocket-* headers as sent, so
the two ends negotiate subprotocol and compression with each other. The browser gets the
target's own 101, or its refusal (status, reason, headers, body). After the 101 the proxy
tracks frame boundaries only (`wsframes`): payloads are never unmasked, decoded or joined, so a
message of any size costs the same bounded buffers. Knowing the boundaries is what lets it
still close the browser's side with 1011 and a reason when the target or tunnel dies between
frames (mid-frame, only closing the TCP connection is possible), close both sides with 1001
on SIGTERM, ping the target on an idle tunnel, count messages and bytes, and fail a side that
breaks the framing rules (RFC 6455 §5.1: an unmasked client frame gets 1002).
Each direction stops reading while the other side's write buffer is full (backpressure).
The target's leg lives in ws_target.py, the close decisions in ws_close.py.
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
from devproxy.runtime.incoming import raw_headers
from devproxy.runtime.http_forward import error_response
from devproxy.runtime.snapshots import BridgeSnapshot
from devproxy.runtime.ws_target import TargetLeg, open_target, rejected
from devproxy.runtime.ws_close import (
    AwaitClose,
    CloseState,
    Command,
    DropDown,
    HoldDown,
    HoldUp,
    PassDown,
    PassUp,
    WriteDown,
    WriteUp,
)
from devproxy.runtime.wsframes import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    Control,
    FrameError,
    FrameTracker,
    close_payload,
    encode_frame,
)

#: keepalive on the tunnel leg: a ping after this long without a byte from the target, and the
#: path counts as dead when the next tick still has heard nothing. VS Code pings the browser leg.
PING_INTERVAL = 20.0
#: how long a closing handshake (or SIGTERM's) may take before both connections are dropped.
CLOSE_TIMEOUT = 5.0
#: the payload of devproxy's own pings; their pongs are consumed, never passed on.
PING_TOKEN = b"devproxy" + os.urandom(4)

class Bridge:
    """One relayed WebSocket: both legs, frame trackers each way, counters for logs and status.

    Who closed it and with which code is decided by its `CloseState` (ws_close.py); the bridge
    carries out the commands it returns.
    """

    # slots: a thousand idle WebSockets should cost little more than their sockets
    __slots__ = (
        "path", "opened_at", "loop", "browser_transport", "browser_protocol", "_writer", "target", "up", "down",
        "done", "close", "_pending_up", "_pending_down", "_draining", "_drain_task", "_heard", "_ping_sent",
        "_timer", "_close_timer", "__weakref__",
    )

    def __init__(self, path: str, request: web.Request, target: TargetLeg) -> None:
        self.path = path
        self.opened_at = time.time()
        self.loop = asyncio.get_running_loop()
        self.browser_transport = request.transport
        self.browser_protocol = request.protocol
        self._writer = request.writer
        self.target = target
        self.up = FrameTracker(masked=True)  # browser -> target
        self.down = FrameTracker(masked=False)  # target -> browser
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.close = CloseState()
        #: close frames held until the stream they go into reaches a frame boundary.
        self._pending_up: list[bytes] = []
        self._pending_down: list[bytes] = []
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None
        self._heard = self.loop.time()
        self._ping_sent: float | None = None
        self._timer: asyncio.TimerHandle | None = self.loop.call_later(PING_INTERVAL, self._tick)
        self._close_timer: asyncio.TimerHandle | None = None

    # -- status and counters -------------------------------------------------------------------

    @property
    def bytes_in(self) -> int:
        return self.up.payload_bytes

    @property
    def bytes_out(self) -> int:
        return self.down.payload_bytes

    def snapshot(self) -> BridgeSnapshot:
        return BridgeSnapshot(path=self.path, opened_at=self.opened_at, bytes_in=self.bytes_in, bytes_out=self.bytes_out)

    # -- browser -> target (fed by aiohttp's server protocol, like its own WebSocket reader) ---

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self.done.done():
            return False, b""
        target = self.target.transport
        assert target is not None
        for seg in self.up.feed(data):
            if self.close.sent_up:
                break
            if isinstance(seg, bytes):
                target.write(seg)
            elif isinstance(seg, Control):
                self._from_browser_control(seg)
            else:
                self._protocol_error("browser", seg)
                return False, b""
        if self._pending_up and self.up.at_boundary:
            self._flush_up()
        return False, b""

    def feed_eof(self) -> None:
        """The browser's TCP connection is gone."""
        if self.done.done():
            return
        self._run(self.close.browser_gone(up_at_boundary=self.up.at_boundary))

    def _from_browser_control(self, frame: Control) -> None:
        if frame.opcode == OP_CLOSE:
            self._run(self.close.browser_closed(frame.close_code()), frame.raw)
            return
        self._write_up(frame.raw)

    # -- target -> browser ------------------------------------------------------------------------

    def from_target(self, data: bytes) -> None:
        if self.done.done():
            return
        self._heard = self.loop.time()
        for seg in self.down.feed(data):
            if self.close.sent_down:
                break
            if isinstance(seg, bytes):
                self._write_down(seg)
            elif isinstance(seg, Control):
                self._from_target_control(seg)
            else:
                self._protocol_error("target", seg)
                return
        if self._pending_down and self.down.at_boundary:
            self._flush_down()

    def _from_target_control(self, frame: Control) -> None:
        if frame.opcode == OP_PONG and frame.payload == PING_TOKEN:
            return  # the answer to devproxy's own ping
        if frame.opcode == OP_CLOSE:
            self._run(self.close.target_closed(frame.close_code(), frame.close_reason()), frame.raw)
            return
        self._write_down(frame.raw)

    def target_lost(self) -> None:
        """The tunnel connection is gone: 1011 (or the browser's own code echoed) if between frames."""
        if self.done.done():
            return
        self._run(self.close.target_gone(down_at_boundary=self.down.at_boundary))

    # -- carrying out close commands -------------------------------------------------------------

    def _run(self, commands: list[Command], received: bytes = b"") -> None:
        """Do what the close state decided; `received` is the close frame that caused it, if any."""
        for command in commands:
            if isinstance(command, PassUp):
                self._put_up(received)
            elif isinstance(command, PassDown):
                self._write_down(received)
            elif isinstance(command, WriteUp):
                self._put_up(encode_frame(OP_CLOSE, close_payload(command.code, command.reason), os.urandom(4)))
            elif isinstance(command, HoldUp):
                self._pending_up.append(
                    encode_frame(OP_CLOSE, close_payload(command.code, command.reason), os.urandom(4)))
            elif isinstance(command, WriteDown):
                self._write_down(encode_frame(OP_CLOSE, close_payload(command.code, command.reason), None))
            elif isinstance(command, HoldDown):
                self._pending_down.append(close_payload(command.code, command.reason))
            elif isinstance(command, DropDown):
                if self.browser_transport is not None:
                    self.browser_transport.abort()
            elif isinstance(command, AwaitClose):
                if self._close_timer is None:
                    self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self._finish)
            else:
                self._finish()

    # -- writing, with backpressure ----------------------------------------------------------

    def _write_up(self, data: bytes) -> None:
        if not self.close.sent_up:
            self._put_up(data)

    def _put_up(self, data: bytes) -> None:
        if self.target.transport is not None:
            self.target.transport.write(data)

    def _write_down(self, data: bytes) -> None:
        transport = self.browser_transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if self.browser_protocol.writing_paused and not self._draining and self.target.transport is not None:
            self._draining = True
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
            if not self.done.done() and self.target.transport is not None:
                self.target.transport.resume_reading()

    def _flush_up(self) -> None:
        for frame in self._pending_up:
            self._write_up(frame)  # not after a close frame the browser sent meanwhile
        self._pending_up.clear()
        self.close.held_up_written()

    def _flush_down(self) -> None:
        for payload in self._pending_down:
            self._write_down(encode_frame(OP_CLOSE, payload, None))
        self._pending_down.clear()
        self.close.held_down_written()

    # -- ending ----------------------------------------------------------------------------------

    def _protocol_error(self, side: str, exc: FrameError) -> None:
        """A side broke the framing: it gets 1002 (or 1011 for the browser when the target did it)."""
        self._run(self.close.broke_framing(side, exc.code, exc.reason, down_at_boundary=self.down.at_boundary,
                                           up_at_boundary=self.up.at_boundary))

    def _tick(self) -> None:
        """Ping the target on an idle tunnel; a ping unanswered for a whole interval means a dead path."""
        self._timer = None
        if self.done.done():
            return
        now = self.loop.time()
        if self._draining:  # the target is not being read: silence proves nothing
            self._ping_sent = None
        elif self._ping_sent is not None and self._heard <= self._ping_sent:
            self._run(self.close.pings_unanswered(down_at_boundary=self.down.at_boundary))
            return
        elif now - self._heard >= PING_INTERVAL * 0.9 and self.up.at_boundary and not self.close.sent_up:
            self._write_up(encode_frame(OP_PING, PING_TOKEN, os.urandom(4)))
            self._ping_sent = now
        else:
            self._ping_sent = None
        self._timer = self.loop.call_later(PING_INTERVAL, self._tick)

    async def shut(self, code: int, reason: str) -> None:
        """Close both sides from the proxy (1001 on SIGTERM, so VS Code reconnects at once)."""
        if self.done.done():
            return
        self._run(self.close.shutdown(code, reason, down_at_boundary=self.down.at_boundary,
                                      up_at_boundary=self.up.at_boundary))
        try:
            await asyncio.wait_for(asyncio.shield(self.done), CLOSE_TIMEOUT)
        except TimeoutError:
            self._finish()

    def _finish(self) -> None:
        """Both connections closed (buffered bytes still go out first); the handler may return."""
        if self.done.done():
            return
        for timer in (self._timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._close_timer = None
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
    bridge = Bridge(request.path, request, leg)
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
    proxy.log.info(
        events.WS_CLOSED,
        f"WebSocket {bridge.path} closed by {bridge.close.closed_by or 'unknown'}",
        path=bridge.path,
        duration_s=round(time.perf_counter() - started, 3),
        bytes_in=bridge.bytes_in,
        bytes_out=bridge.bytes_out,
        messages_in=bridge.up.messages,
        messages_out=bridge.down.messages,
        close_code=bridge.close.close_code,
        upstream_close_code=bridge.close.upstream_code,
        close_reason=bridge.close.upstream_reason or None,
        closed_by=bridge.close.closed_by,
        protocol_error=bridge.close.protocol_error,
    )
