"""The pure logic around tailscaled: argv, what a login writes to its 0600 file, `status --json`,
log-line signatures.

Nothing here starts a process, reads the clock or touches the environment; the supervisor
(`supervisor.py`) does the I/O and the config builder (`config_tailscale.py`) reads the settings.

No secret goes on a command line: `tailscale up --auth-key=file:PATH` (an auth key, or an OAuth
client secret with its attributes) and `--id-token=file:PATH` (keyless) read it from a 0600 file
the supervisor deletes as soon as `up` returns (`tailscale up` treats a value starting with
"file:" as a path).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import quote

from devproxy.errors import TailscaleError
from devproxy.runtime.config_tailscale import AuthKey, Credential, OAuthClient, TailscaleSettings, WorkloadIdentity

#: what a user must do when the control plane rejects the auth key (field notes T7/T8).
AUTH_KEY_FIX = (
    "mint a new Tailscale auth key (reusable, ephemeral, pre-authorized; keys expire after at most "
    "90 days), add it as a new Secret Manager version of the auth-key secret, then redeploy "
    "(`devproxy deploy`) so new instances read it"
)
TAGS_FIX = (
    "the key may not request these tags: fix tagOwners in the tailnet policy, or mint the key "
    "with the full tag set of its OAuth client"
)
#: keyless: what to check in Tailscale's admin console when the ID token is refused.
FEDERATION_FIX = (
    "in Tailscale's admin console (Settings > Trust credentials) check the federated identity: issuer "
    "https://accounts.google.com, subject = the runtime service account's numeric unique ID, audience = "
    "DEVPROXY_TAILSCALE_AUDIENCE, tags it may own; and that DEVPROXY_TAILSCALE_CLIENT_ID is its client ID"
)
OAUTH_FIX = (
    "the OAuth client secret was refused: check it is not revoked, has the auth_keys (write) scope and owns "
    "the tags (DEVPROXY_TAILSCALE_TAGS, default tag:devproxy); store a new one with "
    "`devproxy deploy --ts-authkey-file FILE`"
)
TAGS_MISSING_FIX = "set DEVPROXY_TAILSCALE_TAGS (default tag:devproxy) to tags the credential may own"
#: attributes devproxy always gives a minted key: it must vanish with the instance and need no approval.
MINTED_KEY_ATTRIBUTES = "ephemeral=true&preauthorized=true"


@dataclass(frozen=True, slots=True)
class TailscaleStatus:
    """The parts of `tailscale status --json` the runtime acts on."""

    backend_state: str
    auth_url: str = ""
    health: tuple[str, ...] = ()
    self_hostname: str = ""
    self_ips: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return self.backend_state == "Running"


@dataclass(frozen=True, slots=True)
class LineSignature:
    """A known tailscaled / tailscale message and what it means."""

    kind: str  # "auth_failed", "tags_rejected", "socks_in_use", ...
    severity: str
    cause: str
    fix: str
    pattern: re.Pattern[str]


SIGNATURES: tuple[LineSignature, ...] = (
    LineSignature(
        "tags_rejected", "ERROR", "the auth key's tags were rejected", TAGS_FIX,
        re.compile(r"requested tags .* (are )?invalid or not permitted", re.I),
    ),
    LineSignature(
        "auth_failed", "ERROR", "the Tailscale auth key was rejected (expired, revoked or malformed)",
        AUTH_KEY_FIX,
        re.compile(
            r"invalid (auth ?)?key|API key (\S+ )?does not exist|API key (\S+ )?not valid"
            r"|unable to validate API key|auth ?key (has )?expired",
            re.I,
        ),
    ),
    LineSignature(
        "federation_rejected", "ERROR",
        "Tailscale refused the service's Google ID token (keyless login)", FEDERATION_FIX,
        re.compile(r"failed to exchange JWT for access token|token exchange failed with status", re.I),
    ),
    LineSignature(
        "oauth_rejected", "ERROR", "Tailscale refused the OAuth client secret", OAUTH_FIX,
        re.compile(r"oauth2: |Status: 40[0-9], Message:|unexpected error while creating authkey", re.I),
    ),
    LineSignature(
        "tags_missing", "ERROR", "the login needs tags and none were given", TAGS_MISSING_FIX,
        re.compile(r"authkeys require --advertise-tags", re.I),
    ),
    LineSignature(
        "socks_in_use", "ERROR", "the SOCKS5 port is already in use (an old tailscaled still running?)",
        "make sure no other process listens on the SOCKS address",
        re.compile(r"SOCKS5 listener: .*address already in use", re.I),
    ),
    LineSignature(
        "socket_missing", "WARNING", "the tailscale CLI could not reach tailscaled's socket",
        "tailscaled is not running yet, or --socket differs between tailscaled and tailscale",
        re.compile(r"failed to connect to local tailscaled|tailscaled\.sock: connect: no such file", re.I),
    ),
    LineSignature(
        "up_timeout", "WARNING", "tailscale up did not reach Running in time",
        "check the control plane is reachable and the key is valid",
        re.compile(r"timeout waiting for Tailscale service to enter a Running state", re.I),
    ),
    LineSignature(
        "logout_failed", "WARNING", "the ephemeral node was not logged out at shutdown",
        "it is removed automatically later; nothing to do",
        re.compile(r"failed to log out ephemeral node", re.I),
    ),
)

AUTH_KINDS = frozenset({"auth_failed", "tags_rejected", "federation_rejected", "oauth_rejected", "tags_missing"})


def classify_line(line: str) -> LineSignature | None:
    """Return the known signature a tailscaled/tailscale output line matches, if any."""
    for signature in SIGNATURES:
        if signature.pattern.search(line):
            return signature
    return None


def backoff_delay(attempt: int, initial_s: float, max_s: float) -> float:
    """Capped exponential backoff: initial, 2x, 4x, ... up to max (attempt counts from 0)."""
    if attempt < 0:
        attempt = 0
    # Cap the exponent so huge attempt counts cannot overflow the float.
    return float(min(max_s, initial_s * (2 ** min(attempt, 32))))


def tailscaled_argv(settings: TailscaleSettings) -> list[str]:
    """Command line of tailscaled: userspace networking, ephemeral, SOCKS on the literal address."""
    return [
        settings.tailscaled,
        "--tun=userspace-networking",
        f"--socks5-server={settings.socks_address}",
        "--state=mem:",
        f"--statedir={settings.state_dir}",
        f"--socket={settings.socket}",
        # Without it tailscaled takes its UDP port from $PORT (8080 on Cloud Run).
        "--port=0",
        "--no-logs-no-support",
        *settings.tailscaled_args,
    ]


def secret_file_content(credential: Credential | None) -> str | None:
    """What a login writes to its 0600 file: the auth key, the client secret with attributes, or None.

    Keyless logins write the ID token they fetched instead (`up_argv` passes it as --id-token).
    """
    match credential:
        case AuthKey(key=key):
            return key
        case OAuthClient(secret=secret, api_url=api_url):
            base = f"&baseURL={quote(api_url, safe=':/')}" if api_url else ""
            return f"{secret}?{MINTED_KEY_ATTRIBUTES}{base}"
    return None


def credential_args(credential: Credential | None, secret_file: str | None) -> list[str]:
    """The `tailscale up` flags of the credential; the secret travels as a file path, never as its value."""
    match credential:
        case WorkloadIdentity(client_id=client_id, tags=tags):
            # With a "?" attributes not given default to false: always give both.
            args = [f"--client-id={client_id}?{MINTED_KEY_ATTRIBUTES}"]
            if secret_file is not None:
                args.append(f"--id-token=file:{secret_file}")
            return [*args, f"--advertise-tags={','.join(tags)}"]
        case OAuthClient(tags=tags) | AuthKey(tags=tags):
            args = [f"--auth-key=file:{secret_file}"] if secret_file is not None else []
            return [*args, f"--advertise-tags={','.join(tags)}"] if tags else args
    return []


def up_argv(settings: TailscaleSettings, secret_file: str | None) -> list[str]:
    """Command line of `tailscale up`; secrets travel as a file path, never as their value."""
    argv = [settings.tailscale, f"--socket={settings.socket}", "up",
            *credential_args(settings.credential, secret_file)]
    if settings.login_server is not None:
        argv.append(f"--login-server={settings.login_server}")
    argv += [
        f"--hostname={settings.hostname}",
        "--accept-dns=false",
        f"--timeout={max(1, int(round(settings.up_timeout_s)))}s",
        *settings.up_args,
    ]
    return argv


def status_argv(settings: TailscaleSettings) -> list[str]:
    """`tailscale status --json` without the peer list (it can be large, and is polled)."""
    return [settings.tailscale, f"--socket={settings.socket}", "status", "--json", "--peers=false"]


def parse_status(text: str) -> TailscaleStatus:
    """Parse `tailscale status --json`. Raises: TailscaleError when it is not that JSON."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TailscaleError("tailscale status --json printed something that is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("BackendState"), str):
        raise TailscaleError("tailscale status --json has no BackendState")
    health = data.get("Health") or []
    self_node = data.get("Self")
    if not isinstance(self_node, dict):
        self_node = {}
    ips = self_node.get("TailscaleIPs") or data.get("TailscaleIPs") or []
    return TailscaleStatus(
        backend_state=data["BackendState"],
        auth_url=str(data.get("AuthURL") or ""),
        health=tuple(str(h) for h in health) if isinstance(health, list) else (),
        self_hostname=str(self_node.get("HostName") or ""),
        self_ips=tuple(str(ip) for ip in ips) if isinstance(ips, list) else (),
    )
