"""Config merge: defaults < gcloud config < devproxy.toml < Google env < DEVPROXY_* < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from devproxy.deploy.config import load_config, merge
from devproxy.project import gcloud_layer
from devproxy.errors import ConfigError

BASE = ("flag", {"project": "p", "target": "http://devbox:8080"})


@pytest.mark.parametrize(
    ("layers", "key", "value", "source"),
    [
        ([BASE], "region", "us-central1", "default"),
        ([("devproxy.toml", {"region": "europe-west1"}), BASE], "region", "europe-west1", "devproxy.toml"),
        ([("devproxy.toml", {"region": "a"}), ("env DEVPROXY_REGION", {"region": "b"}), BASE], "region", "b",
         "env DEVPROXY_REGION"),
        ([("env DEVPROXY_REGION", {"region": "b"}), ("flag", {"project": "p", "target": "http://x:1",
                                                            "region": "c"})], "region", "c", "flag"),
        ([("devproxy.toml", {"min_instances": "0"}), BASE], "min_instances", 0, "devproxy.toml"),
        ([("gcloud config default", {"project": "g"}), ("flag", {"target": "http://x:1"})], "project", "g",
         "gcloud config default"),
        ([("devproxy.toml", {"auth": "iap"}), ("flag", {"project": "p", "target": "http://x:1", "auth": None})],
         "auth", "iap", "devproxy.toml"),
    ],
)
def test_merge_precedence(layers: list, key: str, value: object, source: str) -> None:
    """Later layers win, empty values do not override, and each value remembers its source."""
    cfg = merge(layers)
    assert getattr(cfg, key) == value
    assert cfg.source_of(key) == source


@pytest.mark.parametrize(
    ("layer", "fragment"),
    [
        ({"target": "http://x:1"}, "no project set"),
        ({"project": "p"}, "no target set"),
        ({"project": "p", "target": "devbox:8080"}, "target must be an http"),
        ({"project": "p", "target": "http://x:1", "auth": "password"}, "auth must be one of"),
        ({"project": "p", "target": "http://x:1", "service": "Bad_Name"}, "not valid for Cloud Run"),
        ({"project": "p", "target": "http://x:1", "min_instances": "2", "max_instances": "1"}, "instances"),
        ({"project": "p", "target": "http://x:1", "max_instances": "many"}, "whole number"),
        ({"project": "p", "target": "http://x:1", "colour": "red"}, "unknown setting 'colour'"),
        ({"project": "p", "target": "http://x:1", "login_server": "headscale.example.com"}, "login_server must be"),
        ({"project": "p", "target": "http://x:1", "login_server": "https://u:pw@hs.example"}, "without credentials"),
    ],
)
def test_merge_rejects(layer: dict, fragment: str) -> None:
    """Invalid or missing settings raise ConfigError (exit 2) naming the problem."""
    with pytest.raises(ConfigError) as info:
        merge([("flag", layer)])
    assert fragment in str(info.value)
    assert info.value.exit_code == 2


def test_derived_names() -> None:
    """Secret, account, bucket and image names derive from project and service."""
    cfg = merge([("flag", {"project": "p", "target": "http://x:1", "service": "ide", "region": "r"})])
    assert cfg.account_id == "ide-runtime"
    assert cfg.service_account_email == "ide-runtime@p.iam.gserviceaccount.com"
    assert cfg.secret_ids == ("ide-ts-authkey", "ide-access-token")
    assert cfg.build_bucket == "p-devproxy-build"
    assert cfg.image_repository == "r-docker.pkg.dev/p/devproxy/ide"
    iap = merge([("flag", {"project": "p", "target": "http://x:1", "auth": "iap"})])
    assert iap.secret_ids == ("devproxy-ts-authkey",)


def test_load_config_reads_every_layer(tmp_path: Path) -> None:
    """gcloud config, devproxy.toml, GOOGLE_CLOUD_PROJECT, DEVPROXY_* and flags combine in order."""
    gdir = tmp_path / "gcloud" / "configurations"
    gdir.mkdir(parents=True)
    (gdir / "config_default").write_text("[core]\nproject = from-gcloud\n[run]\nregion = asia-east1\n")
    (tmp_path / "devproxy.toml").write_text('[deploy]\ntarget = "http://devbox:8888"\nservice = "ide"\n')
    env = {"CLOUDSDK_CONFIG": str(tmp_path / "gcloud"), "DEVPROXY_MAX_INSTANCES": "3"}
    cfg = load_config(env, {"min_instances": 2}, cwd=tmp_path, home=tmp_path)
    assert (cfg.project, cfg.region, cfg.service, cfg.target) == (
        "from-gcloud", "asia-east1", "ide", "http://devbox:8888")
    assert (cfg.min_instances, cfg.max_instances) == (2, 3)
    env["GOOGLE_CLOUD_PROJECT"] = "from-env"
    assert load_config(env, {}, cwd=tmp_path, home=tmp_path).project == "from-env"


def test_gcloud_layer_absent_and_named(tmp_path: Path) -> None:
    """No gcloud files means no layer; the active configuration name picks the file."""
    assert gcloud_layer({}, tmp_path) is None
    root = tmp_path / ".config" / "gcloud"
    (root / "configurations").mkdir(parents=True)
    (root / "active_config").write_text("work\n")
    (root / "configurations" / "config_work").write_text("[core]\nproject = w\n")
    assert gcloud_layer({}, tmp_path) == ("gcloud config work", {"project": "w"})


def test_bad_toml_is_a_config_error(tmp_path: Path) -> None:
    """A broken devproxy.toml is reported as a ConfigError naming the file."""
    (tmp_path / "devproxy.toml").write_text("target = \n")
    with pytest.raises(ConfigError, match="devproxy.toml"):
        load_config({}, {"project": "p"}, cwd=tmp_path, home=tmp_path)
