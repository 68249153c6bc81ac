"""The adversarial suite's fixtures: the runtime in token mode with every log line and status output kept,
and a check after each test that neither the access token nor a session cookie ever appeared in them."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from devproxy.runtime.config import build_config
from devproxy.runtime.log import EventLog
from devproxy.runtime.server import run
from runtime.conftest import Upstream, client, socks_v4, upstream  # noqa: F401  (shared fixtures)
from support.runtime_proc import spawn_runtime
from support.upstream import create_upstream

TOKEN = "sec-suite-token-3f9a7c1e5b2d4f6a8c0e"
ENV = {"DEVPROXY_ACCESS_TOKEN": TOKEN}
#: a session value in any output, whoever it was issued to.
SESSION_VALUE = re.compile(r"v1\.\d{6,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}")


@dataclass
class Exposure:
    """Everything an operator could read: log lines and status pages (JSON and HTML)."""

    texts: list[str] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)

    def leaks(self) -> list[str]:
        found = []
        for text in self.texts:
            if TOKEN in text or SESSION_VALUE.search(text):
                found.append(text[:300])
            found.extend(text[:300] for cookie in self.cookies if cookie and cookie in text)
        return found


@dataclass
class Proxy:
    url: str
    port: int
    stream: io.StringIO
    records: list[dict[str, Any]]
    stop: asyncio.Event
    task: asyncio.Task[int]
    #: a session taken at start, so the status page can be read even after a lock-out
    cookie: str = ""

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == name]


StartProxy = Callable[..., Awaitable[Proxy]]


@dataclass
class Recorded:
    """The test upstream plus every request it saw: (method, raw path, headers)."""

    url: str
    seen: list[tuple[str, str, list[tuple[str, str]]]]

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.seen]


@pytest.fixture
async def recorded() -> AsyncIterator[Recorded]:
    """The usual test upstream, recording each request before it is handled."""
    seen: list[tuple[str, str, list[tuple[str, str]]]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> Any:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        seen.append((request.method, request.raw_path, headers))
        return await handler(request)

    app = create_upstream()
    app.middlewares.append(record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield Recorded(f"http://127.0.0.1:{runner.addresses[0][1]}", seen)
    await runner.cleanup()


@pytest.fixture
def exposure() -> Exposure:
    return Exposure()


@pytest.fixture
async def secure_proxy(exposure: Exposure) -> AsyncIterator[StartProxy]:
    """Starts the runtime in token mode in this loop; after the test, fails if a secret was exposed."""
    started: list[Proxy] = []

    async def start(*, target: str, socks: str = "none", env: dict[str, str] | None = None) -> Proxy:
        full_env = {**ENV, **(env or {})}
        config = build_config(full_env, target=target, socks=socks, listen="127.0.0.1:0",
                              no_tailscale=True, auth="token")
        stream = io.StringIO()
        log = EventLog(stream)
        records: list[dict[str, Any]] = []
        log.add_hook(records.append)
        ready: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        task = asyncio.create_task(run(config, log=log, started=ready, stop=stop))
        done, _ = await asyncio.wait({ready, task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        _, port = await asyncio.wait_for(ready, 1)
        proxy = Proxy(f"http://127.0.0.1:{port}", port, stream, records, stop, task)
        started.append(proxy)
        async with browser() as session:
            proxy.cookie = await login(session, proxy.url, full_env["DEVPROXY_ACCESS_TOKEN"])
        exposure.cookies.append(proxy.cookie)
        return proxy

    yield start
    for proxy in started:
        async with aiohttp.ClientSession(trust_env=False) as session:
            for accept in ("application/json", "text/html"):
                headers = {"Accept": accept, "Cookie": f"devproxy_session={proxy.cookie}"}
                async with session.get(proxy.url + "/_devproxy/status", headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=10)) as resp:
                    assert resp.status == 200
                    exposure.texts.append(await resp.text())
        proxy.stop.set()
        await asyncio.wait_for(proxy.task, 15)
        exposure.texts.extend(proxy.lines())
        exposure.texts.extend(json.dumps(r) for r in proxy.records)
    leaks = exposure.leaks()
    assert not leaks, f"a secret reached a log line or the status page: {leaks[:3]}"


def browser() -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1 (aiohttp's default jar drops cookies of IP hosts)."""
    return aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def login(session: aiohttp.ClientSession, url: str, token: str = TOKEN) -> str:
    """Log in with the token; returns the session cookie value."""
    async with session.post(url + "/_devproxy/login", data={"token": token, "next": "/"},
                            allow_redirects=False, timeout=aiohttp.ClientTimeout(total=10)) as resp:
        assert resp.status == 303
        return resp.cookies["devproxy_session"].value


async def raw_exchange(port: int, data: bytes, *, read_for: float = 2.0, limit: int = 1 << 20) -> bytes:
    """Send raw bytes on a fresh connection; everything the proxy answers until it closes (or `read_for` s)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(data)
        await writer.drain()
        chunks = []
        try:
            async with asyncio.timeout(read_for):
                while sum(map(len, chunks)) < limit:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)
    finally:
        writer.close()


def statuses(answer: bytes) -> list[int]:
    """The status codes of every response in a raw HTTP/1.1 answer stream."""
    return [int(m.group(1)) for m in re.finditer(rb"HTTP/1\.[01] (\d{3}) ", answer)]


@dataclass
class Child:
    """`devproxy runtime` as a real process (token mode); its stdout is drained into `lines`."""

    proc: asyncio.subprocess.Process
    port: int
    lines: list[str]
    cookie: str = ""
    drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mib(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in map(json.loads, self.lines) if r.get("event") == name]


StartChild = Callable[..., Awaitable[Child]]


async def _drain(proc: asyncio.subprocess.Process, lines: list[str]) -> None:
    assert proc.stdout is not None
    while raw := await proc.stdout.readline():
        lines.append(raw.decode(errors="replace").rstrip("\n"))


@pytest.fixture
async def secure_child(exposure: Exposure) -> AsyncIterator[StartChild]:
    """Starts the runtime as a child process in token mode; after the test, stops it (bounded) and
    searches everything it printed for the token and the session cookies."""
    children: list[Child] = []

    async def start(*, target: str, socks: str = "none", env: dict[str, str] | None = None) -> Child:
        proc, first = await spawn_runtime(
            "--target", target, "--socks", socks, "--no-tailscale", "--listen", "127.0.0.1:0", "--auth", "token",
            env={**ENV, **(env or {})},
        )
        lines = [json.dumps(r) for r in first]
        child = Child(proc, int(first[-1]["port"]), lines)
        child.drain = asyncio.create_task(_drain(proc, lines))
        children.append(child)
        async with browser() as session:
            child.cookie = await login(session, child.url)
        exposure.cookies.append(child.cookie)
        return child

    yield start
    for child in children:
        if child.proc.returncode is None:
            child.proc.terminate()
            try:
                await asyncio.wait_for(child.proc.wait(), 10)
            except TimeoutError:
                child.proc.kill()
                await asyncio.wait_for(child.proc.wait(), 5)
        assert child.drain is not None and child.proc.stderr is not None
        await asyncio.wait_for(child.drain, 5)
        exposure.texts.extend(child.lines)
        exposure.texts.append((await asyncio.wait_for(child.proc.stderr.read(), 5)).decode(errors="replace"))
    leaks = exposure.leaks()
    assert not leaks, f"a secret reached the output: {leaks[:3]}"
