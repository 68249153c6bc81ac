"""The whole signature catalog: the general one (`signatures`) and the stacks' format strings (`stacks`)."""

from __future__ import annotations

from devproxy.logs.signatures import CATALOG as GENERAL
from devproxy.logs.signatures import Signature
from devproxy.logs.stacks import SIGNATURES as STACKS

CATALOG: tuple[Signature, ...] = (*GENERAL, *STACKS)
