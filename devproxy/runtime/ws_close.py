"""Who closed a relayed WebSocket, and with which code: one pure state machine for both sides.

Events go in (a close frame from either side, a side gone, broken framing, a dead tunnel, a
shutdown), close commands come out; the bridge (ws_bridge.Bridge) does the writing. A close
frame can only be written between frames, so events say whether each direction is at a frame
boundary; mid-frame, the browser's side can only be dropped, and the target's close waits.
"""

from __future__ import annotations

from dataclasses import dataclass

from devproxy.runtime import closecodes

BROWSER_WENT_AWAY = "browser went away"
TARGET_LOST = closecodes.TARGET_LOST
PINGS_UNANSWERED = "the target stopped answering pings (tailnet path lost?)"
#: what ended a relay, as the ws.closed line names it: the first event that started the close.
WHY = ("browser_closed", "target_closed", "browser_gone", "target_gone", "protocol_error", "pings_unanswered",
       "shutdown", "max_age")


@dataclass(frozen=True, slots=True)
class WriteDown:
    """A close frame of devproxy's own to the browser, now."""

    code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class DropDown:
    """Drop the browser's TCP connection (mid-frame, no close frame can be written)."""


@dataclass(frozen=True, slots=True)
class HoldDown:
    """A close frame to the browser at the next frame boundary of the target's stream."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class WriteUp:
    """A close frame of devproxy's own toward the target, now."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class HoldUp:
    """A close frame toward the target at the next frame boundary of the browser's stream."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class PassUp:
    """The browser's close frame on to the target as it came."""


@dataclass(frozen=True, slots=True)
class PassDown:
    """The target's close frame on to the browser as it came."""


@dataclass(frozen=True, slots=True)
class AwaitClose:
    """Wait (bounded) for the other side's close frame."""


@dataclass(frozen=True, slots=True)
class Finish:
    """Close both connections; the relay is over."""


Command = WriteDown | DropDown | HoldDown | WriteUp | HoldUp | PassUp | PassDown | AwaitClose | Finish


