"""WebSocket close codes across the bridge. Pure.

A code one side received is sent on to the other side unchanged when it may legally be sent
(RFC 6455 §7.4). Codes that only describe a local condition (1005 no status, 1006 abnormal,
1015 TLS) cannot be sent: a peer that vanished becomes 1011 for the browser, never a bare 1006.
"""

from __future__ import annotations

NORMAL = 1000
GOING_AWAY = 1001
INTERNAL_ERROR = 1011
NO_STATUS = 1005
ABNORMAL = 1006
TLS_FAILURE = 1015

#: reasons are limited to 123 bytes of UTF-8 in a close frame.
MAX_REASON_BYTES = 123


def sendable(code: int) -> bool:
    """Whether `code` may appear in a close frame sent on the wire."""
    if 3000 <= code <= 4999:
        return True
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014)


#: the reason the browser reads when the target's side ended without a close frame.
TARGET_LOST = "the target or the tailnet path to it closed the connection"


def relay(code: int | None, reason: str) -> tuple[int, str]:
    """The close (code, reason) to send to one side, given what the other side sent.

    `code` None means no close frame arrived at all (the peer or tunnel died).
    """
    if code is None or code in (ABNORMAL, TLS_FAILURE):
        return INTERNAL_ERROR, reason or TARGET_LOST
    if code == NO_STATUS:
        return NORMAL, reason
    if not sendable(code):
        return INTERNAL_ERROR, reason or f"invalid close code {code}"
    return code, truncate_reason(reason)


def truncate_reason(reason: str) -> str:
    """Cut a reason to what fits a close frame without splitting a UTF-8 sequence."""
    data = reason.encode("utf-8")
    if len(data) <= MAX_REASON_BYTES:
        return reason
    return data[:MAX_REASON_BYTES].decode("utf-8", errors="ignore")
