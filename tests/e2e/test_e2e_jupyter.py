"""A second real app behind a route: JupyterLab at /jupyter/ next to code-server at /, and a shared link.

JupyterLab (from PyPI) runs with `--ServerApp.base_url=/jupyter/` behind the pass-through route
`/jupyter/=http://127.0.0.1:<port>;host=public`: Jupyter compares the Origin's host with `Host`, so
the route sends the public host. The browser uses the public name `devproxy.test` throughout.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from devproxy.runtime.grants import grant_key, make_grant
from e2e_procs import Managed, child_env, free_port, http_status, start, wait_until
from e2e_services import KNOWN_FILE, CodeServer, Devproxy, Microsocks, start_devproxy
from e2e_workbench import PUBLIC_HOST, WEBSOCKET_OUTCOME, Workbench, open_context_page

pytestmark = pytest.mark.e2e

TOKEN = secrets.token_urlsafe(24)
LOGIN_INPUT = "input[type=password]"
NOTEBOOK = "e2e.ipynb"
CELL = "print(6 * 7, 'from the kernel')"
OUTPUT = "42 from the kernel"


def _notebook() -> str:
    """One code cell and a kernelspec, so JupyterLab opens it without asking which kernel."""
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "id": "e2e-cell", "metadata": {},
                   "outputs": [], "source": [CELL]}],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    })


@dataclass
class JupyterLab:
    managed: Managed
    port: int


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    """JupyterLab on a free loopback port under /jupyter/, no token of its own (devproxy guards it)."""
    root = tmp_path_factory.mktemp("jupyter")
    (root / "notebooks").mkdir()
    (root / "notebooks" / NOTEBOOK).write_text(_notebook())
    port = free_port()
    env = child_env({
        "HOME": str(root), "JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"), "IPYTHONDIR": str(root / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    })
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.base_url=/jupyter/", "--allow-root",
            "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root / 'notebooks'}",
            # listening on loopback, Jupyter refuses a non-local Host (the public one) unless told otherwise
            "--ServerApp.allow_remote_access=True",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly"]
    managed: Managed = start("jupyterlab", argv, env, cwd=root)
    try:
        wait_until(lambda: http_status(f"http://127.0.0.1:{port}/jupyter/api/status") == 200, 90,
                   "JupyterLab /jupyter/api/status", interval=0.25, alive=managed)
        yield JupyterLab(managed, port)
    finally:
        managed.stop()


@pytest.fixture(scope="module")
def proxy(code_server: CodeServer, socks: Microsocks, jupyter: JupyterLab) -> Iterator[Devproxy]:
    routes = f"/jupyter/=http://127.0.0.1:{jupyter.port};host=public"
    proxy = start_devproxy("devproxy-jupyter", code_server.target, socks.url, auth="token",
                           extra_env={"DEVPROXY_ACCESS_TOKEN": TOKEN, "DEVPROXY_ROUTES": routes})
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="module")
def proxy_without_public_host(code_server: CodeServer, socks: Microsocks,
                              jupyter: JupyterLab) -> Iterator[Devproxy]:
    """The same route without `;host=public`: Jupyter sees its own address as Host."""
    proxy = start_devproxy("devproxy-jupyter-own-host", code_server.target, socks.url, auth="token",
                           extra_env={"DEVPROXY_ACCESS_TOKEN": TOKEN,
                                      "DEVPROXY_ROUTES": f"/jupyter/=http://127.0.0.1:{jupyter.port}"})
    try:
        yield proxy
    finally:
        proxy.stop()


def _page(browser: Browser, name: str) -> Workbench:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    return open_context_page(context, name)


def _run_cell(bench: Workbench) -> None:
    """Run the notebook's first cell and wait for its output (kernel WebSocket and XSRF cookie at work)."""
    page = bench.page
    cell = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    cell.wait_for(state="visible", timeout=90_000)
    deadline = time.monotonic() + 120
    output = page.locator(".jp-OutputArea-output", has_text=OUTPUT)
    while output.count() == 0:
        assert time.monotonic() < deadline, f"no cell output; page says: {page.inner_text('body')[:500]}"
        cell.click()
        page.keyboard.press("Shift+Enter")
        try:
            output.first.wait_for(state="visible", timeout=20_000)
        except PlaywrightTimeout:  # the kernel was still starting: run the cell again
            continue


