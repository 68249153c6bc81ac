"""The diagnosis mechanisms, table by table: last words, causal ranking, severity from the words, which app."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from devproxy.logs.causality import EXPLAINS, depths, link
from devproxy.logs.correlate import diagnose
from devproxy.logs.findings import Diagnosis, Finding
from devproxy.logs.model import LogEntry
from devproxy.logs.render import diagnosis_json
from devproxy.logs.source import parse_line

T0 = datetime(2026, 12, 8, 1, tzinfo=timezone.utc)


def rt(event: str, message: str, at: float, severity: str = "INFO", component: str = "supervisor",
       **fields: Any) -> str:
    """One line as devproxy's runtime writes it, `at` seconds after T0."""
    when = (T0 + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")
    return json.dumps({"severity": severity, "message": message, "time": when, "event": event,
                       "component": component, **fields})


def said(text: str, at: float, event: str = "tailscaled.line") -> str:
    """A line tailscaled wrote, relayed at INFO."""
    return rt(event, text, at, component="tailscaled")


def run(*lines: str) -> Diagnosis:
    entries = [parse_line(line) for line in lines]
    return diagnose([e for e in entries if e is not None])


def _by_id(result: Diagnosis) -> dict[str, Finding]:
    return {f.id: f for f in result.findings}


STARTED = rt("tailscaled.started", "tailscaled started (pid 7)", 0, pid=7)
RUNNING = rt("tailscale.backend_state", "BackendState Running", 1, backend_state="Running")


def exited(code: int, at: float = 5) -> str:
    return rt("tailscaled.exited", f"tailscaled exited with code {code}", at, "WARNING", returncode=code)


# ---- last words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "top", "cause_has", "cause_lacks"),
    [
        # an unknown line with failure words before the exit is quoted as the last thing it said
        ((STARTED, said("2026/12/08 01:00:04 ipnserver: cannot open state: permission denied", 4), exited(1)),
         "dp-tailscaled-exited", "The last thing it said: “2026/12/08 01:00:04 ipnserver: cannot open state", ""),
        # no failure words: the last line of a process that exited by itself is still its reason
        ((STARTED, said("2026/12/08 01:00:04 SOCKS5 listener: listen tcp: address x: missing port", 4), exited(1)),
         "dp-tailscaled-exited", "missing port", ""),
        # a line the catalog knows is the cause: it comes first and explains the exit
        ((STARTED, said("flag provided but not defined: -bogus", 1), exited(2)), "ts-unknown-flag", "flag", ""),
        # killed by a signal: its last routine line is not a reason; the signal is
        ((STARTED, RUNNING, said("2026/12/08 01:00:04 tsdial: bart table size: 9", 4), exited(-9)),
         "dp-tailscaled-exited", "SIGKILL", "The last thing it said"),
        # lines of an earlier tailscaled are not this one's last words
        ((said("2026/12/08 00:59:59 fatal: earlier process failed", 0), STARTED, exited(1)),
         "dp-tailscaled-exited", "", "The last thing it said"),
        # lines older than the window are not last words either
        ((STARTED, said("2026/12/08 01:00:01 cannot reach the moon", 1), exited(1, at=90)),
         "dp-tailscaled-exited", "", "The last thing it said"),
    ],
    ids=["quoted", "last-line", "recognised", "signal", "earlier-process", "out-of-window"],
)
def test_last_words_of_a_failing_process(lines: tuple[str, ...], top: str, cause_has: str, cause_lacks: str) -> None:
    """What a process said before it failed is its cause: a recognised line first, else quoted in the failure."""
    result = run(*lines)
    first = result.findings[0]
    assert first.id == top
    assert cause_has in first.cause
    if cause_lacks:
        assert cause_lacks not in first.cause
    if top != "dp-tailscaled-exited":
        assert _by_id(result)["dp-tailscaled-exited"].explained_by == top


def test_tailscale_up_failure_quotes_what_the_cli_said() -> None:
    """`tailscale up` failing: its own output before the failure is quoted, never only 'it failed'."""
    result = run(
        STARTED,
        said("backend error: some new failure nobody has seen", 3, event="tailscale.up_line"),
        rt("tailscale.up_failed", "tailscale up failed (exit 1): backend error: some new failure", 3.1, "WARNING",
           returncode=1),
    )
    up = _by_id(result)["dp-tailscale-up-failed"]
    assert "The last thing it said: “backend error: some new failure nobody has seen”" in up.cause


