"""One relayed WebSocket as a sans-I/O core: bytes and time go in; bytes for each side and actions come out.

The core owns everything the relay knows once the upgrade is through: the frame trackers of both
directions (`wsframes`), the close state (`ws_close`), close frames held until a frame boundary,
devproxy's ping clock toward the target and the relay's maximum age. It never touches a socket or
a clock: the bridge (ws_bridge.Bridge) feeds it what arrived and the time, writes out `to_target`
and `to_browser`, carries out `actions`, and calls `tick` at `deadline`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from devproxy.runtime import closecodes
from devproxy.runtime.ws_close import (
    AwaitClose,
    CloseState,
    Command,
    DropDown,
    Finish,
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

#: the reason both sides read when a relay reaches its maximum age (before Cloud Run's 60-minute cut).
MAX_AGE_REASON = "devproxy closes WebSockets before the hosting platform's request limit; reconnect"
#: a deadline this close counts as reached (timers may fire a hair early).
_EARLY = 0.001


@dataclass(frozen=True, slots=True)
class DropBrowser:
    """Drop the browser's TCP connection now (mid-frame no close frame can be written)."""


@dataclass(frozen=True, slots=True)
class CloseBoth:
    """Close both connections once what was written has gone out; the relay is over."""


Action = DropBrowser | CloseBoth


def random_mask() -> bytes:
    """A fresh masking key for a frame devproxy sends toward the target (RFC 6455 §5.3)."""
    return os.urandom(4)


