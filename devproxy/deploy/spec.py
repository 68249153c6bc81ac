"""The Cloud Run service devproxy wants, as a `run_v2.Service` built from the config alone (pure).

Field choices follow DESIGN "What the field taught" 6: gen2, CPU always allocated (`cpu_idle`
explicit because `limits` are set) unless economy mode scales to zero, 3600 s request timeout,
session affinity, port `http1`, an HTTP startup probe on the readiness path, secrets only as
`secretKeyRef` (and none for Tailscale in keyless mode).
"""

from __future__ import annotations

from typing import Any

from google.api import launch_stage_pb2
from google.cloud import run_v2
from google.protobuf import duration_pb2

from devproxy import __version__
from devproxy.contract import ACCESS_TOKEN_ENV, AUTHKEY_ENV, READY_PATH
from devproxy.deploy.config import DeployConfig

PORT = 8080
HEALTH_PATH = "/_devproxy/health"
REQUEST_TIMEOUT_SECONDS = 3600
#: startup probe: period * threshold must stay <= 240 s (Cloud Run's limit).
STARTUP_PERIOD, STARTUP_THRESHOLD, STARTUP_TIMEOUT = 10, 24, 5
PROJECT_NUMBER_PLACEHOLDER = "PROJECT_NUMBER"
MANAGED_LABEL = ("managed-by", "devproxy")


def labels() -> dict[str, str]:
    """Labels on everything devproxy creates (label values allow no dots)."""
    return {MANAGED_LABEL[0]: MANAGED_LABEL[1], "devproxy-version": __version__.replace(".", "-")}


def iap_audience(cfg: DeployConfig, project_number: str | None) -> str:
    """The audience IAP puts in its JWT for a Cloud Run service."""
    number = project_number or PROJECT_NUMBER_PLACEHOLDER
    return f"/projects/{number}/locations/{cfg.region}/services/{cfg.service}"


def _secret_env(name: str, secret: str) -> run_v2.EnvVar:
    return run_v2.EnvVar(
        name=name,
        value_source=run_v2.EnvVarSource(
            secret_key_ref=run_v2.SecretKeySelector(secret=secret, version="latest")
        ),
    )


def env_vars(cfg: DeployConfig, project_number: str | None = None) -> list[run_v2.EnvVar]:
    """The container's environment: plain settings, and secrets as references only."""
    env = [
        run_v2.EnvVar(name="DEVPROXY_TARGET", value=cfg.target),
        run_v2.EnvVar(name="DEVPROXY_AUTH", value=cfg.auth),
    ]
    if cfg.keyless:
        # no stored secret: the runtime exchanges its own Google ID token for a key
        env.append(run_v2.EnvVar(name="DEVPROXY_TAILSCALE_CLIENT_ID", value=cfg.tailscale_client_id))
        env.append(run_v2.EnvVar(name="DEVPROXY_TAILSCALE_AUDIENCE", value=cfg.audience))
    else:
        env.append(_secret_env(AUTHKEY_ENV, cfg.authkey_secret))
    if cfg.tags:
        env.append(run_v2.EnvVar(name="DEVPROXY_TAILSCALE_TAGS", value=",".join(cfg.tags)))
    if cfg.auth == "token":
        env.append(_secret_env(ACCESS_TOKEN_ENV, cfg.token_secret))
    if cfg.auth == "iap":
        env.append(run_v2.EnvVar(name="DEVPROXY_IAP_AUDIENCE", value=iap_audience(cfg, project_number)))
    if cfg.routes:
        # the runtime's routes beside the target: PREFIX=URL pairs, comma-separated
        env.append(run_v2.EnvVar(name="DEVPROXY_ROUTES", value=",".join(f"{p}={u}" for p, u in cfg.routes)))
    if cfg.tailscale_hostname:
        env.append(run_v2.EnvVar(name="DEVPROXY_TAILSCALE_HOSTNAME", value=cfg.tailscale_hostname))
    if cfg.login_server:
        env.append(run_v2.EnvVar(name="DEVPROXY_TAILSCALE_LOGIN_SERVER", value=cfg.login_server))
    return env


#: the revision label naming the secret versions a revision reads (a new version rolls a revision).
SECRET_VERSIONS_LABEL = "devproxy-secrets"


def build_service(cfg: DeployConfig, image: str, project_number: str | None = None,
                  secret_versions: str | None = None) -> run_v2.Service:
    """The service as it is sent to `create_service` / `update_service` (without `name`)."""
    container = run_v2.Container(
        name="devproxy",
        image=image,
        ports=[run_v2.ContainerPort(name="http1", container_port=PORT)],
        env=env_vars(cfg, project_number),
        resources=run_v2.ResourceRequirements(
            limits={"cpu": cfg.cpu, "memory": cfg.memory},
            # economy: request-based billing (CPU throttled outside requests); else always allocated
            cpu_idle=cfg.economy,
            startup_cpu_boost=True,
        ),
        startup_probe=run_v2.Probe(
            http_get=run_v2.HTTPGetAction(path=READY_PATH, port=PORT),
            period_seconds=STARTUP_PERIOD,
            failure_threshold=STARTUP_THRESHOLD,
            timeout_seconds=STARTUP_TIMEOUT,
        ),
        liveness_probe=run_v2.Probe(
            http_get=run_v2.HTTPGetAction(path=HEALTH_PATH, port=PORT),
            period_seconds=30,
            failure_threshold=3,
            timeout_seconds=5,
        ),
    )
    revision_labels = labels()
    if secret_versions is not None:
        revision_labels[SECRET_VERSIONS_LABEL] = secret_versions
    template = run_v2.RevisionTemplate(
        labels=revision_labels,
        scaling=run_v2.RevisionScaling(
            min_instance_count=cfg.min_instances, max_instance_count=cfg.max_instances
        ),
        timeout=duration_pb2.Duration(seconds=REQUEST_TIMEOUT_SECONDS),
        service_account=cfg.service_account_email,
        containers=[container],
        execution_environment=run_v2.ExecutionEnvironment.EXECUTION_ENVIRONMENT_GEN2,
        session_affinity=True,
    )
    service = run_v2.Service(
        labels=labels(),
        ingress=run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL,
        template=template,
        # token/none: devproxy itself is the gate, so Cloud Run must let every caller in.
        invoker_iam_disabled=cfg.auth != "iap",
        iap_enabled=cfg.auth == "iap",
    )
    if cfg.auth == "iap":
        # IAP on Cloud Run is a preview feature at the time of writing.
        service.launch_stage = launch_stage_pb2.LaunchStage.BETA
    return service


def service_json(service: run_v2.Service) -> dict[str, Any]:
    """The spec as the REST API sees it (camelCase JSON), for dry-run output."""
    from google.protobuf import json_format

    data: dict[str, Any] = json_format.MessageToDict(run_v2.Service.pb(service))
    for container in data.get("template", {}).get("containers", []):
        # proto3 JSON leaves out a false bool; Cloud Run reads the absence as false, and the
        # reader of a dry run should see the choice spelled out.
        container.setdefault("resources", {}).setdefault("cpuIdle", False)
    return data
