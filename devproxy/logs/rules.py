"""Correlation rules as data: root causes recognised from several signatures seen together.

A `Rule` adds a finding of its own (cause, fix, evidence) when each of its groups has a hit and
the groups' hits are close in time; a `Cause` only says that one signature, when present,
explains symptoms seen near it. Each rule comes from failures users have reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from devproxy.logs.logins import AUTH_REFUSALS, LOGIN_TEXTS


@dataclass(frozen=True, slots=True)
class Rule:
    """A root cause recognised from several signatures seen together."""

    id: str
    title: str
    cause: str
    fix: str
    reference: str
    #: each group needs one of its signatures present (distinct signatures across groups).
    groups: tuple[frozenset[str], ...]
    #: max seconds between hits of different groups; None: anywhere in the input.
    window_s: float | None = 300.0
    #: "info" marks an expected pattern: it and the symptoms it explains are reported as noise.
    severity: str = "critical"
    #: symptoms not needed for the rule but explained by it when present.
    explains: frozenset[str] = frozenset()
    #: rules whose finding this one makes redundant (a more specific cause of the same symptoms).
    supersedes: tuple[str, ...] = ()


_BROWSER_DROPS = frozenset(
    {"browser-ws-1006", "browser-initial-connect-failed", "browser-wss-failed", "dp-ws-abnormal"}
)

_TUNNEL_FAILURES = frozenset({
    "ts-dial-timeout", "py-socks-general-failure", "dp-socks-reply", "py-ws-open-timeout", "py-socks-timeout",
    "dp-upstream-timeout",
})

_GENERAL_RULES: tuple[Rule, ...] = (
    Rule(
        "quick-reconnect",
        "VS Code reconnected right after the WebSocket dropped (expected)",
        "The session's WebSocket dropped (Cloud Run's 60-minute cut, a new instance) and VS Code's reconnect "
        "succeeded within seconds; nothing was lost.",
        "Nothing to do.",
        "microsoft/vscode:src/vs/platform/remote/common/remoteAgentConnection.ts ('[reconnect] reconnected!'); "
        "field-notes §3.4",
        (
            frozenset({"browser-reconnected"}),
            frozenset({"browser-reconnect-loop", "browser-ws-1006", "py-no-close-frame", "dp-ws-abnormal"}),
        ),
        window_s=120.0,
        severity="info",
    ),
    Rule(
        "hourly-reconnect",
        "WebSockets reconnect after Cloud Run's 60-minute maximum (expected)",
        "Cloud Run ends every request, WebSockets included, at the 3600 s maximum; VS Code reconnects within "
        "code-server's grace time.",
        "Nothing to do.",
        "field-notes §0.4 / §2.1",
        (
            frozenset({"cr-ws-hourly"}),
            frozenset({"browser-reconnect-loop", "py-no-close-frame", "dp-ws-abnormal", "browser-ws-1006"}),
        ),
        window_s=120.0,
        severity="info",
    ),
    Rule(
        "origin-check",
        "code-server's origin check rejects the proxied WebSocket (403 → browser 1006)",
        "The browser's 1006 comes from a 403 on the upstream WebSocket upgrade: code-server ≥ 4.10.1 refuses "
        "upgrades whose Origin host differs from Host / X-Forwarded-Host and logs it only at debug level.",
        "Forward X-Forwarded-Host: <public host> (no :443) and X-Forwarded-Proto: https, keep the browser's "
        "Origin; or start code-server with --trusted-origins <public host>.",
        "field-notes §0.7 / §3.1; coder/code-server#6023, #6161",
        (
            _BROWSER_DROPS,
            frozenset({
                "cs-origin-mismatch", "cs-origin-port", "cs-forbidden-origin", "nginx-ws-upgrade-403",
                "py-ws-403", "py-aiohttp-ws-403", "dp-upgrade-403",
            }),
        ),
        explains=frozenset({"browser-connect-retry"}),
    ),
    Rule(
        "cookie-not-forwarded",
        "The target answers the WebSocket upgrade with 401 (session cookie missing → browser 1006)",
        "The upstream upgrade is unauthenticated: the target's session cookie does not reach it.",
        "Forward the browser's Cookie header on HTTP and WebSocket requests; log in to the target again.",
        "field-notes §8 CS5",
        (_BROWSER_DROPS, frozenset({"cs-unauthorized", "py-ws-401", "dp-upgrade-401"})),
        explains=frozenset({"browser-connect-retry"}),
    ),
    Rule(
        "blocked-event-loop",
        "A blocking call freezes the proxy's event loop",
        "Slow-callback warnings (or the loop's own deadlines expiring) coincide with SOCKS clients that give up "
        "before their handshake and with dropped keepalives: the loop was frozen by a synchronous call.",
        "Remove blocking calls from async code: asyncio.create_subprocess_exec instead of subprocess.run, "
        "asyncio.sleep instead of time.sleep, python_socks.async_ instead of python_socks.sync, "
        "asyncio.to_thread for the rest; run tests with PYTHONASYNCIODEBUG=1.",
        "field-notes §0.2 / §1.4 / §8 P15, T1; DESIGN rule 1",
        (
            frozenset({"ts-packet-header", "py-keepalive-1011", "py-socks-timeout", "py-time-limit"}),
            frozenset({"py-slow-callback", "py-time-limit"}),
        ),
        explains=_BROWSER_DROPS | {"py-ws-open-timeout", "py-no-close-frame", "browser-connect-retry"},
        supersedes=("socks-not-spoken",),
    ),
    Rule(
        "socks-not-spoken",
        "Something connects to tailscaled's SOCKS port without speaking SOCKS, and the WebSockets drop (1006)",
        "tailscaled logged 'could not read packet header': a client opened a TCP connection to its SOCKS5 port "
        "and closed it before sending the SOCKS greeting. A proxy does that when its event loop is blocked (its "
        "connect times out or is cancelled before the greeting is written, and the browser's WebSocket dies "
        "with 1006 at the same moment); a bare TCP health probe of the SOCKS port does it on a timer.",
        "Find the blocking call in the proxy: run it with PYTHONASYNCIODEBUG=1 and look for 'Executing <Task "
        "...> took N seconds'; use asyncio.create_subprocess_exec, asyncio.sleep, python_socks.async_ and "
        "asyncio.to_thread instead of subprocess.run, time.sleep, python_socks.sync and blocking I/O. If a probe "
        "opens the port, point it at the proxy's HTTP health endpoint or make it a full SOCKS greeting.",
        "field-notes §0.2 / §1.4 / §8 T1; tailscale/tailscale:net/socks5/socks5.go (could not read packet header)",
        (
            frozenset({"ts-packet-header"}),
            _BROWSER_DROPS | {"py-ws-open-timeout", "dp-upstream-timeout", "py-socks-timeout", "py-no-close-frame"},
        ),
        severity="error",
        explains=_BROWSER_DROPS | {"browser-connect-retry", "py-ws-open-timeout", "py-no-close-frame"},
    ),
    Rule(
        "cloud-run-timeout",
        "Cloud Run's request timeout cuts the WebSockets (timeout too short)",
        "Upgraded requests end at the service's request timeout and the browser sees the drop at the same "
        "time; WebSockets are ordinary requests under that timeout (default 300 s).",
        "Set the Cloud Run request timeout to 3600s (devproxy deploy does) and let clients reconnect.",
        "field-notes §0.4 / §2.1 / §8 CR1",
        (
            frozenset({"cr-ws-cut-at-timeout", "cr-request-timeout"}),
            frozenset({
                "browser-ws-1006", "browser-reconnect-loop", "browser-wss-failed", "py-no-close-frame",
                "dp-ws-abnormal",
            }),
        ),
        window_s=120.0,
    ),
    Rule(
        "tailnet-down",
        "The tailnet never came up, so every proxied request fails",
        "tailscaled could not log in (or its CLI could not reach it); SOCKS dials fail until it does.",
        "Fix the failure that explains it (most often an expired or malformed auth key: mint a new key, add it "
        "as a new Secret Manager version, redeploy); then check that 'tailscale status' shows Running.",
        "field-notes §8 heuristics; T7–T11",
        (
            frozenset({
                "ts-key-expired", "ts-key-malformed", "ts-tags-denied", "ts-up-timeout", "ts-no-daemon",
                "dp-tailscale-auth-failed", "dp-tailscale-up-failed", "dp-needs-login", "dp-tailscaled-start-failed",
                "dp-tailscale-cli-failed", "ts-oauth-no-tags", "ts-control-error",
            }) | AUTH_REFUSALS | LOGIN_TEXTS,
            frozenset({
                "py-socks-failed", "py-proxy-refused", "py-socks-general-failure", "dp-socks-unreachable",
                "dp-socks-reply", "dp-upstream-timeout", "dp-http-5xx", "browser-ws-1006", "ts-dial-timeout",
                "cr-http-5xx", "ts-logged-out", "ts-up-timeout",
            }),
        ),
        window_s=None,
        explains=_BROWSER_DROPS | {
            "browser-connect-retry", "dp-tailscaled-restart", "dp-tailscaled-backoff", "cr-http-5xx", "ts-logged-out",
        },
        supersedes=("tailnet-path",),
    ),
    Rule(
        "tailnet-path",
        "The target is unreachable through the tailnet",
        "The browser's failures line up with tailscaled failing to dial the target (5 s limit, no route, "
        "or a general SOCKS failure): the dev machine is offline, not Running yet, or blocked by ACLs.",
        "Check 'tailscale status' on both sides (target online, BackendState Running), the ACLs, and gate "
        "proxying on readiness.",
        "field-notes §0.3 / §8 heuristics (B1 + P3/T2)",
        (
            frozenset({"ts-dial-timeout", "ts-no-route", "py-socks-general-failure", "dp-socks-reply", "py-socks-reply"}),
            frozenset({
                "browser-ws-1006", "browser-initial-connect-failed", "browser-wss-failed", "py-socks-failed",
                "dp-http-5xx", "dp-upstream-timeout", "py-ws-open-timeout",
            }),
        ),
        explains=_BROWSER_DROPS | {"browser-connect-retry"},
    ),
)


@dataclass(frozen=True, slots=True)
class Cause:
    """A signature that, when present, explains symptoms seen near it (no new finding)."""

    roots: frozenset[str]
    symptoms: frozenset[str]
    window_s: float | None = 300.0


#: rules for failures reported on Cloud Run and Tailscale's trackers.
_PLATFORM_RULES: tuple[Rule, ...] = (
    Rule(
        "cpu-throttled",
        "tailscaled is frozen between requests: Cloud Run throttles the CPU outside requests",
        "tailscaled's map poll and DERP relay time out while no request runs, and the first dials after the "
        "pause fail: with request-based billing the container gets no CPU between requests, so the tailnet "
        "connection goes stale.",
        "Use instance-based billing (devproxy deploy sets resources.cpu_idle=false; gcloud: "
        "--no-cpu-throttling) with min instances 1.",
        "field-notes §2.2; tailscale/tailscale#14956; permitio/docs#258; toolchain.jp/?p=2155",
        (
            frozenset({"ts-map-poll-timeout", "ts-no-map-response", "ts-derp-timeout", "cr-sigabrt"}),
            _TUNNEL_FAILURES | _BROWSER_DROPS,
        ),
        window_s=900.0,
        severity="error",
        explains=_BROWSER_DROPS | _TUNNEL_FAILURES | {
            "browser-connect-retry", "cr-http-5xx", "dp-http-5xx", "py-socks-failed", "ts-packet-header",
        },
        supersedes=("tailnet-path",),
    ),
    Rule(
        "tailscaled-frozen",
        "tailscaled stopped answering for a while (frozen), so dials through it timed out",
        "Dials through tailscaled's SOCKS port timed out, and when tailscaled ran again it found the connections "
        "the proxy had given up on ('could not read packet header'): tailscaled got no CPU in between. On Cloud "
        "Run that is request-based billing throttling the CPU outside requests (or a frozen instance); "
        "elsewhere a stopped process (SIGSTOP) or an overloaded host.",
        "Keep the CPU allocated outside requests: instance-based billing (gcloud run services update SERVICE "
        "--no-cpu-throttling; devproxy deploy sets it) with min instances 1; elsewhere, find what stopped "
        "tailscaled.",
        "field-notes §2.2; tailscale/tailscale:net/socks5/socks5.go; fault matrix freeze-and-thaw",
        (
            frozenset({"dp-upstream-timeout", "py-socks-timeout", "py-ws-open-timeout"}),
            frozenset({"ts-packet-header"}),
        ),
        window_s=60.0,
        severity="error",
        explains=_BROWSER_DROPS | _TUNNEL_FAILURES | {"browser-connect-retry", "cr-http-5xx", "dp-http-5xx"},
        supersedes=("socks-not-spoken", "tailnet-path"),
    ),
    Rule(
        "split-dns",
        "The target's name does not resolve through tailscaled's SOCKS server",
        "The proxy hands the target's host name to tailscaled (remote DNS), and tailscaled's resolver does not "
        "know it: a short name, or a split-DNS domain while the node does not take the tailnet's DNS settings.",
        "Use the target's full MagicDNS name (host.<tailnet>.ts.net) or its 100.x address as the target.",
        "tailscale/tailscale:net/socks5/socks5.go; field-notes §1.2 (--accept-dns=false)",
        (
            frozenset({"ts-dns-lookup"}),
            _TUNNEL_FAILURES | _BROWSER_DROPS | {"cr-http-5xx", "dp-http-5xx", "py-socks-failed"},
        ),
        window_s=300.0,
        explains=_BROWSER_DROPS | {"browser-connect-retry", "cr-http-5xx", "dp-http-5xx", "py-socks-failed"},
        supersedes=("tailnet-path",),
    ),
    Rule(
        "ephemeral-pileup",
        "Ephemeral nodes are left behind at shutdown (the next ones are renamed -1, -2)",
        "tailscaled did not log its ephemeral node out before the instance was stopped, so the old node stays "
        "in the tailnet until the control server expires it and the new instance's node gets a -1/-2 suffix.",
        "Forward SIGTERM to tailscaled first and exit within Cloud Run's 10 s grace; delete stale devices "
        "through the Tailscale API.",
        "tailscale/tailscale#14805, #15767, #5400",
        (
            frozenset({"ts-logout-timeout"}),
            frozenset({"ts-sigterm", "cr-killed", "dp-runtime-stopping"}),
        ),
        window_s=60.0,
        severity="warning",
    ),
)

RULES: tuple[Rule, ...] = (*_GENERAL_RULES, *_PLATFORM_RULES)

#: (a, b, seconds): a hit of `a` that close to a hit of `b` is the same event, counted as `b`.
SAME_EVENT: tuple[tuple[str, str, float], ...] = (
    # Cloud Run logs its timeout sentence for the WebSocket its hourly cut ends.
    ("cr-request-timeout", "cr-ws-hourly", 120.0),
)

_PROXY_FAILURES = frozenset({"py-socks-failed", "dp-http-5xx", "dp-upstream-timeout", "browser-connect-retry"})

CAUSES: tuple[Cause, ...] = (
    Cause(frozenset({"py-proxy-loopback-mismatch"}), _BROWSER_DROPS | _PROXY_FAILURES | {"py-proxy-refused"}),
    Cause(frozenset({"py-proxy-refused", "dp-socks-unreachable", "ts-listener-in-use", "dp-tailscaled-exited",
                     "dp-tailscaled-start-failed", "dp-supervisor-crashed"}),
          _BROWSER_DROPS | _PROXY_FAILURES | {"dp-tailscaled-restart", "dp-upstream-body-failed"}),
    Cause(frozenset({"py-extra-headers", "py-additional-headers", "py-socks-missing", "py-socks5h-scheme",
                     "py-direct-tailnet-dial", "py-redirect-with-sock"}),
          _BROWSER_DROPS | {"browser-connect-retry", "dp-http-5xx"}),
    Cause(frozenset({"py-ws-too-big", "py-aiohttp-msg-size", "dp-ws-too-big"}),
          _BROWSER_DROPS | {"browser-reconnect-loop", "py-no-close-frame", "py-closing-transport"}),
    Cause(frozenset({"dp-target-refused", "nginx-upstream-refused", "nginx-upstream-timeout"}),
          _BROWSER_DROPS | {"browser-connect-retry", "dp-http-5xx", "dp-upstream-timeout"}),
    Cause(frozenset({"cs-unauthorized", "py-ws-401", "dp-upgrade-401", "cs-no-host", "py-ws-404",
                     "dp-upgrade-rejected", "browser-mixed-content"}),
          _BROWSER_DROPS | {"browser-connect-retry"}),
    Cause(frozenset({"aio-h2c"}),
          _BROWSER_DROPS | {"aio-request-error", "cr-bad-response", "cr-http-5xx", "browser-connect-retry"}),
    Cause(frozenset({"aio-https-on-http"}), frozenset({"aio-request-error"})),
    Cause(frozenset({"py-ws-invalid-response", "py-ws-env-proxy", "py-connect-refused"}),
          _BROWSER_DROPS | {"browser-connect-retry", "dp-http-5xx", "cr-http-5xx"}),
    Cause(frozenset({"ts-control-error", "ts-oauth-no-tags"}), frozenset({"ts-logged-out", "ts-up-timeout"})),
    Cause(frozenset({"cr-port-not-listening", "cr-startup-probe", "cr-killed", "cr-exit", "cr-memory",
                     "cr-sigabrt", "cr-no-instance", "cr-secret-denied"}),
          _BROWSER_DROPS | {"browser-connect-retry", "browser-reconnect-loop", "py-no-close-frame", "cr-http-5xx",
                            "cr-bad-response"}),
    Cause(frozenset({"dp-target-refused", "dp-upgrade-403", "dp-upgrade-401", "dp-upgrade-rejected",
                     "py-ws-403", "py-ws-401", "py-ws-404", "dp-socks-unreachable"}),
          frozenset({"cr-http-5xx"})),
)
