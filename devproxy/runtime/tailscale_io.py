"""tailscaled's and the tailscale CLI's processes: bounded runs, masked output as structured lines.

The supervisor decides what to run and when; this module runs it with bounded waits, re-emits
every output line (component "tailscaled") with the auth key masked, and notes when a line says
the control plane rejected the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from typing import Any

from devproxy import events
from devproxy.contract import SECRET_ENV
from devproxy.runtime.children import Child, spawn
from devproxy.runtime.log import EventLog
from devproxy.runtime.tailscale import AUTH_KINDS, TailscaleSettings, classify_line, redact


class TailscaleIO:
    """Runs tailscale's children and relays their output; holds the helpers still running."""

    def __init__(self, settings: TailscaleSettings, log: EventLog, env: Mapping[str, str] | None) -> None:
        self.settings = settings
        self.log = log
        self._env = env
        #: CLI runs in progress (stop() kills them).
        self.helpers: set[Child] = set()
        #: exits of children killed before anyone held them; stop() waits for their reaping.
        self.pending: set[asyncio.Future[Any]] = set()
        #: the kind of the first auth-key rejection seen in this generation's output.
        self.auth_failure: str | None = None

    async def spawn(self, argv: list[str]) -> Child:
        """Start one child without the secrets. Raises: OSError when it cannot start."""
        return await spawn(argv, self.child_env(), self.pending)

    async def run_cli(self, argv: list[str], timeout_s: float, line_event: str | None) -> tuple[int | None, str]:
        """Run the tailscale CLI with a bound; return (exit code or None when killed, masked output)."""
        try:
            proc = await spawn(argv, self.child_env(), self.pending)
        except OSError as exc:
            message = f"could not run {argv[0]}: {exc.strerror or exc}"
            self.log.error(
                events.TAILSCALE_CLI_FAILED, message, component="supervisor",
                hint="install tailscale or set DEVPROXY_TAILSCALE",
            )
            return None, message
        self.helpers.add(proc)

        async def collect() -> bytes:
            data = await proc.output.read()
            await proc.wait()
            return data

        try:
            out = await asyncio.wait_for(collect(), timeout=timeout_s)
        except TimeoutError:
            proc.kill_group()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=2.0)
            return None, f"{argv[0]} {argv[2]} did not finish within {timeout_s:g} s"
        finally:
            self.helpers.discard(proc)
            if proc.returncode is None:
                # Cancelled mid-call: the CLI must not outlive its caller, and must be reaped.
                proc.kill_group()
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(proc.wait(), timeout=2.0)
        text = redact(out.decode("utf-8", "replace"), self.settings.authkey)
        if line_event is not None:
            for line in text.splitlines():
                if line.strip():
                    self.emit_line(line_event, line)
        return proc.returncode, text

    async def pump(self, reader: asyncio.StreamReader, event: str) -> None:
        """Re-emit each output line as a structured record; over-long lines are cut, not fatal."""
        while True:
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    self.emit_line(event, exc.partial.decode("utf-8", "replace"))
                return
            except asyncio.LimitOverrunError as exc:
                raw = await reader.readexactly(exc.consumed)
                self.emit_line(event, raw.decode("utf-8", "replace") + " [line truncated]")
                continue
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                self.emit_line(event, line)

    def emit_line(self, event: str, line: str) -> None:
        """One masked output line as a record; a rejected auth key is noted once and logged as an error."""
        line = redact(line, self.settings.authkey)
        signature = classify_line(line)
        severity = "INFO"
        fields: dict[str, Any] = {}
        if signature is not None:
            severity = "WARNING"
            fields["signature"] = signature.kind
        self.log.emit(severity, event, line, component="tailscaled", **fields)
        if signature is not None and signature.kind in AUTH_KINDS and self.auth_failure is None:
            self.auth_failure = signature.kind
            self.log.error(
                events.TAILSCALE_AUTH_FAILED, f"{signature.cause}: {signature.fix}", component="supervisor",
                kind=signature.kind, hint=signature.fix,
            )

    async def terminate(self, proc: Child) -> None:
        """SIGTERM, then SIGKILL to the group after 5 s; always reaped."""
        if proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=5.0)
        except TimeoutError:
            proc.kill_group()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=2.0)

    def child_env(self) -> dict[str, str]:
        """The environment for children: the secrets are never handed on."""
        base = os.environ if self._env is None else self._env
        return {k: v for k, v in base.items() if k not in SECRET_ENV}
