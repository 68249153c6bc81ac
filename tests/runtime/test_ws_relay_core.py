"""The relay core as a playbook: bytes and time in; bytes for each side, actions and the next deadline out."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from devproxy.runtime.ws_relay import MAX_AGE_REASON, Action, CloseBoth, DropBrowser, RelayCore

TOKEN = b"devproxy-test"
PING, CLOSE_AFTER, MAX_AGE = 20.0, 5.0, 100.0
LOST = "the target or the tailnet path to it closed the connection"
PINGS = "the target stopped answering pings (tailnet path lost?)"
AWAY = "browser went away"
BYE = "devproxy is restarting"


def client(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    """A frame as a browser sends it, masked with the all-zero key (so the payload reads as written)."""
    first = (0x80 if fin else 0) | opcode
    if len(payload) < 126:
        return bytes([first, 0x80 | len(payload)]) + b"\0\0\0\0" + payload
    return bytes([first, 0x80 | 126]) + struct.pack("!H", len(payload)) + b"\0\0\0\0" + payload


def server(opcode: int, payload: bytes = b"") -> bytes:
    """A frame as a target sends it (unmasked)."""
    if len(payload) < 126:
        return bytes([0x80 | opcode, len(payload)]) + payload
    return bytes([0x80 | opcode, 126]) + struct.pack("!H", len(payload)) + payload


def close(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


def up_close(code: int, reason: str = "") -> bytes:
    """devproxy's own close toward the target (masked, zero key in these tests)."""
    return client(0x8, close(code, reason))


def down_close(code: int, reason: str = "") -> bytes:
    return server(0x8, close(code, reason))


BIG = server(0x2, b"d" * 200)  # a data frame the tests cut in two
BIG_UP = client(0x2, b"u" * 200)


@dataclass(frozen=True)
class Out:
    """What one step produced: bytes toward the target, bytes toward the browser, actions."""

    up: bytes = b""
    down: bytes = b""
    actions: tuple[Action, ...] = ()


Step = Callable[[RelayCore], None]


def browser(data: bytes, at: float = 0.0) -> Step:
    return lambda core: core.from_browser(data, at)


def target(data: bytes, at: float = 0.0) -> Step:
    return lambda core: core.from_target(data, at)


def tick(at: float) -> Step:
    return lambda core: core.tick(at)


def shutdown(at: float = 0.0) -> Step:
    return lambda core: core.shutdown(1001, BYE, at)


def browser_gone() -> Step:
    return lambda core: core.browser_gone()


def target_gone() -> Step:
    return lambda core: core.target_gone()


def paused() -> Step:
    return lambda core: core.target_paused(True)


def take(core: RelayCore) -> Out:
    out = Out(b"".join(core.to_target), b"".join(core.to_browser), tuple(core.actions))
    core.to_target.clear()
    core.to_browser.clear()
    core.actions.clear()
    return out


def new_core() -> RelayCore:
    return RelayCore(now=0.0, ping_interval=PING, close_timeout=CLOSE_AFTER, max_age=MAX_AGE, ping_token=TOKEN,
                     mask=lambda: b"\0\0\0\0")


