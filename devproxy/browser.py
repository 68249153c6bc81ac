"""Open a secret-bearing link in the desktop's browser without putting the secret on a command line.

`webbrowser` starts the browser with the URL as an argument, which any local user can read in
the process list. So the browser is given a loopback URL with a random path instead; a one-shot
server on 127.0.0.1 answers that path once with a redirect to the real link, then stops.
"""

from __future__ import annotations

import secrets
import sys
import threading
import webbrowser
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

#: how long the browser has to fetch the loopback URL.
FETCH_SECONDS = 60.0


def display_available(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """True on macOS and Windows, and on other systems when an X11 or Wayland display is set."""
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


class _Once(HTTPServer):
    """Answers GET <path> with a 303 to the link, once; every other request is a 404."""

    def __init__(self, link: str) -> None:
        self.path_token = "/" + secrets.token_urlsafe(16)
        self.link = link
        self.served = threading.Event()
        super().__init__(("127.0.0.1", 0), _Redirect)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{self.path_token}"


class _Redirect(BaseHTTPRequestHandler):
    server: _Once

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        once = self.server
        if self.path != once.path_token or once.served.is_set():
            self.send_error(404)
            return
        once.served.set()
        self.send_response(303)
        self.send_header("Location", once.link)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:  # the request line holds nothing secret, but stderr is the user's
        pass


def open_secret_link(link: str, opener: Callable[[str], bool] = webbrowser.open,
                     timeout: float = FETCH_SECONDS) -> bool:
    """Have the browser open `link` through a one-shot loopback redirect; True when the browser fetched it."""
    with _Once(link) as server:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        try:
            if not opener(server.url):
                return False
            return server.served.wait(timeout)
        finally:
            server.shutdown()
            thread.join(5)