# ---- causal ranking -----------------------------------------------------------------------------------


def test_explanation_graph_is_acyclic() -> None:
    """No kind explains itself through a chain (ranking by depth needs a partial order)."""
    def visit(kind: str, path: tuple[str, ...]) -> None:
        assert kind not in path, " -> ".join((*path, kind))
        for effect in EXPLAINS.get(kind, ()):
            if effect in EXPLAINS:
                visit(effect, (*path, kind))

    for kind in EXPLAINS:
        visit(kind, ())


def _finding(kind: str, severity: str, count: int = 1, role: str = "root") -> Finding:
    return Finding(kind, kind, severity, "", "", "", "tailscale", role, count, None, None, ())


@pytest.mark.parametrize(
    ("present", "explained"),
    [
        # a control server out of reach explains the tailnet that never comes up, which explains the 502s
        ([("ts-control-error", "error"), ("tailnet-down", "critical"), ("cr-http-5xx", "error")],
         {"tailnet-down": "ts-control-error", "cr-http-5xx": "tailnet-down"}),
        # a rejected key outranks the runtime's own note of it and everything after
        ([("dp-tailscale-auth-failed", "critical"), ("ts-key-expired", "critical"), ("dp-socks-unreachable", "critical")],
         {"dp-tailscale-auth-failed": "ts-key-expired", "dp-socks-unreachable": "dp-tailscale-auth-failed"}),
        # nothing explains an unrelated warning
        ([("ts-target-refused", "error"), ("dp-auth-disabled", "warning")], {}),
    ],
    ids=["control-chain", "key-chain", "unrelated"],
)
def test_each_finding_is_explained_by_the_deepest_present_cause(
    present: list[tuple[str, str]], explained: dict[str, str],
) -> None:
    """`link` sets explained_by along the declared graph, preferring the cause with the longest chain above it."""
    linked = link([_finding(kind, severity) for kind, severity in present])
    assert {f.id: f.explained_by for f in linked if f.explained_by} == explained


def test_depth_counts_the_chain_below() -> None:
    """Causal depth is the length of the longest chain of present findings a finding explains."""
    linked = link([_finding("ts-control-error", "error"), _finding("tailnet-down", "critical"),
                   _finding("cr-http-5xx", "error", role="symptom")])
    assert depths(linked) == {"ts-control-error": 2, "tailnet-down": 1, "cr-http-5xx": 0}


def test_a_cause_ranks_above_its_more_severe_symptoms() -> None:
    """Severity is not causality: the control error (error) ranks above the CRITICAL tailnet-down it explains."""
    result = run(
        STARTED,
        said('2026/12/08 01:00:01 Received error: fetch control key: Get "http://10.0.0.1:9/key?v=142": dial tcp '
             "10.0.0.1:9: connect: connection refused", 1),
        said('timeout waiting for Tailscale service to enter a Running state; check health with "tailscale status"',
             30, event="tailscale.up_line"),
        rt("socks.connect_failed", "no SOCKS server answered at socks5://127.0.0.1:1055", 31, "ERROR", "proxy"),
    )
    order = [f.id for f in result.findings if not f.noise]
    assert order[0] == "ts-control-error"
    assert order.index("tailnet-down") > 0
    assert _by_id(result)["tailnet-down"].severity == "critical"


# ---- severity from the words --------------------------------------------------------------------------


def test_a_dial_refused_by_the_dev_box_at_info_is_a_cause() -> None:
    """tailscaled's 'connection was refused' relayed at INFO is the first finding, at error level."""
    result = run(STARTED, RUNNING, said("2026/12/08 01:00:05 socks5: client connection failed: connect tcp "
                                        "100.64.0.1:8080: connection was refused", 5))
    assert result.has_errors
    assert (result.findings[0].id, result.findings[0].severity) == ("ts-target-refused", "error")


COLD = ("2026/12/08 01:00:00 magicsock: odd start-up hiccup failed: try again",
        "2026/12/08 01:00:00 wgengine: cannot set buffer yet")


