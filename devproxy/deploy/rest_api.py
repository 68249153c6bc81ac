"""Google APIs deploy calls over REST with google-auth's `AuthorizedSession`.

IAM service accounts (the admin client ships gRPC only), IAP's policy on a Cloud Run service,
and Cloud Run's v1 domain mappings (not in the v2 client). Each honours
`DEVPROXY_<API>_ENDPOINT` (the path after the host stays the same), and every error goes
through the one Google error seam, `gcp_errors.cloud_errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from devproxy.deploy.config import DeployConfig
from devproxy.errors import CloudError
from devproxy.gcp import client_settings
from devproxy.gcp_errors import cloud_errors

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
DOMAIN_MAPPING_API = "apis/domains.cloudrun.com/v1"


class RestApis:
    """The REST half of the `Cloud` adapter (it mixes this in)."""

    cfg: DeployConfig
    env: dict[str, str]

    def _session(self, api: str) -> Any:
        cache: dict[str, Any] = self.__dict__.setdefault("_sessions", {})
        if api not in cache:
            from google.auth.transport.requests import AuthorizedSession

            with cloud_errors(api, "load Google credentials", self.cfg.project):
                if client_settings(api, self.env).anonymous:
                    from google.auth.credentials import AnonymousCredentials

                    credentials: Any = AnonymousCredentials()  # type: ignore[no-untyped-call]
                else:
                    import google.auth

                    credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
            cache[api] = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return cache[api]

    def _rest(self, api: str, default_base: str, method: str, path: str, doing: str,
              body: dict[str, Any] | None = None) -> Any:
        from google.api_core import exceptions as gexc

        base = client_settings(api, self.env).endpoint or default_base
        session = self._session(api)
        with cloud_errors(api, doing, self.cfg.project):
            response = session.request(method, f"{base}/{path}", json=body, timeout=60)
            if response.status_code >= 400:
                raise gexc.from_http_response(response)  # type: ignore[no-untyped-call]
            return response.json()

    def has_credentials(self) -> bool:
        """Whether Google credentials can be loaded (always, for an http:// test endpoint); no network."""
        if client_settings("RUN", self.env).anonymous:
            return True
        import google.auth
        from google.auth import exceptions as auth_exc

        try:
            google.auth.default(scopes=[CLOUD_PLATFORM])
        except auth_exc.DefaultCredentialsError:
            return False
        return True

    # -- IAM service accounts ------------------------------------------------------------------
    def _iam_call(self, method: str, path: str, doing: str, body: dict[str, Any] | None = None) -> Any:
        return self._rest("IAM", "https://iam.googleapis.com", method, f"v1/{path}", doing, body)

    def service_account_exists(self, email: str) -> bool:
        return self.get_service_account(email) is not None

    def get_service_account(self, email: str) -> dict[str, Any] | None:
        """The service account resource (its `uniqueId` is the subject of its ID tokens), or None."""
        try:
            found = self._iam_call("GET", f"projects/{self.cfg.project}/serviceAccounts/{email}",
                                   f"read service account {email}")
        except CloudError as exc:
            if _not_found(exc):
                return None
            raise
        return cast("dict[str, Any]", found)

    def create_service_account(self, account_id: str, display_name: str) -> dict[str, Any]:
        """Create the account; returns it (with its `uniqueId`)."""
        return cast("dict[str, Any]", self._iam_call(
            "POST", f"projects/{self.cfg.project}/serviceAccounts", f"create service account {account_id}",
            {"accountId": account_id, "serviceAccount": {"displayName": display_name}}))

    # -- IAP's policy on the service (resource projects/N/iap_web/cloud_run-REGION/services/S) ------------
    def _iap_policy(self, resource: str, doing: str) -> dict[str, Any]:
        # version 3: the only one that shows conditional bindings as they are
        return cast("dict[str, Any]", self._rest("IAP", "https://iap.googleapis.com", "POST",
                                                 f"v1/{resource}:getIamPolicy", doing,
                                                 {"options": {"requestedPolicyVersion": 3}}))

    def iap_members(self, resource: str, role: str) -> frozenset[tuple[str, str | None]]:
        """Who holds `role` on the IAP resource: (member, the binding's condition expression or None)."""
        policy = self._iap_policy(resource, f"read who may pass IAP to service {self.cfg.service}")
        return frozenset((m, (b.get("condition") or {}).get("expression"))
                         for b in policy.get("bindings", []) if b.get("role") == role for m in b.get("members", []))

    def add_iap_member(self, resource: str, role: str, member: str,
                       condition: Mapping[str, str] | None = None) -> None:
        """Bind `member` to `role`, limited by `condition` when given (then no longer without one)."""
        doing = f"grant {role} through IAP on service {self.cfg.service} to {member}"
        policy = self._iap_policy(resource, doing)
        bindings: list[dict[str, Any]] = policy.setdefault("bindings", [])
        expression = condition["expression"] if condition else None
        changed = False
        if condition:  # a member limited to a route loses a binding that lets them in everywhere
            for binding in bindings:
                members = binding.get("members", [])
                if binding.get("role") == role and not binding.get("condition") and member in members:
                    members.remove(member)
                    changed = True
            bindings[:] = [b for b in bindings if b.get("members")]
        found = next((b for b in bindings if b.get("role") == role
                      and (b.get("condition") or {}).get("expression") == expression), None)
        if found is None:
            added: dict[str, Any] = {"role": role, "members": [member]}
            if condition:
                added["condition"] = dict(condition)
            bindings.append(added)
        elif member not in found.setdefault("members", []):
            found["members"].append(member)
        elif not changed:
            return
        if any(b.get("condition") for b in bindings):
            policy["version"] = 3  # conditional bindings are written with version 3 and the etag read
        self._rest("IAP", "https://iap.googleapis.com", "POST", f"v1/{resource}:setIamPolicy", doing,
                   {"policy": policy})

    # -- Cloud Run domain mappings (v1) ------------------------------------------------------------
    def _mappings(self, method: str, path: str, doing: str, body: dict[str, Any] | None = None) -> Any:
        base = f"https://{self.cfg.region}-run.googleapis.com"
        where = f"{DOMAIN_MAPPING_API}/namespaces/{self.cfg.project}/domainmappings{path}"
        return self._rest("RUN", base, method, where, doing, body)

    def get_domain_mapping(self, domain: str) -> dict[str, Any] | None:
        """The mapping of `domain` (with its status: conditions, DNS records), or None."""
        try:
            return cast("dict[str, Any]", self._mappings("GET", f"/{domain}", f"read the domain mapping {domain}"))
        except CloudError as exc:
            if _not_found(exc):
                return None
            raise

    def create_domain_mapping(self, domain: str) -> dict[str, Any]:
        """Map `domain` to the service with a Google-managed certificate.

        Raises:
            CloudError: the domain is not verified for the caller (with how to verify it), or another failure.
        """
        body = {"apiVersion": "domains.cloudrun.com/v1", "kind": "DomainMapping",
                "metadata": {"name": domain, "namespace": self.cfg.project},
                "spec": {"routeName": self.cfg.service, "certificateMode": "AUTOMATIC"}}
        try:
            return cast("dict[str, Any]", self._mappings("POST", "", f"map {domain} to service {self.cfg.service}",
                                                         body))
        except CloudError as exc:
            if _unverified(exc):
                apex = ".".join(domain.split(".")[-2:])
                raise CloudError(f"{domain} is not verified as yours for this Google account",
                                 hint=f"verify {apex} (or {domain}) with `gcloud domains verify {apex}` in Search "
                                      "Console, then run `devproxy deploy` again") from exc.__cause__
            raise


def _not_found(exc: CloudError) -> bool:
    from google.api_core import exceptions as gexc

    return isinstance(exc.__cause__, gexc.NotFound)


def _unverified(exc: CloudError) -> bool:
    message = str(getattr(exc.__cause__, "message", "") or "").lower()
    return "verif" in message or "not authorized to administer the domain" in message
