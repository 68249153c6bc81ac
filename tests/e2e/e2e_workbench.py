"""The browser side: Chromium launch settings and a VS Code workbench page with what it saw recorded."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response, Route, WebSocket
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from e2e_procs import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
#: the "public" host name the browser uses for devproxy; Chromium resolves it to 127.0.0.1 itself,
#: so Origin/Host say devproxy.test:<port> while code-server sees Host 127.0.0.1:<its port>.
PUBLIC_HOST = "devproxy.test"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-proxy-server", f"--host-resolver-rules=MAP {PUBLIC_HOST} 127.0.0.1",
]
#: any http(s) URL whose host is not loopback (or the mapped public name): aborted by a route rule.
NON_LOOPBACK = re.compile(
    r"^https?://(?!(?:127\.0\.0\.1|localhost|\[::1\]|" + re.escape(PUBLIC_HOST) + r")(?::\d+)?(?:[/?#]|$))"
)
#: opens a WebSocket from the page; resolves to "open" or to the close code (bounded by a timer).
WEBSOCKET_OUTCOME = """url => new Promise(resolve => {
  const ws = new WebSocket(url);
  const timer = setTimeout(() => resolve('no answer in 15 s'), 15000);
  ws.onopen = () => { clearTimeout(timer); ws.close(); resolve('open'); };
  ws.onclose = e => { clearTimeout(timer); resolve(e.code); };
})"""
#: VS Code's words when its WebSocket to the server dies without a close frame (code-server's
#: origin check answering 403, for example).
FAILED_1006 = "status code 1006"

#: true once a terminal's rows (DOM renderer: gpuAcceleration off) contain the argument.
TERMINAL_SHOWS = "n => [...document.querySelectorAll('.xterm-rows')].some(e => e.textContent.includes(n))"

#: records every WebSocket the page opens and how each one closed (code, reason, clean or not).
WS_RECORDER = """
(() => {
  if (window.__e2eSockets) return;
  const sockets = window.__e2eSockets = [];
  const Native = window.WebSocket;
  class RecordedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      const entry = {id: sockets.length, url: String(args[0]), opened: false, close: null};
      sockets.push(entry);
      this.addEventListener('open', () => { entry.opened = true; });
      this.addEventListener('close', e => {
        entry.close = {code: e.code, reason: e.reason, wasClean: e.wasClean};
      });
    }
  }
  window.WebSocket = RecordedWebSocket;
})();
"""


@dataclass
class SocketFrames:
    url: str
    received: int = 0
    sent: int = 0
    closed: bool = False


@dataclass
class Workbench:
    """One page of the VS Code workbench and everything the browser reported while it ran."""

    context: BrowserContext
    page: Page
    name: str
    sockets: list[SocketFrames] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    responses: list[tuple[int, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    # --- recording -------------------------------------------------------------------------
    def _on_websocket(self, ws: WebSocket) -> None:
        record = SocketFrames(ws.url)
        self.sockets.append(record)
        ws.on("framereceived", lambda _payload: setattr(record, "received", record.received + 1))
        ws.on("framesent", lambda _payload: setattr(record, "sent", record.sent + 1))
        ws.on("close", lambda _ws: setattr(record, "closed", True))

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            self.console_errors.append(f"{msg.text} [{where}]")

    def _on_response(self, response: Response) -> None:
        self.responses.append((response.status, response.url))

    def _on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _on_blocked(self, route: Route) -> None:
        self.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    # --- navigation and waits ----------------------------------------------------------------
    def goto(self, url: str) -> None:
        self.page.goto(url, wait_until="domcontentloaded", timeout=60_000)

    def wait_explorer_lists(self, filename: str, timeout: float = 90) -> None:
        """The Explorer shows filename: the folder listing arrived over the remote WebSocket."""
        row = self.page.locator(".explorer-folders-view .monaco-list-row", has_text=filename)
        self._wait_visible(row.first, timeout, f"the Explorer to list {filename}")

    def failure_text(self) -> str | None:
        """The 1006 'failed to connect' text if VS Code shows it anywhere (dialog or notification)."""
        text = self.page.evaluate("() => document.body ? document.body.innerText : ''")
        for line in str(text).splitlines():
            if FAILED_1006 in line:
                return line.strip()
        return None

    def wait_failure_dialog(self, timeout: float = 120) -> str:
        """Wait until VS Code's dialog reports the WebSocket closing with 1006; return its text."""
        dialog = self.page.locator(".monaco-dialog-box", has_text=FAILED_1006)
        self._wait_visible(dialog.first, timeout, "VS Code's 'WebSocket close with status code 1006' dialog")
        return dialog.first.inner_text()

    def _wait_visible(self, locator: Any, timeout: float, what: str) -> None:
        try:
            locator.wait_for(state="visible", timeout=timeout * 1000)
        except PlaywrightTimeout:
            shot = self.screenshot(f"timeout-{int(time.time())}")
            raise AssertionError(f"{self.name}: timed out after {timeout:.0f} s waiting for {what} "
                                 f"(screenshot {shot.name}); WebSockets: {self.sockets}; "
                                 f"1006 text: {self.failure_text()}") from None

    # --- terminal ------------------------------------------------------------------------------
    def open_terminal(self, timeout: float = 60) -> None:
        """Open the integrated terminal (View: Toggle Terminal) and wait for the shell's prompt."""
        self.page.locator(".monaco-workbench").first.click(position={"x": 600, "y": 300})
        self.page.keyboard.press("Control+Backquote")
        self.wait_terminal_text("e2e$", timeout)

    def focus_terminal(self) -> None:
        """Give keyboard focus to the visible terminal's input (no click: a toast may cover it)."""
        focused = self.page.evaluate("""() => {
          const inputs = [...document.querySelectorAll('.terminal-wrapper .xterm-helper-textarea')]
            .filter(e => e.closest('.terminal-wrapper').offsetParent !== null);
          const input = inputs[inputs.length - 1];
          if (!input) return false;
          input.focus();
          return document.activeElement === input;
        }""")
        assert focused, f"{self.name}: no visible terminal to type into"

    def terminal_text(self) -> str:
        return str(self.page.evaluate(
            "() => [...document.querySelectorAll('.xterm-rows')].map(e => e.innerText).join('\\n')"))

    def wait_terminal_text(self, needle: str, timeout: float) -> None:
        """Wait until some terminal on the page shows needle."""
        try:
            self.page.wait_for_function(TERMINAL_SHOWS, arg=needle, timeout=timeout * 1000, polling=250)
        except PlaywrightTimeout:
            shot = self.screenshot(f"terminal-timeout-{int(time.time())}")
            raise AssertionError(f"{self.name}: terminal did not show {needle!r} within {timeout:.0f} s "
                                 f"(screenshot {shot.name}); terminal text: {self.terminal_text()[-500:]!r}; "
                                 f"1006 text: {self.failure_text()}") from None

    def terminal_round_trip(self, tag: str = "", timeout: float = 60, attempts: int = 3) -> str:
        """Type `echo E2E_$((6*7))<tag>` into the terminal; return the computed line once it shows.

        Only the shell can turn $((6*7)) into 42, so the output proves keys went to the server and
        the answer came back. Typing is retried (bounded) in case keys reached the terminal before
        it had focus after a reconnect.
        """
        expected = f"E2E_42{tag}"
        per_attempt = timeout / attempts
        for attempt in range(attempts):
            self.focus_terminal()
            self.page.keyboard.type(f"echo E2E_$((6*7)){tag}", delay=20)
            self.page.keyboard.press("Enter")
            try:
                self.page.wait_for_function(TERMINAL_SHOWS, arg=expected, timeout=per_attempt * 1000,
                                            polling=250)
                return expected
            except PlaywrightTimeout:
                if attempt == attempts - 1:
                    shot = self.screenshot(f"terminal-timeout-{int(time.time())}")
                    raise AssertionError(
                        f"{self.name}: terminal never printed {expected!r} within {timeout:.0f} s "
                        f"(screenshot {shot.name}); terminal text: {self.terminal_text()[-500:]!r}; "
                        f"1006 text: {self.failure_text()}") from None
        raise AssertionError("unreachable")

    # --- what the page recorded -------------------------------------------------------------------
    def recorded_sockets(self) -> list[dict[str, Any]]:
        """Every WebSocket the page's own code created, with its close event (from WS_RECORDER)."""
        return list(self.page.evaluate("() => window.__e2eSockets || []"))

    def open_socket_ids(self) -> list[int]:
        return [s["id"] for s in self.recorded_sockets() if s["opened"] and s["close"] is None]

    def wait_sockets_closed(self, ids: list[int], timeout: float) -> list[dict[str, Any]]:
        """Wait until every socket in ids has fired its close event; return their records."""
        try:
            self.page.wait_for_function(
                "ids => ids.every(i => window.__e2eSockets[i].close !== null)", arg=ids,
                timeout=timeout * 1000, polling=100)
        except PlaywrightTimeout:
            raise AssertionError(f"{self.name}: sockets {ids} still open after {timeout:.0f} s: "
                                 f"{self.recorded_sockets()}") from None
        by_id = {s["id"]: s for s in self.recorded_sockets()}
        return [by_id[i] for i in ids]

    def wait_new_socket_with_frames(self, after: int, timeout: float) -> SocketFrames:
        """Wait for a WebSocket opened after the first `after` ones to carry frames from the server."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.sockets[after:]:
                if record.received > 0 and not record.closed:
                    return record
            if time.monotonic() > deadline:
                shot = self.screenshot(f"reconnect-timeout-{int(time.time())}")
                raise AssertionError(f"{self.name}: no new WebSocket carried frames within {timeout:.0f} s "
                                     f"(screenshot {shot.name}); sockets: {self.sockets[after:]}")
            self.page.wait_for_timeout(250)  # lets Playwright deliver events while we poll

    def screenshot(self, label: str) -> Path:
        """Save a PNG of the page as artifacts/<name>-<label>.png."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=path)
        return path

    def close(self) -> None:
        """Close the browser context; keep what the page saw as artifacts/<name>-browser.json."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        summary = {
            "websockets": [vars(s) for s in self.sockets],
            "console_errors": self.console_errors,
            "failed_responses": [(status, url) for status, url in self.responses if status >= 400],
            "blocked_requests": self.blocked,
        }
        try:
            summary["page_sockets"] = self.recorded_sockets()
        except PlaywrightError:
            pass  # the page is gone already
        (ARTIFACTS / f"{self.name}-browser.json").write_text(json.dumps(summary, indent=2))
        self.context.close()


def open_context_page(context: BrowserContext, name: str) -> Workbench:
    """A page in context with recorders attached and every non-loopback request aborted."""
    context.add_init_script(WS_RECORDER)
    page = context.new_page()
    bench = Workbench(context, page, name)
    context.route(NON_LOOPBACK, bench._on_blocked)
    page.on("websocket", bench._on_websocket)
    page.on("console", bench._on_console)
    page.on("response", bench._on_response)
    page.on("request", bench._on_request)
    return bench
