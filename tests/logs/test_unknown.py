"""Nothing unexplained disappears: templates, grouping, and the 'unrecognised' findings in the ranking."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from logs_samples import SAMPLES

from devproxy.logs.correlate import diagnose
from devproxy.logs.findings import ERROR_LEVELS
from devproxy.logs.model import LogEntry
from devproxy.logs.source import parse_line, parse_text
from devproxy.logs.unknown import group_unknown, level, template

T0 = datetime(2026, 11, 30, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("socks5: client connection failed: connect tcp 100.64.0.9:8888: no route",
         "socks5: client connection failed: connect tcp <ip>: no route"),
        ("2026/12/07 03:00:51 control: sync failed after 12 attempts", "control: sync failed after <n> attempts"),
        ("2026-12-07T03:00:51.123Z ERROR upstream 7f3a9b2c11d4 failed", "upstream <id> failed"),
        ("[WARNING] retrying in 2.5s", "retrying in <n>"),
        ("open /home/dev/.config/app.json: permission denied", "open <path>: permission denied"),
        ("GET https://devproxy-abc-uc.a.run.app/x?token=1 failed", "GET <url> failed"),
        ("lookup devbox.tail1234.ts.net failed", "lookup <host> failed"),
        ("dial devbox:8888 refused", "dial <host> refused"),
        ("KeyError: 'reconnectionToken'", "KeyError: '<*>'"),
        ('bad header "X-Forwarded-Host: a.b"', 'bad header "<*>"'),
        ("request 5d4c8a10-1b2c-4d3e-9f00-0a1b2c3d4e5f timed out", "request <id> timed out"),
        ("connect to [fd7a:115c:a1e0::1]:8888 failed", "connect to <ip> failed"),
        ("peer fd7a:115c:a1e0:ab12:4843:cd96:6258:b240 gone", "peer <ip> gone"),
        ("Memory limit of 512 MiB exceeded with 530 MiB used", "Memory limit of <n> MiB exceeded with <n> MiB used"),
        ("  many   spaces\there ", "many spaces here"),
    ],
)
def test_template_masks_what_varies(message: str, expected: str) -> None:
    """Times, ids, addresses, ports, hosts, paths, URLs, quoted values and numbers are masked; words stay."""
    assert template(message) == expected


def test_two_occurrences_share_a_template() -> None:
    """The same failure with other values gives the same template; another wording does not."""
    a = template("2026/11/30 05:00:00 wgengine: dial 100.64.0.9:8888 stalled for 5021ms")
    b = template("2026/11/30 06:10:02 wgengine: dial 100.101.7.3:22 stalled for 77ms")
    assert a == b
    assert template("wgengine: dial 100.64.0.9:8888 closed") != a


def _entry(message: str, severity: str = "DEFAULT", at: float = 0.0, layer: str = "") -> LogEntry:
    return LogEntry(T0 + timedelta(seconds=at), layer, severity, message)


@pytest.mark.parametrize(
    ("message", "severity", "expected"),
    [
        ("ValueError: bad thing", "DEFAULT", "ERROR"),
        ("aiohttp.client_exceptions.ClientOSError: [Errno 104] Connection reset by peer", "DEFAULT", "ERROR"),
        ("Traceback (most recent call last):", "DEFAULT", "DEFAULT"),
        ('  File "/app/x.py", line 3, in f', "ERROR", "DEFAULT"),
        ("upstream handshake failed", "DEFAULT", "WARNING"),
        ("listening on 0.0.0.0:8080", "DEFAULT", "DEFAULT"),
        ("listening on 0.0.0.0:8080", "ERROR", "ERROR"),
    ],
)
def test_level_of_bare_lines(message: str, severity: str, expected: str) -> None:
    """An entry's own severity counts; bare text gets ERROR for an exception line, WARNING for failure words."""
    assert level(_entry(message, severity)) == expected


def test_group_keeps_errors_and_recurring_warnings_only() -> None:
    """One ERROR is enough; a WARNING must recur; INFO never counts; worst and most frequent first."""
    entries = [
        _entry("job 1 crashed: disk full", "ERROR", 1),
        _entry("job 2 crashed: disk full", "ERROR", 5),
        _entry("cache miss rate 40", "WARNING", 2),
        _entry("cache miss rate 55", "WARNING", 3),
        _entry("slow start 3", "WARNING", 4),
        _entry("all good 7", "INFO", 4),
        _entry("panic: runtime error", "CRITICAL", 6),
    ]
    groups = group_unknown(entries)
    assert [(g.template, g.severity, g.count) for g in groups] == [
        ("panic: runtime error", "CRITICAL", 1),
        ("job <n> crashed: disk full", "ERROR", 2),
        ("cache miss rate <n>", "WARNING", 2),
    ]
    job = groups[1]
    assert job.first_seen == T0 + timedelta(seconds=1) and job.last_seen == T0 + timedelta(seconds=5)
    assert job.examples == ("job 1 crashed: disk full", "job 2 crashed: disk full")


def test_only_unknown_errors_yield_an_unrecognised_finding_quoting_them() -> None:
    """A capture whose only errors are unknown to the catalog is not 'healthy': they are quoted, exit 1."""
    entries = [
        _entry("2026/11/30 05:00:01 wgengine: frobnicator lost sync with peer 100.64.0.9", "ERROR", 1, "tailscale"),
        _entry("2026/11/30 05:00:09 wgengine: frobnicator lost sync with peer 100.64.0.12", "ERROR", 9, "tailscale"),
        _entry("target answered", "INFO", 3, "proxy"),
    ]
    result = diagnose(entries)
    assert result.has_errors
    top = result.findings[0]
    assert top.role == "unrecognised" and top.severity == "error"
    assert top.template == "wgengine: frobnicator lost sync with peer <ip>"
    assert top.count == 2 and top.layer == "tailscale"
    assert top.first_seen == T0 + timedelta(seconds=1) and top.last_seen == T0 + timedelta(seconds=9)
    assert top.examples[0].endswith("peer 100.64.0.9")
    assert top.title.startswith("Unrecognised error: ")


