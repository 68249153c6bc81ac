"""devproxy's own HTML pages: the login form and the status page.

Small, self-contained (no external assets, inline CSS only), readable on a phone. Every value
that reaches the HTML goes through `html.escape`; the status page renders the typed snapshot
(`snapshots.StatusSnapshot`) whose `as_json` is the page's JSON form, and an empty field shows as
a dash.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from devproxy.runtime.snapshots import BridgeSnapshot, Problem, StatusSnapshot, TailscaleCheck

if TYPE_CHECKING:
    from devproxy.runtime.grants import GrantView
    from devproxy.runtime.routing import RouteView

#: headers for every page devproxy itself serves (no framing, no referrer, no caching, no scripts).
PAGE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_STYLE = """
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;
background:#f6f7f9;color:#1d2330}
main{max-width:46rem;margin:0 auto}
h1{font-size:1.3rem;margin:.2rem 0 1rem}
h2{font-size:1.05rem;margin:0 0 .5rem}
section,form{background:#fff;border:1px solid #d9dde5;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin-bottom:.4rem}
input[type=password]{width:100%;font-size:1rem;padding:.6rem;border:1px solid #b8bfcc;border-radius:.4rem}
button{margin-top:.8rem;width:100%;font-size:1rem;padding:.65rem;border:0;border-radius:.4rem;
background:#2557d6;color:#fff}
.error{background:#fdecec;border:1px solid #e7a3a3;color:#7a1212;padding:.6rem;border-radius:.4rem;margin-bottom:.8rem}
.ok{color:#116b2e;font-weight:600}.bad{color:#a11616;font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem .8rem;margin:0}
dt{color:#5b6475}dd{margin:0;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;font-size:.9rem}
th,td{text-align:left;padding:.3rem .4rem;border-top:1px solid #e6e9ef;vertical-align:top;overflow-wrap:anywhere}
.muted{color:#5b6475;font-size:.9rem}
.events{list-style:none;margin:0;padding:0}
.events li{border-top:1px solid #e6e9ef;padding:.4rem 0;overflow-wrap:anywhere}
"""


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<meta name=\"robots\" content=\"noindex\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def login_page(*, error: str | None, next_path: str) -> str:
    """The access-token form; posts to /_devproxy/login and returns to `next_path`."""
    notice = f'<div class="error" role="alert">{html.escape(error)}</div>' if error else ""
    return _document(
        "devproxy: log in",
        "<h1>devproxy</h1>"
        '<form method="post" action="/_devproxy/login">'
        f"{notice}"
        '<label for="token">Access token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" '
        'autocapitalize="off" autocorrect="off" spellcheck="false" required autofocus>'
        f'<input type="hidden" name="next" value="{html.escape(next_path, quote=True)}">'
        '<button type="submit">Log in</button>'
        "</form>"
        '<p class="muted">The token was printed by <code>devproxy deploy</code> and is kept in '
        "Secret Manager.</p>",
    )


def logout_page() -> str:
    """The logout button: logging out is a POST from this page, so no other site can trigger it."""
    return _document(
        "devproxy: log out",
        "<h1>devproxy</h1>"
        '<form method="post" action="/_devproxy/logout">'
        "<p>Log out of this devproxy? The session ends on the server too: the same cookie will not work again.</p>"
        '<button type="submit">Log out</button>'
        "</form>",
    )


_SHARE_WORDS = {
    "shared link expired": ("This shared link has expired", "It was valid until {until}."),
    "shared link revoked": ("This shared link was revoked", "Every link shared before a moment was withdrawn."),
    "shared link for another path": ("This link opens another page", "It opens only {prefix}."),
    "shared link for a path this devproxy does not route": (
        "This link is for a page that is not here", "Nothing is served under {prefix} any more."),
}


def share_page(problem: str, prefix: str | None, until: float | None) -> str:
    """Why a shared link does not open anything (expired, revoked, not valid), and what to do."""
    title, detail = _SHARE_WORDS.get(problem, ("This shared link is not valid",
                                               "It may have been copied incompletely."))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until)) if until is not None else ""
    detail = detail.format(until=when, prefix=prefix or "")
    return _document(
        "devproxy: shared link",
        "<h1>devproxy</h1>"
        f'<section><h2>{html.escape(title)}</h2><p>{html.escape(detail)}</p>'
        "<p>Ask the person who shared it for a new link.</p>"
        '<p class="muted">Is this your devproxy? <a href="/_devproxy/login">Log in</a>.</p></section>',
    )


def _text(value: object) -> str:
    if value is None or value == "":
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return html.escape(str(value))


def _flag(ok: bool) -> str:
    return '<span class="ok">OK</span>' if ok else '<span class="bad">FAILING</span>'


def _when(epoch_s: float) -> str:
    return html.escape(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch_s)))


def _bytes(count: int) -> str:
    amount = float(count)
    if amount < 1024:
        return f"{amount:.0f} B"
    unit = "KiB"
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024:
            break
    return f"{amount:.1f} {unit}"


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _events(events: Sequence[Problem], limit: int = 20) -> str:
    """Problems as a list, in the order given (newest first), at most `limit`."""
    if not events:
        return '<p class="muted">none</p>'
    # A list rather than a table: four columns do not fit a phone screen.
    items = "".join(
        f'<li><div class="muted">{_text(e.time)} \u00b7 {_text(e.severity)} \u00b7 {_text(e.event)}</div>'
        f"<div>{_text(e.message)}</div></li>"
        for e in events[:limit]
    )
    return f'<ul class="events">{items}</ul>'


def _tailscale(ts: TailscaleCheck | None) -> str:
    if ts is None:
        return '<p class="muted">not supervised here (--no-tailscale)</p>'
    return _rows([("state", f"{_flag(ts.ok)} {_text(ts.state)}"), ("detail", _text(ts.detail)),
                  ("credential", _text(ts.credential))])


def _freezes(freezes: tuple[int, bool, int]) -> str:
    """Freezes noticed (economy mode), whether requests are held now, and how many got a 503."""
    seen, holding, refused = freezes
    return _rows([("seen", _text(seen)), ("holding requests now", _text(holding)),
                  ("refused (503 after the hold)", _text(refused))])


def _websockets(sessions: Sequence[BridgeSnapshot]) -> str:
    table = ""
    if sessions:
        rows = "".join(
            f"<tr><td>{_text(s.path)}</td><td>{_when(s.opened_at)}</td>"
            f"<td>{_bytes(s.bytes_in)}</td><td>{_bytes(s.bytes_out)}</td></tr>"
            for s in sessions
        )
        table = ("<table><thead><tr><th>path</th><th>opened</th><th>in</th><th>out</th></tr></thead>"
                 f"<tbody>{rows}</tbody></table>")
    return f"<p>{len(sessions)} open</p>{table}"


def _routes(routes: Sequence[RouteView]) -> str:
    """Each route, its target and whether it answers now (the default route last)."""
    rows = "".join(
        f"<tr><td>{_text(r.prefix)}</td><td>{_text(r.description)}</td>"
        f"<td>{_flag(r.check.ok)} {r.check.latency_ms:.0f} ms</td><td>{_text(r.check.error)}</td></tr>"
        for r in routes
    )
    return ("<table><thead><tr><th>prefix</th><th>route</th><th>reachable</th><th>error</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _grants(grants: Sequence[GrantView]) -> str:
    """Shared links in use: which prefix, until when (never the link itself)."""
    if not grants:
        return '<p class="muted">none in use</p>'
    rows = "".join(f"<tr><td>{_text(g.prefix)}</td><td>{_when(g.until)}</td></tr>" for g in grants)
    return f"<table><thead><tr><th>prefix</th><th>until</th></tr></thead><tbody>{rows}</tbody></table>"


def status_page(snapshot: StatusSnapshot, *, routes: Sequence[RouteView] = (),
                grants: Sequence[GrantView] = ()) -> str:
    """Render the runtime's status snapshot (the object its JSON form is serialised from) as HTML."""
    target = snapshot.target
    target_html = _rows([
        ("target", _text(target.target)),
        ("via", _text(target.via)),
        ("reachable", _flag(target.ok)),
        ("latency", f"{target.latency_ms:.0f} ms"),
        ("error", _text(target.error)),
    ])
    socks_html = _rows([("url", _text(snapshot.socks.url)), ("answered by", _text(snapshot.socks.answered_by))])
    errors_html = _events(snapshot.recent_errors)
    if snapshot.client_error_count > 0:
        errors_html += (f'<p class="muted">{snapshot.client_error_count} rejected by client input (malformed '
                        f"requests, wrong tokens); the latest:</p>{_events(snapshot.client_errors)}")
    body = (
        f"<h1>devproxy {_text(snapshot.version)} {_flag(snapshot.ok)}</h1>"
        f"<section><h2>Tailscale</h2>{_tailscale(snapshot.tailscale)}</section>"
        f"<section><h2>Target</h2>{target_html}</section>"
        + (f"<section><h2>Routes</h2>{_routes(routes)}</section>" if len(routes) > 1 else "")
        + (f"<section><h2>Shared links</h2>{_grants(grants)}</section>" if snapshot.auth == "token" else "")
        + f"<section><h2>SOCKS5</h2>{socks_html}</section>"
        f"<section><h2>WebSockets</h2>{_websockets(snapshot.websockets)}</section>"
        f"<section><h2>Freezes</h2>{_freezes(snapshot.freezes)}</section>"
        f"<section><h2>Recent problems</h2>{errors_html}</section>"
        f"<p class=\"muted\">access control: {_text(snapshot.auth)} \u00b7 "
        '<a href="/_devproxy/status">reload</a> \u00b7 JSON: send <code>Accept: application/json</code></p>'
    )
    return _document("devproxy status", body)
