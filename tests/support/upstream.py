"""The upstream the runtime tests proxy to: a real aiohttp app with echo, stream, WebSocket routes."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web
from websockets.utils import accept_key

MiB = 1024 * 1024


async def echo(request: web.Request) -> web.Response:
    """Method, raw path, headers (ordered, repeats kept) and body as JSON."""
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "raw_path": request.raw_path,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
            "body_len": len(body),
            "body_head": body[:64].decode("latin-1"),
        },
        headers={"X-Upstream": "yes"},
    )


async def upload(request: web.Request) -> web.Response:
    """Counts a streamed request body without keeping it."""
    total = 0
    async for chunk in request.content.iter_any():
        total += len(chunk)
    return web.json_response({"received": total})


async def big(request: web.Request) -> web.StreamResponse:
    """Streams n MiB of a repeating pattern (?mib=N, default 64)."""
    mib = int(request.query.get("mib", "64"))
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = mib * MiB
    await response.prepare(request)
    block = bytes(range(256)) * 4096  # 1 MiB
    for _ in range(0 if request.method == "HEAD" else mib):
        await response.write(block)
    await response.write_eof()
    return response


async def cookies(_: web.Request) -> web.Response:
    response = web.Response(status=201, reason="Made It", text="cookies")
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("X-Order", "first")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    response.headers.add("X-Order", "second")
    return response


async def utf8_header(request: web.Request) -> web.Response:
    """Answers with a raw UTF-8 header value and reports the raw bytes of X-Name it received."""
    received = [v for k, v in request.raw_headers if k.lower() == b"x-name"]
    return web.Response(
        body=received[0] if received else b"",
        headers={"Content-Disposition": 'attachment; filename="résumé.txt"'},
    )


async def gzipped(_: web.Request) -> web.Response:
    return web.Response(
        body=gzip.compress(b"hello gzip " * 100),
        headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"},
    )


async def redirect(_: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/echo"})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("s", "5")))
    return web.Response(text="slow")


async def status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), text="status")


async def ws_echo(request: web.Request) -> web.StreamResponse:
    """Echoes every message; reports the handshake headers and subprotocol first when asked."""
    ws = web.WebSocketResponse(protocols=("vscode", "chat.v2"), max_msg_size=0)
    await ws.prepare(request)
    if request.query.get("hello"):
        await ws.send_str(json.dumps({
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
            "raw_path": request.raw_path,
            "protocol": ws.ws_protocol,
        }))
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            if msg.data.startswith("close:"):
                _, code, reason = msg.data.split(":", 2)
                await ws.close(code=int(code), message=reason.encode())
                break
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    request.app[CLOSE_CODES].append(ws.close_code)
    return ws


async def ws_close(request: web.Request) -> web.StreamResponse:
    """Closes at once with /ws/close/{code}?reason=..."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.close(code=int(request.match_info["code"]), message=request.query.get("reason", "").encode())
    return ws


async def ws_reject(request: web.Request) -> web.Response:
    """Refuses the upgrade with an HTTP status, like code-server's origin check does (403)."""
    return web.Response(status=int(request.match_info["code"]), text="Forbidden by upstream")


async def ws_drop(request: web.Request) -> web.StreamResponse:
    """Accepts, sends one message, then drops TCP without a close frame."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str("bye soon")
    await asyncio.sleep(0.1)
    assert request.transport is not None
    request.transport.abort()
    return ws


async def ws_flood(request: web.Request) -> web.StreamResponse:
    """Sends ?n= messages of ?kib= KiB as fast as the peer takes them; records how far it got."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    payload = b"x" * (int(request.query.get("kib", "64")) * 1024)
    sent = request.app[FLOOD_SENT]
    try:
        for _ in range(int(request.query.get("n", "100000"))):
            await ws.send_bytes(payload)
            sent[0] += len(payload)
    except ConnectionError:
        pass
    return ws


CLOSE_CODES = web.AppKey("close_codes", list)
FLOOD_SENT = web.AppKey("flood_sent", list)


def create_upstream() -> web.Application:
    app = web.Application(client_max_size=1024 * MiB)
    app[CLOSE_CODES] = []
    app[FLOOD_SENT] = [0]
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app.router.add_post("/upload", upload)
    app.router.add_get("/big", big)
    app.router.add_get("/cookies", cookies)
    app.router.add_get("/gzip", gzipped)
    app.router.add_route("*", "/utf8", utf8_header)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/slow", slow)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/ws/echo", ws_echo)
    app.router.add_get("/ws/close/{code}", ws_close)
    app.router.add_get("/ws/reject/{code}", ws_reject)
    app.router.add_get("/ws/drop", ws_drop)
    app.router.add_get("/ws/flood", ws_flood)
    return app


class RawTarget:
    """A bare WebSocket target on a loopback port: answers the upgrade, then runs `session` on the stream.

    For behaviour the aiohttp upstream cannot show: a target that goes silent, dies mid-frame,
    or only counts what it receives (so the test's own memory stays flat).
    """

    def __init__(self, session: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> None:
        self._session = session
        self._server: asyncio.Server | None = None
        self.port = 0
        self.requests: list[bytes] = []
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> "RawTarget":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        await asyncio.wait_for(self._server.wait_closed(), 5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept_key(key.decode()).encode() + b"\r\n\r\n")
        try:
            await self._session(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
