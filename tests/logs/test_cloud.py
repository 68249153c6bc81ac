"""The Cloud Logging path: the real google-cloud-logging client against a local fake REST server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fake_logging import error, paged, serve

from devproxy.errors import CloudError
from devproxy.logs.cloud import CloudLogsError, cloud_errors, poll_entries, read_entries
from devproxy.logs.correlate import diagnose
from devproxy.logs.query import CloudQuery, build_filter, parse_since

DATA = Path(__file__).parent / "data"
SINCE = datetime(2026, 11, 30, 3, 0, tzinfo=timezone.utc)
FILTER = (
    'resource.type="cloud_run_revision" AND resource.labels.service_name="devproxy" AND '
    'resource.labels.location="us-central1" AND timestamp>="2026-11-30T03:00:00.000000Z"'
)


def _entries(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads((DATA / name).read_text())
    return entries


def test_filter_selects_the_cloud_run_service() -> None:
    """The filter names the resource type, the service, the region and the start time."""
    assert build_filter("devproxy", SINCE, "us-central1") == FILTER
    assert build_filter('we"ird', SINCE) == (
        'resource.type="cloud_run_revision" AND resource.labels.service_name="we\\"ird" AND '
        'timestamp>="2026-11-30T03:00:00.000000Z"'
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("90s", datetime(2026, 11, 30, 4, 58, 30, tzinfo=timezone.utc)),
     ("1h", datetime(2026, 11, 30, 4, tzinfo=timezone.utc)),
     ("2d", datetime(2026, 11, 28, 5, tzinfo=timezone.utc)),
     ("2026-11-29T12:00:00Z", datetime(2026, 11, 29, 12, tzinfo=timezone.utc))],
)
def test_since(value: str, expected: datetime) -> None:
    """--since takes durations and timestamps."""
    assert parse_since(value, datetime(2026, 11, 30, 5, tzinfo=timezone.utc)) == expected


def test_read_entries_reads_every_page_with_the_service_filter() -> None:
    """All pages are read (newest first from the API), returned oldest first, and diagnosed."""
    entries = _entries("origin_check.gcloud.json")
    pages = [entries[:10], entries[10:25], entries[25:]]
    with serve(paged(pages)) as fake:
        query = CloudQuery("demo-project", "devproxy", SINCE, "us-central1", 1000)
        got = read_entries(query, {"DEVPROXY_LOGGING_ENDPOINT": fake.url})
    assert len(fake.requests) == 3
    assert [body.get("pageToken") for body in fake.requests] == [None, "1", "2"]
    for body in fake.requests:
        assert body["filter"] == FILTER
        assert body["resourceNames"] == ["projects/demo-project"]
        assert body["orderBy"] == "timestamp desc"
    assert len(got) == len(entries)
    times = [e.time for e in got if e.time]
    assert times == sorted(times)
    assert diagnose(got).findings[0].id == "dp-upgrade-403"


def test_limit_stops_reading() -> None:
    """--limit caps the entries read (the newest ones)."""
    entries = _entries("healthy.gcloud.json")
    with serve(paged([entries[:50], entries[50:100], entries[100:]])) as fake:
        query = CloudQuery("demo-project", "devproxy", SINCE, None, 60)
        got = read_entries(query, {"DEVPROXY_LOGGING_ENDPOINT": fake.url})
    assert len(got) == 60
    assert fake.requests[0]["pageSize"] == 60
    assert [e.insert_id for e in got] == [e["insertId"] for e in reversed(entries[:60])]


@pytest.mark.parametrize(
    ("status", "reason", "message", "hint"),
    [
        (403, "PERMISSION_DENIED", "The caller does not have permission", "roles/logging.viewer"),
        (403, "PERMISSION_DENIED", "Cloud Logging API has not been used in project 123 before or it is disabled.",
         "gcloud services enable logging.googleapis.com"),
        (401, "UNAUTHENTICATED", "Request had invalid authentication credentials.",
         "gcloud auth application-default login"),
    ],
)
def test_api_errors_become_cloud_errors_with_a_hint(status: int, reason: str, message: str, hint: str) -> None:
    """Permission denied, API disabled and bad credentials map to CloudError with an actionable hint."""
    with serve(error(status, reason, message)) as fake:
        query = CloudQuery("demo-project", "devproxy", SINCE)
        with pytest.raises(CloudLogsError) as info:
            read_entries(query, {"DEVPROXY_LOGGING_ENDPOINT": fake.url})
    assert isinstance(info.value, CloudError)
    assert info.value.hint is not None and hint in info.value.hint
    assert info.value.exit_code == 1


def test_missing_credentials_hint() -> None:
    """No application default credentials is a CloudError telling how to log in."""
    from google.auth.exceptions import DefaultCredentialsError

    with pytest.raises(CloudLogsError) as info, cloud_errors("p"):
        raise DefaultCredentialsError("Your default credentials were not found.")  # type: ignore[no-untyped-call]
    assert info.value.hint is not None and "gcloud auth application-default login" in info.value.hint
    assert isinstance(info.value.__cause__, DefaultCredentialsError)


def test_unreachable_endpoint_is_a_cloud_error() -> None:
    """A server that is not there is a CloudError, not a traceback."""
    with serve(paged([[]])) as fake:
        url = fake.url
    with pytest.raises(CloudLogsError) as info:
        read_entries(CloudQuery("p", "devproxy", SINCE), {"DEVPROXY_LOGGING_ENDPOINT": url})
    assert "could not reach the Cloud Logging API" in info.value.message


def test_follow_polls_with_a_moving_filter_and_no_duplicates() -> None:
    """Each poll asks from the newest timestamp seen; entries seen before are not returned again."""
    entries = sorted(_entries("blocked_loop.gcloud.json"), key=lambda e: e["timestamp"])
    first, second = entries[:20], entries[15:40]  # the second poll overlaps the first by five entries

    def respond(body: dict[str, Any], call: int) -> tuple[int, dict[str, Any]]:
        return 200, {"entries": [first, second, []][min(call, 2)]}

    sleeps: list[float] = []
    with serve(respond) as fake:
        query = CloudQuery("demo-project", "devproxy", SINCE, None)
        batches = list(
            poll_entries(query, {"DEVPROXY_LOGGING_ENDPOINT": fake.url}, interval_s=0.5, max_polls=3,
                         sleep=sleeps.append)
        )
    assert sleeps == [0.5, 0.5]
    assert [len(b) for b in batches] == [20, 20, 0]
    ids = [e.insert_id for batch in batches for e in batch]
    assert len(ids) == len(set(ids)) == 40
    assert fake.requests[0]["filter"].endswith('timestamp>="2026-11-30T03:00:00.000000Z"')
    assert fake.requests[1]["filter"].endswith(f'timestamp>="{first[-1]["timestamp"]}"')
    assert fake.requests[2]["filter"].endswith(f'timestamp>="{second[-1]["timestamp"]}"')
    assert all(body["orderBy"] == "timestamp asc" for body in fake.requests)


def _cli(*args: str, endpoint: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVPROXY_", "GOOGLE_", "CLOUDSDK_"))}
    env.update({"DEVPROXY_LOGGING_ENDPOINT": endpoint, "GOOGLE_CLOUD_PROJECT": "demo-project", "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, "-m", "devproxy", "logs", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_cli_diagnoses_cloud_logging() -> None:
    """`devproxy logs --diagnose --json` reads the service's logs from the endpoint and exits 1 on a cause."""
    entries = _entries("cloud_run_timeout.gcloud.json")
    with serve(paged([entries[:30], entries[30:]])) as fake:
        result = _cli("--service", "devproxy", "--region", "us-central1", "--since", "2h", "--diagnose", "--json",
                      "--no-service",
                      endpoint=fake.url)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["findings"][0]["id"] == "cloud-run-timeout"
    assert len(fake.requests) == 2
    body = fake.requests[0]
    assert body["resourceNames"] == ["projects/demo-project"]
    assert body["filter"].startswith(
        'resource.type="cloud_run_revision" AND resource.labels.service_name="devproxy" AND '
        'resource.labels.location="us-central1" AND timestamp>="'
    )


def test_cli_permission_denied_exits_1_with_hint() -> None:
    """A permission error prints one error line with the role to grant and exits 1 (the operation failed)."""
    with serve(error(403, "PERMISSION_DENIED", "The caller does not have permission")) as fake:
        result = _cli("--diagnose", endpoint=fake.url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: permission denied while trying to read the logs of project demo-project "
        "(grant your account roles/logging.viewer on the project)"
    )


def test_cli_follow_cloud_logging() -> None:
    """--follow --diagnose polls the endpoint a bounded number of times and reports what it found."""
    entries = sorted(_entries("key_expired.gcloud.json"), key=lambda e: e["timestamp"])

    def respond(body: dict[str, Any], call: int) -> tuple[int, dict[str, Any]]:
        return 200, {"entries": entries[: 10 * (call + 1)]}

    with serve(respond) as fake:
        result = _cli("--follow", "--diagnose", "--poll-interval", "0", "--max-polls", "5", "--no-service",
                      endpoint=fake.url)
    assert result.returncode == 1, result.stderr
    assert len(fake.requests) == 5
    assert " 1. CRITICAL Tailscale auth key expired, revoked or already used  [ts-key-expired]" in (
        result.stdout.splitlines()
    )
