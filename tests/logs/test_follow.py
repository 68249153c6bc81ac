"""Following a growing file and diagnosing as evidence arrives, with an injected sleep."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from logs_samples import SAMPLES

from devproxy.logs.follow import LiveDiagnosis, run, stream_lines, tail_file


def test_tail_file_returns_appended_lines_per_poll(tmp_path: Path) -> None:
    """Lines appended between polls arrive in the next batch; a line without its newline waits for it."""
    path = tmp_path / "live.log"
    path.write_text("first line\n")
    appends = iter(["second line\nthird ", "half\n", ""])

    def sleep(seconds: float) -> None:
        assert seconds == 0.25
        with path.open("a") as handle:
            handle.write(next(appends))

    batches = list(tail_file(str(path), interval_s=0.25, max_polls=4, sleep=sleep))
    messages = [[e.message if e else None for e in batch] for batch in batches]
    assert messages == [["first line"], ["second line"], ["third half"], []]


def test_stream_lines_yields_each_line() -> None:
    """stdin is followed line by line; blank lines are skipped and broken JSON is marked."""
    batches = list(stream_lines(io.StringIO("a\n\n{bad\nb\n")))
    assert [[e.message if e else None for e in b] for b in batches] == [["a"], [None], ["b"]]


def test_findings_appear_as_soon_as_evidence_arrives() -> None:
    """Healthy lines report nothing; the 403 alone is reported; the 1006 then adds the correlated cause."""
    live = LiveDiagnosis()
    assert live.add([None]) == []
    from devproxy.logs.source import parse_line

    assert live.add([parse_line("2026-11-30 05:00:00,000 INFO GET / 200")]) == []
    first = live.add([parse_line(SAMPLES["py-ws-403"][0])])
    assert [f.id for f in first] == ["py-ws-403"]
    second = live.add([parse_line(SAMPLES["browser-ws-1006"][0])])
    assert [f.id for f in second] == ["origin-check", "browser-ws-1006"]
    assert live.add([parse_line(SAMPLES["py-ws-403"][0])]) == []  # nothing new
    final = live.diagnosis()
    assert final.findings[0].id == "origin-check" and final.has_errors
    assert live.bad_lines == 1 and final.entries == 4


def test_run_stops_cleanly_on_ctrl_c() -> None:
    """Ctrl-C ends following without a traceback and says it was interrupted."""
    seen: list[int] = []

    def batches() -> Iterator[list[None]]:
        yield [None]
        raise KeyboardInterrupt

    assert run(batches(), lambda batch: seen.append(len(batch))) is True
    assert seen == [1]
    assert run(iter([[None], [None]]), lambda batch: seen.append(len(batch))) is False


def test_stream_lines_batches_what_a_pipe_already_delivered() -> None:
    """Lines already waiting in a pipe come as one batch, so following a fast pipe stays linear."""
    import os

    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"one\ntwo\nthree\n")
    os.close(write_fd)
    with os.fdopen(read_fd, encoding="utf-8") as stream:
        batches = list(stream_lines(stream))
    assert [[e.message if e else None for e in b] for b in batches] == [["one", "two", "three"]]


def test_following_ten_thousand_lines_stays_fast() -> None:
    """Diagnosing 10,000 lines fed as they arrive is not quadratic."""
    import os
    import threading
    import time

    lines = "".join(f"{SAMPLES['ts-packet-header'][0]}\n{SAMPLES['py-slow-callback'][0]}\n" for _ in range(5000))
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "w", encoding="utf-8") as out:
            out.write(lines)

    writer = threading.Thread(target=feed)
    writer.start()
    live = LiveDiagnosis()
    started = time.process_time()
    with os.fdopen(read_fd, encoding="utf-8") as stream:
        for batch in stream_lines(stream):
            live.add(batch)
    elapsed = time.process_time() - started
    writer.join(timeout=10)
    assert live.diagnosis().findings[0].id == "blocked-event-loop"
    assert len(live.entries) == 10_000
    assert elapsed < 2.0, f"{elapsed:.3f} s"


def test_live_diagnosis_reports_unrecognised_errors_as_they_arrive() -> None:
    """An unknown ERROR line is a fresh finding of its own batch; INFO chatter afterwards adds nothing."""
    from devproxy.logs.follow import LiveDiagnosis
    from devproxy.logs.source import parse_line as parse

    live = LiveDiagnosis()
    first = live.add([parse('{"severity": "ERROR", "message": "flux capacitor 3 overheated"}')])
    assert [(f.role, f.template) for f in first] == [("unrecognised", "flux capacitor <n> overheated")]
    assert live.add([parse('{"severity": "INFO", "message": "all fine"}')]) == []
    assert live.diagnosis().has_errors
