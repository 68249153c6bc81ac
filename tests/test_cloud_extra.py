"""The container image installs devproxy without the `cloud` extra: the runtime must not need it.

Each test runs the real entry point in a subprocess where every `google` package is unimportable,
as in the image (`pip install devproxy-*.whl`, no extras).
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

from devproxy import runtime
from tests.deploy.clirun import Ran, devproxy

_BLOCK_GOOGLE = '''
import sys

class _NoGoogle:
    """As if the `cloud` extra were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "google" or name.startswith("google."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NoGoogle())
'''


def _site(tmp_path: Path) -> str:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_BLOCK_GOOGLE)
    return str(site)


def without_google(tmp_path: Path, args: list[str], stdin: str = "") -> Ran:
    return devproxy(args, cwd=tmp_path, env={"PYTHONPATH": _site(tmp_path)}, stdin=stdin)


def test_every_runtime_module_imports_without_google(tmp_path: Path) -> None:
    """All of devproxy.runtime (and the CLI that starts it) loads with no Google library present."""
    names = sorted(m.name for m in pkgutil.iter_modules(runtime.__path__, "devproxy.runtime."))
    assert "devproxy.runtime.server" in names
    ran = without_google(tmp_path, ["runtime", "--help"])
    assert ran.code == 0, ran.err
    imports = "import importlib\n" + "".join(f"importlib.import_module({n!r})\n" for n in names)
    done = subprocess.run([sys.executable, "-c", imports], env={"PYTHONPATH": _site(tmp_path)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_logs_from_a_file_need_no_google(tmp_path: Path) -> None:
    """`devproxy logs --file - --diagnose` reads and diagnoses without the cloud extra."""
    line = json.dumps({"severity": "ERROR", "message": "socks5: client connection failed: could not read packet header"})
    ran = without_google(tmp_path, ["logs", "--file", "-", "--diagnose", "--json"], stdin=line + "\n")
    assert ran.code == 1, ran.err  # an error-level finding: the seed's own failure
    assert [f["id"] for f in json.loads(ran.out)["findings"]] == ["ts-packet-header"]


def test_deploy_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    """A Google-backed command without the extra is one error line naming the install command, exit 2."""
    ran = without_google(tmp_path, ["deploy", "--dry-run", "--project", "p", "--target", "http://devbox:8888"])
    assert ran.code == 2
    assert ran.out == ""
    assert ran.err.strip() == ("error: this command needs the Google Cloud client libraries, which are not "
                               "installed (pip install 'devproxy[cloud]')")
