"""The one seam where Google Cloud's exceptions become `CloudError`s that say what to do.

Shared by every command that calls Google (deploy, status, logs). A missing permission names
the role that grants it, a disabled API names itself and the `gcloud services enable` command,
missing credentials name the login command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from devproxy.errors import CloudError

#: (API key as in DEVPROXY_<API>_ENDPOINT) -> (display name, service name).
APIS = {
    "RUN": ("Cloud Run Admin API", "run.googleapis.com"),
    "SECRETMANAGER": ("Secret Manager API", "secretmanager.googleapis.com"),
    "IAM": ("Identity and Access Management (IAM) API", "iam.googleapis.com"),
    "ARTIFACTREGISTRY": ("Artifact Registry API", "artifactregistry.googleapis.com"),
    "STORAGE": ("Cloud Storage API", "storage.googleapis.com"),
    "CLOUDBUILD": ("Cloud Build API", "cloudbuild.googleapis.com"),
    "LOGGING": ("Cloud Logging API", "logging.googleapis.com"),
    "RESOURCEMANAGER": ("Cloud Resource Manager API", "cloudresourcemanager.googleapis.com"),
    "IAP": ("Identity-Aware Proxy API", "iap.googleapis.com"),
}

#: permission prefix -> the predefined role deploy's user needs; first match wins.
PERMISSION_ROLES = (
    ("iam.serviceAccounts.actAs", "roles/iam.serviceAccountUser"),
    ("iam.serviceAccounts.", "roles/iam.serviceAccountAdmin"),
    ("run.", "roles/run.admin"),
    ("secretmanager.", "roles/secretmanager.admin"),
    ("artifactregistry.", "roles/artifactregistry.admin"),
    ("storage.", "roles/storage.admin"),
    ("cloudbuild.", "roles/cloudbuild.builds.editor"),
    ("logging.", "roles/logging.viewer"),
    ("resourcemanager.projects.get", "roles/browser"),
    ("serviceusage.", "roles/serviceusage.serviceUsageConsumer"),
    ("iap.", "roles/iap.admin"),
)
_PERMISSION = re.compile(r"\b((?:iam|run|secretmanager|artifactregistry|storage|cloudbuild|serviceusage|logging"
                         r"|resourcemanager|iap)"
                         r"\.[A-Za-z]+\.[A-Za-z]+)\b")
_REQUEST_PREFIX = re.compile(r"^(?:GET|POST|PATCH|PUT|DELETE) \S+: ")
LOGIN_HINT = "run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS)"


def role_for(permission: str) -> str | None:
    # Cloud Run spells some permissions in lower case ("iam.serviceaccounts.actAs")
    for prefix, role in PERMISSION_ROLES:
        if permission.lower().startswith(prefix.lower()):
            return role
    return None


def _permission(exc: object, message: str) -> str | None:
    metadata = getattr(exc, "metadata", None) or {}
    if isinstance(metadata, dict) and metadata.get("permission"):
        return str(metadata["permission"])
    found = _PERMISSION.search(message)
    return found.group(1) if found else None


def _disabled_service(exc: object, message: str, api: str) -> str | None:
    reason = getattr(exc, "reason", None)
    lowered = message.lower()
    if reason == "SERVICE_DISABLED" or "has not been used in project" in lowered or "is disabled" in lowered:
        metadata = getattr(exc, "metadata", None) or {}
        service = metadata.get("service") if isinstance(metadata, dict) else None
        return str(service or APIS.get(api, ("", f"{api.lower()}.googleapis.com"))[1])
    return None


def translate(exc: BaseException, api: str, doing: str, project: str | None = None,
              error: type[CloudError] = CloudError, role: str | None = None) -> CloudError:
    """The `error` (a `CloudError`) a user should see for `exc` raised while `doing` something.

    `role`: what to grant when a refusal does not name its permission (e.g. roles/logging.viewer).
    """
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    if isinstance(exc, (auth_exc.DefaultCredentialsError, auth_exc.RefreshError, gexc.Unauthorized)):
        return error(f"not logged in to Google Cloud while trying to {doing}", hint=LOGIN_HINT)
    if isinstance(exc, gexc.GoogleAPICallError):
        # REST errors read "POST https://...: <message>"; the URL adds nothing for the user.
        message = _REQUEST_PREFIX.sub("", exc.message or str(exc))
        service = _disabled_service(exc, message, api)
        if service:
            name = next((n for n, s in APIS.values() if s == service), service)
            where = f" --project {project}" if project else ""
            return error(f"the {name} ({service}) is not enabled, needed to {doing}",
                              hint=f"run `gcloud services enable {service}{where}`, wait a minute, retry")
        if isinstance(exc, gexc.Forbidden):
            permission = _permission(exc, message)
            needed = role_for(permission) if permission else None
            if permission and needed:
                return error(f"permission {permission} denied while trying to {doing}",
                             hint=f"grant your account {needed} on the project (or a role with {permission})")
            if role:
                return error(f"permission denied while trying to {doing}",
                             hint=f"grant your account {role} on the project")
            return error(f"permission denied while trying to {doing}: {message}",
                         hint="ask a project owner for the roles listed in the README")
        return error(f"{APIS.get(api, (api,))[0]} failed to {doing}: {message}")
    if isinstance(exc, auth_exc.GoogleAuthError):
        return error(f"Google credentials problem while trying to {doing}: {exc}", hint=LOGIN_HINT)
    return error(f"could not reach the {APIS.get(api, (api,))[0]} to {doing}: {exc}")


@contextmanager
def cloud_errors(api: str, doing: str, project: str | None = None,
                 error: type[CloudError] = CloudError, role: str | None = None) -> Iterator[None]:
    """Translate any Google client exception raised inside into `error` (a `CloudError`), `from` it."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc
    from requests import exceptions as req_exc

    try:
        yield
    except (gexc.GoogleAPIError, auth_exc.GoogleAuthError, req_exc.RequestException, OSError) as exc:
        raise translate(exc, api, doing, project, error, role) from exc
