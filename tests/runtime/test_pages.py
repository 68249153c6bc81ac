"""devproxy's own pages: the login form and the status page render the typed snapshot safely."""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import replace
from html.parser import HTMLParser

from conftest import Upstream
from devproxy.runtime.config import build_config
from devproxy.runtime.log import EventLog
from devproxy.runtime.pages import login_page, status_page
from devproxy.runtime.root import create_runtime
from devproxy.runtime.snapshots import (
    BridgeSnapshot,
    Problem,
    SocksView,
    StatusSnapshot,
    TailscaleCheck,
    TargetCheck,
    problems,
)
from devproxy.runtime.status_report import snapshot

SNAPSHOT = StatusSnapshot(
    version="0.1.0",
    auth="token",
    tailscale=TailscaleCheck(ok=True, state="running", detail="BackendState Running (100.101.102.103)",
                             backend_state="Running", restarts=0),
    socks=SocksView(url="socks5://127.0.0.1:1055", answered_by="127.0.0.1:1055"),
    target=TargetCheck(ok=True, target="http://100.84.184.84:8888", via="socks5://127.0.0.1:1055", latency_ms=23.4),
    websockets=(BridgeSnapshot(path="/stable-abc?reconnectionToken=r", opened_at=1_800_000_000.0,
                               bytes_in=2048, bytes_out=5 * 1024 * 1024),),
    recent_errors=(Problem(time="2026-11-30T05:00:00.000000Z", severity="ERROR", event="socks.connect_failed",
                           message="could not reach 127.0.0.1:1055"),),
)


def _problem(event: str, message: str, time: str = "") -> Problem:
    return Problem(time=time, severity="ERROR", event=event, message=message)


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
    snapshot = replace(
        SNAPSHOT,
        tailscale=TailscaleCheck(ok=False, state="backoff", detail="tailscaled exited with code 1",
                                 backend_state="", restarts=1),
        target=TargetCheck(ok=False, target="http://devbox:8888", via="direct", latency_ms=5000.0,
                           error="general SOCKS server failure"),
    )
    text = " ".join(_parse(status_page(snapshot)).text)
    assert text.count("FAILING") >= 3  # headline, tailscale, target
    assert "backoff" in text and "general SOCKS server failure" in text


def test_status_page_without_tailscale_supervision() -> None:
    """With --no-tailscale the section says so instead of failing."""
    text = " ".join(_parse(status_page(replace(SNAPSHOT, tailscale=None))).text)
    assert "not supervised here" in text


def test_status_page_shows_dashes_for_empty_fields() -> None:
    """Empty values render as dashes; no sessions and no problems say so."""
    snapshot = replace(SNAPSHOT, version="", socks=SocksView(url="none (direct)", answered_by=None),
                       websockets=(), recent_errors=())
    page = status_page(snapshot)
    assert page.startswith("<!doctype html>")
    text = " ".join(_parse(page).text)
    assert "\u2014" in text and "0 open" in text and "none" in text


def test_status_page_escapes_everything() -> None:
    """Values from logs and the network cannot inject markup into the page."""
    evil = "<img src=x onerror=alert(1)>"
    snapshot = StatusSnapshot(
        version=evil,
        auth=evil,
        tailscale=TailscaleCheck(ok=False, state=evil, detail=evil, backend_state=evil, restarts=0),
        socks=SocksView(url=evil, answered_by=evil),
        target=TargetCheck(ok=False, target=evil, via=evil, latency_ms=1.0, error=evil),
        websockets=(BridgeSnapshot(path=evil, opened_at=0.0, bytes_in=0, bytes_out=0),),
        recent_errors=(Problem(time=evil, severity=evil, event=evil, message=evil),),
    )
    page = status_page(snapshot)
    assert "<img" not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 14


def test_status_page_shows_the_most_recent_errors_first_and_bounded() -> None:
    """At most 20 recent problems, in the snapshot's order (newest first): the newest are shown."""
    errors = tuple(_problem("e", f"m{i:02d}", f"t{i:02d}") for i in range(30))
    text = " ".join(_parse(status_page(replace(SNAPSHOT, recent_errors=errors[::-1]))).text)
    assert "m29" in text and "m10" in text and "m09" not in text
    assert text.index("m29") < text.index("m10")


def test_status_page_counts_client_errors_apart() -> None:
    """Rejected client input is a count and a short list of its own, below the real problems."""
    snapshot = replace(SNAPSHOT, recent_errors=(_problem("upstream.unreachable", "real one"),),
                       client_error_count=412, client_errors=(_problem("http.bad_request", "garbage"),))
    text = " ".join(_parse(status_page(snapshot)).text)
    assert "real one" in text and "412 rejected by client input" in text and "garbage" in text
    assert text.index("real one") < text.index("garbage")


def test_problems_come_newest_first_with_their_fields() -> None:
    """Log records become problems newest first; their other fields stay in the JSON."""
    records = [{"time": "t1", "severity": "WARNING", "event": "a", "message": "old", "path": "/x"},
               {"time": "t2", "severity": "ERROR", "event": "b", "message": "new"}]
    listed = problems(records)
    assert [p.message for p in listed] == ["new", "old"]
    assert listed[1].as_json() == records[0]


async def test_status_page_renders_the_real_snapshot(upstream: Upstream) -> None:
    """The page and the JSON come from the snapshot the runtime builds: the target row shows the target."""
    env = {"DEVPROXY_ACCESS_TOKEN": "t" * 32}
    config = build_config(env, target=upstream.url, socks="none", listen="127.0.0.1:0", no_tailscale=True,
                          auth="token")
    log = EventLog(io.StringIO())
    runtime = create_runtime(config, log)
    log.warning("upstream.unreachable", "could not reach the target")
    try:
        report = await asyncio.wait_for(snapshot(runtime.status), 10)
    finally:
        runtime.forwarder.close()
    page = status_page(report)
    text = " ".join(_parse(page).text)
    assert f"<dt>target</dt><dd>{upstream.url}</dd>" in page and "direct" in text
    assert "OK" in text and "could not reach the target" in text  # reachable; the problem listed
    body = report.as_json()
    assert body["target"]["target"] == upstream.url and body["target"]["ok"] is True
    assert body["tailscale"] is None and body["websockets"] == {"open": 0, "sessions": []}
    assert body["recent_errors"][0]["event"] == "upstream.unreachable"
