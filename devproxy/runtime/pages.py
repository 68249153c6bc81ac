"""devproxy's own HTML pages: the login form and the status page.

Small, self-contained (no external assets, inline CSS only), readable on a phone. Every value
that reaches the HTML goes through `html.escape`; the pages render whatever snapshot they get,
so a missing or oddly typed field shows as a dash instead of failing the page.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from typing import Any

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


def _text(value: object) -> str:
    if value is None or value == "":
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return html.escape(str(value))


def _flag(value: object) -> str:
    if value is True:
        return '<span class="ok">OK</span>'
    if value is False:
        return '<span class="bad">FAILING</span>'
    return _text(value)


def _when(value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return html.escape(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(value))))
    return _text(value)


def _bytes(value: object) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return _text(value)
    amount = float(value)
    if amount < 1024:
        return f"{amount:.0f} B"
    unit = "KiB"
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024:
            break
    return f"{amount:.1f} {unit}"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: object) -> Sequence[Any]:
    return value if isinstance(value, (list, tuple)) else ()


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{html.escape(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _events(events: Sequence[Any], limit: int = 20) -> str:
    """Problems as a list, in the order given (newest first), at most `limit`."""
    if not events:
        return '<p class="muted">none</p>'
    # A list rather than a table: four columns do not fit a phone screen.
    items = "".join(
        f'<li><div class="muted">{_text(_mapping(e).get("time"))} \u00b7 {_text(_mapping(e).get("severity"))} '
        f'\u00b7 {_text(_mapping(e).get("event"))}</div><div>{_text(_mapping(e).get("message"))}</div></li>'
        for e in list(events)[:limit]
    )
    return f'<ul class="events">{items}</ul>'


def status_page(snapshot: Mapping[str, object]) -> str:
    """Render the runtime's status snapshot (the same data as the JSON form) as HTML.

    `recent_errors` and `client_errors.recent` come newest first, as `status.snapshot` gives them.
    """
    ts = snapshot.get("tailscale")
    socks = _mapping(snapshot.get("socks"))
    target = _mapping(snapshot.get("target"))
    websockets = _mapping(snapshot.get("websockets"))
    errors = _sequence(snapshot.get("recent_errors"))

    if isinstance(ts, Mapping):
        ts_html = _rows([
            ("state", f"{_flag(ts.get('ok'))} {_text(ts.get('state'))}"),
            ("detail", _text(ts.get("detail"))),
        ])
    else:
        ts_html = '<p class="muted">not supervised here (--no-tailscale)</p>'

    latency = target.get("latency_ms")
    latency_text = f"{latency:.0f} ms" if isinstance(latency, (int, float)) and not isinstance(latency, bool) else _text(latency)
    target_html = _rows([
        ("target", _text(target.get("target"))),
        ("via", _text(target.get("via"))),
        ("reachable", _flag(target.get("ok"))),
        ("latency", latency_text),
        ("error", _text(target.get("error"))),
    ])
    socks_html = _rows([
        ("url", _text(socks.get("url"))),
        ("answered by", _text(socks.get("answered_by"))),
    ])

    sessions = _sequence(websockets.get("sessions"))
    if sessions:
        session_rows = "".join(
            f"<tr><td>{_text(_mapping(s).get('path'))}</td><td>{_when(_mapping(s).get('opened_at'))}</td>"
            f"<td>{_bytes(_mapping(s).get('bytes_in'))}</td><td>{_bytes(_mapping(s).get('bytes_out'))}</td></tr>"
            for s in sessions
        )
        ws_table = (
            "<table><thead><tr><th>path</th><th>opened</th><th>in</th><th>out</th></tr></thead>"
            f"<tbody>{session_rows}</tbody></table>"
        )
    else:
        ws_table = ""
    ws_html = f"<p>{_text(websockets.get('open', len(sessions)))} open</p>{ws_table}"

    errors_html = _events(errors)
    client = _mapping(snapshot.get("client_errors"))
    client_count = client.get("count")
    if isinstance(client_count, int) and client_count > 0:
        errors_html += (f'<p class="muted">{client_count} rejected by client input (malformed requests, '
                        f"wrong tokens); the latest:</p>{_events(_sequence(client.get('recent')))}")

    overall_ok = target.get("ok") is True and (not isinstance(ts, Mapping) or ts.get("ok") is True)
    body = (
        f"<h1>devproxy {_text(snapshot.get('version'))} {_flag(overall_ok)}</h1>"
        f"<section><h2>Tailscale</h2>{ts_html}</section>"
        f"<section><h2>Target</h2>{target_html}</section>"
        f"<section><h2>SOCKS5</h2>{socks_html}</section>"
        f"<section><h2>WebSockets</h2>{ws_html}</section>"
        f"<section><h2>Recent problems</h2>{errors_html}</section>"
        f"<p class=\"muted\">access control: {_text(snapshot.get('auth'))} \u00b7 "
        '<a href="/_devproxy/status">reload</a> \u00b7 JSON: send <code>Accept: application/json</code></p>'
    )
    return _document("devproxy status", body)
