"""End-to-end fixtures: a fresh headless Chromium and code-server per module, microsocks per session.

Playwright's sync API is used from plain test functions; the heavy processes live in module- or
session-scoped fixtures and are stopped as whole process groups.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from e2e_procs import ARTIFACTS, child_env
from e2e_services import CodeServer, Microsocks, start_code_server, start_microsocks
from e2e_workbench import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/e2e/artifacts/, emptied once per session: logs and screenshots of this run only."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def playwright_sync() -> Iterator[Playwright]:
    # Module scope, not session: while Playwright's sync API is started, its event loop counts as
    # running in this thread, so the asyncio tests that follow in the session could not run.
    # That loop is test machinery rather than product code: create it without the suite-wide
    # asyncio debug mode so its callbacks are not timed.
    saved = os.environ.pop("PYTHONASYNCIODEBUG", None)
    try:
        pw = sync_playwright().start()
    finally:
        if saved is not None:
            os.environ["PYTHONASYNCIODEBUG"] = saved
    try:
        yield pw
    finally:
        pw.stop()


@pytest.fixture(scope="module")
def browser(playwright_sync: Playwright, artifacts: Path) -> Iterator[Browser]:
    """Debian's Chromium, headless, a fresh profile for each module; never a downloaded browser."""
    env: dict[str, str | float | bool] = dict(child_env())
    browser = playwright_sync.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                              env=env, timeout=60_000)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def socks(artifacts: Path) -> Iterator[Microsocks]:
    """Debian's microsocks on 127.0.0.1, shared by the modules that do not restart it."""
    server = start_microsocks("127.0.0.1", "microsocks-127.0.0.1")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def code_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                artifacts: Path) -> Iterator[CodeServer]:
    """A fresh code-server for each test module (each page load leaves an extension host behind)."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    server = start_code_server(tmp_path_factory.mktemp("code-server"), f"code-server-{module}")
    try:
        yield server
    finally:
        server.stop()
