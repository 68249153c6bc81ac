"""The fault matrix: each fault this machine can make, injected into the real tailnet and `devproxy runtime`.

A fault starts a runtime (its own tailscaled against the test control server), breaks one thing the
way it breaks in the field, drives a little traffic through it, stops it, and returns what the
runtime wrote plus the requests a browser made. `capture()` turns that into what `gcloud logging read
--format=json` prints for a Cloud Run service: the runtime's stdout lines as jsonPayload entries,
its stderr as text, the request log, and the platform's exit line.

Re-record the fixtures in tests/logs/data/faults/ (as root, on the test tailnet):

    DEVPROXY_RECORD_FAULTS=1 scripts/test tests/tailnet/test_fault_matrix.py -q
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp

from support.runtime_proc import spawn_runtime
from support.socks import free_port
from tailnet.tailnet_fixtures import Runtime, runtime_env
from tailnet.tailnet_netns import Netns
from tailnet.tailnet_procs import Binaries, Control

FIXTURES = Path(__file__).resolve().parents[1] / "logs" / "data" / "faults"
RECORD_COMMAND = "DEVPROXY_RECORD_FAULTS=1 scripts/test tests/tailnet/test_fault_matrix.py -q"
SERVICE_URL = "https://devproxy-test-abc123-uc.a.run.app"


@dataclass
class World:
    """What every fault may use: the tailnet and where to put its files."""

    bins: Binaries
    control: Control
    netns: Netns
    dev_port: int
    devbox_ip: str
    workdir: Path


@dataclass
class Request:
    """One request a browser made through the service, as Cloud Run's request log shows it."""

    started: datetime
    method: str
    path: str
    status: int
    latency_s: float


@dataclass
class Recording:
    """What one fault left behind."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""
    requests: list[Request] = field(default_factory=list)
    exit_code: int | None = None


@dataclass(frozen=True)
class Fault:
    """One injected fault and the finding the diagnosis must put first."""

    name: str
    what: str
    expect: str
    run: Callable[[World], Awaitable[Recording]]
    #: faults that change the shared dev box's network run alone, after the others.
    exclusive: bool = False
    #: words the first finding's fix must contain (the fix names what was injected).
    fix_words: tuple[str, ...] = ()
    #: words its cause must contain (what the failing process said).
    cause_words: tuple[str, ...] = ()


# ---- driving a runtime ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def runtime(world: World, name: str, target: str, *, socks_port: int | None = None, auth: str = "none",
                  **env: str) -> AsyncIterator[tuple[Runtime, Recording]]:
    """A runtime for one fault; on exit it is stopped (bounded) and its output recorded."""
    state = world.workdir / name
    base = runtime_env(world.bins, world.control, state / "ts")
    for key, value in env.items():
        if value == "":
            base.pop(key, None)
        else:
            base[key] = value
    socks = f"socks5://127.0.0.1:{socks_port or free_port()}"
    proc, lines = await spawn_runtime("--listen", "127.0.0.1:0", "--socks", socks, "--auth", auth,
                                      env={**base, "DEVPROXY_TARGET": target})
    rt = Runtime(proc, int(lines[-1]["port"]), lines)
    rt.collector = asyncio.create_task(rt.collect())
    rec = Recording(lines=rt.lines)
    try:
        yield rt, rec
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await asyncio.wait_for(proc.wait(), 10)
        await asyncio.wait_for(rt.collector, 10)
        assert proc.stderr is not None
        rec.stderr = (await asyncio.wait_for(proc.stderr.read(), 10)).decode(errors="replace")
        rec.exit_code = proc.returncode


async def _timed(rec: Recording, path: str, call: Callable[[aiohttp.ClientSession], Awaitable[int]],
                 timeout: float) -> int:
    """Run one browser request and record it for the request log: when, how long, what status."""
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        status = await call(session)
    rec.requests.append(Request(started, "GET", path, status, time.monotonic() - t0))
    return status


async def get(rt: Runtime, rec: Recording, path: str, timeout: float = 30.0) -> int:
    """A browser's GET through the service (504 when it got no answer in time)."""
    async def call(session: aiohttp.ClientSession) -> int:
        try:
            async with session.get(f"{rt.url}{path}") as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return 504

    return await _timed(rec, path, call, timeout)


async def ws(rt: Runtime, rec: Recording, path: str, timeout: float = 30.0) -> int:
    """A browser's WebSocket through the service: 101 then a round trip, or the status it got."""
    async def call(session: aiohttp.ClientSession) -> int:
        try:
            async with session.ws_connect(f"{rt.url}{path}") as sock:
                await sock.send_str("ping")
                await asyncio.wait_for(sock.receive(), timeout)
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        except (aiohttp.ClientError, TimeoutError):
            pass
        return 101

    return await _timed(rec, path, call, timeout)


