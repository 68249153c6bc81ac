"""Every event name the runtime writes into its log lines: one module for the emitters and for diagnosis.

The runtime passes these constants to `EventLog`; `devproxy logs` knows each one, either through a
signature in its catalog that owns the event or as listed in `BENIGN` (lifecycle and success lines,
and carriers whose text the catalog matches line by line). A test keeps the two in step.
"""

from __future__ import annotations

AUTH_DENIED = "auth.denied"
AUTH_IAP_KEYS_FAILED = "auth.iap_keys_failed"
AUTH_LOGIN = "auth.login"
AUTH_LOGIN_FAILED = "auth.login_failed"
AUTH_LOGOUT = "auth.logout"
AUTH_RATE_LIMITED = "auth.rate_limited"
AUTH_WEAK_TOKEN = "auth.weak_token"

HTTP_ACCESS = "http.access"
HTTP_BAD_REQUEST = "http.bad_request"
HTTP_HEAD_TIMEOUT = "http.head_timeout"

LIBRARY_LOG = "library.log"

PROXY_FAILED = "proxy.failed"

READY_CHANGED = "ready.changed"

RUNTIME_AUTH_DISABLED = "runtime.auth_disabled"
RUNTIME_STARTED = "runtime.started"
RUNTIME_STOPPED = "runtime.stopped"
RUNTIME_STOPPING = "runtime.stopping"
RUNTIME_THAWED = "runtime.thawed"
RUNTIME_THAW_CHECKED = "runtime.thaw_checked"
RUNTIME_WEBSOCKET_CLOSE_FAILED = "runtime.websocket_close_failed"
RUNTIME_WEBSOCKETS_CLOSED = "runtime.websockets_closed"

SOCKS_CONNECT_FAILED = "socks.connect_failed"
SOCKS_CONNECTED = "socks.connected"
SOCKS_REPLY_FAILED = "socks.reply_failed"

SUPERVISOR_CRASHED = "supervisor.crashed"

TAILSCALE_AUTH_FAILED = "tailscale.auth_failed"
TAILSCALE_BACKEND_STATE = "tailscale.backend_state"
TAILSCALE_CLI_FAILED = "tailscale.cli_failed"
TAILSCALE_UP = "tailscale.up"
TAILSCALE_UP_FAILED = "tailscale.up_failed"
TAILSCALE_UP_LINE = "tailscale.up_line"

TAILSCALED_EXITED = "tailscaled.exited"
TAILSCALED_KILLED = "tailscaled.killed"
TAILSCALED_LINE = "tailscaled.line"
TAILSCALED_RESTART = "tailscaled.restart"
TAILSCALED_START_FAILED = "tailscaled.start_failed"
TAILSCALED_STARTED = "tailscaled.started"
TAILSCALED_STATE = "tailscaled.state"
TAILSCALED_STOPPING = "tailscaled.stopping"
TAILSCALED_WATCHDOG = "tailscaled.watchdog"

TARGET_CONNECT_FAILED = "target.connect_failed"

UPSTREAM_BODY_FAILED = "upstream.body_failed"
UPSTREAM_TIMEOUT = "upstream.timeout"

WS_BAD_HANDSHAKE = "ws.bad_handshake"
WS_CLOSED = "ws.closed"
WS_OPEN = "ws.open"
WS_UPGRADE_REJECTED = "ws.upgrade_rejected"

#: lifecycle and success events, client input counted on its own, and carriers of other programs' lines
#: (`tailscaled.line`, `library.log`) whose text the catalog's patterns match: none is a finding by itself.
BENIGN: frozenset[str] = frozenset({
    AUTH_LOGIN,
    AUTH_LOGOUT,
    HTTP_ACCESS,
    HTTP_BAD_REQUEST,
    HTTP_HEAD_TIMEOUT,
    LIBRARY_LOG,
    READY_CHANGED,
    RUNTIME_STARTED,
    # economy mode: a paused instance resumed, and the tailnet path was checked before forwarding
    RUNTIME_THAWED,
    RUNTIME_THAW_CHECKED,
    RUNTIME_STOPPED,
    RUNTIME_WEBSOCKETS_CLOSED,
    SOCKS_CONNECTED,
    TAILSCALE_UP,
    TAILSCALE_UP_LINE,
    TAILSCALED_LINE,
    TAILSCALED_STARTED,
    TAILSCALED_STOPPING,
    WS_OPEN,
})

#: every event the runtime can emit.
ALL: frozenset[str] = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)
