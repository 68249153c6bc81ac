"""Following: tail a file or stdin in batches, and diagnose incrementally as evidence arrives."""

from __future__ import annotations

import io
import select
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from devproxy.errors import LogInputError
from devproxy.logs.correlate import rank_entries
from devproxy.logs.findings import Diagnosis, Finding
from devproxy.logs.timeline import build_timeline
from devproxy.logs.match import Hit, Matcher
from devproxy.logs.model import SEVERITY_RANK, LogEntry
from devproxy.logs.source import parse_line
from devproxy.logs.unknown import level

Batch = list[LogEntry | None]  # None marks an unreadable line


def tail_file(
    path: str,
    *,
    interval_s: float = 1.0,
    max_polls: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Batch]:
    """The file's lines so far, then each poll's newly appended complete lines.

    Raises:
        LogInputError: the file cannot be opened or read.
    """
    try:
        handle = open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise LogInputError(f"cannot read log file {path}: {exc.strerror or exc}") from exc
    with handle:
        partial = ""
        polls = 0
        while max_polls is None or polls < max_polls:
            if polls:
                sleep(interval_s)
            polls += 1
            chunk = handle.read()
            if not chunk:
                yield []
                continue
            lines = (partial + chunk).split("\n")
            partial = lines.pop()  # an unterminated last line waits for its newline
            yield [parse_line(line) for line in lines if line.strip()]


def _more_ready(stream: IO[str]) -> bool:
    """Whether more input can be read without waiting (False when the stream cannot tell)."""
    try:
        ready, _, _ = select.select([stream], [], [], 0)
    except (OSError, ValueError, TypeError, io.UnsupportedOperation):
        return False
    return bool(ready)


def stream_lines(stream: IO[str], max_batch: int = 1000) -> Iterator[Batch]:
    """Lines of a stream (stdin) as they arrive: each batch holds what was ready without waiting.

    Batching what a fast pipe already delivered keeps incremental diagnosis linear; a line that
    arrives alone is yielded at once, so findings still show as soon as their evidence does.
    """
    batch: Batch = []
    for line in iter(stream.readline, ""):  # readline: no read-ahead, each line as it arrives
        if line.strip():
            batch.append(parse_line(line))
        if len(batch) >= max_batch or not _more_ready(stream):
            if batch:
                yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class LiveDiagnosis:
    """Diagnosis that grows with each batch and tells which findings are new."""

    matcher: Matcher = field(default_factory=Matcher)
    entries: list[LogEntry] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    unmatched: list[LogEntry] = field(default_factory=list)
    bad_lines: int = 0
    #: findings from the service's own settings, reported before any entry arrives.
    settings: tuple[Finding, ...] = ()
    _reported: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._reported.update(f.id for f in self.settings)

    def add(self, batch: Sequence[LogEntry | None]) -> list[Finding]:
        """Take a batch; return findings (not noise) that appeared for the first time, most important first."""
        good = [e for e in batch if e is not None]
        self.bad_lines += len(batch) - len(good)
        self.entries.extend(good)
        new_hits = self.matcher.hits(good)
        matched = {id(hit.entry) for hit in new_hits}
        unmatched = [e for e in good if id(e) not in matched]
        self.unmatched.extend(unmatched)
        if not new_hits and not any(SEVERITY_RANK[level(e)] >= SEVERITY_RANK["WARNING"] for e in unmatched):
            return []  # nothing that could change a finding
        self.hits.extend(new_hits)
        fresh = [f for f in self._ranked() if not f.noise and f.id not in self._reported]
        self._reported.update(f.id for f in fresh)
        return fresh

    def _ranked(self) -> tuple[Finding, ...]:
        return rank_entries(self.entries, self.hits, self.unmatched, settings=self.settings)

    def diagnosis(self) -> Diagnosis:
        """Everything seen so far, ranked."""
        return Diagnosis(
            findings=self._ranked(),
            timeline=build_timeline(self.entries, self.hits),
            entries=len(self.entries),
            matched=len(self.hits),
        )


def run(
    batches: Iterable[Sequence[LogEntry | None]],
    on_batch: Callable[[Sequence[LogEntry | None]], None],
) -> bool:
    """Feed batches to `on_batch` until they end or Ctrl-C; True when stopped by Ctrl-C."""
    try:
        for batch in batches:
            on_batch(batch)
    except KeyboardInterrupt:
        return True
    return False
