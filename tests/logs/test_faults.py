"""The fault matrix's captures (real runtime output on the test tailnet, tests/logs/data/faults/) replayed:
each injected fault is the first finding, with its fix; the fault-free run raises nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devproxy.logs.correlate import diagnose
from devproxy.logs.findings import Diagnosis
from devproxy.logs.source import parse_text

FAULTS = Path(__file__).parent / "data" / "faults"
MANIFEST: dict[str, Any] = json.loads((FAULTS / "MANIFEST.json").read_text())


def _diagnose(name: str) -> Diagnosis:
    return diagnose(parse_text((FAULTS / f"{name}.gcloud.json").read_text()).entries)


def test_the_matrix_has_at_least_15_faults_and_says_how_it_was_made() -> None:
    """The fixtures cover 15+ faults and name the command that recorded them."""
    assert len(MANIFEST["faults"]) >= 15
    assert MANIFEST["command"].startswith("DEVPROXY_RECORD_FAULTS=1 scripts/test tests/tailnet/test_fault_matrix.py")
    assert all((FAULTS / f"{name}.gcloud.json").is_file() for name in MANIFEST["faults"])


@pytest.mark.parametrize("name", sorted(MANIFEST["faults"]))
def test_injected_fault_is_the_first_finding_with_its_fix(name: str) -> None:
    """The first finding is the injected cause at warning level or above; its fix names what to change."""
    fault = MANIFEST["faults"][name]
    top = _diagnose(name).findings[0]
    assert top.id == fault["expect"], fault["what"]
    assert top.severity in ("critical", "error", "warning")
    assert all(word.lower() in top.fix.lower() for word in fault["fix_words"]), top.fix
    assert all(word.lower() in top.cause.lower() for word in fault["cause_words"]), top.cause
    assert "findings above" not in top.fix and "cause above" not in top.fix


@pytest.mark.parametrize("name", MANIFEST["healthy"])
def test_fault_free_run_raises_nothing(name: str) -> None:
    """A cold start, a logged-in user's traffic and scale-in: no finding at warning level or above."""
    result = _diagnose(name)
    assert result.entries > 100
    assert [f.id for f in result.findings if f.severity != "info"] == []


def test_every_failure_line_the_matrix_produced_is_recognised_or_routine() -> None:
    """No line of a fault run is left as an unrecognised error: the catalog knows what the real tailscaled said."""
    loose = {
        name: [f.template for f in _diagnose(name).findings if f.role == "unrecognised" and f.severity != "warning"]
        for name in MANIFEST["faults"]
    }
    assert {name: found for name, found in loose.items() if found} == {}
