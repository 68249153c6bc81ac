"""Every line the real components printed here is recognised as what produced it.

The records come from tests/logs/data/capture_real.py (tailscaled/tailscale 1.102.5; websockets
10.4, 12.0, 13.1, 14.2, 15.0.1 and 17.4, legacy and asyncio clients; python-socks 2.7.1 and
3.2.2; aiohttp 3.14.5; CPython 3.11 asyncio; code-server 4.100.3 at debug level). The expectations below are keyed by how a record was
produced (its scenario), not by its text. Records marked `heldout` (websockets 12.0 and 15.0.1)
were captured but not read while the signatures were written; they are checked here like the rest.
"""

from __future__ import annotations

import pytest
from logs_samples import REAL

from devproxy.logs.correlate import diagnose
from devproxy.logs.findings import ERROR_LEVELS
from devproxy.logs.match import Matcher
from devproxy.logs.model import SEVERITY_RANK
from devproxy.logs.source import parse_line
from devproxy.logs.unknown import level

MATCHER = Matcher()
#: how a record was produced -> the signatures its lines may count as (None: no finding at all;
#: "unrecognised": an error no signature explains, which diagnosis must still report).
EXPECTED: dict[str, set[str | None]] = {
    "ts-startup": {None, "ts-startup-chatter"},  # a healthy start: no finding above info
    "ts-shutdown": {None, "ts-startup-chatter", "ts-logout-ok"},
    "ts-bare-connect": {"ts-packet-header"},
    "ts-http-at-socks": {"ts-incompatible-version"},
    "ts-connect-magicdns": {"ts-dns-lookup"},
    "ts-control-unreachable": {None},  # tailscaled's own shutdown chatter
    "ts-control-unreachable-cli": {"ts-up-timeout"},
    "ts-sigterm": {"ts-sigterm"},
    "ts-control-500": {"ts-health-chatter", "ts-control-error", "ts-logged-out"},
    "ts-control-500-cli": {"ts-up-timeout"},
    "ts-oauth-no-tags": {"ts-oauth-no-tags"},
    "ts-socket-mismatch": {"ts-no-daemon"},
    "ws-legacy-403": {"py-ws-403"},
    "ws-asyncio-403": {"py-ws-403"},
    "ws-legacy-drop": {"py-no-close-frame"},
    "ws-asyncio-drop": {"py-no-close-frame"},
    "ws-legacy-keepalive": {"py-keepalive-1011"},
    "ws-asyncio-keepalive": {"py-keepalive-1011"},
    "ws-legacy-too-big": {"py-ws-too-big"},
    "ws-asyncio-too-big": {"py-ws-too-big"},
    "ws-legacy-open-timeout": {"unrecognised"},  # the legacy client raises a bare TimeoutError
    "ws-asyncio-open-timeout": {"py-ws-open-timeout"},
    "ws-legacy-garbage": {"py-ws-invalid-response"},
    "ws-asyncio-garbage": {"py-ws-invalid-response"},
    "ws-legacy-refused": {"py-connect-refused"},
    "ws-asyncio-refused": {"py-connect-refused"},
    "ws-extra-headers": {"py-extra-headers"},
    "ws-legacy-additional-headers": {"py-additional-headers"},
    "ws-env-socks-proxy-down": {"py-proxy-refused"},
    "ws-env-http-proxy-407": {"py-ws-env-proxy"},
    "socks-proxy-down": {"py-proxy-refused"},
    "socks-proxy-timeout": {"py-socks-timeout"},
    "socks-target-refused": {"py-socks-reply"},
    "socks-socks5h-url": {"py-socks5h-scheme"},
    "aiohttp-refused": {"py-connect-refused"},
    "aiohttp-ws-403": {"py-aiohttp-ws-403"},
    "aiohttp-disconnected": {"py-server-disconnected"},
    "aiohttp-ws-client-too-big": {"py-aiohttp-msg-size"},
    "aiohttp-ws-server-too-big": {"py-aiohttp-msg-size"},
    "aiohttp-server-h2c": {"aio-request-error", "aio-h2c"},
    "aiohttp-server-h2c-answer": {None},
    "aiohttp-server-tls": {"aio-request-error", "aio-https-on-http"},
    "aiohttp-server-tls-answer": {None},
    "asyncio-slow-callback": {"py-slow-callback"},
    # code-server --log debug; None: the raw status line it answered, as a proxy sees it
    "cs-origin-mismatch": {"cs-origin-mismatch", None},
    "cs-origin-port": {"cs-origin-port", None},
    "cs-unauthorized": {"cs-unauthorized"},  # its debug line and the raw 401 both say it
}


def _kind(text: str) -> str | None:
    entry = parse_line(text)
    assert entry is not None
    sig = MATCHER.match(entry)
    if sig is not None:
        return sig.id
    return "unrecognised" if SEVERITY_RANK[level(entry)] >= SEVERITY_RANK["ERROR"] else None


def test_every_scenario_has_records_and_an_expectation() -> None:
    """The capture covers every scenario expected here, and nothing it holds is left unexpected."""
    assert {r["scenario"] for r in REAL} == set(EXPECTED)
    assert sum(r["heldout"] for r in REAL) >= 20
    assert all(r["component"] and r["version"] and r["how"] for r in REAL)


@pytest.mark.parametrize("record", REAL, ids=[f"{r['scenario']}-{r['version']}-{n}" for n, r in enumerate(REAL)])
def test_real_line_counts_as_what_produced_it(record: dict[str, str]) -> None:
    """Each real line is recognised as the signature of the failure that produced it (or reported unrecognised)."""
    assert _kind(record["text"]) in EXPECTED[record["scenario"]]


@pytest.mark.parametrize("scenario", sorted(s for s, kinds in EXPECTED.items() if len(kinds) > 1))
def test_multi_line_scenarios_use_every_expected_signature(scenario: str) -> None:
    """Where a failure prints several lines, each expected signature is really seen."""
    kinds = {_kind(r["text"]) for r in REAL if r["scenario"] == scenario}
    assert kinds == EXPECTED[scenario]


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_real_scenario_diagnosed_alone(scenario: str) -> None:
    """A capture of one scenario's lines: errors give an error-level finding; chatter gives none."""
    entries = [e for r in REAL if r["scenario"] == scenario if (e := parse_line(r["text"])) is not None]
    result = diagnose(entries)
    errors = [f for f in result.findings if f.severity in ERROR_LEVELS and not f.noise]
    noise = {sig.id for sig in MATCHER.catalog if sig.noise}
    if EXPECTED[scenario] <= {None} | noise:  # healthy chatter
        assert errors == []
    elif EXPECTED[scenario] == {"unrecognised"}:
        assert errors and errors[0].role == "unrecognised"
        assert errors[0].examples
