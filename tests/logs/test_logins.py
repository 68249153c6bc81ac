"""The login modes' refusals, table by table: each credential kind names its own cause and fix.

The runtime's lines are made by the runtime's own classifier (devproxy/runtime/tailscale.py) from the
tailscale CLI's real texts, exactly as tailscale_io re-emits them; the raw texts alone (a user who
runs tailscale themselves) are checked too.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from devproxy.logs.correlate import diagnose
from devproxy.logs.findings import Diagnosis
from devproxy.logs.source import parse_line
from devproxy.runtime.tailscale import classify_line

T0 = datetime(2026, 12, 8, 1, tzinfo=timezone.utc)


def rt(event: str, message: str, at: float, severity: str = "INFO", component: str = "supervisor",
       **fields: Any) -> str:
    """One line as devproxy's runtime writes it, `at` seconds after T0."""
    when = (T0 + timedelta(seconds=at)).isoformat().replace("+00:00", "Z")
    return json.dumps({"severity": severity, "message": message, "time": when, "event": event,
                       "component": component, **fields})


def run(*lines: str) -> Diagnosis:
    entries = [parse_line(line) for line in lines]
    return diagnose([e for e in entries if e is not None])


def refused_login(cli_line: str) -> list[str]:
    """What the runtime writes when `tailscale up` prints `cli_line`: the relayed line, auth_failed, up_failed."""
    signature = classify_line(cli_line)
    assert signature is not None, cli_line
    message = f"{signature.cause} ({cli_line}): {signature.fix}"
    return [
        rt("tailscale.line", cli_line, 1.0, "WARNING", component="tailscaled", signature=signature.kind),
        rt("tailscale.auth_failed", message, 1.1, "ERROR", kind=signature.kind, hint=signature.fix),
        rt("tailscale.up_failed", f"tailscale up failed (exit 1): {cli_line}", 1.2, "WARNING", returncode=1),
        rt("socks.connect_failed", "no SOCKS server answered at 127.0.0.1:1055", 5.0, "ERROR", component="proxy"),
    ]


_JWT_401 = ("backend error: failed to exchange JWT for access token: token exchange failed with status 401: "
            '{"message":"no matching federated identity"}')

#: (tailscale up's last line, the runtime's finding, words its fix must carry, a word its title must not carry,
#:  the CLI text's own finding that explains it)
LOGIN_CASES = [
    (_JWT_401, "dp-tailscale-auth-federation", ("admin console", "issuer", "audience", "devproxy deploy"), "auth key",
     "ts-federation-rejected"),
    ('backend error: oauth2: "invalid_client" "client secret is invalid"', "dp-tailscale-auth-oauth",
     ("auth_keys", "revoked", "DEVPROXY_TAILSCALE_TAGS"), "auth key", "ts-oauth-rejected"),
    ("backend error: oauth authkeys require --advertise-tags", "dp-tailscale-auth-tags-missing",
     ("DEVPROXY_TAILSCALE_TAGS",), "auth key", "ts-oauth-no-tags"),
    ("backend error: requested tags [tag:devproxy] are invalid or not permitted", "dp-tailscale-auth-tags-rejected",
     ("tagOwners",), "expired", "ts-tags-denied"),
    ("backend error: invalid key: API key does not exist", "dp-tailscale-auth-failed", ("Mint a new",), "OAuth",
     "ts-key-expired"),
]


@pytest.mark.parametrize(("cli_line", "row", "fix_words", "not_in_title", "text_row"), LOGIN_CASES,
                         ids=[case[1] for case in LOGIN_CASES])
def test_each_credential_kind_names_its_own_cause_and_fix(
        cli_line: str, row: str, fix_words: tuple[str, ...], not_in_title: str, text_row: str) -> None:
    """The runtime's refusal of each credential kind (its auth_failed alone) is a critical finding with that kind's fix."""
    result = run(refused_login(cli_line)[1])
    top = result.findings[0]
    assert top.id == row
    assert top.severity == "critical"
    for word in fix_words:
        assert word in top.fix, (word, top.fix)
    assert not_in_title not in top.title
    assert not top.explained_by