async def until(rt: Runtime, event: str, timeout: float, **fields: Any) -> bool:
    """Whether the runtime logged `event` (fields matching) within timeout, or exited first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            while True:
                if any(r.get("event") == event and all(r.get(k) == v for k, v in fields.items())
                       for r in rt.lines):
                    return True
                if rt.proc.returncode is not None:
                    return False
                await asyncio.sleep(0.1)
    return False


async def running(rt: Runtime, timeout: float = 60.0) -> None:
    assert await until(rt, "tailscaled.state", timeout, state="running"), "tailscaled never reached Running"


def tailscaled_pid(rt: Runtime) -> int:
    return int([r for r in rt.lines if r.get("event") == "tailscaled.started"][-1]["pid"])


# ---- the capture ------------------------------------------------------------------------------------


def _ts(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def capture(rec: Recording) -> list[dict[str, Any]]:
    """The recording as `gcloud logging read --format=json` prints a Cloud Run service's logs (newest first)."""
    resource = {"type": "cloud_run_revision",
                "labels": {"service_name": "devproxy-test", "revision_name": "devproxy-test-00001-abc",
                           "location": "us-central1", "project_id": "devproxy-test"}}
    log = "projects/devproxy-test/logs/run.googleapis.com%2F"
    out: list[dict[str, Any]] = []
    last = datetime.now(timezone.utc)
    for n, line in enumerate(rec.lines):
        when = line.get("time") or _ts(last)
        out.append({"insertId": f"o{n:05d}", "jsonPayload": line, "logName": log + "stdout", "resource": resource,
                    "severity": line.get("severity", "DEFAULT"), "timestamp": when})
    for n, text in enumerate(t for t in rec.stderr.splitlines() if t.strip()):
        out.append({"insertId": f"e{n:05d}", "textPayload": text, "logName": log + "stderr", "resource": resource,
                    "severity": "ERROR", "timestamp": out[-1]["timestamp"] if out else _ts(last)})
    for n, req in enumerate(rec.requests):
        severity = "ERROR" if req.status >= 500 else "WARNING" if req.status >= 400 else "INFO"
        out.append({
            "httpRequest": {"requestMethod": req.method, "requestUrl": SERVICE_URL + req.path, "status": req.status,
                            "latency": f"{req.latency_s:.6f}s", "protocol": "HTTP/1.1"},
            "insertId": f"r{n:05d}", "logName": log + "requests", "resource": resource, "severity": severity,
            "timestamp": _ts(req.started),
        })
    if rec.exit_code not in (None, 0) and rec.exit_code > 0:
        stamp = max((e["timestamp"] for e in out), default=_ts(last))
        later = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(milliseconds=5)
        out.append({"insertId": "x00000", "textPayload": f"Container called exit({rec.exit_code}).",
                    "logName": log + "varlog%2Fsystem", "resource": resource, "severity": "WARNING",
                    "timestamp": _ts(later)})
    out.sort(key=lambda e: e["timestamp"], reverse=True)
    return out


def save(name: str, entries: list[dict[str, Any]], world: World) -> Path:
    """Write a capture as a fixture, with this machine's paths replaced by an image's."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path = FIXTURES / f"{name}.gcloud.json"
    text = json.dumps(entries, indent=1, ensure_ascii=False) + "\n"
    for mine, image in ((str(Path(world.bins.tailscaled).parent), "/usr/local/bin"),
                        (str(world.workdir), "/var/lib/devproxy")):
        text = text.replace(mine, image)
    path.write_text(text)
    return path


def listening_socket(port: int) -> socket.socket:
    """Another process's listener on the SOCKS port (here: this test's)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    sock.listen(8)
    return sock


def nft(netns: Netns, table: str, rule: str, present: bool) -> None:
    """Add (or remove) one nftables table of drop rules inside the dev box's namespace."""
    if present:
        text = (f"table inet {table} {{\n chain out {{ type filter hook output priority 0; {rule} }}\n"
                f" chain in {{ type filter hook input priority 0; {rule} }}\n}}\n")
        argv = [*netns.exec_prefix(), "nft", "-f", "-"]
    else:
        text, argv = "", [*netns.exec_prefix(), "nft", "delete", "table", "inet", table]
    done = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=10)
    if done.returncode != 0 and present:
        raise RuntimeError(f"nft failed: {done.stderr.strip()}")


def devbox_target(world: World, port: int | None = None, path: str = "") -> str:
    return f"http://devbox:{port or world.dev_port}{path}"
