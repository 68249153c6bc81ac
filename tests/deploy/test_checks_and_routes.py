"""Input checked up front (formats, then credentials, then the wheel) and routes passed to the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devproxy.deploy.config import merge
from devproxy.errors import ConfigError
from devproxy.route_specs import parse_specs
from devproxy.runtime.config import parse_target
from tests.deploy.clirun import devproxy
from tests.deploy.fake_gcp import FakeGoogle, FakeServer

FLAGS = ["deploy", "--dry-run", "--project", "demo-proj", "--target", "http://devbox:8888"]
NO_CREDENTIALS = {"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/credentials.json", "NO_GCE_CHECK": "True"}


@pytest.mark.parametrize(("args", "first_line"), [
    (["--project", "My_Project"], "error: project id 'My_Project' cannot exist"),
    (["--project", "abc"], "error: project id 'abc' cannot exist"),
    (["--region", "moon-base"], "error: region 'moon-base' is not a Google Cloud region"),
    (["--image", "Registry/UPPER CASE:1"], "error: image 'Registry/UPPER CASE:1' is not an image reference"),
    (["--image", "img@sha256:xyz"], "error: image 'img@sha256:xyz' is not an image reference"),
    (["--target", "http://devbox:99999"], "error: target 'http://devbox:99999' has a port that cannot exist"),
    (["--target", "http://devbox:0"], "error: target must be an http:// or https:// URL"),
    (["--route", "jupyter/=http://devbox:8889"], "error: invalid route 'jupyter/=http://devbox:8889': the prefix must start with '/'"),
])
def test_formats_are_checked_before_anything_else(tmp_path: Path, args: list[str], first_line: str) -> None:
    """A name that cannot exist is one line and exit 2, even without credentials (checked first)."""
    ran = devproxy([*FLAGS, *args], cwd=tmp_path, env=NO_CREDENTIALS)
    assert ran.code == 2, ran.out
    (line,) = ran.err.strip().splitlines()
    assert line.startswith(first_line)
    assert ran.out == ""


def test_valid_names_pass(tmp_path: Path) -> None:
    """Real-looking names (a legacy domain-scoped project, a long region, a digest) are accepted."""
    digest = "sha256:" + "a" * 64
    ran = devproxy(["deploy", "--dry-run", "--project", "example.com:my-proj", "--region", "northamerica-northeast1",
                    "--target", "https://devbox.tail1234.ts.net:8443", "--image", f"europe-docker.pkg.dev/p/r/d:1@{digest}"],
                   cwd=tmp_path, env=NO_CREDENTIALS)
    assert ran.code == 0, ran.err


def test_credentials_are_checked_before_the_wheel(fake_server: FakeServer, fake: FakeGoogle, tmp_path: Path) -> None:
    """With refused credentials and a wheel that cannot be built, the dry run names the login, not the wheel."""
    fake.inject("GET", "/services/devproxy$", 401, "Request had invalid authentication credentials.")
    env = {**fake_server.env(), "DEVPROXY_WHEEL": str(tmp_path / "missing.whl")}
    ran = devproxy(FLAGS, cwd=tmp_path, env=env)
    assert ran.code == 1
    assert ran.err.strip().startswith("error: not logged in to Google Cloud")
    no_login = devproxy(FLAGS, cwd=tmp_path, env={**NO_CREDENTIALS, "DEVPROXY_WHEEL": str(tmp_path / "missing.whl")})
    assert no_login.code == 0, no_login.err  # no credentials: the empty-project plan, no wheel is built


def test_routes_from_devproxy_toml_reach_the_service(tmp_path: Path) -> None:
    """routes (a list or a table) become DEVPROXY_ROUTES, comma-separated PREFIX=URL pairs."""
    (tmp_path / "devproxy.toml").write_text(
        '[deploy]\nproject = "demo-proj"\ntarget = "http://devbox:8888"\n'
        'routes = ["/jupyter/=http://devbox:8889;host=public", "/app/=http://devbox2:3000/"]\n')
    ran = devproxy(["deploy", "--dry-run", "--json"], cwd=tmp_path, env=NO_CREDENTIALS)
    assert ran.code == 0, ran.err
    env = json.loads(ran.out)["service"]["template"]["containers"][0]["env"]
    assert {"name": "DEVPROXY_ROUTES",
            "value": "/jupyter/=http://devbox:8889;host=public,/app/=http://devbox2:3000/"} in env
    (tmp_path / "devproxy.toml").write_text(
        '[deploy]\nproject = "demo-proj"\ntarget = "http://devbox:8888"\n'
        '[deploy.routes]\n"/jupyter/" = "http://devbox:8889"\n')
    ran = devproxy(["deploy", "--dry-run", "--json"], cwd=tmp_path, env=NO_CREDENTIALS)
    env = json.loads(ran.out)["service"]["template"]["containers"][0]["env"]
    assert {"name": "DEVPROXY_ROUTES", "value": "/jupyter/=http://devbox:8889"} in env


@pytest.mark.parametrize(("routes", "fragment"), [
    (["/a/=http://x:1", "/a/=http://y:2"], "the prefix /a/ is already routed"),
    (["/_devproxy/x/=http://x:1"], "is reserved for devproxy's own pages"),
    (["/=http://x:1"], "'/' itself is the default route"),
    (["/a/=devbox:8889"], "route /a/ must be an http:// or https:// URL"),
    (["/a/"], "is not PREFIX=URL"),
    (["/a/=http://x:1;host=maybe"], "unknown option 'host=maybe'"),
    ({"/a/": 5}, "every URL must be a string"),
    (["/a/=http://x:1,b"], "a URL holds no ','"),
])
def test_invalid_routes(routes: object, fragment: str) -> None:
    """Invalid routes are one ConfigError (exit 2) naming the route."""
    with pytest.raises(ConfigError, match=fragment):
        merge([("devproxy.toml", {"routes": routes}), ("flag", {"project": "p", "target": "http://d:1"})])


@pytest.mark.parametrize(("routes", "fragment"), [
    (["/a/=http://x:1", "/a=http://y:2"], "the prefix /a/ is already routed"),
    (["/_DEVPROXY/x/=http://x:1"], "is reserved for devproxy's own pages"),
    (["/a/../b/=http://x:1"], "the prefix must be a plain path"),
    (["/a b/=http://x:1"], "the prefix must be a plain path"),
    (["/a/=http://x:1/?q=1"], "has a query or fragment"),
])
def test_deploy_refuses_what_the_runtime_refuses(routes: list[str], fragment: str) -> None:
    """A route the runtime would refuse at start (its rule, route_specs) is refused by deploy before anything runs."""
    with pytest.raises(ConfigError, match=fragment):
        merge([("devproxy.toml", {"routes": routes}), ("flag", {"project": "p", "target": "http://d:1"})])
    with pytest.raises(ConfigError):
        parse_specs(routes) if "?" not in routes[0] else parse_target(routes[0].partition("=")[2])


def test_deploy_accepts_what_the_runtime_accepts() -> None:
    """Routes the runtime takes (options in any case, a path that replaces the prefix) pass deploy's check too."""
    routes = ["/jupyter/=http://devbox:8889;HOST=public", "/app=http://devbox2:3000/", "/b/=https://b:8443;host=target"]
    assert parse_specs(routes)
    cfg = merge([("devproxy.toml", {"routes": routes}), ("flag", {"project": "p", "target": "http://d:1"})])
    assert [p for p, _ in cfg.routes] == ["/jupyter/", "/app", "/b/"]