@pytest.mark.parametrize(("cli_line", "row", "fix_words", "not_in_title", "text_row"), LOGIN_CASES,
                         ids=[case[1] for case in LOGIN_CASES])
def test_the_relayed_cli_text_explains_the_runtimes_refusal(
        cli_line: str, row: str, fix_words: tuple[str, ...], not_in_title: str, text_row: str) -> None:
    """With tailscale's own line in the capture, it ranks first and the kind's finding is explained by it."""
    result = run(*refused_login(cli_line))
    ids = [f.id for f in result.findings]
    assert ids[0] == text_row
    by_id = {f.id: f for f in result.findings}
    assert row in by_id and by_id[row].explained_by


def test_auth_failed_without_kind_is_still_the_auth_key() -> None:
    """A capture from before the kind field existed still reads as a refused auth key."""
    result = run(rt("tailscale.auth_failed", "tailscale up failed: invalid key", 1.0, "ERROR"))
    assert result.findings[0].id == "dp-tailscale-auth-failed"


@pytest.mark.parametrize("message", [
    "keyless login: cannot reach the metadata server: [Errno 111] Connection refused",
    "keyless login: the metadata server did not answer within 5 s",
    "keyless login: the metadata server answered, but not with an ID token",
])
def test_keyless_metadata_failure_names_the_metadata_server(message: str) -> None:
    """The keyless login's metadata-server failure is its own finding, not 'tailscale up failed'."""
    result = run(rt("tailscale.up_failed", message, 1.0, "ERROR", hint="keyless login needs Google's metadata server"),
                 rt("socks.connect_failed", "no SOCKS server answered", 4.0, "ERROR", component="proxy"))
    top = result.findings[0]
    assert top.id == "dp-keyless-metadata"
    assert "GCE_METADATA_HOST" in top.fix and "service account" in top.fix
    assert "dp-tailscale-up-failed" not in {f.id for f in result.findings}


#: the tailscale CLI's own texts, as a user running tailscale themselves pastes them.
RAW_CASES = [
    (_JWT_401, "ts-federation-rejected", "issuer"),
    ("token exchange failed with status 403: forbidden", "ts-federation-rejected", "audience"),
    ("backend error: federated identity authkeys require --id-token", "ts-federation-no-id-token", "--id-token"),
    ("backend error: federated identity authkeys require --advertise-tags", "ts-federation-no-tags",
     "--advertise-tags"),
    ("backend error: oauth authkeys require --advertise-tags", "ts-oauth-no-tags", "--advertise-tags"),
    ("backend error: oauth2: cannot fetch token: 401 Unauthorized", "ts-oauth-rejected", "auth_keys"),
    ('unexpected error while creating authkey: Status: 403, Message: "tags not permitted"',
     "ts-federation-key-create", "tags"),
]


@pytest.mark.parametrize(("text", "first", "fix_word"), RAW_CASES, ids=[f"{c[1]}-{n}" for n, c in enumerate(RAW_CASES)])
def test_raw_cli_refusals_name_their_cause(text: str, first: str, fix_word: str) -> None:
    """tailscale up's own refusal texts, pasted bare, name the credential mode's cause and fix."""
    result = run(f"2026/12/08 01:00:00 {text}")
    top = result.findings[0]
    assert top.id == first
    assert fix_word in top.fix


def test_a_keyless_key_minting_refusal_is_not_called_an_oauth_secret() -> None:
    """The runtime files identityfederation's 'creating authkey' refusal as oauth_rejected; the diagnosis says keyless."""
    cli_line = 'backend error: unexpected error while creating authkey: Status: 403, Message: "tags not permitted"'
    assert classify_line(cli_line) is not None
    result = run(refused_login(cli_line)[1])
    top = result.findings[0]
    assert top.id == "ts-federation-key-create"
    assert "OAuth" not in top.title
    assert "dp-tailscale-auth-oauth" not in {f.id for f in result.findings}
