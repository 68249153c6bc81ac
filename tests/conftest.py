"""Suite-wide fixtures: no proxy settings from the environment, asyncio debug that fails slow callbacks."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

PROXY_VARS = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "WS_PROXY", "WSS_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy", "wss_proxy",
)
# Every event loop the tests create runs in asyncio debug mode, whose slow-callback
# threshold is 100 ms (DESIGN rule 1); asyncio reads this at each loop creation.
os.environ["PYTHONASYNCIODEBUG"] = "1"

#: a callback that holds the loop longer than this fails the test (DESIGN rule 1).
SLOW_CALLBACK_SECONDS = 0.1


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proxy variables in the environment must never change what the code under test does."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


class _SlowCallbacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Executing") and " took " in message:
            self.records.append(message)


@pytest.fixture(autouse=True)
def _fail_on_slow_callbacks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run every event loop in debug mode and fail the test if a callback blocked it > 100 ms."""
    if request.node.get_closest_marker("allow_slow_callbacks"):
        yield
        return
    handler = _SlowCallbacks()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)
    if handler.records:
        pytest.fail("event loop blocked: " + "; ".join(handler.records[:3]), pytrace=False)
