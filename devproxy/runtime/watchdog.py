"""The tailscaled watchdog: restart a tailscaled that says Running while no dial reaches the target.

Users report that after idle periods every dial through tailscaled's SOCKS server fails until
tailscaled is restarted, although `tailscale status` still says Running. The supervisor probes the
target through the SOCKS server while Running (a full greeting + CONNECT, never a bare TCP connect)
and feeds each outcome to `Watchdog.record`, which is pure: it says when the failures have lasted
longer than the bound. Consecutive restarts that do not help double the bound (up to 16x), so a dev
box that is simply switched off costs a few restarts a night, not one a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

from devproxy.runtime.config import SocksEndpoint
from devproxy.runtime.config_tailscale import DEFAULT_BOUND_S
from devproxy.runtime.log import EventLog
from devproxy.runtime.tunnel import Dialer, probe

#: the bound grows to at most this multiple after restarts that did not help.
MAX_STRETCH = 16


@dataclass(slots=True)
class Watchdog:
    """Tracks how long dials to the target have been failing (times are monotonic seconds)."""

    bound_s: float = DEFAULT_BOUND_S
    failing_since: float | None = None
    last_error: str = ""
    #: restarts since the last successful dial.
    strikes: int = 0

    @property
    def current_bound_s(self) -> float:
        return self.bound_s * min(MAX_STRETCH, 1 << min(self.strikes, 8))

    def record(self, ok: bool, now: float, error: str = "") -> str | None:
        """Note one dial's outcome; return why tailscaled must be restarted, or None."""
        if ok:
            self.failing_since = None
            self.last_error = ""
            self.strikes = 0
            return None
        if self.failing_since is None:
            self.failing_since = now
        self.last_error = error
        failing_s = now - self.failing_since
        if failing_s < self.current_bound_s:
            return None
        self.strikes += 1
        self.failing_since = None
        return f"every dial through tailscaled's SOCKS server failed for {failing_s:.0f} s ({error})"

    def paused(self) -> None:
        """tailscaled is not Running: its own state explains the failures, the clock restarts."""
        self.failing_since = None


async def socks_probe(socks_host: str, socks_port: int, host: str, port: int, timeout_s: float) -> str | None:
    """SOCKS5 greeting + CONNECT to host:port through the tunnel module, then close; None when it worked, else why not."""
    dialer = Dialer(SocksEndpoint(socks_host, socks_port), connect_timeout=timeout_s, log=EventLog())
    return (await probe(dialer, host, port)).error


def probe_interval(bound_s: float, running_poll_s: float) -> float:
    """How often to probe while Running: often enough to act within about a quarter of the bound."""
    return max(0.5, min(running_poll_s, bound_s / 4))
