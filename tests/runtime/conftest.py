"""Runtime fixtures: a real upstream app, real microsocks servers, the devproxy runtime in-process."""

from __future__ import annotations

import asyncio
import io
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from devproxy.runtime.config import build_config
from devproxy.runtime.log import EventLog
from devproxy.runtime.server import run
from support.socks import Microsocks, start_microsocks
from support.tailscale_standins import STANDINS, Standin, alive
from support.upstream import create_upstream


@dataclass
class Upstream:
    app: web.Application
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass
class RunningProxy:
    url: str
    host: str
    port: int
    records: list[dict[str, Any]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[int] | None = None

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == name]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")


@pytest.fixture
def socks_v4(tmp_path: Path) -> Iterator[Microsocks]:
    server = start_microsocks("127.0.0.1", tmp_path)
    yield server
    server.stop()


@pytest.fixture
def socks_v6(tmp_path: Path) -> Iterator[Microsocks]:
    server = start_microsocks("::1", tmp_path)
    yield server
    server.stop()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    app = create_upstream()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield Upstream(app, "127.0.0.1", port)
    await runner.cleanup()


StartProxy = Callable[..., Awaitable[RunningProxy]]


@pytest.fixture
async def start_proxy() -> AsyncIterator[StartProxy]:
    """Starts `devproxy runtime` in this event loop; stops every one started at teardown."""
    started: list[RunningProxy] = []

    async def start(*, target: str, socks: str = "none", env: dict[str, str] | None = None,
                    listen: str = "127.0.0.1:0", auth: str = "none") -> RunningProxy:
        config = build_config(env or {}, target=target, socks=socks, listen=listen,
                              no_tailscale=True, auth=auth)
        log = EventLog(io.StringIO())
        ready: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        proxy = RunningProxy(url="", host="", port=0)
        log.add_hook(proxy.records.append)
        proxy.task = asyncio.create_task(run(config, log=log, started=ready, stop=proxy.stop))
        done, _ = await asyncio.wait({ready, proxy.task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if proxy.task in done:
            proxy.task.result()
        host, port = await asyncio.wait_for(ready, 1)
        proxy.host, proxy.port = host, port
        proxy.url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop.set()
        assert proxy.task is not None
        await asyncio.wait_for(proxy.task, 15)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trust_env=False, auto_decompress=False) as session:
        yield session


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[Standin]:
    """A control directory for the stand-in tailscaled/tailscale; no microsocks outlives the test."""
    for script in ("tailscaled", "tailscale"):
        assert os.access(STANDINS / script, os.X_OK), f"{script} stand-in must be executable"
    control = tmp_path / "control"
    control.mkdir()
    state = tmp_path / "state"
    box = Standin(control, state)
    yield box
    # Safety net: no microsocks may outlive the test, whatever happened.
    for line in box.record("microsocks.pids").split():
        if alive(int(line)):
            os.kill(int(line), signal.SIGKILL)


