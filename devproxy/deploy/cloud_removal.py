"""The Google Cloud calls `devproxy destroy` adds to deploy's adapter: reads of what deploy created, deletions.

Same clients, same error seam as `cloud_api.Cloud` (this is a subclass of it).
"""

from __future__ import annotations

from devproxy.deploy.cloud_api import Cloud, Progress


class Removal(Cloud):
    """The calls `devproxy destroy` adds: reads of what deploy created, and their deletions."""

    def package_name(self) -> str:
        """The Artifact Registry package holding this service's images."""
        return f"{self._repository_name()}/packages/{self.cfg.service}"

    def package_exists(self) -> bool:
        from google.api_core import exceptions as gexc

        with self._errors("ARTIFACTREGISTRY", f"read the images of {self.cfg.service}"):
            try:
                self._registry.get_package(name=self.package_name())
            except gexc.NotFound:
                return False
        return True

    def delete_package(self, progress: Progress) -> None:
        """Delete the package: every image version and tag of this service (the repository stays)."""
        with self._errors("ARTIFACTREGISTRY", f"delete the images of {self.cfg.service}"):
            op = self._registry.delete_package(name=self.package_name())
            self.wait(op, f"deleting the images of {self.cfg.service}", progress)

    def delete_service(self, progress: Progress) -> None:
        """Delete the Cloud Run service (its revisions and IAM policy go with it) and wait."""
        with self._errors("RUN", f"delete service {self.cfg.service}"):
            op = self._run.delete_service(name=self.cfg.service_name)
            self.wait(op, f"deleting service {self.cfg.service}", progress)

    def delete_secret(self, secret_id: str) -> None:
        """Delete the secret with every version and its IAM policy."""
        with self._errors("SECRETMANAGER", f"delete secret {secret_id}"):
            self._secrets.delete_secret(name=self._secret_path(secret_id))

    def delete_service_account(self, email: str) -> None:
        self._iam_call("DELETE", f"projects/{self.cfg.project}/serviceAccounts/{email}",
                       f"delete service account {email}")
