"""Local answers for vsda.js / vsda_bg.wasm, Microsoft-only files code-server does not ship (DESIGN rule 7).

Without them the browser console shows 404s that send people down the wrong path.
"""

from __future__ import annotations

from aiohttp import web

#: the smallest valid WebAssembly module: magic number and version, no sections.
EMPTY_WASM = b"\x00asm\x01\x00\x00\x00"
EMPTY_JS = b"/* vsda is not available in code-server; answered by devproxy */\n"


def vsda_stub(path: str) -> web.Response | None:
    """The stub for a vsda file path, or None when the path is something else."""
    if path.endswith("/vsda.js"):
        body, content_type = EMPTY_JS, "application/javascript"
    elif path.endswith("/vsda_bg.wasm"):
        body, content_type = EMPTY_WASM, "application/wasm"
    else:
        return None
    return web.Response(
        body=body,
        content_type=content_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )
