"""The runtime's configuration: one frozen value, built from defaults < environment < flags.

`build_config` is the only reader of the environment in the runtime: every part (access, tailscale,
timeouts, the public scheme, the log format) is decided here once, and the composition root takes
only the value. Pure: the caller hands in the environment mapping and the flags; nothing here reads
`os.environ`, opens a socket or looks at the clock. Each section has its own small builder, so a new
setting is a field plus one line in `build_config`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from devproxy.contract import AUTH_MODES
from devproxy.errors import ConfigError
from devproxy.runtime import config_env
from devproxy.runtime.config_access import AccessSettings, access_settings
from devproxy.runtime.config_tailscale import DEFAULT_SOCKS_HOST, DEFAULT_SOCKS_PORT, TailscaleSettings, tailscale_section

DEFAULT_SOCKS = "socks5://127.0.0.1:1055"
DEFAULT_PORT = 8080
#: `--log-format`: auto is JSON when stdout is not a terminal or on Cloud Run, text on a terminal.
LOG_FORMATS = ("auto", "json", "text")


@dataclass(frozen=True, slots=True)
class Target:
    """Where proxied requests go: the dev server on the tailnet."""

    scheme: str  # "http" or "https"
    host: str  # host name or IP literal, without brackets
    port: int
    base_path: str = ""  # prefix added before every request path, no trailing slash

    @property
    def host_header(self) -> str:
        """The Host header the target expects (default port omitted)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host_header}"

    @property
    def ws_scheme(self) -> str:
        return "wss" if self.scheme == "https" else "ws"

    def __str__(self) -> str:
        return f"{self.origin}{self.base_path}"


@dataclass(frozen=True, slots=True)
class SocksEndpoint:
    """A SOCKS5 server: host may be a name (every address is tried) or an IP literal."""

    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socks5://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. `connect` covers the SOCKS greeting and CONNECT (tailscaled caps its own dial at 5 s)."""

    connect: float = 10.0
    response: float = 120.0  # until the target's status line and headers arrive
    ws_open: float = 20.0  # WebSocket opening handshake, dial included
    ready_cache: float = 2.0  # how long a readiness probe result is reused
    #: from a connection's opening until its first request head is complete (slow or half-sent heads).
    request_head: float = 30.0
    #: an idle keep-alive connection is closed after this; above the 600 s for which Google's front
    #: ends keep an idle connection to the container, so the proxy never closes one they are reusing.
    keepalive: float = 620.0


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    target: Target
    listen: Listen
    socks: SocksEndpoint | None
    #: how tailscaled is started and logged in; None: the runtime does not start it.
    tailscale: TailscaleSettings | None = None
    access: AccessSettings = AccessSettings()
    timeouts: Timeouts = Timeouts()
    #: scheme the browser used; Cloud Run terminates TLS, so "https" there.
    public_scheme: str | None = None
    #: "json" (Cloud Logging's structured lines) or "text" (for a person at a terminal).
    log_format: str = "json"
    #: send X-Forwarded-* to the target; only tests turn it off (proving the origin check matters).
    forwarded_headers: bool = True

    @property
    def auth(self) -> str:
        """The access mode: token, iap or none."""
        return self.access.mode

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret in the configuration, for the masker."""
        token = (self.access.token,) if self.access.token else ()
        return token + (self.tailscale.secrets if self.tailscale is not None else ())


def parse_target(url: str) -> Target:
    """Parse `--target`; Raises: ConfigError on anything but http(s)://host[:port][/path]."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"invalid target URL {url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"invalid target URL {url!r}: use http://HOST:PORT or https://HOST:PORT "
            "(for example http://100.84.184.84:8888)"
        )
    if not parts.hostname:
        raise ConfigError(f"invalid target URL {url!r}: it has no host")
    if parts.username or parts.password:
        raise ConfigError(f"invalid target URL {url!r}: credentials in the URL are not supported")
    if parts.query or parts.fragment:
        raise ConfigError(f"invalid target URL {url!r}: a query or fragment is not allowed")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


def parse_socks(url: str) -> SocksEndpoint | None:
    """Parse `--socks`; "none" means dial the target directly. Raises: ConfigError."""
    value = url.strip()
    if value.lower() in ("none", "off", "direct", ""):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"invalid SOCKS URL {url!r}: {exc}") from exc
    if parts.scheme not in ("socks5", "socks5h"):
        raise ConfigError(
            f"invalid SOCKS URL {url!r}: use socks5://HOST:PORT (for example {DEFAULT_SOCKS}) or 'none'"
        )
    if not parts.hostname or port is None:
        raise ConfigError(f"invalid SOCKS URL {url!r}: it needs a host and a port")
    if parts.path not in ("", "/"):
        raise ConfigError(f"invalid SOCKS URL {url!r}: a path is not allowed")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return SocksEndpoint(parts.hostname, port, user, password)


