"""Causes across layers that users report: each rule from a small timeline of real-shaped lines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from logs_samples import SAMPLES

from devproxy.logs.correlate import diagnose
from devproxy.logs.findings import ERROR_LEVELS, Diagnosis
from devproxy.logs.model import LogEntry
from devproxy.logs.source import parse_line, parse_text

T0 = datetime(2026, 11, 30, 5, tzinfo=timezone.utc)


def _timeline(*lines: tuple[str, float], sample: int = 0) -> list[LogEntry]:
    """Entries of the first sample of each signature at the given seconds after T0."""
    out = []
    for sig_id, at in lines:
        entry = parse_line(SAMPLES[sig_id][sample])
        assert entry is not None
        out.append(LogEntry(T0 + timedelta(seconds=at), entry.layer, entry.severity, entry.message, entry.event,
                            entry.fields, entry.raw))
    return out


def _ids(result: Diagnosis) -> list[str]:
    return [f.id for f in result.findings]


@pytest.mark.parametrize(
    ("lines", "top"),
    [
        # tailscaled frozen between requests: map poll and DERP time out, then the first dial after idle fails
        ((("ts-map-poll-timeout", 0), ("ts-derp-timeout", 30), ("ts-dial-timeout", 620),
          ("browser-ws-1006", 622)), "cpu-throttled"),
        ((("ts-no-map-response", 0), ("py-ws-open-timeout", 300), ("browser-initial-connect-failed", 310)),
         "cpu-throttled"),
        # a split-DNS name handed to tailscaled's SOCKS server
        ((("ts-dns-lookup", 0), ("py-socks-general-failure", 0.1), ("browser-ws-1006", 1)), "split-dns"),
        ((("ts-dns-lookup", 0), ("cr-http-5xx", 0.2)), "split-dns"),
        # an h2c port: aiohttp rejects the HTTP/2 preface, Cloud Run answers 502
        ((("aio-request-error", 0), ("aio-h2c", 0), ("cr-bad-response", 0.1), ("browser-ws-1006", 1)), "aio-h2c"),
        # an OAuth client secret used as auth key without tags
        ((("ts-oauth-no-tags", 0),), "ts-oauth-no-tags"),
        # ... which explains the tailnet that never comes up (ranked under it)
        ((("ts-oauth-no-tags", 0), ("ts-up-timeout", 60), ("py-socks-general-failure", 90)), "ts-oauth-no-tags"),
        # the control server answers errors: logged out, SOCKS dials fail
        ((("ts-control-error", 0), ("ts-logged-out", 0), ("dp-socks-reply", 30)), "ts-control-error"),
    ],
)
def test_rule_names_the_cause_first(lines: tuple[tuple[str, float], ...], top: str) -> None:
    """The correlated cause is the first finding, at error level or above."""
    result = diagnose(_timeline(*lines))
    assert _ids(result)[0] == top
    assert result.findings[0].severity in ERROR_LEVELS
    assert "tailnet-path" not in _ids(result)  # a more specific cause supersedes the generic one


def test_symptoms_are_listed_under_the_throttling_cause() -> None:
    """The dial failure and the browser's 1006 are explained by the throttling finding, which quotes its evidence."""
    result = diagnose(_timeline(("ts-map-poll-timeout", 0), ("ts-dial-timeout", 620), ("browser-ws-1006", 622)))
    first, *rest = result.findings
    assert first.id == "cpu-throttled" and set(first.evidence) >= {"ts-map-poll-timeout", "ts-dial-timeout"}
    assert {f.id: f.explained_by for f in rest if not f.noise} == {
        "ts-map-poll-timeout": "cpu-throttled", "ts-dial-timeout": "cpu-throttled", "browser-ws-1006": "cpu-throttled",
    }


def test_throttling_needs_its_evidence_close_in_time() -> None:
    """A map-poll timeout a day before a dial failure is not the throttling cause."""
    result = diagnose(_timeline(("ts-map-poll-timeout", 0), ("ts-dial-timeout", 86400), ("browser-ws-1006", 86401)))
    assert "cpu-throttled" not in _ids(result)


def test_ephemeral_nodes_left_behind() -> None:
    """A missed logout right after SIGTERM is the pile-up warning (renamed -1/-2 nodes), not an error."""
    result = diagnose(_timeline(("ts-sigterm", 0), ("ts-logout-timeout", 5)))
    assert _ids(result)[0] == "ephemeral-pileup"
    assert result.findings[0].severity == "warning"
    assert not result.has_errors


def test_hourly_cut_with_its_timeout_message_is_healthy() -> None:
    """Cloud Run's timeout sentence for the WebSocket its 60-minute cut ends, and the reconnect, are no error."""
    cut = _timeline(("cr-ws-hourly", -3600))  # the 101 request started an hour before it ended
    rest = _timeline(("cr-request-timeout", 0.5), ("browser-ws-1006", 1), ("browser-reconnect-loop", 2))
    result = diagnose(cut + rest)
    assert not result.has_errors, [(f.id, f.severity) for f in result.findings]
    assert "hourly-reconnect" in _ids(result)


def test_short_timeout_is_still_an_error() -> None:
    """The same timeout sentence without an hourly cut nearby is the request-timeout cause."""
    result = diagnose(_timeline(("cr-request-timeout", 0.5), ("browser-ws-1006", 1)))
    assert _ids(result)[0] == "cloud-run-timeout"


def test_pasted_console_with_a_quick_reconnect_is_healthy() -> None:
    """A browser console paste (no timestamps): a 1006, the reconnect loop, then 'reconnected!' is no error."""
    paste = "\n".join([
        "ERR [remote-connection][ExtensionHost][c253f…][reconnect] Error: WebSocket close with status code 1006",
        "log.ts:117  INFO [remote-connection][ExtensionHost][c253f…][reconnect] starting reconnecting loop. "
        "You can get more information with the trace log level.",
        "log.ts:117  INFO [remote-connection][ExtensionHost][c253f…][reconnect] resolving connection...",
        SAMPLES["browser-reconnected"][0],
    ])
    result = diagnose(parse_text(paste).entries)
    assert not result.has_errors, [(f.id, f.severity) for f in result.findings]
    assert "quick-reconnect" in _ids(result)


def test_reconnect_does_not_hide_a_real_cause() -> None:
    """A quick reconnect next to code-server's origin rejection still reports the origin check."""
    lines = _timeline(("browser-ws-1006", 0), ("browser-reconnected", 5), ("py-ws-403", 1))
    assert _ids(diagnose(lines))[0] == "origin-check"
