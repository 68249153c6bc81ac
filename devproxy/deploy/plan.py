"""Desired state + current state -> an ordered list of frozen actions (pure).

The plan is the whole truth: it prints as a dry run, and `apply` executes exactly it. What only
an earlier action can know travels as a reference that the executor resolves (`BuiltImage`: the
digest the build produces); everything else, the service spec included, is in the actions.
No action carries a secret value; `AddSecretVersion` only names where its payload comes from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from devproxy import __version__
from devproxy.deploy.checks import allow_grants
from devproxy.deploy.config import DeployConfig
from devproxy.deploy.diff import Change, Facts, changes, service_facts
from devproxy.deploy.spec import PROJECT_NUMBER_PLACEHOLDER, build_service, service_json
from devproxy.errors import ConfigError

if TYPE_CHECKING:
    from google.cloud import run_v2

ACCESSOR_ROLE = "roles/secretmanager.secretAccessor"
INVOKER_ROLE = "roles/run.invoker"
IAP_ACCESSOR_ROLE = "roles/iap.httpsResourceAccessor"
IAP_AGENT = "serviceAccount:service-{number}@gcp-sa-iap.iam.gserviceaccount.com"

Payload = Literal["ts-authkey", "new-access-token"]


def digest(value: str) -> str:
    """How plans compare secret values without holding them."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


#: `SecretState.latest_sha256` when the latest version exists but may not be read (read-only access).
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class SecretState:
    """What Secret Manager holds for one secret (its latest value only as a digest, when read)."""

    exists: bool = False
    latest_sha256: str | None = None
    accessors: frozenset[str] = frozenset()
    #: the latest enabled version's number (known without reading it: the digest is read only to
    #: compare a given key); None: no version yet.
    latest_version: int | None = None

    @property
    def versioned(self) -> bool:
        return self.latest_version is not None or self.latest_sha256 is not None


@dataclass(frozen=True, slots=True)
class Current:
    """The remote state deploy read before planning; the default is an empty project."""

    #: the deployed service as comparable facts (`diff.service_facts`); None: no service.
    service: Facts | None = None
    service_account_exists: bool = False
    repository_exists: bool = False
    bucket_exists: bool = False
    secrets: Mapping[str, SecretState] = field(default_factory=dict)
    #: read once from Resource Manager when the plan needs it (IAP); None in a dry run.
    project_number: str | None = None
    #: the image this code would build, when the registry already has it (`repo@sha256:...`).
    built_image: str | None = None
    #: members holding the invoker role on the service (IAP's agent needs it).
    invokers: frozenset[str] = frozenset()
    #: the runtime service account's numeric unique ID (the subject of its ID tokens), when it exists.
    service_account_unique_id: str | None = None
    #: the service `cfg.domain` is mapped to (its `spec.routeName`); None: no mapping.
    domain_route: str | None = None
    #: who may pass IAP to the service (`roles/iap.httpsResourceAccessor`): (member, the binding's condition
    #: expression, None for an unconditional binding).
    iap_members: frozenset[tuple[str, str | None]] = frozenset()

    @property
    def service_exists(self) -> bool:
        return self.service is not None


@dataclass(frozen=True, slots=True)
class Desired:
    """What the user asked for: the config, plus facts about the secrets (digests only)."""

    cfg: DeployConfig
    authkey_sha256: str | None = None
    rotate_token: bool = False
    #: the tag a build of this checkout gets (its context digest); None in a dry run.
    build_tag: str | None = None

    @property
    def build_image(self) -> bool:
        return self.cfg.image is None


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """Reference: the image (`repository@sha256:...`) that this plan's `BuildImage` produces."""

    repository: str
    tag: str

    def __str__(self) -> str:
        return f"{self.repository}:{self.tag} (by digest, once built)"


#: an image name known when planning, or one the build will produce.
ImageRef = Union[str, BuiltImage]


@dataclass(frozen=True, slots=True)
class CreateServiceAccount:
    email: str
    account_id: str

    def describe(self) -> str:
        return f"create service account {self.email} (the service's runtime identity)"


@dataclass(frozen=True, slots=True)
class CreateRepository:
    repository: str
    location: str

    def describe(self) -> str:
        return f"create Artifact Registry docker repository {self.repository} in {self.location}"


@dataclass(frozen=True, slots=True)
class CreateBucket:
    bucket: str
    location: str

    def describe(self) -> str:
        return f"create Cloud Storage bucket gs://{self.bucket} for build contexts and logs"


