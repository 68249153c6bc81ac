"""The tailscaled supervisor against stand-in tailscaled/tailscale scripts that run a real microsocks.

The real tailscaled (tests/tailnet) proves login, readiness, crash-restart with capped backoff, a
rejected key, SIGTERM and logout, secrets kept out of children. What stays here is what the real
daemon cannot be made to do on this machine: print a line that leaks the key (to prove masking),
ignore SIGTERM, reject tags (testcontrol does not model tag ownership at signup), hang inside
`tailscale up`, print an exact known set of lines, drop out of Running on cue, or run where
pidfd_open is missing.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from support.tailscale_standins import KEY, Standin, alive, wait_until
from devproxy.runtime.config_tailscale import AuthKey

PLAIN_KEY = "plain-secret-Zq81xVw0"  # not shaped like a Tailscale key: only exact-match masking hides it


@pytest.mark.parametrize("key", [KEY, PLAIN_KEY])
async def test_auth_key_never_appears_in_logs_argv_or_child_env(standin: Standin, key: str) -> None:
    """The key reaches `tailscale up` only through a 0600 file that is gone afterwards."""
    standin.control("up.mode", "leak-key")
    sup = standin.supervisor(credential=AuthKey(key))
    await sup.start()
    try:
        await wait_until(lambda: bool(standin.events("tailscale.auth_failed")), what="the leaked line")
    finally:
        await sup.stop(grace_s=1)
    assert standin.record("keyfile.seen") == key  # the CLI really got the key ...
    assert standin.record("keyfile.mode").strip() == "600"  # ... from a private file
    assert key not in standin.out.getvalue()  # ... and no log line shows it,
    assert "REDACTED" in standin.out.getvalue()
    assert key not in standin.record("tailscale.calls")  # no argv,
    assert key not in standin.record("tailscaled.argv")
    assert not [p for p in Path(sup.settings.state_dir).iterdir() if p.name.startswith(".authkey")]
    environ = [Path(f"/proc/{pid}/environ") for pid in standin.record("tailscaled.starts").split()]
    assert all(not p.exists() or key.encode() not in p.read_bytes() for p in environ)


async def test_stop_kills_a_tailscaled_that_ignores_sigterm(standin: Standin) -> None:
    """A tailscaled that ignores SIGTERM is SIGKILLed (with its process group) once the grace is over."""
    standin.control("tailscaled.mode", "ignore-term")
    sup = standin.supervisor()
    await sup.start()
    await wait_until(lambda: sup.check()["ok"] is True, what="Running")
    started = time.monotonic()
    await sup.stop(grace_s=0.5)
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 2.0
    assert standin.record("tailscaled.signals").split() == ["TERM"]
    assert len(standin.events("tailscaled.killed")) == 1
    assert [r["returncode"] for r in standin.events("tailscaled.exited")] == [-signal.SIGKILL]
    assert sup.check()["state"] == "stopped"
    pids = [int(p) for p in standin.record("microsocks.pids").split()]
    await wait_until(lambda: not any(alive(p) for p in pids), timeout=2, what="microsocks to die")


async def test_every_tailscaled_line_is_reemitted(standin: Standin) -> None:
    """tailscaled output becomes one structured record per line, component tailscaled, verbatim."""
    noise = "magicsock: failed to force-set UDP read buffer size to 7340032: operation not permitted"
    standin.control("tailscaled.say", noise + "\n" + f"oops {KEY} printed\n")
    sup = standin.supervisor()
    await sup.start()
    try:
        await wait_until(lambda: sup.check()["ok"] is True, what="Running")
    finally:
        await sup.stop(grace_s=1)
    records = standin.events("tailscaled.line")
    assert all(r["component"] == "tailscaled" for r in records)
    messages = [r["message"] for r in records]
    assert noise in messages
    assert "oops REDACTED printed" in messages
    assert any(m.startswith("SOCKS5 server listening on 127.0.0.1:") for m in messages)
    # The stdout stream holds the same records as JSON lines.
    lines = [json.loads(line) for line in standin.out.getvalue().splitlines()]
    assert noise in [line["message"] for line in lines]


async def test_missing_binary_backs_off_with_a_clear_error(standin: Standin, tmp_path: Path) -> None:
    """A tailscaled that cannot be executed is an ERROR naming the fix, then backoff, never a crash."""
    sup = standin.supervisor(tailscaled=str(tmp_path / "nope" / "tailscaled"))
    await sup.start()
    try:
        await wait_until(lambda: len(standin.events("tailscaled.restart")) >= 2, what="two retries")
        failed = standin.events("tailscaled.start_failed")
        assert failed and failed[0]["severity"] == "ERROR"
        assert "DEVPROXY_TAILSCALED" in failed[0]["hint"]
        assert sup.check()["ok"] is False
    finally:
        await sup.stop(grace_s=1)
    assert sup.check()["state"] == "stopped"


async def test_node_dropping_out_of_running_makes_readiness_fail(standin: Standin) -> None:
    """When BackendState leaves Running (not for a login) the supervisor reports it, then restarts after the deadline."""
    sup = standin.supervisor(up_timeout_s=0.5)
    await sup.start()
    try:
        await wait_until(lambda: sup.check()["ok"] is True, what="Running")
        Path(sup.settings.socket + ".state").write_text("Stopped\n")
        await wait_until(lambda: sup.check()["ok"] is False, what="not ready after the drop")
        # After the login deadline the generation is restarted and logs in again.
        await wait_until(lambda: sup.check()["ok"] is True and sup.restarts == 1, what="Running again")
        assert standin.record("tailscale.calls").count("up ") == 2
    finally:
        await sup.stop(grace_s=1)


async def test_hanging_up_is_bounded(standin: Standin) -> None:
    """A `tailscale up` that never returns is killed after its timeout and tailscaled is restarted."""
    standin.control("up.mode", "hang")
    sup = standin.supervisor(up_timeout_s=0.3)
    await sup.start()
    try:
        await wait_until(lambda: bool(standin.events("tailscaled.restart")), timeout=10, what="a restart")
        failed = standin.events("tailscale.up_failed")
        assert failed and "did not finish" in failed[0]["message"]
    finally:
        await sup.stop(grace_s=1)


async def test_rejected_tags_from_tailscaled_stop_the_login_with_the_tags_fix(standin: Standin) -> None:
    """A tag rejection printed by tailscaled is an auth failure naming tagOwners, with the long pause."""
    standin.control("tailscaled.say", "backend error: requested tags [tag:devproxy] are invalid or not permitted\n")
    standin.control("up.mode", "starting")  # up succeeds; the rejection comes from tailscaled's log
    sup = standin.supervisor()
    await sup.start()
    try:
        await wait_until(lambda: sup.check()["state"] == "backoff", what="backoff after the tags were rejected")
        failed = standin.events("tailscale.auth_failed")
        assert len(failed) == 1 and failed[0]["kind"] == "tags_rejected" and "tagOwners" in failed[0]["message"]
        assert [r["delay_s"] for r in standin.events("tailscaled.restart")] == [30.0]
    finally:
        await sup.stop(grace_s=1)


async def test_works_where_pidfd_open_is_unavailable(standin: Standin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pidfd_open (old kernels, seccomp, gVisor) exits are still noticed and reaped."""

    def refuse(pid: int, flags: int = 0) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", refuse)
    standin.control("tailscaled.mode", "crash-once")
    sup = standin.supervisor()
    await sup.start()
    try:
        await wait_until(lambda: sup.check()["ok"] is True and sup.restarts == 1, what="Running after a crash")
    finally:
        await sup.stop(grace_s=1)
    assert [r["returncode"] for r in standin.events("tailscaled.exited")] == [3, 0]
