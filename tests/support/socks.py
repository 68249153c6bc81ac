"""Debian's microsocks, a real third-party SOCKS5 server, started for a test on a loopback address."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def socks_greeting_ok(host: str, port: int, timeout: float = 0.5) -> bool:
    """A full SOCKS5 greeting (no bare port probe): True when a SOCKS5 server answers 'no auth'."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect((host, port))
            s.sendall(b"\x05\x01\x00")
            return s.recv(2) == b"\x05\x00"
    except OSError:
        return False


@dataclass
class Microsocks:
    """A running microsocks; `log()` returns what it printed (one line per CONNECT it carried)."""

    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    extra: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socks5://{host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def connections(self) -> list[str]:
        """The 'connected to HOST:PORT' destinations microsocks reported, in order."""
        return [line.split("connected to ", 1)[1].strip()
                for line in self.log().splitlines() if "connected to " in line]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_microsocks(host: str, log_dir: Path, port: int | None = None, attempts: int = 5) -> Microsocks:
    """Start microsocks on host (127.0.0.1 or ::1); waits (bounded) until it answers a greeting."""
    binary = shutil.which("microsocks")
    if binary is None:
        raise RuntimeError("microsocks is not installed: run scripts/test (it apt-installs microsocks)")
    for attempt in range(attempts):
        chosen = port or free_port(host)
        log_path = log_dir / f"microsocks-{host.replace(':', '_')}-{chosen}-{attempt}.log"
        out = log_path.open("wb")
        proc = subprocess.Popen([binary, "-i", host, "-p", str(chosen)], stdout=out, stderr=subprocess.STDOUT)
        out.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if socks_greeting_ok(host, chosen):
                return Microsocks(host, chosen, proc, log_path)
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        if port is not None:
            break
    raise RuntimeError(f"microsocks did not start on {host}")