@dataclass(frozen=True, slots=True)
class BuildImage:
    image_repository: str
    bucket: str
    tag: str

    def describe(self) -> str:
        return (f"build the image with Cloud Build from templates/ and a wheel of this devproxy, "
                f"push to {self.image_repository}")


@dataclass(frozen=True, slots=True)
class CreateSecret:
    secret_id: str

    def describe(self) -> str:
        return f"create secret {self.secret_id}"


@dataclass(frozen=True, slots=True)
class AddSecretVersion:
    secret_id: str
    payload: Payload
    reason: str

    def describe(self) -> str:
        source = "the Tailscale auth key" if self.payload == "ts-authkey" else "a newly generated access token"
        return f"add a version to secret {self.secret_id}: {source} ({self.reason})"


@dataclass(frozen=True, slots=True)
class GrantSecretAccessor:
    secret_id: str
    member: str

    def describe(self) -> str:
        return f"grant {ACCESSOR_ROLE} on secret {self.secret_id} to {self.member}"


@dataclass(frozen=True, slots=True)
class DeployService:
    name: str
    create: bool
    image: ImageRef
    #: the service exactly as it is sent (REST JSON), with `image` put into its container.
    spec: Mapping[str, Any] = field(compare=False, repr=False)
    #: for an update, every setting that changes (deployed value -> new value).
    changes: tuple[Change, ...] = ()

    def describe(self) -> str:
        if self.create:
            return f"create Cloud Run service {self.name} running {self.image} and wait until its revision is ready"
        changed = "; ".join(c.describe() for c in self.changes)
        return f"update Cloud Run service {self.name} ({changed}) and wait until its new revision is ready"


@dataclass(frozen=True, slots=True)
class GrantInvoker:
    name: str
    member: str

    def describe(self) -> str:
        return f"grant {INVOKER_ROLE} on {self.name} to {self.member} (IAP's service agent)"


@dataclass(frozen=True, slots=True)
class GrantIapAccess:
    resource: str
    member: str
    #: the route prefix the member is limited to (an IAM condition on `request.path`); None: everything.
    prefix: str | None = None
    #: the member holds the role without a condition today: that binding is withdrawn.
    narrows: bool = False

    def describe(self) -> str:
        if self.prefix is None:
            return f"let {self.member} through IAP: grant {IAP_ACCESSOR_ROLE} on {self.resource}"
        narrowed = "; their access to everything else is withdrawn" if self.narrows else ""
        return (f"let {self.member} through IAP to {self.prefix} only: grant {IAP_ACCESSOR_ROLE} on "
                f"{self.resource} if {path_condition(self.prefix)['expression']}{narrowed}")


def path_condition(prefix: str) -> dict[str, str]:
    """The IAM condition that limits a binding to one route: the prefix itself and everything under it."""
    stem = prefix.rstrip("/")
    return {"title": f"devproxy route {stem}/",
            "description": f"devproxy deploy --allow MEMBER={prefix}: only this route",
            "expression": f'request.path == "{stem}" || request.path.startsWith("{stem}/")'}


@dataclass(frozen=True, slots=True)
class MapDomain:
    domain: str
    service: str

    def describe(self) -> str:
        return (f"map {self.domain} to service {self.service} (Cloud Run domain mapping, Google-managed "
                f"certificate) and print the DNS records to create")


Action = Union[
    CreateServiceAccount, CreateRepository, CreateBucket, BuildImage, CreateSecret,
    AddSecretVersion, GrantSecretAccessor, DeployService, GrantInvoker, GrantIapAccess, MapDomain,
]


