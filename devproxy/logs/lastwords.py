"""Last words: when a process fails or exits, the lines it wrote just before are the cause candidates.

Pure. For each failure (tailscaled exiting, `tailscale up` failing, the container exiting) the lines the
same process or component wrote in the window before it are read back, newest first, to its start. A
line a catalog signature recognises explains the failure (an edge for causal ranking); otherwise the
lines with failure words in them are quoted in the finding as "the last thing it said".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from devproxy import events as ev
from devproxy.logs.match import Hit
from devproxy.logs.model import LogEntry
from devproxy.logs.unknown import failure_words

#: seconds before a failure in which its process's lines count as its last words.
WINDOW_S = 30.0
#: at most this many lines are read back, and quoted.
MAX_LINES = 200
MAX_QUOTED = 3

#: failure kind -> the layers whose lines are its process's words ("*": any layer but the platform's).
FAILURES: Mapping[str, str] = {
    "dp-tailscaled-exited": "tailscale",
    "dp-tailscale-up-failed": "tailscale",
    "dp-tailscaled-watchdog": "tailscale",
    "cr-exit": "*",
    "cr-startup-probe": "*",
}
#: events that carry the process's own words (the rest are devproxy's lifecycle lines about it).
_SPOKEN = frozenset({ev.TAILSCALED_LINE, ev.TAILSCALE_UP_LINE, ""})
#: a new process: nothing before it is the failing one's.
_BIRTH = frozenset({ev.TAILSCALED_STARTED, ev.RUNTIME_STARTED})


@dataclass
class LastWords:
    """What the lines before each failure say: signatures that explain it, or the words to quote."""

    explains: dict[str, set[str]] = field(default_factory=dict)  # cause kind -> failure kinds
    quoted: dict[str, list[str]] = field(default_factory=dict)  # failure kind -> lines


def _speaks(entry: LogEntry, layer: str) -> bool:
    if entry.event not in _SPOKEN:
        return False
    if layer == "*":
        return entry.layer != "cloudrun"
    return entry.layer == layer


def _exited_by_itself(entry: LogEntry) -> bool:
    """An exit with a status of its own (not a signal, which leaves the last line unrelated)."""
    code = entry.fields.get("returncode")
    return isinstance(code, int) and code > 0


def read(entries: Sequence[LogEntry], hits: Sequence[Hit]) -> LastWords:
    """The last words of every failure in a batch of entries (oldest first)."""
    by_entry = {id(h.entry): h for h in hits}
    out = LastWords()
    for index, entry in enumerate(entries):
        hit = by_entry.get(id(entry))
        if hit is None or hit.signature.id not in FAILURES:
            continue
        failure = hit.signature.id
        layer = FAILURES[failure]
        causes: list[str] = []
        said: list[str] = []
        last = ""
        for back in range(index - 1, max(-1, index - 1 - MAX_LINES), -1):
            before = entries[back]
            if before.event in _BIRTH:
                break
            if entry.time and before.time and (entry.time - before.time).total_seconds() > WINDOW_S:
                break
            if not _speaks(before, layer):
                continue
            known = by_entry.get(id(before))
            if known is not None:
                if known.signature.role == "root" and known.signature.id != failure:
                    causes.append(known.signature.id)
                continue
            if failure_words(before.message):
                said.append(before.message.strip())
            last = last or before.message.strip()
        if not said and last and _exited_by_itself(entry):
            said.append(last)  # a process that chose to exit said why in its last line
        for cause in causes:
            out.explains.setdefault(cause, set()).add(failure)
        if not causes and said:
            quoted = out.quoted.setdefault(failure, [])
            for line in reversed(said[:MAX_QUOTED]):
                if line not in quoted:
                    quoted.append(line[:300])
    return out