class RelayCore:
    """The protocol state of one relayed WebSocket; each input leaves its outputs in the three lists."""

    __slots__ = (
        "up", "down", "close", "to_target", "to_browser", "actions", "deadline", "ended",
        "_ping_interval", "_close_timeout", "_ping_token", "_mask", "_held_up", "_held_down", "_browser_dropped",
        "_now", "_heard", "_ping_sent", "_ping_at", "_close_at", "_expires_at", "_target_paused",
    )

    def __init__(self, *, now: float, ping_interval: float, close_timeout: float, max_age: float | None,
                 ping_token: bytes, mask: Callable[[], bytes] = random_mask) -> None:
        self.up = FrameTracker(masked=True)  # browser -> target
        self.down = FrameTracker(masked=False)  # target -> browser
        self.close = CloseState()
        #: bytes to write to the target's and the browser's connection, in order.
        self.to_target: list[bytes] = []
        self.to_browser: list[bytes] = []
        #: what the transport glue must do besides writing, in order.
        self.actions: list[Action] = []
        #: when `tick` must next be called (monotonic seconds, the clock the caller feeds in).
        self.deadline = 0.0
        #: the relay is over: nothing more goes out.
        self.ended = False
        self._ping_interval = ping_interval
        self._close_timeout = close_timeout
        self._ping_token = ping_token
        self._mask = mask
        self._held_up: list[bytes] = []
        self._held_down: list[bytes] = []
        self._browser_dropped = False
        self._now = now  # the time of the latest input
        self._heard = now
        self._ping_sent: float | None = None
        self._ping_at = now + ping_interval
        self._close_at: float | None = None
        self._expires_at = now + max_age if max_age is not None else None
        self._target_paused = False
        self._set_deadline()

    # -- inputs ------------------------------------------------------------------------------------

    def from_browser(self, data: bytes, now: float) -> None:
        """Bytes from the browser's connection, arrived at `now`."""
        if self.ended:
            return
        self._now = now
        for seg in self.up.feed(data):
            if isinstance(seg, bytes):  # the hot path: a run of frame bytes
                if not self.close.sent_up:
                    self.to_target.append(seg)
                continue
            if isinstance(seg, Control):
                if self._held_up:
                    self._flush_up()
                self._browser_control(seg)
                if self.ended:
                    return
            else:
                self._broke("browser", seg)
                return
        if self._held_up and self.up.at_boundary:
            self._flush_up()

    def from_target(self, data: bytes, now: float) -> None:
        """Bytes from the target's connection, arrived at `now`."""
        if self.ended:
            return
        self._now = self._heard = now
        for seg in self.down.feed(data):
            if isinstance(seg, bytes):
                if not self.close.sent_down and not self._browser_dropped:
                    self.to_browser.append(seg)
                continue
            if isinstance(seg, Control):
                if self._held_down:
                    self._flush_down()
                self._target_control(seg)
                if self.ended:
                    return
            else:
                self._broke("target", seg)
                return
        if self._held_down and self.down.at_boundary:
            self._flush_down()

    def browser_gone(self) -> None:
        """The browser's TCP connection ended."""
        if not self.ended:
            self._run(self.close.browser_gone(up_at_boundary=self.up.at_boundary))

    def target_gone(self) -> None:
        """The target's (tunnel) connection ended."""
        if not self.ended:
            self._run(self.close.target_gone(down_at_boundary=self.down.at_boundary))

    def shutdown(self, code: int, reason: str, now: float, why: str = "shutdown") -> None:
        """devproxy closes both sides (1001 on SIGTERM); both connections end by `now` + the close timeout."""
        if self.ended:
            return
        self._now = now
        self._run(self.close.shutdown(code, reason, down_at_boundary=self.down.at_boundary,
                                      up_at_boundary=self.up.at_boundary, why=why))
        self._run([AwaitClose()])

    def target_paused(self, paused: bool) -> None:
        """Whether the target is not being read (the browser's side is full): its silence proves nothing."""
        self._target_paused = paused

    def tick(self, now: float) -> None:
        """Time passed: the close timeout, the maximum age and the ping clock, whichever is due."""
        if self.ended:
            return
        self._now = now
        due = now + _EARLY
        if self._close_at is not None and due >= self._close_at:
            self._run([Finish()])
            return
        if self._expires_at is not None and due >= self._expires_at:
            self._expires_at = None
            self.shutdown(closecodes.GOING_AWAY, MAX_AGE_REASON, now, why="max_age")
            if self.ended:
                return
        if due >= self._ping_at:
            self._ping(now)
        self._set_deadline()

    # -- the frames each side sent -------------------------------------------------------------------

    def _browser_control(self, frame: Control) -> None:
        if frame.opcode == OP_CLOSE:
            self._run(self.close.browser_closed(frame.close_code()), frame.raw)
        elif not self.close.sent_up:
            self.to_target.append(frame.raw)

    def _target_control(self, frame: Control) -> None:
        if frame.opcode == OP_PONG and frame.payload == self._ping_token:
            return  # the answer to devproxy's own ping
        if frame.opcode == OP_CLOSE:
            self._run(self.close.target_closed(frame.close_code(), frame.close_reason()), frame.raw)
        elif not self.close.sent_down:
            self._down(frame.raw)

    def _broke(self, side: str, exc: FrameError) -> None:
        """A side broke the framing: it gets 1002 (or 1011 for the browser when the target did it)."""
        self._run(self.close.broke_framing(side, exc.code, exc.reason, down_at_boundary=self.down.at_boundary,
                                           up_at_boundary=self.up.at_boundary))

    def _ping(self, now: float) -> None:
        """Ping the target on an idle tunnel; a ping unanswered for a whole interval means a dead path."""
        self._ping_at = now + self._ping_interval
        if self._target_paused:
            self._ping_sent = None
        elif self._ping_sent is not None and self._heard <= self._ping_sent:
            self._run(self.close.pings_unanswered(down_at_boundary=self.down.at_boundary))
        elif (now - self._heard >= self._ping_interval * 0.9 and self.up.at_boundary
              and not (self.close.sent_up or self.close.held_up)):
            self.to_target.append(encode_frame(OP_PING, self._ping_token, self._mask()))
            self._ping_sent = now
        else:
            self._ping_sent = None

    # -- close commands ------------------------------------------------------------------------------

    def _run(self, commands: list[Command], received: bytes = b"") -> None:
        """Carry out what the close state decided; `received` is the close frame that caused it, if any."""
        for command in commands:
            if isinstance(command, PassUp):
                self.to_target.append(received)
            elif isinstance(command, PassDown):
                self._down(received)
            elif isinstance(command, WriteUp):
                self.to_target.append(self._close_frame_up(command.code, command.reason))
            elif isinstance(command, HoldUp):
                self._held_up.append(self._close_frame_up(command.code, command.reason))
            elif isinstance(command, WriteDown):
                self._down(encode_frame(OP_CLOSE, close_payload(command.code, command.reason), None))
            elif isinstance(command, HoldDown):
                self._held_down.append(encode_frame(OP_CLOSE, close_payload(command.code, command.reason), None))
            elif isinstance(command, DropDown):
                self._browser_dropped = True
                self.actions.append(DropBrowser())
            elif isinstance(command, AwaitClose):
                if self._close_at is None and not self.ended:
                    self._close_at = self._now + self._close_timeout
                    self._set_deadline()
            else:
                self.ended = True
                self.actions.append(CloseBoth())

    def _close_frame_up(self, code: int, reason: str) -> bytes:
        return encode_frame(OP_CLOSE, close_payload(code, reason), self._mask())

    def _down(self, data: bytes) -> None:
        if not self._browser_dropped:
            self.to_browser.append(data)

    def _flush_up(self) -> None:
        if not self.close.sent_up:  # not after a close frame the browser sent meanwhile
            self.to_target.extend(self._held_up)
        self._held_up.clear()
        self.close.held_up_written()

    def _flush_down(self) -> None:
        self._held_down, held = [], self._held_down
        for frame in held:
            self._down(frame)
        self.close.held_down_written()

    def _set_deadline(self) -> None:
        self.deadline = min(t for t in (self._ping_at, self._close_at, self._expires_at) if t is not None)
