"""Build the runtime image: wheel of this devproxy + templates -> tar.gz -> Cloud Storage -> Cloud Build.

`build_wheel` runs pip in a subprocess (deploy is synchronous code, no event loop here).
The context is byte-for-byte reproducible, so its digest names the image tag: the same code
gives the same tag.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from devproxy import __version__
from devproxy.deploy.config import DeployConfig
from devproxy.deploy.templates import Rendered
from devproxy.errors import CloudError, ConfigError

if TYPE_CHECKING:
    from devproxy.deploy.cloud_api import Cloud
    from google.cloud.devtools import cloudbuild_v1

WheelBuilder = Callable[[Path], Path]
Report = Callable[[str], None]
TERMINAL = {"SUCCESS", "FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"}
BUILD_TIMEOUT_SECONDS = 1200


@dataclass(frozen=True, slots=True)
class Context:
    """A gzip'd tar build context and its digest."""

    data: bytes
    sha256: str

    @property
    def tag(self) -> str:
        return f"{__version__}-{self.sha256[:12]}"

    @property
    def object_name(self) -> str:
        return f"source/devproxy-{self.sha256[:16]}.tar.gz"


def project_root() -> Path | None:
    """The source checkout this devproxy runs from, if it runs from one."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "devproxy"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def build_wheel(out_dir: Path) -> Path:
    """Build a wheel of this devproxy (templates included) into `out_dir`.

    Raises:
        ConfigError: not running from a source checkout, or pip failed.
    """
    root = project_root()
    if root is None:
        raise ConfigError("cannot build the image: this devproxy is not running from a source checkout",
                          hint="run deploy from a clone of devproxy, or pass --image IMAGE")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out_dir), str(root)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    wheels = sorted(out_dir.glob("devproxy-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ConfigError("building the devproxy wheel failed: " + " | ".join(tail))
    return wheels[-1]


def prebuilt_wheel(path: str) -> WheelBuilder:
    """A wheel builder that hands back an existing devproxy wheel (`wheel` setting).

    Raises:
        ConfigError: the file is not a devproxy wheel.
    """
    wheel = Path(path)

    def use(_out_dir: Path) -> Path:
        if not (wheel.is_file() and wheel.name.startswith("devproxy-") and wheel.suffix == ".whl"):
            raise ConfigError(f"{path} is not a devproxy wheel file")
        return wheel

    return use


def make_context(rendered: Rendered, wheel: Path) -> Context:
    """A reproducible tar.gz: templates at the top, the wheel under dist/ (pure apart from reading it)."""
    entries = [*rendered.files, (f"dist/{wheel.name}", wheel.read_bytes())]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    data = packed.getvalue()
    return Context(data=data, sha256=hashlib.sha256(data).hexdigest())


def build_request(cfg: DeployConfig, rendered: Rendered, context: Context) -> cloudbuild_v1.Build:
    """The Cloud Build request: one docker build and push, logs to our bucket (pure)."""
    from google.cloud.devtools import cloudbuild_v1
    from google.protobuf import duration_pb2

    image = image_tag(cfg, context)
    args = ["build", "--tag", image]
    for key, value in rendered.build_args:
        args += ["--build-arg", f"{key}={value}"]
    return cloudbuild_v1.Build(
        source=cloudbuild_v1.Source(
            storage_source=cloudbuild_v1.StorageSource(bucket=cfg.build_bucket, object_=context.object_name)
        ),
        steps=[cloudbuild_v1.BuildStep(name="gcr.io/cloud-builders/docker", args=[*args, "."])],
        images=[image],
        logs_bucket=f"gs://{cfg.build_bucket}",
        timeout=duration_pb2.Duration(seconds=BUILD_TIMEOUT_SECONDS),
        tags=["devproxy", cfg.service],
    )


def prepare(cfg: DeployConfig, rendered: Rendered, wheel_builder: WheelBuilder) -> Context:
    """Build the wheel and pack the context locally; its digest names the image tag."""
    with tempfile.TemporaryDirectory(prefix="devproxy-wheel-") as tmp:
        return make_context(rendered, wheel_builder(Path(tmp)))


def image_tag(cfg: DeployConfig, context: Context) -> str:
    return f"{cfg.image_repository}:{context.tag}"


def build_image(
    cloud: Cloud,
    cfg: DeployConfig,
    rendered: Rendered,
    context: Context,
    *,
    progress: Report,
    log: Report,
) -> str:
    """Upload the context, build and push with Cloud Build; returns `repository@sha256:...`.

    Raises:
        CloudError: the build failed (with Cloud Build's status detail and log URL).
    """
    progress(f"uploading build context ({len(context.data)} bytes) to gs://{cfg.build_bucket}")
    cloud.upload(cfg.build_bucket, context.object_name, context.data, "application/gzip")
    progress(f"uploaded {len(context.data)} bytes")
    request = build_request(cfg, rendered, context)
    build_id = cloud.submit_build(request)
    progress(f"Cloud Build {build_id} started")
    build = _follow(cloud, cfg, build_id, progress, log)
    status = build.status.name
    if status != "SUCCESS":
        raise CloudError(f"Cloud Build {build_id} ended {status}: {build.status_detail or 'no detail'}",
                         hint=f"read the build log: {build.log_url or 'gcloud builds log ' + build_id}")
    tagged = request.images[0]
    for built in build.results.images:
        if built.digest and built.name in (tagged, tagged.rsplit(":", 1)[0]):
            return f"{tagged.rsplit(':', 1)[0]}@{built.digest}"
    return tagged


def _follow(cloud: Cloud, cfg: DeployConfig, build_id: str, progress: Report, log: Report,
            timeout: float = BUILD_TIMEOUT_SECONDS + 60) -> cloudbuild_v1.Build:
    """Poll the build and stream new log lines from the logs bucket until it ends."""
    offset, pending, waited, delay = 0, b"", 0.0, 0.2
    last_status = ""
    while True:
        build = cloud.get_build(build_id)
        chunk = cloud.read_object(cfg.build_bucket, f"log-{build_id}.txt", offset)
        offset += len(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            log(line.decode("utf-8", "replace"))
        status = build.status.name
        if status != last_status:
            progress(f"build {status.lower()}")
            last_status = status
        if status in TERMINAL:
            if pending:
                log(pending.decode("utf-8", "replace"))
            return build
        if waited >= timeout:
            raise CloudError(f"Cloud Build {build_id} still running after {int(waited)} s",
                             hint=f"follow it with `gcloud builds log --stream {build_id}`")
        cloud.sleep(delay)
        waited += delay
        delay = min(delay * 2, 3.0)
