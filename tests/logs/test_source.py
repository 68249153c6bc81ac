"""Format detection and normalisation of what users really paste or export."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from devproxy.errors import LogInputError
from devproxy.logs.source import parse_latency, parse_line, parse_text, read_path

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("origin_check.gcloud.json", "gcloud-json"),
        ("origin_check.jsonl", "json-lines"),
        ("origin_check.txt", "text"),
    ],
)
def test_format_is_detected_from_content(name: str, fmt: str) -> None:
    """A gcloud JSON array, JSON lines and plain text are told apart without a flag."""
    parsed = parse_text((DATA / name).read_text())
    assert parsed.format == fmt
    assert parsed.bad_lines == 0
    assert len(parsed.entries) > 20


def test_gcloud_array_is_read_oldest_first() -> None:
    """gcloud prints newest first; entries come back in time order."""
    parsed = parse_text((DATA / "blocked_loop.gcloud.json").read_text())
    times = [e.time for e in parsed.entries if e.time is not None]
    assert times == sorted(times)


def test_bad_lines_are_counted_not_fatal() -> None:
    """Broken JSON lines and non-object JSON are counted; the rest is still read."""
    text = '{"severity":"ERROR","message":"a"}\n{"broken\n[1, 2]\n42\nplain text line\n\n'
    parsed = parse_text(text)
    assert parsed.bad_lines == 1
    assert [e.message for e in parsed.entries] == ["a", "[1, 2]", "42", "plain text line"]
    assert parsed.format == "mixed"


def test_json_array_with_non_objects_counts_them() -> None:
    """Items of a JSON array that are not LogEntry objects are bad lines."""
    parsed = parse_text(json.dumps([{"textPayload": "x", "timestamp": "2026-11-30T05:00:00Z"}, "oops", 3]))
    assert parsed.bad_lines == 2
    assert parsed.entries[0].message == "x"


def test_text_that_starts_with_a_bracket_is_text() -> None:
    """A pasted console line starting with '[' is not mistaken for a broken JSON array."""
    parsed = parse_text("[remote-connection][attempt 1] An error occurred in initial connection! Will retry...\n")
    assert parsed.format == "text"
    assert parsed.bad_lines == 0


def test_empty_input() -> None:
    """Empty input is no entries, no error."""
    assert parse_text("  \n").entries == ()


def test_structured_line_keeps_event_component_and_fields() -> None:
    """devproxy's own JSON line becomes an entry with layer from component and the rest as fields."""
    entry = parse_line(json.dumps({
        "severity": "WARNING", "message": "websocket closed", "time": "2026-11-30T05:00:00.250000Z",
        "event": "ws.closed", "component": "proxy", "close_code": 1006, "closed_by": "upstream",
    }))
    assert entry is not None
    assert (entry.layer, entry.severity, entry.event) == ("proxy", "WARNING", "ws.closed")
    assert entry.fields["close_code"] == 1006
    assert entry.time == datetime(2026, 11, 30, 5, 0, 0, 250000, tzinfo=timezone.utc)


def test_request_log_entry_carries_status_and_latency() -> None:
    """A Cloud Run request log entry reads as method, URL, status and latency in seconds."""
    entry = parse_line(json.dumps({
        "logName": "projects/p/logs/run.googleapis.com%2Frequests", "timestamp": "2026-11-30T05:00:00Z",
        "severity": "INFO",
        "httpRequest": {"requestMethod": "GET", "requestUrl": "https://h/", "status": 101, "latency": "300.001s"},
    }))
    assert entry is not None
    assert entry.layer == "cloudrun"
    assert entry.fields["status"] == 101 and entry.fields["latency_s"] == pytest.approx(300.001)
    assert entry.message == "GET https://h/ 101 300.001s"


@pytest.mark.parametrize(
    ("line", "when", "layer"),
    [
        ("2025/02/07 14:02:58 socks5: client connection failed: x", datetime(2025, 2, 7, 14, 2, 58, tzinfo=timezone.utc),
         "tailscale"),
        ("2026-11-30 05:00:01,123 INFO app", datetime(2026, 11, 30, 5, 0, 1, 123000, tzinfo=timezone.utc), ""),
        ("[2026-11-30T05:00:00.000Z] error File not found", datetime(2026, 11, 30, 5, tzinfo=timezone.utc), ""),
        ('1.2.3.4 - - [30/Nov/2026:05:00:00 +0000] "GET / HTTP/1.1" 200 1',
         datetime(2026, 11, 30, 5, tzinfo=timezone.utc), ""),
        ("Workbench failed to connect", None, ""),
    ],
)
def test_plain_text_timestamps(line: str, when: datetime | None, layer: str) -> None:
    """Go log, Python logging, code-server and nginx timestamps are understood; others have no time."""
    entry = parse_line(line)
    assert entry is not None
    assert entry.time == when
    assert entry.layer == layer


@pytest.mark.parametrize(("value", "seconds"), [("300.001s", 300.001), ("0s", 0.0), ({"seconds": 3, "nanos": 5e8}, 3.5),
                                                 ("soon", None)])
def test_latency(value: object, seconds: float | None) -> None:
    """Cloud Logging durations in text and proto form."""
    assert parse_latency(value) == seconds


def test_read_path_reads_stdin_for_dash() -> None:
    """'-' reads stdin."""
    parsed = read_path("-", io.StringIO("Error: Time limit reached\n"))
    assert parsed.entries[0].message == "Error: Time limit reached"


def test_unreadable_file_is_a_log_input_error(tmp_path: Path) -> None:
    """A missing file is a LogInputError (exit 2) naming the path."""
    with pytest.raises(LogInputError) as info:
        read_path(str(tmp_path / "missing.log"), io.StringIO())
    assert info.value.exit_code == 2
    assert "missing.log" in info.value.message


def test_audit_log_status_message_is_the_message() -> None:
    """A Cloud Run system-event audit entry is read by its status message, so start failures are diagnosed."""
    entry = parse_line(json.dumps({
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Fsystem_event", "severity": "ERROR",
        "timestamp": "2026-11-30T05:00:00Z",
        "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "status": {"code": 9, "message":
            "Ready condition status changed to False for Revision devproxy-00007-abc with message: The user-provided "
            "container failed to start and listen on the port defined provided by the PORT=8080 environment "
            "variable within the allocated timeout."}},
    }))
    assert entry is not None
    assert entry.message.startswith("Ready condition status changed to False")
    from devproxy.logs.match import Matcher

    sig = Matcher().match(entry)
    assert sig is not None and sig.id == "cr-port-not-listening"
