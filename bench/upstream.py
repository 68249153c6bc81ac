"""The benchmark's upstream: /small (200 B), /big (64 MiB streamed), POST /echo and a WebSocket echo.

Run as its own process (`python -m bench.upstream`) so its CPU never counts as the proxy's;
prints `listening <port>` once bound. Uses uvloop when importable: direct is the physical limit.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiohttp import WSMsgType, web

SMALL = b"x" * 200
BIG_SIZE = 64 * 1024 * 1024
BIG_CHUNK = 256 * 1024
_CHUNK = b"\0" * BIG_CHUNK


async def small(request: web.Request) -> web.Response:
    return web.Response(body=SMALL, content_type="text/plain")


async def big(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = BIG_SIZE
    await response.prepare(request)
    for _ in range(BIG_SIZE // BIG_CHUNK):
        await response.write(_CHUNK)
    await response.write_eof()
    return response


async def echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read(), content_type="application/octet-stream")


async def ws_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=0, compress=False, autoping=True)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
        elif msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
    return ws


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/small", small)
    app.router.add_get("/big", big)
    app.router.add_post("/echo", echo)
    app.router.add_get("/ws", ws_echo)
    return app


async def serve(host: str) -> None:
    runner = web.AppRunner(create_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, backlog=2048)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening {port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host))
    else:
        print("loop uvloop", flush=True)
        uvloop.run(serve(args.host))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
