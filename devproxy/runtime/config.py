"""The runtime's configuration: one frozen value, built from defaults < environment < flags.

Pure: the caller hands in the environment mapping and the flags; nothing here reads
`os.environ`, opens a socket or looks at the clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from devproxy.contract import AUTH_MODES, public_scheme
from devproxy.errors import ConfigError
from devproxy.runtime.routes import Route, build_routes, split_routes

DEFAULT_SOCKS = "socks5://127.0.0.1:1055"
DEFAULT_PORT = 8080
#: auth modes; the first is the default (a public URL in front of VS Code is a remote shell).


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
    tailscale: bool = True
    auth: str = "none"
    timeouts: Timeouts = Timeouts()
    #: scheme the browser used; Cloud Run terminates TLS, so "https" there.
    public_scheme: str | None = None
    #: test-only switch: do not send X-Forwarded-* to the target (proves the origin check matters).
    forwarded_headers: bool = True
    #: proxies in front that append to X-Forwarded-For (1 on Cloud Run); 0 trusts only the peer address.
    trusted_hops: int = 0
    #: prefixed routes beside the default one (`target`), longest prefix first (routes.py).
    routes: tuple[Route[Target], ...] = ()


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


def _float_env(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"invalid {name}={raw!r}: expected a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"invalid {name}={raw!r}: must be positive")
    return value


def _hops_env(env: Mapping[str, str]) -> int:
    """DEVPROXY_TRUSTED_HOPS, else 1 on Cloud Run (its front end appends the client) and 0 elsewhere."""
    raw = env.get("DEVPROXY_TRUSTED_HOPS", "").strip()
    if not raw:
        return 1 if env.get("K_SERVICE") else 0
    if not raw.isdigit() or int(raw) > 10:
        raise ConfigError(f"invalid DEVPROXY_TRUSTED_HOPS={raw!r}: expected a whole number from 0 to 10")
    return int(raw)


def build_config(
    env: Mapping[str, str],
    *,
    target: str | None = None,
    listen: str | None = None,
    socks: str | None = None,
    no_tailscale: bool = False,
    auth: str | None = None,
    accepted_auth: tuple[str, ...] = AUTH_MODES,
    routes: Sequence[str] = (),
) -> RuntimeConfig:
    """Merge defaults < environment (`DEVPROXY_*`) < flags. Raises: ConfigError."""
    target_url = _flag_or_env(target, env, "DEVPROXY_TARGET")
    if target_url is None:
        raise ConfigError(
            "no target: pass --target URL or set DEVPROXY_TARGET (e.g. http://100.84.184.84:8888)"
        )
    port_default = env.get("PORT") or str(DEFAULT_PORT)
    listen_value = _flag_or_env(listen, env, "DEVPROXY_LISTEN") or f"0.0.0.0:{port_default}"
    socks_value = _flag_or_env(socks, env, "DEVPROXY_SOCKS") or DEFAULT_SOCKS
    auth_value = _flag_or_env(auth, env, "DEVPROXY_AUTH") or accepted_auth[0]
    tailscale_off = no_tailscale or env.get("DEVPROXY_NO_TAILSCALE", "").lower() in (
        "1",
        "true",
        "yes",
    )
    defaults = Timeouts()
    timeouts = Timeouts(
        connect=_float_env(env, "DEVPROXY_CONNECT_TIMEOUT", defaults.connect),
        response=_float_env(env, "DEVPROXY_RESPONSE_TIMEOUT", defaults.response),
        ws_open=_float_env(env, "DEVPROXY_WS_OPEN_TIMEOUT", defaults.ws_open),
        request_head=_float_env(env, "DEVPROXY_REQUEST_HEAD_TIMEOUT", defaults.request_head),
        keepalive=_float_env(env, "DEVPROXY_KEEPALIVE_TIMEOUT", defaults.keepalive),
    )
    scheme = public_scheme(env)
    if scheme not in (None, "http", "https"):
        raise ConfigError(f"invalid DEVPROXY_PUBLIC_SCHEME={scheme!r}: use http or https")
    forwarded = env.get("DEVPROXY_TEST_OMIT_FORWARDED", "") not in ("1", "true", "yes")
    socks_endpoint = parse_socks(socks_value)
    default_target = parse_target(target_url)
    route_specs = list(routes) or split_routes(env.get("DEVPROXY_ROUTES", ""))
    return RuntimeConfig(
        target=default_target,
        listen=parse_listen(listen_value),
        socks=socks_endpoint,
        # With --socks none nothing would use tailscaled's SOCKS server, so it is not started.
        tailscale=not tailscale_off and socks_endpoint is not None,
        auth=parse_auth(auth_value, accepted_auth),
        timeouts=timeouts,
        public_scheme=scheme,
        forwarded_headers=forwarded,
        trusted_hops=_hops_env(env),
        routes=build_routes(default_target, route_specs, parse_target).routes,
    )
