"""The fake's Cloud Run v1 domain mappings and IAP policies (a mixin of `fake_gcp.FakeGoogle`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any


class GoogleError(Exception):
    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []


class DomainsAndIap:
    """Domain mappings by domain (only verified domains may be mapped) and IAP policies by resource."""

    domain_mappings: dict[str, dict[str, Any]]
    verified_domains: set[str]
    iap_policies: dict[str, dict[str, Any]]
    #: the fake's JSON answer (`FakeGoogle.json`).
    json: Callable[..., tuple[int, dict[str, str], bytes]]

    def domain_and_iap_routes(self) -> Iterator[tuple[str, str, Any]]:
        mappings = r"/apis/domains\.cloudrun\.com/v1/namespaces/([^/]+)/domainmappings"
        yield "GET", rf"{mappings}/([^/]+)", self.get_mapping
        yield "POST", mappings, self.create_mapping
        yield "POST", r"/v1/(projects/[^/]+/iap_web/[^/]+/services/[^/:]+):getIamPolicy", self.get_iap_policy
        yield "POST", r"/v1/(projects/[^/]+/iap_web/[^/]+/services/[^/:]+):setIamPolicy", self.set_iap_policy

    def get_mapping(self, project: str, domain: str, **_: Any) -> Any:
        if domain not in self.domain_mappings:
            raise GoogleError(404, f"Resource '{domain}' of kind 'DOMAIN_MAPPING' does not exist.")
        return self.json(self.domain_mappings[domain])

    def create_mapping(self, project: str, body: Any, **_: Any) -> Any:
        domain = body["metadata"]["name"]
        if not any(domain == d or domain.endswith(f".{d}") for d in self.verified_domains):
            raise GoogleError(403, f"Caller is not authorized to administer the domain {domain}. If you own "
                                   f"{domain}, you can obtain authorization by verifying ownership of the domain.")
        if domain in self.domain_mappings:
            raise GoogleError(409, f"Domain mapping {domain} already exists.")
        apex = domain.count(".") == 1
        records = ([{"type": "A", "rrdata": "216.239.32.21"}, {"type": "AAAA", "rrdata": "2001:4860:4802:32::15"}]
                   if apex else [{"name": domain.split(".")[0], "type": "CNAME", "rrdata": "ghs.googlehosted.com."}])
        self.domain_mappings[domain] = {
            **body, "status": {"resourceRecords": records, "mappedRouteName": body["spec"]["routeName"],
                               "conditions": [
                                   {"type": "Ready", "status": "Unknown", "reason": "CertificatePending",
                                    "message": "Waiting for certificate provisioning. You must configure your DNS "
                                               "records for certificate issuance to begin."},
                                   {"type": "CertificateProvisioned", "status": "Unknown",
                                    "reason": "CertificatePending"},
                                   {"type": "DomainRoutable", "status": "True"}]}}
        return self.json(self.domain_mappings[domain])

    def get_iap_policy(self, resource: str, body: Any = None, **_: Any) -> Any:
        """IAM's rule: asked for a version below 3, conditional bindings come back with a `_withcond_` role."""
        policy = self.iap_policies.get(resource, {"etag": "BwIAP"})
        version = ((body or {}).get("options") or {}).get("requestedPolicyVersion", 1)
        if version < 3 and any(b.get("condition") for b in policy.get("bindings", [])):
            policy = {**policy, "version": 1, "bindings": [
                {"role": b["role"] + ("_withcond_1a2b3c" if b.get("condition") else ""), "members": b["members"]}
                for b in policy["bindings"]]}
        return self.json(policy)

    def set_iap_policy(self, resource: str, body: Any, **_: Any) -> Any:
        """Conditions need version 3 and a title and expression each; a stale etag is a conflict."""
        policy = body["policy"]
        stored = self.iap_policies.get(resource, {"etag": "BwIAP"})
        if policy.get("etag") and policy["etag"] != stored.get("etag"):
            raise GoogleError(409, "There were concurrent policy changes. Please retry the whole "
                                   "read-modify-write with exponential backoff.")
        for binding in policy.get("bindings", []):
            condition = binding.get("condition")
            if condition is not None and policy.get("version") != 3:
                raise GoogleError(400, "Invalid IAM policy: conditional role bindings require policy version 3.")
            if condition is not None and not (condition.get("title") and condition.get("expression")):
                raise GoogleError(400, "Invalid IAM condition: a title and an expression are required.")
            if not binding.get("members"):
                raise GoogleError(400, f"Invalid IAM policy: binding for {binding.get('role')} has no members.")
        digest = hashlib.sha256(json.dumps(policy, sort_keys=True).encode()).hexdigest()[:12]
        self.iap_policies[resource] = {**policy, "etag": f"BwIAP{digest}"}
        return self.json(self.iap_policies[resource])

    # -- what `devproxy destroy` calls --------------------------------------------------------------------------