class CloseState:
    """The close bookkeeping of one relayed WebSocket; each event returns the commands to carry out."""

    __slots__ = (
        "closed_by", "code_from_browser", "code_to_browser", "upstream_code", "upstream_reason", "shutdown_code",
        "protocol_error", "from_browser", "from_target", "sent_up", "sent_down", "held_up", "held_down", "why",
    )

    def __init__(self) -> None:
        #: "browser", "upstream" or "proxy": whoever ended it first.
        self.closed_by: str | None = None
        self.code_from_browser: int | None = None
        self.code_to_browser: int | None = None
        self.upstream_code: int | None = None
        self.upstream_reason = ""
        self.shutdown_code: int | None = None
        #: which side broke the framing rules, and how.
        self.protocol_error: str | None = None
        self.from_browser = False
        self.from_target = False
        #: a close frame went (or is committed to go) toward the target / the browser.
        self.sent_up = False
        self.sent_down = False
        #: a close frame waits for the next frame boundary toward the target / the browser.
        self.held_up = False
        self.held_down = False
        #: what ended the relay first, for the ws.closed line (one of WHY).
        self.why: str | None = None

    @property
    def close_code(self) -> int | None:
        """The code that ended the browser's side: the one it sent, or the one it was sent."""
        if self.closed_by == "browser" and self.from_browser:
            return self.code_from_browser or closecodes.NO_STATUS
        if self.sent_down:
            return self.code_to_browser or closecodes.NO_STATUS
        return None

    def _by(self, side: str, why: str) -> None:
        if self.closed_by is None:
            self.closed_by = side
        if self.why is None:
            self.why = why

    def _both_or_wait(self) -> list[Command]:
        return [Finish()] if self.from_browser and self.from_target else [AwaitClose()]

    def _close_down(self, code: int | None, reason: str, at_boundary: bool) -> list[Command]:
        if self.sent_down:  # a side that was sent a close never gets a second one
            return []
        if not at_boundary:
            return [DropDown()]
        self.code_to_browser = code
        self.sent_down = True
        return [WriteDown(code, reason)]

    def _close_up(self, code: int, reason: str, at_boundary: bool) -> list[Command]:
        if self.sent_up or self.held_up:
            return []
        if at_boundary:
            self.sent_up = True
            return [WriteUp(code, reason)]
        self.held_up = True
        return [HoldUp(code, reason)]

    # -- events ------------------------------------------------------------------------------

    def browser_closed(self, code: int | None) -> list[Command]:
        """The browser sent a close frame."""
        self.from_browser = True
        self.code_from_browser = code
        self._by("browser", "browser_closed")
        commands: list[Command] = [] if self.sent_up else [PassUp()]
        self.sent_up = True
        return commands + self._both_or_wait()

    def target_closed(self, code: int | None, reason: str) -> list[Command]:
        """The target sent a close frame."""
        self.from_target = True
        self.upstream_code = code
        self.upstream_reason = reason
        self._by("upstream", "target_closed")
        if self.sent_down or self.held_down:  # devproxy's own close went (or goes) first: never a second one
            return self._both_or_wait()
        self.code_to_browser = code
        self.sent_down = True
        return [PassDown(), *self._both_or_wait()]

    def browser_gone(self, *, up_at_boundary: bool) -> list[Command]:
        """The browser's TCP connection ended: 1001 toward the target when between frames."""
        self._by("browser", "browser_gone")
        commands: list[Command] = []
        if up_at_boundary:
            commands = self._close_up(closecodes.GOING_AWAY, BROWSER_WENT_AWAY, True)
        return [*commands, Finish()]

    def target_gone(self, *, down_at_boundary: bool) -> list[Command]:
        """The tunnel connection ended: 1011 for the browser (or its own code echoed if it was closing)."""
        self._by("upstream", "target_gone")
        commands: list[Command] = []
        if not self.sent_down:
            if self.from_browser:  # the target left instead of answering the close
                commands = self._close_down(self.code_from_browser, "", down_at_boundary)
            else:
                commands = self._close_down(closecodes.INTERNAL_ERROR, TARGET_LOST, down_at_boundary)
        return [*commands, Finish()]

    def broke_framing(self, side: str, code: int, reason: str, *, down_at_boundary: bool,
                      up_at_boundary: bool) -> list[Command]:
        """`side` broke the framing rules: it gets `code` (1002); the other side 1001 or 1011."""
        self._by("proxy", "protocol_error")
        self.protocol_error = f"{side}: {reason}"
        if side == "browser":
            commands = self._close_down(code, reason, down_at_boundary)
            up_code, up_reason = closecodes.GOING_AWAY, BROWSER_WENT_AWAY
        else:
            commands = self._close_down(closecodes.INTERNAL_ERROR,
                                        f"the target broke the WebSocket protocol: {reason}", down_at_boundary)
            up_code, up_reason = code, reason
        if up_at_boundary:
            commands += self._close_up(up_code, up_reason, True)
        return [*commands, Finish()]

    def pings_unanswered(self, *, down_at_boundary: bool) -> list[Command]:
        """devproxy's ping to the target went unanswered for a whole interval: the path is dead."""
        self._by("upstream", "pings_unanswered")
        return [*self._close_down(closecodes.INTERNAL_ERROR, PINGS_UNANSWERED, down_at_boundary), Finish()]

    def shutdown(self, code: int, reason: str, *, down_at_boundary: bool, up_at_boundary: bool,
                 why: str = "shutdown") -> list[Command]:
        """devproxy closes both sides (1001 on SIGTERM or at the maximum age); their answers are awaited, bounded."""
        self._by("proxy", why)
        self.shutdown_code = code
        commands: list[Command] = []
        if not self.sent_down and not self.held_down:
            if down_at_boundary:
                commands += self._close_down(code, reason, True)
            else:
                self.code_to_browser = code
                self.held_down = True
                commands.append(HoldDown(code, reason))
        commands += self._close_up(code, reason, up_at_boundary)
        return commands

    def held_up_written(self) -> None:
        """A held close frame went toward the target at a frame boundary."""
        self.sent_up = True
        self.held_up = False

    def held_down_written(self) -> None:
        """A held close frame went to the browser at a frame boundary."""
        self.sent_down = True
        self.held_down = False
