"""tailscaled's and the tailscale CLI's processes: bounded runs, masked output as structured lines.

The supervisor decides what to run and when; this module runs it with bounded waits, re-emits
every output line (component "tailscaled") through the log's one masker (the credential is
registered with it), and notes when a line says the control plane rejected the credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from typing import Any

from devproxy import events
from devproxy.errors import ConfigError
from devproxy.runtime.children import Child, spawn
from devproxy.runtime.log import EventLog
from devproxy.runtime.config_tailscale import TailscaleSettings, WorkloadIdentity
from devproxy.runtime.metadata import fetch_id_token
from devproxy.runtime.tailscale import AUTH_KINDS, classify_line, secret_file_content, up_argv


def check_binaries(settings: TailscaleSettings) -> None:
    """Both binaries exist and can be run (looked up on the children's PATH). Raises: ConfigError.

    Retrying cannot make a missing program appear: this is a configuration error at start, not a
    reason to back off and try again for ever.
    """
    path = dict(settings.child_env).get("PATH", os.defpath)
    for program, variable in ((settings.tailscaled, "DEVPROXY_TAILSCALED"), (settings.tailscale, "DEVPROXY_TAILSCALE")):
        if shutil.which(program, path=path) is not None:
            continue
        problem = "is not executable" if os.sep in program and os.path.exists(program) else "was not found"
        raise ConfigError(
            f"{program} {problem}" + ("" if os.sep in program else " on PATH"),
            hint=f"install Tailscale or set {variable} to its path; pass --no-tailscale if tailscaled runs elsewhere",
        )


class TailscaleIO:
    """Runs tailscale's children and relays their output; holds the helpers still running."""

    def __init__(self, settings: TailscaleSettings, log: EventLog) -> None:
        self.settings = settings
        self.log = log
        for secret in settings.secrets:
            log.redactor.add(secret)
        #: CLI runs in progress (stop() kills them).
        self.helpers: set[Child] = set()
        #: exits of children killed before anyone held them; stop() waits for their reaping.
        self.pending: set[asyncio.Future[Any]] = set()
        #: the kind of the first auth-key rejection seen in this generation's output.
        self.auth_failure: str | None = None
        #: what the control plane said, in the words of the line that said it.
        self.auth_message = ""

    async def spawn(self, argv: list[str]) -> Child:
        """Start one child without the secrets. Raises: OSError when it cannot start."""
        return await spawn(argv, self.child_env(), self.pending)

    async def up(self) -> tuple[int | None, str]:
        """`tailscale up` once: (exit code or None when killed, masked output). Raises: TailscaleError.

        Keyless logins first fetch a fresh ID token (they last an hour; every login gets its own). The
        whole call is bounded: the token fetch, and `up` including the key minting its --timeout does not cover.
        """
        s = self.settings
        content = secret_file_content(s.credential)
        if isinstance(s.credential, WorkloadIdentity):
            content = await fetch_id_token(s.credential.metadata_host, s.credential.audience,
                                           timeout_s=min(10.0, s.up_timeout_s))
        with _secret_file(s.state_dir, content) as path:
            # `up` has its own --timeout for reaching Running; ours also covers the minting calls before it.
            bound = s.up_timeout_s + min(5.0, max(1.0, s.up_timeout_s))
            return await self.run_cli(up_argv(s, path), bound, events.TAILSCALE_UP_LINE)

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
        text = self.log.redactor.text(out.decode("utf-8", "replace"))
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
        line = self.log.redactor.text(line)
        signature = classify_line(line)
        severity = "INFO"
        fields: dict[str, Any] = {}
        if signature is not None:
            severity = "WARNING"
            fields["signature"] = signature.kind
        self.log.emit(severity, event, line, component="tailscaled", **fields)
        if signature is not None and signature.kind in AUTH_KINDS and self.auth_failure is None:
            self.auth_failure = signature.kind
            self.auth_message = f"{signature.cause} ({_clip(line)})"
            self.log.error(
                events.TAILSCALE_AUTH_FAILED, f"{self.auth_message}: {signature.fix}", component="supervisor",
                kind=signature.kind, hint=signature.fix,
            )

    def kill_helpers(self) -> list[Child]:
        """SIGKILL every CLI run in progress (shutdown); returns them for `reap`."""
        helpers = list(self.helpers)
        for helper in helpers:
            helper.kill_group()
        return helpers

    async def reap(self, helpers: list[Child], *, pending: bool) -> None:
        """Wait (bounded) for `helpers` to exit, and with `pending` also for children killed before anyone held them."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                if helpers:
                    await asyncio.gather(*(h.wait() for h in helpers))
                # Children killed while their spawn was cancelled must be reaped before the loop ends.
                while pending and self.pending:
                    await asyncio.wait(set(self.pending))

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
        """The environment for children, as the config captured it (without the secrets)."""
        return dict(self.settings.child_env)


def _clip(line: str, limit: int = 300) -> str:
    line = line.strip()
    return line if len(line) <= limit else line[:limit] + "..."


@contextlib.contextmanager
def _secret_file(directory: str, content: str | None) -> Iterator[str | None]:
    """A 0600 file holding `content` (mkstemp's mode) for the length of the block; None when there is nothing."""
    if content is None:
        yield None
        return
    fd, path = tempfile.mkstemp(prefix=".authkey-", dir=directory)
    try:
        try:
            os.write(fd, content.encode())
        finally:
            os.close(fd)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
