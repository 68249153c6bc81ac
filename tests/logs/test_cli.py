"""`devproxy logs` end to end in a subprocess: exact exit codes and the key output lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m devproxy logs ...` with a clean, bounded environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEVPROXY_", "GOOGLE_", "CLOUDSDK_"))}
    base.update({"COLUMNS": "200", "NO_COLOR": "1", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "devproxy", "logs", *args],
        input=stdin, capture_output=True, text=True, env=base, timeout=60,
    )


def test_diagnose_prints_cause_and_fix_first_and_exits_1() -> None:
    """The report opens with the correlated root cause, its cause and fix; error findings exit 1."""
    result = run("--file", str(DATA / "origin_check.txt"), "--diagnose")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("Most likely cause first:")
    assert lines[start + 1] == (
        " 1. CRITICAL code-server's origin check rejects the proxied WebSocket (403 → browser 1006)  [origin-check]"
    )
    assert lines[start + 2].startswith("    cause: The browser's 1006 comes from a 403 on the upstream WebSocket")
    assert lines[start + 3].startswith("    fix:   Forward X-Forwarded-Host: <public host> (no :443)")
    assert any(line.startswith("Known noise (ignored): ") and "vsda" in line for line in lines)
    assert any(line.startswith("Timeline 2026-11-30 04:00:") for line in lines)
    assert any(line.startswith("  code-server ") and "✖" in line for line in lines)
    assert any(line.startswith("  (") and "entries without a timestamp are not shown)" in line for line in lines)


def test_healthy_file_exits_0() -> None:
    """Healthy logs report no error and exit 0."""
    result = run("--file", str(DATA / "healthy.gcloud.json"), "--diagnose")
    assert result.returncode == 0, result.stderr
    assert "No error found." in result.stdout.splitlines()


def test_json_document_has_findings_most_important_first() -> None:
    """--json prints one document whose `findings` carry the documented keys, root cause first."""
    result = run("--file", str(DATA / "cloud_run_timeout.gcloud.json"), "--diagnose", "--json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    first = document["findings"][0]
    assert first["id"] == "cloud-run-timeout"
    for key in ("id", "title", "severity", "cause", "fix", "count", "first_seen", "last_seen", "examples"):
        assert key in first
    assert first["severity"] in ("critical", "error", "warning", "info")
    assert first["first_seen"].endswith("Z")
    assert document["summary"]["format"] == "gcloud-json"


def test_stdin_plain_text_from_a_browser_console() -> None:
    """A line pasted from the browser console on stdin is diagnosed."""
    pasted = "Workbench failed to connect to the server (Error: WebSocket close with status code 1006)\n"
    result = run("--file", "-", "--diagnose", "--json", stdin=pasted)
    assert result.returncode == 1
    assert json.loads(result.stdout)["findings"][0]["id"] == "browser-ws-1006"


def test_without_diagnose_entries_are_listed_and_bad_lines_reported() -> None:
    """Entries print as time, layer, severity, message; unreadable lines are counted on stderr, exit 0."""
    text = (
        '{"severity":"ERROR","message":"no SOCKS server answered","time":"2026-11-30T05:00:00.125Z",'
        '"event":"socks.connect_failed","component":"proxy"}\n{"broken\n{"also broken\n'
    )
    result = run("--file", "-", stdin=text)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "2026-11-30 05:00:00.125  proxy       ERROR    no SOCKS server answered"
    ]
    assert "warning: 2 unreadable lines skipped" in result.stderr


def test_missing_file_exits_2_with_one_error_line() -> None:
    """An unreadable input is exit 2 with one red error line."""
    result = run("--file", "/nonexistent/devproxy.log", "--diagnose")
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot read log file /nonexistent/devproxy.log")


def test_bad_usage_exits_2() -> None:
    """Unknown flags and invalid values are usage errors (exit 2)."""
    assert run("--no-such-flag").returncode == 2
    result = run("--file", "-", "--limit", "0")
    assert result.returncode == 2
    assert "--limit must be a positive number" in result.stderr


def test_cloud_without_project_exits_2() -> None:
    """Reading Cloud Logging needs a project from the flag or the environment."""
    result = run("--diagnose")
    assert result.returncode == 2
    assert "error: no project set" in result.stderr


def test_bad_since_exits_2() -> None:
    """--since must be a duration or a timestamp."""
    result = run("--project", "p", "--since", "yesterday")
    assert result.returncode == 2
    assert "--since 'yesterday' is not a duration or a timestamp" in result.stderr


def test_follow_file_diagnoses_then_summarises() -> None:
    """--follow --diagnose on a file prints findings as they appear, then the ranked report."""
    result = run(
        "--file", str(DATA / "blocked_loop.txt"), "--follow", "--diagnose", "--poll-interval", "0",
        "--max-polls", "2",
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("CRITICAL A blocking call freezes the proxy's event loop")
    assert " 1. CRITICAL A blocking call freezes the proxy's event loop  [blocked-event-loop]" in lines


def test_follow_without_diagnose_prints_entries(tmp_path: Path) -> None:
    """--follow on a file prints its entries readably and exits 0 when the polls end."""
    path = tmp_path / "app.log"
    path.write_text("2025/02/07 14:02:58 socks5: client connection failed: could not read packet header\n")
    result = run("--file", str(path), "--follow", "--poll-interval", "0", "--max-polls", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "2025-02-07 14:02:58.000  tailscale            2025/02/07 14:02:58 socks5: client connection failed: "
        "could not read packet header"
    ]


def test_help_lists_the_options() -> None:
    """`devproxy logs --help` documents the sources and modes."""
    result = run("--help")
    assert result.returncode == 0
    for option in ("--file", "--diagnose", "--json", "--follow", "--project", "--service", "--region", "--since",
                   "--limit"):
        assert option in result.stdout
