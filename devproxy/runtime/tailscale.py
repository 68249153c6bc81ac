"""tailscaled settings and the pure logic around it: argv, `status --json`, log-line signatures.

Nothing here starts a process, reads the clock or touches the environment except through the
mapping handed in; the supervisor (`supervisor.py`) does the I/O.

The auth key never goes on a command line: `tailscale up --auth-key=file:PATH` reads it from a
0600 file the supervisor deletes as soon as `up` returns (supported by `tailscale up`, which
treats a value starting with "file:" as a path).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from devproxy import tailscale_lines as lines
from devproxy.contract import AUTHKEY_ENV, AUTHKEY_ENV_ALIAS
from devproxy.errors import ConfigError, TailscaleError
from devproxy.runtime.config import SocksEndpoint, Target
from devproxy.runtime.watchdog import DEFAULT_BOUND_S

DEFAULT_SOCKS_HOST = "127.0.0.1"
DEFAULT_SOCKS_PORT = 1055
DEFAULT_STATE_DIR = "/tmp/devproxy-tailscale"
DEFAULT_HOSTNAME = "devproxy"
REDACTED = "[REDACTED]"

#: what a user must do when the control plane rejects the auth key (field notes T7/T8).
AUTH_KEY_FIX = (
    "mint a new Tailscale auth key (reusable, ephemeral, pre-authorized; keys expire after at most "
    "90 days), add it as a new Secret Manager version of the auth-key secret, then redeploy "
    "(`devproxy deploy`) so new instances read it"
)
TAGS_FIX = (
    "the key may not request these tags: fix tagOwners in the tailnet policy, or mint the key "
    "with the full tag set of its OAuth client"
)

# Anything shaped like a Tailscale key is masked even if it is not the configured one.
_KEY_SHAPE = re.compile(r"tskey-[A-Za-z0-9_-]+")
_HOST_LABEL = re.compile(r"[^a-z0-9-]+")
_REVISION_SUFFIX = re.compile(r"-[a-z0-9]{3}$")


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
    authkey: str | None = field(default=None, repr=False)
    #: a self-hosted control server (Headscale, or the test tailnet's); None: Tailscale's own.
    login_server: str | None = None
    up_timeout_s: float = 60.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    #: pause after the control plane rejected the key: retrying sooner cannot help.
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

    @property
    def socks_address(self) -> str:
        host = f"[{self.socks_host}]" if ":" in self.socks_host else self.socks_host
        return f"{host}:{self.socks_port}"


@dataclass(frozen=True, slots=True)
class TailscaleStatus:
    """The parts of `tailscale status --json` the runtime acts on."""

    backend_state: str
    auth_url: str = ""
    health: tuple[str, ...] = ()
    self_hostname: str = ""
    self_ips: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return self.backend_state == "Running"


@dataclass(frozen=True, slots=True)
class LineSignature:
    """A known tailscaled / tailscale message and what it means."""

    kind: str  # "auth_failed", "tags_rejected", "socks_in_use", ...
    severity: str
    cause: str
    fix: str
    pattern: re.Pattern[str]


SIGNATURES: tuple[LineSignature, ...] = (
    LineSignature(
        "tags_rejected", "ERROR", "the auth key's tags were rejected", TAGS_FIX,
        re.compile(lines.RUNTIME_TAGS_REJECTED, re.I),
    ),
    LineSignature(
        "auth_failed", "ERROR", "the Tailscale auth key was rejected (expired, revoked or malformed)",
        AUTH_KEY_FIX,
        re.compile(lines.RUNTIME_AUTH_FAILED, re.I),
    ),
    LineSignature(
        "socks_in_use", "ERROR", "the SOCKS5 port is already in use (an old tailscaled still running?)",
        "make sure no other process listens on the SOCKS address",
        re.compile(lines.RUNTIME_SOCKS_IN_USE, re.I),
    ),
    LineSignature(
        "socket_missing", "WARNING", "the tailscale CLI could not reach tailscaled's socket",
        "tailscaled is not running yet, or --socket differs between tailscaled and tailscale",
        re.compile(lines.RUNTIME_SOCKET_MISSING, re.I),
    ),
    LineSignature(
        "up_timeout", "WARNING", "tailscale up did not reach Running in time",
        "check the control plane is reachable and the key is valid",
        re.compile(lines.UP_TIMEOUT, re.I),
    ),
    LineSignature(
        "logout_failed", "WARNING", "the ephemeral node was not logged out at shutdown",
        "it is removed automatically later; nothing to do",
        re.compile(lines.RUNTIME_LOGOUT_FAILED, re.I),
    ),
)

AUTH_KINDS = frozenset({"auth_failed", "tags_rejected"})


def classify_line(line: str) -> LineSignature | None:
    """Return the known signature a tailscaled/tailscale output line matches, if any."""
    for signature in SIGNATURES:
        if signature.pattern.search(line):
            return signature
    return None


def redact(text: str, secret: str | None) -> str:
    """Mask the auth key (and anything shaped like a Tailscale key) in a line of output."""
    if secret:
        text = text.replace(secret, REDACTED)
    return _KEY_SHAPE.sub(REDACTED, text)


def backoff_delay(attempt: int, initial_s: float, max_s: float) -> float:
    """Capped exponential backoff: initial, 2x, 4x, ... up to max (attempt counts from 0)."""
    if attempt < 0:
        attempt = 0
    # Cap the exponent so huge attempt counts cannot overflow the float.
    return float(min(max_s, initial_s * (2 ** min(attempt, 32))))


def tailscaled_argv(settings: TailscaleSettings) -> list[str]:
    """Command line of tailscaled: userspace networking, ephemeral, SOCKS on the literal address."""
    return [
        settings.tailscaled,
        "--tun=userspace-networking",
        f"--socks5-server={settings.socks_address}",
        "--state=mem:",
        f"--statedir={settings.state_dir}",
        f"--socket={settings.socket}",
        # Without it tailscaled takes its UDP port from $PORT (8080 on Cloud Run).
        "--port=0",
        "--no-logs-no-support",
        *settings.tailscaled_args,
    ]


def up_argv(settings: TailscaleSettings, authkey_file: str | None) -> list[str]:
    """Command line of `tailscale up`; the key travels as a file path, never as its value."""
    argv = [settings.tailscale, f"--socket={settings.socket}", "up"]
    if authkey_file is not None:
        argv.append(f"--auth-key=file:{authkey_file}")
    if settings.login_server is not None:
        argv.append(f"--login-server={settings.login_server}")
    argv += [
        f"--hostname={settings.hostname}",
        "--accept-dns=false",
        f"--timeout={max(1, int(round(settings.up_timeout_s)))}s",
        *settings.up_args,
    ]
    return argv


def status_argv(settings: TailscaleSettings) -> list[str]:
    """`tailscale status --json` without the peer list (it can be large, and is polled)."""
    return [settings.tailscale, f"--socket={settings.socket}", "status", "--json", "--peers=false"]


def parse_status(text: str) -> TailscaleStatus:
    """Parse `tailscale status --json`. Raises: TailscaleError when it is not that JSON."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TailscaleError("tailscale status --json printed something that is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("BackendState"), str):
        raise TailscaleError("tailscale status --json has no BackendState")
    health = data.get("Health") or []
    self_node = data.get("Self")
    if not isinstance(self_node, dict):
        self_node = {}
    ips = self_node.get("TailscaleIPs") or data.get("TailscaleIPs") or []
    return TailscaleStatus(
        backend_state=data["BackendState"],
        auth_url=str(data.get("AuthURL") or ""),
        health=tuple(str(h) for h in health) if isinstance(health, list) else (),
        self_hostname=str(self_node.get("HostName") or ""),
        self_ips=tuple(str(ip) for ip in ips) if isinstance(ips, list) else (),
    )


