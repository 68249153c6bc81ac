"""The frame-boundary tracker: event in, segments out (a table per behaviour, no sockets)."""

from __future__ import annotations

import pytest
from websockets.frames import Close, Frame, Opcode

from devproxy.runtime.wsframes import (
    Control,
    FrameError,
    FrameTracker,
    close_payload,
    encode_frame,
    unmask,
)

KEY = b"\x01\x02\x03\x04"


def client_frame(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    """A masked frame exactly as the websockets library writes it for a client."""
    return Frame(opcode, data, fin=fin).serialize(mask=True)


def server_frame(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin=fin).serialize(mask=False)


def feed_all(tracker: FrameTracker, chunks: list[bytes]) -> list[object]:
    out: list[object] = []
    for chunk in chunks:
        out.extend(tracker.feed(chunk))
    return out


def forwarded(segments: list[object]) -> bytes:
    """Every byte the relay would pass on, control frames included, in order."""
    return b"".join(s if isinstance(s, bytes) else s.raw for s in segments if not isinstance(s, FrameError))


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
@pytest.mark.parametrize("masked", [True, False])
def test_every_length_encoding_is_tracked(size: int, masked: bool) -> None:
    """7-bit, 16-bit and 64-bit lengths: one message, its payload counted, the bytes passed on as they are."""
    data = client_frame(Opcode.BINARY, b"x" * size) if masked else server_frame(Opcode.BINARY, b"x" * size)
    tracker = FrameTracker(masked=masked)
    out = tracker.feed(data)
    assert forwarded(out) == data
    assert (tracker.messages, tracker.payload_bytes, tracker.at_boundary) == (1, size, True)


@pytest.mark.parametrize("split", [1, 2, 3, 5, 9, 13, 64])
def test_any_split_of_the_stream_gives_the_same_bytes_and_counts(split: int) -> None:
    """However the stream is cut into reads, the same bytes come out and the same frames are seen."""
    stream = (client_frame(Opcode.TEXT, b"a" * 200) + client_frame(Opcode.PING, b"p")
              + client_frame(Opcode.BINARY, b"b" * 70_000) + client_frame(Opcode.CLOSE, Close(1000, "bye").serialize()))
    tracker = FrameTracker(masked=True)
    out = feed_all(tracker, [stream[i:i + split] for i in range(0, len(stream), split)])
    assert forwarded(out) == stream
    controls = [s for s in out if isinstance(s, Control)]
    assert [c.opcode for c in controls] == [Opcode.PING, Opcode.CLOSE]
    assert controls[0].payload == b"p"
    assert (controls[1].close_code(), controls[1].close_reason()) == (1000, "bye")
    assert (tracker.messages, tracker.payload_bytes) == (2, 70_200)


def test_boundary_is_known_mid_frame() -> None:
    """Half a frame in: not at a boundary (nothing may be injected); the rest completes it."""
    frame = server_frame(Opcode.BINARY, b"z" * 1000)
    tracker = FrameTracker(masked=False)
    tracker.feed(frame[:500])
    assert not tracker.at_boundary
    tracker.feed(frame[500:])
    assert tracker.at_boundary


def test_fragments_count_as_one_message_and_controls_may_come_between() -> None:
    """TEXT(fin=0), PING, CONT(fin=1): one message; the ping is handed over whole."""
    stream = (server_frame(Opcode.TEXT, b"frag-", fin=False) + server_frame(Opcode.PING, b"!")
              + server_frame(Opcode.CONT, b"ment", fin=True))
    tracker = FrameTracker(masked=False)
    out = tracker.feed(stream)
    assert [type(s).__name__ for s in out] == ["bytes", "Control", "bytes"]
    assert (tracker.messages, tracker.payload_bytes) == (1, 9)


def test_empty_close_has_no_status() -> None:
    """An empty close frame is 'no status' (None), not code 0."""
    [control] = FrameTracker(masked=True).feed(client_frame(Opcode.CLOSE, b""))
    assert isinstance(control, Control) and control.close_code() is None


@pytest.mark.parametrize(
    ("masked", "data", "words"),
    [
        (True, server_frame(Opcode.TEXT, b"hi"), "unmasked frame from the client"),
        (False, client_frame(Opcode.TEXT, b"hi"), "masked frame from the server"),
        (False, bytes([0x09, 1]) + b"p", "fragmented or oversized control frame"),  # PING without FIN
        (False, bytes([0x89, 126, 0, 200]) + b"p" * 200, "fragmented or oversized control frame"),
        (False, bytes([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]), "most significant bit"),
    ],
)
def test_framing_violations_end_the_stream_with_1002(masked: bool, data: bytes, words: str) -> None:
    """A broken rule is a FrameError (1002) after the good bytes before it; nothing is tracked after."""
    good = (client_frame if masked else server_frame)(Opcode.TEXT, b"ok")
    tracker = FrameTracker(masked=masked)
    out = tracker.feed(good + data)
    assert out[0] == good
    error = out[-1]
    assert isinstance(error, FrameError) and error.code == 1002 and words in error.reason
    assert tracker.feed(good) == []


@pytest.mark.parametrize(("code", "reason", "payload"), [
    (None, "", b""),
    (1001, "devproxy is restarting", b"\x03\xe9devproxy is restarting"),
    (1011, "é" * 100, b"\x03\xf3" + ("é" * 61).encode()),  # 123 bytes, never half a character
])
def test_close_payload(code: int | None, reason: str, payload: bytes) -> None:
    assert close_payload(code, reason) == payload


@pytest.mark.parametrize("mask_key", [None, KEY])
def test_own_frames_parse_as_the_library_reads_them(mask_key: bytes | None) -> None:
    """devproxy's own close and ping frames are what websockets itself would read (masked toward a server)."""
    from websockets.frames import Frame as WsFrame
    from websockets.streams import StreamReader

    wire = encode_frame(0x8, close_payload(1001, "bye"), mask_key)
    reader = StreamReader()
    reader.feed_data(wire)
    parser = WsFrame.parse(reader.read_exact, mask=mask_key is not None)
    try:
        next(parser)
    except StopIteration as done:
        frame = done.value
    assert frame.opcode is Opcode.CLOSE and Close.parse(frame.data) == Close(1001, "bye")
    assert unmask(unmask(b"hello", KEY), KEY) == b"hello"
