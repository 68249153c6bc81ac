"""Routes in the running proxy: several real dev servers behind one URL, each dialed through microsocks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from conftest import StartProxy, Upstream
from support.socks import Microsocks

TIMEOUT = aiohttp.ClientTimeout(total=10)
NAME = web.AppKey("name", str)
ORIGIN_CHECK = web.AppKey("origin_check", bool)


async def _report(request: web.Request) -> web.StreamResponse:
    """What the app saw; `/go` answers with a redirect, a Refresh and cookies like a login page does."""
    if request.headers.get("Upgrade", "").lower() == "websocket":
        origin = urlsplit(request.headers.get("Origin", "")).netloc
        if request.app[ORIGIN_CHECK] and origin != request.host:
            # Jupyter's rule: the Origin's host must equal Host (not X-Forwarded-Host).
            return web.Response(status=403, text="Blocking Cross Origin WebSocket Attempt")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(f"{request.app[NAME]}:{request.raw_path}:{message.data}")
        return ws
    seen = {"app": request.app[NAME], "path": request.raw_path, "host": request.host,
            "prefix": request.headers.getall("X-Forwarded-Prefix", []),
            "forwarded_host": request.headers.get("X-Forwarded-Host")}
    if request.path.endswith("/go"):
        return web.json_response(seen, status=302, headers=[
            ("Location", "/login?next=%2F"), ("Refresh", "3; url=/later"),
            ("Set-Cookie", "sid=1; Path=/; HttpOnly"), ("Set-Cookie", "pref=2; Path=/settings")])
    return web.json_response(seen)


@dataclass
class App:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


StartApp = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_app() -> AsyncIterator[StartApp]:
    runners: list[web.AppRunner] = []

    async def start(name: str, *, origin_check: bool = False) -> App:
        app = web.Application()
        app[NAME], app[ORIGIN_CHECK] = name, origin_check
        app.router.add_route("*", "/{tail:.*}", _report)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return App(name, runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


async def _get(client: aiohttp.ClientSession, url: str, **kwargs: object) -> tuple[int, dict[str, object], aiohttp.ClientResponse]:
    async with client.get(URL(url, encoded=True), allow_redirects=False, timeout=TIMEOUT, **kwargs) as resp:  # type: ignore[arg-type]
        body = await resp.json(content_type=None) if resp.status != 301 else {}
        return resp.status, body, resp


async def test_each_prefix_reaches_its_own_app(start_app: StartApp, socks_v4: Microsocks,
                                               start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """Longest prefix wins; pass-through keeps the path, replace mode strips it; each app is dialed itself."""
    editor, notebook, web_app, api = [await start_app(n) for n in ("editor", "notebook", "app", "api")]
    routes = f"/jupyter/={notebook.url},/app/={web_app.url}/,/app/api/={api.url}/v2/"
    proxy = await start_proxy(target=editor.url, socks=socks_v4.url, env={"DEVPROXY_ROUTES": routes})
    expected = [
        ("/jupyter/lab?reset", "notebook", "/jupyter/lab?reset", []),
        ("/app/x?q=%2F", "app", "/x?q=%2F", ["/app"]),
        ("/app/", "app", "/", ["/app"]),
        ("/app/api/users?id=1", "api", "/v2/users?id=1", ["/app/api"]),
        ("/apple", "editor", "/apple", []),
        ("/", "editor", "/", []),
    ]
    for path, name, upstream_path, prefix in expected:
        status, seen, _ = await _get(client, proxy.url + path, headers={"X-Forwarded-Prefix": "/forged"})
        assert status == 200
        assert (seen["app"], seen["path"], seen["prefix"]) == (name, upstream_path, prefix), path
        assert seen["forwarded_host"] == f"127.0.0.1:{proxy.port}"
    assert {f"127.0.0.1:{a.port}" for a in (editor, notebook, web_app, api)} <= set(socks_v4.connections())


async def test_replace_mode_puts_answers_back_under_the_prefix(start_app: StartApp, start_proxy: StartProxy,
                                                               client: aiohttp.ClientSession) -> None:
    """Location (root-relative too), Refresh and Set-Cookie paths come back under /app/; pass-through is untouched."""
    editor, notebook, web_app = [await start_app(n) for n in ("editor", "notebook", "app")]
    routes = f"/jupyter/={notebook.url},/app/={web_app.url}/"
    proxy = await start_proxy(target=editor.url, env={"DEVPROXY_ROUTES": routes})
    _, _, resp = await _get(client, proxy.url + "/app/go")
    assert resp.status == 302
    assert resp.headers["Location"] == "/app/login?next=%2F"
    assert resp.headers["Refresh"] == "3; url=/app/later"
    assert resp.headers.getall("Set-Cookie") == ["sid=1; Path=/app/; HttpOnly", "pref=2; Path=/app/settings"]
    for path in ("/jupyter/go", "/go"):
        _, _, resp = await _get(client, proxy.url + path)
        assert resp.headers["Location"] == "/login?next=%2F"
        assert resp.headers.getall("Set-Cookie") == ["sid=1; Path=/; HttpOnly", "pref=2; Path=/settings"]


async def test_websockets_follow_the_routes(start_app: StartApp, socks_v4: Microsocks, start_proxy: StartProxy,
                                            client: aiohttp.ClientSession) -> None:
    """A WebSocket takes its route like HTTP: path rewritten in replace mode, kept in pass-through."""
    editor, notebook, web_app = [await start_app(n) for n in ("editor", "notebook", "app")]
    routes = f"/jupyter/={notebook.url},/app/={web_app.url}/"
    proxy = await start_proxy(target=editor.url, socks=socks_v4.url, env={"DEVPROXY_ROUTES": routes})
    for path, answer in (("/app/ws?x=1", "app:/ws?x=1:hi"), ("/jupyter/api/kernels/k/channels",
                                                            "notebook:/jupyter/api/kernels/k/channels:hi"),
                         ("/stable-abc?reconnectionToken=r", "editor:/stable-abc?reconnectionToken=r:hi")):
        async with client.ws_connect(proxy.ws_url + path, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
            await ws.send_str("hi")
            message = await ws.receive(timeout=5)
            assert message.data == answer


async def test_public_host_satisfies_jupyters_origin_check(start_app: StartApp, start_proxy: StartProxy,
                                                           client: aiohttp.ClientSession) -> None:
    """An app that compares Origin with Host refuses the upgrade unless its route sends the public Host."""
    editor = await start_app("editor")
    strict, lenient = await start_app("strict", origin_check=True), await start_app("public", origin_check=True)
    routes = f"/strict/={strict.url},/public/={lenient.url};host=public"
    proxy = await start_proxy(target=editor.url, env={"DEVPROXY_ROUTES": routes})
    origin = f"http://127.0.0.1:{proxy.port}"
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect(proxy.ws_url + "/strict/ws", origin=origin)
    assert info.value.status == 403
    async with client.ws_connect(proxy.ws_url + "/public/ws", origin=origin) as ws:
        await ws.send_str("hi")
        assert (await ws.receive(timeout=5)).data == "public:/public/ws:hi"
    _, seen, _ = await _get(client, proxy.url + "/public/api")
    assert seen["host"] == f"127.0.0.1:{proxy.port}"
    _, seen, _ = await _get(client, proxy.url + "/strict/api")
    assert seen["host"] == f"127.0.0.1:{strict.port}"


async def test_prefix_without_slash_redirects_and_code_server_paths_stay_on_the_default(
        start_app: StartApp, start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """`/jupyter` gets a 301 to `/jupyter/`; code-server's /proxy/<port>/ and /absproxy/<port>/ reach the editor as sent."""
    editor, notebook = await start_app("editor"), await start_app("notebook")
    proxy = await start_proxy(target=editor.url, env={"DEVPROXY_ROUTES": f"/jupyter/={notebook.url}"})
    status, _, resp = await _get(client, proxy.url + "/jupyter?token=abc")
    assert (status, resp.headers["Location"]) == (301, "/jupyter/?token=abc")
    for path in ("/proxy/3000/", "/proxy/3000/api/x?y=1", "/absproxy/3000/jupyter/x", "/absproxy/8889/"):
        status, seen, _ = await _get(client, proxy.url + path)
        assert (status, seen["app"], seen["path"]) == (200, "editor", path)
    _, _, resp = await _get(client, proxy.url + "/proxy/3000/go")
    assert resp.headers["Location"] == "/login?next=%2F"  # the default route rewrites nothing


