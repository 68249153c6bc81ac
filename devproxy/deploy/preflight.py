"""Before the first deploy: which needed APIs are off and which roles the caller lacks, in one pass.

`needs` and `assess` are pure (table-tested); `check` reads the project through `SetupCloud`
(two calls: Service Usage's batch read, Resource Manager's testIamPermissions), `enable` switches the
disabled APIs on through the Service Usage API. `fix_commands` prints the exact commands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from devproxy.deploy.config import DeployConfig
from devproxy.errors import CloudError

if TYPE_CHECKING:
    from devproxy.deploy.cloud_setup import SetupCloud

#: the APIs every deploy calls, those only a build calls, and those `--auth iap` adds.
BASE_APIS = ("run.googleapis.com", "secretmanager.googleapis.com", "iam.googleapis.com")
BUILD_APIS = ("artifactregistry.googleapis.com", "cloudbuild.googleapis.com", "storage.googleapis.com")
IAP_APIS = ("iap.googleapis.com", "cloudresourcemanager.googleapis.com")


@dataclass(frozen=True, slots=True)
class RoleNeed:
    """A predefined role deploy's caller needs, and permissions that only it (of the roles we name) grants."""

    role: str
    permissions: tuple[str, ...]
    why: str


BASE_ROLES = (
    RoleNeed("roles/run.admin", ("run.services.create", "run.services.setIamPolicy"), "create and open the service"),
    RoleNeed("roles/iam.serviceAccountAdmin", ("iam.serviceAccounts.create",), "create the runtime service account"),
    RoleNeed("roles/iam.serviceAccountUser", ("iam.serviceAccounts.actAs",), "run the service as that account"),
    RoleNeed("roles/secretmanager.admin", ("secretmanager.secrets.create", "secretmanager.secrets.setIamPolicy"),
             "keep the auth key and the access token"),
)
BUILD_ROLES = (
    RoleNeed("roles/artifactregistry.admin", ("artifactregistry.repositories.create",), "create the image repository"),
    RoleNeed("roles/storage.admin", ("storage.buckets.create",), "create the build bucket"),
    RoleNeed("roles/cloudbuild.builds.editor", ("cloudbuild.builds.create",), "build the image"),
)
IAP_ROLES = (
    RoleNeed("roles/iap.admin", ("iap.webServices.setIamPolicy",), "give people access through IAP"),
    RoleNeed("roles/browser", ("resourcemanager.projects.get",), "read the project number"),
)


@dataclass(frozen=True, slots=True)
class Needs:
    apis: tuple[str, ...]
    roles: tuple[RoleNeed, ...]


@dataclass(frozen=True, slots=True)
class Findings:
    """What stands between the project and a first deploy."""

    project: str
    disabled: tuple[str, ...] = ()
    #: (role, why) for each role whose permissions the caller lacks.
    missing_roles: tuple[tuple[str, str], ...] = ()
    #: why the roles could not be tested (their check needs an API that is off, or was refused).
    roles_unchecked: str | None = None

    @property
    def ready(self) -> bool:
        return not self.disabled and not self.missing_roles and self.roles_unchecked is None


def needs(cfg: DeployConfig) -> Needs:
    """The APIs and roles a deploy with this configuration uses (no build with --image, more with IAP)."""
    apis, roles = list(BASE_APIS), list(BASE_ROLES)
    if cfg.image is None:
        apis += BUILD_APIS
        roles += BUILD_ROLES
    if cfg.auth == "iap":
        apis += IAP_APIS
        roles += IAP_ROLES
    return Needs(tuple(apis), tuple(roles))


def assess(project: str, need: Needs, enabled: Mapping[str, bool], granted: frozenset[str] | None,
           roles_unchecked: str | None = None) -> Findings:
    """Compare what is needed with what the project has on (`enabled`) and the caller holds (`granted`)."""
    disabled = tuple(api for api in need.apis if not enabled.get(api, False))
    missing: tuple[tuple[str, str], ...] = ()
    if granted is not None:
        missing = tuple((r.role, r.why) for r in need.roles if not set(r.permissions) <= granted)
    return Findings(project, disabled, missing, roles_unchecked if granted is None else None)


def fix_commands(findings: Findings) -> list[str]:
    """The exact commands that fix what `findings` found (a project owner runs the role grants)."""
    commands: list[str] = []
    if findings.disabled:
        commands.append(f"gcloud services enable {' '.join(findings.disabled)} --project {findings.project}")
    for role, _ in findings.missing_roles:
        commands.append(f"gcloud projects add-iam-policy-binding {findings.project} "
                        f'--member="user:$(gcloud config get account)" --role={role}')
    return commands


def write_findings(findings: Findings, write: Callable[[str], None]) -> None:
    """Readable lines: what is off or missing, then the commands."""
    if findings.ready:
        write(f"Project {findings.project} is ready for devproxy deploy: every API on, every role held.")
        return
    if findings.disabled:
        write(f"APIs not enabled in {findings.project}: {', '.join(findings.disabled)}")
    for role, why in findings.missing_roles:
        write(f"role missing: {role} (to {why})")
    if findings.roles_unchecked:
        write(f"roles not checked: {findings.roles_unchecked}")
    commands = fix_commands(findings)
    if commands:
        write("Fix with:")
        for command in commands:
            write(f"  {command}")


class Checker:
    """The I/O: reads through a `SetupCloud` (see devproxy.deploy.cloud_setup)."""

    def __init__(self, cfg: DeployConfig, cloud: SetupCloud) -> None:
        self.cfg, self.cloud = cfg, cloud

    def check(self) -> Findings:
        """Read API states and test the caller's permissions.

        Raises:
            CloudError: the API states cannot be read (not logged in, Service Usage off or refused).
        """
        need = needs(self.cfg)
        enabled = self.cloud.api_states(need.apis + ("cloudresourcemanager.googleapis.com",))
        permissions = tuple(p for r in need.roles for p in r.permissions)
        granted: frozenset[str] | None = None
        unchecked = None
        if not enabled.get("cloudresourcemanager.googleapis.com", False):
            unchecked = "testing them needs cloudresourcemanager.googleapis.com enabled"
        else:
            try:
                granted = self.cloud.granted_permissions(permissions)
            except CloudError as exc:
                unchecked = str(exc)
        return assess(self.cfg.project, need, enabled, granted, unchecked)

    def enable(self, findings: Findings, progress: Callable[[str], None]) -> Findings:
        """Enable the disabled APIs (and the one the role test needs), then check again."""
        apis = findings.disabled
        if findings.roles_unchecked and "cloudresourcemanager" in findings.roles_unchecked:
            apis += ("cloudresourcemanager.googleapis.com",)
        if apis:
            self.cloud.enable_apis(apis, progress)
        return self.check()
