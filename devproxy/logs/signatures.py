"""The failure-signature catalog, as data: what a line looks like, what it means, what to do.

Each signature comes from a real report (the `reference`). `role` says how diagnosis ranks it:
a `root` names a cause, a `symptom` is what a user sees when some root cause is present, and
`noise` is known-harmless chatter that is never ranked as a cause. Matching lives in `match`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devproxy import events as ev
from devproxy import tailscale_lines as lines

FINDING_SEVERITIES = ("critical", "error", "warning", "info")
ROLES = ("root", "symptom", "noise")


@dataclass(frozen=True, slots=True)
class Signature:
    """One known failure (or known noise) and how to recognise it."""

    id: str
    layer: str
    severity: str  # one of FINDING_SEVERITIES
    role: str  # one of ROLES
    title: str
    cause: str
    fix: str
    reference: str
    #: regexes searched (case-insensitively) in the entry's message; any one matches.
    patterns: tuple[str, ...] = ()
    #: regexes that veto a match, by pattern or by event (a more specific signature owns those lines).
    exclude: tuple[str, ...] = ()
    #: devproxy structured event names this signature owns.
    events: tuple[str, ...] = ()
    #: (field, regex) pairs every one of which must fully match str(entry.fields[field]) ("" when absent).
    where: tuple[tuple[str, str], ...] = ()
    #: name of a computed predicate in `match.CHECKS` (for request-log latency and the like).
    check: str = ""
    #: the entry's own severity must be at least this (Cloud Logging name); "" for any.
    min_severity: str = ""

    @property
    def noise(self) -> bool:
        return self.role == "noise"

    @property
    def link(self) -> str:
        """A URL for the first GitHub issue or Google Cloud page the reference cites ("" if none)."""
        return reference_link(self.reference)


_GITHUB_REF = re.compile(r"\b([\w.-]+/[\w.-]+)#(\d+)")
_GITHUB_FILE = re.compile(r"\b([\w.-]+/[\w.-]+):([\w/.-]+\w)")
_URL = re.compile(r"https?://\S+|\bcloud\.google\.com/[\w/.-]+")


def reference_link(reference: str) -> str:
    """The first `owner/repo#N`, URL, or `owner/repo:path` file a reference cites, as a URL ("" if none)."""
    match = _GITHUB_REF.search(reference)
    if match:
        return f"https://github.com/{match.group(1)}/issues/{match.group(2)}"
    match = _URL.search(reference)
    if match:
        url = match.group(0).rstrip(";,")
        return url if url.startswith("http") else f"https://{url}"
    match = _GITHUB_FILE.search(reference)
    if match:
        return f"https://github.com/{match.group(1)}/blob/HEAD/{match.group(2)}"
    return ""


def signature(
    id: str,
    layer: str,
    severity: str,
    role: str,
    title: str,
    cause: str,
    fix: str,
    reference: str,
    *patterns: str,
    exclude: tuple[str, ...] = (),
    events: tuple[str, ...] = (),
    where: tuple[tuple[str, str], ...] = (),
    check: str = "",
    min_severity: str = "",
) -> Signature:
    """One catalog row: the patterns come positionally, as they read in the catalogs."""
    return Signature(
        id, layer, severity, role, title, cause, fix, reference, patterns, exclude, events, where, check, min_severity
    )


_FIX_HEADERS = (
    "Forward X-Forwarded-Host: <public host> (no :443) and X-Forwarded-Proto: https and keep the browser's "
    "Origin, or start code-server with --trusted-origins <public host>."
)
_FIX_LOOPBACK = (
    "Use the literal 127.0.0.1 on both sides: tailscaled --socks5-server=127.0.0.1:1055 and "
    "socks5://127.0.0.1:1055 in the client (never 'localhost')."
)
_FIX_BLOCKING = (
    "Remove blocking calls from async code: asyncio.create_subprocess_exec instead of subprocess.run, "
    "asyncio.sleep instead of time.sleep, python_socks.async_ instead of python_socks.sync, "
    "asyncio.to_thread for the rest; run tests with PYTHONASYNCIODEBUG=1."
)
_FIX_KEY = (
    "Mint a new Tailscale auth key (reusable or OAuth-minted, ephemeral, tagged), add it as a new "
    "Secret Manager version, and redeploy (devproxy deploy)."
)
_FIX_TIMEOUT = "Set the Cloud Run request timeout to 3600s (devproxy deploy does) and let clients reconnect."

CATALOG: tuple[Signature, ...] = (
    # ---- browser / VS Code web client -------------------------------------------------------
    signature(
        "browser-ws-1006", "browser", "error", "symptom",
        "Browser WebSocket closed abnormally (1006)",
        "The WebSocket to the server died without a close frame: the upstream upgrade was rejected "
        "(code-server origin check 403, missing cookie 401), the tunnel or proxy dropped it, or Cloud Run "
        "cut it at the request timeout.",
        "Look at the proxy, code-server and Cloud Run entries at the same time; the findings above name the "
        "one that matches.",
        "field-notes §8 B1; coder/code-server#6023, #4443; vscode browserSocketFactory.ts",
        r"WebSocket close with status code 1006",
        r"close 1006 \(abnormal closure\)",
        exclude=(r"socketFactory\.connect", r"permanent error"),
    ),
    signature(
        "browser-initial-connect-failed", "browser", "error", "symptom",
        "VS Code gave up connecting to the server",
        "Five consecutive WebSocket connection attempts failed, so the workbench treats it as permanent "
        "and asks for a reload.",
        "Fix the failing handshake (see the root cause above), then reload the page.",
        "field-notes §8 B2/B3; microsoft/vscode:src/vs/platform/remote/common/remoteAgentConnection.ts",
        r"An error occurred in (?:the very first connect attempt|initial connection)[^\n]*permanent error",
        r"socketFactory\.connect\(\) failed or timed out",
    ),
    signature(
        "browser-connect-retry", "browser", "warning", "symptom",
        "VS Code is retrying its first connection",
        "An initial WebSocket connection attempt failed; the client retries up to five times.",
        "If it keeps failing, see the upstream handshake findings.",
        "field-notes §3.4; microsoft/vscode:src/vs/platform/remote/common/remoteAgentConnection.ts",
        r"An error occurred in initial connection! Will retry",
    ),
    signature(
        "browser-wss-failed", "browser", "error", "symptom",
        "Browser could not open the WebSocket",
        "The browser's WebSocket to the public URL failed; the reason is on another layer.",
        "Correlate with the proxy and Cloud Run entries at the same time.",
        "field-notes §8 B4; microsoft/vscode:src/vs/platform/remote/browser/browserSocketFactory.ts",
        r"can.t establish a connection to the server at wss?://",
        r"WebSocket connection to '[^']*' failed",
    ),
    signature(
        "browser-mixed-content", "browser", "error", "root",
        "Page over HTTPS tried an insecure ws:// WebSocket",
        "Something rewrote the scheme to http/ws, typically X-Forwarded-Proto: http sent to the app.",
        "Always send X-Forwarded-Proto: https upstream and never rewrite Location headers to http.",
        "field-notes §8 B5; ngrok/ngrok#66",
        r"attempted to connect to the insecure WebSocket endpoint",
    ),
    signature(
        "browser-offline", "browser", "warning", "root",
        "The browser reported itself offline",
        "The client machine lost its network; the server side is not involved.",
        "Check the client's network; VS Code reconnects when it is back.",
        "field-notes §3.4; microsoft/vscode:src/vs/platform/remote/browser/browserSocketFactory.ts",
        r"Browser is offline",
    ),
    signature(
        "browser-reconnect-loop", "browser", "warning", "symptom",
        "VS Code is reconnecting an established session",
        "An established WebSocket dropped (Cloud Run request timeout, new instance, tunnel blip).",
        "Expected up to once per request timeout; a problem only if it loops past the grace time.",
        "field-notes §8 B8; linuxserver/docker-code-server#166",
        r"\[reconnect\] starting reconnecting loop",
        r"\[reconnect\] resolving connection",
    ),
    signature(
        "browser-vsda-404", "browser", "info", "noise",
        "vsda.js / vsda_bg.wasm not found (harmless)",
        "Visual Studio Device Attestation modules are Microsoft-only and not shipped with code-server.",
        "Nothing to do; never the cause of a 1006.",
        "field-notes §3.5 / §8 B6; coder/code-server#7090",
        r"vsda(?:_bg)?\.(?:js|wasm)",
        exclude=(r"File not found",),
    ),
    signature(
        "browser-grace-time", "browser", "info", "noise",
        "Reconnection grace time announced",
        "Informational: the server tells the client how long a dropped session may reconnect.",
        "Nothing to do.",
        "field-notes §8 B7; continuedev/continue#11932",
        r"Client received grace time from server",
    ),
    # ---- code-server ----------------------------------------------------------------------
    signature(
        "cs-origin-mismatch", "code-server", "error", "root",
        "code-server rejected the WebSocket: Origin does not match Host",
        "code-server ≥ 4.10.1 answers a WebSocket upgrade whose Origin host differs from Host / "
        "X-Forwarded-Host with a raw 403; the browser only sees 1006.",
        _FIX_HEADERS,
        "field-notes §3.1 / §8 CS1; coder/code-server:src/node/http.ts",
        r'host "[^"]*" does not match origin "[^"]*"',
        exclude=(r'host "[^"]*:(?:80|443)" does not match',),
    ),
    signature(
        "cs-origin-port", "code-server", "error", "root",
        "code-server origin check fails because the forwarded host carries :443",
        "X-Forwarded-Host (or Host) includes the default port, so it never equals the Origin host.",
        "Strip :443 / :80 from X-Forwarded-Host (nginx: use $host, not $host:$server_port).",
        "field-notes §8 CS4; coder/code-server#6161, #6166",
        r'host "[^"]*:(?:80|443)" does not match origin',
    ),
    signature(
        "cs-forbidden-origin", "code-server", "error", "root",
        "code-server answered 403 Forbidden from its origin check",
        "Older code-server releases log the origin-check rejection as an error with this stack.",
        _FIX_HEADERS,
        "field-notes §8 CS2; coder/code-server#6064; linuxserver/docker-code-server#149",
        r"Forbidden HttpError: Forbidden",
        r"at ensureOrigin \(",
    ),
    signature(
        "cs-no-host", "code-server", "error", "root",
        "code-server received no Host header",
        "The reverse proxy stripped Host and X-Forwarded-Host.",
        "Forward the Host header (nginx: proxy_set_header Host $host).",
        "field-notes §8 CS3; coder/code-server:src/node/http.ts",
        r"No host headers found",
        r"behind a reverse proxy that does not forward the host",
    ),
    signature(
        "cs-unauthorized", "code-server", "error", "root",
        "code-server refused the request as unauthenticated (401)",
        "code-server's password cookie did not reach it (not forwarded or expired).",
        "Forward the Cookie header upstream, or run code-server with --auth none behind devproxy's own access control.",
        "field-notes §8 CS5; coder/code-server:src/node/http.ts",
        r"HttpError: Unauthorized",
        r"HTTP/1\.1 401 Unauthorized",
    ),
    signature(
        "cs-vsda-missing", "code-server", "info", "noise",
        "code-server: vsda file not found (harmless)",
        "code-server does not ship Microsoft's vsda modules.",
        "Nothing to do.",
        "field-notes §8 CS6; opendatahub-io/notebooks#2527",
        r"File not found: \S*vsda",
    ),
    signature(
        "cs-extension-missing", "code-server", "info", "noise",
        "code-server: web extension bundle not found (usually harmless)",
        "Some builds lack browser bundles of built-in extensions.",
        "Nothing to do; it is not the cause of a 1006.",
        "field-notes §8 CS7; coder/code-server#6014",
        r"File not found: \S*/extensions/\S*/dist/browser/",
    ),
    signature(
        "cs-proxy-env", "code-server", "warning", "root",
        "code-server inherited a malformed proxy environment variable",
        "HTTP(S)_PROXY in code-server's environment is not a URL it understands.",
        "Do not export proxy variables to code-server.",
        "field-notes §8 CS8; azukaar/Cosmos-Server#164",
        r"Unsupported protocol for proxy URL",
    ),
    # ---- nginx in front of code-server ------------------------------------------------------
    signature(
        "nginx-upstream-refused", "nginx", "error", "root",
        "nginx could not connect to the upstream (connection refused)",
        "Nothing listens on the upstream address nginx proxies to (code-server down or on another port).",
        "Start code-server / fix proxy_pass to the address it listens on.",
        "nginx error log; coder/code-server#4443",
        r"connect\(\) failed \(111: Connection refused\) while connecting to upstream",
    ),
    signature(
        "nginx-upstream-timeout", "nginx", "error", "root",
        "nginx timed out waiting for the upstream",
        "The upstream accepted but did not answer within proxy_read_timeout (or a WebSocket idled past it).",
        "Raise proxy_read_timeout for WebSocket locations (e.g. 3600s); check the upstream is healthy.",
        "nginx error log; coder/code-server#4763",
        r"upstream timed out \(110: Connection timed out\)",
    ),
    signature(
        "nginx-ws-upgrade-403", "nginx", "error", "root",
        "The WebSocket upgrade was answered 403 (code-server origin check)",
        "code-server rejected the upgrade because Origin and Host differ behind the proxy.",
        "Add proxy_set_header Host $host (or X-Forwarded-Host), Upgrade and Connection; or --trusted-origins.",
        "field-notes §3.6; HamedMP/matrix-os#1524; coder/code-server#7355",
        r'"GET [^"]*reconnectionToken=[^"]*" 403',
    ),
    # ---- Python proxy (the seed app, devproxy's runtime raw texts) ------------------------------
    signature(
        "py-extra-headers", "proxy", "error", "root",
        "websockets ≥ 14 rejected the extra_headers argument",
        "The new asyncio implementation renamed extra_headers to additional_headers; unknown keyword "
        "arguments go to loop.create_connection(), which raises this TypeError.",
        "Pass additional_headers= (and origin= for Origin); pin websockets>=15,<18.",
        "field-notes §4 / §8 P1; python-websockets/websockets#1588; "
        "real capture ws-extra-headers, websockets 14.2–17.4",
        r"unexpected keyword argument 'extra_headers'",
    ),
    signature(
        "py-additional-headers", "proxy", "error", "root",
        "Legacy websockets rejected the additional_headers argument",
        "additional_headers was passed to websockets < 14 or to websockets.legacy.",
        "Upgrade websockets to ≥ 14 and import connect from websockets.asyncio.client.",
        "field-notes §8 P2; heiko-hotz/gemini-multimodal-live-dev-guide#10; "
        "real capture ws-legacy-additional-headers, websockets 10.4–17.4",
        r"unexpected keyword argument 'additional_headers'",
    ),
    signature(
        "py-socks-failed", "proxy", "error", "root",
        "Could not open a connection through the SOCKS proxy",
        "websockets could not tunnel through the SOCKS server: most often nothing answered on the loopback "
        "address it dialed ('localhost' resolving to the other address family than tailscaled listens on), "
        "otherwise tailscaled could not reach the target.",
        _FIX_LOOPBACK + " If tailscaled logs 'client connection failed' at the same time, see that finding.",
        "field-notes §0.1 / §8 P3; python-websockets/websockets:src/websockets/asyncio/client.py",
        r"failed to connect to SOCKS proxy",
        exclude=(r"General SOCKS server failure",),
    ),
    signature(
        "py-proxy-loopback-mismatch", "proxy", "critical", "root",
        "SOCKS proxy refused on 'localhost': loopback family mismatch",
        "The client resolved 'localhost' and dialed one loopback family while tailscaled listens on the "
        "other (Go binds one address for a host name; python-socks tries only the first).",
        _FIX_LOOPBACK,
        "field-notes §0.1 / §1.3 / §8 P4; golang/go#9334; python-socks _resolver.py",
        r"Could not connect to proxy localhost:\d+",
        r"Could not connect to proxy \S+ \[[^\]]*'::1'",
    ),
    signature(
        "py-proxy-refused", "proxy", "error", "root",
        "Nothing listens on the SOCKS proxy address",
        "tailscaled is not running, crashed, or listens on another address/port.",
        "Check that tailscaled runs with --socks5-server=127.0.0.1:1055 and that its log has no fatal "
        "listener error; dial the same literal address.",
        "field-notes §8 P4; romis2012/python-socks:python_socks/async_/asyncio/_proxy.py; "
        "real capture socks-proxy-down, python-socks 2.7.1/3.2.2",
        r"Could not connect to proxy",
        exclude=(r"Could not connect to proxy localhost:", r"'::1'"),
    ),
    signature(
        "py-socks-general-failure", "proxy", "error", "symptom",
        "tailscaled could not reach the target (General SOCKS server failure)",
        "tailscaled answers 0x01 for every failed dial: node not Running yet, target offline, ACL drop, "
        "or its 5 s dial limit expired.",
        "Gate on tailscaled BackendState Running; check the target is online in 'tailscale status' and the ACLs.",
        "field-notes §0.3 / §8 P3; python-socks _protocols/socks5.py; tailscale/tailscale#14956",
        r"General SOCKS server failure",
    ),
    signature(
        "py-socks-timeout", "proxy", "error", "symptom",
        "SOCKS handshake timed out",
        "The SOCKS handshake and CONNECT took longer than the client's timeout: tailscaled's dial was stuck or "
        "the event loop was blocked.",
        "Use a timeout above tailscaled's own 5 s dial limit and check loop health (slow callbacks).",
        "field-notes §8 P5; romis2012/python-socks:python_socks/async_/asyncio/_proxy.py; "
        "real capture socks-proxy-timeout, python-socks 2.7.1/3.2.2",
        r"Proxy connection timed out",
    ),
    signature(
        "py-socks-reply", "proxy", "error", "root",
        "The SOCKS server could not reach the target",
        "The SOCKS server answered host/network unreachable or connection refused for the target.",
        "Check the target host and port, and the tailnet ACLs.",
        "field-notes §8 P6; romis2012/aiohttp-socks#38; "
        "real capture socks-target-refused (microsocks), python-socks 2.7.1/3.2.2",
        r"ProxyError: (?:Host unreachable|Network unreachable|Connection refused by destination host"
        r"|Connection not allowed by ruleset)",
    ),
    signature(
        "py-socks-missing", "proxy", "error", "root",
        "websockets found a SOCKS proxy but python-socks is not installed",
        "websockets ≥ 15 uses proxies from the environment automatically.",
        "Pass proxy=None (or sock=) to connect(), or install python-socks[asyncio].",
        "field-notes §0.9 / §8 P7; python-websockets/websockets:src/websockets/asyncio/client.py",
        r"connecting through a SOCKS proxy requires python-socks",
    ),
    signature(
        "py-socks5h-scheme", "proxy", "error", "root",
        "python-socks does not accept the socks5h:// scheme",
        "Proxy.from_url accepts socks5, socks4 and http only.",
        "Use socks5://… (remote DNS is the default) or pass rdns=True.",
        "field-notes §8 P8; romis2012/python-socks#21; real capture socks-socks5h-url, python-socks 2.7.1/3.2.2",
        r"Invalid scheme component: socks5h",
    ),
    signature(
        "py-ws-403", "proxy", "error", "root",
        "The target rejected the WebSocket upgrade with 403 (origin check)",
        "code-server's origin check (or an auth layer) refused the proxied upgrade.",
        _FIX_HEADERS,
        "field-notes §3.1 / §8 P9; python-websockets/websockets:src/websockets/exceptions.py; "
        "real capture ws-*-403, websockets 10.4–17.4",
        r"server rejected WebSocket connection: HTTP 403",
    ),
    signature(
        "py-ws-401", "proxy", "error", "root",
        "The target rejected the WebSocket upgrade with 401",
        "The target's session cookie was not forwarded (or expired).",
        "Forward the browser's Cookie header on the upgrade.",
        "field-notes §8 P10; python-websockets/websockets:src/websockets/exceptions.py",
        r"server rejected WebSocket connection: HTTP 401",
    ),
    signature(
        "py-ws-404", "proxy", "error", "root",
        "The target answered the WebSocket upgrade with 404",
        "The upstream path or base path is wrong.",
        "Preserve the request path and query (reconnectionToken, skipWebSocketFrames).",
        "field-notes §8 P11; python-websockets/websockets:src/websockets/exceptions.py",
        r"server rejected WebSocket connection: HTTP 404",
    ),
    signature(
        "py-ws-open-timeout", "proxy", "error", "symptom",
        "WebSocket opening handshake timed out",
        "open_timeout elapsed: the SOCKS path was slow (cold tailnet path via DERP) or the upstream stalled.",
        "Raise open_timeout to 15–30 s and pre-warm the tailnet path.",
        "field-notes §8 P12; python-websockets/websockets:src/websockets/asyncio/client.py; "
        "real capture ws-asyncio-open-timeout, websockets 13.1–17.4",
        r"timed out during opening handshake",
        r"TimeoutError: timed out during handshake",
    ),
    signature(
        "py-keepalive-1011", "proxy", "error", "symptom",
        "WebSocket keepalive ping timed out (1011)",
        "No pong arrived within ping_timeout: the event loop was blocked, or the tailnet path stalled.",
        _FIX_BLOCKING,
        "field-notes §8 P13; python-websockets/websockets:src/websockets/asyncio/connection.py; "
        "real capture ws-*-keepalive, websockets 10.4–17.4",
        r"keepalive ping timeout",
    ),
    signature(
        "py-ws-too-big", "proxy", "error", "root",
        "WebSocket message exceeded websockets' max_size (1009)",
        "websockets' default max_size is 1 MiB; VS Code frames can be larger.",
        "Relay with max_size=None and compression=None.",
        "field-notes §0.10 / §8 P14; python-websockets/websockets:src/websockets/protocol.py; "
        "real capture ws-*-too-big, websockets 10.4–17.4",
        r"1009 \(message too big\)",
        r"exceeds limit of \d+ bytes",
    ),
    signature(
        "py-slow-callback", "proxy", "error", "root",
        "A blocking call froze the event loop (slow callback)",
        "asyncio debug saw a callback hold the loop: a sync socket, subprocess.run, time.sleep or sync "
        "python-socks inside async code.",
        _FIX_BLOCKING,
        "field-notes §0.2 / §8 P15; https://docs.python.org/3/library/asyncio-dev.html#debug-mode; "
        "real capture asyncio-slow-callback, CPython 3.11.7",
        r"Executing <.*> took \d+(?:\.\d+)? seconds",
    ),
    signature(
        "py-time-limit", "proxy", "error", "symptom",
        "Time limit reached: the event loop was blocked",
        "A blocked event loop let a deadline expire (the seed's 'Error: Time limit reached').",
        _FIX_BLOCKING,
        "DESIGN rule 1; field-notes §1.6; https://docs.python.org/3/library/asyncio-dev.html#debug-mode",
        r"Time limit reached",
    ),
    signature(
        "py-no-close-frame", "proxy", "warning", "symptom",
        "WebSocket dropped without a close handshake",
        "The TCP connection went away (upstream restart, tunnel reset, Cloud Run cut).",
        "Propagate it to the browser as 1001/1011; the finding about who dropped first is the cause.",
        "field-notes §8 P16; python-websockets/websockets:src/websockets/exceptions.py; "
        "real capture ws-*-drop, websockets 10.4–17.4",
        r"no close frame received or sent",
    ),
    signature(
        "py-direct-tailnet-dial", "proxy", "error", "root",
        "Dialed a tailnet IP directly in userspace networking mode",
        "With --tun=userspace-networking the kernel has no route to 100.64.0.0/10; only the SOCKS proxy does.",
        "Dial through SOCKS: aiohttp_socks.ProxyConnector.from_url('socks5://127.0.0.1:1055', rdns=True).",
        "field-notes §8 P17; https://tailscale.com/kb/1112/userspace-networking",
        r"Cannot connect to host 100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+:\d+",
    ),
    signature(
        "py-server-disconnected", "proxy", "warning", "symptom",
        "Upstream closed a pooled connection",
        "A keep-alive connection to the target closed (tunnel reset or upstream restart).",
        "Retry idempotent requests once; do not pool connections through SOCKS.",
        "field-notes §8 P18; aio-libs/aiohttp:aiohttp/client_exceptions.py; "
        "real capture aiohttp-disconnected, aiohttp 3.14.5",
        r"ServerDisconnectedError",
    ),
    signature(
        "py-aiohttp-ws-403", "proxy", "error", "root",
        "aiohttp's upstream WebSocket handshake was rejected with 403",
        "The target (code-server origin check or an auth layer) refused the upgrade.",
        _FIX_HEADERS,
        "field-notes §8 P19; project-receptor/python-receptor#191; real capture aiohttp-ws-403, aiohttp 3.14.5",
        r"WSServerHandshakeError: 403",
    ),
    signature(
        "py-closing-transport", "proxy", "warning", "symptom",
        "Wrote to a connection the peer had already closed",
        "A relay pump kept writing after the other side closed.",
        "Cancel the sibling pump on the first close; check ws.closed before sending.",
        "field-notes §8 P20; aio-libs/aiohttp#4587",
        r"Cannot write to closing transport",
    ),
    signature(
        "py-aiohttp-msg-size", "proxy", "error", "root",
        "WebSocket message exceeded aiohttp's max_msg_size (1009)",
        "aiohttp's WebSocketResponse defaults to a 4 MiB message limit.",
        "Create the browser-facing WebSocketResponse with max_msg_size=0.",
        "field-notes §8 P21; aio-libs/aiohttp:aiohttp/web_ws.py; real capture aiohttp-ws-*-too-big, aiohttp 3.14.5",
        r"Message size \d+ exceeds limit \d+",
    ),
    signature(
        "py-redirect-with-sock", "proxy", "error", "root",
        "The upstream redirected a WebSocket opened over a preexisting socket",
        "The target answered 30x to the upgrade while sock= was used.",
        "Use the final URL (code-server base path) for the upstream WebSocket.",
        "field-notes §8 P22; python-websockets/websockets:src/websockets/asyncio/client.py",
        r"cannot follow redirect to .* with a preexisting socket",
    ),
    # ---- tailscaled / tailscale CLI --------------------------------------------------------
    signature(
        "ts-packet-header", "tailscale", "warning", "symptom",
        "tailscaled: SOCKS client closed before its handshake",
        "A client connected to the SOCKS port and closed before sending its greeting: a bare port probe, "
        "or a connect that was cancelled (often because the event loop was blocked). Not a tailnet problem.",
        "Remove bare TCP probes of port 1055; if it comes with slow callbacks, fix the blocking code.",
        "field-notes §1.4 / §8 T1; tailscale/tailscale:net/socks5/socks5.go; "
        "real capture ts-bare-connect, tailscaled 1.102.5",
        lines.PACKET_HEADER,
    ),
    signature(
        "ts-dial-timeout", "tailscale", "error", "root",
        "tailscaled: dial to the target timed out (5 s)",
        "tailscaled's SOCKS dial exceeded its hard 5 s limit: node not Running yet, path still via DERP, "
        "ACL drop or target offline.",
        "Gate proxying on BackendState Running and the peer being online; retry once; check the ACLs.",
        "field-notes §0.3 / §8 T2; tailscale/tailscale#14956",
        lines.DIAL_TIMEOUT,
    ),
    signature(
        "ts-no-route", "tailscale", "error", "root",
        "tailscaled: no route to the target",
        "The target is not in the netmap: offline, not shared, or a subnet route not accepted.",
        "Run 'tailscale status'; use --accept-routes for subnet targets.",
        "field-notes §8 T3; tailscale/tailscale#1952",
        r"client connection failed: connect tcp \S+: no route",
    ),
    signature(
        "ts-incompatible-version", "tailscale", "error", "root",
        "tailscaled: a non-SOCKS client hit the SOCKS port",
        "Something spoke HTTP (or another protocol) to the SOCKS5 listener.",
        "Use socks5:// for that port, or share it with --outbound-http-proxy-listen.",
        "field-notes §8 T4; tailscale/tailscale#18130; real capture ts-http-at-socks, tailscaled 1.102.5",
        r"incompatible SOCKS version",
    ),
    signature(
        "ts-no-auth-methods", "tailscale", "error", "root",
        "tailscaled: SOCKS authentication method mismatch",
        "The client offered no method the SOCKS server accepts.",
        "Align SOCKS credentials between client and tailscaled.",
        "field-notes §8 T5; tailscale/tailscale:net/socks5/socks5.go",
        r"no acceptable auth methods",
    ),
    signature(
        "ts-listener-in-use", "tailscale", "critical", "root",
        "tailscaled could not open the SOCKS listener: address in use",
        "Another process already listens on tailscaled's SOCKS port (an old tailscaled that did not exit, or "
        "another program), so tailscaled exits at start, again at every restart.",
        "Stop the process that holds the SOCKS port, or give devproxy a free one (--socks "
        "socks5://127.0.0.1:PORT or DEVPROXY_SOCKS); the runtime starts tailscaled on that port.",
        "field-notes §8 T6; tailscale/tailscale:cmd/tailscaled/tailscaled.go",
        lines.SOCKS_IN_USE,
    ),
    signature(
        "ts-key-expired", "tailscale", "critical", "root",
        "Tailscale auth key expired, revoked or already used",
        "The auth key in the secret no longer exists (keys expire within 90 days; single-use keys work once).",
        _FIX_KEY,
        "field-notes §0.12 / §8 T7; carlthome/dotfiles#26; tailscale/tailscale@v1.102.5:"
        "tstest/integration/testcontrol/testcontrol.go (a control server's own rejection, as "
        "`tailscale up` prints it: produced by the test tailnet, tests/tailnet)",
        r"invalid key: API key does not exist",
        r"backend error: invalid authkey\b",
    ),
    signature(
        "ts-key-malformed", "tailscale", "critical", "root",
        "Tailscale auth key is malformed",
        "The key has quotes, a trailing newline, or belongs to another tailnet.",
        "Store the key without whitespace or quotes; " + _FIX_KEY,
        "field-notes §8 T8; tailscale/golink#91",
        r"invalid key: unable to validate API key",
        r"invalid key: API key \S+ not valid",
    ),
    signature(
        "ts-tags-denied", "tailscale", "critical", "root",
        "Tailscale rejected the requested tags",
        "The key or OAuth client does not own the tags it asked for.",
        "Fix tagOwners in the tailnet policy, or request the OAuth client's full tag set.",
        "field-notes §8 T9; tailscale/tailscale#15456",
        r"requested tags \[[^\]]*\] are invalid or not permitted",
    ),
    signature(
        "ts-up-timeout", "tailscale", "error", "root",
        "tailscale up never reached Running",
        "Login did not complete: no or bad key, or the control server is unreachable.",
        "Check BackendState and AuthURL in 'tailscale status --json'; check the key.",
        "field-notes §8 T10; tailscale/tailscale:cmd/tailscale/cli/up.go; "
        "real capture ts-control-*-cli, tailscale 1.102.5",
        lines.UP_TIMEOUT,
    ),
    signature(
        "ts-no-daemon", "tailscale", "error", "root",
        "tailscale CLI could not reach tailscaled",
        "The CLI ran before tailscaled created its socket, or they use different --socket paths.",
        "Wait for the LocalAPI socket; pass the same --socket to both.",
        "field-notes §8 T11; tailscale/tailscale#2029; real capture ts-socket-mismatch, tailscale 1.102.5",
        r"failed to connect to local tailscaled",
        r"tailscaled\.sock: connect: no such file or directory",
    ),
    signature(
        "ts-logout-timeout", "tailscale", "warning", "root",
        "Ephemeral node was not logged out on shutdown",
        "The logout on SIGTERM missed its 5 s window; the node lingers in the admin console.",
        "Forward SIGTERM to tailscaled first; delete the device through the API as a fallback.",
        "field-notes §8 T12; tailscale/tailscale#14805",
        r"failed to log out ephemeral node on shutdown",
    ),
    signature(
        "ts-sigterm", "tailscale", "info", "noise",
        "tailscaled stopped on SIGTERM (normal scale-in or new revision)",
        "Cloud Run stopped the instance; clients reconnect to another one.",
        "Nothing to do.",
        "field-notes §8 T13; tailscale/tailscale:cmd/tailscaled/tailscaled.go; "
        "real capture ts-sigterm, tailscaled 1.102.5",
        r"tailscaled got signal terminated",
    ),
    signature(
        "ts-netlink", "tailscale", "info", "noise",
        "tailscaled polls routes (no netlink in gVisor)",
        "Cloud Run gen1 lacks netlink route groups.",
        "Nothing to do; prefer the gen2 execution environment.",
        "field-notes §8 T14; tailscale/tailscale#1631",
        r"AF_NETLINK RTMGRP failed",
    ),
    signature(
        "ts-udp-buffer", "tailscale", "info", "noise",
        "tailscaled could not raise UDP buffer sizes (harmless)",
        "No CAP_NET_ADMIN in the container.",
        "Nothing to do.",
        "field-notes §8 T15; tailscale/tailscale#7471",
        r"failed to force-set UDP (?:read|write) buffer size",
    ),
    signature(
        "ts-logtail", "tailscale", "info", "noise",
        "tailscaled log upload failed (harmless)",
        "Uploading logs to log.tailscale.io is blocked or slow.",
        "Start tailscaled with --no-logs-no-support.",
        "field-notes §8 T16; tailscale/tailscale#7729",
        r"logtail: dial ",
        r"logtail: upload: log upload of",
    ),
    # ---- Cloud Run platform ----------------------------------------------------------------
    signature(
        "cr-request-timeout", "cloudrun", "error", "root",
        "Cloud Run ended a request at the request timeout",
        "WebSockets are requests under the service's request timeout (default 300 s).",
        _FIX_TIMEOUT,
        "field-notes §2.1 / §8 CR1; knative/serving#7933",
        r"reached the maximum request timeout",
    ),
    signature(
        "cr-ws-cut-at-timeout", "cloudrun", "error", "root",
        "Cloud Run cut WebSockets at a short request timeout",
        "Upgraded (101) requests end with a latency equal to the request timeout (default 300 s), so every "
        "VS Code session drops that often.",
        _FIX_TIMEOUT,
        "field-notes §2.1 / §7.3; cloud.google.com/run/docs/triggering/websockets",
        check="ws_cut_at_timeout",
    ),
    signature(
        "cr-ws-hourly", "cloudrun", "info", "noise",
        "WebSockets end at the 60-minute maximum (expected)",
        "Cloud Run's maximum request timeout is 3600 s; clients reconnect within code-server's grace time.",
        "Nothing to do.",
        "field-notes §0.4; AdaptiveConsulting/ReactiveTraderCloud#1954",
        check="ws_cut_hourly",
    ),
    signature(
        "cr-port-not-listening", "cloudrun", "critical", "root",
        "Container did not listen on $PORT in time",
        "Nothing served 0.0.0.0:$PORT within the startup probe (e.g. waited for tailscale before binding, "
        "or bound 127.0.0.1).",
        "Bind 0.0.0.0:$PORT immediately and report readiness through the probe path.",
        "field-notes §8 CR2/CR3; cloud.google.com/run/docs/troubleshooting",
        r"failed to start and then listen on the port defined by the PORT",
        r"failed to start and listen on the port defined provided by the PORT",
    ),
    signature(
        "cr-memory", "cloudrun", "critical", "root",
        "Container exceeded its memory limit",
        "tailscaled, Python and the in-memory filesystem (/tmp counts as memory) exceeded the limit.",
        "Use at least 512 MiB (the gen2 minimum) and avoid writing to /tmp.",
        "field-notes §8 CR4; dart-lang/pub-dev#9554",
        r"Memory limit of \d+ MiB exceeded",
    ),
    signature(
        "cr-no-instance", "cloudrun", "error", "root",
        "No Cloud Run instance was available",
        "Max instances reached or scale-from-zero lag (HTTP 429 or 503); for up to 30 minutes after billing is "
        "re-enabled or a spend cap lifted, requests fail the same way.",
        "Set min instances to 1 and max instances ≥ 1; after a billing or spend-cap stop, wait for the service "
        "to recover.",
        "field-notes §8 CR5; hashicorp/terraform-provider-google#13193; cloud.google.com/run/docs/known-issues "
        "(delayed recovery after an exceeded spend cap)",
        r"aborted because there was no available instance",
    ),
    signature(
        "cr-gvisor-syscall", "cloudrun", "info", "noise",
        "gVisor unsupported syscall (gen1 noise)",
        "The gen1 sandbox does not implement every syscall option.",
        "Nothing to do; prefer gen2.",
        "field-notes §8 CR6; google/gvisor#1739",
        r"Container Sandbox: Unsupported syscall",
    ),
    signature(
        "cr-secret-denied", "cloudrun", "critical", "root",
        "Runtime service account cannot read the secret",
        "The revision's service account lacks roles/secretmanager.secretAccessor on the secret.",
        "Grant roles/secretmanager.secretAccessor on the secret to the runtime service account (devproxy deploy does).",
        "field-notes §8 CR7; terraform-google-modules/terraform-docs-samples#168",
        r"Permission denied on secret",
    ),
    signature(
        "cr-sigabrt", "cloudrun", "error", "root",
        "Container killed with SIGABRT",
        "A background process was starved of CPU under request-based billing.",
        "Use instance-based billing (cpu_idle=false) with min instances 1.",
        "field-notes §8 CR8; permitio/docs#258",
        r"terminated on signal 6\b",
        r"signal 6 \(SIGABRT\)",
    ),
    # ---- devproxy's own structured events ------------------------------------------------------
    signature(
        "dp-socks-unreachable", "proxy", "critical", "root",
        "devproxy: no SOCKS server answered (tailscaled not listening)",
        "No address of the SOCKS endpoint accepted a connection: tailscaled is not running or listens elsewhere.",
        "Check the supervisor events for tailscaled exits; keep --socks at socks5://127.0.0.1:1055.",
        "DESIGN rule 2; field-notes §1.3",
        events=(ev.SOCKS_CONNECT_FAILED,),
    ),
    signature(
        "dp-socks-reply", "proxy", "error", "symptom",
        "devproxy: tailscaled could not reach the target",
        "tailscaled answered the SOCKS CONNECT with a failure (it replies 'general failure' for any dial error).",
        "Check the target is online in 'tailscale status' and the ACLs allow this node.",
        "field-notes §0.3 / §1.4",
        events=(ev.SOCKS_REPLY_FAILED,),
    ),
    signature(
        "dp-target-refused", "proxy", "error", "root",
        "devproxy: the target refused or was unreachable",
        "The dev server is not listening on the target address.",
        "Start the dev server, or fix --target.",
        "DESIGN (devproxy runtime)",
        events=(ev.TARGET_CONNECT_FAILED,),
    ),
    signature(
        "dp-upstream-timeout", "proxy", "error", "symptom",
        "devproxy: the upstream timed out",
        "Dialing, the handshake or the target's answer took too long (cold tailnet path, stalled target).",
        "Check tailscaled's state and the target's health.",
        "DESIGN (devproxy runtime)",
        events=(ev.UPSTREAM_TIMEOUT,),
    ),
    signature(
        "dp-upgrade-403", "proxy", "error", "root",
        "devproxy: the target rejected the WebSocket upgrade with 403",
        "code-server's origin check refused the upgrade (Origin host ≠ forwarded host).",
        _FIX_HEADERS,
        "field-notes §3.1",
        events=(ev.WS_UPGRADE_REJECTED,),
        where=(("status", "403"),),
    ),
    signature(
        "dp-upgrade-401", "proxy", "error", "root",
        "devproxy: the target rejected the WebSocket upgrade with 401",
        "The target's session cookie did not reach it.",
        "Make sure the Cookie header is forwarded and the user is logged in to the target.",
        "field-notes §8 CS5",
        events=(ev.WS_UPGRADE_REJECTED,),
        where=(("status", "401"),),
    ),
    signature(
        "dp-upgrade-rejected", "proxy", "error", "root",
        "devproxy: the target answered the WebSocket upgrade with an HTTP status",
        "The target did not switch protocols (wrong path, auth layer, or an error page).",
        "See the status and likely_cause fields of the example.",
        "DESIGN (devproxy runtime)",
        events=(ev.WS_UPGRADE_REJECTED,),
        where=(("status", r"(?!40[13]$)\d+"),),
    ),
    signature(
        "dp-ws-too-big", "proxy", "error", "root",
        "devproxy: a WebSocket closed with 1009 (message too big)",
        "A frame exceeded a size limit on one leg of the relay.",
        "Relay with max_size=None / max_msg_size=0.",
        "field-notes §0.10",
        events=(ev.WS_CLOSED,),
        where=(("close_code", "1009"),),
    ),
    signature(
        "dp-ws-abnormal", "proxy", "warning", "symptom",
        "devproxy: WebSockets closed abnormally (1006/1011)",
        "A leg of the relay dropped without a clean close.",
        "See closed_by in the example and the findings of that side.",
        "DESIGN (devproxy runtime)",
        events=(ev.WS_CLOSED,),
        where=(("close_code", "1006|1011"),),
    ),
    signature(
        "dp-ws-max-age", "proxy", "info", "noise",
        "devproxy closed WebSockets before Cloud Run's 60-minute limit (expected; clients reconnect)",
        "devproxy ends each relay with 1001 shortly before the platform's request limit would cut it, so the "
        "browser reconnects cleanly instead of seeing a 1006.",
        "Nothing to do.",
        "DESIGN (devproxy runtime, WebSocket max age); field-notes §0.4",
        events=(ev.WS_CLOSED,),
        where=(("why", "max_age"),),
    ),
    signature(
        "dp-vsda-404", "proxy", "info", "noise",
        "vsda.js / vsda_bg.wasm requests (harmless)",
        "code-server does not ship Microsoft's vsda modules.",
        "Nothing to do.",
        "field-notes §3.5",
        events=(ev.HTTP_ACCESS,),
        where=(("path", ".*vsda.*"),),
    ),
    signature(
        "dp-http-5xx", "proxy", "warning", "symptom",
        "devproxy answered 5xx",
        "The proxy could not carry requests to the target.",
        "See the proxy findings at the same time for the reason.",
        "DESIGN (devproxy runtime)",
        events=(ev.HTTP_ACCESS,),
        where=(("status", "5\\d\\d"),),
    ),
    signature(
        "dp-auth-disabled", "proxy", "warning", "root",
        "devproxy runs without access control (--auth none)",
        "Anyone with the URL reaches the dev server, which is a remote shell.",
        "Deploy with --auth token (default) or --auth iap.",
        "DESIGN (access control)",
        events=(ev.RUNTIME_AUTH_DISABLED,),
    ),
    signature(
        "dp-tailscale-auth-failed", "tailscale", "critical", "root",
        "Tailscale login failed: auth key invalid or expired",
        "tailscaled rejected the auth key from the secret (expired, revoked, reused or malformed).",
        _FIX_KEY,
        "field-notes §0.12 / §8 T7",
        events=(ev.TAILSCALE_AUTH_FAILED,),
        # the other credential modes' refusals are their own rows (devproxy/logs/logins.py)
        where=(("kind", "(?:auth_failed)?"),),
    ),
    signature(
        "dp-tailscaled-exited", "tailscale", "error", "root",
        "tailscaled exited unexpectedly",
        "The tailscaled child process exited on its own; proxying fails until the runtime has restarted it.",
        "Act on what tailscaled said just before it exited (quoted here when the capture has it); its flags "
        "are the runtime's plus DEVPROXY_TAILSCALED_ARGS.",
        "field-notes §1.6",
        events=(ev.TAILSCALED_EXITED,),
        min_severity="WARNING",  # INFO when the runtime itself stopped it on SIGTERM
    ),
    signature(
        "dp-tailscaled-restart", "tailscale", "warning", "symptom",
        "tailscaled is being restarted",
        "The supervisor restarts tailscaled with backoff after it exited.",
        "See why it exited.",
        "field-notes §1.6",
        events=(ev.TAILSCALED_RESTART,),
    ),
    signature(
        "dp-tailscaled-backoff", "tailscale", "warning", "symptom",
        "tailscaled is in backoff",
        "tailscaled keeps failing to start or log in.",
        "See the tailscaled errors before the backoff.",
        "field-notes §1.6",
        events=(ev.TAILSCALED_STATE,),
        where=(("state", "backoff"),),
    ),
    signature(
        "dp-tailscaled-start-failed", "tailscale", "critical", "root",
        "tailscaled could not be started",
        "The tailscaled binary is missing or not executable in the image.",
        "Install tailscaled in the image (devproxy deploy's Dockerfile does) or set DEVPROXY_TAILSCALED; "
        "pass --no-tailscale if it runs elsewhere.",
        "DESIGN (devproxy runtime supervisor)",
        events=(ev.TAILSCALED_START_FAILED,),
    ),
    signature(
        "dp-tailscale-cli-failed", "tailscale", "error", "root",
        "The tailscale CLI could not be run",
        "The tailscale binary is missing or not executable, so the runtime cannot log in or read the state.",
        "Install tailscale next to tailscaled or set DEVPROXY_TAILSCALE.",
        "DESIGN (devproxy runtime supervisor)",
        events=(ev.TAILSCALE_CLI_FAILED,),
    ),
    signature(
        "dp-tailscale-up-failed", "tailscale", "error", "root",
        "tailscale up failed",
        "Logging in to the tailnet failed; the message carries tailscale's last line.",
        "Read the last line in the example; a key problem shows up as its own finding.",
        "field-notes §1.6 / §8 T7–T10",
        events=(ev.TAILSCALE_UP_FAILED,),
        exclude=(r"^keyless login: ",),  # the metadata server's refusal: dp-keyless-metadata
    ),
    signature(
        "dp-needs-login", "tailscale", "warning", "root",
        "The tailnet node waits for login or approval",
        "BackendState NeedsLogin (no usable key) or NeedsMachineAuth (device approval is on in the tailnet).",
        "Provide a valid auth key; with device approval, use a pre-authorized key or approve the node.",
        "https://tailscale.com/kb/1085/auth-keys",
        events=(ev.TAILSCALE_BACKEND_STATE,),
        where=(("backend_state", "NeedsLogin|NeedsMachineAuth"),),
    ),
    signature(
        "dp-tailscaled-killed", "tailscale", "warning", "root",
        "tailscaled ignored SIGTERM and was killed",
        "tailscaled did not exit within its grace time, so the ephemeral node may not have logged out.",
        "Nothing urgent; if nodes linger in the admin console, remove them through the API.",
        "field-notes §0.11; tailscale/tailscale#14805",
        events=(ev.TAILSCALED_KILLED,),
    ),
    signature(
        "dp-supervisor-crashed", "tailscale", "error", "root",
        "devproxy's tailscaled supervisor crashed",
        "The supervision loop itself failed; tailscaled is no longer restarted.",
        "Report the example line as a devproxy bug; restart the revision.",
        "DESIGN (devproxy runtime supervisor)",
        events=(ev.SUPERVISOR_CRASHED,),
    ),
    signature(
        "dp-tailscaled-watchdog", "tailscale", "warning", "root",
        "tailscaled said Running but the target did not answer through it; devproxy restarted tailscaled",
        "Every dial through tailscaled's SOCKS server failed for longer than the watchdog's bound while "
        "BackendState stayed Running (a wedged userspace netstack, or the dev box is off the tailnet).",
        "If it repeats, check that the dev box is online in the tailnet and that ACLs let this node reach "
        "its port; DEVPROXY_WATCHDOG_S tunes the bound.",
        "DESIGN rule 5; devproxy runtime watchdog",
        events=(ev.TAILSCALED_WATCHDOG,),
    ),
    signature(
        "dp-iap-keys-failed", "auth", "error", "root",
        "devproxy cannot fetch Google's IAP public keys",
        "IAP assertions cannot be verified without the keys, so every request is answered 503.",
        "Check the container's egress to www.gstatic.com (or the URL in DEVPROXY_IAP_KEYS_URL).",
        "DESIGN (access control: iap); cloud.google.com/iap/docs/signed-headers-howto",
        events=(ev.AUTH_IAP_KEYS_FAILED,),
    ),
    signature(
        "dp-weak-token", "auth", "warning", "root",
        "the access token is short enough to guess",
        "DEVPROXY_ACCESS_TOKEN is shorter than 16 characters; the login rate limit only slows guessing down.",
        "Rotate it to a long random token (devproxy deploy generates 32 random bytes).",
        "DESIGN (access control: token)",
        events=(ev.AUTH_WEAK_TOKEN,),
    ),
    signature(
        "dp-proxy-failed", "proxy", "error", "root",
        "devproxy could not forward a request to the target",
        "A failure of the proxy path that no more specific signature names.",
        "Read the example's message; the tailscaled and target findings at the same time usually name the cause.",
        "DESIGN (devproxy runtime)",
        events=(ev.PROXY_FAILED,),
    ),
    signature(
        "dp-ws-close-failed", "proxy", "warning", "symptom",
        "closing a WebSocket with 1001 at shutdown failed",
        "On SIGTERM devproxy closes every WebSocket with 1001; this one failed, so its ends were dropped.",
        "Nothing to do for one line: the browser reconnects to the next instance.",
        "DESIGN rule 6 (SIGTERM then 10 s)",
        events=(ev.RUNTIME_WEBSOCKET_CLOSE_FAILED,),
    ),
    signature(
        "dp-ws-bad-handshake", "proxy", "warning", "symptom",
        "devproxy refused a malformed WebSocket upgrade",
        "A client sent an upgrade request that breaks RFC 6455 (no key, a wrong version, a body); the "
        "target never saw it.",
        "If it is your own client, fix its request; scanners send these too.",
        "RFC 6455 §4.2.1",
        events=(ev.WS_BAD_HANDSHAKE,),
    ),
    signature(
        "dp-upstream-body-failed", "proxy", "warning", "symptom",
        "devproxy: a response body from the target was cut off",
        "The target or the tunnel dropped the connection while a response was streaming.",
        "See the tailscaled and target findings at the same time.",
        "DESIGN (devproxy runtime)",
        events=(ev.UPSTREAM_BODY_FAILED,),
    ),
    signature(
        "dp-login-failed", "auth", "warning", "root",
        "Failed logins to devproxy",
        "Someone entered a wrong access token.",
        "If it was you, copy the token again (devproxy deploy prints where it lives).",
        "DESIGN (access control)",
        events=(ev.AUTH_LOGIN_FAILED,),
    ),
    signature(
        "dp-rate-limited", "auth", "warning", "symptom",
        "Logins were rate-limited",
        "Too many failed logins from one client.",
        "Wait, or check who is guessing the token.",
        "DESIGN (access control)",
        events=(ev.AUTH_RATE_LIMITED,),
    ),
    signature(
        "dp-auth-denied", "auth", "info", "noise",
        "Unauthenticated requests were sent to the login page",
        "Normal for visitors without a session.",
        "Nothing to do.",
        "DESIGN (access control)",
        events=(ev.AUTH_DENIED,),
    ),
    signature(
        "dp-runtime-stopping", "proxy", "info", "noise",
        "devproxy stopped (normal SIGTERM on scale-in or new revision)",
        "Cloud Run stops instances; clients reconnect.",
        "Nothing to do.",
        "field-notes §2.3",
        events=(ev.RUNTIME_STOPPING,),
    ),
)
