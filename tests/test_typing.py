"""The package type-checks under mypy --strict (pyproject's [tool.mypy]): type hints everywhere, checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_devproxy_passes_mypy_strict() -> None:
    """mypy --strict finds no error in devproxy/."""
    result = subprocess.run([sys.executable, "-m", "mypy", "devproxy"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
