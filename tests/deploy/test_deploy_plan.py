"""Plans from desired and current state (pure): what a deploy would do, in order."""

from __future__ import annotations

from dataclasses import replace

import pytest

from devproxy.deploy.config import merge
from devproxy.deploy.diff import Change, service_facts
from devproxy.deploy.plan import (
    UNREADABLE, AddSecretVersion, BuildImage, BuiltImage, CreateBucket, CreateRepository, CreateSecret,
    CreateServiceAccount, Current, DeployService, Desired, GrantInvoker, GrantSecretAccessor, SecretState,
    digest, needs_authkey, plan,
)
from devproxy.deploy.spec import build_service

SA = "serviceAccount:devproxy-runtime@p.iam.gserviceaccount.com"
SVC = "projects/p/locations/r/services/devproxy"
REPO = "r-docker.pkg.dev/p/devproxy/devproxy"
TAG = "0.1.0-0123456789ab"
BUILT = BuiltImage(REPO, TAG)
#: DeployService compares without its spec (tested below); this stands for any spec.
SPEC: dict = {}


def cfg_for(**extra: str):
    return merge([("flag", {"project": "p", "target": "http://devbox:8888", "region": "r", **extra})])


def deployed(image: str = "img", secrets: str = "ts-authkey-1_access-token-1", **extra: str) -> dict[str, str]:
    """The facts of a service deployed earlier with these settings, reading these secret versions."""
    return service_facts(build_service(cfg_for(**extra), image, "42", secrets))


def roll(old: str, new: str) -> Change:
    """The change a new secret version makes: the revision label naming the versions."""
    return Change("secret_versions", old, new)


def everything_exists(key: str = "k1", token: str = "t1", service: dict | None = None) -> Current:
    return Current(
        service=service if service is not None else deployed(), service_account_exists=True,
        repository_exists=True, bucket_exists=True,
        secrets={"devproxy-ts-authkey": SecretState(True, digest(key), frozenset({SA}), latest_version=1),
                 "devproxy-access-token": SecretState(True, digest(token), frozenset({SA}), latest_version=1)},
        project_number="42", invokers=frozenset({"serviceAccount:service-42@gcp-sa-iap.iam.gserviceaccount.com"}),
    )


