"""What a Cloud Run service's own settings get wrong for devproxy, whatever its logs say.

Pure: a `ServiceView` (the few settings that matter, read by `service_read`) in, findings out.
Each finding quotes the setting as its evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

from devproxy.logs.findings import Finding

MAX_TIMEOUT_S = 3600.0
_REF_RUN = "field-notes §2; cloud.google.com/run/docs/triggering/websockets"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """An env var filled from Secret Manager, and the state of the version it names."""

    env: str
    secret: str
    version: str
    state: str  # ENABLED | DISABLED | DESTROYED | "" when not read


@dataclass(frozen=True, slots=True)
class ServiceView:
    """The settings of one Cloud Run service that decide whether devproxy can work."""

    name: str
    timeout_s: float | None  # None: not set (Cloud Run's default, 300 s)
    cpu_idle: bool  # True: CPU only during requests (throttled outside them)
    min_instances: int
    execution_environment: str  # EXECUTION_ENVIRONMENT_GEN1 | _GEN2 | "" (unspecified)
    port_name: str  # http1 | h2c | ""
    startup_probe: str  # "http" | "tcp" | "grpc" | "" (none: Cloud Run's default TCP probe)
    secrets: tuple[SecretRef, ...] = ()


def _finding(
    id: str, severity: str, title: str, cause: str, fix: str, evidence: str, name: str
) -> Finding:
    return Finding(
        id=id,
        title=title,
        severity=severity,
        cause=cause,
        fix=fix,
        reference=_REF_RUN,
        layer="cloudrun",
        role="root",
        count=1,
        first_seen=None,
        last_seen=None,
        examples=(f"service {name}: {evidence}",),
        evidence=(evidence,),
    )


def check_service(view: ServiceView) -> tuple[Finding, ...]:
    """Findings for every setting of `view` that breaks or degrades devproxy."""
    out: list[Finding] = []
    timeout = view.timeout_s if view.timeout_s is not None else 300.0
    if timeout < MAX_TIMEOUT_S:
        shown = f"{timeout:g}s" + ("" if view.timeout_s is not None else " (default)")
        out.append(_finding(
            "svc-request-timeout", "error", f"Request timeout is {shown}: WebSockets are cut that often",
            "WebSockets are requests under the service's request timeout, so every VS Code session drops "
            f"after {timeout:g} s.",
            "Set the request timeout to 3600s: devproxy deploy, or gcloud run services update <svc> --timeout=3600.",
            f"template.timeout = {shown}", view.name,
        ))
    if view.port_name.lower() == "h2c":
        out.append(_finding(
            "svc-h2c", "critical", "The container port is h2c (end-to-end HTTP/2): WebSockets cannot upgrade",
            "With an h2c port Cloud Run speaks HTTP/2 to the container; devproxy serves HTTP/1.1 and WebSocket "
            "upgrades need HTTP/1.1.",
            "Name the port http1: devproxy deploy, or gcloud run services update <svc> --no-use-http2.",
            "template.containers[0].ports[0].name = h2c", view.name,
        ))
    if view.cpu_idle and view.min_instances >= 1:
        out.append(_finding(
            "svc-cpu-throttled", "error", "CPU is throttled outside requests while an instance is kept warm",
            "With request-based billing tailscaled gets no CPU between requests: its DERP and map polls time "
            "out and the first dial after a pause fails, although min instances keeps the instance (and its "
            "cost) around.",
            "Use instance-based billing: devproxy deploy, or gcloud run services update <svc> --no-cpu-throttling.",
            f"template.containers[0].resources.cpuIdle = true, template.scaling.minInstanceCount = "
            f"{view.min_instances}", view.name,
        ))
    elif view.cpu_idle:
        out.append(_finding(
            "svc-scale-to-zero", "warning", "Scales to zero with CPU throttled: every cold start logs in again",
            "With no warm instance each first request waits for tailscaled to start and log in, and between "
            "requests tailscaled is frozen, so idle tunnels go stale.",
            "For a steady editor session keep one instance with CPU always allocated (devproxy deploy's "
            "defaults); keep scale-to-zero only if slow first requests are acceptable.",
            "template.containers[0].resources.cpuIdle = true, template.scaling.minInstanceCount = 0", view.name,
        ))
    if view.execution_environment.endswith("GEN1"):
        out.append(_finding(
            "svc-gen1", "warning", "The service runs in the gen1 (gVisor) execution environment",
            "gen1 emulates system calls: tailscaled falls back to polling routes, and the network is slower "
            "under packet loss.",
            "Ask for gen2: devproxy deploy, or gcloud run services update <svc> --execution-environment=gen2.",
            f"template.executionEnvironment = {view.execution_environment}", view.name,
        ))
    if view.startup_probe != "http":
        what = view.startup_probe or "none (Cloud Run's default TCP probe)"
        out.append(_finding(
            "svc-startup-probe", "warning", "No HTTP startup probe on the readiness path",
            "Without it Cloud Run sends traffic as soon as the port is open, before tailscaled is Running, so "
            "the first requests of every instance fail.",
            "Add an HTTP startup probe on /_devproxy/ready (devproxy deploy does).",
            f"template.containers[0].startupProbe = {what}", view.name,
        ))
    for ref in view.secrets:
        if ref.state in ("DISABLED", "DESTROYED"):
            out.append(_finding(
                "svc-secret-version", "critical",
                f"Secret {ref.secret} version {ref.version} is {ref.state.lower()}",
                f"The env var {ref.env} comes from a secret version that cannot be read, so new instances "
                "fail to start.",
                "Add a new version (devproxy deploy rotates the key) or point the reference at an enabled one.",
                f"{ref.env} <- secret {ref.secret} version {ref.version}: {ref.state}", view.name,
            ))
    return tuple(out)
