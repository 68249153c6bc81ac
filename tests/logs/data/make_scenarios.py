"""Regenerate the scenario log files in this directory: `python tests/logs/data/make_scenarios.py`.

Each scenario is one incident (or a healthy period) told as events across layers, written in
the three input formats users have: gcloud's JSON array (`*.gcloud.json`), JSON lines
(`*.jsonl`, devproxy runtime stdout) and plain text pasted from terminals and the browser
console (`*.txt`). Noise that real logs carry (vsda 404s, tailscaled chatter, normal traffic)
is mixed in deterministically.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
BASE = datetime(2026, 11, 30, 4, 0, 0, tzinfo=timezone.utc)
HOST = "devproxy-abc123-uc.a.run.app"
VSDA = f"https://{HOST}/stable-1a2b3c/static/node_modules/vsda/rust/web/vsda.js"


@dataclass
class Line:
    """One event in a scenario: when (seconds from BASE), which layer, and its forms."""

    at: float
    layer: str  # browser | proxy | tailscaled | codeserver | request | system | nginx | app
    text: str = ""
    severity: str = "INFO"
    event: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    status: int = 0
    latency: str = ""
    url: str = ""


def _ts(at: float) -> datetime:
    return BASE + timedelta(seconds=at)


def _rfc(at: float) -> str:
    return _ts(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def noise(rng: random.Random, start: float, end: float, n: int) -> list[Line]:
    """Harmless lines every real log has."""
    out: list[Line] = []
    for _ in range(n):
        at = rng.uniform(start, end)
        kind = rng.randrange(8)
        if kind == 0:
            out.append(Line(at, "request", status=404, latency="0.003s", url=VSDA, severity="WARNING"))
        elif kind == 1:
            out.append(Line(at, "browser", f"GET {VSDA} net::ERR_ABORTED 404 (Not Found)", "ERROR"))
        elif kind == 2:
            out.append(Line(at, "tailscaled", "magicsock: failed to force-set UDP read buffer size to 7340032: "
                            "operation not permitted"))
        elif kind == 3:
            out.append(Line(at, "tailscaled", 'logtail: dial "log.tailscale.io:443" failed: dial tcp: lookup '
                            "log.tailscale.io: i/o timeout"))
        elif kind == 4:
            path = rng.choice(["/", "/stable-1a2b3c/static/out/vs/workbench/workbench.web.main.js", "/manifest.json"])
            out.append(Line(at, "proxy", f"GET {path} 200", event="http.access",
                            fields={"method": "GET", "path": path, "status": 200,
                                    "duration_ms": rng.randint(3, 80), "bytes_out": rng.randint(200, 90000)}))
        elif kind == 5:
            out.append(Line(at, "request", status=200, latency=f"{rng.uniform(0.002, 0.09):.3f}s",
                            url=f"https://{HOST}/"))
        elif kind == 6:
            out.append(Line(at, "browser", "INFO [reconnection-grace-time] Client received grace time from server: "
                            "10800000ms (10800s)"))
        else:
            out.append(Line(at, "proxy", "target answered", event="socks.connected",
                            fields={"socks": "127.0.0.1:1055"}))
    return out


def _go(at: float, text: str) -> str:
    return _ts(at).strftime("%Y/%m/%d %H:%M:%S ") + text


def to_text(line: Line) -> str | None:
    """The line as a person would paste it (None when that layer is not in text logs)."""
    if line.layer == "request":
        return None
    if line.layer == "tailscaled":
        return _go(line.at, line.text)
    if line.layer == "browser":
        return line.text
    if line.layer == "codeserver":
        return f"[{_rfc(line.at)[:-4]}Z] {line.text}"
    if line.layer == "nginx":
        return line.text
    if line.layer == "system":
        return line.text
    stamp = _ts(line.at).strftime("%Y-%m-%d %H:%M:%S,") + f"{_ts(line.at).microsecond // 1000:03d}"
    return f"{stamp} {line.severity} {line.text}"


def to_structured(line: Line) -> dict[str, Any] | None:
    """The line as devproxy's runtime writes it on stdout (None for layers it does not write)."""
    if line.layer in ("browser", "request", "codeserver", "nginx", "system"):
        return None
    if line.layer == "tailscaled":
        return {"severity": "INFO", "message": _go(line.at, line.text), "time": _rfc(line.at),
                "event": "tailscaled.line", "component": "tailscaled"}
    record = {"severity": line.severity, "message": line.text, "time": _rfc(line.at),
              "event": line.event or "app.log", "component": "supervisor" if line.event.startswith("tailscale")
              else "proxy"}
    record.update(line.fields)
    return record


