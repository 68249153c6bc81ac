"""Produce real exception texts and log lines of websockets, python-socks and aiohttp (run by capture_real.py).

Runs inside a throwaway virtualenv with one websockets version (and python-socks; aiohttp when
installed). Every server is local on a port-0 socket; each scenario prints one JSON record:
component, version, scenario, how, and the `str()` (prefixed by the class name, the way a
traceback's last line or `logger.exception` shows it) or the log line.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import sys
import time
import warnings
from importlib.metadata import version
from typing import Any, Awaitable, Callable

warnings.simplefilter("ignore")
WS = version("websockets")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TS_SOCKS = int(os.environ.get("CAP_TS_SOCKS", "0"))
MICROSOCKS = int(os.environ.get("CAP_MICROSOCKS", "0"))


def emit(component: str, scenario: str, how: str, text: str) -> None:
    if component == "python-asyncio":
        ver = sys.version.split()[0]
    else:
        ver = WS if component == "websockets" else version(component)
    print(json.dumps({"scenario": scenario, "component": component, "version": ver, "websockets": WS,
                      "how": how, "text": text}))


def shown(exc: BaseException) -> str:
    """The last line of a traceback: qualified class name, then str()."""
    cls = type(exc)
    name = cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    text = str(exc)
    return f"{name}: {text}" if text else name


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.AbstractServer, int]:
    async def quiet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            writer.close()

    server = await asyncio.start_server(quiet, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def _accept(request: bytes) -> bytes:
    key = b""
    for line in request.split(b"\r\n"):
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")


async def h403(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nForbidden")
    await writer.drain()
    writer.close()


async def h_drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_accept(await _request(reader)))
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()


async def h_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(_accept(await _request(reader)))
    await writer.drain()
    await asyncio.sleep(5)
    writer.close()


def big_frame(opcode: int, size: int) -> Handler:
    """A server that accepts the upgrade, then sends one unmasked frame of `size` bytes."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_accept(await _request(reader)))
        writer.write(bytes([0x80 | opcode, 0x7F]) + size.to_bytes(8, "big") + b"x" * size)
        await writer.drain()
        await asyncio.sleep(2)
        writer.close()

    return handler


h_big = big_frame(0x1, 2 * 1024 * 1024)


async def h_never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(5)
    writer.close()


async def h_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    writer.write(b"hello there\r\n\r\n")
    await writer.drain()
    writer.close()


