"""The composition root: every long-lived object of the runtime, built once from the config.

Like aiohttp's `create_app`, this is the one place that wires things: the dialer, the access
policy, the forwarder (pool, header policy), the set of live bridges, readiness, tailscaled's
supervisor and the page table. Everything comes out frozen and fully initialised; the handlers
get exactly the parts they use.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from devproxy.runtime.app import ServerHandler, create_handler, page_table
from devproxy.runtime.auth import AccessPolicy, build_access
from devproxy.runtime.bridges import LiveBridges
from devproxy.runtime.config import RuntimeConfig
from devproxy.runtime.tunnel import Dialer
from devproxy.runtime.forwarder import Forwarder, create_forwarder
from devproxy.runtime.health import Readiness
from devproxy.runtime.log import EventLog
from devproxy.runtime.page_table import PageTable
from devproxy.runtime.status_report import StatusSources, status_pages
from devproxy.runtime.supervisor import Supervisor
from devproxy.runtime.tailscale_io import check_binaries
from devproxy.runtime.thaw import ThawGuard


@dataclass(frozen=True, slots=True)
class Runtime:
    """The wired runtime: what the server runs, shows and shuts down."""

    config: RuntimeConfig
    log: EventLog
    access: AccessPolicy
    forwarder: Forwarder
    bridges: LiveBridges
    readiness: Readiness
    #: None with --no-tailscale (tailscaled runs elsewhere).
    supervisor: Supervisor | None
    pages: PageTable
    #: what the status page reports on.
    status: StatusSources
    #: set when shutdown begins (readiness turns false at once).
    stopping: asyncio.Event
    #: notices freezes (economy mode) and holds proxied requests until the tailnet path is checked.
    thaw: ThawGuard

    def handler(self) -> ServerHandler:
        """The one request handler for the low-level server."""
        return create_handler(self.forwarder, self.bridges, self.pages, access=self.access, gate=self.thaw)


def create_runtime(config: RuntimeConfig, log: EventLog) -> Runtime:
    """Build the runtime for `config` (the only input: nothing here reads the environment).

    Raises: ConfigError when tailscaled or the tailscale CLI cannot be run.
    """
    if config.tailscale is not None:
        check_binaries(config.tailscale)
    for secret in config.secrets:
        log.redactor.add(secret)
    dialer = Dialer(config.socks, connect_timeout=config.timeouts.connect, log=log)
    access = build_access(config.access, log, public_scheme=config.public_scheme)
    supervisor = Supervisor(config.tailscale, log) if config.tailscale is not None else None
    stopping = asyncio.Event()
    readiness = Readiness(config, dialer, log, stopping=stopping,
                          checks={"tailscale": supervisor.check} if supervisor is not None else None)
    bridges = LiveBridges(log)
    forwarder = create_forwarder(config, dialer, log, cookie_name=access.cookie_name)
    # After a freeze: idle pooled connections may lead to a dev box that vanished, and tailscaled may be stale.
    thaw = ThawGuard(log, check=supervisor.after_thaw if supervisor is not None else None,
                     flush=forwarder.pool.flush)
    sources = StatusSources(dialer=dialer, log=log, bridges=bridges, readiness=readiness,
                            auth_mode=access.mode, supervisor=supervisor, thaw=thaw)
    return Runtime(
        config=config,
        log=log,
        access=access,
        forwarder=forwarder,
        bridges=bridges,
        readiness=readiness,
        supervisor=supervisor,
        pages=page_table(readiness, access, status_pages(sources)),
        status=sources,
        stopping=stopping,
        thaw=thaw,
    )
