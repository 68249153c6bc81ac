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
)
