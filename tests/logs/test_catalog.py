"""Table tests over the signature catalog: every sample is recognised as its own signature only."""

from __future__ import annotations

import pytest
from logs_samples import SAMPLES

from devproxy.logs.findings import ERROR_LEVELS
from devproxy.logs.match import Matcher, needle
from devproxy.logs.catalog import CATALOG
from devproxy.logs.signatures import FINDING_SEVERITIES, ROLES
from devproxy.logs.source import parse_line

MATCHER = Matcher()
CASES = [(sig_id, sample) for sig_id, samples in SAMPLES.items() for sample in samples]


def test_catalog_is_large_and_well_formed() -> None:
    """The catalog has at least 40 signatures, unique ids, and every field a finding needs."""
    assert len(CATALOG) >= 40
    ids = [sig.id for sig in CATALOG]
    assert len(ids) == len(set(ids))
    for sig in CATALOG:
        assert sig.severity in FINDING_SEVERITIES, sig.id
        assert sig.role in ROLES, sig.id
        assert sig.title and sig.cause and sig.fix and sig.reference, sig.id
        assert sig.patterns or sig.events or sig.check, sig.id
        if sig.noise:
            assert sig.severity == "info", sig.id


def test_every_signature_has_a_sample() -> None:
    """Each signature is exercised by at least one real line, and no sample names an unknown signature."""
    assert set(SAMPLES) == {sig.id for sig in CATALOG}


@pytest.mark.parametrize(("sig_id", "sample"), CASES, ids=[f"{i}-{n}" for n, (i, _) in enumerate(CASES)])
def test_sample_matches_its_signature_and_no_other_error(sig_id: str, sample: str) -> None:
    """The sample counts for its own signature, and no other error-level signature claims it."""
    entry = parse_line(sample)
    assert entry is not None
    matched = MATCHER.match(entry)
    assert matched is not None and matched.id == sig_id
    others = {s.id for s in MATCHER.matches(entry) if s.id != sig_id and s.severity in ERROR_LEVELS}
    assert others == set()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"WebSocket close with status code 1006", "websocket close with status code 1006"),
        (r"wss?://host", "://host"),
        (r"Executing <.*> took \d+(?:\.\d+)? seconds", "executing <"),
        (r"connect\(\) failed \(111", "connect() failed (111"),
        (r'"GET [^"]*reconnectionToken=[^"]*" 403', "reconnectiontoken="),
        (r"SOCKS5 listener: listen tcp \S+: bind", "socks5 listener: listen tcp "),
    ],
)
def test_needle_is_a_literal_every_match_contains(pattern: str, expected: str) -> None:
    """The prefilter literal is the longest text every match must contain."""
    assert needle(pattern) == expected


@pytest.mark.parametrize("pattern", [r"abc|def", r"\d+\s*"])
def test_needle_rejects_patterns_without_a_required_literal(pattern: str) -> None:
    """Patterns with a top-level alternation or no literal cannot be prefiltered and are refused."""
    with pytest.raises(ValueError):
        needle(pattern)


def test_healthy_runtime_events_match_nothing() -> None:
    """Normal traffic and lifecycle events are not findings."""
    from logs_samples import event, request

    lines = [
        event("http.access", "INFO", method="GET", path="/", status=200, duration_ms=12, bytes_out=5120),
        event("ws.open", "INFO"),
        event("ws.closed", "INFO", close_code=1000, closed_by="browser", duration_s=610.2),
        event("socks.connected", "INFO", socks="127.0.0.1:1055"),
        event("tailscaled.state", "INFO", component="supervisor", state="running"),
        event("runtime.started", "INFO"),
        event("tailscaled.exited", "INFO", component="supervisor", returncode=0),  # stopped on SIGTERM
        event("tailscale.backend_state", "INFO", component="supervisor", backend_state="Running"),
        event("ready.changed", "INFO", ready=True),
        request(101, "41.2s"),
        request(200, "0.012s", "https://devproxy-abc-uc.a.run.app/"),
    ]
    for line in lines:
        entry = parse_line(line)
        assert entry is not None
        assert MATCHER.matches(entry) == [], line


@pytest.mark.parametrize(
    ("reference", "link"),
    [
        ("field-notes §8 CS4; coder/code-server#6161, #6166", "https://github.com/coder/code-server/issues/6161"),
        ("field-notes §2.1; cloud.google.com/run/docs/triggering/websockets",
         "https://cloud.google.com/run/docs/triggering/websockets"),
        ("field-notes §8 T1; tailscale/tailscale:net/socks5/socks5.go",
         "https://github.com/tailscale/tailscale/blob/HEAD/net/socks5/socks5.go"),
        ("field-notes §8 P15; https://docs.python.org/3/library/asyncio-dev.html#debug-mode",
         "https://docs.python.org/3/library/asyncio-dev.html#debug-mode"),
        ("DESIGN rule 1", ""),
    ],
)
def test_reference_link(reference: str, link: str) -> None:
    """A signature's reference yields a link to the report it came from."""
    from devproxy.logs.signatures import reference_link

    assert reference_link(reference) == link


def test_signatures_from_public_reports_link_to_their_source() -> None:
    """Every signature of another stack's text links to the report or source it came from."""
    unlinked = [sig.id for sig in CATALOG if sig.patterns and not sig.link]
    assert unlinked == []


def test_event_quoting_another_stacks_line_counts_as_that_line() -> None:
    """'tailscale up failed: ... invalid key' counts as the expired key, the more severe and specific cause."""
    from logs_samples import event

    entry = parse_line(event("tailscale.up_failed", "WARNING", component="supervisor",
                             message="tailscale up failed (exit 1): backend error: invalid key: API key does not exist"))
    assert entry is not None
    sig = MATCHER.match(entry)
    assert sig is not None and sig.id == "ts-key-expired"
