"""Causal ranking: which kind of finding can explain which, and the order that follows from it.

Pure. Each finding kind (a signature's or a rule's id) declares what it can explain: a control server
out of reach explains a tailnet that never comes up, which explains a proxy with no SOCKS server,
which explains the 502s and 1006s. A finding explained by another one in the same capture ranks below
it, whatever its severity, and carries `explained_by`. The findings nothing explains are ranked by
causal depth (how long a chain of present findings they explain), then severity, then count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from devproxy.logs.findings import SEVERITY_ORDER, Finding
from devproxy.logs.logins import AUTH_REFUSALS, LOGIN_TEXTS

#: what a user sees at the end of every chain.
_SEEN = frozenset({
    "browser-ws-1006", "browser-initial-connect-failed", "browser-wss-failed", "browser-connect-retry",
    "browser-reconnect-loop", "cr-http-5xx", "cr-bad-response", "dp-http-5xx", "dp-ws-abnormal",
    "py-no-close-frame", "cr-startup-probe",
})
#: the proxy failing to get through tailscaled.
_PROXY = frozenset({
    "dp-socks-unreachable", "dp-socks-reply", "dp-upstream-timeout", "py-socks-failed", "py-proxy-refused",
    "py-socks-general-failure", "py-socks-timeout", "py-ws-open-timeout", "tailnet-path", "dp-target-refused",
    "dp-tailscaled-watchdog", "ts-packet-header", "socks-not-spoken",
}) | _SEEN
#: tailscaled not being up.
_DOWN = frozenset({
    "tailnet-down", "dp-tailscaled-restart", "dp-tailscaled-backoff", "ts-logged-out", "dp-needs-login",
}) | _PROXY
#: tailscaled failing to log in or to run.
_LOGIN = AUTH_REFUSALS | frozenset({ "dp-tailscale-up-failed", "ts-up-timeout", "dp-tailscaled-exited",
    "ts-no-daemon",
}) | _DOWN

_KEY = frozenset({"ts-key-expired", "ts-key-malformed", "ts-tags-denied", "ts-oauth-no-tags",
                  "ts-node-key-expired"}) | LOGIN_TEXTS
#: Cloud Run refusing a revision before any instance runs.
_NO_REVISION = _SEEN | {"cr-revision-not-ready", "cr-upstream-reset"}

#: kind -> the kinds it can explain. Must stay acyclic (a test checks it).
EXPLAINS: Mapping[str, frozenset[str]] = {
    **{key: _LOGIN for key in _KEY},
    "ts-control-error": _LOGIN,
    "ts-tls-failed": _LOGIN,
    "ts-network-down": _LOGIN,
    "ts-machine-not-authorized": _DOWN,
    **{kind: _LOGIN - AUTH_REFUSALS for kind in (
        "ts-listener-in-use", "ts-unknown-flag", "ts-non-flag-args", "ts-requires-root", "ts-state-dir",
        "ts-state-required", "ts-netstack-failed", "ts-tun-unavailable", "ts-up-needs-all-flags",
    )},
    **{kind: _PROXY for kind in ("ts-magicsock-stopped", "ts-magicsock-bind", "ts-derp-region-error",
                                 "ts-dns-no-upstream")},
    **{kind: _NO_REVISION for kind in ("cr-image-not-found", "cr-image-permission", "cr-quota")},
    "cr-port-not-listening": _NO_REVISION,
    "cr-h2c-mismatch": _SEEN | {"cr-upstream-reset"},
    "cr-liveness-probe": _SEEN | {"cr-upstream-reset"},
    "cr-upstream-request-timeout": _SEEN,
    "cr-exec-failed": _SEEN | {"cr-exit", "cr-port-not-listening"},
    "dp-tailscaled-start-failed": _DOWN,
    "dp-tailscale-cli-failed": _LOGIN - AUTH_REFUSALS,
    "dp-supervisor-crashed": _DOWN,
    "dp-tailscaled-exited": _DOWN,
    "dp-tailscale-up-failed": _DOWN,
    **{kind: _DOWN for kind in AUTH_REFUSALS},
    "tailnet-down": _PROXY,
    "ts-target-refused": _PROXY,
    "ts-no-such-peer": _PROXY,
    "split-dns": _PROXY,
    "ts-dns-lookup": _PROXY,
    "tailscaled-frozen": _PROXY,
    "cpu-throttled": _PROXY,
    "blocked-event-loop": _PROXY,
    "socks-not-spoken": _SEEN,
    "ts-packet-header": _SEEN,
    "tailnet-path": _SEEN,
    "dp-socks-unreachable": _SEEN,
    "dp-socks-reply": _SEEN,
    "dp-upstream-timeout": _SEEN,
    "dp-target-refused": _SEEN,
    "dp-upgrade-403": _SEEN,
    "dp-upgrade-401": _SEEN,
    "dp-upgrade-rejected": _SEEN,
    "origin-check": _SEEN,
    "cookie-not-forwarded": _SEEN,
}


def link(findings: Sequence[Finding], extra: Mapping[str, Iterable[str]] = {}) -> list[Finding]:
    """The findings with `explained_by` set where a present finding can explain them.

    `extra` adds edges seen in this capture (a process's last words explaining its exit). A finding
    already explained (by a correlation rule) keeps its explanation; noise explains nothing.
    """
    present = {f.id: f for f in findings if not f.noise}
    edges = {kind: set(effects) for kind, effects in EXPLAINS.items()}
    for cause, effects in extra.items():
        edges.setdefault(cause, set()).update(effects)
    parents: dict[str, list[str]] = {}
    for cause, effects in edges.items():
        if cause not in present:
            continue
        for effect in effects:
            if effect in present and effect != cause:
                parents.setdefault(effect, []).append(cause)

    def rootness(kind: str, seen: frozenset[str] = frozenset()) -> int:
        """How many causes above `kind` (the deepest explanation wins)."""
        above = [p for p in parents.get(kind, []) if p not in seen]
        return 1 + max((rootness(p, seen | {kind}) for p in above), default=-1)

    chosen = {f.id: f.explained_by for f in findings if f.explained_by}

    def above(kind: str) -> set[str]:
        seen: set[str] = set()
        while kind in chosen and kind not in seen:
            seen.add(kind)
            kind = chosen[kind]
        return seen | {kind}

    for finding in findings:
        if finding.noise or finding.id in chosen or finding.id not in parents:
            continue
        options = [p for p in parents[finding.id] if finding.id not in above(p)]  # never a cycle
        if options:
            chosen[finding.id] = min(options, key=lambda p: (-rootness(p), _key(present[p])))
    return [f if f.noise or f.explained_by or f.id not in chosen else replace(f, explained_by=chosen[f.id])
            for f in findings]


def _key(finding: Finding) -> tuple[int, int]:
    return SEVERITY_ORDER[finding.severity], -finding.count


def depths(findings: Sequence[Finding]) -> dict[str, int]:
    """Each finding's causal depth: 0 when it explains nothing, else 1 + the deepest it explains."""
    children: dict[str, list[str]] = {}
    for finding in findings:
        if finding.explained_by:
            children.setdefault(finding.explained_by, []).append(finding.id)

    def depth(kind: str, seen: frozenset[str] = frozenset()) -> int:
        below = [c for c in children.get(kind, []) if c not in seen]
        return 1 + max((depth(c, seen | {kind}) for c in below), default=-1)

    return {f.id: depth(f.id) for f in findings}
