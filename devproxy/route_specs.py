"""The syntax of a route, `PREFIX=URL[;host=public]`: shared by the runtime and deploy, so both apply one rule.

Pure. `parse_specs` checks the prefix (a plain path starting with `/`, not `/` itself, nothing under
`/_devproxy/`, no duplicates) and the options; the URL is left to the caller, which parses it as it
parses any target (the runtime's `config.parse_target`). The runtime builds its route table from
these (runtime/routes.py); deploy checks devproxy.toml's routes with them before passing them on as
`DEVPROXY_ROUTES`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from devproxy.contract import PAGE_PREFIX
from devproxy.errors import ConfigError

#: the environment variable that carries the routes to the runtime (pairs separated by commas).
ROUTES_ENV = "DEVPROXY_ROUTES"
#: characters a prefix may hold: a plain path, no query, fragment, escapes, spaces, commas or semicolons.
_PREFIX_CHARS = re.compile(r"/[A-Za-z0-9._~!$&'()*+:@/-]*")
_OPTIONS = {"host=public": True, "host=target": False}


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """One route as written: its prefix, its URL (not yet parsed) and its options."""

    prefix: str
    url: str
    #: send the browser's Host to the app instead of the target's own (`;host=public`).
    public_host: bool = False

    @property
    def stem(self) -> str:
        """The prefix without its trailing slash: `/app` and `/app/` are the same route."""
        return self.prefix.rstrip("/")


def has_dot_segment(path: str) -> bool:
    """Whether a path has a `.` or `..` segment, in any spelling a server might decode."""
    decoded = unquote(unquote(path)).replace("\\", "/")
    return any(segment in (".", "..") for segment in decoded.split("/"))


def parse_spec(text: str) -> RouteSpec:
    """One `PREFIX=URL[;host=public]`. Raises: ConfigError (one line) naming what is wrong."""
    prefix, sep, rest = text.strip().partition("=")
    prefix = prefix.strip()
    if not sep or not rest.strip():
        raise ConfigError(f"invalid route {text!r}: use PREFIX=URL, e.g. /jupyter/=http://devbox:8889")
    url, *options = [piece.strip() for piece in rest.split(";")]
    if not prefix.startswith("/"):
        raise ConfigError(f"invalid route {text!r}: the prefix must start with '/' (e.g. /{prefix.lstrip('/')})")
    if prefix == "/" or not _PREFIX_CHARS.fullmatch(prefix) or "//" in prefix or has_dot_segment(prefix):
        raise ConfigError(
            f"invalid route {text!r}: the prefix must be a plain path such as /app/ "
            "('/' itself is the default route, --target)"
        )
    if (prefix.lower() + "/").startswith(PAGE_PREFIX):
        raise ConfigError(f"invalid route {text!r}: {PAGE_PREFIX} is reserved for devproxy's own pages")
    public_host = False
    for option in options:
        if option.lower() not in _OPTIONS:
            raise ConfigError(f"invalid route {text!r}: unknown option {option!r} (known: host=public)")
        public_host = _OPTIONS[option.lower()]
    return RouteSpec(prefix, url, public_host)


def split_routes(value: str) -> list[str]:
    """`DEVPROXY_ROUTES`: pairs separated by commas (blank entries ignored)."""
    return [item for item in (piece.strip() for piece in value.split(",")) if item]


def parse_specs(texts: Iterable[str]) -> list[RouteSpec]:
    """Every route, checked, in the order given. Raises: ConfigError for a bad one or a duplicate prefix."""
    specs: list[RouteSpec] = []
    seen: dict[str, str] = {}
    for text in texts:
        spec = parse_spec(text)
        if spec.stem in seen:
            raise ConfigError(f"invalid route {text.strip()!r}: the prefix {seen[spec.stem]} is already routed")
        seen[spec.stem] = spec.prefix
        specs.append(spec)
    return specs