def to_log_entry(line: Line, n: int) -> dict[str, Any] | None:
    """The line as Cloud Logging stores it (None for the browser, which Cloud Logging never sees)."""
    if line.layer in ("browser", "codeserver", "nginx"):
        return None
    entry: dict[str, Any] = {
        "insertId": f"{n:06x}abc",
        "resource": {"type": "cloud_run_revision", "labels": {
            "project_id": "demo-project", "service_name": "devproxy", "revision_name": "devproxy-00007-abc",
            "configuration_name": "devproxy", "location": "us-central1"}},
        "timestamp": _rfc(line.at),
        "receiveTimestamp": _rfc(line.at + 0.4),
        "labels": {"instanceId": "00bf4bf02d7c"},
    }
    if line.layer == "request":
        entry["logName"] = "projects/demo-project/logs/run.googleapis.com%2Frequests"
        entry["severity"] = "ERROR" if line.status >= 500 else "WARNING" if line.status >= 400 else "INFO"
        entry["httpRequest"] = {"requestMethod": "GET", "requestUrl": line.url or f"https://{HOST}/",
                                "status": line.status, "latency": line.latency, "protocol": "HTTP/1.1",
                                "userAgent": "Mozilla/5.0", "remoteIp": "203.0.113.7"}
        return entry
    if line.layer == "system":
        entry["logName"] = "projects/demo-project/logs/run.googleapis.com%2Fvarlog%2Fsystem"
        entry["severity"] = line.severity
        entry["textPayload"] = line.text
        return entry
    structured = to_structured(line)
    if line.event or line.layer == "tailscaled":
        entry["logName"] = "projects/demo-project/logs/run.googleapis.com%2Fstdout"
        assert structured is not None
        entry["severity"] = structured.pop("severity")
        structured.pop("time")
        entry["jsonPayload"] = structured
    else:  # the seed app printed plain text to stderr
        entry["logName"] = "projects/demo-project/logs/run.googleapis.com%2Fstderr"
        entry["severity"] = line.severity
        entry["textPayload"] = to_text(line)
    return entry