def parse_listen(value: str) -> Listen:
    """Parse `--listen HOST:PORT` (or `[v6]:PORT`, or `:PORT`). Raises: ConfigError."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ConfigError(f"invalid listen address {value!r}: use HOST:PORT, e.g. 0.0.0.0:8080")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host or "0.0.0.0"
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"invalid listen address {value!r}: port must be a number") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"invalid listen address {value!r}: port out of range")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(f"invalid listen address {value!r}: bad IPv6 address") from None
    return Listen(host, port)


def parse_auth(value: str, accepted: tuple[str, ...] = AUTH_MODES) -> str:
    mode = value.strip().lower()
    if mode not in accepted:
        raise ConfigError(f"unknown auth mode {value!r}: choose one of {', '.join(accepted)}")
    return mode


def _flag_or_env(flag: str | None, env: Mapping[str, str], name: str) -> str | None:
    if flag is not None:
        return flag
    value = env.get(name)
    return value if value not in (None, "") else None


def public_scheme(env: Mapping[str, str]) -> str | None:
    """DEVPROXY_PUBLIC_SCHEME, else https on Cloud Run (K_SERVICE set), else unknown. Raises: ConfigError."""
    scheme = config_env.text(env, "DEVPROXY_PUBLIC_SCHEME").lower() or ("https" if env.get("K_SERVICE") else None)
    if scheme not in (None, "http", "https"):
        raise ConfigError(f"invalid DEVPROXY_PUBLIC_SCHEME={scheme!r}: use http or https")
    return scheme


def log_format(env: Mapping[str, str], flag: str | None, *, stdout_tty: bool) -> str:
    """`--log-format` / DEVPROXY_LOG_FORMAT resolved to json or text. Raises: ConfigError."""
    value = (_flag_or_env(flag, env, "DEVPROXY_LOG_FORMAT") or "auto").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"unknown log format {value!r}: choose one of {', '.join(LOG_FORMATS)}")
    if value == "auto":
        return "text" if stdout_tty and not env.get("K_SERVICE") else "json"
    return value


def timeouts(env: Mapping[str, str]) -> Timeouts:
    """The connection timeouts, each finite and bounded. Raises: ConfigError naming the variable."""
    d = Timeouts()
    return Timeouts(
        connect=config_env.seconds(env, "DEVPROXY_CONNECT_TIMEOUT", d.connect, low=0.1, high=300),
        response=config_env.seconds(env, "DEVPROXY_RESPONSE_TIMEOUT", d.response, low=0.1, high=3600),
        ws_open=config_env.seconds(env, "DEVPROXY_WS_OPEN_TIMEOUT", d.ws_open, low=0.1, high=600),
        request_head=config_env.seconds(env, "DEVPROXY_REQUEST_HEAD_TIMEOUT", d.request_head, low=0.1, high=3600),
        keepalive=config_env.seconds(env, "DEVPROXY_KEEPALIVE_TIMEOUT", d.keepalive, low=1, high=86400),
    )


def tailscale_settings(env: Mapping[str, str], socks: SocksEndpoint | None,
                       target: Target | None = None) -> TailscaleSettings:
    """The supervisor's settings. Raises: ConfigError.

    `socks` is the endpoint the proxy dials; tailscaled must listen on exactly that literal.
    With `None` (the proxy dials directly) tailscaled still gets the default address.
    `target` is what the watchdog dials (None: no watchdog).
    """
    if socks is None:
        return tailscale_section(env, DEFAULT_SOCKS_HOST, DEFAULT_SOCKS_PORT, None)
    try:
        address = ipaddress.ip_address(socks.host)
    except ValueError:
        raise ConfigError(
            f"SOCKS host {socks.host!r} is a name, but the runtime starts tailscaled itself",
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
    watch = (target.host, target.port) if target is not None else None
    return tailscale_section(env, socks.host, socks.port, watch)


def build_config(
    env: Mapping[str, str],
    *,
    target: str | None = None,
    listen: str | None = None,
    socks: str | None = None,
    no_tailscale: bool = False,
    auth: str | None = None,
    log_format_flag: str | None = None,
    stdout_tty: bool = False,
    accepted_auth: tuple[str, ...] = AUTH_MODES,
) -> RuntimeConfig:
    """Merge defaults < environment (`DEVPROXY_*`) < flags. Raises: ConfigError, AuthError (exit 2)."""
    target_url = _flag_or_env(target, env, "DEVPROXY_TARGET")
    if target_url is None:
        raise ConfigError(
            "no target: pass --target URL or set DEVPROXY_TARGET (e.g. http://100.84.184.84:8888)"
        )
    parsed_target = parse_target(target_url)
    port_default = env.get("PORT") or str(DEFAULT_PORT)
    listen_value = _flag_or_env(listen, env, "DEVPROXY_LISTEN") or f"0.0.0.0:{port_default}"
    socks_endpoint = parse_socks(_flag_or_env(socks, env, "DEVPROXY_SOCKS") or DEFAULT_SOCKS)
    mode = parse_auth(_flag_or_env(auth, env, "DEVPROXY_AUTH") or accepted_auth[0], accepted_auth)
    # With --socks none nothing would use tailscaled's SOCKS server, so it is not started.
    supervised = not (no_tailscale or config_env.flag(env, "DEVPROXY_NO_TAILSCALE")) and socks_endpoint is not None
    # Keyword order is check order: the proxy's own settings first, tailscale's last.
    return RuntimeConfig(
        target=parsed_target,
        listen=parse_listen(listen_value),
        socks=socks_endpoint,
        access=access_settings(env, mode),
        timeouts=timeouts(env),
        public_scheme=public_scheme(env),
        log_format=log_format(env, log_format_flag, stdout_tty=stdout_tty),
        tailscale=tailscale_settings(env, socks_endpoint, parsed_target) if supervised else None,
    )
