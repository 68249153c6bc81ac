"""`devproxy destroy` as data: what deploy created and still exists -> an ordered plan of frozen actions -> execute.

Removes the Cloud Run service (its revisions and its IAM policy, IAP's invoker binding included),
the secrets with their versions and accessor bindings, the service's images (its Artifact Registry
package) and the runtime service account deploy created. Keeps what other services of the
project share: the image repository and the build bucket. `plan_removal` is pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

from devproxy.deploy.cloud_removal import Removal
from devproxy.deploy.config import DeployConfig

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Found:
    """What exists of the resources deploy creates for one service."""

    service: bool = False
    secrets: tuple[str, ...] = ()
    images: bool = False
    service_account: bool = False


@dataclass(frozen=True, slots=True)
class DeleteService:
    name: str

    def describe(self) -> str:
        return f"delete Cloud Run service {self.name} (its revisions and IAM bindings; the URL stops answering)"


@dataclass(frozen=True, slots=True)
class DeleteSecret:
    secret_id: str

    def describe(self) -> str:
        return f"delete secret {self.secret_id} (every version and its accessor binding)"


@dataclass(frozen=True, slots=True)
class DeleteImages:
    package: str

    def describe(self) -> str:
        return f"delete the images of Artifact Registry package {self.package} (every version and tag)"


@dataclass(frozen=True, slots=True)
class DeleteServiceAccount:
    email: str

    def describe(self) -> str:
        return f"delete service account {self.email} (the service's runtime identity)"


Action = Union[DeleteService, DeleteSecret, DeleteImages, DeleteServiceAccount]


def owned_secrets(cfg: DeployConfig) -> tuple[str, ...]:
    """Every secret deploy may have created for this service, whatever the current auth mode."""
    return (cfg.authkey_secret, cfg.token_secret)


def kept(cfg: DeployConfig) -> tuple[str, ...]:
    """What destroy leaves in place on purpose, for the plan's last lines."""
    return (f"Artifact Registry repository {cfg.repository} (shared by every service of the project)",
            f"Cloud Storage bucket gs://{cfg.build_bucket} (build contexts and logs)")


def plan_removal(cfg: DeployConfig, found: Found) -> list[Action]:
    """The service first (traffic stops), then its secrets, images and identity."""
    actions: list[Action] = []
    if found.service:
        actions.append(DeleteService(cfg.service_name))
    actions.extend(DeleteSecret(secret_id) for secret_id in found.secrets)
    if found.images:
        actions.append(DeleteImages(f"{cfg.repository}/{cfg.service}"))
    if found.service_account:
        actions.append(DeleteServiceAccount(cfg.service_account_email))
    return actions


def read_found(cfg: DeployConfig, cloud: Removal) -> Found:
    """Read which of deploy's resources exist. A service account given in the config is not deploy's: kept."""
    return Found(
        service=cloud.get_service() is not None,
        secrets=tuple(s for s in owned_secrets(cfg) if cloud.secret_exists(s)),
        images=cloud.package_exists(),
        service_account=cfg.service_account is None and cloud.service_account_exists(cfg.service_account_email),
    )


def execute(actions: list[Action], cloud: Removal, progress: Progress) -> None:
    """Carry out the plan in order; the first failure stops it (what is left shows in the next plan)."""
    for action in actions:
        match action:
            case DeleteService():
                cloud.delete_service(progress)
            case DeleteSecret(secret_id):
                progress(f"deleting secret {secret_id}")
                cloud.delete_secret(secret_id)
            case DeleteImages():
                cloud.delete_package(progress)
            case DeleteServiceAccount(email):
                progress(f"deleting service account {email}")
                cloud.delete_service_account(email)
