"""The service as facts: every field devproxy sets is compared; a spec read back compares equal."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud import run_v2

from devproxy.deploy.config import merge
from devproxy.deploy.diff import changes, service_facts
from devproxy.deploy.spec import build_service, service_json

CFG = merge([("flag", {"project": "p", "target": "http://devbox:8888", "auth": "iap",
                       "login_server": "https://hs.example.com"})])


def leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from leaves(value, (*path, index))
    else:
        yield path, data


def changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str) and value.endswith("s") and value[:-1].isdigit():
        return f"{int(value[:-1]) + 1}s"  # a Duration
    if value == "EXECUTION_ENVIRONMENT_GEN2":
        return "EXECUTION_ENVIRONMENT_GEN1"
    if value == "INGRESS_TRAFFIC_ALL":
        return "INGRESS_TRAFFIC_INTERNAL_ONLY"
    return f"{value}x"


SPEC = service_json(build_service(CFG, "img", "42"))
#: launchStage asks for preview features; it is a request option, not a setting of the service.
PATHS = [path for path, _ in leaves(SPEC) if path != ("launchStage",)]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: ".".join(map(str, p)))
def test_every_field_devproxy_sets_is_a_fact(path: tuple[Any, ...]) -> None:
    """Changing any single field of the built spec shows up as exactly one or more changes."""
    data = copy.deepcopy(SPEC)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = changed(node[path[-1]])
    other = run_v2.Service.from_json(json.dumps(data))
    assert changes(service_facts(other), service_facts(build_service(CFG, "img", "42")))


def test_a_service_read_back_with_outputs_and_defaults_is_equal() -> None:
    """Fields Cloud Run adds (uri, generation, conditions, concurrency) and others' labels are not changes."""
    sent = build_service(CFG, "img", "42")
    read = run_v2.Service.from_json(json.dumps(service_json(sent)))
    read.uri = "https://devproxy-abc.a.run.app"
    read.generation = 7
    read.template.max_instance_request_concurrency = 80
    read.terminal_condition.type_ = "Ready"
    read.labels["cost-center"] = "dev"  # added by hand: the owner's, not drift
    assert changes(service_facts(read), service_facts(sent)) == []
