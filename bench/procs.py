"""Starting the benchmark's servers as child processes, and reading their CPU time and memory."""

from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
UVLOOP_SITE = CACHE / "uvloop-site"
NO_UVLOOP = CACHE / "no-uvloop"
BENCHGO = CACHE / "benchgo"
START_TIMEOUT = 20.0
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK


def rss_kib(pid: int) -> int:
    """Resident set size in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_line(proc: subprocess.Popen[bytes], pattern: str, what: str) -> re.Match[str]:
    """Read the child's stdout until a line matches (bounded by START_TIMEOUT)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + START_TIMEOUT
    buf = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk.decode(errors="replace")
            m = re.search(pattern, buf, re.M)
            if m:
                return m
        if proc.poll() is not None:
            break
    raise RuntimeError(f"{what} did not start: {buf[-400:]!r}")


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not open port {port}")


#: a directory holding the `devproxy` package to measure instead of the work tree's (--source).
SOURCE: Path | None = None


def python_env(uvloop: bool) -> dict[str, str]:
    """Environment for a Python child: uvloop importable from the bench cache, or import blocked."""
    env = dict(os.environ)
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(key, None)
    NO_UVLOOP.mkdir(parents=True, exist_ok=True)
    (NO_UVLOOP / "uvloop.py").write_text('raise ImportError("uvloop disabled by the benchmark")\n')
    path = UVLOOP_SITE if uvloop else NO_UVLOOP
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (path, SOURCE, ROOT) if p)
    return env


def start_upstream(uvloop: bool) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.upstream"], stdout=subprocess.PIPE,
        env=python_env(uvloop), cwd=ROOT,
    )
    m = _wait_line(proc, r"^listening (\d+)$", "upstream")
    return proc, int(m.group(1))


def start_microsocks() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(["microsocks", "-i", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, proc, "microsocks")
    return proc, port


def start_gosocks() -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen([str(BENCHGO), "socks", "-listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            env={**os.environ, "GOMAXPROCS": "2"})
    m = _wait_line(proc, r"^listening 127\.0\.0\.1:(\d+)$", "Go SOCKS5 server")
    return proc, int(m.group(1))


def start_floor(upstream_port: int, socks_port: int, uvloop: bool) -> tuple[subprocess.Popen[bytes], int]:
    """The bare byte relay (bench/floor.py): what any Python proxy on this path costs at least."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", "--socks", f"127.0.0.1:{socks_port}",
         "--target", f"127.0.0.1:{upstream_port}"],
        stdout=subprocess.PIPE, env=python_env(uvloop), cwd=ROOT,
    )
    m = _wait_line(proc, r"^listening (\d+)$", "byte relay")
    return proc, int(m.group(1))


NODE_MODULES = CACHE / "node" / "node_modules"


def node_ok() -> bool:
    """Whether the Node peer can run (node on PATH, its packages installed by bench/setup)."""
    import shutil

    return shutil.which("node") is not None and (NODE_MODULES / "http-proxy").exists()


def start_node(upstream_port: int, socks_port: int) -> tuple[subprocess.Popen[bytes], int]:
    """The Node peer (bench/node/peer.js): http-proxy + socks-proxy-agent through the same SOCKS server."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NODE_PATH"] = str(NODE_MODULES)
    proc = subprocess.Popen(
        ["node", str(ROOT / "bench" / "node" / "peer.js"), "--target", f"http://127.0.0.1:{upstream_port}",
         "--socks", f"127.0.0.1:{socks_port}"],
        stdout=subprocess.PIPE, env=env, cwd=ROOT,
    )
    m = _wait_line(proc, r"^listening (\d+)$", "Node peer")
    return proc, int(m.group(1))


def start_runtime(name: str, upstream_port: int, socks_port: int, uvloop: bool) -> tuple[subprocess.Popen[bytes], int]:
    """`devproxy runtime` as a user runs it; its JSON log goes to bench/results/<name>.log."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS / f"{name}.log"
    log = open(log_path, "wb")
    exe = ROOT / ".venv" / "bin" / "devproxy"
    proc = subprocess.Popen(
        [str(exe), "runtime", "--target", f"http://127.0.0.1:{upstream_port}", "--listen", "127.0.0.1:0",
         "--socks", f"socks5://127.0.0.1:{socks_port}", "--no-tailscale", "--auth", "none"],
        stdout=log, stderr=subprocess.STDOUT, env=python_env(uvloop), cwd=ROOT,
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "runtime.started":
                return proc, int(event["port"])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"devproxy runtime did not start; see {log_path}")


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
