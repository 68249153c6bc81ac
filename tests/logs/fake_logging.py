"""A local fake of the Cloud Logging REST API (`POST /v2/entries:list`) that records request bodies."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: given the request body and the call number (0-based), return (status, response JSON).
Responder = Callable[[dict[str, Any], int], tuple[int, dict[str, Any]]]


@dataclass
class FakeLogging:
    """The fake's state: its URL and every request body it received, in order."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def paged(pages: list[list[dict[str, Any]]]) -> Responder:
    """Answer with `pages` in turn, linked by nextPageToken, as the real API pages."""

    def respond(body: dict[str, Any], _: int) -> tuple[int, dict[str, Any]]:
        index = int(body.get("pageToken") or 0)
        answer: dict[str, Any] = {"entries": pages[index]} if pages[index] else {}
        if index + 1 < len(pages):
            answer["nextPageToken"] = str(index + 1)
        return 200, answer

    return respond


def error(status: int, reason: str, message: str) -> Responder:
    """Answer every call with a Google API error document."""

    def respond(body: dict[str, Any], _: int) -> tuple[int, dict[str, Any]]:
        return status, {"error": {"code": status, "message": message, "status": reason}}

    return respond


@contextmanager
def serve(responder: Responder) -> Iterator[FakeLogging]:
    """Run the fake on 127.0.0.1, a free port, in a thread; stop it on exit."""
    calls = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                state.requests.append(body)
                state.paths.append(self.path)
                number = calls[0]
                calls[0] += 1
            if self.path.split("?")[0] != "/v2/entries:list":
                status, answer = 404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
            else:
                status, answer = responder(body, number)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = FakeLogging(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
