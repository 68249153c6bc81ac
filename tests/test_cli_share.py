"""`devproxy share` as a user runs it: the link on stdout, one `error:` line and exit 2 for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import pytest

from devproxy.errors import ConfigError
from devproxy.runtime.grants import grant_key, read_grant
from devproxy.share import service_url, share_link

TOKEN = "cli-share-token-0123456789abcdef"


def _share(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `devproxy share` where no Google project can be found (so nothing is read from a deployed service)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DEVPROXY_", "CLOUDSDK_", "GOOGLE_"))}
    with tempfile.TemporaryDirectory() as home:
        return subprocess.run([sys.executable, "-m", "devproxy", "share", *args], capture_output=True, text=True,
                              timeout=30, cwd=home, env={**base, "HOME": home, **(env or {})})


def test_share_prints_a_link_for_the_prefix() -> None:
    """The link opens the prefix on the service URL; its grant names the prefix and expires after --for."""
    before = time.time()
    result = _share("jupyter", "--for", "90m", env={"DEVPROXY_ACCESS_TOKEN": TOKEN,
                                                    "DEVPROXY_URL": "https://dev.example/"})
    assert result.returncode == 0, result.stderr
    link = result.stdout.strip()
    assert link.startswith("https://dev.example/jupyter/?devproxy_token=g1.")
    grant = read_grant(grant_key(TOKEN), link.split("=", 1)[1])
    assert grant is not None and grant.prefix == "/jupyter/"
    assert before + 5400 - 5 <= grant.until <= time.time() + 5400
    assert result.stderr.startswith("opens only /jupyter/ until ")


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["/app/", "--url", "https://dev.example"], {}, "set DEVPROXY_ACCESS_TOKEN"),
        (["/app/"], {"DEVPROXY_ACCESS_TOKEN": TOKEN}, "no service URL"),
        (["/app/", "--url", "ftp://dev.example"], {"DEVPROXY_ACCESS_TOKEN": TOKEN}, "invalid service URL"),
        (["/app/", "--url", "https://dev.example", "--for", "8d"], {"DEVPROXY_ACCESS_TOKEN": TOKEN}, "at most 7 days"),
        (["/app/", "--url", "https://dev.example", "--for", "soon"], {"DEVPROXY_ACCESS_TOKEN": TOKEN}, "invalid duration"),
        (["/_devproxy/status", "--url", "https://dev.example"], {"DEVPROXY_ACCESS_TOKEN": TOKEN}, "cannot share"),
        (["--url", "https://dev.example"], {"DEVPROXY_ACCESS_TOKEN": TOKEN}, "name the route prefix"),
        (["/app/", "--revoke-all", "--url", "https://dev.example"], {"DEVPROXY_ACCESS_TOKEN": TOKEN}, "no PREFIX"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], env: dict[str, str], words: str) -> None:
    """Each mistake: exit code 2, one `error:` line naming it, nothing on stdout."""
    result = _share(*args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert result.stdout == "" and TOKEN not in result.stderr


def test_revoke_all_names_an_unreachable_service() -> None:
    """--revoke-all against a port where nothing listens: exit 1 and one line naming the URL."""
    result = _share("--revoke-all", "--url", "http://127.0.0.1:9", env={"DEVPROXY_ACCESS_TOKEN": TOKEN})
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: cannot reach http://127.0.0.1:9 to revoke the shared links")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("https://dev.example", "https://dev.example"), ("https://dev.example/", "https://dev.example"),
     (" http://127.0.0.1:8080 ", "http://127.0.0.1:8080")],
)
def test_service_url(value: str, expected: str) -> None:
    """The service URL is an origin; a trailing slash is dropped."""
    assert service_url(value) == expected


@pytest.mark.parametrize("value", ["", "dev.example", "https://dev.example/app/", "https://dev.example?x=1",
                                   "https://user@dev.example", "https://dev.example:port"])
def test_service_url_refuses_anything_else(value: str) -> None:
    """Anything but http(s)://HOST[:PORT] is a ConfigError."""
    with pytest.raises(ConfigError):
        service_url(value)


def test_share_link_is_deterministic_in_time() -> None:
    """share_link signs from the given time; the link carries the prefix as given."""
    link = share_link(TOKEN, "https://dev.example", "/", 60, now=1_900_000_000)
    assert link.until == 1_900_000_060 and link.url.startswith("https://dev.example/?devproxy_token=g1.")
