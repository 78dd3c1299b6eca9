"""The dashboard's HTML pieces: escaping, status badges (colour and word), `<time>` elements
(relative text, absolute title), tables that scroll on a phone, and the page frame with its inline
style and refresh script (allowed by hash in the Content-Security-Policy, never 'unsafe-inline').
Every value that reaches a page goes through `esc` here; pages only assemble these pieces.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import html
import time
from collections.abc import Iterable, Sequence

from reconciler.model import timestamps

REFRESH_SECONDS = 5
NAV = (("/ui/", "Overview"), ("/ui/hosts", "Hosts"), ("/ui/workloads", "Workloads"),
       ("/ui/events", "Events"))  # fmt: skip


class Tone(enum.StrEnum):
    """A status's colour; the badge always carries the word too (never colour alone)."""

    OK = "ok"
    WARN = "warn"
    BAD = "bad"
    INFO = "info"
    NONE = "none"


GOOD_WORDS = frozenset({"True", "Ready", "Running", "Succeeded", "Synced", "Normal", "Applied",
                        "Complete", "Available", "Completed", "HostReady"})  # fmt: skip
BAD_WORDS = frozenset({"False", "NotReady", "Failed", "Invalid", "Refused", "Down", "Warning",
                       "CrashLoopBackOff", "Unschedulable", "Error", "Exited", "Stuck",
                       "Unreachable", "Lost", "ErrImagePull", "ImagePullBackOff",
                       "OOMKilled"})  # fmt: skip
WARN_WORDS = frozenset({"Unknown", "Partial", "Blocked", "Held", "Pending", "Progressing",
                        "Degraded", "Created", "Paused", "Stopped", "Terminating",
                        "ContainerCreating"})  # fmt: skip


def esc(value: object) -> str:
    """Any value as HTML text: `<`, `>`, `&` and both quotes escaped."""
    return html.escape(str(value), quote=True)


def tone_of(word: str) -> Tone:
    if word in GOOD_WORDS:
        return Tone.OK
    if word in BAD_WORDS:
        return Tone.BAD
    if word in WARN_WORDS:
        return Tone.WARN
    return Tone.NONE


def badge(word: str, tone: Tone | None = None) -> str:
    """A coloured status word; its tone from the word unless given."""
    chosen = tone if tone is not None else tone_of(word)
    return f'<span class="b {chosen}">{esc(word or "—")}</span>'


def ago(seconds: float) -> str:
    """A duration as kubectl shows ages: 45s, 5m, 3h, 2d."""
    whole = max(0, int(seconds))
    for unit, size, below in (("s", 1, 120), ("m", 60, 2 * 3600), ("h", 3600, 48 * 3600)):
        if whole < below:
            return f"{whole // size}{unit}"
    return f"{whole // 86400}d"


def parse_time(value: str | float | None) -> float | None:
    """Epoch seconds from an ISO 8601 text (RFC 3339, podman's) or a number; None if unknown."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    return timestamps.epoch(value)


def when(value: str | float | None, now: float, *, suffix: str = " ago") -> str:
    """`<time>`: relative text ("5m ago"), the absolute UTC time as datetime and title."""
    moment = parse_time(value)
    if moment is None:
        return '<span class="muted">—</span>'
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
    shown = f"{stamp[:10]} {stamp[11:19]} UTC"
    text = esc(ago(now - moment)) + suffix
    return f'<time datetime="{stamp}" title="{shown}">{text}</time>'


def seconds(value: float | None) -> str:
    if value is None:
        return '<span class="muted">—</span>'
    return esc(f"{value:.2f} s" if value < 60 else f"{value / 60:.1f} min")


def table(head: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str, label: str) -> str:
    """A table whose cells are already HTML (built with `esc`); `empty` when there is no row."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{esc(empty)}</p>'
    heading = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    return (f'<div class="scroll" role="region" aria-label="{esc(label)}" tabindex="0"><table>'
            f"<thead><tr>{heading}</tr></thead><tbody>{body}</tbody></table></div>")  # fmt: skip


def section(title: str, content: str, *, anchor: str = "") -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{content}</section>"


def short(sha: str | None) -> str:
    return esc((sha or "")[:12]) if sha else '<span class="muted">none</span>'


