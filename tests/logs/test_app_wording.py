"""A refused WebSocket upgrade, in the words of the app that refused it, from the runtime's own line."""

from __future__ import annotations

import json

import pytest

from devproxy.logs.correlate import diagnose
from devproxy.logs.source import parse_line
from devproxy.runtime.ws_target import likely_cause


def rejected(path: str) -> str:
    """ws.upgrade_rejected exactly as the runtime words it for a 403."""
    hint = likely_cause(403)
    return json.dumps({
        "severity": "WARNING", "time": "2026-12-08T01:00:01Z", "event": "ws.upgrade_rejected", "component": "proxy",
        "message": f"the target answered the WebSocket upgrade of {path} with HTTP 403 ({hint})",
        "path": path, "status": 403, "likely_cause": hint,
    })


@pytest.mark.parametrize(("path", "app"), [("/api/kernels/5d2f/channels", "Jupyter"), ("/socket", "generic app")])
def test_another_apps_refusal_never_reads_as_code_servers(path: str, app: str) -> None:
    """Neither the finding nor the runtime line it quotes calls another app's 403 code-server's origin check."""
    entry = parse_line(rejected(path))
    assert entry is not None
    top = diagnose([entry]).findings[0]
    assert top.id == "dp-upgrade-403"
    assert app in top.title
    assert "code-server" not in top.title + top.cause + top.fix
    assert top.cause[:1].isupper(), top.cause
    assert not any("code-server's origin check" in example for example in top.examples)


def test_code_servers_refusal_keeps_its_fix() -> None:
    """A refusal on code-server's own paths still names code-server and its --trusted-origins fix."""
    entry = parse_line(rejected("/stable-1a2b3c/?reconnectionToken=9"))
    assert entry is not None
    top = diagnose([entry]).findings[0]
    assert "code-server" in top.title and "--trusted-origins" in top.fix


def test_another_proxys_403_in_a_jupyter_capture_names_jupyter() -> None:
    """aiohttp's rejected handshake next to Jupyter's own refusal reads as Jupyter's origin check, not code-server's."""
    lines = [
        "aiohttp.client_exceptions.WSServerHandshakeError: 403, message='Invalid response status'",
        "[W 2026-12-08 01:00:01.000 ServerApp] Blocking Cross Origin WebSocket Attempt.  Origin: https://x.run.app, "
        "Host: 100.64.0.2:8888",
    ]
    entries = [e for e in (parse_line(line) for line in lines) if e is not None]
    found = {f.id: f for f in diagnose(entries).findings}
    finding = found["py-aiohttp-ws-403"]
    assert "Jupyter" in finding.title
    assert "code-server" not in finding.title + finding.cause + finding.fix
    assert "Jupyter's origin check" in finding.cause