@pytest.mark.parametrize(
    ("lines", "loud"),
    [
        # failure words in the milliseconds before Running: routine, nothing raised
        ((STARTED, *(said(t, 0.2) for t in COLD), *(said(t, 0.4) for t in COLD), RUNNING), False),
        # the same words recurring long after Running: evidence, a warning
        ((STARTED, RUNNING, *(said(t, 40) for t in COLD), *(said(t, 50) for t in COLD)), True),
        # a start that never reached Running keeps them as evidence
        ((STARTED, *(said(t, 0.2) for t in COLD), *(said(t, 0.4) for t in COLD)), True),
        # once outside start-up is not yet evidence
        ((STARTED, RUNNING, said(COLD[0], 40)), False),
    ],
    ids=["cold-start", "recurring-later", "never-running", "once"],
)
def test_routine_failure_words_need_evidence(lines: tuple[str, ...], loud: bool) -> None:
    """A noisy component's failure words raise a warning only with evidence (repetition outside a good start)."""
    found = [f for f in run(*lines).findings if f.severity in ("critical", "error", "warning")]
    assert bool(found) is loud, [f.title for f in found]


# ---- which app ------------------------------------------------------------------------------------------


def _rejected(path: str, at: float = 1) -> str:
    return rt("ws.upgrade_rejected", f"the target answered the WebSocket upgrade of {path} with HTTP 403", at,
              "WARNING", "proxy", path=path, status=403)


@pytest.mark.parametrize(
    ("lines", "app", "fix_has"),
    [
        ((_rejected("/stable-1a2b3c/"),
          '[2026-12-08T01:00:00Z] debug host "h:8080" does not match origin "x.run.app"; blocking request'),
         "code-server", "--trusted-origins"),
        ((_rejected("/api/kernels/5d2f/channels"),), "Jupyter", "allow_origin"),
        ((_rejected("/"), "[vite] Blocked request. This host (\"x.run.app\") is not allowed."), "Vite",
         "server.allowedHosts"),
        ((_rejected("/socket"),), "generic app", "Origin"),
    ],
    ids=["code-server", "jupyter", "vite", "generic"],
)
def test_the_refusing_app_is_named_from_its_lines(lines: tuple[str, ...], app: str, fix_has: str) -> None:
    """An origin refusal names the app whose shape the lines have, with that app's fix; never code-server's
    for another app."""
    top = run(*lines).findings[0]
    assert top.id in ("dp-upgrade-403", "cs-origin-mismatch")
    assert app in top.title
    assert fix_has in top.fix
    if app != "code-server":
        assert "code-server" not in top.title + top.fix + top.cause


# ---- the JSON contract ------------------------------------------------------------------------------------


def test_json_findings_carry_severity_cause_fix_evidence_and_explained_by() -> None:
    """--json keeps its keys, most important first, and a symptom names the finding that explains it."""
    result = run(STARTED, said("flag provided but not defined: -bogus", 1), exited(2))
    document = json.loads(diagnosis_json(result))
    first, *rest = document["findings"]
    assert first["id"] == "ts-unknown-flag"
    for finding in document["findings"]:
        assert {"severity", "title", "cause", "fix", "evidence", "explained_by"} <= finding.keys()
    assert {f["id"]: f["explained_by"] for f in rest if not f["noise"]} == {"dp-tailscaled-exited": "ts-unknown-flag"}


def test_the_hourly_cut_and_devproxys_own_max_age_close_raise_nothing() -> None:
    """WebSockets devproxy closes with 1001 for max age, the 101s that end then, and an idle cold start are
    expected: no finding at warning level or above."""
    request = json.dumps({
        "logName": "projects/p/logs/run.googleapis.com%2Frequests", "timestamp": "2026-12-08T00:00:01Z",
        "severity": "INFO", "httpRequest": {"requestMethod": "GET", "requestUrl": "https://x.run.app/stable-1/",
                                            "status": 101, "latency": "3540.300s"},
    })
    closes = [rt("ws.closed", "WebSocket /stable-1/ closed by proxy", 3541 + n, close_code=1001, closed_by="proxy",
                 why="max_age", component="proxy") for n in range(3)]
    result = run(STARTED, said("2026/12/08 01:00:00 health(warnable=warming-up): error: Tailscale is starting.", 0.1),
                 RUNNING, request, *closes)
    assert [f.id for f in result.findings if f.severity != "info"] == []
    assert any(f.id == "dp-ws-max-age" and f.noise for f in result.findings)
