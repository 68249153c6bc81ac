"""The dev box's dev server: the runtime tests' upstream app on 127.0.0.1:0, port printed on stdout.

Run inside the dev box's network namespace, so that it is reachable only across the tailnet.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.upstream import CLOSE_CODES, create_upstream  # noqa: E402


async def close_codes(request: web.Request) -> web.Response:
    """The close codes the WebSocket echo route saw from its peers, oldest first."""
    return web.json_response(request.app[CLOSE_CODES])


async def jupyter_kernel(_: web.Request) -> web.Response:
    """A kernel channel refusing a cross-origin WebSocket, as Jupyter's origin check answers it."""
    return web.Response(status=403, text="Blocking Cross Origin WebSocket Attempt")


async def main() -> None:
    app = create_upstream()
    app.router.add_get("/_test/close_codes", close_codes)
    app.router.add_get("/api/kernels/{kernel}/channels", jupyter_kernel)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(port, flush=True)
    # Lives until its parent closes stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
