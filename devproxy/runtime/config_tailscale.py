"""The tailscale section of the runtime's configuration: how tailscaled is started and logged in.

Pure: part of the config builder (`config.build_config` is the only caller), reading the
environment mapping it is handed. Three credential modes, best first (DESIGN rule 8):

- keyless (`DEVPROXY_TAILSCALE_CLIENT_ID`): the service's own Google identity; devproxy fetches
  a fresh ID token from the metadata server for every login and no secret is stored anywhere;
- an OAuth client secret (`tskey-client-...` in `TS_AUTHKEY`): the tailscale CLI mints a key;
- an auth key (`TS_AUTHKEY`): expires after at most 90 days.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from devproxy.contract import AUTHKEY_ENV, AUTHKEY_ENV_ALIAS, SECRET_ENV
from devproxy.errors import ConfigError
from devproxy.runtime import config_env

DEFAULT_SOCKS_HOST = "127.0.0.1"
DEFAULT_SOCKS_PORT = 1055
DEFAULT_STATE_DIR = "/tmp/devproxy-tailscale"
DEFAULT_HOSTNAME = "devproxy"
DEFAULT_TAGS = ("tag:devproxy",)
#: google-auth's name for the metadata server's address (tests point it at a fake).
METADATA_HOST_ENV = "GCE_METADATA_HOST"
DEFAULT_METADATA_HOST = "metadata.google.internal"
CLIENT_SECRET_PREFIX = "tskey-client-"
#: seconds of failing dials while Running before the watchdog restarts tailscaled.
DEFAULT_BOUND_S = 60.0

_HOST_LABEL = re.compile(r"[^a-z0-9-]+")
_REVISION_SUFFIX = re.compile(r"-[a-z0-9]{3}$")
_TAG = re.compile(r"tag:[A-Za-z][A-Za-z0-9-]*")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]+")
_METADATA_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class AuthKey:
    """A Tailscale auth key (`tskey-auth-...`): handed to `tailscale up` through a 0600 file."""

    key: str = field(repr=False)
    #: only when DEVPROXY_TAILSCALE_TAGS is set: a tagged key's own tags apply otherwise.
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """An OAuth client secret: the CLI mints an ephemeral, pre-authorized key with these tags."""

    secret: str = field(repr=False)
    tags: tuple[str, ...] = DEFAULT_TAGS
    #: the API the key is minted at (the secret's `baseURL` attribute); None: Tailscale's own.
    api_url: str | None = None


@dataclass(frozen=True, slots=True)
class WorkloadIdentity:
    """Keyless: a Google ID token for `audience`, exchanged by the CLI for a key of `client_id`."""

    client_id: str
    audience: str
    tags: tuple[str, ...] = DEFAULT_TAGS
    #: host[:port] of the metadata server that issues the ID token.
    metadata_host: str = DEFAULT_METADATA_HOST


Credential = AuthKey | OAuthClient | WorkloadIdentity


def credential_mode(credential: Credential | None) -> str:
    """The mode's name for logs, the status page and errors."""
    match credential:
        case WorkloadIdentity():
            return "keyless"
        case OAuthClient():
            return "oauth-client"
        case AuthKey():
            return "auth-key"
    return "none"


@dataclass(frozen=True, slots=True)
class TailscaleSettings:
    """How the runtime starts tailscaled and logs it in (times in seconds)."""

    tailscaled: str = "tailscaled"
    tailscale: str = "tailscale"
    socks_host: str = DEFAULT_SOCKS_HOST
    socks_port: int = DEFAULT_SOCKS_PORT
    state_dir: str = DEFAULT_STATE_DIR
    socket: str = f"{DEFAULT_STATE_DIR}/tailscaled.sock"
    hostname: str = DEFAULT_HOSTNAME
    credential: Credential | None = None
    #: a self-hosted control server (Headscale, or the test tailnet's); None: Tailscale's own.
    login_server: str | None = None
    up_timeout_s: float = 60.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    #: pause after the control plane rejected the credential: retrying sooner cannot help.
    auth_backoff_s: float = 300.0
    #: first and largest pause between `status --json` polls while logging in.
    poll_initial_s: float = 0.25
    poll_max_s: float = 2.0
    #: pause between polls once Running (to notice a node that drops out).
    running_poll_s: float = 10.0
    #: bound on one `tailscale status --json` call.
    status_timeout_s: float = 5.0
    tailscaled_args: tuple[str, ...] = ()
    up_args: tuple[str, ...] = ()
    #: (host, port) the watchdog dials through the SOCKS server while Running; None: no watchdog.
    watch_target: tuple[str, int] | None = None
    #: restart tailscaled once dials to watch_target have failed this long (None: never).
    watchdog_s: float | None = DEFAULT_BOUND_S
    #: the environment tailscaled and the CLI run with: the runtime's, without its secrets.
    child_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def socks_address(self) -> str:
        host = f"[{self.socks_host}]" if ":" in self.socks_host else self.socks_host
        return f"{host}:{self.socks_port}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What the masker must hide: the auth key or the OAuth client secret."""
        match self.credential:
            case AuthKey(key=key):
                return (key,)
            case OAuthClient(secret=secret):
                return (secret,)
        return ()


