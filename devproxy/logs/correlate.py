"""Diagnosis: turn matched lines into ranked findings, combining evidence across layers and time.

Pure: entries and the catalog in, `Diagnosis` out. A correlation rule fires when each of its
groups has a signature present and the groups' hits are close in time; it adds a root-cause
finding and marks the symptoms it explains. Entries no signature explains are not dropped: the
errors (and recurring warnings) among them become "unrecognised" findings, one per template.
Order: recognised causes, unrecognised errors (severity, count), symptoms (those a cause
explains under it, in the causes' order), then noise, which never counts as a cause.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from devproxy.logs.match import Hit, Matcher
from devproxy.logs.model import SEVERITY_RANK, LogEntry
from devproxy.logs.catalog import CATALOG
from devproxy.logs.signatures import Signature, reference_link
from devproxy.logs.unknown import UnknownGroup, group_unknown

SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}
ERROR_LEVELS = frozenset({"critical", "error"})
MAX_EXAMPLES = 2


@dataclass(frozen=True, slots=True)
class Rule:
    """A root cause recognised from several signatures seen together."""

    id: str
    title: str
    cause: str
    fix: str
    reference: str
    #: each group needs one of its signatures present (distinct signatures across groups).
    groups: tuple[frozenset[str], ...]
    #: max seconds between hits of different groups; None: anywhere in the input.
    window_s: float | None = 300.0
    #: "info" marks an expected pattern: it and the symptoms it explains are reported as noise.
    severity: str = "critical"
    #: symptoms not needed for the rule but explained by it when present.
    explains: frozenset[str] = frozenset()
    #: rules whose finding this one makes redundant (a more specific cause of the same symptoms).
    supersedes: tuple[str, ...] = ()


_BROWSER_DROPS = frozenset(
    {"browser-ws-1006", "browser-initial-connect-failed", "browser-wss-failed", "dp-ws-abnormal"}
)

RULES: tuple[Rule, ...] = (
    Rule(
        "hourly-reconnect",
        "WebSockets reconnect after Cloud Run's 60-minute maximum (expected)",
        "Cloud Run ends every request, WebSockets included, at the 3600 s maximum; VS Code reconnects within "
        "code-server's grace time.",
        "Nothing to do.",
        "field-notes §0.4 / §2.1",
        (
            frozenset({"cr-ws-hourly"}),
            frozenset({"browser-reconnect-loop", "py-no-close-frame", "dp-ws-abnormal", "browser-ws-1006"}),
        ),
        window_s=120.0,
        severity="info",
    ),
    Rule(
        "origin-check",
        "code-server's origin check rejects the proxied WebSocket (403 → browser 1006)",
        "The browser's 1006 comes from a 403 on the upstream WebSocket upgrade: code-server ≥ 4.10.1 refuses "
        "upgrades whose Origin host differs from Host / X-Forwarded-Host and logs it only at debug level.",
        "Forward X-Forwarded-Host: <public host> (no :443) and X-Forwarded-Proto: https, keep the browser's "
        "Origin; or start code-server with --trusted-origins <public host>.",
        "field-notes §0.7 / §3.1; coder/code-server#6023, #6161",
        (
            _BROWSER_DROPS,
            frozenset({
                "cs-origin-mismatch", "cs-origin-port", "cs-forbidden-origin", "nginx-ws-upgrade-403",
                "py-ws-403", "py-aiohttp-ws-403", "dp-upgrade-403",
            }),
        ),
        explains=frozenset({"browser-connect-retry"}),
    ),
    Rule(
        "cookie-not-forwarded",
        "The target answers the WebSocket upgrade with 401 (session cookie missing → browser 1006)",
        "The upstream upgrade is unauthenticated: the target's session cookie does not reach it.",
        "Forward the browser's Cookie header on HTTP and WebSocket requests; log in to the target again.",
        "field-notes §8 CS5",
        (_BROWSER_DROPS, frozenset({"cs-unauthorized", "py-ws-401", "dp-upgrade-401"})),
        explains=frozenset({"browser-connect-retry"}),
    ),
    Rule(
        "blocked-event-loop",
        "A blocking call freezes the proxy's event loop",
        "Slow-callback warnings (or the loop's own deadlines expiring) coincide with SOCKS clients that give up "
        "before their handshake and with dropped keepalives: the loop was frozen by a synchronous call.",
        "Remove blocking calls from async code: asyncio.create_subprocess_exec instead of subprocess.run, "
        "asyncio.sleep instead of time.sleep, python_socks.async_ instead of python_socks.sync, "
        "asyncio.to_thread for the rest; run tests with PYTHONASYNCIODEBUG=1.",
        "field-notes §0.2 / §1.4 / §8 P15, T1; DESIGN rule 1",
        (
            frozenset({"ts-packet-header", "py-keepalive-1011", "py-socks-timeout", "py-time-limit"}),
            frozenset({"py-slow-callback", "py-time-limit"}),
        ),
        explains=_BROWSER_DROPS | {"py-ws-open-timeout", "py-no-close-frame", "browser-connect-retry"},
    ),
    Rule(
        "cloud-run-timeout",
        "Cloud Run's request timeout cuts the WebSockets (timeout too short)",
        "Upgraded requests end at the service's request timeout and the browser sees the drop at the same "
        "time; WebSockets are ordinary requests under that timeout (default 300 s).",
        "Set the Cloud Run request timeout to 3600s (devproxy deploy does) and let clients reconnect.",
        "field-notes §0.4 / §2.1 / §8 CR1",
        (
            frozenset({"cr-ws-cut-at-timeout", "cr-request-timeout"}),
            frozenset({
                "browser-ws-1006", "browser-reconnect-loop", "browser-wss-failed", "py-no-close-frame",
                "dp-ws-abnormal",
            }),
        ),
        window_s=120.0,
    ),
    Rule(
        "tailnet-down",
        "The tailnet never came up, so every proxied request fails",
        "tailscaled could not log in (or its CLI could not reach it); SOCKS dials fail until it does.",
        "Fix the login failure listed next (an expired or malformed auth key: mint a new key, add it as a new "
        "Secret Manager version, redeploy); then check that 'tailscale status' shows Running.",
        "field-notes §8 heuristics; T7–T11",
        (
            frozenset({
                "ts-key-expired", "ts-key-malformed", "ts-tags-denied", "ts-up-timeout", "ts-no-daemon",
                "dp-tailscale-auth-failed", "dp-tailscale-up-failed", "dp-needs-login", "dp-tailscaled-start-failed",
                "dp-tailscale-cli-failed",
            }),
            frozenset({
                "py-socks-failed", "py-proxy-refused", "py-socks-general-failure", "dp-socks-unreachable",
                "dp-socks-reply", "dp-upstream-timeout", "dp-http-5xx", "browser-ws-1006", "ts-dial-timeout",
            }),
        ),
        window_s=None,
        explains=_BROWSER_DROPS | {"browser-connect-retry", "dp-tailscaled-restart", "dp-tailscaled-backoff"},
        supersedes=("tailnet-path",),
    ),
    Rule(
        "tailnet-path",
        "The target is unreachable through the tailnet",
        "The browser's failures line up with tailscaled failing to dial the target (5 s limit, no route, "
        "or a general SOCKS failure): the dev machine is offline, not Running yet, or blocked by ACLs.",
        "Check 'tailscale status' on both sides (target online, BackendState Running), the ACLs, and gate "
        "proxying on readiness.",
        "field-notes §0.3 / §8 heuristics (B1 + P3/T2)",
        (
            frozenset({"ts-dial-timeout", "ts-no-route", "py-socks-general-failure", "dp-socks-reply", "py-socks-reply"}),
            frozenset({
                "browser-ws-1006", "browser-initial-connect-failed", "browser-wss-failed", "py-socks-failed",
                "dp-http-5xx", "dp-upstream-timeout", "py-ws-open-timeout",
            }),
        ),
        explains=_BROWSER_DROPS | {"browser-connect-retry"},
    ),
)


@dataclass(frozen=True, slots=True)
class Cause:
    """A signature that, when present, explains symptoms seen near it (no new finding)."""

    roots: frozenset[str]
    symptoms: frozenset[str]
    window_s: float | None = 300.0


_PROXY_FAILURES = frozenset({"py-socks-failed", "dp-http-5xx", "dp-upstream-timeout", "browser-connect-retry"})

CAUSES: tuple[Cause, ...] = (
    Cause(frozenset({"py-proxy-loopback-mismatch"}), _BROWSER_DROPS | _PROXY_FAILURES | {"py-proxy-refused"}),
    Cause(frozenset({"py-proxy-refused", "dp-socks-unreachable", "ts-listener-in-use", "dp-tailscaled-exited",
                     "dp-tailscaled-start-failed", "dp-supervisor-crashed"}),
          _BROWSER_DROPS | _PROXY_FAILURES | {"dp-tailscaled-restart", "dp-upstream-body-failed"}),
    Cause(frozenset({"py-extra-headers", "py-additional-headers", "py-socks-missing", "py-socks5h-scheme",
                     "py-direct-tailnet-dial", "py-redirect-with-sock"}),
          _BROWSER_DROPS | {"browser-connect-retry", "dp-http-5xx"}),
    Cause(frozenset({"py-ws-too-big", "py-aiohttp-msg-size", "dp-ws-too-big"}),
          _BROWSER_DROPS | {"browser-reconnect-loop", "py-no-close-frame", "py-closing-transport"}),
    Cause(frozenset({"dp-target-refused", "nginx-upstream-refused", "nginx-upstream-timeout"}),
          _BROWSER_DROPS | {"browser-connect-retry", "dp-http-5xx", "dp-upstream-timeout"}),
    Cause(frozenset({"cs-unauthorized", "py-ws-401", "dp-upgrade-401", "cs-no-host", "py-ws-404",
                     "dp-upgrade-rejected", "browser-mixed-content"}),
          _BROWSER_DROPS | {"browser-connect-retry"}),
    Cause(frozenset({"cr-port-not-listening", "cr-memory", "cr-sigabrt", "cr-no-instance", "cr-secret-denied"}),
          _BROWSER_DROPS | {"browser-connect-retry", "browser-reconnect-loop", "py-no-close-frame"}),
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One diagnosed cause, symptom or noise, with its evidence."""

    id: str
    title: str
    severity: str
    cause: str
    fix: str
    reference: str
    layer: str
    role: str  # root | symptom | noise | correlated | unrecognised
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    examples: tuple[str, ...]
    explained_by: str = ""
    evidence: tuple[str, ...] = ()
    #: the masked text shared by the lines of an unrecognised finding ("" otherwise).
    template: str = ""

    @property
    def noise(self) -> bool:
        return self.role == "noise"

    @property
    def link(self) -> str:
        return reference_link(self.reference)


