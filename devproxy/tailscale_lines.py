"""tailscaled's and the tailscale CLI's own words: one home for the runtime and the diagnosis catalog.

Each constant is a regular expression (searched case-insensitively) for one message of tailscale
1.102.5, with the package whose format string prints it. The runtime recognises its child's lines
with them (devproxy/runtime/tailscale.py); `devproxy logs` builds catalog rows on them
(devproxy/logs/signatures.py, devproxy/logs/tailscaled.py).
"""

from __future__ import annotations

# ---- net/socks5 (socks5.go: "client connection failed: %v") ---------------------------------------------
#: a client connected and closed before sending the SOCKS greeting (bare probe, cancelled connect).
PACKET_HEADER = r"client connection failed: could not read packet header"
#: the dev box answered, but nothing listens on that port (netstack's RST).
TARGET_REFUSED = r"client connection failed: connect tcp \S+: connection was refused"
#: a 100.x address no peer holds: tailscaled dialled it outside the tailnet and it was refused.
NO_SUCH_PEER = r"client connection failed: dial tcp 100\.\S+: connect: connection refused"
#: a name neither MagicDNS nor the system resolver knows.
NO_SUCH_HOST = r"client connection failed: lookup \S+ on \S+: no such host"
DIAL_TIMEOUT = r"client connection failed: context deadline exceeded"

# ---- cmd/tailscaled (tailscaled.go) -------------------------------------------------------------------
SOCKS_IN_USE = r"SOCKS5 listener: listen tcp \S+: bind: address already in use"
#: Go's flag package, which tailscaled's flags use: a flag this version does not have.
UNKNOWN_FLAG = r"flag provided but not defined: -\S+"
#: log.Fatalf of cmd/tailscaled/tailscaled.go (v1.102.3): it stops at start with these.
NON_FLAG_ARGS = r"tailscaled does not take non-flag arguments"
REQUIRES_ROOT = r"tailscaled requires root; use sudo tailscaled"
STATE_DIR_CREATE = r"failed to create state directory: "
STATE_REQUIRED = r"--statedir \(or at least --state\) is required"
NETSTACK_START = r"failed to start netstack: "

# ---- control/controlclient, ipn/ipnlocal (auth) ------------------------------------------------------
KEY_DOES_NOT_EXIST = r"invalid key: API key does not exist"
KEY_INVALID = r"backend error: invalid authkey\b"
KEY_RECEIVED_INVALID = r"Received error: invalid authkey\b"
KEY_MALFORMED = r"invalid key: unable to validate API key"
TAGS_REJECTED = r"requested tags \[[^\]]*\] are invalid or not permitted"
#: controlclient's "Received error: %v" for a control server it cannot reach.
CONTROL_UNREACHABLE = r"Received error: (?:fetch control key|register request|fetch control key response)"

# ---- cmd/tailscale/cli ----------------------------------------------------------------------------------
UP_TIMEOUT = r"timeout waiting for Tailscale service to enter a Running state"
NO_DAEMON = r"failed to connect to local tailscaled"
SOCKET_MISSING = r"tailscaled\.sock: connect: no such file or directory"

# ---- ipn/ipnlocal (shutdown) ----------------------------------------------------------------------------
LOGOUT_FAILED = r"failed to log out ephemeral node on shutdown"

# ---- the runtime's own alternations (one regex per kind of line it reacts to) ----------------------------
RUNTIME_AUTH_FAILED = (
    r"invalid (auth ?)?key|API key (\S+ )?does not exist|API key (\S+ )?not valid"
    r"|unable to validate API key|auth ?key (has )?expired"
)
RUNTIME_TAGS_REJECTED = r"requested tags .* (are )?invalid or not permitted"
RUNTIME_SOCKS_IN_USE = r"SOCKS5 listener: .*address already in use"
RUNTIME_SOCKET_MISSING = NO_DAEMON + "|" + r"tailscaled\.sock: connect: no such file"
RUNTIME_LOGOUT_FAILED = r"failed to log out ephemeral node"

# ---- net/tstun, cmd/tailscaled (a kernel TUN device where there is none) -------------------------------
#: cmd/tailscaled/tailscaled.go: 'tstun.New(%q): %w', after net/tstun's diagnosis of the failure.
TUN_CREATE = r'tstun\.New\("[^"]*"\): '
TUN_NO_MODULE = r"is CONFIG_TUN enabled in your kernel\?"
TUN_NO_DEVICE = r"tun module loaded in kernel, but /dev/net/tun does not exist"
TUN_BUSY = r"TUN device \S+ is busy; another process probably still has it open"

# ---- control/controlclient (direct.go) ----------------------------------------------------------------
NODE_KEY_EXPIRED = r"server reports new node key \S+ has expired"
# ---- ipn/ipnlocal (local.go: 'Switching ipn state %v -> %v (WantRunning=%v, nm=%v)') -------------------
#: device approval pending (a refused key also answers machineAuthorized=false, so the state is the sign).
MACHINE_NOT_AUTHORIZED = r"Switching ipn state \S+ -> NeedsMachineAuth\b"

# ---- health (warnings.go), logged by ipn/ipnlocal as 'health(warnable=%s): error: %s' -------------------
TLS_FAILED = r"Tailscale could not establish an encrypted connection with "
NETWORK_DOWN = r"Tailscale cannot connect because the network is down"
MAGICSOCK_NOT_RUNNING = r"The MagicSock function \S+ is not running"
DERP_REGION_ERROR = r"The relay server #\S+ is reporting an issue"

# ---- wgengine/magicsock (magicsock.go) ----------------------------------------------------------------
MAGICSOCK_RECEIVE_EXIT = r"Receive func \S+ exiting with error"
MAGICSOCK_REBIND_FAILED = r"magicsock: Rebind IPv4 failed: "

# ---- net/dns/resolver (forwarder.go) ------------------------------------------------------------------
DNS_NO_UPSTREAM = r"no upstream resolvers set, returning SERVFAIL"

# ---- logpolicy (logpolicy.go) -------------------------------------------------------------------------
LOG_BUFFER_FAILED = r"filch failed: "
LOG_TMP_FAILED = r"Unable to create /tmp directory for log storage"

# ---- cmd/tailscale/cli (up.go) ------------------------------------------------------------------------
UP_NEEDS_ALL_FLAGS = r"changing settings via 'tailscale up' requires mentioning all"
