"""The Google Cloud calls of the set-up check: API states and enabling (Service Usage), the caller's permissions.

Same error seam as `cloud_api.Cloud` (this is a subclass of it); the Service Usage client is built
like every other client, honouring `DEVPROXY_SERVICEUSAGE_ENDPOINT`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from devproxy.deploy.cloud_api import Cloud, Progress
from devproxy.gcp import client_settings

#: Service Usage takes at most this many names in one batch call.
BATCH = 20


class SetupCloud(Cloud):
    """Reads what a project has switched on and what the caller may do; switches APIs on."""

    @cached_property
    def _usage(self) -> Any:
        from google.cloud import service_usage_v1

        with self._errors("SERVICEUSAGE", "create the Service Usage client"):
            return service_usage_v1.ServiceUsageClient(**client_settings("SERVICEUSAGE", self.env).gapic_kwargs())

    def api_states(self, apis: Sequence[str]) -> dict[str, bool]:
        """service name (e.g. run.googleapis.com) -> whether it is enabled in the project."""
        from google.cloud import service_usage_v1

        parent = f"projects/{self.cfg.project}"
        states: dict[str, bool] = {}
        with self._errors("SERVICEUSAGE", f"read which APIs project {self.cfg.project} has enabled"):
            for start in range(0, len(apis), BATCH):
                names = [f"{parent}/services/{api}" for api in apis[start:start + BATCH]]
                answer = self._usage.batch_get_services(request={"parent": parent, "names": names})
                for service in answer.services:
                    api = str(service.name).rsplit("/", 1)[-1]
                    states[api] = service.state == service_usage_v1.State.ENABLED
        return states

    def enable_apis(self, apis: Sequence[str], progress: Progress) -> None:
        """Enable `apis` in one batch and wait until Google reports them on."""
        with self._errors("SERVICEUSAGE", f"enable {', '.join(apis)} in project {self.cfg.project}"):
            op = self._usage.batch_enable_services(
                request={"parent": f"projects/{self.cfg.project}", "service_ids": list(apis)}
            )
            self.wait(op, f"enabling {len(apis)} API{'s' if len(apis) != 1 else ''}", progress)

    def granted_permissions(self, permissions: Sequence[str]) -> frozenset[str]:
        """Which of `permissions` the caller holds on the project (one testIamPermissions call)."""
        with self._errors("RESOURCEMANAGER", f"test your permissions on project {self.cfg.project}"):
            answer = self._projects.test_iam_permissions(resource=f"projects/{self.cfg.project}",
                                                         permissions=list(permissions))
        return frozenset(answer.permissions)
