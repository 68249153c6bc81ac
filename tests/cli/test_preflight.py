"""The set-up check of `devproxy init`: disabled APIs and missing roles in one pass, enabling with consent."""

from __future__ import annotations

from pathlib import Path

import pytest

from devproxy.deploy.config import merge
from devproxy.deploy.preflight import BASE_APIS, BUILD_APIS, IAP_APIS, Findings, assess, fix_commands, needs
from tests.deploy.clirun import devproxy
from tests.deploy.fake_gcp import FakeGoogle, FakeServer

BASE = ["--project", "demo-proj"]


def _cfg(**extra: str) -> object:
    return merge([("flag", {"project": "p", "target": "http://d:1", **extra})])


@pytest.mark.parametrize(
    ("extra", "apis", "roles"),
    [
        ({}, BASE_APIS + BUILD_APIS, 7),
        ({"image": "img:1"}, BASE_APIS, 4),
        ({"image": "img:1", "auth": "iap"}, BASE_APIS + IAP_APIS, 6),
    ],
)
def test_needs_follow_the_configuration(extra: dict[str, str], apis: tuple[str, ...], roles: int) -> None:
    """--image needs no build APIs or roles; --auth iap adds IAP's and Resource Manager's."""
    need = needs(_cfg(**extra))  # type: ignore[arg-type]
    assert (need.apis, len(need.roles)) == (apis, roles)


def test_assess_and_commands() -> None:
    """Disabled APIs and roles lacking a permission are listed, with the exact gcloud commands."""
    need = needs(_cfg(image="img:1"))  # type: ignore[arg-type]
    enabled = {"run.googleapis.com": True, "secretmanager.googleapis.com": False}
    granted = frozenset({"run.services.create", "run.services.setIamPolicy", "iam.serviceAccounts.create",
                         "iam.serviceAccounts.actAs", "secretmanager.secrets.create"})
    found = assess("p", need, enabled, granted)
    assert found.disabled == ("secretmanager.googleapis.com", "iam.googleapis.com")
    assert found.missing_roles == (("roles/secretmanager.admin", "keep the auth key and the access token"),)
    assert fix_commands(found) == [
        "gcloud services enable secretmanager.googleapis.com iam.googleapis.com --project p",
        'gcloud projects add-iam-policy-binding p --member="user:$(gcloud config get account)" '
        "--role=roles/secretmanager.admin",
    ]
    assert Findings("p").ready and not found.ready


def test_check_lists_what_is_off_and_missing_without_enabling(fake_server: FakeServer, fake: FakeGoogle,
                                                             tmp_path: Path) -> None:
    """`init --check` (no terminal, no --enable-apis): what is off and missing, the commands, exit 1, nothing enabled."""
    fake.enabled_apis -= {"cloudbuild.googleapis.com", "iam.googleapis.com"}
    fake.granted = {"iam.serviceAccounts.create", "iam.serviceAccounts.actAs", "secretmanager.secrets.create",
                    "secretmanager.secrets.setIamPolicy", "artifactregistry.repositories.create",
                    "storage.buckets.create", "cloudbuild.builds.create", "run.services.create"}
    ran = devproxy(["init", "--check", *BASE], cwd=tmp_path, env=fake_server.env())
    assert ran.code == 1, ran.err
    assert ran.out.splitlines() == [
        "Checking project demo-proj for what devproxy deploy needs...",
        "APIs not enabled in demo-proj: iam.googleapis.com, cloudbuild.googleapis.com",
        "role missing: roles/run.admin (to create and open the service)",
        "Fix with:",
        "  gcloud services enable iam.googleapis.com cloudbuild.googleapis.com --project demo-proj",
        '  gcloud projects add-iam-policy-binding demo-proj --member="user:$(gcloud config get account)" '
        "--role=roles/run.admin",
    ]
    assert not fake.bodies("POST", r":batchEnable$") and not (tmp_path / "devproxy.toml").exists()
    assert len(fake.bodies("GET", r"/services:batchGet$")) == 1


def test_enable_apis_switches_them_on_through_service_usage(fake_server: FakeServer, fake: FakeGoogle,
                                                            tmp_path: Path) -> None:
    """--enable-apis enables exactly the disabled APIs in one batch, checks again and exits 0 when ready."""
    fake.enabled_apis -= {"cloudbuild.googleapis.com", "iam.googleapis.com"}
    ran = devproxy(["init", "--check", *BASE, "--enable-apis"], cwd=tmp_path, env=fake_server.env())
    assert ran.code == 0, ran.err
    assert fake.bodies("POST", r"/projects/demo-proj/services:batchEnable$") == [
        {"serviceIds": ["iam.googleapis.com", "cloudbuild.googleapis.com"]}]
    assert ran.out.splitlines()[-1] == "enabled; checking again: ready"
    assert {"cloudbuild.googleapis.com", "iam.googleapis.com"} <= fake.enabled_apis


def test_init_writes_the_file_then_checks(fake_server: FakeServer, tmp_path: Path) -> None:
    """`init` writes devproxy.toml, then checks the project it names: ready, exit 0."""
    ran = devproxy(["init", *BASE, "--target", "http://devbox:8888"], cwd=tmp_path, env=fake_server.env())
    assert ran.code == 0, ran.err
    assert ran.out.splitlines() == [
        "wrote devproxy.toml; next: devproxy deploy --dry-run",
        "Checking project demo-proj for what devproxy deploy needs...",
        "Project demo-proj is ready for devproxy deploy: every API on, every role held.",
    ]


def test_init_warns_when_the_check_is_refused(fake_server: FakeServer, fake: FakeGoogle, tmp_path: Path) -> None:
    """A refused check after writing the file is a warning (exit 0); `init --check` makes it the error (exit 1)."""
    fake.inject("GET", r"services:batchGet", 403, "Permission 'serviceusage.services.list' denied", times=2)
    ran = devproxy(["init", *BASE, "--target", "http://devbox:8888"], cwd=tmp_path, env=fake_server.env())
    assert ran.code == 0, ran.err
    assert (tmp_path / "devproxy.toml").exists()
    assert ran.err.splitlines()[-1].startswith("warning: set-up not checked: permission serviceusage.services.list "
                                               "denied while trying to read which APIs project demo-proj has enabled")
    ran = devproxy(["init", "--check"], cwd=tmp_path, env=fake_server.env())
    assert ran.code == 1
    assert ran.err.splitlines()[-1].startswith("error: permission serviceusage.services.list denied")