async def h_407(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request(reader)
    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def ws_client(kind: str, uri: str, **kwargs: Any) -> None:
    if kind == "legacy":
        try:
            from websockets.legacy.client import connect
        except ImportError:
            from websockets.client import connect  # type: ignore[no-redef]
    else:
        from websockets.asyncio.client import connect  # type: ignore[no-redef]
    async with connect(uri, **kwargs) as ws:
        await asyncio.wait_for(ws.recv(), 10)


async def attempt(component: str, scenario: str, how: str, coro: Awaitable[None]) -> None:
    try:
        await asyncio.wait_for(coro, 15)
    except asyncio.TimeoutError as exc:
        if "opening handshake" in str(exc) or component != "websockets":
            emit(component, scenario, how, shown(exc))
        else:
            emit(component, scenario, how, shown(exc))
    except BaseException as exc:  # noqa: BLE001 - recording whatever the library raises
        emit(component, scenario, how, shown(exc))


async def websockets_scenarios() -> None:
    major = int(WS.split(".")[0])
    kinds = ["legacy"] + (["asyncio"] if major >= 13 else [])
    for kind in kinds:
        tag = f"ws-{kind}"
        extra: dict[str, Any] = {"proxy": None} if kind == "asyncio" and major >= 15 else {}
        for name, handler, how, kwargs in (
            ("403", h403, "server answers the upgrade with 403", {}),
            ("drop", h_drop, "server closes TCP right after 101", {}),
            ("keepalive", h_silent, "server never answers pings", {"ping_interval": 0.3, "ping_timeout": 0.3}),
            ("too-big", h_big, "server sends a 2 MiB text frame (default max_size)", {"close_timeout": 1}),
            ("open-timeout", h_never, "server accepts TCP, never answers the upgrade", {"open_timeout": 0.5}),
            ("garbage", h_garbage, "server answers the upgrade with garbage", {}),
        ):
            server, port = await serve(handler)
            await attempt("websockets", f"{tag}-{name}", f"{kind} client: {how}",
                          ws_client(kind, f"ws://127.0.0.1:{port}/", **extra, **kwargs))
            server.close()
        await attempt("websockets", f"{tag}-refused", f"{kind} client: nothing listens on the port",
                      ws_client(kind, f"ws://127.0.0.1:{closed_port()}/", **extra))
    server, port = await serve(h_silent)
    if major >= 14:
        import websockets

        async def extra_headers() -> None:
            async with websockets.connect(f"ws://127.0.0.1:{port}/", extra_headers={"X": "1"}):  # type: ignore[call-arg]
                pass

        await attempt("websockets", "ws-extra-headers", "websockets.connect(extra_headers=...) on >= 14",
                      extra_headers())
    await attempt("websockets", "ws-legacy-additional-headers", "legacy connect(additional_headers=...)",
                  ws_client("legacy", f"ws://127.0.0.1:{port}/", additional_headers={"X": "1"}))
    server.close()
    if major >= 15:
        os.environ["ws_proxy"] = f"socks5h://127.0.0.1:{closed_port()}"
        await attempt("websockets", "ws-env-socks-proxy-down", "ws_proxy=socks5h://<closed port> in the env",
                      ws_client("asyncio", "ws://127.0.0.1:9/"))
        server, port = await serve(h_407)
        os.environ["ws_proxy"] = f"http://127.0.0.1:{port}"
        await attempt("websockets", "ws-env-http-proxy-407", "ws_proxy=http://<proxy answering 407>",
                      ws_client("asyncio", "ws://127.0.0.1:9/"))
        server.close()
        del os.environ["ws_proxy"]


async def socks_scenarios() -> None:
    from python_socks import ProxyType
    from python_socks.async_.asyncio import Proxy

    async def via(port: int, host: str, dport: int, timeout: float = 10) -> None:
        proxy = Proxy(ProxyType.SOCKS5, "127.0.0.1", port, rdns=True)
        sock = await proxy.connect(dest_host=host, dest_port=dport, timeout=timeout)
        sock.close()

    await attempt("python-socks", "socks-proxy-down", "connect through a SOCKS port nobody listens on",
                  via(closed_port(), "127.0.0.1", 80))
    server, port = await serve(h_never)
    await attempt("python-socks", "socks-proxy-timeout", "SOCKS server accepts, never answers (timeout=1)",
                  via(port, "127.0.0.1", 80, timeout=1))
    server.close()
    if MICROSOCKS:
        await attempt("python-socks", "socks-target-refused", "microsocks: CONNECT to a closed port",
                      via(MICROSOCKS, "127.0.0.1", closed_port()))
    if TS_SOCKS:
        await attempt("python-socks", "socks-tailscaled-failure",
                      "tailscaled (not logged in): CONNECT 100.101.102.103:8888", via(TS_SOCKS, "100.101.102.103", 8888))
    try:
        Proxy.from_url("socks5h://127.0.0.1:1055")
    except BaseException as exc:  # noqa: BLE001
        emit("python-socks", "socks-socks5h-url", "Proxy.from_url('socks5h://...')", shown(exc))


async def aiohttp_scenarios() -> None:
    import aiohttp
    from aiohttp import web

    async def get(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as response:
                await response.read()

    async def wsc(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as ws:
                msg = await ws.receive(timeout=10)
                if msg.type == aiohttp.WSMsgType.ERROR:
                    raise msg.data
                await ws.receive(timeout=10)

    await attempt("aiohttp", "aiohttp-refused", "GET to a port nobody listens on",
                  get(f"http://127.0.0.1:{closed_port()}/"))
    server, port = await serve(h403)
    await attempt("aiohttp", "aiohttp-ws-403", "ws_connect; server answers 403", wsc(f"http://127.0.0.1:{port}/"))
    server.close()

    async def h_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _request(reader)
        writer.close()

    server, port = await serve(h_close)
    await attempt("aiohttp", "aiohttp-disconnected", "server closes after reading the request",
                  get(f"http://127.0.0.1:{port}/"))
    server.close()

    server, port = await serve(big_frame(0x2, 5 * 1024 * 1024))
    await attempt("aiohttp", "aiohttp-ws-client-too-big", "ws_connect (default max_msg_size); 5 MiB frame",
                  wsc(f"http://127.0.0.1:{port}/"))
    server.close()

    # the server side: a WebSocketResponse with the default limit receives 5 MiB from a client
    records: list[str] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.ERROR:
                records.append(shown(ws.exception() or msg.data))
        records.append(f"close code {ws.close_code}")
        return ws

    app = web.Application()
    app.router.add_get("/", ws_handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{port}/", max_msg_size=0) as ws:
            try:
                await ws.send_bytes(b"x" * (5 * 1024 * 1024))
                await ws.receive(timeout=10)
            except (OSError, asyncio.TimeoutError):
                pass
    await asyncio.sleep(0.5)
    await runner.cleanup()
    for text in records[:1]:
        emit("aiohttp", "aiohttp-ws-server-too-big", "WebSocketResponse (default max_msg_size) gets 5 MiB", text)

    # aiohttp's own server log (debug level, as a runtime with debug logging shows it) for requests it cannot parse
    for scenario, how, data in (
        ("aiohttp-server-h2c", "Cloud Run end-to-end HTTP/2: the h2c preface sent to the aiohttp port",
         b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        ("aiohttp-server-tls", "a TLS ClientHello sent to the plain-HTTP aiohttp port",
         b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 hello\r\n\r\n"),
    ):
        handler = _Collect()
        server_log = logging.getLogger("aiohttp.server")
        server_log.addHandler(handler)
        server_log.setLevel(logging.DEBUG)
        runner = web.AppRunner(web.Application())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await runner.cleanup()
        server_log.removeHandler(handler)
        for text in handler.lines[:2]:
            emit("aiohttp", scenario, how + " (aiohttp.server log)", " ".join(text.split()))
        status = answer.split(b"\r\n", 1)[0].decode("latin-1")
        emit("aiohttp", scenario + "-answer", how + " (status line answered)", status)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname}:{record.name}:{record.getMessage()}")
        if record.exc_info and record.exc_info[1] is not None:
            self.lines.append(shown(record.exc_info[1]))


def slow_callback() -> None:
    handler = _Collect()
    logging.getLogger("asyncio").addHandler(handler)

    async def blocking() -> None:
        time.sleep(0.15)

    loop = asyncio.new_event_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 0.1
    loop.run_until_complete(blocking())
    loop.close()
    for text in handler.lines[:1]:
        emit("python-asyncio", "asyncio-slow-callback", "time.sleep(0.15) in a coroutine, debug mode", text)


def main() -> None:
    asyncio.run(websockets_scenarios())
    asyncio.run(socks_scenarios())
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        pass
    else:
        asyncio.run(aiohttp_scenarios())
        slow_callback()


if __name__ == "__main__":
    main()
