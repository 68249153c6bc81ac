"""Catalog rows for the three ways the runtime logs in to Tailscale, and for each way's refusal.

The runtime's `tailscale.auth_failed` carries a `kind` (devproxy/runtime/tailscale.py SIGNATURES):
an auth key refused (the general catalog's `dp-tailscale-auth-failed`), and here the keyless
login's refused Google ID token, the OAuth client secret's refusal, tags the credential may not
own, and a login that needs tags and got none. The raw CLI texts (for users who run `tailscale up`
themselves) come from tailscale's own format strings at the pinned version; the keyless login's
metadata-server failure is devproxy's own `tailscale.up_failed` ("keyless login: ...").
"""

from __future__ import annotations

from devproxy import events as ev
from devproxy.logs.signatures import Signature, signature

_TS = "tailscale/tailscale"
_FEDERATION = f"{_TS}:feature/identityfederation/identityfederation.go@v1.102.3"
_OAUTH = f"{_TS}:feature/oauthkey/oauthkey.go@v1.102.3"
_RUNTIME = "devproxy/runtime/tailscale.py (SIGNATURES, kind={kind}); devproxy/runtime/tailscale_io.py"

FIX_FEDERATION = (
    "In Tailscale's admin console (Settings > Trust credentials) open the federated identity and make it match "
    "what `devproxy deploy` printed: issuer https://accounts.google.com, subject = the runtime service "
    "account's numeric unique ID, audience = DEVPROXY_TAILSCALE_AUDIENCE, and tags it may own (including "
    "DEVPROXY_TAILSCALE_TAGS); check DEVPROXY_TAILSCALE_CLIENT_ID is that identity's client ID; redeploy."
)
FIX_OAUTH = (
    "Check the OAuth client in Tailscale's admin console (Settings > Trust credentials): not revoked, with the "
    "auth_keys (write) scope and owning the tags in DEVPROXY_TAILSCALE_TAGS (default tag:devproxy); store a new "
    "secret with `devproxy deploy --ts-authkey-file FILE`."
)
FIX_TAGS_MISSING = (
    "Set DEVPROXY_TAILSCALE_TAGS (default tag:devproxy) to tags the OAuth client or federated identity owns; "
    "running tailscale yourself, pass --advertise-tags=tag:NAME."
)
FIX_TAGS_REJECTED = (
    "Fix tagOwners in the tailnet policy so the credential owns the requested tags, or request exactly the tags "
    "of its OAuth client or federated identity (DEVPROXY_TAILSCALE_TAGS)."
)

