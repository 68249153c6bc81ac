"""Routes: several dev servers behind one URL, chosen by path prefix. Pure: strings in, strings out.

`PREFIX=URL` pairs (`--route`, `DEVPROXY_ROUTES`) add routes beside the default one (`--target`,
everything else). The longest matching prefix wins; a prefix matches whole path segments (`/app`
matches `/app` and `/app/x`, never `/apple`). The mode follows nginx's rule for `proxy_pass`:

- a URL with no path is **pass-through**: `/jupyter/=http://devbox:8889` forwards `/jupyter/x` as
  it is (the app is started with its base path, like code-server's `/absproxy/<port>/`);
- a URL with a path, even `/`, **replaces** the prefix: `/app/=http://devbox2:3000/` sends `/app/x?q`
  to `/x?q`, tells the app `X-Forwarded-Prefix: /app`, and puts the app's answers back under the
  prefix: `Location` and `Refresh` (absolute on the app's own host, or root-relative: `/login`
  becomes `/app/login`, as nginx's `proxy_redirect default` and code-server's `/proxy/` do) and
  `Set-Cookie` paths (`Path=/` becomes `Path=/app/`, as nginx's `proxy_cookie_path`).

A route may send the public host as `Host` (`;host=public`): Jupyter compares the Origin's host
with `Host`, not `X-Forwarded-Host`, and refuses its kernel WebSockets otherwise. The syntax of a
route and its checks are shared with deploy (devproxy/route_specs.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from devproxy.errors import ConfigError
from devproxy.route_specs import RouteSpec, parse_specs

#: `Refresh: 5; url=/login` (the URL part, quoted or not).
_REFRESH = re.compile(r"""^(\s*\d+\s*[;,]\s*url\s*=\s*)(['"]?)(.*?)(\2\s*)$""", re.IGNORECASE | re.DOTALL)


class Upstream(Protocol):
    """What a route needs of its target (config.Target; this module stays below config)."""

    @property
    def host_header(self) -> str: ...

    @property
    def base_path(self) -> str: ...


T = TypeVar("T", bound=Upstream)


@dataclass(frozen=True, slots=True)
class Route(Generic[T]):
    """One prefix and where it goes."""

    #: "/" for the default route; else as given, e.g. "/jupyter/" or "/app".
    prefix: str
    target: T
    #: None: pass-through (the path goes as it is); else the URL's path that replaces the prefix.
    replace: str | None = None
    #: send the browser's Host to the app instead of the target's own.
    public_host: bool = False

    @property
    def is_default(self) -> bool:
        return self.prefix == "/"

    @property
    def stem(self) -> str:
        """The prefix without its trailing slash ("" for the default route)."""
        return self.prefix.rstrip("/")

    def matches(self, path: str) -> bool:
        """Whether a request path (before "?") belongs to this route, by whole segments."""
        if self.is_default:
            return True
        if self.prefix.endswith("/"):
            return path.startswith(self.prefix)
        return path == self.prefix or path.startswith(self.prefix + "/")

    def upstream_path(self, raw_path_qs: str) -> str:
        """The path and query the target gets for a request to `raw_path_qs` (on this route)."""
        if self.replace is None:
            return f"{self.target.base_path}{raw_path_qs}"
        path, sep, query = raw_path_qs.partition("?")
        rest = path[len(self.stem):]
        upstream = (self.replace.rstrip("/") + rest) or "/"
        return f"{upstream}{sep}{query}"

    def forwarded_prefix(self) -> str | None:
        """`X-Forwarded-Prefix` for the app: the prefix it is served under, when the path was stripped."""
        return (self.stem or None) if self.replace is not None else None

    def public_path(self, upstream_path: str) -> str | None:
        """An app path (from a Location or cookie) back under the prefix; None when it is outside the URL's path."""
        assert self.replace is not None
        base = self.replace.rstrip("/")
        if upstream_path != base and not upstream_path.startswith(base + "/"):
            return None
        return self.stem + upstream_path[len(base):] or "/"

    def rewrite_location(self, value: str, public_host: str | None) -> str:
        """A Location (or Refresh URL) from the app as the browser must follow it."""
        if self.replace is None:
            return value
        text = value.strip()
        if text.startswith("/") and not text.startswith("//") and "\\" not in text:
            return self.public_path(text) or value
        try:
            parts = urlsplit(text)
        except ValueError:
            return value
        hosts = {self.target.host_header.lower(), (public_host or "").lower()} - {""}
        if parts.scheme not in ("http", "https") or parts.netloc.lower() not in hosts:
            return value  # another site, or a relative reference: already right
        path = self.public_path(parts.path or "/")
        if path is None:
            return value
        query = f"?{parts.query}" if parts.query else ""
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        if parts.netloc.lower() == self.target.host_header.lower():
            return f"{path}{query}{fragment}"  # the app's own address means "here": stay on the public site
        return f"{parts.scheme}://{parts.netloc}{path}{query}{fragment}"

    def rewrite_refresh(self, value: str, public_host: str | None) -> str:
        match = _REFRESH.match(value)
        if match is None or self.replace is None:
            return value
        head, quote_char, url, tail = match.groups()
        return f"{head}{quote_char}{self.rewrite_location(url, public_host)}{tail}"

    def rewrite_set_cookie(self, value: str) -> str:
        """A Set-Cookie whose `Path` is moved under the prefix (other attributes byte for byte)."""
        if self.replace is None:
            return value
        parts = value.split(";")
        for index, part in enumerate(parts[1:], start=1):
            name, sep, path = part.partition("=")
            if sep and name.strip().lower() == "path":
                moved = self.public_path(path.strip())
                if moved is not None:
                    lead = part[: len(part) - len(part.lstrip())]
                    parts[index] = f"{lead}{name.strip()}={moved}"
        return ";".join(parts)

    def answer_headers(self, headers: Sequence[tuple[str, str]], public_host: str | None) -> list[tuple[str, str]]:
        """The app's response headers with Location, Refresh and Set-Cookie paths put back under the prefix."""
        if self.replace is None:
            return list(headers)
        out: list[tuple[str, str]] = []
        for name, value in headers:
            lname = name.lower()
            if lname in ("location", "content-location"):
                value = self.rewrite_location(value, public_host)
            elif lname == "refresh":
                value = self.rewrite_refresh(value, public_host)
            elif lname == "set-cookie":
                value = self.rewrite_set_cookie(value)
            out.append((name, value))
        return out

    def describe(self) -> str:
        mode = "pass-through" if self.replace is None else f"prefix replaced by {self.replace}"
        host = ", public Host" if self.public_host else ""
        return f"{self.prefix} -> {self.target} ({mode}{host})"


@dataclass(frozen=True, slots=True)
class RouteTable(Generic[T]):
    """The default route and the prefixed ones, longest prefix first."""

    default: Route[T]
    routes: tuple[Route[T], ...] = ()

    def all(self) -> tuple[Route[T], ...]:
        return (*self.routes, self.default)

    def match(self, raw_path_qs: str) -> Route[T]:
        """The route for a request: the longest prefix that matches whole segments, else the default."""
        path = raw_path_qs.partition("?")[0]
        for route in self.routes:
            if route.matches(path):
                return route
        return self.default

    def slash_redirect(self, raw_path_qs: str) -> str | None:
        """`/jupyter` for a route `/jupyter/`: where to send the browser (with the query), as nginx does."""
        path, sep, query = raw_path_qs.partition("?")
        for route in self.routes:
            if route.prefix.endswith("/") and path == route.stem:
                return f"{route.prefix}{sep}{query}"
        return None


def parse_route(spec: RouteSpec, parse_url: Callable[[str], T]) -> Route[T]:
    """The route for a checked spec; `parse_url` parses its URL (config.parse_target). Raises: ConfigError."""
    try:
        target = parse_url(spec.url)
        parts = urlsplit(spec.url)
        path = parts.path
        if path:  # the path replaces the prefix; the target itself is the origin
            target = parse_url(urlunsplit((parts.scheme, parts.netloc, "", "", "")))
    except ConfigError as exc:
        raise ConfigError(f"invalid route {spec.prefix}: {exc}") from exc
    return Route(spec.prefix, target, replace=path or None, public_host=spec.public_host)


def build_routes(default: T, texts: Iterable[str], parse_url: Callable[[str], T]) -> RouteTable[T]:
    """The route table: `default` for everything else, then each `PREFIX=URL`. Raises: ConfigError."""
    routes = [parse_route(spec, parse_url) for spec in parse_specs(texts)]
    routes.sort(key=lambda r: (-len(r.stem), r.prefix))
    return RouteTable(Route("/", default), tuple(routes))