def hostname_from_env(env: Mapping[str, str]) -> str:
    """Node name: DEVPROXY_TAILSCALE_HOSTNAME, else the Cloud Run service and revision number."""
    explicit = config_env.text(env, "DEVPROXY_TAILSCALE_HOSTNAME")
    if explicit:
        return _dns_label(explicit) or DEFAULT_HOSTNAME
    service = config_env.text(env, "K_SERVICE")
    revision = config_env.text(env, "K_REVISION")
    if service and revision.startswith(service + "-"):
        # "svc-00012-xah" -> "svc-00012": the random suffix only adds noise in the admin console.
        name = _REVISION_SUFFIX.sub("", revision)
    else:
        name = service or revision
    return _dns_label(name) or DEFAULT_HOSTNAME


def _dns_label(value: str) -> str:
    label = _HOST_LABEL.sub("-", value.lower()).strip("-")
    return label[:63].rstrip("-")


def clean_authkey(raw: str) -> str:
    """Strip what secret stores tend to add (newline, quotes). Raises: ConfigError (key not echoed)."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        key = key[1:-1].strip()
    if not key:
        raise ConfigError("the Tailscale auth key is empty", hint="set TS_AUTHKEY")
    if any(ch.isspace() for ch in key) or not key.isprintable():
        raise ConfigError(
            "the Tailscale auth key contains whitespace or control characters",
            hint="store the bare key in the secret, without quotes or line breaks",
        )
    return key


def _http_url(env: Mapping[str, str], name: str, hint: str) -> str | None:
    raw = config_env.text(env, name)
    if not raw:
        return None
    url = urlsplit(raw)
    if url.scheme not in ("http", "https") or not url.hostname or url.username or url.query or url.fragment:
        raise ConfigError(f"invalid {name}={raw!r}: expected an http:// or https:// URL without credentials",
                          hint=hint)
    return raw.rstrip("/")


def login_server_from_env(env: Mapping[str, str]) -> str | None:
    """DEVPROXY_TAILSCALE_LOGIN_SERVER as an http(s) URL, or None. Raises: ConfigError."""
    return _http_url(env, "DEVPROXY_TAILSCALE_LOGIN_SERVER",
                     "the URL of your Headscale server, e.g. https://headscale.example.com")


def _extra_args(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    try:
        args = tuple(shlex.split(raw))
    except ValueError as exc:
        raise ConfigError(f"invalid {name}: {exc}") from None
    for arg in args:
        if arg.lstrip("-").lower().startswith(("auth-key", "authkey", "client-secret", "id-token")):
            # Secrets on a command line are visible in /proc and in logs.
            raise ConfigError(f"{name} must not carry credentials", hint="set TS_AUTHKEY instead")
    return args


def watchdog_from_env(env: Mapping[str, str]) -> float | None:
    """DEVPROXY_TAILSCALE_WATCHDOG: seconds of failing dials before a restart; "off" or 0 disables."""
    raw = env.get("DEVPROXY_TAILSCALE_WATCHDOG", "").strip().lower()
    if raw in ("off", "0", "0s", "false", "no"):
        return None
    return config_env.seconds(env, "DEVPROXY_TAILSCALE_WATCHDOG", DEFAULT_BOUND_S, low=1, high=3600)


def tags_from_env(env: Mapping[str, str]) -> tuple[str, ...]:
    """DEVPROXY_TAILSCALE_TAGS: comma-separated, `tag:` added when missing. Raises: ConfigError."""
    name = "DEVPROXY_TAILSCALE_TAGS"
    if name not in env or not env[name].strip():
        return DEFAULT_TAGS
    tags = tuple(t if t.startswith("tag:") else f"tag:{t}" for t in (p.strip() for p in env[name].split(",")) if t)
    if not tags:
        raise ConfigError(f"invalid {name}={env[name]!r}: give at least one tag",
                          hint="for example tag:devproxy; the tailnet policy's tagOwners must let the "
                          "OAuth client or federated identity own it")
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise ConfigError(f"invalid {name}: {tag!r} is not a tag name",
                              hint="tags look like tag:devproxy (letters, digits and dashes)")
    return tags


def metadata_host_from_env(env: Mapping[str, str]) -> str:
    """GCE_METADATA_HOST as host[:port] (google-auth's variable). Raises: ConfigError."""
    raw = config_env.text(env, METADATA_HOST_ENV, DEFAULT_METADATA_HOST)
    if not _METADATA_HOST.fullmatch(raw):
        raise ConfigError(f"invalid {METADATA_HOST_ENV}={raw!r}: expected HOST or HOST:PORT (no scheme, no path)",
                          hint=f"unset it to use {DEFAULT_METADATA_HOST}")
    return raw


def credential_from_env(env: Mapping[str, str]) -> Credential:
    """The credential mode the environment chooses. Raises: ConfigError (never echoing a secret)."""
    client_id = config_env.text(env, "DEVPROXY_TAILSCALE_CLIENT_ID")
    raw_key = env.get(AUTHKEY_ENV) or env.get(AUTHKEY_ENV_ALIAS)
    api_url = _http_url(env, "DEVPROXY_TAILSCALE_API_URL",
                        "the API the OAuth client mints keys at, e.g. https://api.tailscale.com")
    if client_id:
        if raw_key:
            raise ConfigError("both DEVPROXY_TAILSCALE_CLIENT_ID (keyless) and TS_AUTHKEY are set",
                              hint="keep one: keyless needs no stored secret")
        if api_url is not None:
            raise ConfigError("DEVPROXY_TAILSCALE_API_URL applies to an OAuth client secret only",
                              hint="keyless logins exchange the token at the login server "
                              "(DEVPROXY_TAILSCALE_LOGIN_SERVER)")
        if not _CLIENT_ID.fullmatch(client_id):
            raise ConfigError(f"invalid DEVPROXY_TAILSCALE_CLIENT_ID={client_id!r}: expected the federated "
                              "identity's client ID (letters, digits, '-' and '_')",
                              hint="devproxy adds ?ephemeral=true&preauthorized=true itself")
        audience = config_env.text(env, "DEVPROXY_TAILSCALE_AUDIENCE")
        if not audience:
            raise ConfigError("keyless login (DEVPROXY_TAILSCALE_CLIENT_ID) needs DEVPROXY_TAILSCALE_AUDIENCE",
                              hint="the audience configured in Tailscale's federated identity")
        return WorkloadIdentity(client_id, audience, tags_from_env(env), metadata_host_from_env(env))
    if not raw_key:
        raise ConfigError(
            "no Tailscale credential: set DEVPROXY_TAILSCALE_CLIENT_ID (keyless), or TS_AUTHKEY "
            "(an OAuth client secret or an auth key)",
            hint="`devproxy deploy` sets it up; locally pass --no-tailscale if tailscaled already runs",
        )
    key = clean_authkey(raw_key)
    if key.startswith(CLIENT_SECRET_PREFIX):
        if "?" in key:
            raise ConfigError("the OAuth client secret in TS_AUTHKEY carries ?attributes",
                              hint="store the bare secret: devproxy adds ephemeral=true&preauthorized=true, "
                              "and DEVPROXY_TAILSCALE_API_URL sets baseURL")
        return OAuthClient(key, tags_from_env(env), api_url)
    if api_url is not None:
        raise ConfigError("DEVPROXY_TAILSCALE_API_URL applies to an OAuth client secret only",
                          hint="an auth key (tskey-auth-...) needs no API")
    explicit = "DEVPROXY_TAILSCALE_TAGS" in env and bool(env["DEVPROXY_TAILSCALE_TAGS"].strip())
    return AuthKey(key, tags_from_env(env) if explicit else ())


def tailscale_section(env: Mapping[str, str], socks_host: str, socks_port: int,
                      watch_target: tuple[str, int] | None) -> TailscaleSettings:
    """The supervisor's settings from the environment (socks already checked). Raises: ConfigError."""
    state_dir = config_env.text(env, "DEVPROXY_TAILSCALE_STATE_DIR", DEFAULT_STATE_DIR)
    initial = config_env.seconds(env, "DEVPROXY_TAILSCALE_BACKOFF_INITIAL", 1.0, low=0.01, high=3600)
    maximum = config_env.seconds(env, "DEVPROXY_TAILSCALE_BACKOFF_MAX", 30.0, low=0.01, high=3600)
    return TailscaleSettings(
        tailscaled=config_env.text(env, "DEVPROXY_TAILSCALED", "tailscaled"),
        tailscale=config_env.text(env, "DEVPROXY_TAILSCALE", "tailscale"),
        socks_host=socks_host,
        socks_port=socks_port,
        state_dir=state_dir,
        socket=config_env.text(env, "DEVPROXY_TAILSCALE_SOCKET", f"{state_dir}/tailscaled.sock"),
        hostname=hostname_from_env(env),
        credential=credential_from_env(env),
        login_server=login_server_from_env(env),
        up_timeout_s=config_env.seconds(env, "DEVPROXY_TAILSCALE_UP_TIMEOUT", 60.0, low=1, high=600),
        backoff_initial_s=initial,
        backoff_max_s=max(initial, maximum),
        auth_backoff_s=config_env.seconds(env, "DEVPROXY_TAILSCALE_AUTH_BACKOFF", 300.0, low=1, high=86400),
        tailscaled_args=_extra_args(env, "DEVPROXY_TAILSCALED_ARGS"),
        up_args=_extra_args(env, "DEVPROXY_TAILSCALE_UP_ARGS"),
        watch_target=watch_target,
        watchdog_s=watchdog_from_env(env),
        child_env=tuple(sorted((k, v) for k, v in env.items() if k not in SECRET_ENV)),
    )
