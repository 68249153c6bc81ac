"""VS Code through devproxy in token mode: the login page, then a connected workbench; or the one-time link.

The browser uses http://localhost:<port> (a host name code-server never sees: it gets Host
127.0.0.1:<its port>), a secure context for Chromium, so the access cookie can carry `Secure` as it
does behind Cloud Run's HTTPS.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser

from e2e_services import KNOWN_FILE, CodeServer, Devproxy, Microsocks, start_devproxy
from e2e_workbench import WEBSOCKET_OUTCOME, Workbench, open_context_page

pytestmark = pytest.mark.e2e

TOKEN = secrets.token_urlsafe(24)
LOGIN_INPUT = "input[type=password]"


@pytest.fixture(scope="module")
def proxy(code_server: CodeServer, socks: Microsocks) -> Iterator[Devproxy]:
    proxy = start_devproxy("devproxy-token", code_server.target, socks.url, auth="token",
                           extra_env={"DEVPROXY_ACCESS_TOKEN": TOKEN})
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def bench(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Workbench]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = open_context_page(context, request.node.name.removeprefix("test_"))
    try:
        yield page
    finally:
        page.close()


def _workbench_url(proxy: Devproxy, code_server: CodeServer) -> str:
    return f"{proxy.url('localhost')}/?folder={code_server.workspace}"


def _submit_login(bench: Workbench, token: str) -> None:
    """Fill the login page's password field and submit; return once the server answered the POST."""
    field = bench.page.locator(LOGIN_INPUT)
    field.wait_for(state="visible", timeout=30_000)
    field.fill(token)
    with bench.page.expect_response(lambda r: r.request.method == "POST", timeout=30_000):
        field.press("Enter")
    bench.page.wait_for_load_state("domcontentloaded", timeout=30_000)


def _shows_login_page(bench: Workbench) -> bool:
    bench.page.locator(LOGIN_INPUT).wait_for(state="visible", timeout=30_000)
    return bench.page.locator(".monaco-workbench").count() == 0


def test_wrong_token_keeps_the_login_page(bench: Workbench, proxy: Devproxy, code_server: CodeServer) -> None:
    """Without the access token the browser gets the login page, never the workbench or a WebSocket."""
    bench.goto(_workbench_url(proxy, code_server))
    assert _shows_login_page(bench)
    _submit_login(bench, "not-the-token")
    assert _shows_login_page(bench)
    bench.goto(_workbench_url(proxy, code_server))  # no session was granted by the failed attempt
    assert _shows_login_page(bench)
    assert bench.sockets == []
    # a WebSocket needs the session too: without it devproxy refuses the upgrade (the login page's
    # CSP forbids connections, so the socket is opened from a blank page of the same browser)
    blank = bench.context.new_page()
    try:
        outcome = blank.evaluate(WEBSOCKET_OUTCOME, f"ws://localhost:{proxy.port}/e2e-without-session")
    finally:
        blank.close()
    assert outcome == 1006, outcome
    assert any(e.get("event") == "auth.denied" and e.get("websocket") for e in proxy.events())


def test_login_page_then_workbench_connects(bench: Workbench, proxy: Devproxy, code_server: CodeServer) -> None:
    """Logging in with the token on /_devproxy/login opens a connected workbench with a working terminal."""
    bench.goto(_workbench_url(proxy, code_server))
    assert _shows_login_page(bench)
    _submit_login(bench, TOKEN)
    bench.wait_explorer_lists(KNOWN_FILE)
    assert any(s.received > 0 for s in bench.sockets), bench.sockets
    bench.open_terminal()
    assert bench.terminal_round_trip("_token") == "E2E_42_token"
    assert bench.failure_text() is None
    assert TOKEN not in proxy.managed.output(), "the access token appeared in devproxy's log"


def test_one_time_link_sets_cookie_and_drops_token_from_url(bench: Workbench, proxy: Devproxy,
                                                            code_server: CodeServer) -> None:
    """/?devproxy_token=… logs in, redirects to the same URL without the token, and the workbench connects."""
    bench.goto(f"{proxy.url('localhost')}/?devproxy_token={TOKEN}&folder={code_server.workspace}")
    bench.wait_explorer_lists(KNOWN_FILE)
    query = parse_qs(urlsplit(bench.page.url).query)
    assert "devproxy_token" not in query, bench.page.url
    assert query.get("folder") == [str(code_server.workspace)], bench.page.url
    assert any(s.received > 0 for s in bench.sockets), bench.sockets
    assert bench.context.cookies(), "no access cookie was set"
    assert bench.failure_text() is None
    assert TOKEN not in proxy.managed.output(), "the access token appeared in devproxy's log"
