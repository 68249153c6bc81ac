"""The bytes of an HTTP/1.1 exchange with the target that both of its clients share.

The request head as given (order, repeats and raw target kept, control characters refused), which
the HTTP client (upstream_http) and the WebSocket upgrade (ws_target) both write, and the httptools
callbacks that collect the reason phrase and headers of the answer to an upgrade.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: control characters that must never reach a header (injection).
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def request_head(method: str, target: str, headers: Sequence[tuple[str, str]]) -> bytes:
    """The request line and headers as given (order, repeats, raw target), as UTF-8.

    Raises: ValueError for a control character in the line or a header (header injection).
    """
    line = f"{method} {target} HTTP/1.1"
    if _FORBIDDEN.search(line) is not None:
        raise ValueError("control character in the request line")
    lines = [line, "\r\n"]
    for name, value in headers:
        if _FORBIDDEN.search(name) is not None or _FORBIDDEN.search(value) is not None:
            raise ValueError(f"control character in the request header {name!r}")
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


class AnswerHead:
    """httptools callbacks that collect an answer's reason phrase and headers (the WebSocket upgrade's)."""

    __slots__ = ()
    reason: bytearray
    headers: list[tuple[bytes, bytes]]

    def on_status(self, status: bytes) -> None:
        self.reason.extend(status)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
