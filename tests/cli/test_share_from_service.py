"""`devproxy share` without DEVPROXY_ACCESS_TOKEN or --url reads both from the deployed service (fake Google APIs)."""

from __future__ import annotations

from pathlib import Path

from devproxy.runtime.grants import grant_key, read_grant
from tests.cli.test_open import BASE, deploy
from tests.deploy.clirun import devproxy
from tests.deploy.fake_gcp import FakeGoogle, FakeServer


def test_share_signs_with_the_stored_token_and_the_service_url(fake_server: FakeServer, fake: FakeGoogle,
                                                                tmp_path: Path) -> None:
    """The link is on the service's URL, its grant verifies with Secret Manager's token, which is printed nowhere."""
    deploy(fake_server, tmp_path)
    (token,) = fake.secret_values("devproxy-access-token")
    ran = devproxy(["share", "/jupyter/", *BASE], cwd=tmp_path, env=fake_server.env())
    assert ran.code == 0, ran.err
    (link,) = ran.out.splitlines()
    assert link.startswith(f"{fake.url}/jupyter/?devproxy_token=g1.")
    grant = read_grant(grant_key(token), link.split("=", 1)[1])
    assert grant is not None and grant.prefix == "/jupyter/"
    assert token not in ran.out and token not in ran.err
    assert fake.bodies("GET", r"/secrets/devproxy-access-token/versions/latest:access")


def test_given_url_wins_and_the_token_still_comes_from_the_service(fake_server: FakeServer, fake: FakeGoogle,
                                                                   tmp_path: Path) -> None:
    """--url (a custom domain) is used as given; only the missing token is read from Secret Manager."""
    deploy(fake_server, tmp_path)
    (token,) = fake.secret_values("devproxy-access-token")
    ran = devproxy(["share", "/app/", *BASE, "--url", "https://dev.example.com"], cwd=tmp_path, env=fake_server.env())
    assert ran.code == 0, ran.err
    link = ran.out.strip()
    assert link.startswith("https://dev.example.com/app/?devproxy_token=g1.")
    assert read_grant(grant_key(token), link.split("=", 1)[1]) is not None


def test_share_from_an_iap_service_is_one_error_line(fake_server: FakeServer, tmp_path: Path) -> None:
    """A service without a token (--auth iap) gives one error line pointing to --allow, exit 2, nothing printed."""
    deploy(fake_server, tmp_path, "--auth", "iap")
    ran = devproxy(["share", "/app/", *BASE], cwd=tmp_path, env=fake_server.env())
    assert ran.code == 2, ran.err
    (line,) = ran.err.strip().splitlines()
    assert line.startswith("error: service devproxy runs --auth iap: shared links need token mode")
    assert ran.out == ""


def test_share_without_a_service_exits_1(fake_server: FakeServer, tmp_path: Path) -> None:
    """A project named but nothing deployed: the one line `devproxy open` gives, exit 1."""
    ran = devproxy(["share", "/app/", *BASE], cwd=tmp_path, env=fake_server.env())
    assert ran.code == 1
    assert ran.err.strip().startswith("error: service devproxy does not exist in demo-proj/us-central1")
