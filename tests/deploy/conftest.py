"""Fixtures for deploy tests: the fake Google Cloud server and one real devproxy wheel per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.fake_gcp import FakeGoogle, FakeServer


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real wheel of this checkout, built once (deploy's own builder)."""
    from devproxy.deploy.build import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    server = FakeServer()
    with server:
        yield server


@pytest.fixture
def fake(fake_server: FakeServer) -> FakeGoogle:
    return fake_server.fake