# (case, steps, what the last step produced, deadline after it, why the relay ended (None: still open))
CASES: list[tuple[str, list[Step], Out, float | None, str | None]] = [
    ("a browser's data frame goes to the target byte for byte", [browser(client(0x1, b"hi"))],
     Out(up=client(0x1, b"hi")), PING, None),
    ("a target's data frame goes to the browser byte for byte", [target(server(0x2, b"\x00\xff"))],
     Out(down=server(0x2, b"\x00\xff")), PING, None),
    ("a frame in 1-byte pieces comes out as the same bytes", [browser(BIG_UP[i:i + 1]) for i in range(len(BIG_UP))],
     Out(up=BIG_UP[-1:]), PING, None),
    ("the browser's ping goes to the target, its pong back", [browser(client(0x9, b"p")), target(server(0xA, b"p"))],
     Out(down=server(0xA, b"p")), PING, None),
    ("the pong to devproxy's own ping stays with devproxy", [target(server(0xA, TOKEN))], Out(), PING, None),
    ("the browser closes: passed on, the target has the close timeout to answer", [browser(client(0x8, close(1000)), 3)],
     Out(up=client(0x8, close(1000))), 3 + CLOSE_AFTER, None),
    ("the target answers: both connections close", [browser(client(0x8, close(1000))), target(down_close(1000))],
     Out(down=down_close(1000), actions=(CloseBoth(),)), None, "browser_closed"),
    ("no answer within the close timeout: both connections close",
     [browser(client(0x8, close(1000)), 3), tick(3 + CLOSE_AFTER)], Out(actions=(CloseBoth(),)), None,
     "browser_closed"),
    ("data after the browser's close is not relayed", [browser(client(0x8, close(1000))), browser(client(0x1, b"x"))],
     Out(), CLOSE_AFTER, None),
    ("an idle tunnel gets devproxy's ping", [tick(PING)], Out(up=client(0x9, TOKEN)), 2 * PING, None),
    ("a ping unanswered for an interval: 1011 for the browser", [tick(PING), tick(2 * PING)],
     Out(up=b"", down=down_close(1011, PINGS), actions=(CloseBoth(),)), None, "pings_unanswered"),
    ("an answered ping keeps the relay open, pinged again when idle",
     [tick(PING), target(server(0xA, TOKEN), PING + 1), tick(2 * PING)], Out(up=client(0x9, TOKEN)), 3 * PING, None),
    ("while the target is not read its silence proves nothing", [paused(), tick(PING), tick(2 * PING)],
     Out(), 3 * PING, None),
    ("no ping while the browser is mid-frame toward the target", [browser(BIG_UP[:50]), tick(PING)],
     Out(), 2 * PING, None),
    ("the maximum age: 1001 both ways, answers awaited", [tick(MAX_AGE)],
     Out(up=up_close(1001, MAX_AGE_REASON), down=down_close(1001, MAX_AGE_REASON)), MAX_AGE + CLOSE_AFTER, None),
    ("after the maximum age's close both answers end the relay",
     [tick(MAX_AGE), browser(client(0x8, close(1001))), target(down_close(1001))],
     Out(actions=(CloseBoth(),)), None, "max_age"),
    ("the maximum age mid-frame: the browser gets the frame's rest and one close, never the target's",
     [target(BIG[:60]), tick(MAX_AGE), target(BIG[60:] + down_close(4000, "target bye"))],
     Out(down=BIG[60:] + down_close(1001, MAX_AGE_REASON)), MAX_AGE + CLOSE_AFTER, None),
    ("SIGTERM mid-frame from the browser: its close to the target waits for the frame's end",
     [browser(BIG_UP[:60]), shutdown(), browser(BIG_UP[60:])],
     Out(up=BIG_UP[60:] + up_close(1001, BYE)), CLOSE_AFTER, None),
    ("SIGTERM then the target's own close: passed to nobody, the browser already has 1001",
     [shutdown(), target(down_close(1001))], Out(), CLOSE_AFTER, None),
    ("the browser's TCP gone: 1001 to the target, done", [browser_gone()],
     Out(up=up_close(1001, AWAY), actions=(CloseBoth(),)), None, "browser_gone"),
    ("the tunnel lost mid-frame: the browser's TCP is dropped", [target(BIG[:60]), target_gone()],
     Out(actions=(DropBrowser(), CloseBoth())), None, "target_gone"),
    ("the tunnel lost between frames: 1011 with the reason", [target_gone()],
     Out(down=down_close(1011, LOST), actions=(CloseBoth(),)), None, "target_gone"),
    ("a 1-byte close from the browser: 1002 to it, 1001 to the target", [browser(client(0x8, b"\x03"))],
     Out(up=up_close(1001, AWAY), down=down_close(1002, "close frame with a 1-byte payload"),
         actions=(CloseBoth(),)), None, "protocol_error"),
    ("a 1-byte close from the target: 1002 to it, 1011 to the browser", [target(server(0x8, b"\x03"))],
     Out(up=up_close(1002, "close frame with a 1-byte payload"),
         down=down_close(1011, "the target broke the WebSocket protocol: close frame with a 1-byte payload"),
         actions=(CloseBoth(),)), None, "protocol_error"),
    ("nothing comes out once the relay ended", [browser_gone(), target(server(0x1, b"late")), tick(PING)],
     Out(), None, "browser_gone"),
]


@pytest.mark.parametrize(("case", "steps", "out", "deadline", "why"), CASES, ids=[c[0] for c in CASES])
def test_relay_playbook(case: str, steps: list[Step], out: Out, deadline: float | None, why: str | None) -> None:
    """Each sequence of inputs gives these bytes each way, these actions, this deadline and this ending."""
    core = new_core()
    got = Out()
    for step in steps:
        take(core)
        step(core)
        got = take(core)
    assert got == out
    assert core.ended == (deadline is None)
    if deadline is not None:
        assert core.deadline == deadline
    assert core.close.why == why or not core.ended


def test_the_deadline_is_the_maximum_age_when_it_comes_first() -> None:
    """With a maximum age below the ping interval, the first tick is due at the maximum age."""
    core = RelayCore(now=10.0, ping_interval=PING, close_timeout=CLOSE_AFTER, max_age=3.0, ping_token=TOKEN)
    assert core.deadline == 13.0
    core.tick(13.0)
    assert core.close.why == "max_age" and core.deadline == 13.0 + CLOSE_AFTER


def test_no_maximum_age_means_only_the_ping_clock() -> None:
    """max_age None: the relay never ends by age; only pings are scheduled."""
    core = RelayCore(now=0.0, ping_interval=PING, close_timeout=CLOSE_AFTER, max_age=None, ping_token=TOKEN)
    for at in range(1, 50):
        core.tick(at * PING)
        core.target_paused(True)  # keep the ping clock from failing the path
    assert not core.ended and core.close.why is None
