"""VS Code opens through devproxy (auth none) under a public host name and stays connected.

The browser reaches devproxy as http://devproxy.test:<port>/ (Chromium maps the name to 127.0.0.1),
devproxy dials code-server through microsocks, and code-server sees Host 127.0.0.1:<its port>: the
Cloud Run situation, where only devproxy's X-Forwarded-* headers satisfy code-server's origin check.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from e2e_services import KNOWN_FILE, CodeServer, Devproxy, Microsocks, start_devproxy
from e2e_workbench import PUBLIC_HOST, Workbench, open_context_page

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy(code_server: CodeServer, socks: Microsocks) -> Iterator[Devproxy]:
    proxy = start_devproxy("devproxy-connected", code_server.target, socks.url)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def workbench(browser: Browser, proxy: Devproxy, code_server: CodeServer) -> Iterator[Workbench]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    bench = open_context_page(context, "connected")
    try:
        bench.goto(f"{proxy.url(PUBLIC_HOST)}/?folder={code_server.workspace}")
        yield bench
    finally:
        bench.close()


def test_explorer_lists_workspace_file_over_a_websocket(workbench: Workbench, proxy: Devproxy,
                                                        code_server: CodeServer, socks: Microsocks) -> None:
    """The Explorer lists the workspace's file, which only arrives over the proxied WebSocket."""
    workbench.wait_explorer_lists(KNOWN_FILE)
    through_proxy = [s for s in workbench.sockets if s.url.startswith(f"ws://{PUBLIC_HOST}:{proxy.port}/")]
    assert any(s.received > 0 for s in through_proxy), f"no WebSocket carried frames: {workbench.sockets}"
    assert workbench.failure_text() is None
    # the tunnel really crossed the SOCKS server, toward the address code-server listens on
    assert f"127.0.0.1:{code_server.port}" in socks.managed.output()
    assert any(e.get("event") == "ws.open" for e in proxy.events()), "devproxy logged no WebSocket"


def test_terminal_round_trip(workbench: Workbench) -> None:
    """Keys typed in the integrated terminal reach bash on the server and its answer comes back."""
    workbench.wait_explorer_lists(KNOWN_FILE)
    workbench.open_terminal()
    assert workbench.terminal_round_trip() == "E2E_42"
    assert workbench.failure_text() is None


def test_vsda_files_answered_without_errors(workbench: Workbench) -> None:
    """The workbench asks for vsda.js and vsda_bg.wasm; neither fails nor logs a console error."""
    workbench.wait_explorer_lists(KNOWN_FILE)
    asked = [url for url in workbench.requests if "/vsda" in url]
    assert any(url.endswith("/vsda.js") for url in asked), f"vsda.js never requested: {asked}"
    assert any(url.endswith("/vsda_bg.wasm") for url in asked), f"vsda_bg.wasm never requested: {asked}"
    answers = [(status, url) for status, url in workbench.responses if "/vsda" in url]
    assert answers and all(status == 200 for status, _ in answers), answers
    assert [e for e in workbench.console_errors if "vsda" in e.lower()] == []


def test_screenshot_of_connected_workbench(workbench: Workbench) -> None:
    """A screenshot of the connected workbench is kept under tests/e2e/artifacts/."""
    workbench.wait_explorer_lists(KNOWN_FILE)
    path = workbench.screenshot("workbench")
    assert path.stat().st_size > 10_000
    assert workbench.failure_text() is None


def test_requests_that_would_leave_loopback_are_aborted(workbench: Workbench) -> None:
    """The page cannot reach beyond loopback: the route rule aborts such requests before any network."""
    outcome = workbench.page.evaluate(
        "() => fetch('https://update.code.visualstudio.com/api/update', {mode: 'no-cors'})"
        ".then(() => 'answered', e => 'failed: ' + e)")
    assert outcome.startswith("failed"), outcome
    assert "https://update.code.visualstudio.com/api/update" in workbench.blocked