STYLE = """
:root{--bg:#f6f7f9;--fg:#1b1f24;--muted:#5f6b7a;--card:#fff;--line:#d9dee5;--ok:#1a7f37;
--okbg:#dafbe1;--bad:#b42318;--badbg:#fee4e2;--warn:#8a5a00;--warnbg:#fff4d6;--info:#0b5cad;
--infobg:#dbeafe}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:var(--bg);color:var(--fg)}
header{background:#1f2933;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;
align-items:center;gap:.25rem 1.25rem}
header .brand{font-weight:600}
header nav a{color:#cfd8e3;text-decoration:none;padding:.35rem .5rem;border-radius:4px;
display:inline-block}
header nav a[aria-current=page]{background:#3b4754;color:#fff}
header .live{margin-left:auto;font-size:12px;color:#cfd8e3}
.page{max-width:1400px;margin:0 auto;padding:1rem}
section{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;
margin-bottom:1rem}
h1{font-size:20px;margin:.25rem 0 1rem}h2{font-size:16px;margin:.1rem 0 .6rem}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;min-width:560px}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);
vertical-align:top;white-space:nowrap}
.wrap{display:inline-block;white-space:normal;min-width:16rem;max-width:48rem;
word-break:break-word}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:0 1rem}
th{font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
.b{display:inline-block;padding:0 .45rem;border-radius:10px;font-size:12px;font-weight:600;
border:1px solid currentColor}
.b.ok{color:var(--ok);background:var(--okbg)}.b.bad{color:var(--bad);background:var(--badbg)}
.b.warn{color:var(--warn);background:var(--warnbg)}.b.info{color:var(--info);background:var(--infobg)}
.b.none{color:var(--muted);background:#eef1f4}
.muted{color:var(--muted)}.empty{color:var(--muted);font-style:italic}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(180px,1fr));gap:.75rem;
margin-bottom:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem}
.card .n{font-size:22px;font-weight:600}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0;word-break:break-word}
ul.errors{margin:.4rem 0 0;padding-left:1.2rem}ul.errors li{font-family:ui-monospace,monospace;
font-size:13px;color:var(--bad);word-break:break-word}
code{font-family:ui-monospace,monospace;font-size:13px}
meter,progress{width:80px;vertical-align:middle}
form.filter{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin-bottom:1rem}
form.filter input{padding:.35rem .5rem;border:1px solid var(--line);border-radius:4px;
min-width:16rem;font:inherit}
form.filter button{padding:.35rem .8rem;font:inherit}
@media (max-width:600px){.page{padding:.5rem}header{padding:.5rem}
header .live{margin-left:0}section{padding:.5rem}h1{font-size:18px}}
""".strip()

SCRIPT = (
    """
(function(){var main=document.getElementById("content"),live=document.getElementById("live");
function tick(){if(document.hidden){setTimeout(tick,%d);return}
fetch(location.pathname+location.search,{headers:{"X-Fragment":"1"},credentials:"same-origin",
cache:"no-store"}).then(function(r){if(!r.ok){throw new Error("HTTP "+r.status)}return r.text()})
.then(function(t){main.innerHTML=t;live.textContent="live \\u00b7 updated "+
new Date().toLocaleTimeString()}).catch(function(e){live.textContent="not updating: "+e.message})
.then(function(){setTimeout(tick,%d)})}
live.textContent="live";setTimeout(tick,%d)})();
""".strip()
    % ((REFRESH_SECONDS * 1000,) * 3)
)


ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#1f2933"/>'
    '<path d="M4 8.5l2.5 2.5L12 5" stroke="#4ade80" stroke-width="2" fill="none"/></svg>'
)


def _digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


CSP = (f"default-src 'none'; style-src '{_digest(STYLE)}'; script-src '{_digest(SCRIPT)}'; "
       "connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")  # fmt: skip
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def page(title: str, current: str, content: str, *, tools: str = "") -> str:
    """A whole page; `content` (already HTML) is what the refresh replaces."""
    links = "".join(
        f'<a href="{href}"{" aria-current=page" if href == current else ""}>{esc(name)}</a>'
        for href, name in NAV
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)} · reconciler</title>"
        '<link rel="icon" href="/ui/favicon.svg" type="image/svg+xml">'
        f'<noscript><meta http-equiv="refresh" content="{REFRESH_SECONDS * 2}"></noscript>'
        f"<style>{STYLE}</style></head><body>"
        f'<header><span class="brand">reconciler</span><nav aria-label="pages">{links}</nav>'
        '<span class="live" id="live" aria-live="polite"></span></header>'
        f'<div class="page"><h1>{esc(title)}</h1>{tools}<main id="content">{content}</main></div>'
        f"<script>{SCRIPT}</script></body></html>"
    )
