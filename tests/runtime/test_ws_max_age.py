"""The hourly cut: DEVPROXY_WS_MAX_AGE closes each WebSocket with 1001 on both sides at that age."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import aiohttp
import pytest

from conftest import StartProxy, Upstream
from devproxy.errors import ConfigError
from devproxy.runtime.config import build_config
from support.upstream import CLOSE_CODES

TARGET = "http://devbox:8888"


def test_the_default_is_just_under_cloud_runs_hour() -> None:
    """Unset (or empty), a WebSocket lives 3540 s, a minute under Cloud Run's 3600 s request limit."""
    assert build_config({}, target=TARGET).timeouts.ws_max_age == 3540.0
    assert build_config({"DEVPROXY_WS_MAX_AGE": ""}, target=TARGET).timeouts.ws_max_age == 3540.0
    assert build_config({"DEVPROXY_WS_MAX_AGE": "90.5"}, target=TARGET).timeouts.ws_max_age == 90.5


@pytest.mark.parametrize("raw", ["0", "-5", "0.5", "86401", "nan", "inf", "-inf", "an hour", "1e400"])
def test_out_of_range_or_not_a_number_is_refused(raw: str) -> None:
    """Zero, negative, sub-second, over a day, nan, infinity and words are refused, naming the variable."""
    with pytest.raises(ConfigError, match=r"invalid DEVPROXY_WS_MAX_AGE=.*seconds from 1 to 86400"):
        build_config({"DEVPROXY_WS_MAX_AGE": raw}, target=TARGET)


@pytest.mark.parametrize("raw", ["nan", "0", "soon"])
def test_the_cli_gives_one_error_line_and_exit_2(raw: str) -> None:
    """`devproxy runtime` with a bad DEVPROXY_WS_MAX_AGE: exit code 2 and one 'error:' line."""
    result = subprocess.run([sys.executable, "-m", "devproxy", "runtime", "--target", TARGET, "--auth", "none"],
                            capture_output=True, text=True, timeout=30,
                            env={**os.environ, "DEVPROXY_WS_MAX_AGE": raw})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid DEVPROXY_WS_MAX_AGE"), lines


async def test_a_websocket_at_its_maximum_age_is_closed_with_1001_both_ways(
        upstream: Upstream, start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """With a 1 s limit, an open WebSocket carries messages, then both sides get 1001 at about 1 s and the
    ws.closed line says why (max_age) so diagnosis can treat it as expected."""
    proxy = await start_proxy(target=upstream.url, env={"DEVPROXY_WS_MAX_AGE": "1"})
    loop = asyncio.get_running_loop()
    async with client.ws_connect(proxy.ws_url + "/ws/echo") as ws:
        opened = loop.time()
        await ws.send_str("still young")
        assert (await ws.receive(timeout=5)).data == "still young"
        msg = await ws.receive(timeout=5)
        lived = loop.time() - opened
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1001, msg
    assert "reconnect" in msg.extra
    assert 0.8 <= lived < 3, lived
    for _ in range(100):
        if proxy.events("ws.closed") and upstream.app[CLOSE_CODES]:
            break
        await asyncio.sleep(0.02)
    assert upstream.app[CLOSE_CODES] == [1001]
    [closed] = proxy.events("ws.closed")
    assert (closed["why"], closed["closed_by"], closed["close_code"]) == ("max_age", "proxy", 1001)


async def test_each_websocket_counts_its_own_age(upstream: Upstream, start_proxy: StartProxy,
                                                 client: aiohttp.ClientSession) -> None:
    """A WebSocket opened later is closed later: the age is per connection, not a global clock."""
    proxy = await start_proxy(target=upstream.url, env={"DEVPROXY_WS_MAX_AGE": "1.5"})
    loop = asyncio.get_running_loop()
    first = await client.ws_connect(proxy.ws_url + "/ws/echo")
    await asyncio.sleep(0.7)
    second = await client.ws_connect(proxy.ws_url + "/ws/echo")
    assert (await first.receive(timeout=5)).data == 1001
    closed_first = loop.time()
    await second.send_str("not yet")
    assert (await second.receive(timeout=5)).data == "not yet"
    assert (await second.receive(timeout=5)).data == 1001
    assert loop.time() - closed_first >= 0.4
    await first.close()
    await second.close()
