"""Running the runtime: bind $PORT at once, supervise, shut down cleanly on SIGTERM.

Cloud Run kills a container that does not listen on $PORT quickly, so the server binds first and
reports "not ready" until the tailnet is up. On SIGTERM (10 s before the kill) it stops accepting,
closes every WebSocket with 1001 so VS Code reconnects at once (the target's legs still have the
tunnel), then stops tailscaled (the node logs out) while open HTTP requests drain; every wait is
bounded, and whatever has not finished in time is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from devproxy import __version__, events
from devproxy.errors import ConfigError
from devproxy.runtime import closecodes
from devproxy.runtime.config import RuntimeConfig
from devproxy.runtime.config_tailscale import credential_mode
from devproxy.runtime.deadlines import DeadlineServer
from devproxy.runtime.log import EventLog
from devproxy.runtime.root import Runtime, create_runtime

#: budget for each shutdown phase. The HTTP drain runs alongside tailscaled's logout, so the whole
#: shutdown takes at most WS_CLOSE_GRACE + max(TAILSCALE_GRACE + its SIGKILL wait, 2 * HTTP_DRAIN_GRACE),
#: inside Cloud Run's 10 s.
WS_CLOSE_GRACE = 1.0
TAILSCALE_GRACE = 5.0
HTTP_DRAIN_GRACE = 1.0
#: request line and header field limit (cookies of busy dev servers exceed aiohttp's 8 KiB default).
MAX_HEADER = 65536
#: the longest library message kept in a log line (aiohttp quotes whole request lines).
MAX_LIBRARY_MESSAGE = 400


def serve(config: RuntimeConfig) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code (0 after SIGTERM, 130 after SIGINT)."""
    return int(_loop_runner()(run(config)))


def _loop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop's runner (a plain dependency of the runtime), else asyncio's where it cannot be imported."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


async def run(config: RuntimeConfig, *, log: EventLog | None = None,
              started: asyncio.Future[tuple[str, int]] | None = None,
              stop: asyncio.Event | None = None) -> int:
    log = log or EventLog(text=config.log_format == "text")
    route_library_logs(log)
    runtime = create_runtime(config, log)
    handler = runtime.handler()
    server = DeadlineServer(
        handler, head_timeout=config.timeouts.request_head, log=log, access_log=None,
        keepalive_timeout=config.timeouts.keepalive, max_field_size=MAX_HEADER, max_line_size=MAX_HEADER,
    )
    runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=HTTP_DRAIN_GRACE)
    await runner.setup()
    site = web.TCPSite(runner, config.listen.host, config.listen.port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        runtime.forwarder.close()
        raise ConfigError(f"cannot listen on {config.listen}: {exc.strerror or exc}") from exc
    host, port = _bound_address(runner, config)
    stop = stop or asyncio.Event()
    received: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig.name)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    log.info(
        events.RUNTIME_STARTED,
        f"devproxy {__version__} listening on {host}:{port}, target {config.target}",
        version=__version__,
        listen=f"{host}:{port}",
        port=port,
        target=str(config.target),
        socks=str(config.socks) if config.socks else "none",
        auth=config.auth,
        tailscale=credential_mode(config.tailscale.credential) if config.tailscale is not None else "off",
    )
    if runtime.supervisor is not None:
        await runtime.supervisor.start()
    await runtime.thaw.start()
    if started is not None and not started.done():
        started.set_result((host, port))
    await stop.wait()
    await shutdown(runtime, runner, reason=received[0] if received else "stop requested")
    # Ctrl-C is an interruption (130, the shell's convention); SIGTERM is Cloud Run's normal stop.
    return 130 if received[:1] == ["SIGINT"] else 0


class _LibraryLogs(logging.Handler):
    """Library log records (aiohttp, websockets, asyncio) as structured lines too."""

    def __init__(self, log: EventLog) -> None:
        super().__init__(logging.WARNING)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        fields: dict[str, Any] = {"logger": record.name}
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            # A malformed request: client input, so one line and no traceback. The message quotes
            # the offending bytes; mask secrets before cutting it short (a cut token escapes masks).
            detail = " ".join(str(exc).split())
            text = self._log.redactor.text(f"{message}: {type(exc).__name__}: {detail}")
            self._log.warning(events.HTTP_BAD_REQUEST, _shorten(text), **fields, status=exc.code)
            return
        if record.exc_info and exc is not None:
            message = f"{message}: {type(exc).__name__}: {exc}"
            fields["exception"] = logging.Formatter().formatException(record.exc_info)
        severity = "ERROR" if record.levelno >= logging.ERROR else "WARNING"
        self._log.emit(severity, events.LIBRARY_LOG, _shorten(self._log.redactor.text(message)), **fields)


def _shorten(text: str) -> str:
    if len(text) <= MAX_LIBRARY_MESSAGE:
        return text
    return text[:MAX_LIBRARY_MESSAGE] + "..."


def route_library_logs(log: EventLog) -> None:
    """Send warnings and errors from the libraries through the structured log, once per process."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LibraryLogs):
            root.removeHandler(handler)
    root.addHandler(_LibraryLogs(log))
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)


def _bound_address(runner: web.BaseRunner, config: RuntimeConfig) -> tuple[str, int]:
    """Where the server listens (with port 0, the port the system chose)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return config.listen.host, config.listen.port


async def shutdown(runtime: Runtime, runner: web.BaseRunner, *, reason: str = "SIGTERM") -> None:
    """Stop accepting, close WebSockets with 1001, SIGTERM tailscaled while HTTP drains, exit: all bounded."""
    log, supervisor = runtime.log, runtime.supervisor
    runtime.stopping.set()
    await runtime.thaw.stop()
    log.info(events.RUNTIME_STOPPING, f"{reason}: closing WebSockets with 1001 and shutting down",
             websockets=len(runtime.bridges), reason=reason)
    for site in list(runner.sites):
        await site.stop()
    await runtime.bridges.shut_all(closecodes.GOING_AWAY, "devproxy is restarting", WS_CLOSE_GRACE)
    # tailscaled's logout takes the longest; the HTTP drain need not wait for it.
    tailscale = asyncio.create_task(supervisor.stop(TAILSCALE_GRACE)) if supervisor is not None else None
    await runner.cleanup()
    if tailscale is not None:
        await tailscale
    runtime.forwarder.close()
    log.info(events.RUNTIME_STOPPED, "devproxy stopped")
