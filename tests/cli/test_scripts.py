"""scripts/run installs once (again only when pyproject.toml changes) and starts offline; apt waits for its lock."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: a stand-in interpreter for the stamp test: records each call, succeeds.
STUB_PYTHON = """#!/bin/sh
echo "$@" >> "{log}"
"""


def _bash(script: str, *, cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_second_run_starts_without_a_package_index() -> None:
    """Once installed, `scripts/run` calls no pip: it works with the package index unreachable and says nothing."""
    first = _bash("scripts/run --version", cwd=REPO)
    assert first.returncode == 0, first.stderr
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
    second = _bash("scripts/run --version", cwd=REPO, env=offline)
    assert (second.returncode, second.stdout.strip(), second.stderr) == (0, "devproxy 0.1.0", "")


def test_install_runs_again_only_when_pyproject_changes(tmp_path: Path) -> None:
    """The stamp holds pyproject.toml's hash: no pip call while it matches, one when the file changes."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "venv.sh", tmp_path / "scripts" / "venv.sh")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "devproxy"\n')
    log = tmp_path / "calls"
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "devproxy"):
        (bin_dir / name).write_text(STUB_PYTHON.format(log=log))
        (bin_dir / name).chmod(0o755)
    run = "source scripts/venv.sh && ensure_venv '[cloud]' '[test]'"
    env = {"DEVPROXY_VENV": str(tmp_path / "venv")}

    first = _bash(run, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr.startswith("installing devproxy[cloud] and its dependencies into ")
    assert log.read_text().splitlines() == [
        f"-m pip install --disable-pip-version-check --progress-bar off -e {tmp_path}[cloud]"]
    again = _bash(run, cwd=tmp_path, env=env)
    assert (again.returncode, again.stderr, len(log.read_text().splitlines())) == (0, "", 1)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "devproxy"\ndependencies = ["rich"]\n')
    changed = _bash(run, cwd=tmp_path, env=env)
    assert changed.returncode == 0 and len(log.read_text().splitlines()) == 2


def test_apt_waits_for_another_process_lock(tmp_path: Path) -> None:
    """While another process holds dpkg's lock, scripts' apt-get waits and then succeeds instead of failing."""
    lock = os.open("/var/lib/dpkg/lock-frontend", os.O_RDWR | os.O_CREAT, 0o640)
    deadline = time.monotonic() + 300  # another install on this machine may hold it for a while
    while True:
        try:
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            assert time.monotonic() < deadline, "dpkg's lock stayed taken for 5 minutes"
            time.sleep(0.5)
    release = threading.Timer(2.0, fcntl.lockf, (lock, fcntl.LOCK_UN))
    release.start()
    started = time.monotonic()
    try:
        ran = _bash("source scripts/venv.sh && apt_get install -y -qq --no-install-recommends microsocks",
                    cwd=REPO, env={"DEVPROXY_APT_LOCK_TIMEOUT": "60"}, timeout=120)
    finally:
        release.join()
        os.close(lock)
    assert ran.returncode == 0, ran.stderr
    assert time.monotonic() - started >= 1.5
