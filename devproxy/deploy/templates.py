"""The container image templates: found in the wheel or in a source checkout, rendered as data.

A wheel carries them as `devproxy/_templates` (pyproject force-include); a source checkout
has them at the repository root as `templates/`.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from devproxy.errors import ConfigError

#: the Python base image version the Dockerfile defaults to; passed as a build arg too.
PYTHON_VERSION = "3.12.11"


@dataclass(frozen=True, slots=True)
class Rendered:
    """The Dockerfile and other template files, plus the build args deploy passes to docker."""

    files: tuple[tuple[str, bytes], ...]
    build_args: tuple[tuple[str, str], ...]

    @property
    def dockerfile(self) -> str:
        return dict(self.files)["Dockerfile"].decode("utf-8")


def template_dir() -> Traversable:
    """Where the templates live: the installed package first, then the source checkout.

    Raises:
        ConfigError: neither location has a Dockerfile (a broken install).
    """
    packaged = importlib.resources.files("devproxy").joinpath("_templates")
    if packaged.joinpath("Dockerfile").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if (checkout / "Dockerfile").is_file():
        return checkout
    raise ConfigError("the container templates are missing from this devproxy install",
                      hint="reinstall devproxy, or pass --image to deploy a prebuilt image")


def render(tailscale_version: str, root: Traversable | None = None) -> Rendered:
    """Read every template file; the versions go in as build args, never edited into the text."""
    base = root or template_dir()
    files = tuple(sorted((entry.name, entry.read_bytes()) for entry in base.iterdir() if entry.is_file()))
    args = (("TAILSCALE_VERSION", tailscale_version), ("PYTHON_VERSION", PYTHON_VERSION))
    return Rendered(files=files, build_args=args)
