"""Cloud Run unit prices (data): tier-1 regions, USD, list prices before discounts.

Read from Cloud Run's pricing page and transcriptions of it dated 2026-04-22 to 2026-10-01
(cloud.google.com/run/pricing); the free tier is per billing account and month. Update the
figures and `READ_ON` together.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the date of the newest copy of the price list these figures come from.
READ_ON = "2026-10-01"


@dataclass(frozen=True, slots=True)
class Billing:
    """One billing mode's unit prices and monthly free tier."""

    name: str
    vcpu_second: float
    gib_second: float
    per_million_requests: float
    free_vcpu_seconds: float
    free_gib_seconds: float
    free_requests: float


#: request-based billing (CPU only during requests): what economy mode uses.
REQUEST_BASED = Billing("request-based", vcpu_second=0.000024, gib_second=0.0000025, per_million_requests=0.40,
                        free_vcpu_seconds=180_000, free_gib_seconds=360_000, free_requests=2_000_000)
#: instance-based billing (CPU always allocated): what always-on uses; no per-request fee.
INSTANCE_BASED = Billing("instance-based", vcpu_second=0.000018, gib_second=0.000002, per_million_requests=0.0,
                         free_vcpu_seconds=240_000, free_gib_seconds=450_000, free_requests=0)
#: request-based billing of an idle instance kept by min instances (per vCPU-second, per GiB-second).
IDLE_MIN_INSTANCE = (0.0000025, 0.0000025)
