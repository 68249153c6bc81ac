"""devproxy's error tree: every failure a user can act on is one of these.

Foreign errors (python-socks, aiohttp, websockets, google-api-core, OS) are mapped into
this tree at exactly one seam per adapter, chained with ``from exc``. The CLI turns any
``DevproxyError`` into one red line and ``exit_code``; nothing else reaches the user.

    DevproxyError
    ├── ConfigError                      bad flag, env value or devproxy.toml (exit 2)
    ├── ProxyError                       the runtime could not reach the target
    │   ├── SocksUnreachableError        nothing answered on the SOCKS address (also OSError)
    │   ├── SocksReplyError              the SOCKS server answered with a failure code
    │   ├── TargetUnreachableError       direct dial (--socks none) refused or unreachable (also OSError)
    │   ├── UpstreamTimeoutError         dial, handshake or response timed out (also TimeoutError)
    │   └── UpgradeRejectedError         the target answered a WebSocket upgrade with an HTTP status
    ├── TailscaleError                   tailscaled could not be started or logged in
    ├── AuthError                        access-control set-up is wrong (missing token, bad key URL)
    ├── CloudError                       a Google Cloud call failed (permission, API disabled, ...)
    └── LogInputError                    a log source could not be read at all (exit 2)
"""

from __future__ import annotations

from devproxy import events


class DevproxyError(Exception):
    """Root of every error devproxy reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(DevproxyError):
    """Invalid configuration: a flag, an environment variable or devproxy.toml."""

    exit_code = 2


class ProxyError(DevproxyError):
    """The runtime could not carry a request to the target."""

    #: HTTP status the runtime answers with when this error ends a request.
    http_status: int = 502
    #: stable structured-log event name.
    event: str = events.PROXY_FAILED


class SocksUnreachableError(ProxyError, ConnectionError):
    """No SOCKS server answered on any address of the configured SOCKS endpoint."""

    event = events.SOCKS_CONNECT_FAILED


class SocksReplyError(ProxyError):
    """The SOCKS server accepted us but could not open the connection to the target."""

    event = events.SOCKS_REPLY_FAILED

    def __init__(self, message: str, *, code: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class TargetUnreachableError(ProxyError, ConnectionError):
    """A direct dial (no SOCKS) to the target was refused or had no route."""

    event = events.TARGET_CONNECT_FAILED


class UpstreamTimeoutError(ProxyError, TimeoutError):
    """Dialing, the handshake or the target's answer took longer than allowed."""

    http_status = 504
    event = events.UPSTREAM_TIMEOUT


class UpgradeRejectedError(ProxyError):
    """The target answered a WebSocket upgrade with a plain HTTP response."""

    event = events.WS_UPGRADE_REJECTED

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reason: str = "",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason
        self.headers = headers or []
        self.body = body
        self.http_status = status


class TailscaleError(DevproxyError):
    """tailscaled could not be started, or could not log in."""


class AuthError(DevproxyError):
    """Access control is misconfigured (for example token mode without a token)."""

    exit_code = 2


class CloudError(DevproxyError):
    """A Google Cloud API call failed; ``hint`` says what to do about it."""


class LogInputError(DevproxyError):
    """A log source (file, stdin, Cloud Logging) could not be read at all."""

    exit_code = 2
