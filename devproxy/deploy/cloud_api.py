"""The adapter over Google Cloud: every client deploy uses is built here, every call mapped here.

Clients honour `DEVPROXY_<API>_ENDPOINT` through `devproxy.gcp.client_settings`. APIs without a
usable client library (IAM service accounts, IAP's policy, Run v1 domain mappings) are called
over REST in `rest_api.RestApis`; Cloud Storage's handwritten client takes its own kwargs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from devproxy.gcp_errors import cloud_errors
from devproxy.deploy.config import DeployConfig
from devproxy.deploy.rest_api import CLOUD_PLATFORM, RestApis
from devproxy.errors import CloudError
from devproxy.gcp import client_settings

if TYPE_CHECKING:
    from google.api_core.operation import Operation
    from google.cloud import run_v2
    from google.cloud.devtools import cloudbuild_v1
    from google.iam.v1 import policy_pb2

Progress = Callable[[str], None]
#: bound on one long-running operation (a Cloud Run revision becoming ready, a repository).
OPERATION_SECONDS = 900.0
#: how long IAM may take to learn about a service account created moments ago.
IAM_PROPAGATION_SECONDS = 60.0


class Cloud(RestApis):
    """Typed, error-mapped calls for one project; clients are built on first use."""

    def __init__(self, cfg: DeployConfig, env: Mapping[str, str],
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.cfg = cfg
        self.env = dict(env)
        self.sleep = sleep

    def _errors(self, api: str, doing: str) -> Any:
        return cloud_errors(api, doing, self.cfg.project)

    # -- clients ---------------------------------------------------------------------------
    @cached_property
    def _run(self) -> Any:
        from google.cloud import run_v2

        with self._errors("RUN", "create the Cloud Run client"):
            return run_v2.ServicesClient(**client_settings("RUN", self.env).gapic_kwargs())

    @cached_property
    def _secrets(self) -> Any:
        from google.cloud import secretmanager_v1

        with self._errors("SECRETMANAGER", "create the Secret Manager client"):
            return secretmanager_v1.SecretManagerServiceClient(
                **client_settings("SECRETMANAGER", self.env).gapic_kwargs()
            )

    @cached_property
    def _registry(self) -> Any:
        from google.cloud import artifactregistry_v1

        with self._errors("ARTIFACTREGISTRY", "create the Artifact Registry client"):
            return artifactregistry_v1.ArtifactRegistryClient(
                **client_settings("ARTIFACTREGISTRY", self.env).gapic_kwargs()
            )

    @cached_property
    def _build(self) -> Any:
        from google.cloud.devtools import cloudbuild_v1

        with self._errors("CLOUDBUILD", "create the Cloud Build client"):
            return cloudbuild_v1.CloudBuildClient(**client_settings("CLOUDBUILD", self.env).gapic_kwargs())

    @cached_property
    def _projects(self) -> Any:
        from google.cloud import resourcemanager_v3

        with self._errors("RESOURCEMANAGER", "create the Resource Manager client"):
            return resourcemanager_v3.ProjectsClient(**client_settings("RESOURCEMANAGER", self.env).gapic_kwargs())

    @cached_property
    def _storage(self) -> Any:
        from google.cloud import storage  # type: ignore[attr-defined]

        settings = client_settings("STORAGE", self.env)
        kwargs: dict[str, Any] = {"project": self.cfg.project}
        if settings.endpoint:
            kwargs["client_options"] = {"api_endpoint": settings.endpoint}
        if settings.anonymous:
            from google.auth.credentials import AnonymousCredentials

            kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
        with self._errors("STORAGE", "create the Cloud Storage client"):
            return storage.Client(**kwargs)

    # -- the project ---------------------------------------------------------------------------------
    def project_number(self) -> str:
        """The project's number (IAP's audience and service agent are spelled with it)."""
        with self._errors("RESOURCEMANAGER", f"read project {self.cfg.project}"):
            name = str(self._projects.get_project(name=f"projects/{self.cfg.project}").name)
        return name.removeprefix("projects/")

    # -- Secret Manager --------------------------------------------------------------------------
    def _secret_path(self, secret_id: str) -> str:
        return f"projects/{self.cfg.project}/secrets/{secret_id}"

    def secret_exists(self, secret_id: str) -> bool:
        from google.api_core import exceptions as gexc

        with self._errors("SECRETMANAGER", f"read secret {secret_id}"):
            try:
                self._secrets.get_secret(name=self._secret_path(secret_id))
            except gexc.NotFound:
                return False
        return True

    def create_secret(self, secret_id: str, labels: Mapping[str, str]) -> None:
        from google.cloud import secretmanager_v1

        secret = secretmanager_v1.Secret(
            replication=secretmanager_v1.Replication(automatic=secretmanager_v1.Replication.Automatic()),
            labels=dict(labels),
        )
        with self._errors("SECRETMANAGER", f"create secret {secret_id}"):
            self._secrets.create_secret(parent=f"projects/{self.cfg.project}", secret_id=secret_id, secret=secret)

    def latest_secret_value(self, secret_id: str) -> str | None:
        """The latest version's payload, or None when the secret has no enabled version."""
        from google.api_core import exceptions as gexc

        with self._errors("SECRETMANAGER", f"read the latest version of secret {secret_id}"):
            try:
                version = self._secrets.access_secret_version(
                    name=f"{self._secret_path(secret_id)}/versions/latest"
                )
            except (gexc.NotFound, gexc.FailedPrecondition):
                return None
        return bytes(version.payload.data).decode("utf-8")

    def latest_version(self, secret_id: str) -> int | None:
        """The number of the secret's latest version when it is enabled, else None (metadata only:
        read-only access suffices)."""
        from google.api_core import exceptions as gexc

        with self._errors("SECRETMANAGER", f"read the latest version of secret {secret_id}"):
            try:
                version = self._secrets.get_secret_version(name=f"{self._secret_path(secret_id)}/versions/latest")
            except (gexc.NotFound, gexc.FailedPrecondition):
                return None
        number = str(version.name).rsplit("/", 1)[-1]
        return int(number) if version.state.name == "ENABLED" and number.isdigit() else None

    def add_secret_version(self, secret_id: str, value: str) -> None:
        import google_crc32c

        data = value.encode("utf-8")
        with self._errors("SECRETMANAGER", f"add a version to secret {secret_id}"):
            self._secrets.add_secret_version(
                parent=self._secret_path(secret_id),
                payload={"data": data, "data_crc32c": int(google_crc32c.value(data))},
            )

    def secret_members(self, secret_id: str, role: str) -> frozenset[str]:
        with self._errors("SECRETMANAGER", f"read the IAM policy of secret {secret_id}"):
            policy = self._secrets.get_iam_policy(request={"resource": self._secret_path(secret_id)})
        return _members(policy, role)

    def add_secret_member(self, secret_id: str, role: str, member: str) -> None:
        """Bind `member` to `role` on the secret, waiting out IAM's delay for a new service account."""
        from google.api_core import retry

        resource = self._secret_path(secret_id)

        def bind() -> None:
            policy = self._secrets.get_iam_policy(request={"resource": resource})
            if _add_member(policy, role, member):
                self._secrets.set_iam_policy(request={"resource": resource, "policy": policy})

        # a service account created seconds ago is not yet visible to IAM everywhere
        unknown_account = retry.Retry(predicate=_account_not_yet_known, initial=1.0, multiplier=2.0,
                                      maximum=8.0, timeout=IAM_PROPAGATION_SECONDS)
        with self._errors("SECRETMANAGER", f"grant {role} on secret {secret_id}"):
            unknown_account(bind)()

    # -- Artifact Registry and Cloud Storage ---------------------------------------------------------
    def _repository_name(self) -> str:
        return f"{self.cfg.parent}/repositories/{self.cfg.repository}"

    def repository_exists(self) -> bool:
        from google.api_core import exceptions as gexc

        with self._errors("ARTIFACTREGISTRY", f"read repository {self.cfg.repository}"):
            try:
                self._registry.get_repository(name=self._repository_name())
            except gexc.NotFound:
                return False
        return True

    def create_repository(self, labels: Mapping[str, str], progress: Progress) -> None:
        from google.cloud import artifactregistry_v1

        repository = artifactregistry_v1.Repository(
            format_=artifactregistry_v1.Repository.Format.DOCKER,
            description="Images built by devproxy deploy",
            labels=dict(labels),
        )
        with self._errors("ARTIFACTREGISTRY", f"create repository {self.cfg.repository}"):
            op = self._registry.create_repository(
                parent=self.cfg.parent, repository_id=self.cfg.repository, repository=repository
            )
            self.wait(op, f"creating repository {self.cfg.repository}", progress)

    def find_image(self, tag: str) -> str | None:
        """`repository@sha256:...` when the image tag is already in Artifact Registry."""
        from google.api_core import exceptions as gexc

        repository = f"{self.cfg.image_repository}"
        name = f"{self._repository_name()}/packages/{self.cfg.service}/tags/{tag}"
        with self._errors("ARTIFACTREGISTRY", f"look up image tag {tag}"):
            try:
                found = self._registry.get_tag(name=name)
            except gexc.NotFound:
                return None
        digest = str(found.version).rsplit("/", 1)[-1]
        return f"{repository}@{digest}" if digest.startswith("sha256:") else None

    def bucket_exists(self, bucket: str) -> bool:
        with self._errors("STORAGE", f"read bucket gs://{bucket}"):
            return self._storage.lookup_bucket(bucket) is not None

    def create_bucket(self, bucket: str, labels: Mapping[str, str]) -> None:
        with self._errors("STORAGE", f"create bucket gs://{bucket}"):
            created = self._storage.bucket(bucket)
            created.labels = dict(labels)
            created.iam_configuration.uniform_bucket_level_access_enabled = True
            self._storage.create_bucket(created, location=self.cfg.region)

    def upload(self, bucket: str, name: str, data: bytes, content_type: str) -> None:
        with self._errors("STORAGE", f"upload gs://{bucket}/{name}"):
            self._storage.bucket(bucket).blob(name).upload_from_string(data, content_type=content_type)

    def read_object(self, bucket: str, name: str, start: int) -> bytes:
        """Bytes of an object from `start` on; empty when it does not exist (yet)."""
        from google.api_core import exceptions as gexc

        with self._errors("STORAGE", f"read gs://{bucket}/{name}"):
            try:
                return bytes(self._storage.bucket(bucket).blob(name).download_as_bytes(start=start))
            except (gexc.NotFound, gexc.RequestRangeNotSatisfiable):
                return b""

    # -- Cloud Build ---------------------------------------------------------------------------------
    def submit_build(self, build: cloudbuild_v1.Build) -> str:
        """Start a build; returns its id."""
        with self._errors("CLOUDBUILD", "start a Cloud Build build"):
            op = self._build.create_build(project_id=self.cfg.project, build=build)
            return str(op.metadata.build.id)

    def get_build(self, build_id: str) -> cloudbuild_v1.Build:
        with self._errors("CLOUDBUILD", f"read build {build_id}"):
            return cast("cloudbuild_v1.Build", self._build.get_build(project_id=self.cfg.project, id=build_id))

    # -- Cloud Run ---------------------------------------------------------------------------------
    def get_service(self) -> run_v2.Service | None:
        from google.api_core import exceptions as gexc

        with self._errors("RUN", f"read service {self.cfg.service}"):
            try:
                return cast("run_v2.Service", self._run.get_service(name=self.cfg.service_name))
            except gexc.NotFound:
                return None

    def deploy_service(self, service: run_v2.Service, create: bool, progress: Progress) -> run_v2.Service:
        """Create or update the service and wait for its revision; failures carry Cloud Run's reason."""
        from google.api_core import exceptions as gexc

        verb = "create" if create else "update"
        with self._errors("RUN", f"{verb} service {self.cfg.service}"):
            if create:
                op = self._run.create_service(parent=self.cfg.parent, service=service,
                                              service_id=self.cfg.service)
            else:
                service.name = self.cfg.service_name
                op = self._run.update_service(service=service)
        try:
            with self._errors("RUN", f"wait for service {self.cfg.service}"):
                self.wait(op, f"deploying {self.cfg.service}", progress)
        except CloudError as exc:
            cause = exc.__cause__
            if isinstance(cause, gexc.GoogleAPICallError) and not isinstance(
                cause, (gexc.Forbidden, gexc.Unauthorized)
            ):
                raise CloudError(
                    f"Cloud Run could not deploy {self.cfg.service}: {cause.message}",
                    hint=f"see why with `devproxy logs --diagnose --service {self.cfg.service}`, "
                    "fix it and run `devproxy deploy` again",
                ) from cause
            raise
        return cast("run_v2.Service", op.result())

    def service_members(self, role: str) -> frozenset[str]:
        with self._errors("RUN", f"read the IAM policy of service {self.cfg.service}"):
            policy = self._run.get_iam_policy(request={"resource": self.cfg.service_name})
        return _members(policy, role)

    def add_service_member(self, role: str, member: str) -> None:
        with self._errors("RUN", f"grant {role} on service {self.cfg.service}"):
            resource = self.cfg.service_name
            policy = self._run.get_iam_policy(request={"resource": resource})
            if _add_member(policy, role, member):
                self._run.set_iam_policy(request={"resource": resource, "policy": policy})

    # -- long-running operations ----------------------------------------------------------------------
    def wait(self, op: Operation, label: str, progress: Progress, timeout: float = OPERATION_SECONDS) -> None:
        """Wait for `op` with google-api-core's polling; its failure is raised (and mapped by the caller)."""
        import concurrent.futures

        from google.api_core.future.polling import DEFAULT_POLLING

        progress(f"{label}...")
        polling = DEFAULT_POLLING.with_delay(initial=0.2, maximum=5.0, multiplier=2.0)
        try:
            op.result(timeout=timeout, polling=polling)  # type: ignore[no-untyped-call]
        except concurrent.futures.TimeoutError as exc:
            raise CloudError(f"gave up {label} after {int(timeout)} s",
                             hint="the operation may still finish; check the Cloud console") from exc


def _members(policy: policy_pb2.Policy, role: str) -> frozenset[str]:
    return frozenset(m for b in policy.bindings if b.role == role for m in b.members)


def _add_member(policy: policy_pb2.Policy, role: str, member: str) -> bool:
    """Add `member` to `role` in place; False when it was already there."""
    for binding in policy.bindings:
        if binding.role == role:
            if member in binding.members:
                return False
            binding.members.append(member)
            return True
    policy.bindings.add(role=role, members=[member])
    return True


def _account_not_yet_known(exc: Exception) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(exc, gexc.BadRequest) and "does not exist" in str(exc.message)