def test_notebook_cell_runs_through_devproxy_while_code_server_works(
        browser: Browser, proxy: Devproxy, code_server: CodeServer) -> None:
    """A notebook at /jupyter/ runs a cell and shows its output; the workbench at / stays connected."""
    bench = _page(browser, "jupyter-notebook")
    try:
        base = proxy.url(PUBLIC_HOST)
        bench.goto(f"{base}/jupyter/lab/tree/{NOTEBOOK}?devproxy_token={TOKEN}")
        _run_cell(bench)
        kernel_sockets = [s for s in bench.sockets if "/jupyter/api/kernels/" in s.url]
        assert kernel_sockets and any(s.received > 0 for s in kernel_sockets), bench.sockets
        cookies = {c["name"]: c for c in bench.context.cookies()}
        assert cookies["_xsrf"]["path"] == "/jupyter/"
        bench.screenshot("notebook")
        bench.goto(f"{base}/?folder={code_server.workspace}")
        bench.wait_explorer_lists(KNOWN_FILE)
        assert any(s.received > 0 for s in bench.sockets if "/jupyter/" not in s.url), bench.sockets
        assert TOKEN not in proxy.managed.output()
    finally:
        bench.close()


def test_shared_link_opens_jupyter_only(browser: Browser, proxy: Devproxy) -> None:
    """A link from `devproxy share /jupyter/` opens the notebook in a fresh browser; / and the status
    page ask for the login; an expired link gets a page that says so."""
    base = proxy.url(PUBLIC_HOST)
    shared = subprocess.run([sys.executable, "-m", "devproxy", "share", "/jupyter/", "--for", "30m", "--url", base],
                            capture_output=True, text=True, timeout=30,
                            env=child_env({"DEVPROXY_ACCESS_TOKEN": TOKEN}))
    assert shared.returncode == 0, shared.stderr
    link = shared.stdout.strip()
    bench = _page(browser, "jupyter-shared")
    try:
        bench.goto(link)
        assert "devproxy_token" not in bench.page.url
        _run_cell(bench)
        for path in ("/", "/_devproxy/status"):
            bench.goto(base + path)
            bench.page.locator(LOGIN_INPUT).wait_for(state="visible", timeout=30_000)
            assert bench.page.locator(".monaco-workbench").count() == 0
        expired = make_grant(grant_key(TOKEN), "/jupyter/", time.time() - 7200, 3600, "e2e-expired")
        fresh = _page(browser, "jupyter-expired")
        try:
            fresh.goto(f"{base}/jupyter/?devproxy_token={expired}")
            assert "This shared link has expired" in fresh.page.inner_text("body")
            assert fresh.context.cookies() == []
        finally:
            fresh.close()
        assert link.split("=", 1)[1] not in proxy.managed.output()
    finally:
        bench.close()


def test_jupyter_websockets_need_the_public_host(browser: Browser, proxy: Devproxy,
                                                 proxy_without_public_host: Devproxy, jupyter: JupyterLab) -> None:
    """Negative control: without `;host=public` Jupyter blocks the page's WebSockets (its Origin check)."""
    outcomes = {}
    for name, each in (("public", proxy), ("own", proxy_without_public_host)):
        bench = _page(browser, f"jupyter-host-{name}")
        try:
            base = each.url(PUBLIC_HOST)
            bench.goto(f"{base}/jupyter/lab?devproxy_token={TOKEN}")
            ws_url = base.replace("http://", "ws://") + "/jupyter/api/events/subscribe"
            outcomes[name] = bench.page.evaluate(WEBSOCKET_OUTCOME, ws_url)
        finally:
            bench.close()
    assert outcomes == {"public": "open", "own": 1006}, outcomes
    # Jupyter's own words: the Origin's host is not the Host it was sent
    assert f"Origin: http://{PUBLIC_HOST}:{proxy_without_public_host.port}, Host: 127.0.0.1:{jupyter.port}" \
        in jupyter.managed.output()
