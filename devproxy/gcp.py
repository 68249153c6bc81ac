"""The one place that decides how Google Cloud clients reach their APIs.

`DEVPROXY_<API>_ENDPOINT` (API one of RUN, SECRETMANAGER, LOGGING, STORAGE,
ARTIFACTREGISTRY, CLOUDBUILD, IAM, RESOURCEMANAGER, SERVICEUSAGE, IAP) points a real client library at another server:
with an ``http://`` URL the client uses REST transport and anonymous credentials, so the
tests can run the official libraries against a local fake. `runtime` never imports this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APIS = ("RUN", "SECRETMANAGER", "LOGGING", "STORAGE", "ARTIFACTREGISTRY", "CLOUDBUILD", "IAM", "RESOURCEMANAGER",
        "SERVICEUSAGE", "IAP")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Keyword arguments for a client constructor, decided from the environment."""

    endpoint: str | None = None
    anonymous: bool = False

    def gapic_kwargs(self) -> dict[str, Any]:
        """kwargs for a generated (GAPIC) client such as `run_v2.ServicesClient`."""
        if self.endpoint is None:
            return {}
        from google.api_core.client_options import ClientOptions

        kwargs: dict[str, Any] = {"client_options": ClientOptions(api_endpoint=self.endpoint)}
        if self.anonymous:
            from google.auth.credentials import AnonymousCredentials

            kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
            kwargs["transport"] = "rest"
        return kwargs


def client_settings(api: str, env: Mapping[str, str]) -> ClientSettings:
    """How to reach `api` (one of APIS) given the environment."""
    if api not in APIS:
        raise ValueError(f"unknown Google Cloud API {api!r}")
    endpoint = env.get(f"DEVPROXY_{api}_ENDPOINT") or None
    if endpoint is None:
        return ClientSettings()
    return ClientSettings(endpoint=endpoint.rstrip("/"), anonymous=endpoint.startswith("http://"))
