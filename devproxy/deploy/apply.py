"""Run a deploy: read the project, plan, execute each action through the `Cloud` adapter.

`dry_run` makes the same plan with read-only calls (or, without credentials, against an empty
project) and changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from devproxy.deploy import cost, credentials, domains
from devproxy.deploy import plan as p
from devproxy.deploy.config import DeployConfig
from devproxy.deploy.render import DeployResult, DryRun
from devproxy.deploy.spec import labels
from devproxy.deploy.templates import Rendered, render
from devproxy.errors import CloudError, ConfigError, DevproxyError

if TYPE_CHECKING:
    from google.cloud import run_v2

    from devproxy.deploy.build import Context, WheelBuilder
    from devproxy.deploy.cloud_api import Cloud


@dataclass(frozen=True, slots=True)
class Hooks:
    """How a deploy talks to its user: progress lines, build log lines, the go-ahead."""

    progress: Callable[[str], None]
    log: Callable[[str], None]
    confirm: Callable[[list[p.Action]], bool]
    #: on a terminal the one-time login link may be shown; elsewhere only how to get it.
    interactive: bool = False


NO_CREDENTIALS = ("no Google Cloud credentials: this is the plan for an empty project "
                  "(log in with `gcloud auth application-default login` to plan against what exists)")


def dry_run(cfg: DeployConfig, cloud: Cloud | None, *, authkey: str | None = None, rotate_token: bool = False,
            wheel_builder: WheelBuilder | None = None) -> DryRun:
    """The plan a deploy would execute now, the Dockerfile and the service spec; changes nothing.

    With credentials it reads the project (read-only calls) and plans exactly what `deploy` would;
    without (`cloud` None or no credentials to load) it plans against an empty project and says so.
    """
    kind = credentials.mode(cfg, authkey)
    authkey = None if cfg.keyless else authkey
    note = ""
    if cloud is None or not cloud.has_credentials():
        desired, current, note = p.Desired(cfg, rotate_token=rotate_token), p.Current(), NO_CREDENTIALS
    else:
        desired, current, _ = _read(cfg, cloud, authkey, rotate_token, wheel_builder, lambda _m: None)
    rendered = render(cfg.tailscale_version) if cfg.image is None else None
    return DryRun(cfg=cfg, actions=tuple(p.plan(desired, current)), templates=rendered,
                  spec=p.service_spec(desired, current), note=note, credential=credentials.describe(cfg, kind),
                  federation=credentials.federated_identity(cfg, current.service_account_unique_id),
                  cost=tuple(cost.estimates(cfg)), cost_header=cost.header(cfg))


def observe(cloud: Cloud, cfg: DeployConfig, *, read_key: bool = False) -> p.Current:
    """Read what exists: the service, the runtime account, secrets, bindings (read-only calls).

    Secret values are read only as digests, and only the auth key's when `read_key` (a key was
    given to compare); without the right to read it, its digest is `UNREADABLE`.
    """
    from devproxy.deploy.diff import service_facts

    service = cloud.get_service()  # first: a missing login shows before anything else is done
    states: dict[str, p.SecretState] = {}
    member = f"serviceAccount:{cfg.service_account_email}"
    for secret_id in cfg.secret_ids:
        if not cloud.secret_exists(secret_id):
            continue
        version = cloud.latest_version(secret_id)
        digest = None
        if read_key and secret_id == cfg.authkey_secret and version is not None:
            digest = _latest_digest(cloud, secret_id)
        states[secret_id] = p.SecretState(
            exists=True,
            latest_sha256=digest,
            accessors=cloud.secret_members(secret_id, p.ACCESSOR_ROLE) & {member},
            latest_version=version,
        )
    building = cfg.image is None
    iap = cfg.auth == "iap"
    # only IAP needs it (its audience, service agent and resource are spelled with the number)
    number = cloud.project_number() if iap else None
    account = cloud.get_service_account(cfg.service_account_email)
    mapping = cloud.get_domain_mapping(cfg.domain) if cfg.domain else None
    return p.Current(
        service=service_facts(service) if service is not None else None,
        service_account_exists=account is not None,
        repository_exists=building and cloud.repository_exists(),
        bucket_exists=building and cloud.bucket_exists(cfg.build_bucket),
        secrets=states,
        project_number=number,
        invokers=cloud.service_members(p.INVOKER_ROLE) if iap and service is not None else frozenset(),
        service_account_unique_id=str(account.get("uniqueId") or "") or None if account else None,
        domain_route=str(mapping.get("spec", {}).get("routeName", "")) if mapping else None,
        iap_members=(cloud.iap_members(p.iap_resource(cfg, number), p.IAP_ACCESSOR_ROLE)
                     if number and cfg.allow and service is not None else frozenset()),
    )


def _latest_digest(cloud: Cloud, secret_id: str) -> str | None:
    from google.api_core import exceptions as gexc

    try:
        value = cloud.latest_secret_value(secret_id)
    except CloudError as exc:
        if isinstance(exc.__cause__, gexc.Forbidden):
            return p.UNREADABLE
        raise
    return p.digest(value) if value is not None else None


def _read(cfg: DeployConfig, cloud: Cloud, authkey: str | None, rotate_token: bool,
          wheel_builder: WheelBuilder | None, progress: Callable[[str], None],
          ) -> tuple[p.Desired, p.Current, Context | None]:
    """Observe, then (when deploy builds) pack the context and look its image up: what to plan from."""
    progress(f"reading project {cfg.project}")
    current = observe(cloud, cfg, read_key=authkey is not None)
    context = None
    if cfg.image is None:
        from devproxy.deploy.build import build_wheel, prebuilt_wheel, prepare

        progress("building the devproxy wheel and the build context")
        builder = wheel_builder or (prebuilt_wheel(cfg.wheel) if cfg.wheel else build_wheel)
        context = prepare(cfg, render(cfg.tailscale_version), builder)
        if current.repository_exists:
            current = replace(current, built_image=cloud.find_image(context.tag))
    desired = p.Desired(cfg, p.digest(authkey) if authkey else None, rotate_token,
                        build_tag=context.tag if context else None)
    return desired, current, context


def deploy(
    cfg: DeployConfig,
    cloud: Cloud,
    hooks: Hooks,
    *,
    authkey: str | None,
    rotate_token: bool = False,
    wheel_builder: WheelBuilder | None = None,
) -> DeployResult:
    """Plan against the real project and execute the plan (nothing at all when nothing differs).

    Raises:
        ConfigError: the plan needs the Tailscale auth key and none was given.
        CloudError: a Google Cloud call failed (mapped with a hint).
    """
    kind = credentials.mode(cfg, authkey)
    authkey = None if cfg.keyless else authkey
    desired, current, context = _read(cfg, cloud, authkey, rotate_token, wheel_builder, hooks.progress)
    actions = p.plan(desired, current)
    if p.needs_authkey(actions) and not authkey:
        raise ConfigError("the Tailscale auth key is needed (the secret has no version yet)",
                          hint="set TS_AUTHKEY, pass --ts-authkey-file FILE, or run in a terminal to be asked; "
                               "or go keyless with --tailscale-client-id")
    if actions and not hooks.confirm(actions):
        raise DevproxyError("deploy cancelled; nothing was changed")
    run = _Executor(cfg, cloud, hooks, authkey, context, kind)
    for action in actions:
        hooks.progress(action.describe())
        run.execute(action)
    return run.result(tuple(actions), current)


class _Executor:
    """Executes actions as planned; resolves the plan's references (the built image's digest)."""

    def __init__(self, cfg: DeployConfig, cloud: Cloud, hooks: Hooks, authkey: str | None,
                 context: Context | None, mode: str) -> None:
        self.cfg, self.cloud, self.hooks, self.mode = cfg, cloud, hooks, mode
        self.authkey = authkey
        self.context = context
        #: what `BuildImage` produced, by the tag it built.
        self.built: dict[str, str] = {}
        self.image = ""
        self.new_token: str | None = None
        self.service: run_v2.Service | None = None
        #: the runtime account's unique ID, when this deploy creates the account.
        self.unique_id: str | None = None

    def execute(self, action: p.Action) -> None:
        cfg, cloud = self.cfg, self.cloud
        match action:
            case p.CreateServiceAccount(email=_, account_id=account_id):
                created = cloud.create_service_account(account_id, f"devproxy runtime for {cfg.service}")
                self.unique_id = str(created.get("uniqueId") or "") or None
            case p.CreateRepository():
                cloud.create_repository(labels(), self.hooks.progress)
            case p.CreateBucket(bucket=bucket):
                cloud.create_bucket(bucket, labels())
            case p.BuildImage(tag=tag):
                self.built[tag] = self._build()
            case p.CreateSecret(secret_id=secret_id):
                cloud.create_secret(secret_id, labels())
            case p.AddSecretVersion(secret_id=secret_id, payload=payload):
                cloud.add_secret_version(secret_id, self._payload(payload))
            case p.GrantSecretAccessor(secret_id=secret_id, member=member):
                cloud.add_secret_member(secret_id, p.ACCESSOR_ROLE, member)
            case p.DeployService(create=create, image=image, spec=spec):
                self.image = self._resolve(image)
                self.service = cloud.deploy_service(_with_image(spec, self.image), create, self.hooks.progress)
            case p.GrantInvoker(member=member):
                cloud.add_service_member(p.INVOKER_ROLE, member)
            case p.GrantIapAccess(resource=resource, member=member, prefix=prefix):
                cloud.add_iap_member(resource, p.IAP_ACCESSOR_ROLE, member,
                                     p.path_condition(prefix) if prefix else None)
            case p.MapDomain(domain=domain):
                cloud.create_domain_mapping(domain)

    def _resolve(self, image: p.ImageRef) -> str:
        if isinstance(image, str):
            return image
        # the plan puts BuildImage before DeployService whenever it refers to a build
        return self.built[image.tag]

    def _build(self) -> str:
        from devproxy.deploy.build import build_image

        assert self.context is not None  # prepared whenever the plan builds
        rendered: Rendered = render(self.cfg.tailscale_version)
        return build_image(self.cloud, self.cfg, rendered, self.context,
                           progress=self.hooks.progress, log=self.hooks.log)

    def _payload(self, payload: p.Payload) -> str:
        if payload == "ts-authkey":
            assert self.authkey is not None  # checked before executing
            return self.authkey
        self.new_token = secrets.token_urlsafe(32)
        return self.new_token

    def result(self, actions: tuple[p.Action, ...], current: p.Current) -> DeployResult:
        cfg = self.cfg
        service = self.service or self.cloud.get_service()
        url = str(service.uri) if service else ""
        revision = str(service.latest_ready_revision).rsplit("/", 1)[-1] if service else ""
        image = self.image or (service.template.containers[0].image if service else "")
        link = None
        if cfg.auth == "token" and self.hooks.interactive:
            token = self.new_token or self.cloud.latest_secret_value(cfg.token_secret)
            link = f"{url}/?devproxy_token={token}" if token else None
        federation = credentials.federated_identity(cfg, self.unique_id or current.service_account_unique_id)
        mapping = self.cloud.get_domain_mapping(cfg.domain) if cfg.domain else None
        return DeployResult(service=cfg.service, url=url, revision=revision, image=image,
                            actions=actions, auth=cfg.auth, login_hint=login_hint(cfg, url), login_link=link,
                            credential=credentials.describe(cfg, self.mode),
                            federation=federation, federation_new=credentials.needs_setup(actions),
                            cost=tuple(cost.estimates(cfg)), cost_header=cost.header(cfg),
                            domain=domains.lines(mapping, cfg.domain) if cfg.domain else [],
                            domain_json=domains.as_json(mapping, cfg.domain) if cfg.domain else None)


def login_hint(cfg: DeployConfig, url: str) -> str:
    """How to get in (a command that prints the token, never the token itself)."""
    if cfg.auth == "token":
        return (f"access token: `gcloud secrets versions access latest --secret {cfg.token_secret} "
                f"--project {cfg.project}`; log in at {url}/_devproxy/login")
    if cfg.auth == "iap":
        allowed = f" ({len(cfg.allow)} allowed by --allow)" if cfg.allow else ""
        return (f"IAP lets in whom you allow{allowed}: `devproxy deploy --allow user:EMAIL` "
                "(or group:, domain:)")
    return "auth none: anyone who has the URL reaches your dev server"


def _with_image(spec: Mapping[str, object], image: str) -> run_v2.Service:
    """The planned service spec as a message, running `image`."""
    import json

    from google.cloud import run_v2

    service: run_v2.Service = run_v2.Service.from_json(json.dumps(spec))
    service.template.containers[0].image = image
    return service


def read_authkey(env: Mapping[str, str], path: str | None, prompt: Callable[[], str] | None) -> str | None:
    """The Tailscale auth key: TS_AUTHKEY, then --ts-authkey-file, then a hidden prompt; never a flag.

    Raises:
        ConfigError: the file cannot be read or is empty.
    """
    from pathlib import Path

    value = env.get("TS_AUTHKEY") or env.get("TAILSCALE_AUTHKEY")
    if value:
        return value.strip()
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the auth key file {path}: {exc.strerror}") from exc
        if not text:
            raise ConfigError(f"the auth key file {path} is empty")
        return text
    if prompt is not None:
        return prompt().strip() or None
    return None
