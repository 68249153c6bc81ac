"""Catalog rows for tailscaled's own failure lines, built on devproxy/tailscale_lines.py (the one home of
their texts) and checked against what the real tailscaled printed on the test tailnet's fault matrix
(tests/logs/data/faults/). tailscaled writes them as plain lines: Cloud Logging shows them at INFO or
DEFAULT, and devproxy relays them at INFO, so only their words say they failed.
"""

from __future__ import annotations

from devproxy import tailscale_lines as lines
from devproxy.logs.signatures import Signature, signature

_SOCKS5 = "tailscale/tailscale:net/socks5/socks5.go (client connection failed: %v), 1.102.5"
_TAILSCALED = "tailscale/tailscale:cmd/tailscaled/tailscaled.go@v1.102.3 log.Fatalf"
_V = "@v1.102.3"
_HEALTH = f"tailscale/tailscale:health/warnings.go{_V}, logged by ipn/ipnlocal/local.go ('health(warnable=%s): error: %s')"

SIGNATURES: tuple[Signature, ...] = (
    signature(
        "ts-target-refused", "tailscale", "error", "root",
        "The dev box refused the connection: nothing listens on the target port",
        "tailscaled reached the dev box over the tailnet, and the dev box answered the connection with a reset: "
        "no process listens on that port there (the dev server is not running, listens on another port, or "
        "only on an address the tailnet does not reach).",
        "Start the dev server on the dev box and make it listen on the target port (on 0.0.0.0 or the tailnet "
        "address, not only 127.0.0.1 when the dev box runs tailscaled with a TUN); or fix the port in "
        "DEVPROXY_TARGET.",
        _SOCKS5 + "; wgengine/netstack (RST from the peer); fault matrix dev-server-not-listening",
        lines.TARGET_REFUSED,
    ),
    signature(
        "ts-no-such-peer", "tailscale", "error", "root",
        "The target address belongs to no node of this tailnet",
        "tailscaled has no peer holding the target's 100.x address, so it dialled it outside the tailnet and "
        "nothing answered: the address is mistyped, or the dev box's node was re-created with a new address.",
        "Take the dev box's address from 'tailscale status' (or use its MagicDNS name, which survives a new "
        "address) and set it in DEVPROXY_TARGET; redeploy.",
        _SOCKS5 + "; net/tsdial (dial outside the tailnet); fault matrix wrong-address",
        lines.NO_SUCH_PEER,
    ),
    signature(
        "ts-unknown-flag", "tailscale", "critical", "root",
        "tailscaled was given a flag this version does not have",
        "tailscaled stopped at start: one of its command-line flags does not exist in this version, so it "
        "printed its usage and exited with code 2.",
        "Remove or fix the flag in DEVPROXY_TAILSCALED_ARGS (tailscaled --help lists this version's flags), "
        "or install the tailscale version the flag needs.",
        "Go flag package (flag provided but not defined: -%s), used by tailscale/tailscale:cmd/tailscaled; "
        "fault matrix tailscaled-bad-flag",
        lines.UNKNOWN_FLAG,
    ),
    signature(
        "ts-non-flag-args", "tailscale", "critical", "root",
        "tailscaled was given a word that is not a flag",
        "tailscaled takes only flags; a bare word in its arguments (a value without its --flag=, or a quoting "
        "slip) makes it stop at start.",
        "Write each extra argument as --flag=value in DEVPROXY_TAILSCALED_ARGS.",
        _TAILSCALED + " (tailscaled does not take non-flag arguments: %q)",
        lines.NON_FLAG_ARGS,
    ),
    signature(
        "ts-requires-root", "tailscale", "critical", "root",
        "tailscaled wants a TUN device (root) but runs unprivileged",
        "Without --tun=userspace-networking tailscaled needs root and a TUN device, which a Cloud Run "
        "container does not have.",
        "Run it with --tun=userspace-networking (devproxy's runtime does; check DEVPROXY_TAILSCALED_ARGS does "
        "not override it).",
        _TAILSCALED + " (tailscaled requires root; use sudo tailscaled (or use --tun=userspace-networking))",
        lines.REQUIRES_ROOT,
    ),
    signature(
        "ts-state-dir", "tailscale", "critical", "root",
        "tailscaled cannot create its state directory",
        "tailscaled stops at start when its --statedir cannot be created (read-only file system, a file in the "
        "way, no space).",
        "Set DEVPROXY_TAILSCALE_STATE_DIR to a writable directory (/tmp is writable on Cloud Run).",
        _TAILSCALED + " (failed to create state directory: %v)",
        lines.STATE_DIR_CREATE,
    ),
    signature(
        "ts-state-required", "tailscale", "critical", "root",
        "tailscaled was started without a state location",
        "tailscaled needs --statedir or --state; it stops at start without one.",
        "Let the runtime start tailscaled (it passes --statedir), or add --statedir=/tmp/tailscale to "
        "DEVPROXY_TAILSCALED_ARGS.",
        _TAILSCALED + " (--statedir (or at least --state) is required)",
        lines.STATE_REQUIRED,
    ),
    signature(
        "ts-netstack-failed", "tailscale", "critical", "root",
        "tailscaled's userspace network stack could not start",
        "The userspace (netstack) mode that Cloud Run needs failed to start, so no tailnet connection is "
        "possible.",
        "Read the error after 'failed to start netstack:'; update tailscale, and report it upstream if it stays.",
        _TAILSCALED + " (failed to start netstack: %v)",
        lines.NETSTACK_START,
    ),
    # ---- format strings of the pinned version's packages (no fault of this machine produces them) -------
    signature(
        "ts-tun-unavailable", "tailscale", "critical", "root",
        "tailscaled tried to create a kernel TUN device, which the container does not have",
        "tailscaled was started without --tun=userspace-networking, so it asked the kernel for a TUN device "
        "(/dev/net/tun); Cloud Run's sandbox has none, so the engine cannot start and tailscaled exits.",
        "Run tailscaled with --tun=userspace-networking (devproxy's runtime does; check DEVPROXY_TAILSCALED_ARGS "
        "does not override --tun).",
        f"tailscale/tailscale:net/tstun/tun_linux.go{_V} (diagnoseLinuxTUNFailure: 'is CONFIG_TUN enabled in your "
        "kernel? ...', 'tun module loaded in kernel, but %s does not exist', 'TUN device %s is busy; ...'); "
        f"cmd/tailscaled/tailscaled.go{_V} ('tstun.New(%q): %w')",
        lines.TUN_CREATE,
        lines.TUN_NO_MODULE,
        lines.TUN_NO_DEVICE,
        lines.TUN_BUSY,
    ),
    signature(
        "ts-node-key-expired", "tailscale", "critical", "root",
        "The node's key has expired: the coordination server will not let it join",
        "The coordination server reports this node's key as expired (node key expiry is on for it), so the "
        "node cannot log in until it is re-authenticated.",
        "Log the node in again with a valid credential: devproxy's ephemeral nodes log in afresh at each start, "
        "so redeploy (or restart the instance) with a valid key; to stop it recurring, use tagged nodes (key "
        "expiry is off for them by default) or disable key expiry for the node in the admin console.",
        f"tailscale/tailscale:control/controlclient/direct.go{_V} ('server reports new node key %v has expired')",
        lines.NODE_KEY_EXPIRED,
    ),
    signature(
        "ts-machine-not-authorized", "tailscale", "error", "root",
        "The node waits for approval in the admin console (device approval)",
        "The coordination server accepted the login but did not authorize the machine: device approval is on "
        "in the tailnet and the key was not pre-authorized, so no traffic flows until an admin approves it.",
        "Use a pre-authorized key (devproxy mints its keys with preauthorized=true) or approve the node in the "
        "admin console's Machines page.",
        f"tailscale/tailscale:ipn/ipnlocal/local.go{_V} ('Switching ipn state %v -> %v (WantRunning=%v, nm=%v)', "
        "state NeedsMachineAuth)",
        lines.MACHINE_NOT_AUTHORIZED,
    ),
    signature(
        "ts-tls-failed", "tailscale", "error", "root",
        "tailscaled could not make a TLS connection to a Tailscale server",
        "The TLS handshake with the coordination or relay server failed: egress passes through a TLS-intercepting "
        "proxy or firewall, the server's certificate could not be verified, or the clock is wrong.",
        "Allow direct HTTPS egress to controlplane.tailscale.com and the DERP servers (*.tailscale.com:443) "
        "without TLS inspection; with a custom --login-server, check its certificate.",
        _HEALTH + " (tls-connection-failed: 'Tailscale could not establish an encrypted connection with ...')",
        lines.TLS_FAILED,
    ),
    signature(
        "ts-network-down", "tailscale", "warning", "root",
        "tailscaled sees no usable network",
        "tailscaled found no interface with a route out, so it cannot reach the coordination or relay servers. "
        "On Cloud Run this is egress routed into a VPC without a way out (no Cloud NAT) or blocked by a firewall.",
        "Give the service egress to the internet (Cloud NAT for Direct VPC egress with all traffic routed to the "
        "VPC, or route only private ranges to the VPC).",
        _HEALTH + " (network-status: 'Tailscale cannot connect because the network is down. ...')",
        lines.NETWORK_DOWN,
    ),
    signature(
        "ts-magicsock-stopped", "tailscale", "warning", "symptom",
        "tailscaled's packet receive loop stopped",
        "One of magicsock's receive functions exited with an error, so packets on that path (UDP or DERP) are "
        "no longer read; peers may become unreachable until tailscaled is restarted.",
        "Restart the instance (the runtime's watchdog restarts tailscaled when dials stop working); report the "
        "error it quotes upstream if it recurs.",
        f"tailscale/tailscale:wgengine/magicsock/magicsock.go{_V} ('Receive func %s exiting with error: %T, %v'); "
        + _HEALTH + " (magicsock-receive-func-error)",
        lines.MAGICSOCK_NOT_RUNNING,
        lines.MAGICSOCK_RECEIVE_EXIT,
    ),
    signature(
        "ts-magicsock-bind", "tailscale", "error", "root",
        "tailscaled could not bind its UDP socket",
        "magicsock could not bind an IPv4 UDP port, so neither direct paths nor its own DERP traffic can flow.",
        "Let tailscaled pick its port (--port=0, the runtime's default) and check nothing else limits UDP sockets "
        "in the container.",
        f"tailscale/tailscale:wgengine/magicsock/magicsock.go{_V} ('magicsock: Rebind IPv4 failed: %w')",
        lines.MAGICSOCK_REBIND_FAILED,
    ),
    signature(
        "ts-derp-region-error", "tailscale", "warning", "symptom",
        "A Tailscale relay (DERP) region reports a problem",
        "The relay region answered with an error of its own; peers reached only through that relay may be "
        "unreachable until it recovers or tailscaled picks another home region.",
        "Usually transient: check status.tailscale.com; if it persists, tailscaled moves to another region on "
        "restart.",
        _HEALTH + " (derp-region-error: 'The relay server #%v is reporting an issue: %v')",
        lines.DERP_REGION_ERROR,
    ),
    signature(
        "ts-dns-no-upstream", "tailscale", "warning", "root",
        "tailscaled's DNS forwarder has no upstream resolver",
        "A name outside the tailnet was asked of tailscaled's resolver, and it has no upstream nameserver to "
        "forward it to, so it answered SERVFAIL.",
        "Use the target's MagicDNS name or its 100.x address in DEVPROXY_TARGET; for other names, add global "
        "nameservers in the tailnet's DNS settings.",
        f"tailscale/tailscale:net/dns/resolver/forwarder.go{_V} ('no upstream resolvers set, returning SERVFAIL')",
        lines.DNS_NO_UPSTREAM,
    ),
    signature(
        "ts-log-buffer", "tailscale", "warning", "root",
        "tailscaled cannot keep its log buffer on disk",
        "tailscaled's log policy could not create its on-disk log buffer (the state or /tmp directory is not "
        "writable), so it logs without one.",
        "Give tailscaled a writable state directory (DEVPROXY_TAILSCALE_STATE_DIR, default under /tmp), or "
        "start it with --no-logs-no-support.",
        f"tailscale/tailscale:logpolicy/logpolicy.go{_V} ('filch failed: %v', 'Unable to create /tmp directory "
        "for log storage: %v')",
        lines.LOG_BUFFER_FAILED,
        lines.LOG_TMP_FAILED,
    ),
    signature(
        "ts-up-needs-all-flags", "tailscale", "error", "root",
        "tailscale up refused to change a node's settings without all of its flags",
        "tailscale up ran on a node whose saved settings differ from its flags (a state directory kept from an "
        "earlier run with other flags), and refuses to drop the settings it was not given.",
        "Start from a fresh state directory (devproxy's default under /tmp is), or add --reset to the up "
        "command; `tailscale set` changes one setting without the others.",
        f"tailscale/tailscale:cmd/tailscale/cli/up.go{_V} (accidentalUpPrefix: 'Error: changing settings via "
        "'tailscale up' requires mentioning all non-default flags ...')",
        lines.UP_NEEDS_ALL_FLAGS,
    ),
)
