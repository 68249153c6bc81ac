"""The close state machine of a relayed WebSocket, as a playbook: events in, close commands out."""

from __future__ import annotations

from collections.abc import Callable

import pytest

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

Step = Callable[[CloseState], list[Command]]
AWAY = "browser went away"
LOST = "the target or the tailnet path to it closed the connection"
PINGS = "the target stopped answering pings (tailnet path lost?)"


def browser_closes(code: int | None) -> Step:
    return lambda s: s.browser_closed(code)


def target_closes(code: int | None, reason: str = "") -> Step:
    return lambda s: s.target_closed(code, reason)


def browser_gone(up: bool = True) -> Step:
    return lambda s: s.browser_gone(up_at_boundary=up)


def target_gone(down: bool = True) -> Step:
    return lambda s: s.target_gone(down_at_boundary=down)


def shutdown(down: bool = True, up: bool = True) -> Step:
    return lambda s: s.shutdown(1001, "devproxy is restarting", down_at_boundary=down, up_at_boundary=up)


def broke(side: str, down: bool = True, up: bool = True) -> Step:
    return lambda s: s.broke_framing(side, 1002, "unmasked frame", down_at_boundary=down, up_at_boundary=up)


def pings(down: bool = True) -> Step:
    return lambda s: s.pings_unanswered(down_at_boundary=down)


# (case, steps, commands of the last step, closed_by, close code of the browser's side)
CASES: list[tuple[str, list[Step], list[Command], str, int | None]] = [
    ("browser closes first: passed on, wait for the target", [browser_closes(1000)],
     [PassUp(), AwaitClose()], "browser", 1000),
    ("the target answers the browser's close: done", [browser_closes(1000), target_closes(1000)],
     [PassDown(), Finish()], "browser", 1000),
    ("browser's 4001 reaches the target unchanged", [browser_closes(4001)], [PassUp(), AwaitClose()], "browser", 4001),
    ("browser close without a code reads as 1005", [browser_closes(None)], [PassUp(), AwaitClose()], "browser", 1005),
    ("target closes first: passed on, wait for the browser", [target_closes(4000, "bye")],
     [PassDown(), AwaitClose()], "upstream", 4000),
    ("the browser answers the target's close: its answer goes on, done", [target_closes(1000), browser_closes(1000)],
     [PassUp(), Finish()], "upstream", 1000),
    ("browser's TCP gone between frames: 1001 to the target", [browser_gone()],
     [WriteUp(1001, AWAY), Finish()], "browser", None),
    ("browser's TCP gone mid-frame: nothing can be written up", [browser_gone(up=False)], [Finish()], "browser", None),
    ("tunnel lost between frames: 1011 to the browser", [target_gone()],
     [WriteDown(1011, LOST), Finish()], "upstream", 1011),
    ("tunnel lost mid-frame: the browser's TCP is dropped", [target_gone(down=False)],
     [DropDown(), Finish()], "upstream", None),
    ("tunnel lost while the browser was closing: its own code comes back", [browser_closes(4002), target_gone()],
     [WriteDown(4002, ""), Finish()], "browser", 4002),
    ("after the target's close, losing it writes nothing more", [target_closes(1000), target_gone()],
     [Finish()], "upstream", 1000),
    ("SIGTERM between frames: 1001 both ways, then the answers", [shutdown()],
     [WriteDown(1001, "devproxy is restarting"), WriteUp(1001, "devproxy is restarting")], "proxy", 1001),
    ("SIGTERM mid-frame both ways: both closes held for the boundary", [shutdown(down=False, up=False)],
     [HoldDown(1001, "devproxy is restarting"), HoldUp(1001, "devproxy is restarting")], "proxy", None),
    ("SIGTERM after the browser closed: only the browser hears 1001", [browser_closes(1000), shutdown()],
     [WriteDown(1001, "devproxy is restarting")], "browser", 1000),
    ("the browser breaks framing: 1002 to it, 1001 to the target", [broke("browser")],
     [WriteDown(1002, "unmasked frame"), WriteUp(1001, AWAY), Finish()], "proxy", 1002),
    ("the target breaks framing: 1011 to the browser, 1002 to the target", [broke("target")],
     [WriteDown(1011, "the target broke the WebSocket protocol: unmasked frame"), WriteUp(1002, "unmasked frame"),
      Finish()], "proxy", 1011),
    ("the target breaks framing mid-frame both ways: the browser is dropped", [broke("target", down=False, up=False)],
     [DropDown(), Finish()], "proxy", None),
    ("pings unanswered: 1011 with the reason", [pings()], [WriteDown(1011, PINGS), Finish()], "upstream", 1011),
    ("the first to close is remembered", [target_closes(1000), shutdown()],
     [WriteUp(1001, "devproxy is restarting")], "upstream", 1000),
    ("SIGTERM then the target's own close: the browser, already sent 1001, gets no second close",
     [shutdown(), target_closes(4000)], [AwaitClose()], "proxy", 1001),
    ("SIGTERM mid-frame then the target's close: only the held 1001 will reach the browser",
     [shutdown(down=False), target_closes(4000)], [AwaitClose()], "proxy", None),
    ("a framing error after devproxy's closes writes no second close either way",
     [shutdown(), broke("target")], [Finish()], "proxy", 1001),
    ("a second shutdown (the maximum age, then SIGTERM) writes nothing new", [shutdown(), shutdown()],
     [], "proxy", 1001),
]


@pytest.mark.parametrize(("case", "steps", "commands", "closed_by", "close_code"), CASES, ids=[c[0] for c in CASES])
def test_close_playbook(case: str, steps: list[Step], commands: list[Command], closed_by: str,
                        close_code: int | None) -> None:
    """Each sequence of events gives these close commands, this closer and this code for the browser's side."""
    state = CloseState()
    out: list[Command] = []
    for step in steps:
        out = step(state)
    assert out == commands
    assert state.closed_by == closed_by
    assert state.close_code == close_code


def test_a_held_close_counts_once_written() -> None:
    """A close held for a frame boundary counts as sent only once the bridge writes it."""
    state = CloseState()
    state.shutdown(1001, "bye", down_at_boundary=False, up_at_boundary=False)
    assert not state.sent_down and not state.sent_up
    state.held_down_written()
    state.held_up_written()
    assert state.sent_down and state.sent_up and state.close_code == 1001 and state.shutdown_code == 1001


def test_protocol_error_is_recorded_with_its_side() -> None:
    """Which side broke the framing, and how, is kept for the ws.closed line."""
    state = CloseState()
    state.broke_framing("target", 1002, "reserved bits set", down_at_boundary=True, up_at_boundary=True)
    assert state.protocol_error == "target: reserved bits set"
