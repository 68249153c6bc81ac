"""The Cloud Run service spec built from config (pure)."""

from __future__ import annotations

import pytest
from google.cloud import run_v2

from devproxy.deploy.config import merge
from devproxy.deploy.spec import build_service, service_json


def cfg_for(**extra: str):
    return merge([("flag", {"project": "p", "target": "http://100.84.184.84:8888", "region": "r", **extra})])


def env_of(service: run_v2.Service) -> dict[str, object]:
    out: dict[str, object] = {}
    for env in service.template.containers[0].env:
        ref = env.value_source.secret_key_ref
        out[env.name] = ("secret", ref.secret, ref.version) if ref.secret else env.value
    return out


def test_spec_fields_from_field_notes() -> None:
    """gen2, 3600 s, affinity, cpu always on, http1:8080, readiness startup probe within 240 s."""
    svc = build_service(cfg_for(), "img@sha256:abc")
    t = svc.template
    c = t.containers[0]
    assert t.execution_environment == run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN2
    assert t.timeout.seconds == 3600 and t.session_affinity is True
    assert (t.scaling.min_instance_count, t.scaling.max_instance_count) == (1, 1)
    assert t.service_account == "devproxy-runtime@p.iam.gserviceaccount.com"
    assert dict(c.resources.limits) == {"cpu": "1", "memory": "512Mi"}
    assert c.resources.cpu_idle is False and c.resources.startup_cpu_boost is True
    assert [(p.name, p.container_port) for p in c.ports] == [("http1", 8080)]
    probe = c.startup_probe
    assert probe.http_get.path == "/_devproxy/ready"
    assert probe.period_seconds * probe.failure_threshold <= 240
    assert c.liveness_probe.http_get.path == "/_devproxy/health"
    assert svc.labels["managed-by"] == "devproxy"
    assert not any(k.startswith(("run.googleapis.com", "autoscaling.knative.dev")) for k in t.annotations)


@pytest.mark.parametrize(
    ("auth", "env", "invoker_disabled", "iap"),
    [
        ("token", {"DEVPROXY_TARGET": "http://100.84.184.84:8888", "DEVPROXY_AUTH": "token",
                   "TS_AUTHKEY": ("secret", "devproxy-ts-authkey", "latest"),
                   "DEVPROXY_ACCESS_TOKEN": ("secret", "devproxy-access-token", "latest")}, True, False),
        ("iap", {"DEVPROXY_TARGET": "http://100.84.184.84:8888", "DEVPROXY_AUTH": "iap",
                 "TS_AUTHKEY": ("secret", "devproxy-ts-authkey", "latest"),
                 "DEVPROXY_IAP_AUDIENCE": "/projects/PROJECT_NUMBER/locations/r/services/devproxy"}, False, True),
        ("none", {"DEVPROXY_TARGET": "http://100.84.184.84:8888", "DEVPROXY_AUTH": "none",
                  "TS_AUTHKEY": ("secret", "devproxy-ts-authkey", "latest")}, True, False),
    ],
)
def test_spec_per_auth_mode(auth: str, env: dict, invoker_disabled: bool, iap: bool) -> None:
    """Secrets are secretKeyRef only; public invoker in token/none, IAP on in iap mode."""
    svc = build_service(cfg_for(auth=auth), "img")
    assert env_of(svc) == env
    assert svc.invoker_iam_disabled is invoker_disabled
    assert svc.iap_enabled is iap


def test_iap_audience_uses_project_number() -> None:
    """Once the project number is known, the IAP audience carries it."""
    svc = build_service(cfg_for(auth="iap"), "img", project_number="123456")
    assert env_of(svc)["DEVPROXY_IAP_AUDIENCE"] == "/projects/123456/locations/r/services/devproxy"


def test_service_json_shows_references_and_cpu_idle() -> None:
    """The dry-run JSON names enums, spells out cpuIdle false and holds secret references."""
    data = service_json(build_service(cfg_for(tailscale_hostname="cloudrun-ide"), "img"))
    container = data["template"]["containers"][0]
    assert container["resources"]["cpuIdle"] is False
    assert data["template"]["executionEnvironment"] == "EXECUTION_ENVIRONMENT_GEN2"
    assert {"name": "TS_AUTHKEY", "valueSource": {"secretKeyRef": {"secret": "devproxy-ts-authkey",
                                                                   "version": "latest"}}} in container["env"]
    assert {"name": "DEVPROXY_TAILSCALE_HOSTNAME", "value": "cloudrun-ide"} in container["env"]
