"""Plans from desired and current state (pure): what a deploy would do, in order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from devproxy.deploy.config import merge
from devproxy.deploy.plan import (
    AddSecretVersion, BuildImage, CreateBucket, CreateRepository, CreateSecret, CreateServiceAccount,
    Current, DeployService, Desired, GrantInvoker, GrantSecretAccessor, SecretState, digest, needs_authkey,
    plan,
)

SA = "serviceAccount:devproxy-runtime@p.iam.gserviceaccount.com"
SVC = "projects/p/locations/r/services/devproxy"


def cfg_for(**extra: str):
    return merge([("flag", {"project": "p", "target": "http://devbox:8888", "region": "r", **extra})])


def everything_exists(key: str = "k1", token: str = "t1") -> Current:
    return Current(
        service_exists=True, service_account_exists=True, repository_exists=True, bucket_exists=True,
        secrets={"devproxy-ts-authkey": SecretState(True, digest(key), frozenset({SA})),
                 "devproxy-access-token": SecretState(True, digest(token), frozenset({SA}))},
        project_number="42",
    )


@pytest.mark.parametrize(
    ("desired", "current", "expected"),
    [
        (Desired(cfg_for(), digest("k1")), Current(), [
            CreateServiceAccount("devproxy-runtime@p.iam.gserviceaccount.com", "devproxy-runtime"),
            CreateRepository("devproxy", "r"), CreateBucket("p-devproxy-build", "r"),
            BuildImage("r-docker.pkg.dev/p/devproxy/devproxy", "p-devproxy-build"),
            CreateSecret("devproxy-ts-authkey"),
            AddSecretVersion("devproxy-ts-authkey", "ts-authkey", "no version yet"),
            GrantSecretAccessor("devproxy-ts-authkey", SA),
            CreateSecret("devproxy-access-token"),
            AddSecretVersion("devproxy-access-token", "new-access-token", "no version yet"),
            GrantSecretAccessor("devproxy-access-token", SA),
            DeployService(SVC, create=True),
        ]),
        # second deploy, same key, prebuilt image: only the service update
        (Desired(cfg_for(image="img"), digest("k1")), everything_exists(), [DeployService(SVC, create=False)]),
        # no key given this time: the stored one is kept
        (Desired(cfg_for(image="img"), None), everything_exists(), [DeployService(SVC, create=False)]),
        (Desired(cfg_for(image="img"), digest("k2")), everything_exists(), [
            AddSecretVersion("devproxy-ts-authkey", "ts-authkey", "the key changed"),
            DeployService(SVC, create=False)]),
        (Desired(cfg_for(image="img"), None, rotate_token=True), everything_exists(), [
            AddSecretVersion("devproxy-access-token", "new-access-token", "--rotate-token"),
            DeployService(SVC, create=False)]),
        # building again with everything present: build, then update
        (Desired(cfg_for(), None), everything_exists(), [
            BuildImage("r-docker.pkg.dev/p/devproxy/devproxy", "p-devproxy-build"),
            DeployService(SVC, create=False)]),
        # the registry already has this build: nothing to build
        (Desired(cfg_for(), None),
         replace(everything_exists(), built_image="r-docker.pkg.dev/p/devproxy/devproxy@sha256:ab"),
         [DeployService(SVC, create=False)]),
        # iap: one secret, and the IAP agent gets the invoker role
        (Desired(cfg_for(auth="iap", image="img"), None), everything_exists(), [
            DeployService(SVC, create=False),
            GrantInvoker(SVC, "serviceAccount:service-42@gcp-sa-iap.iam.gserviceaccount.com")]),
        # a secret that exists without the binding gets exactly the grant
        (Desired(cfg_for(auth="none", image="img"), None),
         Current(service_exists=True, service_account_exists=True,
                 secrets={"devproxy-ts-authkey": SecretState(True, digest("k"), frozenset())}),
         [GrantSecretAccessor("devproxy-ts-authkey", SA), DeployService(SVC, create=False)]),
    ],
)
def test_plan(desired: Desired, current: Current, expected: list) -> None:
    """Each desired/current pair yields exactly these actions in this order."""
    assert plan(desired, current) == expected


def test_needs_authkey_and_descriptions_hold_no_secret() -> None:
    """Only a new auth key version needs the key; no description contains a value."""
    actions = plan(Desired(cfg_for(), digest("tskey-auth-SECRET")), Current())
    assert needs_authkey(actions)
    assert not needs_authkey(plan(Desired(cfg_for(image="i"), None), everything_exists()))
    assert all("tskey-auth-SECRET" not in a.describe() for a in actions)
