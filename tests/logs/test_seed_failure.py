"""The failure devproxy was made for, in the shapes users bring it, and inputs that are not logs at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from devproxy.logs.correlate import diagnose
from devproxy.logs.findings import Diagnosis
from devproxy.logs.source import parse_text

HEADER = "socks5: client connection failed: could not read packet header"
BROWSER = "Workbench failed to connect to the server (Error: WebSocket close with status code 1006)"


def _go(second: int) -> str:
    return f"2026/11/30 04:03:{second:02d}"


def _iso(second: int) -> str:
    return f"2026-11-30T04:03:{second:02d}.000000Z"


def _text_pasted() -> str:
    """tailscaled's stderr pasted from a terminal, then the browser console's line (no timestamp)."""
    return "\n".join([f"{_go(s)} {HEADER}" for s in (20, 21, 25)] + [f"workbench.web.main.js:35 {BROWSER}"])


def _runtime_json_lines() -> str:
    """devproxy's own stdout: tailscaled's lines relayed at INFO, the relay's 1006 closes at INFO."""
    lines = [
        {"severity": "INFO", "time": _iso(s), "event": "tailscaled.line", "component": "tailscaled",
         "message": f"{_go(s)} {HEADER}"}
        for s in (20, 22, 24)
    ]
    lines += [
        {"severity": "INFO", "time": _iso(s), "event": "ws.closed", "component": "proxy", "close_code": 1006,
         "closed_by": "target", "message": "WebSocket /stable-1/ closed by target"}
        for s in (21, 23)
    ]
    return "\n".join(json.dumps(r) for r in lines)


def _gcloud_export() -> str:
    """`gcloud logging read --format=json`: tailscaled as text payloads, newest first."""
    records = [
        {"logName": "projects/p/logs/run.googleapis.com%2Fstderr", "timestamp": _iso(s), "severity": "DEFAULT",
         "textPayload": f"{_go(s)} {HEADER}", "insertId": f"t{s}"}
        for s in (20, 21, 29)
    ]
    records.append({
        "logName": "projects/p/logs/run.googleapis.com%2Fstdout", "timestamp": _iso(22), "severity": "ERROR",
        "jsonPayload": {"event": "ws.closed", "component": "proxy", "close_code": 1006, "closed_by": "target",
                        "message": "WebSocket /?reconnectionToken=1 closed by target"},
        "insertId": "w1",
    })
    return json.dumps(list(reversed(records)), indent=2)


def _browser_console_only_times() -> str:
    """The browser's own console (ISO times) beside tailscaled's lines from the same minute."""
    return "\n".join([
        f"{_go(40)} {HEADER}",
        f"2026-11-30T04:03:41.100Z ERR {BROWSER}",
        f"{_go(41)} {HEADER}",
        "2026-11-30T04:03:42.000Z WebSocket connection to 'wss://devproxy-abc-uc.a.run.app/stable-1/?reconnectionToken=9' failed",
    ])


SHAPES: dict[str, Callable[[], str]] = {
    "text pasted": _text_pasted,
    "runtime json lines": _runtime_json_lines,
    "gcloud export": _gcloud_export,
    "browser console with times": _browser_console_only_times,
}


def _diagnosis(text: str) -> Diagnosis:
    return diagnose(parse_text(text).entries)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_seed_failure_names_the_socks_client_that_never_spoke(shape: str) -> None:
    """Packet-header errors with a browser or relay 1006 are one error finding: cause, fix, symptoms under it."""
    result = _diagnosis(SHAPES[shape]())
    top = result.findings[0]
    assert top.id == "socks-not-spoken"
    assert top.severity == "error"
    assert "without speaking SOCKS" in top.title
    assert "blocked" in top.cause and "health probe" in top.cause
    assert "PYTHONASYNCIODEBUG=1" in top.fix and "health endpoint" in top.fix
    assert "above" not in top.fix
    others = [f for f in result.findings[1:] if not f.noise]
    assert others and all(f.explained_by == "socks-not-spoken" for f in others)
    assert result.has_errors


def test_seed_failure_with_slow_callbacks_is_the_blocked_loop() -> None:
    """When the loop's own slow-callback warning is in the capture, the blocking call is named outright."""
    text = _text_pasted() + (
        "\n2026-11-30 04:03:20,000 WARNING Executing <Task pending name='Task-31' coro=<bridge() running at "
        "/app/proxy.py:88>> took 2.700 seconds"
    )
    ids = [f.id for f in _diagnosis(text).findings]
    assert ids[0] == "blocked-event-loop"
    assert "socks-not-spoken" not in ids


