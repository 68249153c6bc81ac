"""Which web app refused the proxied request, told from the shape of its own lines and paths, with that app's fix.

Pure. An origin check that refuses a WebSocket upgrade reads the same from the proxy's side (a 403),
but each app says it in its own words and on its own paths, and each is fixed in its own way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from devproxy.logs.findings import Finding
from devproxy.logs.match import Hit


@dataclass(frozen=True, slots=True)
class App:
    name: str
    #: regexes over the evidence's messages and paths; any one names the app.
    shapes: tuple[str, ...]
    fix: str


APPS: tuple[App, ...] = (
    App(
        "code-server",
        (r"does not match origin", r"ensureOrigin", r"reconnectionToken=", r"/stable-[0-9a-f]", r"vscode-remote"),
        "Forward X-Forwarded-Host: <public host> (no :443) and X-Forwarded-Proto: https and keep the browser's "
        "Origin, or start code-server with --trusted-origins <public host>.",
    ),
    App(
        "Jupyter",
        (r"Blocking Cross Origin (?:WebSocket Attempt|API request)", r"/api/kernels/", r"/api/events/subscribe",
         r"/terminals/websocket", r"jupyter_server|notebook\.notebookapp"),
        "Allow the public origin in Jupyter: --ServerApp.allow_origin='https://<public host>' (or "
        "c.ServerApp.allow_origin in jupyter_server_config.py) and --ServerApp.trust_xheaders=True; keep the "
        "browser's Origin header.",
    ),
    App(
        "Vite",
        (r"\[vite\]", r"vite-hmr", r"/@vite/client", r"server\.allowedHosts", r"Blocked request\. This host"),
        "Add the public host to server.allowedHosts in vite.config (and server.hmr.clientPort: 443 for the HMR "
        "WebSocket behind HTTPS); restart the dev server.",
    ),
)

GENERIC_FIX = (
    "The app compares the browser's Origin with the Host it sees: make it accept the public host (its "
    "allowed-origins or trusted-hosts setting), and keep the browser's Origin and the X-Forwarded-Host / "
    "X-Forwarded-Proto headers the proxy sends."
)

#: findings whose wording depends on which app refused.
APP_FINDINGS = frozenset({"origin-check", "dp-upgrade-403", "py-ws-403", "py-aiohttp-ws-403", "nginx-ws-upgrade-403"})


def which_app(texts: Sequence[str]) -> App | None:
    """The app whose shape the texts have (the first that matches), or None for a generic app."""
    for app in APPS:
        if any(re.search(shape, text, re.I) for shape in app.shapes for text in texts):
            return app
    return None


def _texts(hits: Sequence[Hit]) -> list[str]:
    out: list[str] = []
    for hit in hits:
        out.append(hit.entry.message)
        for key in ("path", "url", "target"):
            value = hit.entry.fields.get(key)
            if value:
                out.append(str(value))
    return out


def for_app(finding: Finding, hits: Sequence[Hit], context: Sequence[str] = ()) -> Finding:
    """The finding in the words of the app that refused (its own lines, else the capture's), with that app's fix."""
    app = which_app(_texts(hits)) or which_app(context)
    if app is not None and app.name == "code-server":
        title = finding.title if "code-server" in finding.title else f"{finding.title} [code-server]"
        return replace(finding, title=title, fix=app.fix)
    name = app.name if app else "the app"
    title = finding.title.replace("code-server origin check", f"{name}'s origin check")
    title = title.replace("code-server's", f"{name[0].upper()}{name[1:]}'s")
    cause = finding.cause.replace("code-server ≥ 4.10.1", name).replace("code-server origin check", f"{name}'s origin check")
    cause = cause.replace("code-server", name)
    return replace(finding, title=f"{title} [{app.name if app else 'generic app'}]", cause=cause[:1].upper() + cause[1:],
                   fix=app.fix if app else GENERIC_FIX)
