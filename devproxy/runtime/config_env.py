"""Reading one setting out of the environment mapping: words, flags and bounded numbers.

Pure helpers for the config builder (the only reader of the environment). Every number is
finite and inside a stated range, so `nan`, `inf`, a negative or an absurd value is one
ConfigError naming the variable and the range, never a crash later (a NaN keep-alive timeout
made every idle connection log a traceback and stay open).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from devproxy.errors import ConfigError

_TRUE = ("1", "true", "yes", "on")


def text(env: Mapping[str, str], name: str, default: str = "") -> str:
    """The stripped value of `name`, or `default` when it is unset or blank."""
    return env.get(name, "").strip() or default


def flag(env: Mapping[str, str], name: str) -> bool:
    """A yes/no switch: 1, true, yes or on (any case) mean yes."""
    return env.get(name, "").strip().lower() in _TRUE


def _range(low: float, high: float, unit: str) -> str:
    return f"{low:g} to {high:g}{unit}"


def seconds(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    """A duration in seconds ("30" or "30s"), finite and within [low, high]. Raises: ConfigError."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    return bounded_number(name, raw.removesuffix("s"), low=low, high=high, unit=" seconds", shown=raw)


def number(env: Mapping[str, str], name: str, default: float, *, low: float, high: float, unit: str = "") -> float:
    """A finite number within [low, high]. Raises: ConfigError."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    return bounded_number(name, raw, low=low, high=high, unit=unit, shown=raw)


def bounded_number(name: str, raw: str, *, low: float, high: float, unit: str = "", shown: str | None = None) -> float:
    """Parse `raw` as a finite number within [low, high]. Raises: ConfigError naming `name` and the range."""
    shown = raw if shown is None else shown
    expected = f"expected a number from {_range(low, high, unit)}"
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"invalid {name}={shown!r}: {expected}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(f"invalid {name}={shown!r}: {expected}")
    return value


def whole(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    """A whole number within [low, high]. Raises: ConfigError naming the range."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not low <= int(raw) <= high:
        raise ConfigError(f"invalid {name}={raw!r}: expected a whole number from {low} to {high}")
    return int(raw)
