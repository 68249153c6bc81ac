"""The whole signature catalog: the general one (`signatures`), the stacks' format strings (`stacks`),
tailscaled's lines (`tailscaled`), the login modes' refusals (`logins`), Cloud Run's own messages (`platform`)."""

from __future__ import annotations

from devproxy.logs.logins import SIGNATURES as LOGINS
from devproxy.logs.platform import SIGNATURES as PLATFORM
from devproxy.logs.signatures import CATALOG as GENERAL
from devproxy.logs.signatures import Signature
from devproxy.logs.stacks import SIGNATURES as STACKS
from devproxy.logs.tailscaled import SIGNATURES as TAILSCALED

CATALOG: tuple[Signature, ...] = (*GENERAL, *STACKS, *TAILSCALED, *LOGINS, *PLATFORM)