def test_no_error_found_only_when_nothing_is_left() -> None:
    """Known noise and INFO lines alone leave no error; one unknown ERROR among them does."""
    quiet = [_entry(SAMPLES["ts-logtail"][0], at=1), _entry("everything fine", "INFO", 2)]
    assert not diagnose(quiet).has_errors
    assert diagnose([*quiet, _entry("mystery failure 42", "ERROR", 3)]).has_errors


def test_rank_causes_then_unrecognised_then_symptoms_then_noise() -> None:
    """Recognised causes first, then unrecognised errors by severity and count, then explained symptoms, then noise."""
    lines = [
        (SAMPLES["py-proxy-loopback-mismatch"][0], 0),
        (SAMPLES["py-socks-failed"][0], 1),
        (SAMPLES["browser-ws-1006"][0], 2),
        (SAMPLES["ts-logtail"][0], 3),
    ]
    entries = []
    for text, at in lines:
        entry = parse_line(text)
        assert entry is not None
        entries.append(LogEntry(T0 + timedelta(seconds=at), entry.layer, entry.severity, entry.message))
    entries += [_entry("odd failure 1", "ERROR", 4), _entry("rare crash", "CRITICAL", 5),
                _entry("odd failure 2", "ERROR", 6)]
    roles = [(f.role, f.severity, f.explained_by != "") for f in diagnose(entries).findings]
    assert roles == [
        ("root", "critical", False),
        ("unrecognised", "critical", False),
        ("unrecognised", "error", False),
        ("root", "error", True),  # 'failed to connect to SOCKS proxy', explained by the mismatch
        ("symptom", "error", True),
        ("noise", "info", False),
    ]


def test_request_log_errors_group_by_status() -> None:
    """Cloud Run request-log 5xx without a cause are one symptom finding, grouped whatever the URL."""
    record = {"logName": "projects/p/logs/run.googleapis.com%2Frequests", "severity": "ERROR",
              "timestamp": "2026-11-30T05:00:00Z",
              "httpRequest": {"requestMethod": "GET", "requestUrl": "", "status": 502, "latency": "0.01s"}}
    lines = []
    for n in range(3):
        record["httpRequest"]["requestUrl"] = f"https://x.run.app/p{n}"  # type: ignore[index]
        lines.append(json.dumps(record))
    result = diagnose(parse_text("\n".join(lines)).entries)
    assert [(f.id, f.count) for f in result.findings] == [("cr-http-5xx", 3)]
    assert result.has_errors


def test_cli_json_keeps_its_contract_for_unrecognised_findings() -> None:
    """`logs --diagnose --json` lists the unrecognised finding with severity, title, cause, fix, evidence, template."""
    text = "2026-11-30T05:00:00Z ERROR quux subsystem exploded at 0x1f\n2026-11-30T05:00:03Z ERROR quux subsystem exploded at 0x2e\n"
    result = subprocess.run([sys.executable, "-m", "devproxy", "logs", "--file", "-", "--diagnose", "--json"],
                            input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    finding = json.loads(result.stdout)["findings"][0]
    assert {"severity", "title", "cause", "fix", "evidence", "examples", "template"} <= set(finding)
    assert finding["severity"] in ERROR_LEVELS and finding["role"] == "unrecognised"
    assert finding["count"] == 2 and finding["template"] == "quux subsystem exploded at <id>"


def test_relayed_tailscaled_lines_are_judged_by_their_text() -> None:
    """devproxy relays tailscaled at INFO: a recurring failure there counts, and so does a foreign line stated at
    INFO; devproxy's own events at INFO are judged already."""
    def relayed(text: str) -> LogEntry:
        entry = parse_line(json.dumps({"severity": "INFO", "message": text, "event": "tailscaled.line",
                                       "component": "tailscaled"}))
        assert entry is not None
        return entry

    lines = [relayed("2026/11/30 05:00:01 wgengine: Reconfig: userspace config failed: busy 3"),
             relayed("2026/11/30 05:00:09 wgengine: Reconfig: userspace config failed: busy 4")]
    found = [f for f in diagnose(lines).findings if f.role == "unrecognised"]
    assert [(f.severity, f.count, f.layer) for f in found] == [("warning", 2, "tailscale")]
    stated = [_entry("wgengine: Reconfig: userspace config failed: busy 3", "INFO", n, "proxy") for n in range(3)]
    assert [(f.role, f.severity, f.count) for f in diagnose(stated).findings] == [("unrecognised", "warning", 3)]
    judged = [parse_line(json.dumps({"severity": "INFO", "message": "upload failed, retrying", "event": "x.retry",
                                     "component": "proxy"})) for _ in range(3)]
    assert diagnose([e for e in judged if e is not None]).findings == ()


def test_an_unrecognised_error_outranks_a_warning_level_cause() -> None:
    """A recognised cause that is only a warning does not push an unknown ERROR down."""
    entries = [_entry(SAMPLES["ts-logout-timeout"][0], at=0), _entry("engine seized: 12", "ERROR", 1)]
    assert [f.role for f in diagnose(entries).findings] == ["unrecognised", "root"]