async def test_readiness_needs_the_default_route_only_and_status_names_each(
        start_app: StartApp, upstream: Upstream, start_proxy: StartProxy, client: aiohttp.ClientSession) -> None:
    """A route whose app is down leaves /_devproxy/ready at 200; the status page names every route and its state."""
    notebook = await start_app("notebook")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    routes = f"/jupyter/={notebook.url},/gone/=http://127.0.0.1:{dead_port}/"
    proxy = await start_proxy(target=upstream.url, env={"DEVPROXY_ROUTES": routes})
    async with client.get(proxy.url + "/_devproxy/ready", timeout=TIMEOUT) as resp:
        assert resp.status == 200
    async with client.get(proxy.url + "/_devproxy/status", headers={"Accept": "application/json"},
                          timeout=TIMEOUT) as resp:
        body = await resp.json()
    assert [(r["prefix"], r["ok"]) for r in body["routes"]] == [("/jupyter/", True), ("/gone/", False), ("/", True)]
    async with client.get(proxy.url + "/_devproxy/status", timeout=TIMEOUT) as resp:
        page = await resp.text()
    assert "<h2>Routes</h2>" in page and "/jupyter/ -&gt; " in page and "prefix replaced by /" in page
    assert proxy.events("runtime.started")[0]["routes"][0].startswith("/jupyter/ -> http://127.0.0.1:")


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "devproxy", "runtime", *args], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "DEVPROXY_ACCESS_TOKEN": "x" * 32, **(env or {})})


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["--route", "jupyter/=http://devbox:8889"], {}, "the prefix must start with '/'"),
        (["--route", "/a/=http://devbox:1", "--route", "/a/=http://devbox:2"], {}, "already routed"),
        (["--route", "/a/=devbox:1"], {}, "invalid route /a/: invalid target URL"),
        (["--route", "/_devproxy/x/=http://devbox:1"], {}, "reserved for devproxy's own pages"),
        ([], {"DEVPROXY_ROUTES": "/a/=http://devbox:1,/b"}, "use PREFIX=URL"),
    ],
)
def test_invalid_routes_exit_2_with_one_line(args: list[str], env: dict[str, str], words: str) -> None:
    """A bad --route or DEVPROXY_ROUTES: one 'error:' line naming the problem, exit code 2."""
    result = _run_cli("--target", "http://devbox:8888", "--socks", "none", *args, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
