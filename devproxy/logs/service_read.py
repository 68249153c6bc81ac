"""Read a Cloud Run service (and the state of the secret versions it uses) into a `ServiceView`.

The adapter for `service`: google-cloud-run and google-cloud-secret-manager, built with the
shared endpoint settings of `devproxy.gcp`. Library errors become `ServiceReadError` here;
diagnosis goes on without the settings when they cannot be read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from devproxy.errors import CloudError
from devproxy.gcp import client_settings
from devproxy.gcp_errors import cloud_errors as google_errors
from devproxy.logs.service import SecretRef, ServiceView


class ServiceReadError(CloudError):
    """The Cloud Run service's settings could not be read (diagnosis continues without them)."""


@contextmanager
def _errors(doing: str) -> Iterator[None]:
    """Google's errors as `ServiceReadError`s that say what to do (through the shared seam)."""
    with google_errors("RUN", doing, error=ServiceReadError, role="roles/run.viewer"):
        yield


def _has(message: Any, name: str) -> bool:
    return bool(type(message).pb(message).HasField(name))


def view_of(service: Any, states: Mapping[tuple[str, str], str] | None = None) -> ServiceView:
    """The settings that matter of a `run_v2.Service`; `states` maps (secret, version) to its state."""
    from google.cloud import run_v2

    template = service.template
    container = template.containers[0] if template.containers else run_v2.Container()
    timeout = template.timeout.total_seconds() if _has(template, "timeout") else None
    cpu_idle = container.resources.cpu_idle if _has(container, "resources") else True
    min_instances = max(template.scaling.min_instance_count, service.scaling.min_instance_count)
    probe = ""
    if _has(container, "startup_probe"):
        probe = next(
            (kind for kind, field in (("http", "http_get"), ("tcp", "tcp_socket"), ("grpc", "grpc"))
             if _has(container.startup_probe, field)),
            "",
        )
    refs: list[SecretRef] = []
    for var in container.env:
        if _has(var, "value_source") and _has(var.value_source, "secret_key_ref"):
            ref = var.value_source.secret_key_ref
            version = ref.version or "latest"
            refs.append(SecretRef(var.name, ref.secret, version, (states or {}).get((ref.secret, version), "")))
    environment = run_v2.ExecutionEnvironment(template.execution_environment).name
    return ServiceView(
        name=service.name.rsplit("/", 1)[-1],
        timeout_s=timeout,
        cpu_idle=bool(cpu_idle),
        min_instances=int(min_instances),
        execution_environment="" if environment.endswith("UNSPECIFIED") else environment,
        port_name=container.ports[0].name if container.ports else "",
        startup_probe=probe,
        secrets=tuple(refs),
    )


def _secret_version_name(project: str, secret: str, version: str) -> str:
    base = secret if secret.startswith("projects/") else f"projects/{project}/secrets/{secret}"
    return f"{base}/versions/{version}"


def read_service(project: str, service: str, region: str | None, env: Mapping[str, str]) -> ServiceView:
    """The service's settings (in `region`, or found in any region) with its secret versions' states.

    Raises:
        ServiceReadError: the service or a secret version cannot be read.
    """
    from google.cloud import run_v2, secretmanager_v1

    with _errors(f"read Cloud Run service {service}"):
        client = run_v2.ServicesClient(**client_settings("RUN", env).gapic_kwargs())
        found: run_v2.Service | None
        if region:
            found = client.get_service(name=f"projects/{project}/locations/{region}/services/{service}")
        else:
            found = next(
                (s for s in client.list_services(parent=f"projects/{project}/locations/-")
                 if s.name.rsplit("/", 1)[-1] == service),
                None,
            )
            if found is None:
                raise ServiceReadError(f"cannot read Cloud Run service {service}: not found in any region")
    states: dict[tuple[str, str], str] = {}
    refs = view_of(found).secrets
    if refs:
        with _errors("read the service's secret versions"):
            secrets = secretmanager_v1.SecretManagerServiceClient(
                **client_settings("SECRETMANAGER", env).gapic_kwargs()
            )
            for ref in refs:
                version = secrets.get_secret_version(name=_secret_version_name(project, ref.secret, ref.version))
                states[(ref.secret, ref.version)] = secretmanager_v1.SecretVersion.State(version.state).name
    return view_of(found, states)
