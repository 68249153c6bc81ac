"""The slow-callback guard (tests/conftest.py) fails what product code must not do to the event loop, and
only that, also while the machine is busy (CPU contention is not counted as blocking)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
#: each case of loop_guard_cases.py and whether the guard must fail it.
EXPECTED = {
    "case_product_sleeps_in_a_callback": "time.sleep in an event loop callback",
    "case_product_connects_a_blocking_socket": "socket.connect in an event loop callback",
    "case_product_resolves_a_name": "socket.getaddrinfo in an event loop callback",
    "case_product_runs_a_subprocess": "subprocess.Popen in an event loop callback",
    "case_a_callback_burns_cpu": "s of CPU",
    "case_waits_without_blocking": None,
    "case_product_starts_a_child_the_asyncio_way": None,
    "case_product_spawns_without_waiting": None,
    "case_test_code_sleeps_briefly": None,
}


def run_cases(busy: int) -> dict[str, str]:
    """Run the cases in a child pytest beside `busy` processes that spin on the CPU; case -> its outcome."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "-o", "python_files=loop_guard_cases.py",
             "-o", "python_functions=case_*", str(TESTS / "loop_guard_cases.py")],
            capture_output=True, text=True, timeout=120, cwd=TESTS.parent, env={**os.environ, "COLUMNS": "4000"},
        )
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait(5)
    outcomes: dict[str, str] = {}
    for line in result.stdout.splitlines():
        match = re.match(r"(PASSED|ERROR|FAILED) \S+::(case_\w+)(?: - (.*))?", line)
        if match:
            outcomes[match[2]] = outcomes.get(match[2], "") + f"{match[1]} {match[3] or ''}".strip() + " | "
    assert set(outcomes) == set(EXPECTED), result.stdout[-3000:]
    return outcomes


@pytest.mark.parametrize("busy", [0, 4], ids=["idle", "four-cpu-spinners"])
def test_the_guard_fails_blocking_and_only_blocking(busy: int) -> None:
    """Sleep, a blocking connect, DNS and subprocess.run from product code inside a callback, and a callback
    burning 250 ms of CPU, fail their test; waiting, a bare Popen (fork and exec, as asyncio and the
    runtime's own spawn do) and test code pass,
    with the CPU idle and with four processes spinning on the machine's two cores."""
    outcomes = run_cases(busy)
    for case, words in EXPECTED.items():
        if words is None:
            assert outcomes[case] == "PASSED | ", (case, outcomes[case])
        else:
            assert "ERROR" in outcomes[case] and words in outcomes[case], (case, outcomes[case])
