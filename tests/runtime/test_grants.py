"""Shared-link grants as data: signing, tampering, expiry, revocation, durations and prefixes."""

from __future__ import annotations

import pytest

from devproxy.errors import ConfigError
from devproxy.runtime.grants import (
    MAX_SECONDS,
    Grant,
    GrantsSeen,
    grant_key,
    grant_problem,
    is_grant,
    make_grant,
    parse_duration,
    read_grant,
    read_revoke,
    revoke_message,
    share_prefix,
)
from devproxy.runtime.sessions import session_key, session_problem

KEY = grant_key("the-access-token-0123456789")
NOW = 1_900_000_000


def test_a_grant_round_trips() -> None:
    """A signed grant reads back with its prefix, issue time and expiry."""
    value = make_grant(KEY, "/jupyter/", NOW, 3600, "n1")
    assert is_grant(value)
    assert read_grant(KEY, value) == Grant("/jupyter/", NOW, NOW + 3600, "n1")


def _tampered(value: str) -> list[str]:
    version, prefix, issued, until, nonce, signature = value.split(".")
    other = make_grant(KEY, "/", NOW, 3600, "n1").split(".")[1]
    return [
        f"{version}.{other}.{issued}.{until}.{nonce}.{signature}",  # another prefix, old signature
        f"{version}.{prefix}.{issued}.{int(until) + 86400}.{nonce}.{signature}",  # longer life
        f"{version}.{prefix}.{issued}.{until}.x.{signature}",
        f"g2.{prefix}.{issued}.{until}.{nonce}.{signature}",
        f"{version}.{prefix}.{issued}.{until}.{nonce}.{signature[:-2]}",
        f"{version}.{prefix}.{issued}.{until}.{nonce}",
        f"{version}.{prefix}.-{issued}.{until}.{nonce}.{signature}",
        make_grant(grant_key("another-token-0123456789"), "/jupyter/", NOW, 3600, "n1"),
        make_grant(session_key("the-access-token-0123456789"), "/jupyter/", NOW, 3600, "n1"),
        "", "g1", "g1.....",
    ]


def test_tampered_grants_are_refused() -> None:
    """Any change to a grant, or a grant signed with another key (the session key too), reads as None."""
    value = make_grant(KEY, "/jupyter/", NOW, 3600, "n1")
    for forged in _tampered(value):
        assert read_grant(KEY, forged) is None, forged


def test_a_grant_is_never_a_session() -> None:
    """The same token's grant does not pass as a session cookie (separate key labels and shapes)."""
    value = make_grant(KEY, "/", NOW, 3600, "n1")
    assert session_problem(session_key("the-access-token-0123456789"), value, NOW, 86400) is not None


@pytest.mark.parametrize(
    ("issued", "seconds", "now", "not_before", "expected"),
    [
        (NOW, 3600, NOW + 10, 0, None),
        (NOW, 3600, NOW + 3600, 0, "expired"),
        (NOW, 3600, NOW + 10, NOW + 1, "revoked"),
        (NOW, 3600, NOW + 10, NOW, None),
        (NOW, MAX_SECONDS * 2, NOW + 10, 0, "invalid"),
        (NOW + 3600, 3600, NOW, 0, "invalid"),
    ],
)
def test_grant_problems(issued: int, seconds: int, now: int, not_before: int, expected: str | None) -> None:
    """Expired, revoked (issued before "not before") and impossible grants open nothing."""
    grant = read_grant(KEY, make_grant(KEY, "/a/", issued, seconds, "n"))
    assert grant is not None
    assert grant_problem(grant, now, not_before) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("30m", 1800), ("1h30m", 5400), ("2d", 172800), ("7d", MAX_SECONDS), ("1w", MAX_SECONDS),
     (" 45S ", 45), ("1d 12h", 129600)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    """--for takes units s, m, h, d, w, combined."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "needle"),
    [("90", "add a unit"), ("1y", "use e.g."), ("", "use e.g."), ("0h", "longer than zero"),
     ("8d", "at most 7 days"), ("7d1s", "at most 7 days"), ("-1h", "use e.g."), ("1.5h", "use e.g.")],
)
def test_bad_durations(text: str, needle: str) -> None:
    """A bad --for is a one-line ConfigError (exit 2)."""
    with pytest.raises(ConfigError) as info:
        parse_duration(text)
    assert needle in str(info.value) and info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "prefix"),
    [("/jupyter/", "/jupyter/"), ("jupyter", "/jupyter/"), ("/app", "/app/"), ("/", "/"), (" /a/b ", "/a/b/")],
)
def test_share_prefix(text: str, prefix: str) -> None:
    """The prefix is normalised to /name/ (the runtime compares without the trailing slash)."""
    assert share_prefix(text) == prefix


@pytest.mark.parametrize("text", ["", "/_devproxy/status", "/_devproxy", "//evil/", "/a?b", "/a b/"])
def test_share_prefix_refuses_pages_and_junk(text: str) -> None:
    """devproxy's own pages and things that are not a prefix cannot be shared."""
    with pytest.raises(ConfigError):
        share_prefix(text)


def test_revoke_messages() -> None:
    """A revoke request is accepted only with the right key and a time within 5 minutes."""
    message = revoke_message(KEY, NOW)
    assert read_revoke(KEY, message, NOW + 60) == NOW
    assert read_revoke(KEY, message, NOW + 301) is None  # replayed later
    assert read_revoke(grant_key("other-token-0123456789"), message, NOW) is None
    assert read_revoke(KEY, f"{NOW + 1}.{message.split('.')[1]}", NOW) is None
    assert read_revoke(KEY, "junk", NOW) is None


def test_grants_seen_lists_live_ones_only() -> None:
    """The status list drops expired and revoked grants and stays bounded."""
    seen = GrantsSeen(limit=2)
    seen.note(Grant("/a/", NOW, NOW + 100, "1"), NOW)
    seen.note(Grant("/b/", NOW + 5, NOW + 200, "2"), NOW)
    assert [v.prefix for v in seen.active(NOW, 0)] == ["/a/", "/b/"]
    assert [v.prefix for v in seen.active(NOW + 150, 0)] == ["/b/"]
    assert [v.prefix for v in seen.active(NOW, NOW + 1)] == ["/b/"]
    seen.note(Grant("/c/", NOW, NOW + 300, "3"), NOW)
    assert [v.prefix for v in seen.active(NOW, 0)] == ["/b/", "/c/"]
    assert seen.active(NOW, 0)[0].as_json() == {"prefix": "/b/", "until": NOW + 200, "issued": NOW + 5}


def test_revocation_is_precise_to_the_millisecond() -> None:
    """A link made in the same second as --revoke-all, but after it, keeps working; one made before does not."""
    revoked_at = read_revoke(KEY, revoke_message(KEY, NOW + 0.400), NOW + 1)
    assert revoked_at == NOW + 0.4
    before = read_grant(KEY, make_grant(KEY, "/a/", NOW + 0.399, 3600, "b"))
    after = read_grant(KEY, make_grant(KEY, "/a/", NOW + 0.401, 3600, "a"))
    assert before is not None and after is not None
    assert grant_problem(before, NOW + 1, revoked_at) == "revoked"
    assert grant_problem(after, NOW + 1, revoked_at) is None