_UNKNOWN_SEVERITY = {"WARNING": "warning", "ERROR": "error"}


def unrecognised_finding(group: UnknownGroup) -> Finding:
    """An "unrecognised error" finding quoting lines no signature explains."""
    severity = _UNKNOWN_SEVERITY.get(group.severity, "critical")
    digest = hashlib.sha1(f"{group.layer}|{group.template}".encode()).hexdigest()[:10]
    kind = "warning" if severity == "warning" else "error"
    return Finding(
        id=f"unrecognised-{digest}",
        title=f"Unrecognised {kind}: {group.template[:120]}",
        severity=severity,
        cause=f"{group.count} {group.severity} line{'s' if group.count != 1 else ''} that no known signature "
        "explains, all of this template: " + group.template,
        fix="Read the examples and the entries around them; if it is a known failure of another name, "
        "report the line so the catalog learns it.",
        reference="",
        layer=group.layer,
        role="unrecognised",
        count=group.count,
        first_seen=group.first_seen,
        last_seen=group.last_seen,
        examples=group.examples,
        template=group.template,
    )


@dataclass(frozen=True, slots=True)
class TimelineRow:
    """One layer's activity per time bucket: 0 none, 1 activity, 2 warning, 3 error."""

    layer: str
    levels: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Timeline:
    """Events by layer over the input's time span."""

    start: datetime | None
    end: datetime | None
    rows: tuple[TimelineRow, ...] = ()
    #: entries without a timestamp (pasted browser console lines, for example), not shown.
    untimed: int = 0


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Findings ordered most important first, plus a timeline."""

    findings: tuple[Finding, ...]
    timeline: Timeline
    entries: int
    matched: int

    @property
    def has_errors(self) -> bool:
        return any(f.severity in ERROR_LEVELS and not f.noise for f in self.findings)


@dataclass(slots=True)
class _Group:
    signature: Signature
    hits: list[Hit] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)


def _group(hits: Iterable[Hit]) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for hit in hits:
        group = groups.get(hit.signature.id)
        if group is None:
            group = groups[hit.signature.id] = _Group(hit.signature)
        group.hits.append(hit)
        if hit.when is not None:
            group.times.append(hit.when)
    for group in groups.values():
        group.times.sort()
    return groups


def _close(a: _Group, b: _Group, window_s: float | None) -> bool:
    """Whether some hit of `a` is within the window of some hit of `b` (untimed hits are close to all)."""
    if window_s is None or len(a.times) < len(a.hits) or len(b.times) < len(b.hits):
        return True
    for when in a.times:
        i = bisect.bisect_left(b.times, when)
        for j in (i - 1, i):
            if 0 <= j < len(b.times) and abs((b.times[j] - when).total_seconds()) <= window_s:
                return True
    return False


def _fire(rule: Rule, groups: dict[str, _Group]) -> tuple[str, ...] | None:
    """The signature ids that make `rule` fire, or None."""
    present = [[sid for sid in sorted(g) if sid in groups] for g in rule.groups]
    if not all(present):
        return None
    first, *rest = present
    used: set[str] = set()
    for a in first:
        partners: list[str] = []
        for options in rest:
            partner = [b for b in options if b != a and _close(groups[a], groups[b], rule.window_s)]
            if not partner:
                break
            partners.extend(partner)
        else:
            used.add(a)
            used.update(partners)
    return tuple(sorted(used)) if used else None


def _examples(hits: Sequence[Hit]) -> tuple[str, ...]:
    out: list[str] = []
    for hit in hits:
        text = hit.entry.message if len(hit.entry.message) <= 300 else hit.entry.message[:297] + "..."
        if text not in out:
            out.append(text)
        if len(out) == MAX_EXAMPLES:
            break
    return tuple(out)


def _finding(group: _Group, explained_by: str) -> Finding:
    sig = group.signature
    return Finding(
        id=sig.id,
        title=sig.title,
        severity=sig.severity,
        cause=sig.cause,
        fix=sig.fix,
        reference=sig.reference,
        layer=sig.layer,
        role=sig.role,
        count=len(group.hits),
        first_seen=group.times[0] if group.times else None,
        last_seen=group.times[-1] if group.times else None,
        examples=_examples(group.hits),
        explained_by=explained_by,
    )


def _as_noise(finding: Finding) -> Finding:
    return replace(finding, severity="info", role="noise")


def _correlated(rule: Rule, ids: tuple[str, ...], groups: dict[str, _Group]) -> Finding:
    times = [t for sid in ids for t in groups[sid].times]
    hits: list[Hit] = []
    for sid in ids:  # one example from each layer of evidence, root-most first
        hits.extend(groups[sid].hits[:1])
    hits.sort(key=lambda h: 0 if groups[h.signature.id].signature.role == "root" else 1)
    return Finding(
        id=rule.id,
        title=rule.title,
        severity=rule.severity,
        cause=rule.cause,
        fix=rule.fix,
        reference=rule.reference,
        layer="+".join(sorted({groups[sid].signature.layer for sid in ids})),
        role="noise" if rule.severity == "info" else "correlated",
        count=sum(len(groups[sid].hits) for sid in ids),
        first_seen=min(times) if times else None,
        last_seen=max(times) if times else None,
        examples=_examples(hits),
        evidence=ids,
    )


_ROLE_ORDER = {"correlated": 0, "root": 1, "unrecognised": 1, "symptom": 2, "noise": 3}


def _rank(finding: Finding) -> tuple[int, int, int, int, int, float]:
    first = finding.first_seen.timestamp() if finding.first_seen else 0.0
    return (
        1 if finding.noise else 0,
        1 if finding.explained_by else 0,
        SEVERITY_ORDER[finding.severity],
        _ROLE_ORDER[finding.role],
        -finding.count,
        first,
    )


def rank_findings(
    hits: Iterable[Hit],
    rules: Sequence[Rule] = RULES,
    causes: Sequence[Cause] = CAUSES,
    unknown: Iterable[UnknownGroup] = (),
    settings: Iterable[Finding] = (),
) -> tuple[Finding, ...]:
    """Findings from matched hits and unexplained groups, correlated and ordered most important first."""
    groups = _group(hits)
    fired = [(rule, ids) for rule in rules if (ids := _fire(rule, groups)) is not None]
    superseded = {name for rule, _ in fired for name in rule.supersedes}
    fired = [(rule, ids) for rule, ids in fired if rule.id not in superseded]
    expected_rules = {rule.id for rule, _ in fired if rule.severity == "info"}
    correlated: list[Finding] = []
    explained: dict[str, str] = {}
    for rule, ids in fired:
        correlated.append(_correlated(rule, ids, groups))
        for sid in (*ids, *sorted(rule.explains & groups.keys())):
            role = groups[sid].signature.role
            if role == "noise":
                continue
            if rule.id in expected_rules:
                if role == "symptom":  # a real cause seen alongside stays a cause
                    explained.setdefault(sid, rule.id)
            elif explained.get(sid, "") in expected_rules or sid not in explained:
                explained[sid] = rule.id  # a real cause outranks "expected"
    for cause in causes:
        roots = [sid for sid in sorted(cause.roots) if sid in groups]
        for sid in sorted(cause.symptoms & groups.keys()):
            if explained.get(sid, "") not in ("", *expected_rules):
                continue  # a correlated cause already accounts for it
            for root in roots:
                if _close(groups[root], groups[sid], cause.window_s):
                    explained[sid] = root
                    break
    findings = correlated
    for sid, group in groups.items():
        finding = _finding(group, explained.get(sid, ""))
        findings.append(_as_noise(finding) if finding.explained_by in expected_rules else finding)
    findings.extend(unrecognised_finding(group) for group in unknown)
    findings.extend(settings)
    return _order(findings)


def _tier(finding: Finding) -> int:
    """0 recognised causes, 1 unrecognised errors, 2 symptoms and warnings, 3 noise."""
    if finding.noise:
        return 3
    if finding.role == "unrecognised":
        return 1 if finding.severity in ERROR_LEVELS else 2
    if finding.role in ("correlated", "root") or finding.severity in ERROR_LEVELS:
        return 0 if finding.role in ("correlated", "root") else 2
    return 2


def _order(findings: list[Finding]) -> tuple[Finding, ...]:
    """Causes by rank, then unrecognised errors, then symptoms (those a cause explains in its order); noise last."""
    under: dict[str, list[Finding]] = {}
    top: list[Finding] = []
    for finding in findings:
        if finding.explained_by and not finding.noise:
            under.setdefault(finding.explained_by, []).append(finding)
        else:
            top.append(finding)
    top.sort(key=lambda f: (_tier(f), *_rank(f)))
    explained: list[Finding] = []

    def place(finding: Finding) -> None:
        for child in sorted(under.pop(finding.id, []), key=_rank):
            explained.append(child)
            place(child)

    causes = [f for f in top if _tier(f) == 0]
    for finding in causes:
        place(finding)
    for rest in list(under.values()):  # explained by a finding that is not listed; kept, never dropped
        explained.extend(sorted(rest, key=_rank))
    middle = [f for f in top if _tier(f) == 1]
    later = [f for f in top if _tier(f) >= 2]
    symptoms = explained + [f for f in later if not f.noise]
    if not causes:  # nothing recognised: symptoms keep their own rank among themselves
        symptoms = sorted(symptoms, key=_rank)
    return tuple(causes + middle + symptoms + [f for f in later if f.noise])


def _level(entry: LogEntry, sig: Signature | None) -> int:
    if sig is not None:
        if sig.noise:
            return 1
        return 3 if sig.severity in ERROR_LEVELS else 2 if sig.severity == "warning" else 1
    rank = SEVERITY_RANK.get(entry.severity, 0)
    return 3 if rank >= SEVERITY_RANK["ERROR"] else 2 if rank == SEVERITY_RANK["WARNING"] else 1


def build_timeline(
    entries: Sequence[LogEntry], hits: Sequence[Hit], buckets: int = 48
) -> Timeline:
    """Bucket entries by time and layer, keeping the worst level per bucket."""
    timed = [e for e in entries if e.time is not None]
    if not timed:
        return Timeline(None, None, (), len(entries))
    start = min(e.time for e in timed if e.time is not None)
    end = max(e.time for e in timed if e.time is not None)
    span = max((end - start).total_seconds(), 1e-6)
    by_entry = {id(h.entry): h.signature for h in hits}
    rows: dict[str, list[int]] = {}
    for entry in timed:
        assert entry.time is not None
        sig = by_entry.get(id(entry))
        layer = entry.layer or (sig.layer if sig else "") or "other"
        row = rows.setdefault(layer, [0] * buckets)
        index = min(buckets - 1, int((entry.time - start).total_seconds() / span * buckets))
        row[index] = max(row[index], _level(entry, sig))
    order = ("browser", "cloudrun", "proxy", "auth", "nginx", "code-server", "tailscale", "other")
    layers = sorted(rows, key=lambda name: order.index(name) if name in order else len(order))
    rows_out = tuple(TimelineRow(name, tuple(rows[name])) for name in layers)
    return Timeline(start, end, rows_out, len(entries) - len(timed))


def diagnose(
    entries: Sequence[LogEntry],
    catalog: Sequence[Signature] = CATALOG,
    *,
    matcher: Matcher | None = None,
    rules: Sequence[Rule] = RULES,
    settings: Sequence[Finding] = (),
) -> Diagnosis:
    """Match, correlate and rank: the whole diagnosis of a batch of entries (and of the service's settings)."""
    matcher = matcher or Matcher(catalog)
    hits = matcher.hits(entries)
    matched = {id(hit.entry) for hit in hits}
    unknown = group_unknown(e for e in entries if id(e) not in matched)
    return Diagnosis(
        findings=rank_findings(hits, rules, unknown=unknown, settings=settings),
        timeline=build_timeline(entries, hits),
        entries=len(entries),
        matched=len(hits),
    )
