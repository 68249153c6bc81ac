"""Cloud Logging adapter: read (or poll) a Cloud Run service's entries with google-cloud-logging.

The only module in `logs` that talks to Google Cloud. It uses the library's JSON/REST
transport (the GAPIC logging client has no REST transport, and REST honours an ``http://``
endpoint from ``DEVPROXY_LOGGING_ENDPOINT``). Library errors become `CloudLogsError` here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from devproxy.errors import CloudError
from devproxy.gcp import client_settings
from devproxy.gcp_errors import cloud_errors as google_errors
from devproxy.logs.model import LogEntry
from devproxy.logs.query import CloudQuery, build_filter
from devproxy.logs.source import entry_from_log_entry

PAGE_SIZE = 1000
#: insertIds remembered for de-duplication while following.
SEEN_IDS = 20_000

class CloudLogsError(CloudError):
    """Cloud Logging could not be read (Google refused or could not be reached): exit 1, as every CloudError."""


@contextmanager
def cloud_errors(project: str) -> Iterator[None]:
    """Google's errors as `CloudLogsError`s that say what to do (through the shared seam)."""
    with google_errors("LOGGING", f"read the logs of project {project}", project,
                       error=CloudLogsError, role="roles/logging.viewer"):
        yield


def make_client(project: str, env: Mapping[str, str]) -> Any:
    """A google-cloud-logging client on the REST transport, honouring the endpoint override."""
    from google.cloud.logging import Client

    settings = client_settings("LOGGING", env)
    kwargs: dict[str, Any] = {"project": project, "_use_grpc": False}
    if settings.endpoint is not None:
        kwargs["client_options"] = {"api_endpoint": settings.endpoint}
    if settings.anonymous:
        from google.auth.credentials import AnonymousCredentials

        kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
    with cloud_errors(project):
        return Client(**kwargs)  # type: ignore[no-untyped-call]


def _entry(resource: Any) -> LogEntry:
    # the typed entries (text, struct, protobuf) each put their payload back into the REST shape
    return entry_from_log_entry(resource.to_api_repr())


def read_entries(query: CloudQuery, env: Mapping[str, str], *, client: Any = None) -> list[LogEntry]:
    """The newest `query.limit` entries of the service since `query.since`, oldest first.

    Raises:
        CloudLogsError: credentials, permission, API or network problems.
    """
    from google.cloud.logging import DESCENDING

    client = client or make_client(query.project, env)
    with cloud_errors(query.project):
        iterator = client.list_entries(
            resource_names=[f"projects/{query.project}"],
            filter_=build_filter(query.service, query.since, query.region),
            order_by=DESCENDING,
            max_results=query.limit,
            page_size=min(PAGE_SIZE, max(1, query.limit)),
        )
        entries = [_entry(resource) for resource in iterator]
    entries.reverse()
    return entries


def poll_entries(
    query: CloudQuery,
    env: Mapping[str, str],
    *,
    interval_s: float = 2.0,
    max_polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    client: Any = None,
) -> Iterator[list[LogEntry]]:
    """Follow the service's logs: one batch of new entries per poll (possibly empty), oldest first.

    Polls with a timestamp filter that moves to the newest entry seen and drops entries already
    seen (by insertId), since Cloud Logging's live tail is gRPC-only.

    Raises:
        CloudLogsError: credentials, permission, API or network problems.
    """
    from google.cloud.logging import ASCENDING

    client = client or make_client(query.project, env)
    since = query.since
    seen: set[str] = set()
    order: deque[str] = deque()
    polls = 0
    while max_polls is None or polls < max_polls:
        if polls:
            sleep(interval_s)
        polls += 1
        with cloud_errors(query.project):
            iterator = client.list_entries(
                resource_names=[f"projects/{query.project}"],
                filter_=build_filter(query.service, since, query.region),
                order_by=ASCENDING,
                page_size=PAGE_SIZE,
            )
            resources = list(iterator)
        batch: list[LogEntry] = []
        for resource in resources:
            entry = _entry(resource)
            key = entry.insert_id or f"{entry.time}|{entry.message}"
            if key in seen:
                continue
            seen.add(key)
            order.append(key)
            if len(order) > SEEN_IDS:
                seen.discard(order.popleft())
            batch.append(entry)
            stamp = resource.timestamp
            if stamp is not None and stamp > since:
                since = stamp  # entries at this same instant may still arrive: keep >=, dedupe by id
        yield batch