def test_packet_headers_on_a_timer_are_a_bare_probe() -> None:
    """Packet-header errors every 10 s with nothing failing are a TCP probe of the SOCKS port, said so."""
    text = "\n".join(f"2026/11/30 04:{m:02d}:{s:02d} {HEADER}" for m in (3, 4) for s in range(0, 60, 10))
    (finding,) = [f for f in _diagnosis(text).findings if not f.noise]
    assert finding.id == "ts-packet-header"
    assert "every 10 s" in finding.cause and "probe" in finding.cause
    assert "/_devproxy/health" in finding.fix


def test_a_lone_symptom_never_points_at_findings_that_are_not_there() -> None:
    """A browser 1006 with nothing else gets a fix that says where to look, not 'the findings above'."""
    (finding,) = _diagnosis(BROWSER).findings
    assert finding.id == "browser-ws-1006"
    assert "above" not in finding.fix and "Nothing else in this capture" in finding.fix


def test_relay_closes_logged_at_error_are_errors() -> None:
    """Six ws.closed entries at ERROR with 1006 are an error finding naming the side that ended them."""
    text = "\n".join(
        json.dumps({"severity": "ERROR", "time": f"2026-11-30T05:00:0{n}Z", "event": "ws.closed",
                    "component": "proxy", "close_code": 1006, "closed_by": "target",
                    "message": "WebSocket /stable/x closed by target"})
        for n in range(6)
    )
    result = _diagnosis(text)
    assert result.has_errors
    top = result.findings[0]
    assert (top.id, top.severity, top.count) == ("dp-ws-abnormal", "error", 6)
    assert "dev server's side" in top.cause and "above" not in top.fix


# ---- the command itself ------------------------------------------------------------------------------


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVPROXY_", "GOOGLE_", "CLOUDSDK_"))}
    env.update({"COLUMNS": "200", "NO_COLOR": "1"})
    return subprocess.run(
        [sys.executable, "-m", "devproxy", "logs", "--file", str(path), "--diagnose"],
        capture_output=True, text=True, env=env, timeout=60,
    )


def test_command_puts_the_seed_failure_first_and_exits_1(tmp_path: Path) -> None:
    """The real command prints the SOCKS cause as finding 1 with its fix, and exits 1."""
    path = tmp_path / "seed.txt"
    path.write_text(_text_pasted())
    result = _run(path)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("Most likely cause first:")
    assert lines[start + 1].startswith(" 1. ERROR    Something connects to tailscaled's SOCKS port without speaking")
    assert "No error found." not in lines
    assert "    explained by #1 (socks-not-spoken)" in lines  # the browser's 1006, under its cause


def test_command_relay_1006_errors_are_not_called_healthy(tmp_path: Path) -> None:
    """Six ERROR ws.closed 1006 lines never print 'No error found', and exit 1."""
    path = tmp_path / "closes.jsonl"
    path.write_text("\n".join(
        json.dumps({"severity": "ERROR", "time": f"2026-11-30T05:00:0{n}Z", "event": "ws.closed",
                    "close_code": 1006, "closed_by": "target", "message": "WebSocket / closed by target"})
        for n in range(6)
    ))
    result = _run(path)
    assert result.returncode == 1, result.stderr
    assert "No error found." not in result.stdout


def _cut_export() -> bytes:
    records = [{"timestamp": f"2026-11-30T05:00:0{n}Z", "textPayload": f"line {n}", "logName": "l"} for n in range(5)]
    text = json.dumps(records, indent=2)
    return text[: len(text) * 2 // 3].encode()


NOT_LOGS: dict[str, tuple[bytes, str]] = {
    "random bytes": (bytes((n * 7919 + 13) % 256 for n in range(4096)), "is not a log: "),
    "empty file": (b"", "is empty"),
    "only blank lines": (b"\n  \n\t\n", "is empty"),
    "json export cut off": (_cut_export(), "JSON export is cut off after 3 complete entries"),
    "json export not closed": (b'[\n {"textPayload": "a", "logName": "l"}\n', "cut off after 1 complete entries"),
    "only broken json lines": (b'{"severity": \n{"a": 1\n', "none of its 2 lines is a readable entry"),
}


@pytest.mark.parametrize("name", sorted(NOT_LOGS))
def test_input_that_is_not_a_log_is_one_error_and_exit_2(name: str, tmp_path: Path) -> None:
    """Random bytes, an empty file and a cut-off export say so on one line and exit 2, never 'healthy'."""
    data, words = NOT_LOGS[name]
    path = tmp_path / "input"
    path.write_bytes(data)
    result = _run(path)
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: {path}: ")
    assert words in result.stderr
    assert "Traceback" not in result.stderr
