"""A self-contained HTML page for a report: inline CSS, figures embedded as PNG data URIs.

It opens offline in any browser: no scripts, no external fonts, no network.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from .terminal import format_value

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
.meta{color:#666} .eq{font-family:'DejaVu Serif',Georgia,serif;background:#f6f6f9;padding:.5em .8em;
border-left:3px solid #88a;margin:.6em 0;white-space:pre-wrap}
.notes{border-left-color:#c66;background:#fbf3f3}
table{border-collapse:collapse;width:100%;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f4} td.num{text-align:right;font-family:ui-monospace,Menlo,monospace;max-width:16em;
overflow-wrap:anywhere} td.claim{min-width:22em;width:45%}
.v{font-weight:600;padding:.1em .5em;border-radius:.6em;white-space:nowrap}
.v-holds{background:#dff3df;color:#185c18} .v-fails{background:#f8d7d7;color:#8b1111}
.v-corrected{background:#fff0c8;color:#6b4d00}
.finding{margin:1.2em 0;padding:.6em 1em;border:1px solid #e4e4ea;border-radius:6px}
figure{margin:.8em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.9em} details{margin:.4em 0} summary{cursor:pointer;color:#446}
nav a{margin-right:1em}
"""


def render_html(report: dict[str, Any], figures_png: dict[str, bytes]) -> str:
    """Render ``report`` (from :func:`build_report`) with its figures embedded."""
    s = report["summary"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>curvlab reproduce — {escape(report['size'])} run, seed {report['seed']}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>curvlab reproduce</h1>",
        f"<p class='meta'>curvlab {escape(report['curvlab_version'])} · size "
        f"<b>{escape(report['size'])}</b> · seed <b>{report['seed']}</b> · "
        f"<code>{escape(report['command'])}</code></p>",
        f"<p>{s['holds']} claims hold, {s['corrected']} are corrected (the notes' form fails, the "
        f"corrected form holds), {s['fails']} fail.</p>",
        "<nav>" + "".join(f"<a href='#sec{sec['id']}'>§{sec['id']}</a>" for sec in report["sections"]) + "</nav>",
    ]
    for sec in report["sections"]:
        parts.append(_section(sec, figures_png))
    parts.append("</body></html>")
    return "\n".join(parts)


def _section(sec: dict[str, Any], figures_png: dict[str, bytes]) -> str:
    out = [f"<h2 id='sec{sec['id']}'>§{escape(sec['id'])} {escape(sec['title'])} "
           f"<small class='meta'>eqs. {escape(sec['equations'])}</small></h2>",
           f"<div class='eq'>{escape(sec['summary'])}</div>",
           "<table><tr><th>claim</th><th>measured</th><th>predicted</th><th>rule</th><th>verdict</th></tr>"]
    for f in sec["findings"]:
        out.append(
            f"<tr><td class='claim'>{escape(f['ref'])}: {escape(f['claim'])}</td>"
            f"<td class='num'>{escape(format_value(f['measured']))}</td>"
            f"<td class='num'>{escape(format_value(f['predicted']))}</td>"
            f"<td>{escape(f['tolerance'])}</td>{_verdict(f['verdict'])}</tr>")
    out.append("</table>")
    for f in sec["findings"]:
        out.append(_finding(f, figures_png))
    return "\n".join(out)


def _verdict(v: str) -> str:
    return f"<td><span class='v v-{escape(v)}'>{escape(v)}</span></td>"


def _finding(f: dict[str, Any], figures_png: dict[str, bytes]) -> str:
    body = [f"<div class='finding'><b>{escape(f['ref'])}</b> — {escape(f['claim'])} "
            f"<span class='v v-{escape(f['verdict'])}'>{escape(f['verdict'])}</span>"]
    if f["notes_form"]:
        body.append(f"<div class='eq notes'>As written in the notes: {escape(f['notes_form'])}</div>")
        if f["equation"]:
            body.append(f"<div class='eq'>Corrected: {escape(f['equation'])}</div>")
    elif f["equation"]:
        body.append(f"<div class='eq'>{escape(f['equation'])}</div>")
    body.append(f"<p>Measured <b>{escape(format_value(f['measured']))}</b>, predicted "
                f"<b>{escape(format_value(f['predicted']))}</b> ({escape(f['tolerance'])}).</p>")
    if f["details"]:
        body.append("<details><summary>details</summary>" + _details(f["details"]) + "</details>")
    for fig in f["figures"]:
        png = figures_png.get(fig["name"])
        if png is None:
            continue
        data = base64.b64encode(png).decode("ascii")
        body.append(f"<figure><img alt='{escape(fig['caption'])}' src='data:image/png;base64,{data}'>"
                    f"<figcaption>{escape(fig['caption'])}</figcaption></figure>")
    body.append("</div>")
    return "\n".join(body)


def _details(details: dict[str, Any]) -> str:
    rows = []
    for key, value in details.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            cols = list(value[0])
            head = "".join(f"<th>{escape(str(c))}</th>" for c in cols)
            body = "".join(
                "<tr>" + "".join(f"<td class='num'>{escape(format_value(row.get(c)))}</td>" for c in cols) + "</tr>"
                for row in value)
            rows.append(f"<tr><th>{escape(str(key))}</th><td><table><tr>{head}</tr>{body}</table></td></tr>")
        else:
            text = ", ".join(format_value(v) for v in value) if isinstance(value, list) else format_value(value)
            rows.append(f"<tr><th>{escape(str(key))}</th><td>{escape(text)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"
