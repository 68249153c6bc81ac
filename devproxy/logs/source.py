"""Turn what users really have (gcloud JSON, JSON lines, pasted text) into `LogEntry` values.

Pure except `read_path`, the file/stdin adapter. Format is detected from the content; a line
that cannot be understood is counted, never fatal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, Any

from devproxy.errors import LogInputError
from devproxy.logs.model import LogEntry, severity_name

FORMATS = ("gcloud-json", "json-lines", "text", "mixed", "empty")

_COMPONENT_LAYER = {
    "proxy": "proxy",
    "supervisor": "tailscale",
    "tailscaled": "tailscale",
    "auth": "auth",
    "code-server": "code-server",
    "nginx": "nginx",
    "browser": "browser",
}

_ISO_PREFIX = re.compile(
    r"^\s*\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)\]?"
)
_GO_PREFIX = re.compile(r"^\s*(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?")
_NGINX_TIME = re.compile(r"\[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\]")
_LEVEL = re.compile(
    r"\b(DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|CRITICAL|FATAL|debug|info|warn(?:ing)?|error|fatal)\b"
)
_TAILSCALE_HINT = re.compile(r"\b(?:socks5: |magicsock: |logtail: |tailscaled|monitor_linux: |wgengine|netcheck: )")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATENCY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


@dataclass(frozen=True, slots=True)
class Parsed:
    """Entries read from one input, how many lines were unreadable, and the format detected."""

    entries: tuple[LogEntry, ...]
    bad_lines: int
    format: str


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp (or None when absent or unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return _utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


def parse_latency(value: object) -> float | None:
    """Cloud Logging's Duration text ("300.001s") as seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):  # protobuf-style {"seconds": .., "nanos": ..}
        return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
    if isinstance(value, str):
        match = _LATENCY.match(value)
        if match:
            return float(match.group(1))
    return None


def _text_time(line: str) -> datetime | None:
    match = _ISO_PREFIX.match(line)
    if match:
        return parse_time(match.group(1).replace(",", "."))
    match = _GO_PREFIX.match(line)
    if match:
        y, mo, d, h, mi, s, frac = match.groups()
        micros = int((frac or "0")[:6].ljust(6, "0"))
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micros, tzinfo=timezone.utc)
    match = _NGINX_TIME.search(line, 0, 120)
    if match:
        try:
            return datetime.strptime(match.group(1), "%d/%b/%Y:%H:%M:%S %z")
        except ValueError:
            return None
    return None


def guess_layer(message: str) -> str:
    """The layer a bare text line most likely came from ("" when it does not say)."""
    if _TAILSCALE_HINT.search(message):
        return "tailscale"
    return ""


def entry_from_text(line: str) -> LogEntry:
    """A plain text line (terminal, browser console, tailscaled, nginx)."""
    text = line.rstrip("\r\n")
    level = _LEVEL.search(text, 0, 80)
    return LogEntry(
        time=_text_time(text),
        layer=guess_layer(text),
        severity=severity_name(level.group(1)) if level else "DEFAULT",
        message=text.strip(),
        raw=text,
    )


def _request_message(http: Mapping[str, Any]) -> str:
    parts = [str(http.get("requestMethod", "")), str(http.get("requestUrl", "")), str(http.get("status", ""))]
    if http.get("latency") is not None:
        parts.append(str(http["latency"]))
    return " ".join(p for p in parts if p)


def entry_from_structured(record: Mapping[str, Any], raw: str | None = None) -> LogEntry:
    """One structured line as devproxy's runtime writes it (severity, message, time, event, component, ...)."""
    fields = {k: v for k, v in record.items() if k not in ("severity", "message", "time", "timestamp", "event")}
    component = str(record.get("component", ""))
    message = record.get("message")
    if message is None:
        message = record.get("msg", record.get("textPayload", ""))
    text = str(message)
    layer = _COMPONENT_LAYER.get(component, "") or guess_layer(text)
    return LogEntry(
        time=parse_time(record.get("time") or record.get("timestamp")),
        layer=layer,
        severity=severity_name(record.get("severity") or record.get("level")),
        message=text,
        event=str(record.get("event", "")),
        fields=fields,
        raw=json.dumps(record, separators=(",", ":"), default=str) if raw is None else raw,
    )


def is_log_entry(record: Mapping[str, Any]) -> bool:
    """Whether a JSON object is a Cloud Logging LogEntry (rather than one structured stdout line)."""
    return any(k in record for k in ("textPayload", "jsonPayload", "protoPayload", "httpRequest", "logName"))


def _proto_message(payload: object) -> str:
    """The human part of an audit-log payload (Cloud Run puts revision start failures in status.message)."""
    if not isinstance(payload, Mapping):
        return str(payload or "")
    status = payload.get("status")
    if isinstance(status, Mapping) and status.get("message"):
        return str(status["message"])
    return json.dumps(payload, default=str)[:500]


