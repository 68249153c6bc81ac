"""Running the runtime: bind $PORT at once, supervise, shut down cleanly on SIGTERM.

Cloud Run kills a container that does not listen on $PORT quickly, so the server binds first and
reports "not ready" until the tailnet is up. On SIGTERM (10 s before the kill) it stops accepting,
closes every WebSocket with 1001 so VS Code reconnects at once, then stops tailscaled.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from aiohttp import web

from devproxy import __version__
from devproxy.errors import ConfigError
from devproxy.runtime import closecodes
from devproxy.runtime.app import close_clients, create_handler, open_clients
from devproxy.runtime.config import RuntimeConfig
from devproxy.runtime.context import ProxyContext
from devproxy.runtime.dial import Dialer
from devproxy.runtime.health import Readiness
from devproxy.runtime.auth import build_access
from devproxy.runtime.log import EventLog
from devproxy.runtime.status import status_routes
from devproxy.runtime.supervisor import Supervisor
from devproxy.runtime.tailscale import tailscale_settings

#: budget for each shutdown phase; together well inside Cloud Run's 10 s.
WS_CLOSE_GRACE = 2.0
TAILSCALE_GRACE = 5.0
HTTP_DRAIN_GRACE = 1.5
#: request line and header field limit (cookies of busy dev servers exceed aiohttp's 8 KiB default).
MAX_HEADER = 65536


def serve(config: RuntimeConfig, env: Mapping[str, str]) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
    return int(_loop_runner()(run(config, env)))


def _loop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop's runner when installed (`pip install devproxy[fast]`), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


async def run(config: RuntimeConfig, env: Mapping[str, str], *, log: EventLog | None = None,
              started: asyncio.Future[tuple[str, int]] | None = None,
              stop: asyncio.Event | None = None) -> int:
    log = log or EventLog()
    route_library_logs(log)
    dialer = Dialer(config.socks, connect_timeout=config.timeouts.connect, log=log)
    ctx = ProxyContext(config=config, dialer=dialer, log=log)
    readiness = Readiness(ctx)
    supervisor = _supervisor(config, env, log)
    if supervisor is not None:
        readiness.checks["tailscale"] = supervisor.check
    access = build_access(config.auth, env, log)
    handler = create_handler(ctx, readiness, access=access,
                             extra_routes=status_routes(ctx, readiness, access, supervisor))
    server = web.Server(handler, access_log=None, max_field_size=MAX_HEADER, max_line_size=MAX_HEADER)
    runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=HTTP_DRAIN_GRACE)
    open_clients(ctx)
    await runner.setup()
    site = web.TCPSite(runner, config.listen.host, config.listen.port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await close_clients(ctx)
        raise ConfigError(f"cannot listen on {config.listen}: {exc.strerror or exc}") from exc
    host, port = _bound_address(site, config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    log.info(
        "runtime.started",
        f"devproxy {__version__} listening on {host}:{port}, target {config.target}",
        version=__version__,
        listen=f"{host}:{port}",
        port=port,
        target=str(config.target),
        socks=str(config.socks) if config.socks else "none",
        auth=config.auth,
    )
    if supervisor is not None:
        await supervisor.start()
    if started is not None and not started.done():
        started.set_result((host, port))
    await stop.wait()
    await shutdown(ctx, runner, supervisor)
    return 0


def _supervisor(config: RuntimeConfig, env: Mapping[str, str], log: EventLog) -> Supervisor | None:
    """tailscaled's supervisor, unless --no-tailscale. Raises: ConfigError for bad settings."""
    if not config.tailscale:
        return None
    return Supervisor(tailscale_settings(env, config.socks), log, env=env)


class _LibraryLogs(logging.Handler):
    """Library log records (aiohttp, websockets, asyncio) as structured lines too."""

    def __init__(self, log: EventLog) -> None:
        super().__init__(logging.WARNING)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        fields: dict[str, Any] = {"logger": record.name}
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message}: {type(exc).__name__}: {exc}"
            fields["exception"] = logging.Formatter().formatException(record.exc_info)
        severity = "ERROR" if record.levelno >= logging.ERROR else "WARNING"
        self._log.emit(severity, "library.log", message, **fields)


def route_library_logs(log: EventLog) -> None:
    """Send warnings and errors from the libraries through the structured log, once per process."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _LibraryLogs):
            root.removeHandler(handler)
    root.addHandler(_LibraryLogs(log))
    if root.level > logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.WARNING)


def _bound_address(site: web.TCPSite, config: RuntimeConfig) -> tuple[str, int]:
    server = site._server  # aiohttp keeps the asyncio server here; the only way to learn port 0's choice
    sockets = getattr(server, "sockets", None)
    if sockets:
        sockname = sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])
    return config.listen.host, config.listen.port


async def shutdown(ctx: ProxyContext, runner: web.BaseRunner, supervisor: Supervisor | None = None) -> None:
    """Stop accepting, close WebSockets with 1001, SIGTERM tailscaled, drain, exit."""
    ctx.stopping = True
    ctx.log.info("runtime.stopping", "SIGTERM: closing WebSockets with 1001 and shutting down",
                 websockets=len(ctx.bridges))
    for site in list(runner.sites):
        await site.stop()
    bridges = list(ctx.bridges)
    if bridges:
        done, _ = await asyncio.wait(
            [asyncio.create_task(b.shut(closecodes.GOING_AWAY, "devproxy is restarting")) for b in bridges],
            timeout=WS_CLOSE_GRACE,
        )
        ctx.log.info("runtime.websockets_closed", f"closed {len(done)} of {len(bridges)} WebSockets with 1001",
                     closed=len(done), open=len(bridges))
    if supervisor is not None:
        await supervisor.stop(TAILSCALE_GRACE)
    await runner.cleanup()
    await close_clients(ctx)
    ctx.log.info("runtime.stopped", "devproxy stopped")
