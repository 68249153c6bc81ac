"""Child processes of the end-to-end suite: free ports, bounded waits, process groups, logs kept as artifacts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

#: variables a child must not inherit: proxies would reroute loopback traffic, and asyncio debug
#: mode (set suite-wide for the in-process tests) only slows the runtime down here.
SCRUBBED_ENV = (
    "PYTHONASYNCIODEBUG",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "WS_PROXY", "WSS_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy", "wss_proxy",
)

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on host (bind port 0, read it, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without proxy settings or asyncio debug, plus extra."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV and not k.startswith("DEVPROXY_")}
    env.update(extra or {})
    return env


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1,
               alive: Managed | None = None) -> T:
    """Poll check until it returns something truthy; fail after timeout seconds (or when alive dies)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if alive is not None and not alive.running():
            raise AssertionError(f"{alive.name} exited (code {alive.proc.returncode}) while waiting for {what}; "
                                 f"last output:\n{alive.tail()}")
        if time.monotonic() > deadline:
            detail = f"; last output of {alive.name}:\n{alive.tail()}" if alive is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def http_status(url: str, timeout: float = 3.0) -> int | None:
    """The status a GET of url answers with (redirects not followed), or None when nothing answered."""
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except (OSError, urllib.error.URLError):
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Managed:
    """A child process in its own process group, its output appended to artifacts/<name>.log."""

    name: str
    argv: Sequence[str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes] = field(repr=False)
    log_start: int = 0

    def running(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        """What this run of the process printed so far."""
        with self.log_path.open("rb") as f:
            f.seek(self.log_start)
            return f.read().decode(errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float) -> int | None:
        """The exit code once the process exits within timeout, else None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal the whole group, wait (bounded), then kill what is left of the group."""
        if self.running():
            self.signal_group(sig)
            if self.wait(timeout) is None:
                self.signal_group(signal.SIGKILL)
                self.proc.wait(timeout=10)
        # children that outlived their parent (extension hosts, pty hosts) share its group
        self.signal_group(signal.SIGKILL)
        if not self.log_file.closed:
            self.log_file.close()
        return int(self.proc.returncode)


def start(name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> Managed:
    """Start argv in a new session (so its whole group can be stopped), output to artifacts/<name>.log."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / f"{name}.log"
    log_file = log_path.open("ab")
    log_file.write(f"--- {time.strftime('%H:%M:%S')} start: {' '.join(argv)}\n".encode())
    log_file.flush()
    log_start = log_file.tell()
    try:
        proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    except BaseException:
        log_file.close()
        raise
    return Managed(name, list(argv), proc, log_path, log_file, log_start)
