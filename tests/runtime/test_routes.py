"""The route table as data: parsing and validation, longest prefix, nginx's two modes, answers put back."""

from __future__ import annotations

import pytest

from devproxy.errors import ConfigError
from devproxy.runtime.config import parse_target
from devproxy.route_specs import has_dot_segment, parse_spec, split_routes
from devproxy.runtime.routes import RouteTable, build_routes, parse_route

DEFAULT = parse_target("http://devbox:8888")
TABLE = build_routes(DEFAULT, [
    "/jupyter/=http://devbox:8889",
    "/app/=http://devbox2:3000/",
    "/app/api/=http://devbox3:4000/v2/",
    "/docs=http://devbox:9000/site/",
], parse_target)


@pytest.mark.parametrize(
    ("spec", "prefix", "target", "replace", "public_host"),
    [
        ("/jupyter/=http://devbox:8889", "/jupyter/", "http://devbox:8889", None, False),
        (" /app/ = http://devbox2:3000/ ", "/app/", "http://devbox2:3000", "/", False),
        ("/two/=https://100.64.0.7/one/", "/two/", "https://100.64.0.7", "/one/", False),
        ("/nb/=http://devbox:8889;host=public", "/nb/", "http://devbox:8889", None, True),
        ("/nb/=http://[fd7a::1]:8889;HOST=public", "/nb/", "http://[fd7a::1]:8889", None, True),
        ("/x=http://devbox:1;host=target", "/x", "http://devbox:1", None, False),
    ],
)
def test_parse_route(spec: str, prefix: str, target: str, replace: str | None, public_host: bool) -> None:
    """A URL without a path is pass-through; with one, even "/", it replaces the prefix."""
    route = parse_route(parse_spec(spec), parse_target)
    assert (route.prefix, str(route.target), route.replace, route.public_host) == (prefix, target, replace, public_host)


@pytest.mark.parametrize(
    ("specs", "needle"),
    [
        (["jupyter/=http://devbox:8889"], "must start with '/'"),
        (["/jupyter/"], "use PREFIX=URL"),
        (["/jupyter/="], "use PREFIX=URL"),
        (["/=http://devbox:1"], "default route"),
        (["/a b/=http://devbox:1"], "plain path"),
        (["/a/../b/=http://devbox:1"], "plain path"),
        (["/a//b/=http://devbox:1"], "plain path"),
        (["/a?x/=http://devbox:1"], "plain path"),
        (["/a%2f/=http://devbox:1"], "plain path"),
        (["/_devproxy/x/=http://devbox:1"], "reserved"),
        (["/_devproxy=http://devbox:1"], "reserved"),
        (["/_DEVPROXY/=http://devbox:1"], "reserved"),
        (["/a/=ftp://devbox:1"], "invalid route /a/"),
        (["/a/=http://"], "no host"),
        (["/a/=http://devbox:99999"], "invalid route /a/"),
        (["/a/=http://devbox:1/?q=1"], "query"),
        (["/a/=http://devbox:1;host=everyone"], "unknown option"),
        (["/a/=http://devbox:1", "/a/=http://devbox:2"], "already routed"),
        (["/a/=http://devbox:1", "/a=http://devbox:2"], "already routed"),
    ],
)
def test_invalid_routes_are_one_line_errors(specs: list[str], needle: str) -> None:
    """Every bad route is a ConfigError (exit 2) whose one line says what is wrong."""
    with pytest.raises(ConfigError) as info:
        build_routes(DEFAULT, specs, parse_target)
    assert needle in str(info.value)
    assert "\n" not in str(info.value) and info.value.exit_code == 2


@pytest.mark.parametrize(
    ("path", "prefix", "upstream"),
    [
        ("/", "/", "/"),
        ("/index.html?x=1", "/", "/index.html?x=1"),
        ("/jupyter/lab?reset", "/jupyter/", "/jupyter/lab?reset"),
        ("/jupyter/", "/jupyter/", "/jupyter/"),
        ("/jupyterx/", "/", "/jupyterx/"),
        ("/app/x?q", "/app/", "/x?q"),
        ("/app/", "/app/", "/"),
        ("/app/?a=%2F", "/app/", "/?a=%2F"),
        ("/app/a%20b/c", "/app/", "/a%20b/c"),
        ("/app/api/users?id=1", "/app/api/", "/v2/users?id=1"),
        ("/app/api", "/app/", "/api"),
        ("/apple", "/", "/apple"),
        ("/docs", "/docs", "/site"),
        ("/docs/", "/docs", "/site/"),
        ("/docs/a/b", "/docs", "/site/a/b"),
        ("/docsx", "/", "/docsx"),
        ("/proxy/3000/x", "/", "/proxy/3000/x"),
        ("/absproxy/3000/x", "/", "/absproxy/3000/x"),
    ],
)
def test_longest_prefix_and_path_rewriting(path: str, prefix: str, upstream: str) -> None:
    """The longest prefix matching whole segments wins; its mode decides the path the app gets."""
    route = TABLE.match(path)
    assert route.prefix == prefix
    assert route.upstream_path(path) == upstream


def test_default_route_keeps_the_target_base_path() -> None:
    """--target with a path still prefixes every request for the default route."""
    table = build_routes(parse_target("http://devbox:8888/base/"), [], parse_target)
    assert table.match("/x?y").upstream_path("/x?y") == "/base/x?y"


