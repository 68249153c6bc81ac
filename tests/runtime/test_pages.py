"""devproxy's own pages: login form and status page render safely from whatever they are given."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import aiohttp
import pytest

from conftest import StartProxy, Upstream
from devproxy.runtime.pages import login_page, status_page

SNAPSHOT: dict[str, object] = {
    "version": "0.1.0",
    "auth": "token",
    "tailscale": {"ok": True, "state": "running", "detail": "BackendState Running (100.101.102.103)"},
    "socks": {"url": "socks5://127.0.0.1:1055", "answered_by": "127.0.0.1:1055"},
    "target": {"ok": True, "target": "http://100.84.184.84:8888", "via": "socks5://127.0.0.1:1055",
               "latency_ms": 23.4},
    "websockets": {
        "open": 1,
        "sessions": [
            {"path": "/stable-abc?reconnectionToken=r", "opened_at": 1_800_000_000.0,
             "bytes_in": 2048, "bytes_out": 5 * 1024 * 1024},
        ],
    },
    "recent_errors": [
        {"time": "2026-11-30T05:00:00.000000Z", "severity": "ERROR", "event": "socks.connect_failed",
         "message": "could not reach 127.0.0.1:1055"},
    ],
}


class _Collector(HTMLParser):
    """Collects tags and text; fails on obvious structural problems."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and re.match(r"^(https?:)?//", value):
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    collector.close()
    return collector


def test_login_page_is_a_small_self_contained_form() -> None:
    """The login page posts the token and `next`, works on a phone, loads nothing external."""
    page = login_page(error=None, next_path="/folder?x=1")
    parsed = _parse(page)
    assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in page
    assert '<form method="post" action="/_devproxy/login">' in page
    assert 'name="token" type="password"' in page
    assert '<input type="hidden" name="next" value="/folder?x=1">' in page
    assert "script" not in parsed.tags and not parsed.external
    assert "role=\"alert\"" not in page
    assert len(page) < 4096


def test_login_page_escapes_error_and_next() -> None:
    """Error text and next path cannot inject markup."""
    page = login_page(error="<b>bad</b>", next_path='/"><script>alert(1)</script>')
    assert "<script>" not in page and "<b>bad</b>" not in page
    assert "&lt;b&gt;bad&lt;/b&gt;" in page
    assert 'value="/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


def test_status_page_shows_every_part_of_the_snapshot() -> None:
    """Tailscale state, SOCKS address, target reachability and latency, sessions and errors appear."""
    page = status_page(SNAPSHOT)
    text = " ".join(_parse(page).text)
    for needle in (
        "devproxy 0.1.0", "running", "BackendState Running (100.101.102.103)",
        "socks5://127.0.0.1:1055", "127.0.0.1:1055", "http://100.84.184.84:8888", "23 ms",
        "1 open", "/stable-abc?reconnectionToken=r", "2027-01-15 08:00:00 UTC", "2.0 KiB", "5.0 MiB",
        "socks.connect_failed", "could not reach 127.0.0.1:1055", "token",
    ):
        assert needle in text, needle
    assert page.count('class="ok"') >= 3
    assert not _parse(page).external and "script" not in _parse(page).tags


def test_status_page_marks_failures() -> None:
    """A failing tailscale or target is shown as FAILING, with the error text."""
    snapshot = dict(SNAPSHOT)
    snapshot["tailscale"] = {"ok": False, "state": "backoff", "detail": "tailscaled exited with code 1"}
    snapshot["target"] = {"target": "http://devbox:8888", "ok": False, "latency_ms": None,
                          "error": "general SOCKS server failure"}
    text = " ".join(_parse(status_page(snapshot)).text)
    assert text.count("FAILING") >= 3  # headline, tailscale, target
    assert "backoff" in text and "general SOCKS server failure" in text


def test_status_page_without_tailscale_supervision() -> None:
    """With --no-tailscale the section says so instead of failing."""
    snapshot = dict(SNAPSHOT, tailscale=None)
    text = " ".join(_parse(status_page(snapshot)).text)
    assert "not supervised here" in text


@pytest.mark.parametrize(
    "snapshot",
    [
        {},
        {"tailscale": "weird", "socks": None, "target": [], "websockets": {"sessions": "x"}, "recent_errors": None},
        {"websockets": {"open": 2, "sessions": [None, {"bytes_in": "many"}]}, "recent_errors": [None, 3]},
    ],
)
def test_status_page_survives_odd_snapshots(snapshot: dict[str, object]) -> None:
    """Missing or oddly typed fields render as dashes, never an exception."""
    page = status_page(snapshot)
    assert page.startswith("<!doctype html>")
    _parse(page)


def test_status_page_escapes_everything() -> None:
    """Values from logs and the network cannot inject markup into the page."""
    evil = "<img src=x onerror=alert(1)>"
    snapshot = {
        "version": evil,
        "auth": evil,
        "tailscale": {"ok": False, "state": evil, "detail": evil},
        "socks": {"url": evil, "answered_by": evil},
        "target": {"target": evil, "via": evil, "ok": False, "latency_ms": evil, "error": evil},
        "websockets": {"open": evil, "sessions": [{"path": evil, "opened_at": evil, "bytes_in": evil, "bytes_out": evil}]},
        "recent_errors": [{"time": evil, "severity": evil, "event": evil, "message": evil}],
    }
    page = status_page(snapshot)
    assert "<img" not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 15


def test_status_page_shows_the_most_recent_errors_first_and_bounded() -> None:
    """At most 20 recent problems, in the snapshot's order (newest first): the newest are shown."""
    errors = [{"time": f"t{i:02d}", "severity": "ERROR", "event": "e", "message": f"m{i:02d}"} for i in range(30)]
    text = " ".join(_parse(status_page({"recent_errors": errors[::-1]})).text)
    assert "m29" in text and "m10" in text and "m09" not in text
    assert text.index("m29") < text.index("m10")


def test_status_page_counts_client_errors_apart() -> None:
    """Rejected client input is a count and a short list of its own, below the real problems."""
    snapshot = {
        "recent_errors": [{"event": "upstream.unreachable", "message": "real one"}],
        "client_errors": {"count": 412, "recent": [{"event": "http.bad_request", "message": "garbage"}]},
    }
    text = " ".join(_parse(status_page(snapshot)).text)
    assert "real one" in text and "412 rejected by client input" in text and "garbage" in text
    assert text.index("real one") < text.index("garbage")


async def test_status_page_renders_the_real_snapshot(upstream: Upstream, start_proxy: StartProxy) -> None:
    """The page renders what the running proxy's snapshot holds: the target row shows the target."""
    proxy = await start_proxy(target=upstream.url)
    async with aiohttp.ClientSession(trust_env=False) as client:
        async with client.get(proxy.url + "/_devproxy/status", headers={"Accept": "application/json"},
                              timeout=aiohttp.ClientTimeout(total=10)) as resp:
            snapshot = await resp.json()
    text = " ".join(_parse(status_page(snapshot)).text)
    assert upstream.url in text and "direct" in text
    assert "OK" in text  # reachable
