"""The hourly cut, shortened: devproxy closes each of the workbench's WebSockets with 1001 when it reaches
DEVPROXY_WS_MAX_AGE, and VS Code reconnects on its own, as it must before Cloud Run's 3600 s limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from e2e_services import KNOWN_FILE, CodeServer, Devproxy, Microsocks, start_devproxy
from e2e_workbench import PUBLIC_HOST, Workbench, open_context_page

pytestmark = pytest.mark.e2e

#: short enough for a test, long enough for the workbench to load between two cuts.
MAX_AGE_S = 30
GOING_AWAY = 1001


@pytest.fixture(scope="module")
def proxy(code_server: CodeServer, socks: Microsocks) -> Iterator[Devproxy]:
    proxy = start_devproxy("devproxy-max-age", code_server.target, socks.url,
                           extra_env={"DEVPROXY_WS_MAX_AGE": str(MAX_AGE_S)})
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def workbench(browser: Browser, proxy: Devproxy, code_server: CodeServer) -> Iterator[Workbench]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    bench = open_context_page(context, "max-age")
    try:
        bench.goto(f"{proxy.url(PUBLIC_HOST)}/?folder={code_server.workspace}")
        bench.wait_explorer_lists(KNOWN_FILE)
        bench.open_terminal()
        bench.terminal_round_trip()
        yield bench
    finally:
        bench.close()


def test_workbench_reconnects_after_the_max_age_cut(workbench: Workbench, proxy: Devproxy) -> None:
    """Every open WebSocket gets 1001 at the maximum age; VS Code opens new ones, the terminal still answers,
    no failure dialog appears, and devproxy's ws.closed lines say why (max_age)."""
    open_ids = workbench.open_socket_ids()
    assert open_ids, f"no open WebSocket: {workbench.recorded_sockets()}"
    seen = len(workbench.sockets)

    closes = workbench.wait_sockets_closed(open_ids, timeout=MAX_AGE_S + 15)
    assert [c["close"]["code"] for c in closes] == [GOING_AWAY] * len(open_ids), closes

    workbench.wait_new_socket_with_frames(after=seen, timeout=60)
    assert workbench.terminal_round_trip("_after_max_age", timeout=60) == "E2E_42_after_max_age"
    assert workbench.failure_text() is None
    cut = [e for e in proxy.events() if e.get("event") == "ws.closed" and e.get("why") == "max_age"]
    assert len(cut) >= len(open_ids), proxy.events()[-5:]
    assert {(e["close_code"], e["closed_by"]) for e in cut} == {(GOING_AWAY, "proxy")}
