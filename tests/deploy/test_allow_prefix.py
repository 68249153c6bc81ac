"""--allow MEMBER=PREFIX: an IAP binding with an IAM condition on request.path, against the fake's IAM rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.clirun import devproxy
from tests.deploy.fake_gcp import FakeGoogle, FakeServer
from tests.deploy.test_domain_and_allow import FLAGS, IAP, KEY, run

ROLE = "roles/iap.httpsResourceAccessor"
ROUTE = ["--auth", "iap", "--route", "/jupyter/=http://devbox:8889"]
JUPYTER_ONLY = 'request.path == "/jupyter" || request.path.startsWith("/jupyter/")'


def bindings(fake: FakeGoogle) -> list[dict[str, Any]]:
    return list(fake.iap_policies[IAP]["bindings"])


def planned(server: FakeServer, cwd: Path, *args: str) -> list[str]:
    ran = devproxy([*FLAGS, *args, "--dry-run", "--json"], cwd=cwd, env={**server.env(), **KEY})
    assert ran.code == 0, ran.err
    return [a["description"] for a in json.loads(ran.out)["plan"] if "through IAP" in a["description"]]


def test_a_member_limited_to_a_route_gets_a_conditional_binding(fake_server: FakeServer, fake: FakeGoogle,
                                                                  tmp_path: Path) -> None:
    """bob=/jupyter/ is bound with a request.path condition (policy version 3); alice stays unconditional."""
    ran = run(fake_server, tmp_path, *ROUTE, "--allow", "user:alice@example.com",
              "--allow", "user:bob@example.com=/jupyter/")
    assert ran.code == 0, ran.err
    assert fake.iap_policies[IAP]["version"] == 3
    assert bindings(fake) == [
        {"role": ROLE, "members": ["user:alice@example.com"]},
        {"role": ROLE, "members": ["user:bob@example.com"],
         "condition": {"title": "devproxy route /jupyter/", "expression": JUPYTER_ONLY,
                       "description": "devproxy deploy --allow MEMBER=/jupyter/: only this route"}}]
    reads = fake.bodies("POST", r":getIamPolicy$")
    assert reads and all(body == {"options": {"requestedPolicyVersion": 3}} for body in reads)
    again = planned(fake_server, tmp_path, *ROUTE, "--allow", "user:alice@example.com",
                    "--allow", "user:bob@example.com=/jupyter/")
    assert again == []  # the conditional binding is recognised as present


def test_limiting_a_member_withdraws_their_access_to_everything(fake_server: FakeServer, fake: FakeGoogle,
                                                                 tmp_path: Path) -> None:
    """A member allowed everywhere, then given =/jupyter/, keeps only the conditional binding; the plan says so."""
    assert run(fake_server, tmp_path, *ROUTE, "--allow", "user:bob@example.com").code == 0
    assert bindings(fake) == [{"role": ROLE, "members": ["user:bob@example.com"]}]
    (line,) = planned(fake_server, tmp_path, *ROUTE, "--allow", "user:bob@example.com=/jupyter/")
    assert line == (f"let user:bob@example.com through IAP to /jupyter/ only: grant {ROLE} on {IAP} if "
                    f"{JUPYTER_ONLY}; their access to everything else is withdrawn")
    ran = run(fake_server, tmp_path, *ROUTE, "--allow", "user:bob@example.com=/jupyter/")
    assert ran.code == 0, ran.err
    assert [(b["members"], b.get("condition", {}).get("expression")) for b in bindings(fake)] == [
        (["user:bob@example.com"], JUPYTER_ONLY)]


def test_conditional_bindings_made_elsewhere_survive(fake_server: FakeServer, fake: FakeGoogle,
                                                      tmp_path: Path) -> None:
    """A conditional binding someone made in the console is written back unchanged when deploy adds a member."""
    expiring = {"role": ROLE, "members": ["user:carol@example.com"],
                "condition": {"title": "until Friday",
                              "expression": 'request.time < timestamp("2027-01-01T00:00:00Z")'}}
    fake.iap_policies[IAP] = {"version": 3, "etag": "BwIAPseed", "bindings": [expiring]}
    ran = run(fake_server, tmp_path, "--auth", "iap", "--allow", "user:alice@example.com")
    assert ran.code == 0, ran.err
    assert bindings(fake) == [expiring, {"role": ROLE, "members": ["user:alice@example.com"]}]


@pytest.mark.parametrize(("args", "words"), [
    (["--allow", "user:bob@example.com=/app/"], "/app/ is not one of the routes (routes: /jupyter/)"),
    (["--allow", "user:bob@example.com", "--allow", "user:bob@example.com=/jupyter/"],
     "given both for everything and for a route prefix"),
    (["--allow", "user:bob@example.com=jupyter"], "is not a member IAP knows"),
    (["--allow", "bob@example.com=/jupyter/"], "is not a member IAP knows"),
])
def test_bad_prefixes_are_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    """A prefix that is not a route, a member both unlimited and limited, or no member: one error line, exit 2."""
    ran = devproxy([*FLAGS, "--dry-run", *ROUTE, *args], cwd=tmp_path)
    assert ran.code == 2, ran.err
    (line,) = ran.err.strip().splitlines()
    assert line.startswith("error: ") and words in line
