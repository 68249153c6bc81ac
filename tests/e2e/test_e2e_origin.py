"""Negative control: the same page through a devproxy that omits X-Forwarded-* fails with 1006.

This proves the connected tests can fail: under a public host name, code-server's origin check
refuses the WebSocket upgrade (403) unless devproxy forwards the public host, and VS Code then shows
its "WebSocket close with status code 1006" dialog.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from e2e_services import KNOWN_FILE, CodeServer, Devproxy, Microsocks, start_devproxy
from e2e_workbench import FAILED_1006, PUBLIC_HOST, open_context_page

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy_without_forwarded(code_server: CodeServer, socks: Microsocks) -> Iterator[Devproxy]:
    # the config value built by the test with X-Forwarded-Host/-Proto/-For turned off
    proxy = start_devproxy("devproxy-omit-forwarded", code_server.target, socks.url, forwarded=False)
    try:
        yield proxy
    finally:
        proxy.stop()


def test_without_forwarded_headers_the_workbench_fails_with_1006(
        browser: Browser, proxy_without_forwarded: Devproxy, code_server: CodeServer) -> None:
    """Without forwarded headers code-server refuses the upgrade and VS Code reports 1006."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    bench = open_context_page(context, "omit-forwarded")
    try:
        bench.goto(f"{proxy_without_forwarded.url(PUBLIC_HOST)}/?folder={code_server.workspace}")
        text = bench.wait_failure_dialog(timeout=120)
        bench.screenshot("1006-dialog")
        assert FAILED_1006 in text
        assert all(s.received == 0 for s in bench.sockets), bench.sockets
        rows = bench.page.locator(".explorer-folders-view .monaco-list-row", has_text=KNOWN_FILE)
        assert rows.count() == 0
        refused = [e for e in proxy_without_forwarded.events() if e.get("status") == 403]
        assert refused, "devproxy did not log code-server's 403 for the WebSocket upgrade"
    finally:
        bench.close()


def test_logs_diagnose_names_the_origin_check(proxy_without_forwarded: Devproxy, tmp_path: Path) -> None:
    """`devproxy logs --diagnose` on that run's own log names code-server's origin check first, exit 1."""
    # one more refused upgrade, so this test stands alone: the browser's Origin host differs from Host
    with socket.create_connection(("127.0.0.1", proxy_without_forwarded.port), timeout=10) as conn:
        conn.sendall(
            f"GET /stable-x?reconnectionToken=t&reconnection=false HTTP/1.1\r\n"
            f"Host: {PUBLIC_HOST}:{proxy_without_forwarded.port}\r\n"
            f"Origin: http://{PUBLIC_HOST}:{proxy_without_forwarded.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        assert conn.recv(64).startswith(b"HTTP/1.1 403")
    log = tmp_path / "devproxy.log"
    log.write_text(proxy_without_forwarded.managed.output())
    result = subprocess.run([sys.executable, "-m", "devproxy", "logs", "--file", str(log), "--diagnose", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    top = json.loads(result.stdout)["findings"][0]
    assert "403" in top["title"] and "origin check" in top["cause"]
    assert top["severity"] in ("critical", "error")
