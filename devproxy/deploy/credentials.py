"""How the service joins the tailnet: keyless, an OAuth client secret, or an auth key (pure).

Keyless (workload identity federation) stores no Tailscale secret: the runtime exchanges the
service account's own Google ID token, so Tailscale's admin console needs a federated identity
naming that account. An OAuth client secret (`tskey-client-...`) is stored like an auth key and
mints a key at each login; it needs tags (the client must own them). The secret's value is
looked at only for its prefix and never kept here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from devproxy.deploy.config import DeployConfig
from devproxy.deploy.plan import CreateServiceAccount, DeployService
from devproxy.errors import ConfigError

GOOGLE_ISSUER = "https://accounts.google.com"
CLIENT_SECRET_PREFIX = "tskey-client-"


@dataclass(frozen=True, slots=True)
class FederatedIdentity:
    """What to enter in Tailscale's admin console (Settings -> Trust credentials) for keyless mode."""

    client_id: str
    issuer: str
    #: the runtime service account's numeric unique ID; None until the account exists.
    subject: str | None
    account: str
    audience: str
    tags: tuple[str, ...]

    def lines(self) -> list[str]:
        subject = self.subject or f"the numeric unique ID of {self.account} (shown once deploy creates it)"
        return [f"issuer: {self.issuer}", f"subject: {subject}  ({self.account})",
                f"audience: {self.audience}", f"tags: {','.join(self.tags)}",
                f"client id: {self.client_id}"]


def mode(cfg: DeployConfig, secret: str | None) -> str:
    """`keyless`, `oauth-client`, `auth-key`, or `stored` (a secret kept from an earlier deploy).

    Raises:
        ConfigError: an OAuth client secret without tags.
    """
    if cfg.keyless:
        return "keyless"
    if secret is None:
        return "stored"
    if secret.startswith(CLIENT_SECRET_PREFIX):
        if not cfg.tailscale_tags:
            raise ConfigError("an OAuth client secret (tskey-client-...) needs tags",
                              hint="pass --tags tag:devproxy (tags the OAuth client owns), "
                                   "or set tailscale_tags in devproxy.toml")
        return "oauth-client"
    return "auth-key"


def describe(cfg: DeployConfig, kind: str) -> str:
    """One line naming the credential mode, for the dry run and the deploy result."""
    tags = f", tags {','.join(cfg.tags)}" if cfg.tags else ""
    if kind == "keyless":
        return (f"keyless (workload identity federation: client id {cfg.tailscale_client_id}, "
                f"audience {cfg.audience}{tags}; no Tailscale secret is stored)")
    if kind == "oauth-client":
        return f"OAuth client secret in secret {cfg.authkey_secret} (a key is minted at each login{tags})"
    if kind == "auth-key":
        return f"auth key in secret {cfg.authkey_secret}{tags}"
    return f"the auth key or OAuth client secret stored in secret {cfg.authkey_secret}{tags}"


def federated_identity(cfg: DeployConfig, unique_id: str | None) -> FederatedIdentity | None:
    """The federated identity keyless mode needs, or None in the other modes."""
    if not cfg.keyless or cfg.tailscale_client_id is None:
        return None
    return FederatedIdentity(cfg.tailscale_client_id, GOOGLE_ISSUER, unique_id, cfg.service_account_email,
                             cfg.audience, cfg.tags)


def needs_setup(actions: Sequence[object]) -> bool:
    """Whether this deploy starts or changes what the federated identity must match (show it then)."""
    for action in actions:
        if isinstance(action, CreateServiceAccount) or (isinstance(action, DeployService) and action.create):
            return True
        if isinstance(action, DeployService) and any(c.field in _SETUP_FACTS for c in action.changes):
            return True
    return False


_SETUP_FACTS = ("service_account", "env DEVPROXY_TAILSCALE_CLIENT_ID", "env DEVPROXY_TAILSCALE_AUDIENCE",
                "env DEVPROXY_TAILSCALE_TAGS")