def entry_from_log_entry(record: Mapping[str, Any], raw: str = "") -> LogEntry:
    """One Cloud Logging LogEntry (REST JSON shape, as `gcloud logging read --format=json` prints it).

    `raw` is the input line when there was one; entries of a JSON array or from the API keep ""
    (re-serialising 10,000 entries would double the time to read them).
    """
    when = parse_time(record.get("timestamp") or record.get("receiveTimestamp"))
    severity = severity_name(record.get("severity"))
    insert_id = str(record.get("insertId", ""))
    log_name = str(record.get("logName", ""))
    payload = record.get("jsonPayload")
    if isinstance(payload, Mapping):
        inner = entry_from_structured(payload, raw)
        return LogEntry(
            time=inner.time or when,
            layer=inner.layer,
            severity=inner.severity if inner.severity != "DEFAULT" else severity,
            message=inner.message if inner.message else json.dumps(payload, default=str)[:500],
            event=inner.event,
            fields=inner.fields,
            raw=raw,
            insert_id=insert_id,
        )
    http = record.get("httpRequest")
    text = record.get("textPayload")
    if isinstance(http, Mapping) and not text:
        fields: dict[str, Any] = {"status": http.get("status"), "latency_s": parse_latency(http.get("latency"))}
        fields["method"] = http.get("requestMethod")
        fields["url"] = http.get("requestUrl")
        return LogEntry(when, "cloudrun", severity, _request_message(http), "", fields, raw, insert_id)
    message = str(text) if text is not None else _proto_message(record.get("protoPayload"))
    layer = guess_layer(message)
    if not layer and ("varlog%2Fsystem" in log_name or "varlog/system" in log_name):
        layer = "cloudrun"
    return LogEntry(when, layer, severity, message, "", {}, raw, insert_id)


def entry_from_json(record: Mapping[str, Any], raw: str = "") -> LogEntry:
    """A LogEntry or a structured line, whichever the object is."""
    if is_log_entry(record):
        return entry_from_log_entry(record, raw)
    return entry_from_structured(record, raw or None)


def parse_line(line: str) -> LogEntry | None:
    """One input line as an entry; None when it looks like JSON but is not readable."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        return entry_from_json(record, stripped)
    return entry_from_text(line)


def _parse_array(data: list[Any]) -> Parsed:
    entries: list[LogEntry] = []
    bad = 0
    for item in data:
        if isinstance(item, dict):
            entries.append(entry_from_json(item))
        else:
            bad += 1
    # gcloud prints newest first; diagnosis and the timeline read oldest first
    entries.sort(key=lambda e: (e.time is None, e.time or _EPOCH))
    return Parsed(tuple(entries), bad, "gcloud-json")


def parse_text(text: str) -> Parsed:
    """Detect the format of a whole input and parse it."""
    head = text.lstrip()
    if not head:
        return Parsed((), 0, "empty")
    if head.startswith("["):
        try:
            data = json.loads(head)
        except ValueError:
            data = None
        if isinstance(data, list):
            return _parse_array(data)
    entries: list[LogEntry] = []
    bad = 0
    json_lines = text_lines = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        entry = parse_line(line)
        if entry is None:
            bad += 1
            continue
        entries.append(entry)
        if entry.raw.startswith("{"):
            json_lines += 1
        else:
            text_lines += 1
    if json_lines and text_lines:
        fmt = "mixed"
    elif json_lines:
        fmt = "json-lines"
    else:
        fmt = "text"
    return Parsed(tuple(entries), bad, fmt)


#: share of characters that are neither text nor whitespace above which an input is binary, not a log.
_BINARY_SHARE = 0.02
_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f\ufffd]")
_EXPORT_HINT = "export it again, e.g. gcloud logging read FILTER --format=json > incident.json"


def _cut_array(text: str) -> str | None:
    """Why a text that opens like a JSON array is not one (cut off, or broken at a place), or None."""
    head = text.lstrip()
    decoder = json.JSONDecoder()
    pos = len(text) - len(head) + 1
    complete = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            return f"the JSON export is cut off after {complete} complete entries (no closing ']')"
        if text[pos] == "]":
            return None
        try:
            _, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            rest = text[pos:].strip()
            if isinstance(exc, json.JSONDecodeError) and len(text.rstrip()) - exc.pos <= 2 + len(rest) and (
                not rest.endswith("]")
            ):
                return f"the JSON export is cut off after {complete} complete entries (it ends mid-entry)"
            line = text.count("\n", 0, getattr(exc, "pos", pos)) + 1
            return f"the JSON array is broken at line {line}: {exc}"
        complete += 1


def input_problem(text: str, parsed: Parsed) -> str | None:
    """Why an input is not a log at all (empty, binary, a cut-off or broken JSON export, nothing readable).

    None when it is one. Pure: `read_path` turns the answer into an error.
    """
    if not text.strip():
        return "the input is empty: no log lines to read"
    sample = text[:200_000]
    odd = len(_NOT_TEXT.findall(sample))
    if odd > _BINARY_SHARE * len(sample):
        return f"the input is not a log: {odd * 100 // len(sample)}% of its characters are binary data, not text"
    if text.lstrip().startswith("[") and parsed.format != "gcloud-json":
        reason = _cut_array(text)
        if reason:
            return reason
    if not parsed.entries:
        return f"the input is not a log: none of its {parsed.bad_lines} lines is a readable entry"
    return None


def read_path(path: str, stdin: IO[str]) -> Parsed:
    """Read and parse a file (or stdin for "-").

    Raises:
        LogInputError: the file cannot be opened or read, or what it holds is not a log.
    """
    try:
        if path == "-":
            text = stdin.read()
        else:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise LogInputError(
            f"cannot read log file {path}: {getattr(exc, 'strerror', None) or exc}",
            hint="pass a readable file, or '-' for stdin",
        ) from exc
    parsed = parse_text(text)
    problem = input_problem(text, parsed)
    if problem is not None:
        where = "stdin" if path == "-" else path
        hint = _EXPORT_HINT if "JSON" in problem else "pass a log file: gcloud JSON, JSON lines or text"
        raise LogInputError(f"{where}: {problem}", hint=hint)
    return parsed