def plan(desired: Desired, current: Current) -> list[Action]:
    """Every action needed to move `current` to `desired`, in the order they must run."""
    cfg = desired.cfg
    actions: list[Action] = []
    if not current.service_account_exists:
        actions.append(CreateServiceAccount(cfg.service_account_email, cfg.account_id))
    if desired.build_image:
        if not current.repository_exists:
            actions.append(CreateRepository(cfg.repository, cfg.region))
        if not current.bucket_exists:
            actions.append(CreateBucket(cfg.build_bucket, cfg.region))
        if current.built_image is None:  # the registry may already hold this exact build
            actions.append(BuildImage(cfg.image_repository, cfg.build_bucket, _build_tag(desired)))
    member = f"serviceAccount:{cfg.service_account_email}"
    for secret_id in cfg.secret_ids:
        state = current.secrets.get(secret_id, SecretState())
        if not state.exists:
            actions.append(CreateSecret(secret_id))
        version = _secret_version(desired, secret_id, state)
        if version:
            actions.append(version)
        if member not in state.accessors:
            actions.append(GrantSecretAccessor(secret_id, member))
    service = _service(desired, current)
    if service:
        actions.append(service)
    number = current.project_number or PROJECT_NUMBER_PLACEHOLDER
    if cfg.auth == "iap":
        agent = IAP_AGENT.format(number=number)
        if agent not in current.invokers:
            actions.append(GrantInvoker(cfg.service_name, agent))
    resource = iap_resource(cfg, number)
    for member, prefix in allow_grants(cfg.allow):
        if (member, path_condition(prefix)["expression"] if prefix else None) not in current.iap_members:
            actions.append(GrantIapAccess(resource, member, prefix,
                                          prefix is not None and (member, None) in current.iap_members))
    if cfg.domain:
        if current.domain_route is None:
            actions.append(MapDomain(cfg.domain, cfg.service))
        elif current.domain_route != cfg.service:
            raise ConfigError(f"{cfg.domain} is already mapped to service {current.domain_route}",
                              hint=f"remove that mapping first: `gcloud beta run domain-mappings delete "
                                   f"--domain {cfg.domain} --region {cfg.region}`")
    return actions


def service_spec(desired: Desired, current: Current) -> dict[str, Any]:
    """The service as deploy sends it (REST JSON), running the planned image."""
    return service_json(_built(desired, current))


def _built(desired: Desired, current: Current) -> run_v2.Service:
    image = _image(desired, current)
    return build_service(desired.cfg, str(image), current.project_number, secret_versions(desired, current))


def secret_versions(desired: Desired, current: Current) -> str:
    """The secret versions the new revision reads, e.g. `ts-authkey-2_access-token-1`.

    The service reads each secret's `latest` version when an instance starts; a revision label
    naming the versions makes a new version (a rotated token, a new key) roll out a new revision.
    """
    cfg = desired.cfg
    parts = []
    for secret_id in cfg.secret_ids:
        state = current.secrets.get(secret_id, SecretState())
        number = state.latest_version or 0
        if _secret_version(desired, secret_id, state):
            number += 1
        parts.append(f"{secret_id.removeprefix(cfg.service + '-')}-{number}")
    return "_".join(parts)[:63].rstrip("_-")


def iap_resource(cfg: DeployConfig, project_number: str) -> str:
    """IAP's name for the service (its policy says who may pass IAP)."""
    return f"projects/{project_number}/iap_web/cloud_run-{cfg.region}/services/{cfg.service}"


def _service(desired: Desired, current: Current) -> DeployService | None:
    """Create the service, update exactly what differs, or nothing when every setting matches."""
    cfg = desired.cfg
    image = _image(desired, current)
    built = _built(desired, current)
    spec = service_json(built)
    if current.service is None:
        return DeployService(cfg.service_name, True, image, spec)
    found = tuple(changes(current.service, service_facts(built)))
    return DeployService(cfg.service_name, False, image, spec, found) if found else None


def _build_tag(desired: Desired) -> str:
    return desired.build_tag or f"{__version__}-<context digest>"


def _image(desired: Desired, current: Current) -> ImageRef:
    """The image the service runs: the configured one, the registry's copy of this build, or the build's."""
    if desired.cfg.image:
        return desired.cfg.image
    if current.built_image:
        return current.built_image
    return BuiltImage(desired.cfg.image_repository, _build_tag(desired))


def _secret_version(desired: Desired, secret_id: str, state: SecretState) -> AddSecretVersion | None:
    cfg = desired.cfg
    if secret_id == cfg.authkey_secret:
        if not state.versioned:
            return AddSecretVersion(secret_id, "ts-authkey", "no version yet")
        if desired.authkey_sha256 and state.latest_sha256 == UNREADABLE:
            return AddSecretVersion(secret_id, "ts-authkey", "the stored key could not be read to compare")
        if desired.authkey_sha256 and desired.authkey_sha256 != state.latest_sha256:
            return AddSecretVersion(secret_id, "ts-authkey", "the key changed")
        return None
    if not state.versioned:
        return AddSecretVersion(secret_id, "new-access-token", "no version yet")
    if desired.rotate_token:
        return AddSecretVersion(secret_id, "new-access-token", "--rotate-token")
    return None


def needs_authkey(actions: list[Action]) -> bool:
    """Whether executing `actions` needs the Tailscale auth key's value."""
    return any(isinstance(a, AddSecretVersion) and a.payload == "ts-authkey" for a in actions)
