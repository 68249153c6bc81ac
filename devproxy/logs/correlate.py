"""Diagnosis: turn matched lines into ranked findings, combining evidence across layers and time.

Pure: entries and the catalog in, `Diagnosis` out. A correlation rule fires when each of its
groups has a signature present and the groups' hits are close in time; it adds a root-cause
finding and marks the symptoms it explains. Entries no signature explains are not dropped: the
errors (and recurring warnings) among them become "unrecognised" findings, one per template.
A failing process's last words (`lastwords`) explain its failure or are quoted in it; `causality`
links each finding to the one that explains it. Order: the causes nothing explains (errors, and
whatever explains something), by causal depth, severity and count; then what each of those explains;
then the remaining warnings; noise, which never counts as a cause, last.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from devproxy.logs import lastwords, quiet
from devproxy.logs.catalog import CATALOG
from devproxy.logs.causality import EXPLAINS, depths, link
from devproxy.logs.findings import ERROR_LEVELS, SEVERITY_ORDER, Diagnosis, Finding, unrecognised_finding
from devproxy.logs.match import Hit, Matcher
from devproxy.logs.model import LogEntry
from devproxy.logs.refine import alone, refine
from devproxy.logs.rules import CAUSES, RULES, SAME_EVENT, Cause, Rule
from devproxy.logs.signatures import Signature
from devproxy.logs.timeline import build_timeline
from devproxy.logs.unknown import UnknownGroup, group_unknown

MAX_EXAMPLES = 2


@dataclass(slots=True)
class _Group:
    signature: Signature
    hits: list[Hit] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)


def _same_events(hits: Iterable[Hit]) -> list[Hit]:
    """Hits that are another signature's event seen from a second angle, counted as that signature."""
    out = list(hits)
    for a, b, window in SAME_EVENT:
        anchors = sorted((h.when, h) for h in out if h.signature.id == b and h.when is not None)
        if not anchors:
            continue
        times = [when for when, _ in anchors]
        for n, hit in enumerate(out):
            if hit.signature.id != a or hit.when is None:
                continue
            i = bisect.bisect_left(times, hit.when)
            near = [j for j in (i - 1, i) if 0 <= j < len(times)
                    and abs((times[j] - hit.when).total_seconds()) <= window]
            if near:
                out[n] = replace(hit, signature=anchors[near[0]][1].signature)
    return out


def _group(hits: Iterable[Hit]) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for hit in _same_events(hits):
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


def _finding(group: _Group, explained_by: str, context: Sequence[str] = ()) -> Finding:
    sig = group.signature
    return refine(Finding(
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
    ), group.hits, context)


def _as_noise(finding: Finding) -> Finding:
    return replace(finding, severity="info", role="noise")


def _correlated(rule: Rule, ids: tuple[str, ...], groups: dict[str, _Group], context: Sequence[str] = ()) -> Finding:
    times = [t for sid in ids for t in groups[sid].times]
    hits: list[Hit] = []
    for sid in ids:  # one example from each layer of evidence, root-most first
        hits.extend(groups[sid].hits[:1])
    hits.sort(key=lambda h: 0 if groups[h.signature.id].signature.role == "root" else 1)
    return refine(Finding(
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
    ), [h for sid in ids for h in groups[sid].hits], context)


_ROLE_ORDER = {"correlated": 0, "root": 1, "unrecognised": 2, "symptom": 3, "noise": 4}


