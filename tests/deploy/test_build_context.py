"""The build context and Cloud Build request (pure parts of the image build)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from devproxy.deploy.build import build_request, make_context
from devproxy.deploy.config import merge
from devproxy.deploy.templates import Rendered, render


def test_context_is_reproducible_and_complete(wheel: Path) -> None:
    """Same inputs, same bytes (so the tag names the build); the tar holds templates and dist/<wheel>."""
    rendered = render("v1.84.0")
    first, second = make_context(rendered, wheel), make_context(rendered, wheel)
    assert first.data == second.data and first.tag == second.tag
    changed = Rendered(files=(*rendered.files, ("extra.txt", b"x")), build_args=rendered.build_args)
    assert make_context(changed, wheel).sha256 != first.sha256
    with tarfile.open(fileobj=io.BytesIO(first.data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {".dockerignore", "Dockerfile", f"dist/{wheel.name}"}
    assert all(m.mtime == 0 and m.uid == 0 for m in members.values())


def test_build_request(wheel: Path) -> None:
    """One docker build step with the version build args, the image pushed, logs in our bucket."""
    cfg = merge([("flag", {"project": "p", "target": "http://x:1", "region": "r"})])
    rendered = render("v1.80.1")
    context = make_context(rendered, wheel)
    build = build_request(cfg, rendered, context)
    image = f"r-docker.pkg.dev/p/devproxy/devproxy:{context.tag}"
    assert list(build.images) == [image]
    (step,) = build.steps
    assert step.name == "gcr.io/cloud-builders/docker"
    assert list(step.args) == ["build", "--tag", image, "--build-arg", "TAILSCALE_VERSION=v1.80.1",
                               "--build-arg", "PYTHON_VERSION=3.12.11", "."]
    assert build.source.storage_source.bucket == "p-devproxy-build"
    assert build.source.storage_source.object_ == context.object_name
    assert build.logs_bucket == "gs://p-devproxy-build"
