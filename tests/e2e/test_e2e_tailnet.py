"""The main case across the real test tailnet: Chromium -> devproxy -> tailscaled -> DERP/WireGuard ->
the dev box's tailscaled -> code-server on the dev box's own loopback (a network namespace).

devproxy starts the real tailscaled itself, as in the image, and reaches code-server as
http://devbox:PORT (MagicDNS inside tailscaled). code-server is not reachable from this host's
loopback at all, so everything the workbench shows crossed the tailnet.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from e2e_procs import free_port, http_status
from e2e_services import KNOWN_FILE, CodeServer, Devproxy, start_code_server, start_devproxy
from e2e_workbench import PUBLIC_HOST, Workbench, open_context_page
from tailnet.tailnet_fixtures import bins, control, devbox, netns, runtime_env  # noqa: F401  (fixtures)
from tailnet.tailnet_netns import Netns
from tailnet.tailnet_procs import Binaries, Control, Node

pytestmark = pytest.mark.e2e

INTERNAL_ERROR = 1011


@pytest.fixture(scope="module")
def devbox_code_server(netns: Netns, devbox: Node, tmp_path_factory: pytest.TempPathFactory,
                       artifacts: Path) -> Iterator[CodeServer]:
    """code-server inside the dev box's namespace, on its loopback."""
    server = start_code_server(tmp_path_factory.mktemp("code-server-devbox"), "code-server-tailnet",
                               exec_prefix=netns.exec_prefix())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def proxy(bins: Binaries, control: Control, devbox_code_server: CodeServer,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devproxy]:
    state = tmp_path_factory.mktemp("container-tailscale")
    proxy = start_devproxy("devproxy-tailnet", f"http://devbox:{devbox_code_server.port}",
                           f"socks5://127.0.0.1:{free_port()}", tailscale=True,
                           extra_env=runtime_env(bins, control, state))
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def workbench(browser: Browser, proxy: Devproxy, devbox_code_server: CodeServer) -> Iterator[Workbench]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    bench = open_context_page(context, "tailnet")
    try:
        bench.goto(f"{proxy.url(PUBLIC_HOST)}/?folder={devbox_code_server.workspace}")
        yield bench
    finally:
        bench.close()


def test_explorer_and_terminal_across_the_tailnet(workbench: Workbench, proxy: Devproxy,
                                                  devbox_code_server: CodeServer) -> None:
    """The Explorer lists the dev box's file and the terminal echoes, with code-server reachable only over
    the tailnet."""
    assert http_status(f"http://127.0.0.1:{devbox_code_server.port}/healthz", timeout=1) is None
    workbench.wait_explorer_lists(KNOWN_FILE)
    workbench.open_terminal()
    assert workbench.terminal_round_trip() == "E2E_42"
    assert workbench.failure_text() is None
    events = proxy.events()
    assert any(e.get("event") == "tailscale.backend_state" and e.get("backend_state") == "Running" for e in events)
    assert any(e.get("event") == "ws.open" for e in events)


def test_workbench_reconnects_after_the_container_tailscaled_is_killed(workbench: Workbench,
                                                                       proxy: Devproxy) -> None:
    """SIGKILL to the container's tailscaled: the tunnels close 1011, devproxy restarts tailscaled, and VS Code
    reconnects on its own; devproxy itself is never restarted."""
    workbench.wait_explorer_lists(KNOWN_FILE)
    open_ids = workbench.open_socket_ids()
    assert open_ids, f"no open WebSocket before the kill: {workbench.recorded_sockets()}"
    seen = len(workbench.sockets)
    pid = [e for e in proxy.events() if e.get("event") == "tailscaled.started"][-1]["pid"]

    os.kill(int(pid), signal.SIGKILL)
    closes = workbench.wait_sockets_closed(open_ids, timeout=60)
    assert [c["close"]["code"] for c in closes] == [INTERNAL_ERROR] * len(open_ids), closes
    workbench.wait_new_socket_with_frames(after=seen, timeout=120)
    assert workbench.terminal_round_trip("_after_tailscaled_kill", timeout=90) == "E2E_42_after_tailscaled_kill"
    assert workbench.failure_text() is None
    assert proxy.managed.running()
    assert len([e for e in proxy.events() if e.get("event") == "tailscaled.started"]) == 2
