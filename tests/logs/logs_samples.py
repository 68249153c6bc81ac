"""Real sample lines for every catalog signature, as they appear in the reports the catalog cites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: lines the real components printed here (tests/logs/data/capture_real.py), with provenance.
REAL: list[dict[str, Any]] = json.loads((Path(__file__).parent / "data" / "real" / "captures.json").read_text())


def real(scenario: str, contains: str = "") -> tuple[str, ...]:
    """Up to three distinct real texts of a capture scenario (held-out records excluded)."""
    texts = [r["text"] for r in REAL if r["scenario"] == scenario and not r["heldout"] and contains in r["text"]]
    found = tuple(dict.fromkeys(texts))[:3]
    assert found, f"no real capture for {scenario!r} containing {contains!r}"
    return found


def event(event: str, severity: str = "ERROR", component: str = "proxy", message: str = "", **fields: Any) -> str:
    """One structured line as devproxy's runtime writes it."""
    record = {
        "severity": severity,
        "message": message or event,
        "time": "2026-11-30T05:00:00.000000Z",
        "event": event,
        "component": component,
        **fields,
    }
    return json.dumps(record)


def request(status: int, latency: str, url: str = "https://devproxy-abc-uc.a.run.app/?reconnectionToken=1") -> str:
    """One Cloud Run request-log LogEntry."""
    return json.dumps({
        "logName": "projects/p/logs/run.googleapis.com%2Frequests",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "devproxy"}},
        "timestamp": "2026-11-30T05:00:00.000000Z",
        "severity": "INFO",
        "insertId": "r1",
        "httpRequest": {"requestMethod": "GET", "requestUrl": url, "status": status, "latency": latency},
    })


