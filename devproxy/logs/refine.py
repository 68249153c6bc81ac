"""A finding's words from its own evidence: what the lines themselves say beyond the catalog's text.

Pure. The catalog says what a kind of failure means in general; this module sharpens it with the
capture at hand: a lone symptom gets a fix that does not point at causes that are not there; the
SOCKS clients that never spoke SOCKS are told apart (a probe at a regular interval, or connects
given up by a blocked loop); an abnormal WebSocket close says which side ended it; a finding is
raised to error when the component itself logged its lines at ERROR.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from statistics import median

from devproxy.logs.apps import APP_FINDINGS, for_app
from devproxy.logs.findings import SEVERITY_ORDER, Finding
from devproxy.logs.match import Hit
from devproxy.logs.model import SEVERITY_RANK

#: fixes for symptoms that are seen with no cause in the capture (their catalog fix points at one).
LONE_FIX: dict[str, str] = {
    "browser-ws-1006": (
        "Nothing else in this capture says why. Read the proxy's and tailscaled's lines of the same minutes "
        "(devproxy logs --since 1h --diagnose reads them all from Cloud Logging): a 'could not read packet "
        "header' from tailscaled, a 403/401 on the upstream upgrade, or a request cut at the timeout names it."
    ),
    "browser-initial-connect-failed": (
        "Reload once the server answers; the first connection's failure is in the proxy's log of that minute "
        "(devproxy logs --since 1h --diagnose)."
    ),
    "cr-http-5xx": (
        "Nothing else in this capture names the cause: read the container's own lines at those times "
        "(devproxy logs --since 1h --diagnose includes stdout and stderr)."
    ),
    "dp-ws-abnormal": (
        "Nothing else in this capture names the cause: read the side that ended it (closed_by) at those times: "
        "the dev server's own log for 'target', the browser console for 'browser', tailscaled's lines for a "
        "dropped tunnel."
    ),
}

_SIDES = {
    "target": "the dev server's side (through the tailnet) ended without a close frame: the dev server "
    "closed or restarted, or the tailnet path dropped",
    "browser": "the browser's side ended without a close frame: the tab closed, the network changed, or "
    "Cloud Run's front end cut the request",
}

#: share of variation in the gaps between lines below which they repeat at a fixed interval.
_REGULAR = 0.15


def _interval(times: Sequence[datetime]) -> float | None:
    """The fixed interval (s) the times repeat at, or None when they are not regular (4+ needed)."""
    if len(times) < 4:
        return None
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    typical = median(gaps)
    if typical < 0.5:
        return None
    if all(abs(gap - typical) <= max(0.5, typical * _REGULAR) for gap in gaps):
        return typical
    return None


def _probe(finding: Finding, hits: Sequence[Hit]) -> Finding:
    times = sorted(h.when for h in hits if h.when is not None and h.signature.id == "ts-packet-header")
    every = _interval(times)
    if every is None:
        return finding
    cause = (
        f"tailscaled logged 'could not read packet header' every {every:.0f} s: something opens a TCP "
        "connection to its SOCKS5 port at a fixed interval and closes it without speaking SOCKS, a bare "
        "health or port probe of 127.0.0.1:1055."
    )
    fix = (
        "Probe the proxy's HTTP health endpoint (/_devproxy/health, /_devproxy/ready) instead, or make the "
        "check a full SOCKS greeting and CONNECT; never a bare TCP probe of the SOCKS port."
    )
    return replace(finding, cause=cause, fix=fix, role="root")


def _ws_side(finding: Finding, hits: Sequence[Hit]) -> Finding:
    sides = {str(h.entry.fields.get("closed_by") or "") for h in hits}
    sides.discard("")
    if len(sides) != 1:
        return finding
    side = sides.pop()
    if side not in _SIDES:
        return finding
    return replace(finding, cause=f"{finding.cause} In each, {_SIDES[side]}.")


def _stated_error(finding: Finding, hits: Sequence[Hit]) -> Finding:
    """A warning-level kind whose lines the component itself logged at ERROR is an error."""
    if finding.noise or SEVERITY_ORDER[finding.severity] <= SEVERITY_ORDER["error"]:
        return finding
    if any(SEVERITY_RANK.get(h.entry.severity, 0) >= SEVERITY_RANK["ERROR"] for h in hits):
        return replace(finding, severity="error")
    return finding


#: how tailscaled ended (the runtime logs the exit status; negative: the signal that ended it).
_EXITS: dict[int, tuple[str, str]] = {
    -9: ("tailscaled was killed with SIGKILL: the kernel's out-of-memory killer (the container reached "
         "Cloud Run's memory limit) or an operator's kill.",
         "Raise the service's memory (gcloud run services update SERVICE --memory 1Gi) and check the "
         "container's memory use; devproxy restarts tailscaled meanwhile."),
    -6: ("tailscaled aborted (SIGABRT): a Go runtime fatal error, or Cloud Run killing a frozen instance.",
         "Read tailscaled's lines just before (a 'fatal error:' or 'panic:' names it); report it upstream."),
    -11: ("tailscaled crashed (SIGSEGV).", "Read tailscaled's lines just before; update tailscale."),
    0: ("tailscaled ended cleanly: the runtime stopped it to start it again after a failure (the finding it is "
        "explained by), or it was asked to stop.",
        "Fix the failure that made the runtime restart it; nothing to do about the exit itself."),
    2: ("tailscaled exited with code 2 at start: its command line is wrong.",
        "Check DEVPROXY_TAILSCALED_ARGS against tailscaled --help of the installed version."),
}

#: why tailscaled could not be started, by the OS error the runtime quotes.
_START: tuple[tuple[str, str, str], ...] = (
    ("No such file or directory", "The tailscaled binary is not where the runtime looks for it.",
     "Install tailscaled in the image (devproxy deploy's Dockerfile does) or point DEVPROXY_TAILSCALED at it; "
     "pass --no-tailscale if it runs elsewhere."),
    ("Exec format error", "The tailscaled file is not a program for this machine (wrong architecture, or not "
     "a binary at all).", "Install tailscaled built for linux/amd64 (Cloud Run's) and set DEVPROXY_TAILSCALED "
     "to it."),
    ("Permission denied", "The tailscaled file is not executable (or a directory on its path cannot be read).",
     "Make it executable in the image (chmod 0755) or point DEVPROXY_TAILSCALED at an executable tailscaled."),
    ("Not a directory", "The state directory cannot be created: a part of its path is a file "
     "(the runtime creates DEVPROXY_TAILSCALE_STATE_DIR before it starts tailscaled).",
     "Set DEVPROXY_TAILSCALE_STATE_DIR to a writable directory path (default /tmp/tailscale)."),
    ("Read-only file system", "The state directory is on a read-only file system.",
     "Set DEVPROXY_TAILSCALE_STATE_DIR to a writable directory (/tmp is writable on Cloud Run)."),
    ("No space left on device", "The state directory's file system is full (on Cloud Run, /tmp counts "
     "against the memory limit).", "Free space or raise the memory; point DEVPROXY_TAILSCALE_STATE_DIR at "
     "a writable directory."),
)


def _exit(finding: Finding, hits: Sequence[Hit]) -> Finding:
    codes = {h.entry.fields.get("returncode") for h in hits}
    if len(codes) != 1:
        return finding
    code = codes.pop()
    if not isinstance(code, int) or code not in _EXITS:
        return finding
    cause, fix = _EXITS[code]
    return replace(finding, cause=cause, fix=fix)


def _start(finding: Finding, hits: Sequence[Hit]) -> Finding:
    text = " ".join(h.entry.message for h in hits)
    for words, cause, fix in _START:
        if words in text:
            return replace(finding, cause=cause, fix=fix)
    return finding


def _timeout(finding: Finding, hits: Sequence[Hit]) -> Finding:
    """A dial that timed out and an answer that timed out are two causes with two settings."""
    text = " ".join(h.entry.message for h in hits)
    answer = re.search(r"did not answer within (\d+(?:\.\d+)?) s", text)
    if answer and "took longer than" not in text:
        return replace(
            finding,
            title="devproxy: the app answered later than the response timeout",
            cause=f"The app did not send its status line and headers within DEVPROXY_RESPONSE_TIMEOUT "
            f"({answer.group(1)} s), so the proxy answered 504: the timeout is shorter than the app's slowest "
            "answer (a build, a long query, a large download that starts late).",
            fix="Raise DEVPROXY_RESPONSE_TIMEOUT beyond the app's slowest answer (default 120 s; Cloud Run's own "
            "request timeout still applies), or make the app answer sooner.",
        )
    dial = re.search(r"took longer than (\d+(?:\.\d+)?) s", text)
    if dial and "did not answer within" not in text:
        return replace(finding, fix="Check that tailscaled is Running and the dev box online ('tailscale "
                       "status'); DEVPROXY_CONNECT_TIMEOUT (default 10 s) bounds the dial through SOCKS.")
    return finding


def _flag(finding: Finding, hits: Sequence[Hit]) -> Finding:
    """An unknown flag of `tailscale up` is set elsewhere than one of tailscaled's."""
    if any(h.entry.event == "tailscale.up_line" for h in hits):
        return replace(
            finding,
            title="tailscale up was given a flag this version does not have",
            cause="`tailscale up` stopped: one of its flags does not exist in this version of the CLI, so "
            "tailscaled never logged in.",
            fix="Remove or fix the flag in DEVPROXY_TAILSCALE_UP_ARGS (tailscale up --help lists this version's "
            "flags).",
        )
    return finding


_REFINERS = {
    "dp-upstream-timeout": _timeout,
    "ts-unknown-flag": _flag,
    "ts-packet-header": _probe,
    "socks-not-spoken": _probe,
    "dp-ws-abnormal": _ws_side,
    "dp-tailscaled-exited": _exit,
    "dp-tailscaled-start-failed": _start,
}


def refine(finding: Finding, hits: Sequence[Hit], context: Sequence[str] = ()) -> Finding:
    """The finding with words and severity taken from its own evidence (and the capture's other lines)."""
    finding = _stated_error(finding, hits)
    refiner = _REFINERS.get(finding.id)
    if refiner is not None:
        finding = refiner(finding, hits)
    if finding.id in APP_FINDINGS:
        finding = for_app(finding, hits, context)
    return finding


def alone(finding: Finding) -> Finding:
    """A symptom nothing in the capture explains: its fix must not point at causes that are not there."""
    if finding.explained_by or finding.id not in LONE_FIX:
        return finding
    return replace(finding, fix=LONE_FIX[finding.id])
