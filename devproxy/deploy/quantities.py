"""Cloud Run's resource quantities ("1", "1000m" vCPU; "512Mi", "1Gi" memory) as numbers (pure)."""

from __future__ import annotations

import re

from devproxy.errors import ConfigError

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m)?$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_UNITS = {None: 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def vcpus(cpu: str) -> float:
    """The CPU limit in vCPUs.

    Raises:
        ConfigError: not a CPU quantity.
    """
    found = _CPU.match(cpu)
    if not found or float(found.group(1)) <= 0:
        raise ConfigError(f"cpu must be a number of vCPUs such as 1 or 1000m, got {cpu!r}")
    return float(found.group(1)) / (1000 if found.group(2) else 1)


def gib(memory: str) -> float:
    """The memory limit in GiB.

    Raises:
        ConfigError: not a memory quantity.
    """
    found = _MEMORY.match(memory)
    if not found or float(found.group(1)) <= 0:
        raise ConfigError(f"memory must be a quantity such as 512Mi or 1Gi, got {memory!r}")
    return float(found.group(1)) * _UNITS[found.group(2)] / 2**30
