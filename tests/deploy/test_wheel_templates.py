"""The template loader inside an installed wheel (no source checkout around it)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path


def test_loader_finds_templates_in_the_wheel(wheel: Path, tmp_path: Path) -> None:
    """Unpacked from the wheel, devproxy finds devproxy/_templates and renders the same Dockerfile."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    code = ("from devproxy.deploy.templates import template_dir, render; "
            "print(template_dir()); print(render('v1.2.3').dockerfile.count('ENTRYPOINT'))")
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(site)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    where, count = done.stdout.split()
    assert Path(where) == site / "devproxy" / "_templates"
    assert count == "1"
