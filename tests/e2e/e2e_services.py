"""The servers behind the browser: code-server (npm, from the setup cache), microsocks, devproxy runtime."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e_procs import Managed, child_env, free_port, http_status, start, wait_until
from support.socks import socks_greeting_ok

CODE_SERVER_VERSION = "4.100.3"
KNOWN_FILE = "e2e-known-file.txt"
#: the devproxy under test: this virtualenv's console script, or another build named by DEVPROXY_E2E_DEVPROXY.
DEVPROXY = Path(os.environ.get("DEVPROXY_E2E_DEVPROXY") or Path(sys.executable).with_name("devproxy"))

#: user settings that keep the workbench quiet and local, and put terminal text in the DOM.
SETTINGS: dict[str, Any] = {
    "workbench.startupEditor": "none",
    "workbench.welcomePage.walkthroughs.openOnInstall": False,
    "workbench.tips.enabled": False,
    "workbench.enableExperiments": False,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "security.workspace.trust.enabled": False,
    "git.enabled": False,
    "npm.autoDetect": "off",
    "typescript.disableAutomaticTypeAcquisition": True,
    "terminal.integrated.gpuAcceleration": "off",
    "terminal.integrated.shellIntegration.enabled": False,
    "terminal.integrated.defaultProfile.linux": "bash",
}


def code_server_bin() -> Path:
    """The code-server that tests/e2e/setup installed (or DEVPROXY_E2E_CODE_SERVER)."""
    explicit = os.environ.get("DEVPROXY_E2E_CODE_SERVER")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("DEVPROXY_E2E_CACHE")
                 or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "devproxy-e2e")
    return cache / f"code-server-{CODE_SERVER_VERSION}" / "node_modules" / ".bin" / "code-server"


@dataclass
class CodeServer:
    managed: Managed
    port: int
    workspace: Path

    @property
    def target(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.managed.stop()


def start_code_server(root: Path, name: str, exec_prefix: Sequence[str] = ()) -> CodeServer:
    """code-server --auth none on a free loopback port with throwaway folders; ready when /healthz answers.

    `exec_prefix` runs it elsewhere, e.g. `ip netns exec DEVBOX` (the test tailnet's dev box): the
    health check then runs there too, since that loopback is not this one.
    """
    binary = code_server_bin()
    if not os.access(binary, os.X_OK):
        raise AssertionError(f"code-server {CODE_SERVER_VERSION} not found at {binary}: run tests/e2e/setup "
                             "(scripts/test runs it)")
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    (workspace / KNOWN_FILE).write_text("devproxy end-to-end\n")
    user_data = root / "user-data"
    (user_data / "User").mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps(SETTINGS, indent=2))
    home = root / "home"
    home.mkdir()
    # a prompt the tests can wait for, whether bash starts as a login shell or not
    (home / ".bashrc").write_text("PS1='e2e$ '\n")
    (home / ".bash_profile").write_text(". ~/.bashrc\n")
    config = root / "config.yaml"
    config.write_text("")  # no default config file written into the real home
    dead = free_port()  # nothing listens here: the extension gallery can never answer
    port = free_port()
    env = child_env({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(root / "xdg-config"),
        "XDG_DATA_HOME": str(root / "xdg-data"),
        "XDG_CACHE_HOME": str(root / "xdg-cache"),
        "SHELL": "/bin/bash",
        "EXTENSIONS_GALLERY": json.dumps({
            "serviceUrl": f"http://127.0.0.1:{dead}/gallery",
            "itemUrl": f"http://127.0.0.1:{dead}/item",
            "resourceUrlTemplate": f"http://127.0.0.1:{dead}/resource/{{publisher}}/{{name}}/{{version}}/{{path}}",
        }),
    })
    argv = [str(binary), "--config", str(config), "--auth", "none", "--bind-addr", f"127.0.0.1:{port}",
            "--user-data-dir", str(user_data), "--extensions-dir", str(root / "extensions"),
            "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
            "--disable-getting-started-override", "--ignore-last-opened", str(workspace)]
    managed = start(name, [*exec_prefix, *argv], env, cwd=workspace)
    server = CodeServer(managed, port, workspace)
    healthz = f"{server.target}/healthz"

    def healthy() -> bool:
        if not exec_prefix:
            return http_status(healthz) == 200
        check = f"import urllib.request as u; u.urlopen({healthz!r}, timeout=2)"
        return subprocess.run([*exec_prefix, sys.executable, "-c", check], capture_output=True,
                              timeout=10).returncode == 0

    try:
        wait_until(healthy, 60, "code-server /healthz", interval=0.2, alive=managed)
    except BaseException:
        managed.stop()
        raise
    return server


@dataclass
class Microsocks:
    managed: Managed
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socks5://{host}:{self.port}"

    def stop(self) -> None:
        self.managed.stop()


def start_microsocks(host: str, name: str, port: int | None = None) -> Microsocks:
    """Debian's microsocks on host (127.0.0.1 or ::1); ready when it answers a SOCKS5 greeting."""
    binary = shutil.which("microsocks")
    if binary is None:
        raise AssertionError("microsocks is not installed: run tests/e2e/setup (scripts/test runs it)")
    port = port or free_port(host)
    managed = start(name, [binary, "-i", host, "-p", str(port)], child_env())
    try:
        wait_until(lambda: socks_greeting_ok(host, port), 15, f"microsocks on {host}:{port}", alive=managed)
    except BaseException:
        managed.stop()
        raise
    return Microsocks(managed, host, port)


@dataclass
class Devproxy:
    managed: Managed
    port: int
    target: str
    socks: str
    auth: str
    extra_env: dict[str, str]

    @property
    def name(self) -> str:
        return self.managed.name

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines this run printed (other lines are ignored)."""
        found = []
        for line in self.managed.output().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                found.append(event)
        return found

    def stop(self) -> int:
        return self.managed.stop(signal.SIGTERM, timeout=10)


def start_devproxy(name: str, target: str, socks: str, auth: str = "none", port: int | None = None,
                   extra_env: dict[str, str] | None = None, tailscale: bool = False,
                   forwarded: bool = True) -> Devproxy:
    """`devproxy runtime --no-tailscale` (or, with `tailscale`, starting tailscaled itself as in the image)
    on a loopback port; ready when /_devproxy/ready is 200. `forwarded=False`: a runtime whose config
    value has X-Forwarded-* turned off (runtime_without_forwarded.py)."""
    port = port or free_port()
    extra = dict(extra_env or {})
    argv = [str(DEVPROXY), "runtime", "--target", target, "--listen", f"127.0.0.1:{port}",
            "--socks", socks, *([] if tailscale else ["--no-tailscale"]), "--auth", auth]
    if not forwarded:
        argv = [sys.executable, str(Path(__file__).with_name("runtime_without_forwarded.py")), target,
                f"127.0.0.1:{port}", socks, auth]
    managed = start(name, argv, child_env(extra))
    proxy = Devproxy(managed, port, target, socks, auth, extra)
    try:
        wait_until(lambda: http_status(f"{proxy.url()}/_devproxy/health") == 200, 30,
                   f"{name} /_devproxy/health", alive=managed)
        wait_until(lambda: http_status(f"{proxy.url()}/_devproxy/ready") == 200, 30,
                   f"{name} /_devproxy/ready (SOCKS handshake and CONNECT to {target})", interval=0.25,
                   alive=managed)
    except BaseException:
        managed.stop()
        raise
    return proxy


def restart_devproxy(old: Devproxy) -> Devproxy:
    """A new devproxy with the same settings on the same port (the old one must have exited)."""
    assert not old.managed.running(), f"{old.name} still running"
    return start_devproxy(old.name, old.target, old.socks, old.auth, old.port, old.extra_env)
