"""One forwarder per route (its own dial target, pool and readiness check), picked per request.

The route table itself is pure (routes.py); this module only holds what was built for each route
and answers which forwarder a request goes to.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from aiohttp import web

from devproxy.runtime.config import RuntimeConfig, Target
from devproxy.runtime.tunnel import Dialer
from devproxy.runtime.forwarder import Forwarder, create_forwarder
from devproxy.runtime.health import Readiness
from devproxy.runtime.log import EventLog
from devproxy.runtime.routes import Route, RouteTable
from devproxy.runtime.snapshots import TargetCheck


@dataclass(frozen=True, slots=True)
class RouteView:
    """One route as the status page shows it: where it goes and whether its target answers now."""

    prefix: str
    description: str
    check: TargetCheck
    default: bool

    def as_json(self) -> dict[str, object]:
        return {"prefix": self.prefix, "route": self.description, "default": self.default, **self.check.as_json()}


@dataclass(frozen=True, slots=True)
class Routed:
    """The forwarder of each prefixed route beside the default one."""

    table: RouteTable[Target]
    default: Forwarder
    by_prefix: dict[str, Forwarder]
    #: a readiness check per prefixed route (the default route's is the runtime's own readiness).
    checks: dict[str, Readiness]

    def pick(self, raw_path_qs: str) -> Forwarder:
        """The forwarder for a request: the longest matching prefix's, else the default."""
        route = self.table.match(raw_path_qs)
        return self.default if route.is_default else self.by_prefix[route.prefix]

    def slash_redirect(self, request: web.Request) -> web.Response | None:
        """A 301 from `/jupyter` to `/jupyter/` (for a route `/jupyter/`), for GET and HEAD."""
        if request.method not in ("GET", "HEAD"):
            return None
        location = self.table.slash_redirect(request.raw_path)
        if location is None:
            return None
        return web.Response(status=301, headers={"Location": location, "Cache-Control": "no-store"})

    async def views(self, default_check: TargetCheck) -> list[RouteView]:
        """Every route with its target checked now (the default route's check is passed in)."""
        # Concurrently: a dead route's dial (up to the connect timeout) must not add up with the others.
        checks = await asyncio.gather(*(self.checks[route.prefix].target_check() for route in self.table.routes))
        views = [RouteView(route.prefix, route.describe(), check, False)
                 for route, check in zip(self.table.routes, checks, strict=True)]
        default = self.table.default
        return [*views, RouteView(default.prefix, default.describe(), default_check, True)]

    def flush(self) -> int:
        """Drop every route's idle tunnel connections (after a freeze); how many were closed."""
        return self.default.pool.flush() + sum(f.pool.flush() for f in self.by_prefix.values())

    def close(self) -> None:
        """Close the prefixed routes' pools (the default forwarder is closed by its owner)."""
        for forwarder in self.by_prefix.values():
            forwarder.close()


def route_table(config: RuntimeConfig) -> RouteTable[Target]:
    """The configured routes with `--target` as the default route."""
    return RouteTable(Route("/", config.target), config.routes)


def create_routed(config: RuntimeConfig, dialer: Dialer, log: EventLog, default: Forwarder, *,
                  cookie_name: str | None) -> Routed:
    """A forwarder and a readiness check for each of `config.routes`."""
    by_prefix: dict[str, Forwarder] = {}
    checks: dict[str, Readiness] = {}
    for route in config.routes:
        by_prefix[route.prefix] = create_forwarder(config, dialer, log, cookie_name=cookie_name, route=route)
        checks[route.prefix] = Readiness(replace(config, target=route.target), dialer, log)
    return Routed(route_table(config), default, by_prefix, checks)