def _rank(finding: Finding, depth: int = 0) -> tuple[int, int, int, int, int, float]:
    """Noise last; then causal depth (deepest first), severity, role, count (most first), first seen."""
    first = finding.first_seen.timestamp() if finding.first_seen else 0.0
    return (
        1 if finding.noise else 0,
        -depth,
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
    said: lastwords.LastWords | None = None,
    context: Sequence[str] = (),
) -> tuple[Finding, ...]:
    """Findings from matched hits and unexplained groups, correlated and ordered most important first.

    `said` holds the failures' last words: signatures that explain a failure, and lines to quote;
    `context` the capture's messages (which app a refusal came from, when its own lines do not say).
    """
    groups = _group(hits)
    fired = [(rule, ids) for rule in rules if (ids := _fire(rule, groups)) is not None]
    superseded = {name for rule, _ in fired for name in rule.supersedes}
    fired = [(rule, ids) for rule, ids in fired if rule.id not in superseded]
    expected_rules = {rule.id for rule, _ in fired if rule.severity == "info"}
    correlated: list[Finding] = []
    explained: dict[str, str] = {}
    for rule, ids in fired:
        correlated.append(_correlated(rule, ids, groups, context))
        for sid in (*ids, *sorted(rule.explains & groups.keys())):
            role = groups[sid].signature.role
            if role == "noise" or rule.id in EXPLAINS.get(sid, ()):
                continue  # noise explains nothing; a deeper cause among the evidence stays the cause
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
        finding = _finding(group, explained.get(sid, ""), context)
        findings.append(_as_noise(finding) if finding.explained_by in expected_rules else finding)
    findings.extend(unrecognised_finding(group) for group in unknown)
    findings.extend(settings)
    said = said or lastwords.LastWords()
    findings = [_quote(f, said.quoted.get(f.id, ())) for f in findings]
    return _order([alone(f) for f in link(findings, said.explains)])


def _quote(finding: Finding, lines: Sequence[str]) -> Finding:
    """A failure whose process said why, with what it said."""
    if not lines:
        return finding
    words = "; ".join(f"“{line}”" for line in lines)
    return replace(finding, cause=f"{finding.cause} The last thing it said: {words}", examples=(
        *finding.examples, *lines)[:MAX_EXAMPLES + 1])


def _order(findings: list[Finding]) -> tuple[Finding, ...]:
    """What nothing explains at error level (or explains something), ranked (`_rank`); then what each of those
    explains; then the rest, each followed by what it explains; noise last."""
    depth = depths(findings)
    listed = {f.id for f in findings}
    under: dict[str, list[Finding]] = {}
    top: list[Finding] = []
    for finding in findings:
        if finding.explained_by and not finding.noise and finding.explained_by in listed:
            under.setdefault(finding.explained_by, []).append(finding)
        else:
            top.append(finding)
    top.sort(key=lambda f: _rank(f, depth[f.id]))
    first = [f for f in top if not f.noise and (f.severity in ERROR_LEVELS or depth[f.id] > 0)]
    out = list(first)

    def place(finding: Finding) -> None:
        for child in sorted(under.pop(finding.id, []), key=lambda f: _rank(f, depth[f.id])):
            out.append(child)
            place(child)

    for finding in first:
        place(finding)
    for finding in top:
        if not finding.noise and finding not in first:
            out.append(finding)
            place(finding)
    for left in list(under.values()):  # a cycle of explanations: kept, never dropped
        out.extend(sorted(left, key=_rank))
    out.extend(f for f in top if f.noise)
    return tuple(out)


def rank_entries(
    entries: Sequence[LogEntry],
    hits: Sequence[Hit],
    unmatched: Iterable[LogEntry],
    rules: Sequence[Rule] = RULES,
    settings: Iterable[Finding] = (),
) -> tuple[Finding, ...]:
    """The ranked findings of a batch of entries (oldest first), their hits and the entries no signature matched:
    quiet windows, last words and the capture's own lines taken into account."""
    unknown = group_unknown(unmatched, quiet.expected(entries))
    said = lastwords.read(entries, hits)
    return rank_findings(hits, rules, unknown=unknown, settings=settings, said=said,
                         context=[e.message for e in entries])


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
    return Diagnosis(
        findings=rank_entries(entries, hits, [e for e in entries if id(e) not in matched], rules, settings),
        timeline=build_timeline(entries, hits),
        entries=len(entries),
        matched=len(hits),
    )
