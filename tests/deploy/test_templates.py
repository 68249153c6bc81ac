"""The image templates, checked statically (no Docker engine here)."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

from devproxy.deploy.config import DEFAULT_TAILSCALE_VERSION
from devproxy.deploy.templates import render, template_dir

REPO = Path(__file__).resolve().parents[2]


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_static_checks() -> None:
    """Pinned bases, tailscale binaries copied, wheel installed, non-root, exec-form devproxy runtime."""
    rendered = render("v1.80.0")
    steps = instructions(rendered.dockerfile)
    args = dict(a.split("=", 1) for w, a in steps if w == "ARG")
    assert re.fullmatch(r"v\d+\.\d+\.\d+", args["TAILSCALE_VERSION"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["PYTHON_VERSION"])
    froms = [a for w, a in steps if w == "FROM"]
    assert froms[0].startswith("docker.io/tailscale/tailscale:${TAILSCALE_VERSION}")
    assert all(":latest" not in f and ":stable" not in f for f in froms)
    assert any(w == "COPY" and "--from=tailscale" in a and "/usr/local/bin/tailscaled" in a
               and "/usr/local/bin/tailscale " in a for w, a in steps)
    assert any(w == "RUN" and "pip install" in a and "devproxy-*.whl" in a for w, a in steps)
    users = [a for w, a in steps if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert steps[-1] == ("ENTRYPOINT", '["devproxy", "runtime"]')
    assert dict(rendered.build_args)["TAILSCALE_VERSION"] == "v1.80.0"


def test_no_secret_baked_in() -> None:
    """No ARG/ENV names key material and no tskey- literal appears in any template file."""
    rendered = render(DEFAULT_TAILSCALE_VERSION)
    for name, data in rendered.files:
        assert b"tskey-" not in data, name
    for word, arg in instructions(rendered.dockerfile):
        if word in ("ARG", "ENV"):
            assert not re.search(r"AUTHKEY|TOKEN|SECRET|PASSWORD", arg, re.I), arg


def test_templates_ship_in_the_wheel(wheel: Path) -> None:
    """The real wheel build (deploy's builder) carries templates as devproxy/_templates."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert "devproxy/_templates/Dockerfile" in names
        assert zf.read("devproxy/_templates/Dockerfile") == (template_dir() / "Dockerfile").read_bytes()


def test_one_pinned_tailscale_version() -> None:
    """The image's default, the test build and the control server's go.mod all use the deploy default."""
    args = dict(a.split("=", 1) for w, a in instructions(render("v0.0.0").dockerfile) if w == "ARG")
    assert args["TAILSCALE_VERSION"] == DEFAULT_TAILSCALE_VERSION
    built = subprocess.run([REPO / "scripts/tailscale-build", "--version"], capture_output=True, text=True,
                           check=True, timeout=10)
    assert built.stdout.strip() == DEFAULT_TAILSCALE_VERSION
    gomod = (REPO / "tests/tailnet/control/go.mod").read_text()
    assert f"require tailscale.com {DEFAULT_TAILSCALE_VERSION}\n" in gomod
