"""Runtime configuration: defaults < environment < flags, and one clear error for bad input."""

from __future__ import annotations

import pytest

from devproxy.errors import ConfigError
from devproxy.runtime.config import Listen, SocksEndpoint, Target, build_config, parse_listen, parse_socks, parse_target


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://100.84.184.84:8888", Target("http", "100.84.184.84", 8888)),
        ("http://devbox:8888/", Target("http", "devbox", 8888)),
        ("https://devbox", Target("https", "devbox", 443)),
        ("http://[fd7a:115c:a1e0::1]:8080/base/", Target("http", "fd7a:115c:a1e0::1", 8080, "/base")),
    ],
)
def test_parse_target(url: str, expected: Target) -> None:
    """Target URLs become (scheme, host, port, base path)."""
    assert parse_target(url) == expected


@pytest.mark.parametrize("url", ["ftp://x", "devbox:8888", "http://", "http://h:99999", "http://u:p@h", "http://h/?q=1"])
def test_parse_target_rejects(url: str) -> None:
    """Anything but http(s)://host[:port][/path] is a ConfigError."""
    with pytest.raises(ConfigError):
        parse_target(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("socks5://127.0.0.1:1055", SocksEndpoint("127.0.0.1", 1055)),
        ("socks5h://localhost:1080", SocksEndpoint("localhost", 1080)),
        ("socks5://[::1]:1055", SocksEndpoint("::1", 1055)),
        ("socks5://u%40x:p@127.0.0.1:1", SocksEndpoint("127.0.0.1", 1, "u@x", "p")),
        ("none", None),
    ],
)
def test_parse_socks(url: str, expected: SocksEndpoint | None) -> None:
    """SOCKS URLs parse; 'none' means a direct dial."""
    assert parse_socks(url) == expected


@pytest.mark.parametrize("url", ["http://127.0.0.1:1055", "socks5://127.0.0.1", "socks4://h:1", "socks5://h:1/x"])
def test_parse_socks_rejects(url: str) -> None:
    """Only socks5:// with host and port, or none."""
    with pytest.raises(ConfigError):
        parse_socks(url)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.0.0.0:8080", Listen("0.0.0.0", 8080)), (":9", Listen("0.0.0.0", 9)), ("[::]:80", Listen("::", 80))],
)
def test_parse_listen(value: str, expected: Listen) -> None:
    assert parse_listen(value) == expected


def test_defaults_follow_cloud_run_port() -> None:
    """--listen defaults to 0.0.0.0:$PORT and --socks to the tailscaled literal."""
    config = build_config({"PORT": "9090", "DEVPROXY_TARGET": "http://devbox:8888"})
    assert config.listen == Listen("0.0.0.0", 9090)
    assert config.socks == SocksEndpoint("127.0.0.1", 1055)
    assert build_config({"DEVPROXY_TARGET": "http://d:1"}).listen.port == 8080


def test_flags_beat_environment() -> None:
    env = {"DEVPROXY_TARGET": "http://env:1", "DEVPROXY_SOCKS": "none", "DEVPROXY_LISTEN": "127.0.0.1:1"}
    config = build_config(env, target="http://flag:2", listen="127.0.0.1:3")
    assert config.target.host == "flag" and config.listen.port == 3 and config.socks is None


def test_socks_none_means_no_tailscaled() -> None:
    """Dialing directly needs no tailscaled; by default the runtime supervises one."""
    assert build_config({"DEVPROXY_TARGET": "http://d:1"}, socks="none").tailscale is False
    assert build_config({"DEVPROXY_TARGET": "http://d:1"}).tailscale is True
    assert build_config({"DEVPROXY_TARGET": "http://d:1"}, no_tailscale=True).tailscale is False


def test_cloud_run_means_https_public_scheme() -> None:
    assert build_config({"DEVPROXY_TARGET": "http://d:1", "K_SERVICE": "x"}).public_scheme == "https"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({}, "no target"),
        ({"target": "http://d:1", "auth": "magic"}, "unknown auth mode"),
        ({"target": "http://d:1", "listen": "nope"}, "invalid listen"),
    ],
)
def test_build_config_errors(kwargs: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        build_config({}, **kwargs)  # type: ignore[arg-type]


def test_connection_timeouts_and_trusted_hops() -> None:
    """Request-head and keep-alive timeouts default for Cloud Run and VS Code; X-Forwarded-For is trusted
    for one hop on Cloud Run only, unless DEVPROXY_TRUSTED_HOPS says otherwise."""
    local = build_config({}, target="http://devbox:8888")
    assert (local.timeouts.request_head, local.timeouts.keepalive, local.trusted_hops) == (30.0, 620.0, 0)
    assert build_config({"K_SERVICE": "dev"}, target="http://devbox:8888").trusted_hops == 1
    tuned = build_config({"K_SERVICE": "dev", "DEVPROXY_TRUSTED_HOPS": "2", "DEVPROXY_REQUEST_HEAD_TIMEOUT": "5",
                          "DEVPROXY_KEEPALIVE_TIMEOUT": "75"}, target="http://devbox:8888")
    assert (tuned.timeouts.request_head, tuned.timeouts.keepalive, tuned.trusted_hops) == (5.0, 75.0, 2)
    assert build_config({"K_SERVICE": "dev", "DEVPROXY_TRUSTED_HOPS": "0"}, target="http://d:1").trusted_hops == 0


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DEVPROXY_TRUSTED_HOPS": "-1"}, "DEVPROXY_TRUSTED_HOPS"),
        ({"DEVPROXY_TRUSTED_HOPS": "one"}, "whole number"),
        ({"DEVPROXY_REQUEST_HEAD_TIMEOUT": "0"}, "must be positive"),
        ({"DEVPROXY_KEEPALIVE_TIMEOUT": "soon"}, "DEVPROXY_KEEPALIVE_TIMEOUT"),
    ],
)
def test_connection_settings_errors(env: dict[str, str], words: str) -> None:
    """Bad connection settings are one ConfigError naming the variable."""
    with pytest.raises(ConfigError) as info:
        build_config(env, target="http://devbox:8888")
    assert words in str(info.value)