SIGNATURES: tuple[Signature, ...] = (
    # ---- devproxy's runtime: tailscale.auth_failed keyed on its kind --------------------------------------
    signature(
        "dp-tailscale-auth-federation", "tailscale", "critical", "root",
        "Keyless Tailscale login refused: the federated identity does not accept this service's ID token",
        "Tailscale refused to exchange the service's Google ID token: the federated identity's issuer, subject "
        "(the service account's unique ID), audience or client ID does not match the token devproxy sent.",
        FIX_FEDERATION,
        _RUNTIME.format(kind="federation_rejected"),
        events=(ev.TAILSCALE_AUTH_FAILED,),
        where=(("kind", "federation_rejected"),),
    ),
    signature(
        "dp-tailscale-auth-oauth", "tailscale", "critical", "root",
        "Tailscale login refused: the OAuth client secret was rejected",
        "Tailscale refused the OAuth client secret from the secret: revoked or mistyped, or the client lacks the "
        "auth_keys scope or the tags, so no auth key could be minted.",
        FIX_OAUTH,
        _RUNTIME.format(kind="oauth_rejected"),
        events=(ev.TAILSCALE_AUTH_FAILED,),
        where=(("kind", "oauth_rejected"),),
        # the runtime files a keyless login's key-minting refusal under oauth_rejected (its "Status: 403,
        # Message:" shape); the text says which login it was, so ts-federation-key-create owns it
        exclude=(r"unexpected error while creating authkey",),
    ),
    signature(
        "dp-tailscale-auth-tags-missing", "tailscale", "critical", "root",
        "Tailscale login needs tags and none were given",
        "An OAuth client secret or a federated identity mints only tagged nodes, and the login asked for no tags.",
        FIX_TAGS_MISSING,
        _RUNTIME.format(kind="tags_missing"),
        events=(ev.TAILSCALE_AUTH_FAILED,),
        where=(("kind", "tags_missing"),),
    ),
    signature(
        "dp-tailscale-auth-tags-rejected", "tailscale", "critical", "root",
        "Tailscale login refused the requested tags",
        "The credential (auth key, OAuth client or federated identity) may not own the tags the node asked for.",
        FIX_TAGS_REJECTED,
        _RUNTIME.format(kind="tags_rejected"),
        events=(ev.TAILSCALE_AUTH_FAILED,),
        where=(("kind", "tags_rejected"),),
    ),
    signature(
        "dp-keyless-metadata", "tailscale", "critical", "root",
        "Keyless login could not get an ID token from Google's metadata server",
        "Before `tailscale up` the keyless login asks the metadata server for an ID token; it did not answer, "
        "refused, or answered without a token (not on Cloud Run, no service account, or no audience).",
        "On Cloud Run, give the service a service account (devproxy deploy does) and set "
        "DEVPROXY_TAILSCALE_AUDIENCE; elsewhere set GCE_METADATA_HOST to a metadata server, or log in with "
        "TS_AUTHKEY (an OAuth client secret or an auth key).",
        "devproxy/runtime/supervisor.py (tailscale.up_failed 'keyless login: %s'); devproxy/runtime/metadata.py",
        events=(ev.TAILSCALE_UP_FAILED,),
        exclude=(r"^(?!keyless login: )",),  # every other up_failed is dp-tailscale-up-failed's
    ),
    # ---- the tailscale CLI's own words (tailscale up run by hand or by another wrapper) --------------------
    signature(
        "ts-federation-rejected", "tailscale", "critical", "root",
        "Tailscale refused the ID token (workload identity federation)",
        "tailscale up exchanged the ID token at Tailscale and was refused (401/403): the federated identity's "
        "issuer, subject, audience or client ID does not match the token.",
        FIX_FEDERATION,
        f"{_FEDERATION} ('failed to exchange JWT for access token: %w', 'token exchange failed with status %d: %s')",
        r"failed to exchange JWT for access token",
        r"token exchange failed with status \d+",
    ),
    signature(
        "ts-federation-no-id-token", "tailscale", "critical", "root",
        "A federated-identity login was started without an ID token",
        "tailscale up was given a client ID for workload identity federation but no --id-token (or audience) "
        "to prove who it is.",
        "Pass --id-token=file:PATH with a fresh Google ID token for the identity's audience (devproxy's runtime "
        "fetches it itself when DEVPROXY_TAILSCALE_CLIENT_ID and DEVPROXY_TAILSCALE_AUDIENCE are set).",
        f"{_FEDERATION} ('federated identity authkeys require --id-token', 'federated identity requires either "
        "an ID token or an audience')",
        r"federated identity authkeys require --id-token",
        r"federated identity requires either an ID token or an audience",
    ),
    signature(
        "ts-federation-no-tags", "tailscale", "critical", "root",
        "A federated-identity login was started without advertised tags",
        "Keys minted through a federated identity are always tagged, so tailscale up refuses without "
        "--advertise-tags.",
        FIX_TAGS_MISSING,
        f"{_FEDERATION} ('federated identity authkeys require --advertise-tags')",
        r"federated identity authkeys require --advertise-tags",
    ),
    signature(
        "ts-federation-key-create", "tailscale", "critical", "root",
        "Tailscale accepted the ID token but would not mint an auth key",
        "The federated identity logged in, but creating the node's key failed: it lacks the auth_keys scope or "
        "does not own the requested tags.",
        FIX_FEDERATION,
        f"{_FEDERATION} ('unexpected error while creating authkey: %w')",
        r"unexpected error while creating authkey",
    ),
    signature(
        "ts-oauth-rejected", "tailscale", "critical", "root",
        "Tailscale refused the OAuth client secret",
        "tailscale up could not trade the OAuth client secret (tskey-client-...) for a token, or the token may "
        "not create keys with these tags: revoked or mistyped secret, missing auth_keys scope or tags.",
        FIX_OAUTH,
        f"{_OAUTH} (golang.org/x/oauth2 'oauth2: cannot fetch token: %v'; {_TS}:client/tailscale/tailscale.go "
        "'Status: %d, Message: %q')",
        r"oauth2: cannot fetch token: 40\d",
        r'oauth2: "(?:invalid_client|unauthorized_client|invalid_grant|invalid_scope)"',
        r"Status: 40[13], Message: ",
        exclude=(r"unexpected error while creating authkey",),
    ),
)

#: the runtime's login refusals, one row per credential kind (with the general catalog's auth-key row).
AUTH_REFUSALS = frozenset({"dp-tailscale-auth-failed"} | {sig.id for sig in SIGNATURES if sig.id.startswith("dp-")})
#: the tailscale CLI's own refusals of a credential.
LOGIN_TEXTS = frozenset(sig.id for sig in SIGNATURES if sig.id.startswith("ts-"))