SAMPLES: dict[str, tuple[str, ...]] = {
    "browser-ws-1006": (
        "Workbench failed to connect to the server (Error: WebSocket close with status code 1006)",
        "The workbench failed to connect to the server (Error: WebSocket close with status code 1006)",
        "2026/11/30 05:00:00 ERR websocket: close 1006 (abnormal closure): unexpected EOF",
    ),
    "browser-initial-connect-failed": (
        "[remote-connection][attempt 5] An error occurred in initial connection! It will be treated as a permanent error.",
        "socketFactory.connect() failed or timed out. Error: WebSocket close with status code 1006",
        "An error occurred in the very first connect attempt, it will be treated as a permanent error! Error:",
    ),
    "browser-connect-retry": (
        "[remote-connection][attempt 1] An error occurred in initial connection! Will retry...",
    ),
    "browser-wss-failed": (
        "Firefox can’t establish a connection to the server at wss://devbox.example.com/?reconnectionToken=0a1b"
        "&reconnection=false&skipWebSocketFrames=false.",
        "WebSocket connection to 'wss://devproxy-abc-uc.a.run.app/stable-1a2b/?reconnectionToken=9f&reconnection=true"
        "&skipWebSocketFrames=false' failed:",
    ),
    "browser-mixed-content": (
        "Mixed Content: The page at 'https://abc.ngrok-free.app/' was loaded over HTTPS, but attempted to connect to "
        "the insecure WebSocket endpoint 'ws://abc.ngrok-free.app/'. This request has been blocked; this endpoint "
        "must be available over WSS.",
    ),
    "browser-offline": ("[remote-connection] Browser is offline",),
    "browser-reconnect-loop": (
        "[reconnect] starting reconnecting loop. You can get more information with the trace log level.",
        "[reconnect] resolving connection...",
    ),
    "browser-vsda-404": (
        "GET https://devproxy-abc-uc.a.run.app/stable-1a2b/static/node_modules/vsda/rust/web/vsda.js "
        "net::ERR_ABORTED 404 (Not Found)",
        "Loading failed for the <script> with source “https://devbox/stable-1a2b/static/node_modules/vsda/rust/web/vsda.js”.",
        '10.0.0.5 - - [30/Nov/2026:05:00:00 +0000] "GET /stable-1a2b/static/node_modules/vsda/rust/web/vsda_bg.wasm '
        'HTTP/1.1" 404 9 "-" "Mozilla/5.0"',
        request(404, "0.004s", "https://devproxy-abc-uc.a.run.app/stable-1a2b/static/node_modules/vsda/rust/web/vsda.js"),
    ),
    "browser-grace-time": (
        "INFO [reconnection-grace-time] Client received grace time from server: 10800000ms (10800s)",
    ),
    "cs-origin-mismatch": (
        '[2026-11-30T05:00:00.000Z] debug host "127.0.0.1:8080" does not match origin "devproxy-abc-uc.a.run.app"; '
        "blocking request to /?reconnectionToken=1&reconnection=false&skipWebSocketFrames=false",
    ),
    "cs-origin-port": (
        '[2026-11-30T05:00:00.000Z] debug host "ide.wsc.ink:443" does not match origin "ide.wsc.ink"; '
        "blocking request to /?reconnectionToken=1",
    ),
    "cs-forbidden-origin": (
        "[2023-03-14T10:12:01.410Z] error Forbidden HttpError: Forbidden",
        "    at ensureOrigin (/usr/lib/code-server/out/node/http.js:288:15)",
    ),
    "cs-no-host": (
        "[2026-11-30T05:00:00.000Z] error No host headers found",
        "[2026-11-30T05:00:00.000Z] error Are you behind a reverse proxy that does not forward the host?",
    ),
    "cs-unauthorized": (
        "HTTP/1.1 401 Unauthorized",
        "[2026-11-30T05:00:00.000Z] debug HttpError: Unauthorized",
    ),
    "cs-vsda-missing": (
        "[2026-11-30T05:00:00.000Z] error File not found: /usr/lib/code-server/lib/vscode/node_modules/vsda/rust/web/vsda.js",
    ),
    "cs-extension-missing": (
        "File not found: /usr/lib/code-server/lib/vscode/extensions/github-authentication/dist/browser/extension.js",
    ),
    "cs-proxy-env": (
        '[2026-11-30T05:00:00.000Z] error Failed to get latest version {"error":"Unsupported protocol for proxy URL: '
        'socks5://127.0.0.1:1055"}',
    ),
    "nginx-upstream-refused": (
        "2026/11/30 05:00:00 [error] 29#29: *1 connect() failed (111: Connection refused) while connecting to upstream, "
        'client: 10.0.0.5, server: code.example.com, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:8080/"',
    ),
    "nginx-upstream-timeout": (
        "2026/11/30 05:00:00 [error] 29#29: *7 upstream timed out (110: Connection timed out) while reading response "
        'header from upstream, client: 10.0.0.5, server: code.example.com, upstream: "http://127.0.0.1:8080/"',
    ),
    "nginx-ws-upgrade-403": (
        '10.0.0.5 - - [30/Nov/2026:05:00:00 +0000] "GET /stable-1a2b/?reconnectionToken=7c&reconnection=false'
        '&skipWebSocketFrames=false HTTP/1.1" 403 9 "-" "Mozilla/5.0"',
    ),
    "py-extra-headers": (
        "TypeError: BaseEventLoop.create_connection() got an unexpected keyword argument 'extra_headers'",
        "TypeError: create_connection() got an unexpected keyword argument 'extra_headers'",
    ),
    "py-additional-headers": (
        "TypeError: BaseEventLoop.create_connection() got an unexpected keyword argument 'additional_headers'",
    ),
    "py-socks-failed": (
        "websockets.exceptions.ProxyError: failed to connect to SOCKS proxy",
        "2026-11-30 05:00:00,412 ERROR proxy: upstream websocket failed: failed to connect to SOCKS proxy",
    ),
    "py-proxy-loopback-mismatch": (
        "python_socks._errors.ProxyConnectionError: [Errno 111] Could not connect to proxy localhost:1055 "
        "[Connect call failed ('127.0.0.1', 1055)]",
        "Could not connect to proxy localhost:1055 [Connection refused]",
        "python_socks._errors.ProxyConnectionError: [Errno 111] Could not connect to proxy ip6-localhost:1055 "
        "[Connect call failed ('::1', 1055, 0, 0)]",
    ),
    "py-proxy-refused": (
        "python_socks._errors.ProxyConnectionError: [Errno 111] Could not connect to proxy 127.0.0.1:1055 "
        "[Connect call failed ('127.0.0.1', 1055)]",
    ),
    "py-socks-general-failure": (
        "python_socks._errors.ProxyError: General SOCKS server failure",
    ),
    "py-socks-timeout": ("python_socks._errors.ProxyTimeoutError: Proxy connection timed out: 60",),
    "py-socks-reply": (
        "python_socks._errors.ProxyError: Host unreachable",
        "python_socks._errors.ProxyError: Connection refused by destination host",
    ),
    "py-socks-missing": ("ImportError: connecting through a SOCKS proxy requires python-socks",),
    "py-socks5h-scheme": ("ValueError: Invalid scheme component: socks5h",),
    "py-ws-403": ("websockets.exceptions.InvalidStatus: server rejected WebSocket connection: HTTP 403",),
    "py-ws-401": ("websockets.exceptions.InvalidStatus: server rejected WebSocket connection: HTTP 401",),
    "py-ws-404": ("websockets.exceptions.InvalidStatus: server rejected WebSocket connection: HTTP 404",),
    "py-ws-open-timeout": ("TimeoutError: timed out during opening handshake",),
    "py-keepalive-1011": (
        "websockets.exceptions.ConnectionClosedError: sent 1011 (internal error) keepalive ping timeout; "
        "no close frame received",
    ),
    "py-ws-too-big": (
        "websockets.exceptions.ConnectionClosedError: sent 1009 (message too big) frame with 1153843 bytes exceeds "
        "limit of 1048576 bytes; no close frame received",
    ),
    "py-slow-callback": (
        "Executing <Task pending name='Task-12' coro=<bridge() running at /app/proxy.py:88> "
        "wait_for=<Future pending cb=[Task.task_wakeup()]>> took 0.532 seconds",
        "WARNING:asyncio:Executing <Handle <TaskWakeupMethWrapper object at 0x7f0c>(<Future finished result=None>)> "
        "took 1.204 seconds",
    ),
    "py-time-limit": ("Error: Time limit reached",),
    "py-no-close-frame": ("websockets.exceptions.ConnectionClosedError: no close frame received or sent",),
    "py-direct-tailnet-dial": (
        "aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host 100.84.184.84:8888 ssl:default "
        "[Connect call failed ('100.84.184.84', 8888)]",
    ),
    "py-server-disconnected": ("aiohttp.client_exceptions.ServerDisconnectedError: Server disconnected",),
    "py-aiohttp-ws-403": ("aiohttp.client_exceptions.WSServerHandshakeError: 403, message='Invalid response status'",),
    "py-closing-transport": ("ConnectionResetError: Cannot write to closing transport",),
    "py-aiohttp-msg-size": ("aiohttp WebSocket closed 1009: Message size 5242880 exceeds limit 4194304",),
    "py-redirect-with-sock": (
        "ValueError: cannot follow redirect to ws://devbox:8080/login with a preexisting socket",
    ),
    "ts-packet-header": (
        "2025/02/07 14:02:58 socks5: client connection failed: could not read packet header",
        event("tailscaled.line", "INFO", "tailscaled",
              "2025/02/07 14:02:58 socks5: client connection failed: could not read packet header"),
    ),
    "ts-dial-timeout": ("2025/02/07 14:02:58 socks5: client connection failed: context deadline exceeded",),
    "ts-no-route": ("socks5: client connection failed: connect tcp 100.73.249.25:80: no route",),
    "ts-incompatible-version": ("2025/12/03 09:41:12 socks5: client connection failed: incompatible SOCKS version",),
    "ts-no-auth-methods": ("socks5: client connection failed: no acceptable auth methods",),
    "ts-listener-in-use": ("2026/11/30 05:00:00 SOCKS5 listener: listen tcp 127.0.0.1:1055: bind: address already in use",),
    "ts-key-expired": (
        "backend error: invalid key: API key does not exist",
        "You are logged out. The last login error was: invalid key: API key does not exist",
        # real: `tailscale up` 1.102.5 against the test tailnet's control server (tests/tailnet)
        "backend error: invalid authkey",
    ),
    "ts-key-malformed": (
        "TryLogin: invalid key: unable to validate API key",
        "tsnet.Up: backend: invalid key: API key ********* not valid",
    ),
    "ts-tags-denied": ("backend error: requested tags [tag:devproxy] are invalid or not permitted",),
    "ts-up-timeout": (
        'timeout waiting for Tailscale service to enter a Running state; check health with "tailscale status"',
    ),
    "ts-no-daemon": (
        "failed to connect to local tailscaled; it doesn't appear to be running (sudo systemctl start tailscaled ?)",
        "dial unix /var/run/tailscale/tailscaled.sock: connect: no such file or directory",
    ),
    "ts-logout-timeout": ("failed to log out ephemeral node on shutdown after 5s",),
    "ts-sigterm": ("2026/11/30 05:00:00 tailscaled got signal terminated; shutting down",),
    "ts-netlink": ("monitor_linux: AF_NETLINK RTMGRP failed, falling back to polling",),
    "ts-udp-buffer": (
        "magicsock: failed to force-set UDP read buffer size to 7340032: operation not permitted",
        "magicsock: failed to force-set UDP write buffer size to 7340032: operation not permitted",
    ),
    "ts-logtail": (
        'logtail: dial "log.tailscale.io:443" failed: dial tcp: lookup log.tailscale.io: i/o timeout',
        "logtail: upload: log upload of 1024 bytes compressed failed: context deadline exceeded",
    ),
    "cr-request-timeout": (
        "The request has been terminated because it has reached the maximum request timeout.",
    ),
    "cr-ws-cut-at-timeout": (request(101, "300.001s"), request(101, "299.998734s")),
    "cr-ws-hourly": (request(101, "3599.981s"), request(101, "3600.002s")),
    "cr-port-not-listening": (
        "Container failed to start. Failed to start and then listen on the port defined by the PORT environment "
        "variable. Logs for this revision might contain more information.",
        "The user-provided container failed to start and listen on the port defined provided by the PORT=8080 "
        "environment variable within the allocated timeout.",
    ),
    "cr-memory": (
        "Memory limit of 512 MiB exceeded with 530 MiB used. Consider increasing the memory limit, see "
        "https://cloud.google.com/run/docs/configuring/memory-limits",
    ),
    "cr-no-instance": ("The request was aborted because there was no available instance.",),
    "cr-gvisor-syscall": ("Container Sandbox: Unsupported syscall setsockopt(0x3,0x1,0x1a,0x3ebcd68,0x4,0x0).",),
    "cr-secret-denied": (
        "spec.template.spec.containers[0].env[1].value_from.secret_key_ref.name: Permission denied on secret: "
        "projects/123/secrets/ts-authkey/versions/latest for Revision service account devproxy@p.iam.gserviceaccount.com. "
        "The service account used must be granted the 'Secret Manager Secret Accessor' role "
        "(roles/secretmanager.secretAccessor) at the secret, project or higher level.",
    ),
    "cr-sigabrt": ("Container terminated on signal 6.",),
    "dp-socks-unreachable": (
        event("socks.connect_failed", message="no SOCKS server answered on localhost:1055",
              socks="socks5://localhost:1055", tried=["127.0.0.1:1055", "[::1]:1055"]),
    ),
    "dp-socks-reply": (
        event("socks.reply_failed", message="SOCKS server answered: general failure", code=1),
    ),
    "dp-target-refused": (event("target.connect_failed", message="connection refused by 127.0.0.1:8888"),),
    "dp-upstream-timeout": (event("upstream.timeout", message="upstream did not answer within 30 s"),),
    "dp-upgrade-403": (
        event("ws.upgrade_rejected", message="target answered the WebSocket upgrade with 403 Forbidden",
              status=403, likely_cause="code-server origin check"),
    ),
    "dp-upgrade-401": (event("ws.upgrade_rejected", message="upgrade rejected", status=401),),
    "dp-upgrade-rejected": (event("ws.upgrade_rejected", message="upgrade rejected", status=404),),
    "dp-ws-too-big": (
        event("ws.closed", "WARNING", message="websocket closed", duration_s=12.5, bytes_in=10, bytes_out=2000000,
              close_code=1009, close_reason="message too big", closed_by="proxy"),
    ),
    "dp-ws-abnormal": (
        event("ws.closed", "WARNING", message="websocket closed", duration_s=31.0, bytes_in=10, bytes_out=20,
              close_code=1006, close_reason="", closed_by="upstream"),
    ),
    "dp-vsda-404": (
        event("http.access", "INFO", message="GET 404", method="GET",
              path="/stable-1a2b/static/node_modules/vsda/rust/web/vsda.js", status=404, duration_ms=3, bytes_out=0),
    ),
    "dp-http-5xx": (
        event("http.access", "WARNING", message="GET / 502", method="GET", path="/", status=502, duration_ms=5012,
              bytes_out=120),
    ),
    "dp-auth-disabled": (
        event("runtime.auth_disabled", "WARNING", message="access control disabled (--auth none)"),
    ),
    "dp-tailscale-auth-failed": (
        event("tailscale.auth_failed", component="supervisor", message="tailscale up failed: invalid key"),
    ),
    "dp-tailscaled-exited": (
        event("tailscaled.exited", "WARNING", component="supervisor", message="tailscaled exited with code 1",
              returncode=1),
    ),
    "dp-tailscaled-restart": (event("tailscaled.restart", "WARNING", component="supervisor", delay_s=2.0),),
    "dp-tailscaled-backoff": (event("tailscaled.state", "WARNING", component="supervisor", state="backoff"),),
    "dp-tailscaled-start-failed": (
        event("tailscaled.start_failed", component="supervisor",
              message="could not start tailscaled (tailscaled): No such file or directory",
              hint="install tailscaled or set DEVPROXY_TAILSCALED; pass --no-tailscale if it runs elsewhere"),
    ),
    "dp-tailscale-cli-failed": (
        event("tailscale.cli_failed", component="supervisor", message="could not run tailscale: Permission denied"),
    ),
    "dp-tailscale-up-failed": (
        event("tailscale.up_failed", "WARNING", component="supervisor",
              message="tailscale up failed (exit 1): context canceled", returncode=1),
    ),
    "dp-needs-login": (
        event("tailscale.backend_state", "INFO", component="supervisor", message="BackendState NeedsMachineAuth",
              backend_state="NeedsMachineAuth"),
    ),
    "dp-tailscaled-killed": (
        event("tailscaled.killed", "WARNING", component="supervisor",
              message="tailscaled did not exit within 5 s of SIGTERM; sending SIGKILL", pid=12),
    ),
    "dp-supervisor-crashed": (
        event("supervisor.crashed", component="supervisor",
              message="supervision loop failed: RuntimeError('boom')"),
    ),
    "dp-tailscaled-watchdog": (
        event("tailscaled.watchdog", "WARNING", component="supervisor",
              message="restarting tailscaled: BackendState is Running but every dial failed for 60 s",
              target="devbox:8888", reason="every dial failed for 60 s"),
    ),
    "dp-iap-keys-failed": (
        event("auth.iap_keys_failed", component="auth", message="cannot verify IAP assertions: keys unavailable"),
    ),
    "dp-weak-token": (
        event("auth.weak_token", "WARNING", component="auth",
              message="the access token is shorter than 16 characters; use a long random one"),
    ),
    "dp-proxy-failed": (event("proxy.failed", message="the proxy failed", path="/x"),),
    "dp-ws-close-failed": (
        event("runtime.websocket_close_failed", "WARNING", message="closing a WebSocket failed: reset"),
    ),
    "dp-ws-bad-handshake": (
        event("ws.bad_handshake", "WARNING", message="refused the WebSocket upgrade of /ws: no Sec-WebSocket-Key",
              path="/ws", status=400),
    ),
    "dp-upstream-body-failed": (
        event("upstream.body_failed", "WARNING", message="response body from the target was cut off", method="GET",
              path="/big.js", bytes_out=65536),
    ),
    "dp-login-failed": (event("auth.login_failed", "WARNING", component="auth", message="wrong access token"),),
    "dp-rate-limited": (event("auth.rate_limited", "WARNING", component="auth"),),
    "dp-auth-denied": (event("auth.denied", "INFO", component="auth", message="no session; redirect to login"),),
    "dp-runtime-stopping": (event("runtime.stopping", "INFO", message="SIGTERM received; stopping"),),
    # ---- signatures of the stacks' format strings (devproxy/logs/stacks.py) -------------------
    # real: printed by the real component here (see data/real/captures.json for version and how)
    "ts-dns-lookup": real("ts-connect-magicdns"),
    "ts-control-error": real("ts-control-500", "Received error"),
    "ts-logged-out": real("ts-control-500", "login-state"),
    "ts-health-chatter": real("ts-control-500", "warming-up") + (
        "2026/12/07 03:01:12 health(warnable=login-state): ok",
    ),
    "py-ws-invalid-response": real("ws-legacy-garbage") + real("ws-asyncio-garbage"),
    "py-ws-env-proxy": real("ws-env-http-proxy-407"),
    "py-connect-refused": real("ws-asyncio-refused")[:1] + real("aiohttp-refused")[:1],
    "aio-h2c": real("aiohttp-server-h2c", "PRI"),
    "aio-https-on-http": real("aiohttp-server-tls", "HTTPS"),
    "aio-request-error": real("aiohttp-server-h2c", "Error handling"),
    "ts-oauth-no-tags": real("ts-oauth-no-tags"),
    "ts-startup-chatter": real("ts-startup", "tstun") + real("ts-shutdown", "work queue") + (
        "2026/12/08 00:17:56 profile data directory: profile not found",
        "2026/12/08 00:17:56 dns: inotify: NewDirWatcher: context canceled",
        "2026/12/08 00:17:59 netmap: flagExpiredPeers: [unexpected] delta-adjusted current time is before "
        "hardcoded epoch; skipping",
        "2026/12/08 00:24:23 You have disabled logging. Tailscale will not be able to provide support.",
    ),
    # hand-written from the format string (no real run here can produce them)
    "ts-socks-unsupported": ("2026/11/30 05:00:00 socks5: client connection failed: unsupported command 2",),
    "ts-socks-auth": ("2026/11/30 05:00:00 socks5: client connection failed: could not read auth packet header",),
    "ts-map-poll-timeout": ("2026/11/30 05:00:00 control: map response long-poll timed out!",),
    "ts-no-map-response": (
        "2026/11/30 05:00:00 health(warnable=not-in-map-poll): error: Unable to connect to the Tailscale "
        "coordination server to synchronize the state of your tailnet. Peer reachability might degrade over time.",
        "2026/11/30 05:00:00 health(warnable=mapresponse-timeout): error: Tailscale hasn't received a network "
        "map from the coordination server in 5m0s.",
    ),
    "ts-derp-timeout": (
        "2026/11/30 05:00:00 health(warnable=derp-timed-out): error: Tailscale hasn't heard from the 'Frankfurt' "
        "relay server in 2m10s. The server might be temporarily unavailable, or your Internet connection might be down.",
        "2026/11/30 05:00:00 health(warnable=no-derp-home): error: Tailscale could not connect to any relay "
        "server. Check your Internet connection.",
    ),
    "ts-derp-chatter": (
        "2026/11/30 05:00:00 magicsock: derp-4 does not know about peer [Ab12C], removing route",
        "2026/11/30 05:00:00 derphttp.Client.Connect: connecting to derp-4 (fra)",
    ),
    "ts-logout-ok": ("2026/11/30 05:00:00 logged out ephemeral node on shutdown",),
    "ts-netstack-backend": (
        "2026/11/30 05:00:00 netstack: could not connect to local backend server at 127.0.0.1:22: connection refused",
    ),
    "cr-startup-probe": (
        'Default STARTUP TCP probe failed 1 time consecutively for container "devproxy" on port 8080. '
        "The instance was not started.",
        'STARTUP HTTP probe failed 24 times consecutively for container "devproxy" on path "/_devproxy/ready". '
        "The instance was not started.",
    ),
    "cr-killed": ("Container terminated on signal 9.",),
    "cr-exit": ("Container called exit(1).",),
    "cr-bad-response": (
        "The request failed because either the HTTP response was malformed or connection to the instance had "
        "an error. Additional troubleshooting documentation can be found at: "
        "https://cloud.google.com/run/docs/troubleshooting#malformed-response-or-connection-error",
    ),
    "cr-http-5xx": (request(502, "0.012s"), request(503, "0.004s")),
    # a VS Code web console line as users paste it (microsoft/vscode log format)
    "browser-reconnected": ("log.ts:117  INFO [remote-connection][ExtensionHost][c253f…][reconnect] reconnected!",),
    # tailscaled 1.102.5 on the test tailnet (tests/logs/data/faults/, tests/tailnet/faults.py)
    "ts-target-refused": (
        "2026/12/08 00:17:45 socks5: client connection failed: connect tcp 100.64.0.1:57429: connection was refused",
    ),
    "ts-no-such-peer": (
        "2026/12/08 00:17:45 socks5: client connection failed: dial tcp 100.100.250.250:33435: connect: "
        "connection refused",
    ),
    "ts-unknown-flag": ("flag provided but not defined: -no-such-flag",),
    "dp-ws-max-age": (event("ws.closed", "INFO", message="WebSocket /stable-1/ closed by devproxy", close_code=1001,
                            closed_by="proxy", why="max_age", duration_s=3540.2),),
    # cmd/tailscaled/tailscaled.go's log.Fatalf texts as Go's log package prints them (date, time, text)
    "ts-non-flag-args": ('2026/12/08 00:24:50 tailscaled does not take non-flag arguments: ["verbose"]',),
    "ts-requires-root": ("2026/12/08 00:24:50 tailscaled requires root; use sudo tailscaled (or use "
                         "--tun=userspace-networking)",),
    "ts-state-dir": ("2026/12/08 00:24:50 failed to create state directory: mkdir /data/ts: read-only file system",),
    "ts-state-required": ("2026/12/08 00:24:50 --statedir (or at least --state) is required",),
    "ts-netstack-failed": ("2026/12/08 00:24:50 failed to start netstack: could not create netstack NIC: "
                           "duplicate NIC ID",),
    "cr-exec-failed": (
        "terminated: Application failed to start: failed to load /server: exec format error",
        "Application exec likely failed",
    ),
    # ---- the login modes (devproxy/logs/logins.py): the runtime's auth_failed per kind, the CLI's own words --
    "dp-tailscale-auth-federation": (
        event("tailscale.auth_failed", component="supervisor", kind="federation_rejected",
              message="Tailscale refused the service's Google ID token (keyless login) (backend error: status "
                      "401): in Tailscale's admin console check the federated identity"),
    ),
    "dp-tailscale-auth-oauth": (
        event("tailscale.auth_failed", component="supervisor", kind="oauth_rejected",
              message="Tailscale refused the OAuth client secret (backend error: status 401): "
                      "the OAuth client secret was refused"),
    ),
    "dp-tailscale-auth-tags-missing": (
        event("tailscale.auth_failed", component="supervisor", kind="tags_missing",
              message="the login needs tags and none were given: set DEVPROXY_TAILSCALE_TAGS"),
    ),
    "dp-tailscale-auth-tags-rejected": (
        event("tailscale.auth_failed", component="supervisor", kind="tags_rejected",
              message="the auth key's tags were rejected: fix tagOwners in the tailnet policy"),
    ),
    "dp-keyless-metadata": (
        event("tailscale.up_failed", component="supervisor",
              message="keyless login: cannot reach the metadata server: [Errno 111] Connection refused"),
        event("tailscale.up_failed", component="supervisor",
              message="keyless login: the metadata server refused the ID token request (HTTP 404: not found)"),
    ),
    "ts-federation-rejected": (
        "backend error: failed to exchange JWT for access token: token exchange failed with status 401: "
        "{\"message\":\"invalid JWT\"}",
        "token exchange failed with status 403: forbidden",
    ),
    "ts-federation-no-id-token": (
        "backend error: federated identity authkeys require --id-token",
        "federated identity requires either an ID token or an audience",
    ),
    "ts-federation-no-tags": ("backend error: federated identity authkeys require --advertise-tags",),
    "ts-federation-key-create": (
        "unexpected error while creating authkey: Status: 403, Message: \"tags not permitted\"",
    ),
    "ts-oauth-rejected": (
        "backend error: oauth2: cannot fetch token: 401 Unauthorized",
        "backend error: Post \"https://api.tailscale.com/api/v2/tailnet/-/keys\": oauth2: \"invalid_client\" "
        "\"client secret is invalid\"",
        "Status: 403, Message: \"calling actor does not have enough permissions to perform this function\"",
    ),
    # ---- tailscaled's format strings at the pinned version (devproxy/logs/tailscaled.py) ----------------------
    "ts-tun-unavailable": (
        '2026/12/08 01:00:00 wgengine.NewUserspaceEngine(tun "tailscale0") error: tstun.New("tailscale0"): '
        "CreateTUN(\"tailscale0\") failed; /dev/net/tun does not exist",
        "2026/12/08 01:00:00 is CONFIG_TUN enabled in your kernel? `modprobe tun` failed with: modprobe: not found",
        "2026/12/08 01:00:00 tun module loaded in kernel, but /dev/net/tun does not exist",
        "2026/12/08 01:00:00 TUN device tailscale0 is busy; another process probably still has it open (from old "
        "version of Tailscale that had a bug)",
    ),
    "ts-node-key-expired": ("2026/12/08 01:00:00 control: server reports new node key [AbCdE] has expired",),
    "ts-machine-not-authorized": (
        "2026/12/08 01:00:00 Switching ipn state Starting -> NeedsMachineAuth (WantRunning=true, nm=true)",
    ),
    "ts-tls-failed": (
        "2026/12/08 01:00:00 health(warnable=tls-connection-failed): error: Tailscale could not establish an "
        "encrypted connection with '\"controlplane.tailscale.com\"': x509: certificate signed by unknown authority",
    ),
    "ts-network-down": (
        "2026/12/08 01:00:00 health(warnable=network-status): error: Tailscale cannot connect because the network "
        "is down. Check your Internet connection.",
    ),
    "ts-magicsock-stopped": (
        "2026/12/08 01:00:00 health(warnable=magicsock-receive-func-error): error: The MagicSock function "
        "ReceiveIPv4 is not running. You might experience connectivity issues.",
        "2026/12/08 01:00:00 Receive func ReceiveIPv4 exiting with error: *net.OpError, read udp4: use of closed "
        "network connection",
    ),
    "ts-magicsock-bind": (
        "2026/12/08 01:00:00 magicsock: Rebind IPv4 failed: failed to bind any ports (tried [0])",
    ),
    "ts-derp-region-error": (
        "2026/12/08 01:00:00 health(warnable=derp-region-error): error: The relay server #4 is reporting an issue: "
        "region is shutting down",
    ),
    "ts-dns-no-upstream": ("2026/12/08 01:00:00 dns: resolver: forward: no upstream resolvers set, returning SERVFAIL",),
    "ts-log-buffer": (
        "2026/12/08 01:00:00 filch failed: open /var/lib/tailscale/tailscaled.log1.txt: read-only file system",
        "2026/12/08 01:00:00 Unable to create /tmp directory for log storage: mkdir /tmp: read-only file system",
    ),
    "ts-up-needs-all-flags": (
        "Error: changing settings via 'tailscale up' requires mentioning all",
    ),
    # ---- Cloud Run's own messages (devproxy/logs/platform.py) ---------------------------------------------
    "cr-image-not-found": (
        "ERROR: (gcloud.run.deploy) Revision 'devproxy-00042-fow' is not ready and cannot serve traffic. Image "
        "'europe-west1-docker.pkg.dev/p/devproxy/devproxy:latest' not found.",
        "Image 'us-docker.pkg.dev/cloudrun/container/mcp.' not found.",
    ),
    "cr-image-permission": (
        "Google Cloud Run Service Agent service-123@serverless-robot-prod.iam.gserviceaccount.com must have "
        "permission to read the image, europe-west1-docker.pkg.dev/other/devproxy/devproxy:latest.",
    ),
    "cr-revision-not-ready": ("Revision 'devproxy-00003-xyz' is not ready and cannot serve traffic.",),
    "cr-quota": (
        "Quota violated: CpuAllocPerProjectRegion requested: 60000 allowed: 20000",
        "Could not create Cloud Run service devproxy. spec.template.spec.containers.resources.limits.cpu: Invalid "
        "value specified for cpu. For the specified value, maxScale may not exceed 10.",
        "spec.template.metadata.annotations[autoscaling.knative.dev/maxScale]: Max instances must be set to 0 or "
        "fewer to set the requested total memory.",
    ),
    "cr-h2c-mismatch": (
        "upstream connect error or disconnect/reset before headers. reset reason: protocol error",
        "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: protocol "
        "error",
    ),
    "cr-upstream-reset": (
        "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
        "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote "
        "connection failure",
    ),
    "cr-upstream-request-timeout": ("upstream request timeout",),
    "cr-liveness-probe": (
        'LIVENESS HTTP probe failed 3 times consecutively for container "devproxy" on path "/_devproxy/health". '
        "The instance will be restarted.",
    ),
}
