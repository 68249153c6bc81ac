"""CLI tests use deploy's fake Google Cloud server (the real client libraries talk to it over REST)."""

from tests.deploy.conftest import fake, fake_server

__all__ = ["fake", "fake_server"]
