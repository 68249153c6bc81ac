"""WebSocket frame boundaries in one direction of a relayed byte stream. Pure (sans-I/O).

The relay forwards frames byte for byte: payloads are never unmasked, decoded or joined. This
module reads only the 2 to 14 byte header of each frame (RFC 6455 §5.2) so that the relay knows
where frames start and end (control frames may be injected only there), counts messages and
payload bytes, and hands over control frames whole (at most 125 payload bytes), so that a close
frame can be read and a pong to devproxy's own ping consumed. A close frame whose payload is a single
byte (no room for its status code, RFC 6455 §5.5.1) is a framing error like an oversized control frame. `feed` returns what to do with the
bytes: runs to forward verbatim and parsed control frames, in stream order.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

#: RFC 6455 §5.5: control frames carry at most 125 payload bytes and are never fragmented.
MAX_CONTROL_PAYLOAD = 125
PROTOCOL_ERROR = 1002
MESSAGE_TOO_BIG = 1009


class FrameError(Exception):
    """The stream broke RFC 6455 framing here: the connection must be failed with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Control:
    """A whole control frame: its opcode, its payload (unmasked) and its bytes as received."""

    opcode: int
    payload: bytes
    raw: bytes

    def close_code(self) -> int | None:
        """The status code of a close frame; None for an empty close (1005, "no status")."""
        if len(self.payload) < 2:
            return None
        return int.from_bytes(self.payload[:2], "big")

    def close_reason(self) -> str:
        return self.payload[2:].decode("utf-8", "replace")


#: what `feed` hands out: bytes to forward as they are, a whole control frame, or the framing error
#: that ends the stream (always last; everything before it is framed correctly).
Segment = bytes | Control | FrameError


def unmask(payload: bytes, key: bytes) -> bytes:
    """XOR a (small) payload with a 4-byte masking key (masking and unmasking are the same)."""
    if not payload:
        return payload
    n = len(payload)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


def encode_frame(opcode: int, payload: bytes, mask_key: bytes | None) -> bytes:
    """One final frame (for devproxy's own close and ping frames); masked when `mask_key` is given."""
    n = len(payload)
    first = 0x80 | opcode
    mask_bit = 0x80 if mask_key is not None else 0
    if n < 126:
        head = struct.pack("!BB", first, mask_bit | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, n)
    if mask_key is None:
        return head + payload
    return head + mask_key + unmask(payload, mask_key)


def close_payload(code: int | None, reason: str = "") -> bytes:
    """A close frame's payload: empty for "no status", else the code and a reason of ≤ 123 bytes."""
    if code is None:
        return b""
    data = reason.encode("utf-8")[:123]
    return code.to_bytes(2, "big") + data.decode("utf-8", "ignore").encode("utf-8")


class FrameTracker:
    """Frame boundaries of one direction; `masked` says whether its frames must be masked (browser's)."""

    __slots__ = ("masked", "messages", "payload_bytes", "failed", "_remaining", "_held")

    def __init__(self, *, masked: bool) -> None:
        self.masked = masked
        #: data messages completed (a final text, binary or continuation frame ends one).
        self.messages = 0
        #: data payload bytes seen (as on the wire: compressed when the ends negotiated it).
        self.payload_bytes = 0
        #: the framing error that ended this stream; nothing is tracked after it.
        self.failed: FrameError | None = None
        self._remaining = 0  # payload bytes of the current data frame still to come
        self._held = b""  # an incomplete header or control frame, until the rest arrives

    @property
    def at_boundary(self) -> bool:
        """True between frames: a control frame may be injected here."""
        return self._remaining == 0 and not self._held

    def feed(self, data: bytes) -> list[Segment]:
        """Track `data`; the runs to forward and the control frames in it, in order."""
        if self.failed is not None:
            return []
        if self._held:
            data = self._held + data
            self._held = b""
        out: list[Segment] = []
        n = len(data)
        pos = 0
        run = 0  # start of the run of bytes not yet handed out
        error: FrameError | None = None
        while pos < n:
            if self._remaining:
                take = min(self._remaining, n - pos)
                self._remaining -= take
                pos += take
                continue
            if n - pos < 2:
                break
            b0 = data[pos]
            b1 = data[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                head = 4
                if n - pos < head:
                    break
                length = int.from_bytes(data[pos + 2:pos + 4], "big")
            elif length == 127:
                head = 10
                if n - pos < head:
                    break
                length = int.from_bytes(data[pos + 2:pos + 10], "big")
                if length >> 63:
                    error = FrameError(PROTOCOL_ERROR, "frame length with the most significant bit set")
                    break
            has_mask = bool(b1 & 0x80)
            if has_mask != self.masked:
                error = FrameError(
                    PROTOCOL_ERROR, "unmasked frame from the client" if self.masked else "masked frame from the server"
                )
                break
            if has_mask:
                head += 4
            if n - pos < head:
                break
            opcode = b0 & 0x0F
            if opcode >= 8:
                if not b0 & 0x80 or length > MAX_CONTROL_PAYLOAD:
                    error = FrameError(PROTOCOL_ERROR, "fragmented or oversized control frame")
                    break
                if opcode == OP_CLOSE and length == 1:  # §5.5.1: empty, or a 2-byte code first
                    error = FrameError(PROTOCOL_ERROR, "close frame with a 1-byte payload")
                    break
                end = pos + head + length
                if end > n:
                    break
                payload = data[pos + head:end]
                if has_mask:
                    payload = unmask(payload, data[pos + head - 4:pos + head])
                if run < pos:
                    out.append(data[run:pos])
                out.append(Control(opcode, payload, data[pos:end]))
                pos = run = end
                continue
            if b0 & 0x80:
                self.messages += 1
            self.payload_bytes += length
            self._remaining = length
            pos += head
        if pos < n and error is None:  # an incomplete header or control frame: hold it back, it is small
            self._held = data[pos:]
        if run < pos:
            out.append(data if run == 0 and pos == n else data[run:pos])
        if error is not None:
            self.failed = error
            out.append(error)
        return out
