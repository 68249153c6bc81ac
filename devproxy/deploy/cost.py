"""The estimated monthly cost of the chosen mode and of the other one (pure; figures in prices.py).

An estimate, and labelled as one: a 30-day month, the hours of use a day the user assumes, and
while anyone uses the service it is active (an open WebSocket keeps it active for its whole
life). Always-on keeps `min_instances` running all month at instance-based prices; economy pays
request-based prices for the hours of use only.
"""

from __future__ import annotations

from dataclasses import dataclass

from devproxy.deploy import prices
from devproxy.deploy.config import DeployConfig
from devproxy.deploy.quantities import gib, vcpus

MONTH_SECONDS = 30 * 24 * 3600
#: what the estimate assumes a code-server session sends per hour (page loads, API calls, WebSockets).
REQUESTS_PER_HOUR = 1000
#: an instance with no request left lives on for up to 15 minutes.
IDLE_TAIL_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class Estimate:
    mode: str
    list_usd: float
    after_free_tier_usd: float
    chosen: bool

    def line(self) -> str:
        mark = "  <- this deploy" if self.chosen else ""
        return (f"{self.mode}: ≈ ${self.list_usd:.2f}/month "
                f"(≈ ${self.after_free_tier_usd:.2f} after the free tier){mark}")


def _cost(billing: prices.Billing, cpu: float, memory: float, seconds: float,
          requests: float) -> tuple[float, float]:
    cpu_s, gib_s = cpu * seconds, memory * seconds
    listed = (cpu_s * billing.vcpu_second + gib_s * billing.gib_second
              + requests / 1e6 * billing.per_million_requests)
    after = (max(0.0, cpu_s - billing.free_vcpu_seconds) * billing.vcpu_second
             + max(0.0, gib_s - billing.free_gib_seconds) * billing.gib_second
             + max(0.0, requests - billing.free_requests) / 1e6 * billing.per_million_requests)
    return listed, after


def estimates(cfg: DeployConfig) -> list[Estimate]:
    """Always-on and economy for this CPU, memory and hours of use; the chosen mode is marked."""
    cpu, memory = vcpus(cfg.cpu), gib(cfg.memory)
    used = 30 * cfg.hours_per_day * 3600
    kept = cfg.min_instances if not cfg.economy else 1
    # always-on keeps its instances all month; with min instances 0 it lives while used, plus the tail
    always_seconds = kept * MONTH_SECONDS if kept else min(MONTH_SECONDS, used + 30 * IDLE_TAIL_SECONDS)
    always = _cost(prices.INSTANCE_BASED, cpu, memory, always_seconds, 0)
    economy = _cost(prices.REQUEST_BASED, cpu, memory, used, 30 * cfg.hours_per_day * REQUESTS_PER_HOUR)
    return [Estimate("always-on", *always, chosen=not cfg.economy),
            Estimate("economy", *economy, chosen=cfg.economy)]


def header(cfg: DeployConfig) -> str:
    hours = f"{cfg.hours_per_day:g}"
    return (f"Cost, an estimate from Cloud Run's tier-1 list prices of {prices.READ_ON} "
            f"({cfg.cpu} vCPU, {cfg.memory}, 30-day month, {hours} h/day of use, --hours-per-day to change):")
