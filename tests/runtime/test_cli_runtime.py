"""`devproxy runtime` as a user runs it: a real process, real signals, exit codes, flat memory."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from conftest import Upstream
from support.runtime_proc import spawn_runtime
from support.socks import Microsocks

GiB = 1024 * 1024 * 1024


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devproxy", *args], capture_output=True, text=True,
                          timeout=30, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--target", "ftp://devbox"], "invalid target URL"),
        (["--target", "http://devbox:8888", "--socks", "http://127.0.0.1:1055"], "invalid SOCKS URL"),
        (["--target", "http://devbox:8888", "--auth", "magic"], "unknown auth mode"),
        (["--target", "http://devbox:8888", "--listen", "127.0.0.1:notaport"], "invalid listen address"),
        ([], "no target"),
    ],
)
def test_invalid_configuration_is_one_line_and_exit_2(args: list[str], words: str) -> None:
    """Bad configuration: exit code 2 and a single 'error:' line naming the problem."""
    result = run_cli("runtime", *args, env={"DEVPROXY_TARGET": ""})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DEVPROXY_TRUSTED_HOPS": "many"}, "invalid DEVPROXY_TRUSTED_HOPS"),
        ({"DEVPROXY_REQUEST_HEAD_TIMEOUT": "-1"}, "invalid DEVPROXY_REQUEST_HEAD_TIMEOUT"),
        ({"DEVPROXY_KEEPALIVE_TIMEOUT": "later"}, "invalid DEVPROXY_KEEPALIVE_TIMEOUT"),
    ],
)
def test_invalid_connection_settings_are_one_line_and_exit_2(env: dict[str, str], words: str) -> None:
    """A bad head timeout, keep-alive timeout or hop count: exit code 2 and one 'error:' line."""
    result = run_cli("runtime", "--target", "http://devbox:8888", "--auth", "none", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]


@dataclass
class Runtime:
    proc: asyncio.subprocess.Process
    port: int
    lines: list[dict[str, object]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self, field: str = "VmRSS") -> int:
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError(field)


async def start_runtime(*args: str, env: dict[str, str]) -> Runtime:
    proc, lines = await spawn_runtime("--listen", "127.0.0.1:0", "--no-tailscale", *args, env=env)
    return Runtime(proc, int(lines[-1]["port"]), lines)


@pytest.fixture
async def proxied(upstream: Upstream, socks_v4: Microsocks) -> AsyncIterator[Runtime]:
    """The real CLI process, with proxy variables in its environment that it must ignore."""
    runtime = await start_runtime(
        "--target", upstream.url, "--socks", socks_v4.url, "--auth", "none",
        env={"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
             "ALL_PROXY": "socks5://127.0.0.1:9", "WS_PROXY": "http://127.0.0.1:9"},
    )
    yield runtime
    if runtime.proc.returncode is None:
        runtime.proc.kill()
        await runtime.proc.wait()


async def test_cli_proxies_http_and_websocket_ignoring_env_proxies(proxied: Runtime) -> None:
    """HTTP and WebSocket work through the CLI process even with bogus *_PROXY variables set."""
    async with aiohttp.ClientSession(trust_env=False) as client:
        async with client.get(proxied.url + "/echo") as resp:
            assert resp.status == 200
        async with client.ws_connect(proxied.url.replace("http", "ws") + "/ws/echo") as ws:
            await ws.send_str("ping")
            assert (await ws.receive(timeout=5)).data == "ping"


async def test_sigterm_closes_websockets_1001_and_exits_0(proxied: Runtime) -> None:
    """SIGTERM: open WebSockets get 1001, the process exits 0 well inside Cloud Run's 10 s."""
    async with aiohttp.ClientSession(trust_env=False) as client:
        ws = await client.ws_connect(proxied.url.replace("http", "ws") + "/ws/echo")
        await ws.send_str("x")
        await ws.receive(timeout=5)
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        proxied.proc.send_signal(signal.SIGTERM)
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001
        await ws.close()
        assert await asyncio.wait_for(proxied.proc.wait(), 9) == 0
        assert loop.time() - sent_at < 5
    out = (await proxied.proc.stdout.read()).decode()  # type: ignore[union-attr]
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert "runtime.stopping" in events and events[-1] == "runtime.stopped"


async def test_one_gib_download_keeps_memory_flat(proxied: Runtime) -> None:
    """Streaming 1 GiB through the proxy grows its peak RSS by far less than the body (no buffering)."""
    async with aiohttp.ClientSession(trust_env=False) as client:
        async with client.get(proxied.url + "/big?mib=8") as resp:
            await resp.read()
        before = proxied.rss_kib("VmHWM")
        received = 0
        async with client.get(proxied.url + "/big?mib=1024") as resp:
            assert resp.status == 200
            async for chunk in resp.content.iter_chunked(1 << 20):
                received += len(chunk)
        after = proxied.rss_kib("VmHWM")
    assert received == GiB
    growth_mib = (after - before) / 1024
    assert growth_mib < 48, f"peak RSS grew {growth_mib:.1f} MiB while streaming 1 GiB"
