"""Rows mined from Cloud Run's documentation and tailscaled's format strings, in the captures they come in.

Each row has its own sample line in logs_samples (test_catalog checks it is recognised as that row and
no other error); here the rows meet the symptoms they explain, so the first finding is the cause.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from devproxy.logs.catalog import CATALOG
from devproxy.logs.correlate import diagnose
from devproxy.logs.findings import Diagnosis
from devproxy.logs.logins import SIGNATURES as LOGINS
from devproxy.logs.platform import SIGNATURES as PLATFORM
from devproxy.logs.source import parse_line

T0 = datetime(2026, 12, 8, 1, tzinfo=timezone.utc)


def _when(at: float) -> str:
    return (T0 + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")


def rt(event: str, message: str, at: float, severity: str = "INFO", component: str = "supervisor",
       **fields: Any) -> str:
    """One line as devproxy's runtime writes it, `at` seconds after T0."""
    return json.dumps({"severity": severity, "message": message, "time": _when(at), "event": event,
                       "component": component, **fields})


def said(text: str, at: float) -> str:
    """A line tailscaled wrote, relayed by the runtime at INFO."""
    return rt("tailscaled.line", text, at, component="tailscaled")


def platform(text: str, at: float, severity: str = "ERROR") -> str:
    """One of Cloud Run's own entries (its system log), as `gcloud logging read --format=json` gives it."""
    return json.dumps({
        "logName": "projects/p/logs/run.googleapis.com%2Fvarlog%2Fsystem",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "devproxy"}},
        "timestamp": _when(at), "severity": severity, "insertId": f"s{at}", "textPayload": text,
    })


def request(status: int, at: float, latency: str = "0.01s") -> str:
    """One Cloud Run request-log entry."""
    return json.dumps({
        "logName": "projects/p/logs/run.googleapis.com%2Frequests",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "devproxy"}},
        "timestamp": _when(at), "severity": "ERROR" if status >= 500 else "INFO", "insertId": f"r{at}",
        "httpRequest": {"requestMethod": "GET", "requestUrl": "https://devproxy-abc-uc.a.run.app/", "status": status,
                        "latency": latency},
    })


def run(*lines: str) -> Diagnosis:
    entries = [parse_line(line) for line in lines]
    return diagnose([e for e in entries if e is not None])


def _tun_exit() -> tuple[str, ...]:
    return (
        rt("tailscaled.started", "tailscaled started (pid 7)", 0, pid=7),
        said('2026/12/08 01:00:01 wgengine.NewUserspaceEngine(tun "tailscale0") error: tstun.New("tailscale0"): '
             'CreateTUN("tailscale0") failed; /dev/net/tun does not exist', 1),
        rt("tailscaled.exited", "tailscaled exited with code 1", 1.5, "WARNING", returncode=1),
        rt("socks.connect_failed", "no SOCKS server answered at 127.0.0.1:1055", 3, "ERROR", component="proxy"),
    )


CASES = [
    ("image", (platform("Revision 'devproxy-00002-abc' is not ready and cannot serve traffic.", 1),
               platform("Image 'europe-west1-docker.pkg.dev/p/r/devproxy:v2' not found.", 1)),
     "cr-image-not-found", "cr-revision-not-ready"),
    ("quota", (platform("Quota violated: MemAllocPerProjectRegion requested: 85899345920 allowed: 42949672960", 1),
               platform("Revision 'devproxy-00002-abc' is not ready and cannot serve traffic.", 2)),
     "cr-quota", "cr-revision-not-ready"),
    ("h2c", (platform("upstream connect error or disconnect/reset before headers. reset reason: protocol error", 1),
             request(502, 1), request(502, 2)),
     "cr-h2c-mismatch", "cr-http-5xx"),
    ("tun", _tun_exit(), "ts-tun-unavailable", "dp-tailscaled-exited"),
    ("node-key", (said("2026/12/08 01:00:01 control: server reports new node key [AbCdE] has expired", 1),
                  rt("tailscale.up_failed", "tailscale up failed (exit 1): timeout waiting for Tailscale service to "
                     "enter a Running state", 30, "WARNING", returncode=1)),
     "ts-node-key-expired", "dp-tailscale-up-failed"),
    ("approval", (said("2026/12/08 01:00:01 Switching ipn state Starting -> NeedsMachineAuth (WantRunning=true, "
                       "nm=true)", 1),
                  rt("tailscale.backend_state", "BackendState NeedsMachineAuth", 2, "WARNING",
                     backend_state="NeedsMachineAuth")),
     "ts-machine-not-authorized", "dp-needs-login"),
    ("tls", (said("2026/12/08 01:00:01 health(warnable=tls-connection-failed): error: Tailscale could not establish "
                  "an encrypted connection with '\"controlplane.tailscale.com\"': x509: certificate signed by unknown "
                  "authority", 1),
             rt("tailscale.up_failed", "tailscale up failed (exit 1): context deadline exceeded", 30, "WARNING",
                returncode=1)),
     "ts-tls-failed", "dp-tailscale-up-failed"),
]


@pytest.mark.parametrize(("name", "lines", "first", "explained"), CASES, ids=[case[0] for case in CASES])
def test_a_mined_cause_ranks_above_the_symptom_it_explains(
        name: str, lines: tuple[str, ...], first: str, explained: str) -> None:
    """The documented or format-string cause is the first finding; the symptom in the capture is explained by it."""
    result = run(*lines)
    assert result.findings[0].id == first, [f.id for f in result.findings]
    by_id = {f.id: f for f in result.findings}
    assert explained in by_id, [f.id for f in result.findings]
    assert by_id[explained].explained_by


def test_the_revision_message_naming_its_reason_counts_as_that_reason() -> None:
    """gcloud's 'not ready ... Image not found' line is the missing image, not a bare 'revision not ready'."""
    result = run(platform("ERROR: (gcloud.run.deploy) Revision 'devproxy-00042-fow' is not ready and cannot serve "
                          "traffic. Image 'gcr.io/p/devproxy:latest' not found.", 1))
    assert [f.id for f in result.findings] == ["cr-image-not-found"]


def test_a_refused_key_is_not_called_device_approval() -> None:
    """A refused key's RegisterReq also says machineAuthorized=false: only the NeedsMachineAuth state means approval."""
    result = run(said("2026/12/08 01:00:01 control: RegisterReq: got response; nodeKeyExpired=false, "
                      "machineAuthorized=false; authURL=false", 1),
                 said("2026/12/08 01:00:01 Received error: invalid key: API key does not exist", 1))
    ids = [f.id for f in result.findings]
    assert "ts-machine-not-authorized" not in ids
    assert ids[0] == "ts-key-expired"


def test_mined_rows_cite_a_page_or_format_string() -> None:
    """Every mined row names where its text comes from: a documentation page, a report, or tailscale's file@version."""
    mined = [sig for sig in CATALOG if sig in PLATFORM or sig in LOGINS or sig.id.startswith("ts-")]
    assert len(mined) >= 40
    for sig in mined:
        assert sig.link or sig.reference.startswith("devproxy/"), sig.id
        if sig.id.startswith("ts-") and "v1.102" in sig.reference:
            assert "tailscale/tailscale" in sig.reference, sig.id
