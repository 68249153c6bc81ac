"""One resolution of project, region and service: the pure layers and every command that reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from devproxy.deploy.config import load_config
from devproxy.errors import ConfigError
from devproxy.project import resolve
from tests.deploy.clirun import devproxy
from tests.logs.fake_logging import paged, serve


def gcloud_config(home: Path, project: str, region: str | None = None) -> None:
    """Write gcloud's active configuration file under `home` as `gcloud config set` does."""
    folder = home / ".config" / "gcloud" / "configurations"
    folder.mkdir(parents=True)
    text = f"[core]\nproject = {project}\n" + (f"[run]\nregion = {region}\n" if region else "")
    (folder / "config_default").write_text(text)


@pytest.mark.parametrize(
    ("env", "toml", "flags", "expected"),
    [
        ({}, None, {"project": "flag"}, ("flag", "us-central1", "devproxy")),
        ({}, 'project = "t"\nregion = "europe-west1"\nservice = "dev"\n', {}, ("t", "europe-west1", "dev")),
        ({}, '[deploy]\nproject = "t"\n', {"service": "other"}, ("t", "us-central1", "other")),
        ({"GOOGLE_CLOUD_PROJECT": "g"}, 'project = "t"\n', {}, ("g", "us-central1", "devproxy")),
        ({"GOOGLE_CLOUD_PROJECT": "g", "CLOUDSDK_CORE_PROJECT": "c"}, None, {}, ("g", "us-central1", "devproxy")),
        ({"CLOUDSDK_CORE_PROJECT": "c", "CLOUDSDK_RUN_REGION": "asia-east1"}, None, {},
         ("c", "asia-east1", "devproxy")),
        ({"DEVPROXY_PROJECT": "d", "GOOGLE_CLOUD_PROJECT": "g"}, None, {}, ("d", "us-central1", "devproxy")),
        ({"DEVPROXY_SERVICE": "envsvc"}, 'project = "t"\nservice = "tomlsvc"\n', {}, ("t", "us-central1", "envsvc")),
    ],
)
def test_layers_in_order(tmp_path: Path, env: dict[str, str], toml: str | None, flags: dict[str, str],
                         expected: tuple[str, str, str]) -> None:
    """Flags > DEVPROXY_* > GOOGLE_CLOUD_PROJECT/CLOUDSDK_* > devproxy.toml > gcloud config > defaults."""
    gcloud_config(tmp_path, "from-gcloud")
    if toml is not None:
        (tmp_path / "devproxy.toml").write_text(toml)
    place = resolve(env, flags, cwd=tmp_path, home=tmp_path)
    assert (place.project, place.region, place.service) == expected


def test_gcloud_configuration_and_sources(tmp_path: Path) -> None:
    """gcloud's project and run/region are used, and the region counts as chosen (not a default)."""
    gcloud_config(tmp_path, "gp", "europe-north1")
    place = resolve({}, {}, cwd=tmp_path, home=tmp_path)
    assert (place.project, place.chosen_region) == ("gp", "europe-north1")
    assert place.source_of("project") == "gcloud config default"
    assert resolve({}, {"project": "x"}, cwd=tmp_path, home=tmp_path / "none").chosen_region is None


def test_no_project_anywhere_names_every_way_to_set_one(tmp_path: Path) -> None:
    """Without a project the error names the flag, the variable, devproxy.toml and gcloud."""
    with pytest.raises(ConfigError) as info:
        resolve({}, {}, cwd=tmp_path, home=tmp_path)
    assert str(info.value).startswith("no project set (pass --project, set GOOGLE_CLOUD_PROJECT, put project in "
                                      "devproxy.toml")


def test_deploy_config_agrees_with_resolve(tmp_path: Path) -> None:
    """deploy's configuration reads the same layers, so it names the same project, region and service."""
    gcloud_config(tmp_path, "gp", "europe-north1")
    (tmp_path / "devproxy.toml").write_text('[deploy]\nservice = "dev"\ntarget = "http://devbox:8888"\n')
    env = {"CLOUDSDK_CORE_PROJECT": "env-proj"}
    place = resolve(env, {}, cwd=tmp_path, home=tmp_path)
    cfg = load_config(env, {}, cwd=tmp_path, home=tmp_path)
    assert (cfg.project, cfg.region, cfg.service) == (place.project, place.region, place.service)
    assert (place.project, place.region, place.service) == ("env-proj", "europe-north1", "dev")


def test_logs_reads_the_project_region_and_service_of_devproxy_toml(tmp_path: Path) -> None:
    """`devproxy logs` asks Cloud Logging for devproxy.toml's project, service and region, as deploy would."""
    (tmp_path / "devproxy.toml").write_text(
        '[deploy]\nproject = "toml-proj"\nregion = "europe-west4"\nservice = "mydev"\ntarget = "http://d:1"\n'
    )
    with serve(paged([[]])) as fake:
        ran = devproxy(["logs", "--since", "1h"], cwd=tmp_path, env={"DEVPROXY_LOGGING_ENDPOINT": fake.url})
    assert ran.code == 0, ran.err
    body = fake.requests[0]
    assert body["resourceNames"] == ["projects/toml-proj"]
    assert 'resource.labels.service_name="mydev"' in body["filter"]
    assert 'resource.labels.location="europe-west4"' in body["filter"]


def test_logs_reads_gcloud_configuration(tmp_path: Path) -> None:
    """`devproxy logs` finds gcloud's default project (no variable, no flag) and reads every region."""
    gcloud_config(tmp_path, "gcloud-proj")
    with serve(paged([[]])) as fake:
        ran = devproxy(["logs"], cwd=tmp_path, env={"DEVPROXY_LOGGING_ENDPOINT": fake.url})
    assert ran.code == 0, ran.err
    assert fake.requests[0]["resourceNames"] == ["projects/gcloud-proj"]
    assert "resource.labels.location" not in fake.requests[0]["filter"]
