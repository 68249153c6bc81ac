"""Cloud Run's resource quantities ("1", "1000m" vCPU; "512Mi", "1Gi" memory) as numbers (pure)."""

from __future__ import annotations

import re

from devproxy.errors import ConfigError

_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m)?$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
_CPU_UNITS = {None: 1.0, "m": 1e-3}
_GIB = 2**30
_MEMORY_UNITS = {None: 1 / _GIB, "k": 1e3 / _GIB, "M": 1e6 / _GIB, "G": 1e9 / _GIB, "T": 1e12 / _GIB,
                 "Ki": 2**-20, "Mi": 2**-10, "Gi": 1.0, "Ti": 2.0**10}


def _quantity(text: str, pattern: re.Pattern[str], units: dict[str | None, float], problem: str) -> float:
    found = pattern.match(text)
    if not found or float(found.group(1)) <= 0:
        raise ConfigError(f"{problem}, got {text!r}")
    return float(found.group(1)) * units[found.group(2)]


def vcpus(cpu: str) -> float:
    """The CPU limit in vCPUs. Raises: ConfigError (not a CPU quantity)."""
    return _quantity(cpu, _CPU, _CPU_UNITS, "cpu must be a number of vCPUs such as 1 or 1000m")


def gib(memory: str) -> float:
    """The memory limit in GiB. Raises: ConfigError (not a memory quantity)."""
    return _quantity(memory, _MEMORY, _MEMORY_UNITS, "memory must be a quantity such as 512Mi or 1Gi")
