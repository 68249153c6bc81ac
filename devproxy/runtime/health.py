"""Liveness and readiness: `/_devproxy/health` and `/_devproxy/ready`.

Readiness is a full SOCKS greeting + CONNECT to the target (never a bare TCP probe of the SOCKS
port, which tailscaled logs as "could not read packet header"), plus tailscaled's own state when
the runtime supervises it. The target probe's result is cached briefly so a busy probe cannot hammer
the tunnel; tailscaled's state is asked afresh every time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from devproxy import events
from devproxy.runtime.config import RuntimeConfig
from devproxy.runtime.tunnel import Dialer, probe
from devproxy.runtime.log import EventLog
from devproxy.runtime.snapshots import TargetCheck

#: extra readiness checks (tailscaled state); each returns {"ok": bool, ...}.
Check = Callable[[], dict[str, Any]]


class Readiness:
    """Computes and caches the readiness verdict."""

    def __init__(self, config: RuntimeConfig, dialer: Dialer, log: EventLog, *,
                 checks: Mapping[str, Check] | None = None, stopping: asyncio.Event | None = None) -> None:
        self._config = config
        self._dialer = dialer
        self._log = log
        self._checks: dict[str, Check] = dict(checks or {})
        #: set when shutdown begins: readiness turns false at once.
        self._stopping = stopping or asyncio.Event()
        #: when the target was last probed, and what the probe said.
        self._cached: tuple[float, TargetCheck] | None = None
        self._lock = asyncio.Lock()
        self.last_ok: bool | None = None

    async def target_check(self) -> TargetCheck:
        target = self._config.target
        dialer = self._dialer
        found = await probe(dialer, target.host, target.port)
        return TargetCheck(
            ok=found.ok, target=str(target), via=str(dialer.socks) if dialer.socks else "direct",
            latency_ms=round(found.seconds * 1000, 2), socks_address=dialer.answered_by or None,
            error=found.error or None,
        )

    async def verdict(self) -> dict[str, Any]:
        """The readiness body; the other checks are asked every time, only the target probe is cached.

        A tailscaled that just died must turn readiness 503 at once, while a busy probe must not
        hammer the tunnel with SOCKS dials.
        """
        async with self._lock:
            checks: dict[str, dict[str, Any]] = {name: fn() for name, fn in self._checks.items()}
            if all(c.get("ok") for c in checks.values()):
                now = time.monotonic()
                if self._cached is None or now - self._cached[0] >= self._config.timeouts.ready_cache:
                    self._cached = (now, await self.target_check())
                checks["target"] = self._cached[1].as_json()
            else:
                self._cached = None
                checks["target"] = {"ok": False, "skipped": "waiting for the checks above"}
            ok = all(c.get("ok") for c in checks.values())
            body: dict[str, Any] = {"ready": ok, "checks": checks}
            if self._config.auth == "none":
                body["warning"] = "access control is off (--auth none): anyone with the URL gets in"
            if self._stopping.is_set():
                body["ready"] = False
                body["stopping"] = True
            self._note_change(bool(body["ready"]), checks)
            return body

    def _note_change(self, ok: bool, checks: dict[str, dict[str, Any]]) -> None:
        if ok == self.last_ok:
            return
        self.last_ok = ok
        failing = [f"{name}: {c.get('error') or c.get('detail') or c.get('skipped') or 'not ok'}"
                   for name, c in checks.items() if not c.get("ok")]
        self._log.emit(
            "INFO" if ok else "WARNING",
            events.READY_CHANGED,
            "ready" if ok else "not ready: " + "; ".join(failing),
            ready=ok,
        )


async def health(_: web.Request) -> web.Response:
    """Liveness: the process serves requests."""
    return web.json_response({"status": "ok"})


def ready_handler(readiness: Readiness) -> Callable[[web.Request], Any]:
    async def ready(_: web.Request) -> web.Response:
        body = await readiness.verdict()
        return web.json_response(
            body, status=200 if body["ready"] else 503, headers={"Cache-Control": "no-store"}
        )

    return ready
