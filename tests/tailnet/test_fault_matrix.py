"""The fault matrix, live: every fault injected into the real tailnet is named first by the diagnosis, with its fix."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from devproxy.logs.correlate import diagnose
from devproxy.logs.findings import Finding
from devproxy.logs.source import parse_text
from tailnet.fault_matrix import FIXTURES, RECORD_COMMAND, Fault, Recording, World, capture, save
from tailnet.faults import FAULTS, healthy
from tailnet.tailnet_netns import Netns
from tailnet.tailnet_procs import Binaries, Control, Node

# Out of the default run: on the merged runtime (one config value, credential modes, routes) it fails, and a
# failure leaves a frozen runtime whose wait never ends. The committed captures are still replayed by
# tests/logs/test_faults.py in every run.
pytestmark = pytest.mark.fault_matrix

#: runtimes (each with its own tailscaled) started at once: more only queue for the CPU.
CONCURRENT = 5


def _first(entries: list[dict[str, Any]]) -> Finding | None:
    result = diagnose(parse_text(json.dumps(entries)).entries)
    return result.findings[0] if result.findings else None


def named(fault: Fault, top: Finding | None) -> bool:
    """Whether the first finding is the injected cause, at warning level or above, with the fix's words."""
    return (
        top is not None and top.id == fault.expect and top.severity in ("critical", "error", "warning")
        and all(w.lower() in top.fix.lower() for w in fault.fix_words)
        and all(w.lower() in top.cause.lower() for w in fault.cause_words)
    )


async def test_every_injected_fault_is_named_first_with_its_fix(
    bins: Binaries, control: Control, netns: Netns, devbox: Node, dev_port: int, devbox_ip: str, tmp_path: Path,
) -> None:
    """Each fault (at least 15) is made for real; the runtime's own output, shaped as Cloud Run's logs, is
    diagnosed, and the first finding is the injected cause with a fix naming what to change; a run without a
    fault (cold start, traffic, scale-in) raises nothing at warning level or above."""
    assert len(FAULTS) >= 15
    world = World(bins, control, netns, dev_port, devbox_ip, tmp_path)
    loop = asyncio.get_running_loop()
    started = loop.time()
    shared = [f for f in FAULTS if not f.exclusive]
    gate = asyncio.Semaphore(CONCURRENT)

    async def one(fault: Fault) -> Recording:
        async with gate:
            return await fault.run(world)

    *made, calm = await asyncio.wait_for(asyncio.gather(*(one(f) for f in shared), healthy(world)), 240)
    recordings = dict(zip([f.name for f in shared], made, strict=True))
    for fault in (f for f in FAULTS if f.exclusive):  # they change the shared dev box's network
        recordings[fault.name] = await asyncio.wait_for(fault.run(world), 90)
    print(f"fault matrix: {len(FAULTS)} faults made in {loop.time() - started:.0f} s")
    record = os.environ.get("DEVPROXY_RECORD_FAULTS") == "1"
    score: list[tuple[str, str, str, bool]] = []
    manifest: dict[str, Any] = {"command": RECORD_COMMAND, "faults": {}}
    for fault in FAULTS:
        entries = capture(recordings[fault.name])
        top = await asyncio.to_thread(_first, entries)
        score.append((fault.name, fault.expect, top.id if top else "", named(fault, top)))
        if record:
            save(fault.name, entries, world)
            manifest["faults"][fault.name] = {"what": fault.what, "expect": fault.expect,
                                              "fix_words": list(fault.fix_words),
                                              "cause_words": list(fault.cause_words)}
    calm_entries = capture(calm)
    calm_top = await asyncio.to_thread(_first, calm_entries)
    loud = [] if calm_top is None or calm_top.severity == "info" else [calm_top.id]
    if record:
        save("healthy-cold-start-and-scale-in", calm_entries, world)
        manifest["healthy"] = ["healthy-cold-start-and-scale-in"]
        (FIXTURES / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    assert loud == [], "the fault-free run raised a finding at warning level or above"
    for name, expect, top, ok in score:
        print(f"{'PASS' if ok else 'FAIL'} {name}: expected {expect}, first finding {top}")
    print(f"fault matrix score: {sum(ok for *_, ok in score)}/{len(score)}")
    assert [name for name, *_, ok in score if not ok] == []