def hostname_from_env(env: Mapping[str, str]) -> str:
    """Node name: DEVPROXY_TAILSCALE_HOSTNAME, else the Cloud Run service and revision number."""
    explicit = env.get("DEVPROXY_TAILSCALE_HOSTNAME", "").strip()
    if explicit:
        return _dns_label(explicit) or DEFAULT_HOSTNAME
    service = env.get("K_SERVICE", "").strip()
    revision = env.get("K_REVISION", "").strip()
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


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw.removesuffix("s"))
    except ValueError:
        raise ConfigError(f"invalid {name}={raw!r}: expected a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"invalid {name}={raw!r}: must be positive")
    return value


def login_server_from_env(env: Mapping[str, str]) -> str | None:
    """DEVPROXY_TAILSCALE_LOGIN_SERVER as an http(s) URL, or None. Raises: ConfigError."""
    raw = env.get("DEVPROXY_TAILSCALE_LOGIN_SERVER", "").strip()
    if not raw:
        return None
    url = urlsplit(raw)
    if url.scheme not in ("http", "https") or not url.hostname or url.username or url.query:
        raise ConfigError(
            f"invalid DEVPROXY_TAILSCALE_LOGIN_SERVER={raw!r}: expected an http:// or https:// URL "
            "without credentials",
            hint="the URL of your Headscale server, e.g. https://headscale.example.com",
        )
    return raw.rstrip("/")


def _extra_args(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "")
    try:
        args = tuple(shlex.split(raw))
    except ValueError as exc:
        raise ConfigError(f"invalid {name}: {exc}") from None
    for arg in args:
        if arg.lstrip("-").lower().startswith(("auth-key", "authkey", "client-secret")):
            # Secrets on a command line are visible in /proc and in logs.
            raise ConfigError(f"{name} must not carry credentials", hint="set TS_AUTHKEY instead")
    return args


def watchdog_from_env(env: Mapping[str, str]) -> float | None:
    """DEVPROXY_TAILSCALE_WATCHDOG: seconds of failing dials before a restart; "off" or 0 disables."""
    raw = env.get("DEVPROXY_TAILSCALE_WATCHDOG", "").strip().lower()
    if raw in ("off", "0", "0s", "false", "no"):
        return None
    return _seconds(env, "DEVPROXY_TAILSCALE_WATCHDOG", DEFAULT_BOUND_S)


def tailscale_settings(
    env: Mapping[str, str], socks: SocksEndpoint | None, target: Target | None = None
) -> TailscaleSettings:
    """Build the supervisor's settings from the environment. Raises: ConfigError.

    `socks` is the endpoint the proxy dials; tailscaled must listen on exactly that literal.
    With `None` (the proxy dials directly) tailscaled still gets the default address.
    `target` is what the watchdog dials (the runtime config's target; None: no watchdog).
    """
    if socks is None:
        host, port = DEFAULT_SOCKS_HOST, DEFAULT_SOCKS_PORT
    else:
        host, port = socks.host, socks.port
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(
                f"SOCKS host {host!r} is a name, but the runtime starts tailscaled itself",
                hint="use an IP literal such as socks5://127.0.0.1:1055 (a name binds only one "
                "loopback family), or pass --no-tailscale",
            ) from None
        if not address.is_loopback:
            raise ConfigError(
                f"SOCKS address {socks} is not a loopback address",
                hint="tailscaled's SOCKS server reaches the whole tailnet; keep it on 127.0.0.1",
            )
        if socks.username or socks.password:
            raise ConfigError(
                "tailscaled's SOCKS server takes no credentials",
                hint="drop the user and password from the SOCKS URL",
            )
    raw_key = env.get(AUTHKEY_ENV) or env.get(AUTHKEY_ENV_ALIAS)
    if not raw_key:
        raise ConfigError(
            "no Tailscale auth key: set TS_AUTHKEY (or TAILSCALE_AUTHKEY)",
            hint="`devproxy deploy` stores it in Secret Manager; locally pass --no-tailscale "
            "if tailscaled already runs",
        )
    state_dir = env.get("DEVPROXY_TAILSCALE_STATE_DIR", "").strip() or DEFAULT_STATE_DIR
    initial = _seconds(env, "DEVPROXY_TAILSCALE_BACKOFF_INITIAL", 1.0)
    maximum = _seconds(env, "DEVPROXY_TAILSCALE_BACKOFF_MAX", 30.0)
    return TailscaleSettings(
        tailscaled=env.get("DEVPROXY_TAILSCALED", "").strip() or "tailscaled",
        tailscale=env.get("DEVPROXY_TAILSCALE", "").strip() or "tailscale",
        socks_host=host,
        socks_port=port,
        state_dir=state_dir,
        socket=env.get("DEVPROXY_TAILSCALE_SOCKET", "").strip() or f"{state_dir}/tailscaled.sock",
        hostname=hostname_from_env(env),
        authkey=clean_authkey(raw_key),
        login_server=login_server_from_env(env),
        up_timeout_s=_seconds(env, "DEVPROXY_TAILSCALE_UP_TIMEOUT", 60.0),
        backoff_initial_s=initial,
        backoff_max_s=max(initial, maximum),
        auth_backoff_s=_seconds(env, "DEVPROXY_TAILSCALE_AUTH_BACKOFF", 300.0),
        tailscaled_args=_extra_args(env, "DEVPROXY_TAILSCALED_ARGS"),
        up_args=_extra_args(env, "DEVPROXY_TAILSCALE_UP_ARGS"),
        watch_target=(target.host, target.port) if target is not None and socks is not None else None,
        watchdog_s=watchdog_from_env(env),
    )
