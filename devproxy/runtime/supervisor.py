"""Keeps tailscaled running and logged in, and says whether the tailnet is usable.

State machine: starting (tailscaled spawned, waiting for its socket) -> logging-in (`tailscale
up`, then `status --json` polls) -> running (BackendState "Running") -> backoff (tailscaled
exited, or login failed; capped exponential pause) -> starting ... ; stop() -> stopped.

After a freeze (`after_thaw`) the path is probed at once; a stale one restarts tailscaled without a
pause, and a node that needs a login again gets one at once. Every wait is bounded (DESIGN rule 1);
tailscale_io.py runs the children and re-emits their output, masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import Any

from devproxy import events
from devproxy.errors import TailscaleError
from devproxy.runtime.children import Child
from devproxy.runtime.freeze import Freeze
from devproxy.runtime.log import EventLog
from devproxy.runtime.snapshots import TailscaleCheck, WatchdogView
from devproxy.runtime.tailscale_io import TailscaleIO
from devproxy.runtime.watchdog import Watchdog, probe_interval, socks_probe
from devproxy.runtime.config_tailscale import TailscaleSettings, credential_mode
from devproxy.runtime.tailscale import (
    TailscaleStatus,
    backoff_delay,
    parse_status,
    status_argv,
    tailscaled_argv,
    up_argv,
)

STATES = ("starting", "logging-in", "running", "backoff", "stopped")
_SOCKET_POLL_S = 0.05


class _Restart(Exception):
    """Ends one tailscaled generation early (login failed, or the node dropped out)."""

    def __init__(self, reason: str, *, auth: bool = False, at_once: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.auth = auth
        #: restart without a pause (a stale path after a freeze: waiting cannot help).
        self.at_once = at_once


class Supervisor:
    """Runs tailscaled as a child, logs it in with `tailscale up`, restarts it when it dies."""

    def __init__(self, settings: TailscaleSettings, log: EventLog) -> None:
        self.settings = settings
        self.log = log
        self.state = "stopped"
        self.detail = "not started"
        self.restarts = 0
        self.backend_state = ""
        self._io = TailscaleIO(settings, log)
        self._task: asyncio.Task[None] | None = None
        self._proc: Child | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._running_since: float | None = None
        self.watchdog = Watchdog(settings.watchdog_s or 0.0)
        #: set once the tailnet path is known to work (after a thaw: checked since).
        self._path_ok = asyncio.Event()
        self._thawed = False
        #: the last login was refused: a thaw changes nothing (readiness says why), so it waits for no check.
        self._refused = False

    # -- public surface -------------------------------------------------------------------

    async def start(self) -> None:
        """Start supervising in a background task and return at once."""
        if self._task is not None:
            return
        self._stopping = False
        self._set_state("starting", "starting tailscaled")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tailscaled-supervisor")
        # The failure is logged by _run itself; retrieving it here keeps asyncio quiet about it.
        self._task.add_done_callback(lambda t: None if t.cancelled() else t.exception())

    async def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM tailscaled (it logs the ephemeral node out), SIGKILL after `grace_s`."""
        self._stopping = True
        self._wake.set()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self.log.info(
                events.TAILSCALED_STOPPING, "sending SIGTERM to tailscaled", component="supervisor",
                pid=proc.pid, grace_s=grace_s,
            )
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        helpers = self._io.kill_helpers()
        if proc is not None and proc.returncode is None:
            try:
                await asyncio.wait_for(proc.wait(), timeout=grace_s)
            except TimeoutError:
                self.log.warning(
                    events.TAILSCALED_KILLED, f"tailscaled did not exit within {grace_s:g} s of SIGTERM; "
                    "sending SIGKILL", component="supervisor", pid=proc.pid,
                )
                proc.kill_group()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), timeout=2.0)
        await self._io.reap(helpers, pending=False)
        task, self._task = self._task, None
        if task is not None:
            # The loop sees _stopping and returns on its own; the bound only guards a bug.
            done, _ = await asyncio.wait({task}, timeout=2.0)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, timeout=1.0)
        await self._io.reap([], pending=True)
        self._set_state("stopped", "stopped")

    def snapshot(self) -> TailscaleCheck:
        """tailscaled's state for the status page and readiness: ok only while it reports Running."""
        watchdog = None
        if self.watchdog.failing_since is not None:
            watchdog = WatchdogView(
                failing_s=round(time.monotonic() - self.watchdog.failing_since, 1),
                restart_after_s=self.watchdog.current_bound_s, last_error=self.watchdog.last_error,
            )
        return TailscaleCheck(ok=self.state == "running", state=self.state, detail=self.detail,
                              backend_state=self.backend_state, restarts=self.restarts, watchdog=watchdog,
                              credential=credential_mode(self.settings.credential))

    async def after_thaw(self, freeze: Freeze | None = None) -> None:
        """Check the tailnet path now and return once it works (the caller bounds the wait).

        A thawed tailscaled may fail every dial until it restarts (tailscale#20331), or its node may
        have been removed meanwhile (NeedsLogin): the watch loop probes at once, logs in again or
        restarts tailscaled without a pause, and sets the path as working once a probe passes.
        """
        if self._refused:
            return
        self._path_ok.clear()
        self._thawed = True
        self._wake.set()
        await self._path_ok.wait()

    def check(self) -> dict[str, Any]:
        """Readiness view (the JSON of `snapshot`)."""
        return self.snapshot().as_json()

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._supervise()
        except Exception as exc:
            # Readiness must not keep saying "running" for a tailnet nobody watches any more.
            self._set_state("stopped", f"supervision failed: {exc!r}")
            self.log.error(
                events.SUPERVISOR_CRASHED, f"tailscaled supervision stopped: {exc!r}", component="supervisor"
            )
            raise

    async def _supervise(self) -> None:
        attempt = 0
        while not self._stopping:
            ran_s, reason, auth, at_once = await self._generation()
            if self._stopping:
                return
            # Only a node that stayed up for a while earns a fresh start of the backoff;
            # one that flaps right after reaching Running keeps backing off.
            if ran_s >= 2 * self.settings.backoff_max_s:
                attempt = 0
            self._refused = auth
            if auth:
                delay = max(self.settings.auth_backoff_s, self.settings.backoff_max_s)
            elif at_once:
                delay = 0.0
            else:
                delay = backoff_delay(attempt, self.settings.backoff_initial_s, self.settings.backoff_max_s)
            attempt += 1
            self.restarts += 1
            self._set_state("backoff", f"{reason}; restarting in {delay:g} s")
            self.log.warning(
                events.TAILSCALED_RESTART, f"restarting tailscaled in {delay:g} s ({reason})",
                component="supervisor", delay_s=delay, attempt=attempt,
            )
            await self._sleep(delay)
            if not self._stopping:
                self._set_state("starting", "starting tailscaled")

    async def _generation(self) -> tuple[float, str, bool, bool]:
        """Run one tailscaled process to its end: (seconds it was Running, why it ended, credential
        rejected, restart at once)."""
        self._io.auth_failure = None
        self._running_since = None
        self.backend_state = ""
        argv = tailscaled_argv(self.settings)
        try:
            os.makedirs(self.settings.state_dir, mode=0o700, exist_ok=True)
            # A stale socket from a killed predecessor would look like readiness.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.settings.socket)
            proc = await self._io.spawn(argv)
        except OSError as exc:
            reason = f"could not start tailscaled ({argv[0]}): {exc.strerror or exc}"
            self.log.error(
                events.TAILSCALED_START_FAILED, reason, component="supervisor",
                hint="install tailscaled or set DEVPROXY_TAILSCALED; pass --no-tailscale if it runs elsewhere",
            )
            return 0.0, reason, False, False
        self._proc = proc
        if self._stopping:
            # stop() ran while the process was being spawned and could not signal it.
            await self._io.terminate(proc)
        self.log.info(
            events.TAILSCALED_STARTED, f"tailscaled started (pid {proc.pid})", component="supervisor",
            pid=proc.pid, argv=argv,
        )
        pump = asyncio.create_task(self._io.pump(proc.output, events.TAILSCALED_LINE), name="tailscaled-output")
        login = asyncio.create_task(self._login_and_watch(proc), name="tailscaled-login")
        exited = asyncio.create_task(proc.wait(), name="tailscaled-wait")
        reason = ""
        auth = at_once = False
        try:
            await asyncio.wait({login, exited}, return_when=asyncio.FIRST_COMPLETED)
            if login.done() and not login.cancelled():
                failure = login.exception()
                if isinstance(failure, _Restart) and not self._stopping:
                    reason, auth, at_once = failure.reason, failure.auth, failure.at_once
                    await self._io.terminate(proc)
                elif failure is not None:
                    raise failure
            if proc.returncode is None:
                await exited
        finally:
            for task in (login, exited):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.gather(login, exited, return_exceptions=True), 2.0)
            # Output ends when the pipe closes; the bound covers a grandchild holding it open.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pump), 1.0)
            if not pump.done():
                pump.cancel()
            if proc.returncode is None:
                # Only reached when this task is torn down abnormally: never leave tailscaled behind.
                proc.kill_group()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), timeout=2.0)
            self._proc = None
        code = proc.returncode
        self.log.emit(
            "INFO" if self._stopping else "WARNING", events.TAILSCALED_EXITED,
            f"tailscaled exited with code {code}", component="supervisor", returncode=code,
        )
        if not reason:
            reason = f"tailscaled exited with code {code}"
        if self._io.auth_failure is not None:
            auth = True
        ran_s = 0.0 if self._running_since is None else time.monotonic() - self._running_since
        return ran_s, reason, auth, at_once

    async def _login_and_watch(self, proc: Child) -> None:
        """Wait for the socket, run `tailscale up`, then poll status for as long as tailscaled lives."""
        s = self.settings
        deadline = time.monotonic() + s.up_timeout_s
        while not os.path.exists(s.socket):
            if time.monotonic() > deadline:
                raise _Restart(f"tailscaled did not create its socket {s.socket} within {s.up_timeout_s:g} s")
            await asyncio.sleep(_SOCKET_POLL_S)
        self._set_state("logging-in", "running tailscale up")
        await self._up()
        self._check_auth()
        # Poll until Running within the login deadline, then keep watching.
        deadline = time.monotonic() + s.up_timeout_s
        interval = s.poll_initial_s
        while proc.returncode is None:
            status = await self._status()
            self._check_auth()
            thawed, self._thawed = self._thawed, False
            if status is not None and status.running:
                if self.state != "running":
                    self._running_since = time.monotonic()
                    ips = ", ".join(status.self_ips)
                    self._set_state("running", f"BackendState Running{f' ({ips})' if ips else ''}")
                deadline = time.monotonic() + s.up_timeout_s
                interval = s.running_poll_s
                if s.watch_target is not None and s.watchdog_s is not None:
                    interval = probe_interval(s.watchdog_s, s.running_poll_s)
                if s.watch_target is not None and (thawed or s.watchdog_s is not None):
                    await self._watch(*s.watch_target, after_thaw=thawed)
                self._path_ok.set()
            else:
                self.watchdog.paused()
                seen = status.backend_state if status is not None else "unknown"
                if self.state == "running":
                    again = "; the node was removed, logging in again at once" if seen == "NeedsLogin" else ""
                    self._set_state("logging-in", f"BackendState {seen} (was Running){again}")
                    # The deadline counts from now, not from the last poll (which a freeze may have preceded).
                    deadline = time.monotonic() + s.up_timeout_s
                    interval = s.poll_initial_s
                    if seen == "NeedsLogin":
                        # An ephemeral node removed while the instance was frozen: waiting cannot bring it back.
                        await self._up()
                        self._check_auth()
                        continue
                elif self.state == "logging-in":
                    self.detail = f"waiting for BackendState Running (now {seen})"
                if time.monotonic() > deadline:
                    raise _Restart(f"tailscaled did not reach Running within {s.up_timeout_s:g} s (BackendState {seen})")
                interval = min(interval * 2, s.poll_max_s)
            await self._sleep(interval)

    async def _watch(self, host: str, port: int, *, after_thaw: bool = False) -> None:
        """One probe through tailscaled's SOCKS server. Raises: _Restart when the watchdog's bound
        passed, or at once when the first probe after a thaw fails (a thawed tailscaled stays stale)."""
        s = self.settings
        error = await socks_probe(s.socks_host, s.socks_port, host, port, s.status_timeout_s + 5.0)
        if after_thaw and error is not None:
            self.log.warning(
                events.TAILSCALED_WATCHDOG, f"restarting tailscaled at once: after a freeze the tailnet path "
                f"fails ({error})", component="supervisor", target=f"{host}:{port}", error=error, thaw=True,
            )
            raise _Restart(f"stale after a freeze: {error}", at_once=True)
        if s.watchdog_s is None:
            return
        reason = self.watchdog.record(error is None, time.monotonic(), error or "")
        if reason is None:
            return
        self.log.warning(
            events.TAILSCALED_WATCHDOG, f"restarting tailscaled: BackendState is Running but {reason}",
            component="supervisor", target=f"{host}:{port}", reason=reason, error=error,
            next_bound_s=self.watchdog.current_bound_s,
        )
        raise _Restart(f"watchdog: {reason}")

    async def _up(self) -> None:
        """`tailscale up` with the credential (or a fresh ID token) in a 0600 file that exists only while `up` runs."""
        try:
            code, output = await self._io.up()
        except TailscaleError as exc:
            # Only the keyless login asks something before `up`: the metadata server.
            self.log.error(events.TAILSCALE_UP_FAILED, f"keyless login: {exc.message}", component="supervisor",
                           hint=exc.hint)
            raise _Restart(f"keyless login: {exc.message}") from None
        if code == 0:
            self.log.info(events.TAILSCALE_UP, "tailscale up finished", component="supervisor")
            return
        self._check_auth()
        last = output.strip().splitlines()[-1] if output.strip() else "no output"
        self.log.warning(
            events.TAILSCALE_UP_FAILED, f"tailscale up failed (exit {code}): {last}", component="supervisor",
            returncode=code,
        )
        raise _Restart(f"tailscale up failed (exit {code}): {last}")

    async def _status(self) -> TailscaleStatus | None:
        code, output = await self._io.run_cli(status_argv(self.settings), self.settings.status_timeout_s, None)
        try:
            status = parse_status(output)
        except TailscaleError:
            self.detail = f"tailscale status failed (exit {code}): {output.strip()[:200] or 'no output'}"
            return None
        if status.backend_state != self.backend_state:
            self.log.info(
                events.TAILSCALE_BACKEND_STATE, f"BackendState {status.backend_state}", component="supervisor",
                backend_state=status.backend_state,
            )
        self.backend_state = status.backend_state
        return status

    def _check_auth(self) -> None:
        if self._io.auth_failure is not None:
            raise _Restart(f"the control plane refused the login: {self._io.auth_message}", auth=True)

    # -- helpers --------------------------------------------------------------------------

    async def _sleep(self, delay: float) -> None:
        """Sleep, but wake at once when stop() is called or a thaw asks for a check now."""
        self._wake.clear()
        if self._stopping or self._thawed:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def _set_state(self, state: str, detail: str) -> None:
        changed = state != self.state
        self.state = state
        self.detail = detail
        if changed:
            self.log.emit(
                "WARNING" if state == "backoff" else "INFO", events.TAILSCALED_STATE,
                f"tailscale {state}: {detail}", component="supervisor", state=state, detail=detail,
            )
