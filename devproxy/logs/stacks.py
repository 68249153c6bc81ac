"""Signatures taken from the format strings of the stacks devproxy sits on, version by version.

Each pattern matches the stable part of a string in the component's source (cited as
repository:path@version) and, where one could be made, a line that component really printed
(tests/logs/data/real/captures.json, produced by tests/logs/data/capture_real.py). Lines that
no real run here could produce (a frozen map poll, Cloud Run's own messages) say so in their
reference. The general catalog is in `signatures`; `catalog` joins both.
"""

from __future__ import annotations

from devproxy import tailscale_lines as lines
from devproxy.logs.signatures import Signature, signature

_TS = "tailscale/tailscale"
_TS_V = "v1.102.5"
_WS = "python-websockets/websockets"
_REAL = "real capture: tests/logs/data/real/captures.json"

SIGNATURES: tuple[Signature, ...] = (
    # ---- tailscaled: SOCKS server, control client, health ------------------------------------
    signature(
        "ts-dns-lookup", "tailscale", "error", "root",
        "tailscaled could not resolve the target's name (split DNS / MagicDNS)",
        "The SOCKS CONNECT named a host tailscaled's resolver cannot resolve: a short name or a split-DNS "
        "domain when MagicDNS is off or tailscale up ran with --accept-dns=false.",
        "Use the target's full MagicDNS name (host.<tailnet>.ts.net) or its 100.x address, or accept the "
        "tailnet's DNS settings.",
        f"{_TS}:net/socks5/socks5.go@{_TS_V} (dial errors logged verbatim); {_REAL} ts-connect-magicdns",
        lines.NO_SUCH_HOST,
    ),
    signature(
        "ts-socks-unsupported", "tailscale", "error", "root",
        "tailscaled: the SOCKS client asked for something it does not do",
        "A SOCKS request used a command (BIND) or an address type tailscaled's SOCKS5 server does not support.",
        "Use CONNECT with an IPv4, IPv6 or domain-name address (python-socks does).",
        f"{_TS}:net/socks5/socks5.go@{_TS_V}",
        r"client connection failed: unsupported (?:command|address type)",
    ),
    signature(
        "ts-socks-auth", "tailscale", "error", "root",
        "tailscaled: SOCKS username/password negotiation failed",
        "The client broke off or garbled the username/password sub-negotiation.",
        "Give tailscaled and the client the same SOCKS credentials, or none on both sides.",
        f"{_TS}:net/socks5/socks5.go@{_TS_V}",
        r"client connection failed: (?:could not read auth packet|bad SOCKS auth version)",
    ),
    signature(
        "ts-control-error", "tailscale", "error", "root",
        "tailscaled cannot talk to the coordination server",
        "Login or key exchange with the control server failed (unreachable, blocked egress, or an HTTP error "
        "from a custom --login-server).",
        "Check egress to the control server (controlplane.tailscale.com:443 or your --login-server) and its "
        "status; the error after 'Received error:' names the failing step.",
        f"{_TS}:ipn/ipnlocal/local.go@{_TS_V} ('Received error: %v'), control/controlclient/direct.go "
        f"('fetch control key', 'register request'); {_REAL} ts-control-500",
        lines.CONTROL_UNREACHABLE,
    ),
    signature(
        "ts-logged-out", "tailscale", "error", "symptom",
        "tailscaled is logged out",
        "The node is not logged in, so no tailnet traffic can flow; the last login error says why.",
        "Fix the login error it quotes (key, tags, control reachability).",
        f"{_TS}:health/warnings.go@{_TS_V} (login-state warnable), ipn/ipnlocal/local.go "
        f"('health(warnable=%s): error: %s'); {_REAL} ts-control-500",
        r"health\(warnable=login-state\): error: You are logged out",
    ),
    signature(
        "ts-oauth-no-tags", "tailscale", "critical", "root",
        "An OAuth client secret was used as auth key without advertised tags",
        "tailscale up was given an OAuth client secret (tskey-client-...) as --auth-key; such keys only mint "
        "tagged nodes, so tailscale refuses without --advertise-tags.",
        "Pass --advertise-tags=tag:<name> (a tag the OAuth client owns); under devproxy set DEVPROXY_TAILSCALE_TAGS "
        "(default tag:devproxy). Or store a regular auth key instead.",
        f"{_TS}:feature/oauthkey/oauthkey.go@{_TS_V}; tailscale/tailscale#15456; {_REAL} ts-oauth-no-tags",
        r"oauth authkeys require --advertise-tags",
    ),
    signature(
        "ts-map-poll-timeout", "tailscale", "warning", "symptom",
        "tailscaled's map long-poll timed out",
        "No map response reached tailscaled for two minutes; on Cloud Run this is what a node frozen "
        "between requests (CPU throttled) looks like.",
        "Keep CPU allocated outside requests (instance-based billing, cpu_idle=false) with min instances 1.",
        f"{_TS}:control/controlclient/direct.go@{_TS_V} (watchdog; no real capture: needs a live control "
        "server)",
        r"map response long-poll timed out",
    ),
    signature(
        "ts-no-map-response", "tailscale", "warning", "symptom",
        "tailscaled has not heard from the coordination server",
        "The node lost its map poll: control unreachable, or the process was frozen (CPU throttling).",
        "Check egress; on Cloud Run keep CPU allocated outside requests.",
        f"{_TS}:health/warnings.go@{_TS_V} (not-in-map-poll, mapresponse-timeout warnables)",
        r"Unable to connect to the Tailscale coordination server to synchronize",
        r"hasn't received a network map from the coordination server",
    ),
    signature(
        "ts-derp-timeout", "tailscale", "warning", "symptom",
        "tailscaled lost its DERP relay",
        "The home relay went silent or could not be reached; peers reached only through DERP become "
        "unreachable. Seen when egress is blocked or the process was frozen between requests.",
        "Allow egress to DERP (443/TCP); on Cloud Run keep CPU allocated outside requests.",
        f"{_TS}:health/warnings.go@{_TS_V} (derp-timed-out, no-derp-home, no-derp-connection warnables)",
        r"Tailscale hasn't heard from the \S.* relay server",
        r"Tailscale could not connect to (?:any|the \S.*) relay server",
    ),
    signature(
        "ts-health-chatter", "tailscale", "info", "noise",
        "tailscaled health state changes (informational)",
        "Start-up and recovery notices of tailscaled's health tracker.",
        "Nothing to do.",
        f"{_TS}:ipn/ipnlocal/local.go@{_TS_V}, health/warnings.go (warming-up); {_REAL} ts-control-500",
        r"health\(warnable=warming-up\)",
        r"health\(warnable=[\w-]+\): ok",
    ),
    signature(
        "ts-startup-chatter", "tailscale", "info", "noise",
        "tailscaled start-up and shutdown notices (harmless in a container)",
        "In userspace networking there is no TUN device to poll and no TPM, and tailscaled reports itself "
        "stopped until 'tailscale up' runs; extension queues report their shutdown.",
        "Nothing to do.",
        f"{_TS}:net/tstun/wrap.go, feature/tpm/tpm_linux.go, ipn/ipnlocal/extension_host.go@{_TS_V}, "
        f"health/warnings.go (wantrunning-false); {_REAL} ts-startup, ts-shutdown; ipn/ipnlocal/profiles.go "
        "(profile data directory), logpolicy/logpolicy.go (disabled logging), net/dns/ (NewDirWatcher), "
        "control/controlclient/map.go (flagExpiredPeers): every start of the fault matrix (tests/logs/data/faults)",
        r"error initializing tun dev stats polling",
        r"stat /dev/tpmrm0: ",
        r"health\(warnable=wantrunning-false\)",
        r"ipnext: work queue shutdown failed",
        r"profile data directory: profile not found",
        r"dns: inotify: NewDirWatcher: context canceled",
        r"flagExpiredPeers: \[unexpected\] delta-adjusted current time",
        r"You have disabled logging\. Tailscale will not be able to provide support",
    ),
    signature(
        "ts-derp-chatter", "tailscale", "info", "noise",
        "tailscaled DERP route bookkeeping (harmless)",
        "Relays connecting and forgetting peers is routine.",
        "Nothing to do.",
        f"{_TS}:wgengine/magicsock/derp.go@{_TS_V}, derp/derphttp/derphttp_client.go",
        r"derp-\d+ does not know about peer",
        r"connecting to derp-\d+",
        r"magicsock: derp-\d+ connected",
    ),
    signature(
        "ts-logout-ok", "tailscale", "info", "noise",
        "Ephemeral node logged out on shutdown",
        "tailscaled removed its ephemeral node before the instance stopped.",
        "Nothing to do.",
        f"{_TS}:ipn/ipnlocal/local.go@{_TS_V}",
        r"logged out ephemeral node on shutdown",
        exclude=(r"failed to log out",),
    ),
    signature(
        "ts-netstack-backend", "tailscale", "info", "noise",
        "netstack could not reach a local backend (inbound, not devproxy's path)",
        "An inbound tailnet connection to this node found nothing listening; devproxy only dials out.",
        "Nothing to do unless you serve something on this node.",
        f"{_TS}:wgengine/netstack/netstack.go@{_TS_V}",
        r"netstack: could not connect to local backend server",
    ),
    # ---- websockets (legacy 10.x client through the new asyncio client of 13+) ------------------
    signature(
        "py-ws-invalid-response", "proxy", "error", "root",
        "The WebSocket target answered with something that is not HTTP",
        "The upstream upgrade got a non-HTTP answer: the wrong port, TLS spoken to a plain port (or the "
        "reverse), or a SOCKS/other service at the target address.",
        "Point the target URL at the dev server's HTTP port with the right scheme (ws:// for plain HTTP).",
        f"{_WS}:src/websockets/client.py, legacy/client.py@10.4-17.4 ('did not receive a valid HTTP "
        f"response'), src/websockets/http11.py@13.1 ('invalid HTTP status line'); {_REAL} ws-*-garbage",
        r"did not receive a valid HTTP response",
        r"invalid HTTP status line: ",
    ),
    signature(
        "py-ws-env-proxy", "proxy", "error", "root",
        "websockets went through a proxy taken from the environment",
        "websockets ≥ 15 uses proxies from the environment (ws_proxy, https_proxy, OS settings) unless "
        "proxy=None; that proxy refused or failed the CONNECT.",
        "Pass proxy=None (or sock=) to websockets' connect, or unset the proxy variables for the proxy process.",
        f"{_WS}:src/websockets/exceptions.py@15.0.1-17.4 (InvalidProxyStatus, InvalidProxyMessage); "
        f"{_REAL} ws-env-http-proxy-407",
        r"proxy rejected connection: HTTP \d+",
        r"did not receive a valid HTTP response from proxy",
    ),
    signature(
        "py-connect-refused", "proxy", "error", "root",
        "Nothing listens at the address the proxy dialed",
        "A direct TCP connect was refused: the target (or a local service) is down or on another port.",
        "Check the target address and port; start the dev server; for tailnet targets dial through SOCKS.",
        "CPython Lib/asyncio/base_events.py@3.11 ('Connect call failed'); aio-libs/aiohttp:"
        f"aiohttp/client_exceptions.py@3.14.5 (ClientConnectorError); {_REAL} ws-*-refused, aiohttp-refused",
        r"Connect call failed \(",
        exclude=(r"Could not connect to proxy", r"\b100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+"),
    ),
    # ---- aiohttp server: what arrives on $PORT ----------------------------------------------
    signature(
        "aio-h2c", "proxy", "critical", "root",
        "HTTP/2 cleartext (h2c) reached the aiohttp port: end-to-end HTTP/2 is on",
        "The Cloud Run port is named h2c, so the front end speaks HTTP/2 to the container; aiohttp speaks "
        "HTTP/1.1 only and rejects the 'PRI * HTTP/2.0' preface, and WebSocket upgrades cannot work.",
        "Name the container port http1 (devproxy deploy does): gcloud run services update <svc> --no-use-http2.",
        "aio-libs/aiohttp:aiohttp/_http_parser.pyx@3.14.5 (BadHttpMethod / BadHttpMessage); "
        f"cloud.google.com/run/docs/triggering/websockets; {_REAL} aiohttp-server-h2c",
        r"Pause on PRI/Upgrade",
    ),
    signature(
        "aio-https-on-http", "proxy", "warning", "root",
        "TLS reached the plain-HTTP aiohttp port",
        "A client spoke HTTPS to a port that serves plain HTTP (Cloud Run terminates TLS itself, so this is a "
        "local client or a probe with the wrong scheme).",
        "Use http:// for the container port; only the public URL is https://.",
        f"aio-libs/aiohttp:aiohttp/_http_parser.pyx@3.14.5; {_REAL} aiohttp-server-tls",
        r"Received HTTPS traffic on an HTTP port",
    ),
    signature(
        "aio-request-error", "proxy", "error", "symptom",
        "aiohttp could not handle a request",
        "aiohttp's server rejected a request it could not parse or handle; the exception logged with it says "
        "why.",
        "Read the exception that follows it (h2c preface, TLS on the plain port, a handler error).",
        f"aio-libs/aiohttp:aiohttp/web_protocol.py@3.14.5 ('Error handling request'); {_REAL} "
        "aiohttp-server-h2c",
        r"Error handling request from ",
    ),
    # ---- VS Code's browser console --------------------------------------------------------------
    signature(
        "browser-reconnected", "browser", "info", "noise",
        "VS Code reconnected its session",
        "A dropped WebSocket was re-established within the server's reconnection grace time.",
        "Nothing to do.",
        "microsoft/vscode:src/vs/platform/remote/common/remoteAgentConnection.ts ('${logPrefix} reconnected!')",
        r"\[reconnect\] reconnected!",
    ),
    # ---- Cloud Run's own messages (no real capture possible here: wording from public reports) ---
    signature(
        "cr-startup-probe", "cloudrun", "critical", "root",
        "Cloud Run's startup probe failed; the instance was not started",
        "The startup probe (TCP on $PORT by default, or the HTTP readiness path) did not pass in time.",
        "Bind $PORT at once and point an HTTP startup probe at /_devproxy/ready with enough periods for "
        "tailscale to log in (period × threshold ≤ 240 s).",
        "1Password/scim-examples#309; terraform-google-modules/terraform-docs-samples#254; "
        "cloud.google.com/run/docs/configuring/healthchecks",
        r"STARTUP (?:TCP|HTTP) probe failed \d+ times? consecutively",
        r"failed the configured startup probe checks",
    ),
    signature(
        "cr-killed", "cloudrun", "error", "root",
        "Cloud Run killed the container (signal 9)",
        "The instance was killed: out of memory, or it had not exited 10 s after SIGTERM.",
        "Exit within 10 s of SIGTERM (forward it to tailscaled first); give the service more memory.",
        "chainguard-dev/terraform-infra-common#526; cloud.google.com/run/docs/container-contract",
        r"Container terminated on signal 9\b",
    ),
    signature(
        "cr-exit", "cloudrun", "error", "root",
        "The container's main process exited",
        "PID 1 ended with a non-zero status, so Cloud Run stops the instance.",
        "Read the lines just before it for the process's own error.",
        "cloud.google.com/run/docs/troubleshooting (container exit)",
        r"Container called exit\([1-9]\d*\)",
    ),
    signature(
        "cr-bad-response", "cloudrun", "error", "symptom",
        "Cloud Run could not get a valid response from the instance (502)",
        "The connection to the instance broke or the container answered something Cloud Run could not parse.",
        "Look at the container's entries at that time; if the port is h2c, name it http1.",
        "cloud.google.com/run/docs/troubleshooting (HTTP 502)",
        r"the HTTP response was malformed or connection to the instance had an error",
    ),
    signature(
        "cr-exec-failed", "cloudrun", "critical", "root",
        "Cloud Run could not execute the container's program (wrong architecture or entrypoint)",
        "The image's entrypoint cannot be executed: it was built for another CPU (arm64 on a Mac; Cloud Run runs "
        "linux/amd64), or the entrypoint is a script without an interpreter line, or is missing.",
        "Build the image for linux/amd64 (docker buildx build --platform linux/amd64, or Cloud Build, as devproxy "
        "deploy does) and check ENTRYPOINT/CMD point at an executable; redeploy.",
        "cloud.google.com/run/docs/container-contract (executables must be compiled for Linux 64-bit); "
        "gist.github.com/x-yuri/bdef0f90d7d0aa82613953d3049e23de (Application failed to start: failed to load "
        "/server: exec format error; Application exec likely failed)",
        r"Application failed to start: failed to load \S+: exec format error",
        r"Application exec likely failed",
    ),
    signature(
        "cr-http-5xx", "cloudrun", "error", "symptom",
        "Requests failed with 5xx at Cloud Run's front end",
        "The request log shows server errors returned to the browser; the cause is in the other layers.",
        "See the causes listed above; without one, read the container's entries at those times.",
        "cloud.google.com/run/docs/logging (request logs)",
        check="request_5xx",
    ),
)
