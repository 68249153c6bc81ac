"""The workbench survives devproxy and SOCKS restarts: clean 1001 closes on SIGTERM, then reconnection.

This module dials microsocks on ::1 (the other loopback family) and owns it, so it can restart it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser

from e2e_services import (
    KNOWN_FILE,
    CodeServer,
    Devproxy,
    Microsocks,
    restart_devproxy,
    start_devproxy,
    start_microsocks,
)
from e2e_workbench import PUBLIC_HOST, Workbench, open_context_page

pytestmark = pytest.mark.e2e

GOING_AWAY = 1001
INTERNAL_ERROR = 1011


@dataclass
class Stack:
    """The processes behind the page; the tests replace them as they restart them."""

    socks: Microsocks
    proxy: Devproxy


@pytest.fixture(scope="module")
def stack(code_server: CodeServer) -> Iterator[Stack]:
    socks = start_microsocks("::1", "microsocks-ipv6")
    stack = Stack(socks, start_devproxy("devproxy-reconnect", code_server.target, socks.url))
    try:
        yield stack
    finally:
        stack.proxy.stop()
        stack.socks.stop()


@pytest.fixture(scope="module")
def workbench(browser: Browser, stack: Stack, code_server: CodeServer) -> Iterator[Workbench]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    bench = open_context_page(context, "reconnect")
    try:
        bench.goto(f"{stack.proxy.url(PUBLIC_HOST)}/?folder={code_server.workspace}")
        bench.wait_explorer_lists(KNOWN_FILE)
        bench.open_terminal()
        bench.terminal_round_trip()
        yield bench
    finally:
        bench.close()


def test_sigterm_closes_sockets_with_1001_and_workbench_reconnects(workbench: Workbench, stack: Stack) -> None:
    """SIGTERM to devproxy closes the workbench's sockets with 1001; after a restart VS Code reconnects."""
    open_ids = workbench.open_socket_ids()
    assert open_ids, f"no open WebSocket before SIGTERM: {workbench.recorded_sockets()}"
    seen = len(workbench.sockets)

    stack.proxy.managed.signal_group(signal.SIGTERM)
    code = stack.proxy.managed.wait(timeout=10)
    assert code is not None, "devproxy did not exit within 10 s of SIGTERM"
    closes = workbench.wait_sockets_closed(open_ids, timeout=15)
    assert [c["close"]["code"] for c in closes] == [GOING_AWAY] * len(open_ids), closes
    stack.proxy.stop()  # reaps what is left of the process group
    assert code == 0, f"devproxy exited with {code} after SIGTERM:\n{stack.proxy.managed.tail()}"

    stack.proxy = restart_devproxy(stack.proxy)
    workbench.wait_new_socket_with_frames(after=seen, timeout=90)
    assert workbench.terminal_round_trip("_after_devproxy_restart", timeout=90) == "E2E_42_after_devproxy_restart"
    assert workbench.failure_text() is None


def test_workbench_reconnects_after_socks_server_restart(workbench: Workbench, stack: Stack) -> None:
    """Killing the SOCKS server breaks the tunnels; once it is back, VS Code reconnects on its own."""
    open_ids = workbench.open_socket_ids()
    assert open_ids, f"no open WebSocket before the SOCKS restart: {workbench.recorded_sockets()}"
    seen = len(workbench.sockets)

    stack.socks.managed.stop(signal.SIGKILL)
    closes = workbench.wait_sockets_closed(open_ids, timeout=30)
    # the tunnel broke under devproxy: the browser hears 1011 from devproxy, never a bare 1006
    assert [c["close"]["code"] for c in closes] == [INTERNAL_ERROR] * len(open_ids), closes
    stack.socks = start_microsocks(stack.socks.host, stack.socks.managed.name, port=stack.socks.port)

    workbench.wait_new_socket_with_frames(after=seen, timeout=90)
    assert workbench.terminal_round_trip("_after_socks_restart", timeout=90) == "E2E_42_after_socks_restart"
    assert workbench.failure_text() is None
    assert any(e.get("event") == "ws.closed" for e in stack.proxy.events())
