"""The test tailnet's processes: the control server (testcontrol + DERP + STUN) and the dev box's node.

Binaries come from scripts/tailscale-build (cached; a no-op when warm). Every daemon gets its own
socket, state directory and TS_LOGS_DIR, and the environment Tailscale's own integration tests use
so that nothing ever reaches the public control plane or uploads logs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from tailnet.tailnet_identity import Identity

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass(frozen=True)
class Binaries:
    tailscaled: str
    tailscale: str
    control: str


def build() -> Binaries:
    """Run scripts/tailscale-build (cold: minutes; warm: milliseconds) and return the paths it printed."""
    done = subprocess.run([REPO / "scripts/tailscale-build"], capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/tailscale-build failed:\n{done.stderr}")
    paths = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    bin_dir = Path(paths["TAILSCALE_BIN"])
    return Binaries(str(bin_dir / "tailscaled"), str(bin_dir / "tailscale"), paths["TAILNET_CONTROL"])


def daemon_env(logs_dir: Path, control_url: str) -> dict[str, str]:
    """What tailscaled needs in a sealed test network (the variables Tailscale's own harness sets)."""
    return {
        # Keep the control client running although no interface looks like a real uplink.
        "TS_ASSUME_NETWORK_UP_FOR_TEST": "1",
        "TS_NO_LOGS_NO_SUPPORT": "1",
        # An accidental use of the public control plane crashes instead of hanging.
        "TS_PANIC_IF_HIT_MAIN_CONTROL": "1",
        "TS_DISABLE_PORTMAPPER": "1",
        "TS_NETCHECK_GENERATE_204_URL": f"{control_url}/generate_204",
        "TS_LOGS_DIR": str(logs_dir),
    }


def clean_env() -> dict[str, str]:
    """This environment without proxies, asyncio debug or devproxy settings."""
    return {k: v for k, v in os.environ.items()
            if not k.lower().endswith("_proxy") and k != "PYTHONASYNCIODEBUG" and not k.startswith(("DEVPROXY_", "TS_"))}


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll check until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Proc:
    """A child in its own process group, its output in a log file."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    log: IO[bytes] = field(repr=False)

    @classmethod
    def start(cls, argv: Sequence[str], env: dict[str, str], log_path: Path, *, stdin_pipe: bool = False) -> Proc:
        log = log_path.open("ab")
        proc = subprocess.Popen(list(argv), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL)
        return cls(proc, log_path, log)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.proc.poll() is None:
            with _suppress_lookup():
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with _suppress_lookup():
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


class _suppress_lookup:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is ProcessLookupError


@dataclass
class Control:
    """The running control server: its URL, and what it knows about nodes."""

    proc: subprocess.Popen[str]
    url: str
    derp: str
    stun: str
    #: the federated identity and OAuth client whose keys it mints (None: the API mints for no one)
    identity: Identity | None = None

    @classmethod
    def start(cls, binary: str, addr: str, *, require_authkey: str = "", flags: Sequence[str] = ()) -> Control:
        argv = [binary, f"-addr={addr}", f"-require-authkey={require_authkey}", *flags]
        # stdin stays open while the test session holds it: the server exits when the session does.
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=clean_env())
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the control server exited (code {proc.wait(10)}) before printing its URL")
        ready = json.loads(line)
        return cls(proc, ready["control_url"], ready["derp"], ready["stun"])

    def nodes(self) -> list[dict[str, Any]]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/_test/nodes", timeout=5) as resp:
            nodes: list[dict[str, Any]] = json.load(resp)
        return nodes

    def node(self, address: str) -> dict[str, Any] | None:
        """The node holding a tailnet address, as the control server sees it."""
        return next((n for n in self.nodes() if address in n["addresses"]), None)

    def by_hostname(self, hostname: str) -> list[dict[str, Any]]:
        return [n for n in self.nodes() if n["hostname"] == hostname]

    def keys(self) -> dict[str, list[Any]]:
        """The key-minting API's record: "minted" (each key, with the attributes asked for) and "refused"
        (why each refused call was refused), oldest first."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/_test/keys", timeout=5) as resp:
            keys: dict[str, list[Any]] = json.load(resp)
        return keys

    def remove(self, node_key: str) -> None:
        """Remove a node as its client sees it: its node key expires (NeedsLogin) until it logs in again."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{self.url}/_test/remove?node_key={node_key}", method="POST")
        with opener.open(request, timeout=5) as resp:
            assert resp.status == 204

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@dataclass
class Node:
    """A tailscaled (userspace networking) that stays logged in across restarts (state on disk)."""

    bins: Binaries
    control: Control
    hostname: str
    workdir: Path
    prefix: list[str] = field(default_factory=list)  # e.g. `ip netns exec NAME`
    key: str = ""  # the auth key start() logs in with
    proc: Proc | None = None

    @property
    def socket(self) -> str:
        return str(self.workdir / "tailscaled.sock")

    @property
    def log_path(self) -> Path:
        return self.workdir / "tailscaled.log"

    def cli(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.prefix, self.bins.tailscale, f"--socket={self.socket}", *args],
                              capture_output=True, text=True, timeout=timeout, env=clean_env())

    def start(self) -> None:
        """Start tailscaled, log in with its key (the first time) and wait for BackendState Running."""
        self.start_daemon()
        up = self.cli("up", f"--login-server={self.control.url}", f"--auth-key={self.key}",
                      f"--hostname={self.hostname}", "--timeout=30s")
        assert self.proc is not None
        if up.returncode != 0:
            raise RuntimeError(f"tailscale up on {self.hostname} failed: {up.stderr}\n{self.proc.output()[-3000:]}")
        wait_for(lambda: self.status().get("BackendState") == "Running", 30, f"{self.hostname} Running")

    def start_daemon(self) -> None:
        """Start tailscaled, logged out, and wait for its socket."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**clean_env(), **daemon_env(self.workdir, self.control.url)}
        argv = [*self.prefix, self.bins.tailscaled, "--tun=userspace-networking",
                f"--state={self.workdir / 'tailscaled.state'}", f"--statedir={self.workdir}",
                f"--socket={self.socket}", "--port=0"]
        self.proc = Proc.start(argv, env, self.log_path)
        wait_for(lambda: os.path.exists(self.socket), 20, f"{self.hostname}'s tailscaled socket")

    def status(self) -> dict[str, Any]:
        done = self.cli("status", "--json", timeout=10)
        try:
            status: dict[str, Any] = json.loads(done.stdout)
        except ValueError:
            return {}
        return status

    @property
    def ipv4(self) -> str:
        return next(ip for ip in self.status()["Self"]["TailscaleIPs"] if "." in ip)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.stop(sig)
            self.proc = None