@pytest.mark.parametrize(
    ("desired", "current", "expected"),
    [
        (Desired(cfg_for(), digest("k1"), build_tag=TAG), Current(), [
            CreateServiceAccount("devproxy-runtime@p.iam.gserviceaccount.com", "devproxy-runtime"),
            CreateRepository("devproxy", "r"), CreateBucket("p-devproxy-build", "r"),
            BuildImage(REPO, "p-devproxy-build", TAG),
            CreateSecret("devproxy-ts-authkey"),
            AddSecretVersion("devproxy-ts-authkey", "ts-authkey", "no version yet"),
            GrantSecretAccessor("devproxy-ts-authkey", SA),
            CreateSecret("devproxy-access-token"),
            AddSecretVersion("devproxy-access-token", "new-access-token", "no version yet"),
            GrantSecretAccessor("devproxy-access-token", SA),
            DeployService(SVC, True, BUILT, SPEC),
        ]),
        # second deploy, same key, same image, same settings: nothing at all
        (Desired(cfg_for(image="img"), digest("k1")), everything_exists(), []),
        # no key given this time: the stored one is kept
        (Desired(cfg_for(image="img"), None), everything_exists(), []),
        # one setting changed: an update naming exactly that setting
        (Desired(cfg_for(image="img", max_instances="3"), None), everything_exists(), [
            DeployService(SVC, False, "img", SPEC, (Change("max_instances", "1", "3"),))]),
        (Desired(cfg_for(image="img2"), None), everything_exists(), [
            DeployService(SVC, False, "img2", SPEC, (Change("image", "img", "img2"),))]),
        # a new key is a new secret version, and a new revision so that instances read it
        (Desired(cfg_for(image="img"), digest("k2")), everything_exists(), [
            AddSecretVersion("devproxy-ts-authkey", "ts-authkey", "the key changed"),
            DeployService(SVC, False, "img", SPEC, (roll("ts-authkey-1_access-token-1",
                                                         "ts-authkey-2_access-token-1"),))]),
        # a key given where the stored one may not be read (read-only dry run): a version is planned
        (Desired(cfg_for(image="img"), digest("k1")),
         replace(everything_exists(), secrets={
             "devproxy-ts-authkey": SecretState(True, UNREADABLE, frozenset({SA}), latest_version=1),
             "devproxy-access-token": SecretState(True, None, frozenset({SA}), latest_version=1)}), [
            AddSecretVersion("devproxy-ts-authkey", "ts-authkey", "the stored key could not be read to compare"),
            DeployService(SVC, False, "img", SPEC, (roll("ts-authkey-1_access-token-1",
                                                         "ts-authkey-2_access-token-1"),))]),
        (Desired(cfg_for(image="img"), None, rotate_token=True), everything_exists(), [
            AddSecretVersion("devproxy-access-token", "new-access-token", "--rotate-token"),
            DeployService(SVC, False, "img", SPEC, (roll("ts-authkey-1_access-token-1",
                                                         "ts-authkey-1_access-token-2"),))]),
        # building again with everything present: build, then update to the built image
        (Desired(cfg_for(), None, build_tag=TAG), everything_exists(), [
            BuildImage(REPO, "p-devproxy-build", TAG),
            DeployService(SVC, False, BUILT, SPEC, (Change("image", "img", f"{REPO}:{TAG} (by digest, once built)"),))]),
        # the registry already has this build and the service runs it: nothing to do
        (Desired(cfg_for(), None, build_tag=TAG),
         replace(everything_exists(service=deployed(f"{REPO}@sha256:ab")), built_image=f"{REPO}@sha256:ab"), []),
        # a version added by hand (gcloud) since the last deploy: a new revision reads it
        (Desired(cfg_for(image="img"), None),
         replace(everything_exists(), secrets={
             "devproxy-ts-authkey": SecretState(True, None, frozenset({SA}), latest_version=4),
             "devproxy-access-token": SecretState(True, None, frozenset({SA}), latest_version=1)}),
         [DeployService(SVC, False, "img", SPEC, (roll("ts-authkey-1_access-token-1",
                                                       "ts-authkey-4_access-token-1"),))]),
        # iap: one secret; the IAP agent is granted the invoker role only while it lacks it
        (Desired(cfg_for(auth="iap", image="img"), None),
         replace(everything_exists(service=deployed(auth="iap", secrets="ts-authkey-1")), invokers=frozenset()), [
            GrantInvoker(SVC, "serviceAccount:service-42@gcp-sa-iap.iam.gserviceaccount.com")]),
        (Desired(cfg_for(auth="iap", image="img"), None),
         everything_exists(service=deployed(auth="iap", secrets="ts-authkey-1")), []),
        # a secret that exists without the binding gets exactly the grant
        (Desired(cfg_for(auth="none", image="img"), None),
         Current(service=deployed(auth="none", secrets="ts-authkey-3"), service_account_exists=True,
                 secrets={"devproxy-ts-authkey": SecretState(True, None, frozenset(), latest_version=3)}),
         [GrantSecretAccessor("devproxy-ts-authkey", SA)]),
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


def _service(actions: list) -> DeployService:
    return next(a for a in actions if isinstance(a, DeployService))


def test_the_service_spec_is_in_the_plan() -> None:
    """The planned spec runs the planned image and spells IAP's audience with the observed project number."""
    iap = _service(plan(Desired(cfg_for(auth="iap", image="img@sha256:1"), None), everything_exists()))
    assert iap.changes and not iap.create
    container = iap.spec["template"]["containers"][0]
    assert container["image"] == "img@sha256:1"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DEVPROXY_IAP_AUDIENCE"] == "/projects/42/locations/r/services/devproxy"
    built = _service(plan(Desired(cfg_for(), None, build_tag=TAG), everything_exists()))
    assert "image: img -> " in built.describe()
    assert built.image == BUILT
    assert built.spec["template"]["containers"][0]["image"] == f"{REPO}:{TAG} (by digest, once built)"


def test_a_dry_run_spells_what_it_cannot_know() -> None:
    """Without a project to read, the IAP agent and the build tag are placeholders a reader recognises."""
    actions = plan(Desired(cfg_for(auth="iap"), None), Current())
    assert GrantInvoker(SVC, "serviceAccount:service-PROJECT_NUMBER@gcp-sa-iap.iam.gserviceaccount.com") in actions
    assert _service(actions).image == BuiltImage(REPO, "0.1.0-<context digest>")
