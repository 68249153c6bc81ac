"""A Cloud Run domain mapping as lines for people: DNS records, conditions, what to do (pure).

The mapping's `status.resourceRecords` are the records to create at the DNS provider (a CNAME
to ghs.googlehosted.com. for a subdomain, A and AAAA records for an apex); its conditions say
whether the domain routes and the certificate is issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CONDITIONS = ("Ready", "CertificateProvisioned", "DomainRoutable")
WHILE_PENDING = ("the certificate is issued once the DNS records resolve: about 15 minutes, at most a day; "
                 "a proxied (orange-cloud) Cloudflare record blocks issuance, so make it DNS only")


def records(mapping: Mapping[str, Any], domain: str) -> list[str]:
    """One line per DNS record to create, in zone-file order (name, type, data)."""
    found = []
    for record in mapping.get("status", {}).get("resourceRecords", []):
        name = record.get("name") or ""
        # names are relative to the mapped domain's zone; an empty name is the domain itself
        shown = f"{name}.{_zone(domain, name)}" if name else domain
        found.append(f"{shown}  {record.get('type', '?')}  {record.get('rrdata', '?')}")
    return found


def _zone(domain: str, name: str) -> str:
    return domain[len(name) + 1:] if domain.startswith(f"{name}.") else domain


def conditions(mapping: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Condition type -> (status, message) for the conditions people act on."""
    found = {c.get("type", ""): (c.get("status", "Unknown"), c.get("message", ""))
             for c in mapping.get("status", {}).get("conditions", [])}
    return {name: found.get(name, ("Unknown", "")) for name in CONDITIONS}


def lines(mapping: Mapping[str, Any] | None, domain: str) -> list[str]:
    """The domain's state: records to create, each condition, and the next step while pending."""
    if mapping is None:
        return [f"{domain}: not mapped yet (run `devproxy deploy --domain {domain}`)"]
    out = [f"domain: https://{domain}"]
    dns = records(mapping, domain)
    if dns:
        out.append("  DNS records to create at your DNS provider:")
        out.extend(f"    {line}" for line in dns)
    else:
        out.append("  DNS records: not known yet; run `devproxy status` in a minute")
    states = conditions(mapping)
    for name, (status, message) in states.items():
        out.append(f"  {name}: {status}" + (f" ({message})" if message and status != "True" else ""))
    if states["Ready"][0] != "True":
        out.append(f"  while pending: {WHILE_PENDING}")
    return out


def as_json(mapping: Mapping[str, Any] | None, domain: str) -> dict[str, Any]:
    return {
        "domain": domain,
        "mapped": mapping is not None,
        "records": (mapping or {}).get("status", {}).get("resourceRecords", []),
        "conditions": {k: {"status": s, "message": m} for k, (s, m) in conditions(mapping or {}).items()},
    }