def write(name: str, lines: list[Line], formats: tuple[str, ...], rng: random.Random, n_noise: int = 40) -> None:
    span = max(line.at for line in lines) + 30
    lines = sorted(lines + noise(rng, 0, span, n_noise), key=lambda line: line.at)
    if "txt" in formats:
        text = [t for t in (to_text(line) for line in lines) if t is not None]
        (HERE / f"{name}.txt").write_text("\n".join(text) + "\n")
    if "jsonl" in formats:
        records = [r for r in (to_structured(line) for line in lines) if r is not None]
        (HERE / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if "gcloud" in formats:
        entries = [e for e in (to_log_entry(line, n) for n, line in enumerate(lines)) if e is not None]
        entries.reverse()  # gcloud logging read prints newest first
        (HERE / f"{name}.gcloud.json").write_text(json.dumps(entries, indent=2) + "\n")


def b1006(at: float) -> Line:
    return Line(at, "browser", "Workbench failed to connect to the server (Error: WebSocket close with status code 1006)",
                "ERROR")


def origin_check() -> list[Line]:
    lines: list[Line] = []
    for k in range(5):
        t = 60 + k * 4
        lines.append(Line(t, "browser", f"WebSocket connection to 'wss://{HOST}/stable-1a2b3c/?reconnectionToken=7c{k}"
                          "&reconnection=false&skipWebSocketFrames=false' failed:", "ERROR"))
        lines.append(Line(t + 0.1, "proxy", "target answered the WebSocket upgrade with 403 Forbidden", "WARNING",
                          "ws.upgrade_rejected", {"status": 403, "likely_cause": "code-server origin check"}))
        lines.append(Line(t + 0.1, "codeserver", f'debug host "100.84.184.84:8888" does not match origin "{HOST}"; '
                          "blocking request to /stable-1a2b3c/?reconnectionToken=7c"))
        lines.append(Line(t + 0.2, "request", status=403, latency="0.051s",
                          url=f"https://{HOST}/stable-1a2b3c/?reconnectionToken=7c{k}"))
        lines.append(Line(t + 0.3, "browser", f"[remote-connection][attempt {k + 1}] An error occurred in initial "
                          "connection! Will retry...", "ERROR"))
    lines.append(b1006(80))
    lines.append(Line(80.1, "browser", "[remote-connection][attempt 5] An error occurred in initial connection! "
                      "It will be treated as a permanent error.", "ERROR"))
    return lines


def origin_check_seed_app() -> list[Line]:
    """The seed's own aiohttp + websockets app, before it forwarded X-Forwarded-Host."""
    lines = [b1006(100)]
    for k in range(3):
        lines.append(Line(95 + k, "app", "ws bridge failed: websockets.exceptions.InvalidStatus: server rejected "
                          "WebSocket connection: HTTP 403", "ERROR"))
    return lines


def origin_check_nginx() -> list[Line]:
    """Plain code-server behind nginx whose nested location dropped the Host header."""
    lines = [b1006(120)]
    for k in range(4):
        lines.append(Line(118 + k, "nginx", f'203.0.113.7 - - [{_ts(118 + k).strftime("%d/%b/%Y:%H:%M:%S +0000")}] '
                          f'"GET /stable-1a2b3c/?reconnectionToken=9d{k}&reconnection=false&skipWebSocketFrames=false '
                          'HTTP/1.1" 403 9 "-" "Mozilla/5.0"'))
        lines.append(Line(118 + k, "nginx", f'203.0.113.7 - - [{_ts(118 + k).strftime("%d/%b/%Y:%H:%M:%S +0000")}] '
                          '"GET /stable-1a2b3c/static/out/vs/workbench/workbench.web.main.css HTTP/1.1" 200 51234 "-"'))
    return lines


def blocked_loop() -> list[Line]:
    """The seed: subprocess.run and sync python-socks inside the event loop."""
    lines: list[Line] = []
    for burst in (200, 420, 640):
        lines.append(Line(burst, "app", "Executing <Task pending name='Task-31' coro=<bridge() running at "
                          f"/app/proxy.py:88> wait_for=<Future pending cb=[Task.task_wakeup()]>> took "
                          f"{2.5 + burst / 1000:.3f} seconds", "WARNING"))
        for k in range(6):
            lines.append(Line(burst + 0.2 + k * 0.05, "tailscaled",
                              "socks5: client connection failed: could not read packet header"))
        lines.append(Line(burst + 3, "app", "Error: Time limit reached", "ERROR"))
        lines.append(Line(burst + 21, "app", "websockets.exceptions.ConnectionClosedError: sent 1011 (internal "
                          "error) keepalive ping timeout; no close frame received", "ERROR"))
        lines.append(b1006(burst + 22))
    return lines


def cloud_run_timeout() -> list[Line]:
    lines: list[Line] = []
    for k in range(4):
        end = 310 + k * 305
        lines.append(Line(end - 300.001, "request", status=101, latency=f"{300 + k / 1000:.3f}s",
                          url=f"https://{HOST}/stable-1a2b3c/?reconnectionToken=ab{k}&reconnection=true"))
        lines.append(Line(end + 0.2, "app", "websockets.exceptions.ConnectionClosedError: no close frame received "
                          "or sent", "WARNING"))
        lines.append(Line(end + 0.5, "browser", "[reconnect] starting reconnecting loop. You can get more "
                          "information with the trace log level.", "INFO"))
        lines.append(b1006(end + 0.4))
    return lines


def cloud_run_timeout_text() -> list[Line]:
    lines = cloud_run_timeout()
    lines.append(Line(920, "system", "The request has been terminated because it has reached the maximum request "
                      "timeout.", "ERROR"))
    return lines


def loopback_mismatch() -> list[Line]:
    """The seed: tailscaled --socks5-server=localhost:1055 bound ::1, the app dialed 127.0.0.1."""
    lines = [Line(5, "tailscaled", "tailscaled got signal terminated; shutting down")]  # previous instance
    for k in range(4):
        t = 40 + k * 15
        lines.append(Line(t, "app", "python_socks._errors.ProxyConnectionError: [Errno 111] Could not connect to "
                          "proxy localhost:1055 [Connection refused]", "ERROR"))
        lines.append(Line(t + 0.01, "app", "websockets.exceptions.ProxyError: failed to connect to SOCKS proxy",
                          "ERROR"))
        lines.append(b1006(t + 0.2))
    return lines


def extra_headers() -> list[Line]:
    lines: list[Line] = []
    for k in range(3):
        t = 30 + k * 9
        lines.append(Line(t, "app", "Traceback (most recent call last):", "ERROR"))
        lines.append(Line(t, "app", '  File "/app/proxy.py", line 120, in bridge', "ERROR"))
        lines.append(Line(t, "app", "TypeError: BaseEventLoop.create_connection() got an unexpected keyword "
                          "argument 'extra_headers'", "ERROR"))
        lines.append(b1006(t + 0.3))
    return lines


def key_expired() -> list[Line]:
    lines = [
        Line(2, "tailscaled", "backend error: invalid key: API key does not exist"),
        Line(2.1, "proxy", "tailscale up failed: invalid key: API key does not exist", "ERROR",
             "tailscale.auth_failed", {"returncode": 1}),
        Line(3, "proxy", "tailscaled is backing off", "WARNING", "tailscaled.state", {"state": "backoff"}),
    ]
    for k in range(5):
        t = 30 + k * 20
        lines.append(Line(t, "proxy", "SOCKS server answered: general failure", "ERROR", "socks.reply_failed",
                          {"code": 1}))
        lines.append(Line(t + 0.1, "proxy", "GET / 502", "ERROR", "http.access",
                          {"method": "GET", "path": "/", "status": 502, "duration_ms": 5003, "bytes_out": 90}))
        lines.append(Line(t - 4.9, "request", status=502, latency="5.004s", url=f"https://{HOST}/"))
    return lines


def tailnet_path() -> list[Line]:
    lines: list[Line] = [Line(1, "proxy", "tailscaled running", "INFO", "tailscaled.state", {"state": "running"})]
    for k in range(4):
        t = 50 + k * 12
        lines.append(Line(t, "tailscaled", "socks5: client connection failed: context deadline exceeded"))
        lines.append(Line(t + 0.01, "proxy", "SOCKS server answered: general failure", "ERROR", "socks.reply_failed",
                          {"code": 1}))
        lines.append(Line(t + 0.02, "app", "python_socks._errors.ProxyError: General SOCKS server failure", "ERROR"))
        lines.append(Line(t + 0.02, "proxy", "GET / 502", "ERROR", "http.access",
                          {"method": "GET", "path": "/", "status": 502, "duration_ms": 5010, "bytes_out": 90}))
        lines.append(b1006(t + 0.3))
    return lines


def healthy() -> list[Line]:
    lines = [
        Line(0, "proxy", "devproxy runtime started", "INFO", "runtime.started", {"port": 8080}),
        Line(1, "proxy", "tailscaled running", "INFO", "tailscaled.state", {"state": "running"}),
        Line(1.5, "proxy", "ready", "INFO", "ready.changed", {"ready": True}),
        Line(2, "tailscaled", "monitor_linux: AF_NETLINK RTMGRP failed, falling back to polling"),
        Line(3, "tailscaled", "socks5: client connection failed: could not read packet header"),
        Line(10, "proxy", "websocket open", "INFO", "ws.open", {"path": "/stable-1a2b3c/"}),
        # the hourly cut and the reconnect that follows it
        Line(10, "request", status=101, latency="3600.001s",
             url=f"https://{HOST}/stable-1a2b3c/?reconnectionToken=ab&reconnection=false"),
        Line(3610.1, "proxy", "websocket closed", "INFO", "ws.closed",
             {"close_code": 1006, "closed_by": "upstream", "duration_s": 3600.0, "bytes_in": 91234,
              "bytes_out": 4412345, "close_reason": ""}),
        Line(3610.5, "browser", "[reconnect] starting reconnecting loop. You can get more information with the "
             "trace log level."),
        Line(3611, "proxy", "websocket open", "INFO", "ws.open", {"path": "/stable-1a2b3c/"}),
        Line(3700, "proxy", "websocket closed", "INFO", "ws.closed",
             {"close_code": 1001, "closed_by": "browser", "duration_s": 89.0, "bytes_in": 1234, "bytes_out": 5678,
              "close_reason": "going away"}),
        Line(1.2, "proxy", "BackendState Running", "INFO", "tailscale.backend_state", {"backend_state": "Running"}),
        Line(3900, "proxy", "SIGTERM: closing WebSockets with 1001 and shutting down", "INFO", "runtime.stopping",
             {"websockets": 1}),
        Line(3900.1, "proxy", "sending SIGTERM to tailscaled", "INFO", "tailscaled.stopping", {"pid": 12}),
        Line(3900.2, "tailscaled", "tailscaled got signal terminated; shutting down"),
        Line(3900.4, "proxy", "tailscaled exited with code 0", "INFO", "tailscaled.exited", {"returncode": 0}),
        Line(3900.5, "proxy", "devproxy stopped", "INFO", "runtime.stopped"),
    ]
    return lines


def main() -> None:
    rng = random.Random(7)
    write("origin_check", origin_check(), ("txt", "jsonl", "gcloud"), rng)
    write("origin_check_seed_app", origin_check_seed_app(), ("txt",), rng)
    write("origin_check_nginx", origin_check_nginx(), ("txt",), rng)
    write("blocked_loop", blocked_loop(), ("txt", "jsonl", "gcloud"), rng)
    write("cloud_run_timeout", cloud_run_timeout(), ("gcloud",), rng)
    write("cloud_run_timeout_text", cloud_run_timeout_text(), ("txt",), rng)
    write("loopback_mismatch", loopback_mismatch(), ("txt", "gcloud"), rng)
    write("extra_headers", extra_headers(), ("txt", "gcloud"), rng)
    write("key_expired", key_expired(), ("txt", "jsonl", "gcloud"), rng)
    write("tailnet_path", tailnet_path(), ("txt", "jsonl", "gcloud"), rng)
    write("healthy", healthy(), ("txt", "jsonl", "gcloud"), rng, n_noise=120)


if __name__ == "__main__":
    main()
