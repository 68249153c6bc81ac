"""The table of devproxy's own pages under `/_devproxy/`: each path declares itself public or not.

Closed by default: the dispatcher applies the access policy to every page that is not declared
public, so a new page cannot forget to check it. Public pages are the ones a client must reach
before it can log in (health, readiness, login, logout).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import cast

from aiohttp import web

from devproxy.contract import PAGE_PREFIX

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Page:
    """One devproxy page: its path, its handler per method, and whether it skips access control."""

    path: str
    methods: Mapping[str, Handler]
    public: bool


def _methods(routes: Iterable[web.RouteDef]) -> dict[str, dict[str, Handler]]:
    by_path: dict[str, dict[str, Handler]] = {}
    for route in routes:
        if not route.path.startswith(PAGE_PREFIX):
            raise ValueError(f"devproxy page {route.path!r} is outside {PAGE_PREFIX}")
        methods = by_path.setdefault(route.path, {})
        handler = cast(Handler, route.handler)
        methods[route.method] = handler
        if route.method == "GET" and route.kwargs.get("allow_head", True):
            methods.setdefault("HEAD", handler)
    return by_path


def public(routes: Iterable[web.RouteDef]) -> list[Page]:
    """Pages anyone may open (what a client needs before or without logging in)."""
    return [Page(path, methods, True) for path, methods in _methods(routes).items()]


def protected(routes: Iterable[web.RouteDef]) -> list[Page]:
    """Pages behind the access policy."""
    return [Page(path, methods, False) for path, methods in _methods(routes).items()]


@dataclass(frozen=True, slots=True)
class PageTable:
    """Every devproxy page by exact path; a path is declared once."""

    pages: Mapping[str, Page]

    @classmethod
    def of(cls, pages: Iterable[Page]) -> PageTable:
        """The table of `pages`. Raises: ValueError when two declarations share a path."""
        table: dict[str, Page] = {}
        for page in pages:
            if page.path in table:
                raise ValueError(f"devproxy page {page.path!r} is declared twice")
            table[page.path] = page
        return cls(table)

    def get(self, path: str) -> Page | None:
        return self.pages.get(path)
