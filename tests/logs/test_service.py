"""The Cloud Run service's own settings as findings: pure checks, and the real clients against the fake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_logging import paged, serve

from devproxy.logs.service import SecretRef, ServiceView, check_service
from devproxy.logs.service_read import ServiceReadError, read_service
from tests.deploy.fake_gcp import PROJECT, FakeGoogle, FakeServer, Secret

DATA = Path(__file__).parent / "data"
REGION = "us-central1"
NAME = f"projects/{PROJECT}/locations/{REGION}/services/devproxy"
GOOD = ServiceView("devproxy", 3600.0, False, 1, "EXECUTION_ENVIRONMENT_GEN2", "http1", "http",
                   (SecretRef("TS_AUTHKEY", "ts-authkey", "latest", "ENABLED"),))


def _view(**changes: Any) -> ServiceView:
    values = {field: getattr(GOOD, field) for field in GOOD.__dataclass_fields__}
    values.update(changes)
    return ServiceView(**values)


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (GOOD, {}),
        (_view(timeout_s=300.0), {"svc-request-timeout": "error"}),
        (_view(timeout_s=None), {"svc-request-timeout": "error"}),
        (_view(cpu_idle=True), {"svc-cpu-throttled": "error"}),
        (_view(cpu_idle=True, min_instances=0), {"svc-scale-to-zero": "warning"}),
        (_view(min_instances=0), {}),
        (_view(port_name="h2c"), {"svc-h2c": "critical"}),
        (_view(execution_environment="EXECUTION_ENVIRONMENT_GEN1"), {"svc-gen1": "warning"}),
        (_view(execution_environment=""), {}),
        (_view(startup_probe=""), {"svc-startup-probe": "warning"}),
        (_view(startup_probe="tcp"), {"svc-startup-probe": "warning"}),
        (_view(secrets=(SecretRef("TS_AUTHKEY", "ts-authkey", "3", "DESTROYED"),)), {"svc-secret-version": "critical"}),
        (_view(secrets=(SecretRef("TS_AUTHKEY", "ts-authkey", "latest", "DISABLED"),)), {"svc-secret-version": "critical"}),
    ],
)
def test_each_bad_setting_is_one_finding(view: ServiceView, expected: dict[str, str]) -> None:
    """Every setting that breaks devproxy gives one finding of its severity, quoting the setting."""
    findings = check_service(view)
    assert {f.id: f.severity for f in findings} == expected
    for finding in findings:
        assert finding.evidence and finding.evidence[0] in finding.examples[0]
        assert finding.cause and finding.fix and finding.role == "root"


def test_timeout_evidence_quotes_the_setting() -> None:
    """The timeout finding names the configured value (or Cloud Run's default when unset)."""
    assert check_service(_view(timeout_s=900.0))[0].evidence == ("template.timeout = 900s",)
    assert check_service(_view(timeout_s=None))[0].evidence == ("template.timeout = 300s (default)",)


def _service_json(**container: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "image": "us-docker.pkg.dev/demo/devproxy@sha256:" + "a" * 64,
        "ports": [{"name": "http1", "containerPort": 8080}],
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "cpuIdle": False},
        "startupProbe": {"httpGet": {"path": "/_devproxy/ready"}, "periodSeconds": 5, "failureThreshold": 24},
        "env": [
            {"name": "TS_AUTHKEY", "valueSource": {"secretKeyRef": {"secret": "ts-authkey", "version": "latest"}}},
            {"name": "DEVPROXY_TARGET", "value": "http://devbox:8888"},
        ],
    }
    base.update(container)
    return {
        "name": NAME,
        "template": {
            "timeout": "3600s",
            "executionEnvironment": "EXECUTION_ENVIRONMENT_GEN2",
            "scaling": {"minInstanceCount": 1, "maxInstanceCount": 1},
            "containers": [base],
        },
    }


@pytest.fixture
def google() -> Iterator[tuple[FakeGoogle, dict[str, str]]]:
    server = FakeServer()
    with server as fake:
        fake.secrets["ts-authkey"] = Secret({"name": "projects/123456789012/secrets/ts-authkey"}, [b"k1", b"k2"])
        yield fake, server.env()


def test_read_service_through_the_real_clients(google: tuple[FakeGoogle, dict[str, str]]) -> None:
    """google-cloud-run and Secret Manager over REST give the settings and the secret version's state."""
    fake, env = google
    fake.services[NAME] = _service_json()
    assert read_service(PROJECT, "devproxy", REGION, env) == GOOD
    assert fake.requests[0].path == f"/v2/{NAME}"
    assert fake.requests[1].path == f"/v1/projects/{PROJECT}/secrets/ts-authkey/versions/latest"