@pytest.mark.parametrize(
    ("path", "location"),
    [("/jupyter", "/jupyter/"), ("/jupyter?token=1", "/jupyter/?token=1"), ("/app", "/app/"),
     ("/docs", None), ("/jupyter/", None), ("/other", None)],
)
def test_prefix_without_its_slash_redirects(path: str, location: str | None) -> None:
    """`/jupyter` for a route `/jupyter/` sends the browser to `/jupyter/`, as nginx does."""
    assert TABLE.slash_redirect(path) == location


@pytest.mark.parametrize(
    ("prefix", "location", "expected"),
    [
        ("/app/", "/login", "/app/login"),
        ("/app/", "/", "/app/"),
        ("/app/", "/login?next=%2F#top", "/app/login?next=%2F#top"),
        ("/app/", "http://devbox2:3000/dash?x=1", "/app/dash?x=1"),
        ("/app/", "https://dev.example/dash", "https://dev.example/app/dash"),
        ("/app/", "https://evil.example/dash", "https://evil.example/dash"),
        ("/app/", "relative/path", "relative/path"),
        ("/app/", "//devbox2:3000/x", "//devbox2:3000/x"),
        ("/app/", "/\\evil.example", "/\\evil.example"),
        ("/app/api/", "/v2/users", "/app/api/users"),
        ("/app/api/", "/v2", "/app/api"),
        ("/app/api/", "/v1/users", "/v1/users"),
        ("/app/api/", "http://devbox3:4000/v2/", "/app/api/"),
        ("/docs", "/site/intro", "/docs/intro"),
        ("/jupyter/", "/jupyter/lab", "/jupyter/lab"),
        ("/jupyter/", "/login", "/login"),
    ],
)
def test_location_goes_back_under_the_prefix(prefix: str, location: str, expected: str) -> None:
    """Replace mode puts Location back under the prefix (proxy_redirect default, root-relative too)."""
    route = next(r for r in TABLE.all() if r.prefix == prefix)
    assert route.rewrite_location(location, "dev.example") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5; url=/login", "5; url=/app/login"),
        ("0;URL='/next?x=1'", "0;URL='/app/next?x=1'"),
        ("3", "3"),
        ("1; url=https://other.example/", "1; url=https://other.example/"),
    ],
)
def test_refresh_goes_back_under_the_prefix(value: str, expected: str) -> None:
    """The URL in a Refresh answer is rewritten like Location."""
    assert TABLE.match("/app/").rewrite_refresh(value, "dev.example") == expected


@pytest.mark.parametrize(
    ("prefix", "cookie", "expected"),
    [
        ("/app/", "sid=1; Path=/; HttpOnly", "sid=1; Path=/app/; HttpOnly"),
        ("/app/", "sid=1; path=/admin; Secure", "sid=1; path=/app/admin; Secure"),
        ("/app/", "sid=1; HttpOnly", "sid=1; HttpOnly"),
        ("/app/", "a=b=c; Path=/x; Domain=devbox2", "a=b=c; Path=/app/x; Domain=devbox2"),
        ("/app/api/", "t=1; Path=/v2/", "t=1; Path=/app/api/"),
        ("/app/api/", "t=1; Path=/", "t=1; Path=/"),
        ("/docs", "t=1; Path=/site", "t=1; Path=/docs"),
        ("/jupyter/", "_xsrf=1; Path=/jupyter/", "_xsrf=1; Path=/jupyter/"),
    ],
)
def test_set_cookie_path_goes_back_under_the_prefix(prefix: str, cookie: str, expected: str) -> None:
    """Replace mode moves Set-Cookie paths under the prefix (proxy_cookie_path); pass-through leaves them."""
    route = next(r for r in TABLE.all() if r.prefix == prefix)
    assert route.rewrite_set_cookie(cookie) == expected


def test_answer_headers_rewrite_only_what_they_must() -> None:
    """Only Location, Content-Location, Refresh and Set-Cookie change; order and repeats are kept."""
    headers = [("Location", "/in"), ("Set-Cookie", "a=1; Path=/"), ("X-Path", "/x"), ("Set-Cookie", "b=2; Path=/b")]
    assert TABLE.match("/app/x").answer_headers(headers, "dev.example") == [
        ("Location", "/app/in"), ("Set-Cookie", "a=1; Path=/app/"), ("X-Path", "/x"), ("Set-Cookie", "b=2; Path=/app/b")]
    assert TABLE.match("/jupyter/x").answer_headers(headers, "dev.example") == headers


def test_forwarded_prefix_only_when_stripped() -> None:
    """X-Forwarded-Prefix names the prefix (no trailing slash) for replace-mode routes only."""
    assert [r.forwarded_prefix() for r in TABLE.all()] == ["/app/api", None, "/docs", "/app", None]


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/a/./b", True), ("/a/../b", True), ("/a/%2e%2e/b", True), ("/a/%252e%252e/b", True),
     ("/a/..\\b", True), ("/a/..", True), ("/a/.b/..c", False), ("/a/b", False)],
)
def test_dot_segments(path: str, expected: bool) -> None:
    """Dot segments are found in every spelling a server might decode."""
    assert has_dot_segment(path) is expected


def test_split_routes() -> None:
    """DEVPROXY_ROUTES: comma-separated pairs, blanks ignored."""
    assert split_routes(" /a/=http://x:1 , ,/b/=http://y:2/,") == ["/a/=http://x:1", "/b/=http://y:2/"]


def test_table_lists_every_route_default_last() -> None:
    """all() names each route, longest prefix first, the default route last."""
    assert isinstance(TABLE, RouteTable)
    assert [r.prefix for r in TABLE.all()] == ["/app/api/", "/jupyter/", "/docs", "/app/", "/"]
    assert TABLE.default.describe() == "/ -> http://devbox:8888 (pass-through)"