def test_bad_service_read_and_checked(google: tuple[FakeGoogle, dict[str, str]]) -> None:
    """A service with every mistake, found in any region, yields every finding."""
    fake, env = google
    service = _service_json(ports=[{"name": "h2c", "containerPort": 8080}], resources={"cpuIdle": True})
    del service["template"]["containers"][0]["startupProbe"]
    service["template"].update(timeout="300s", executionEnvironment="EXECUTION_ENVIRONMENT_GEN1")
    fake.services[NAME] = service
    fake.secrets["ts-authkey"].states[2] = "DESTROYED"
    view = read_service(PROJECT, "devproxy", None, env)
    assert fake.requests[0].path == f"/v2/projects/{PROJECT}/locations/-/services"
    assert {f.id for f in check_service(view)} == {
        "svc-request-timeout", "svc-h2c", "svc-cpu-throttled", "svc-gen1", "svc-startup-probe", "svc-secret-version",
    }


def test_missing_service_is_a_read_error(google: tuple[FakeGoogle, dict[str, str]]) -> None:
    """A service that does not exist is one ServiceReadError, in a region or in none."""
    _, env = google
    with pytest.raises(ServiceReadError, match="failed to read Cloud Run service nope: Resource 'nope' .* does not exist"):
        read_service(PROJECT, "nope", REGION, env)
    with pytest.raises(ServiceReadError, match="not found in any region"):
        read_service(PROJECT, "nope", None, env)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEVPROXY_", "GOOGLE_", "CLOUDSDK_"))}
    base.update({"GOOGLE_CLOUD_PROJECT": PROJECT, "COLUMNS": "200", "NO_COLOR": "1", **env})
    return subprocess.run([sys.executable, "-m", "devproxy", "logs", *args], capture_output=True, text=True,
                          env=base, timeout=60)


def test_cli_reports_the_service_settings_with_the_logs(google: tuple[FakeGoogle, dict[str, str]]) -> None:
    """--diagnose from Cloud Logging also reads the service: healthy logs, a 300 s timeout, exit 1."""
    fake, env = google
    service = _service_json()
    service["template"]["timeout"] = "300s"
    fake.services[NAME] = service
    entries = json.loads((DATA / "healthy.gcloud.json").read_text())
    with serve(paged([entries])) as logging:
        result = _cli("--region", REGION, "--diagnose", "--json",
                      env={**env, "DEVPROXY_LOGGING_ENDPOINT": logging.url})
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert findings[0]["id"] == "svc-request-timeout"
    assert findings[0]["evidence"] == ["template.timeout = 300s"]
    assert {"severity", "title", "cause", "fix", "evidence"} <= set(findings[0])


def test_cli_no_service_and_files_never_read_the_service(google: tuple[FakeGoogle, dict[str, str]]) -> None:
    """--no-service skips the Cloud Run read; a file never touches Google Cloud at all."""
    fake, env = google
    fake.services[NAME] = _service_json()
    entries = json.loads((DATA / "healthy.gcloud.json").read_text())
    with serve(paged([entries])) as logging:
        skipped = _cli("--region", REGION, "--diagnose", "--no-service",
                       env={**env, "DEVPROXY_LOGGING_ENDPOINT": logging.url})
    from_file = _cli("--file", str(DATA / "healthy.gcloud.json"), "--diagnose", env=env)
    assert skipped.returncode == 0, skipped.stderr
    assert from_file.returncode == 0, from_file.stderr
    assert fake.requests == []


def test_cli_unreadable_service_warns_and_still_diagnoses(google: tuple[FakeGoogle, dict[str, str]]) -> None:
    """When the service cannot be read the logs are still diagnosed, with one warning line."""
    _, env = google
    entries = json.loads((DATA / "healthy.gcloud.json").read_text())
    with serve(paged([entries])) as logging:
        result = _cli("--region", REGION, "--diagnose", "--service", "gone",
                      env={**env, "DEVPROXY_LOGGING_ENDPOINT": logging.url})
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [
        "warning: service settings not checked: Cloud Run Admin API failed to read Cloud Run service gone: "
        "Resource 'gone' of kind 'SERVICE' in region 'us-central1' in project 'demo-proj' does not exist."
    ]
    assert "No error found." in result.stdout


def test_cli_follow_reports_the_settings_first(google: tuple[FakeGoogle, dict[str, str]]) -> None:
    """--follow --diagnose --json prints the service's findings before any entry, then the logs' own."""
    fake, env = google
    service = _service_json()
    service["template"]["containers"][0]["ports"] = [{"name": "h2c", "containerPort": 8080}]
    fake.services[NAME] = service
    entries = sorted(json.loads((DATA / "key_expired.gcloud.json").read_text()), key=lambda e: e["timestamp"])
    with serve(paged([entries])) as logging:
        result = _cli("--region", REGION, "--follow", "--diagnose", "--json", "--poll-interval", "0",
                      "--max-polls", "1", env={**env, "DEVPROXY_LOGGING_ENDPOINT": logging.url})
    assert result.returncode == 1, result.stderr
    ids = [json.loads(line)["finding"]["id"] for line in result.stdout.splitlines()]
    assert ids[0] == "svc-h2c" and "tailnet-down" in ids
