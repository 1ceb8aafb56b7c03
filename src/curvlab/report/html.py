"""A self-contained HTML page for a report: inline CSS, figures embedded as PNG data URIs.

It opens offline in any browser: no scripts, no external fonts, no network — a
Content-Security-Policy meta tag lets the page load nothing but its own inline style and
``data:`` images. Layout:

* a header with the totals and a table of contents (every section's title and its verdicts);
* one ``<section>`` per section of the notes, each claim once, as a card: where, verdict, the
  claim; for a corrected claim first the sentence that says what the notes got wrong and what
  holds instead, then both equations; the measured and predicted values and the rule that
  decided; the remaining numbers in a collapsed table; the figures;
* a "back to top" link after every section.

It reads on a phone: tables scroll inside their own box, figures scale to the width, long
values wrap.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from .terminal import format_value

__all__ = ["render_html"]

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_CSS = """
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:0 auto;
padding:1em;color:#222;line-height:1.45;overflow-wrap:break-word}
h1{margin:.2em 0} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{font-size:1em;margin:0 0 .4em}
.meta{color:#555} code{overflow-wrap:anywhere}
.eq{font-family:'DejaVu Serif',Georgia,serif;background:#f6f6f9;padding:.5em .8em;
border-left:3px solid #88a;margin:.6em 0;white-space:pre-wrap;overflow-wrap:anywhere}
.notes{border-left-color:#c66;background:#fbf3f3}
.correction{background:#fff7e0;border-left:3px solid #d9a400;padding:.5em .8em;margin:.6em 0}
.scroll{overflow-x:auto;max-width:100%;margin:.6em 0}
table{border-collapse:collapse;font-size:.92em}
th,td{border:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f0f0f4} td.num{text-align:right;font-family:ui-monospace,Menlo,monospace;white-space:nowrap}
.v{font-weight:600;padding:.1em .5em;border-radius:.6em;white-space:nowrap}
.v-holds{background:#dff3df;color:#185c18} .v-fails{background:#f8d7d7;color:#8b1111}
.v-corrected{background:#fff0c8;color:#6b4d00}
.finding{margin:1.2em 0;padding:.6em 1em;border:1px solid #e4e4ea;border-radius:6px}
dl.nums{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2em .8em;margin:.6em 0}
dl.nums dt{color:#555} dl.nums dd{margin:0;font-family:ui-monospace,Menlo,monospace;overflow-wrap:anywhere}
figure{margin:.8em 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em} details{margin:.4em 0} summary{cursor:pointer;color:#446}
nav ol{padding-left:1.4em} nav li{margin:.2em 0}
.top{text-align:right;font-size:.9em}
"""


def render_html(report: dict[str, Any], figures_png: dict[str, bytes]) -> str:
    """Render ``report`` (from :func:`build_report`) with its figures embedded."""
    s = report["summary"]
    shown: set[str] = set()                      # a figure shared by two claims is embedded once
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>curvlab reproduce — {escape(report['size'])} run, seed {report['seed']}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<header id='top'><h1>curvlab reproduce</h1>",
        f"<p class='meta'>curvlab {escape(report['curvlab_version'])} · size "
        f"<b>{escape(report['size'])}</b> · seed <b>{report['seed']}</b> · "
        f"<code>{escape(report['command'])}</code></p>",
        f"<p>{s['holds']} claims hold, {s['corrected']} are corrected (the notes' form fails, the "
        f"corrected form holds), {s['fails']} fail.</p>",
        _contents(report["sections"]),
        "</header><main>",
    ]
    for sec in report["sections"]:
        parts.append(_section(sec, figures_png, shown))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _counts(findings: list[dict[str, Any]]) -> str:
    words = {"holds": "hold", "corrected": "corrected", "fails": "fail"}
    n = {v: sum(f["verdict"] == v for f in findings) for v in words}
    return ", ".join(f"{n[v]} {w}" for v, w in words.items() if n[v])


def _contents(sections: list[dict[str, Any]]) -> str:
    items = "".join(f"<li><a href='#sec{escape(sec['id'])}'>§{escape(sec['id'])} {escape(sec['title'])}</a> "
                    f"<span class='meta'>— {_counts(sec['findings'])}</span></li>" for sec in sections)
    return f"<nav aria-label='Sections'><b>Sections</b><ol>{items}</ol></nav>"


def _section(sec: dict[str, Any], figures_png: dict[str, bytes], shown: set[str]) -> str:
    out = [f"<section id='sec{escape(sec['id'])}'>",
           f"<h2>§{escape(sec['id'])} {escape(sec['title'])} "
           f"<small class='meta'>eqs. {escape(sec['equations'])}</small></h2>",
           f"<div class='eq'>{escape(sec['summary'])}</div>"]
    for i, f in enumerate(sec["findings"], 1):
        out.append(_finding(f, f"sec{sec['id']}-{i}", figures_png, shown))
    out.append("<p class='top'><a href='#top'>↑ back to top</a></p></section>")
    return "\n".join(out)


def _verdict(v: str) -> str:
    return f"<span class='v v-{escape(v)}'>{escape(v)}</span>"


def _correction_sentence(f: dict[str, Any]) -> str:
    """The finding's own sentence, or one built from the two equations."""
    if f.get("correction"):
        return f["correction"]
    if f["notes_form"] and f["equation"]:
        return (f"As the notes write it, {f['notes_form']}, it does not match the measurement; "
                f"the corrected form {f['equation']} does.")
    return "The notes' form does not match the measurement; the corrected form does."


def _finding(f: dict[str, Any], anchor: str, figures_png: dict[str, bytes], shown: set[str]) -> str:
    body = [f"<article class='finding' id='{escape(anchor)}'>",
            f"<h3>{escape(f['ref'])} {_verdict(f['verdict'])}</h3>",
            f"<p>{escape(f['claim'])}</p>"]
    if f["verdict"] == "corrected":
        body.append(f"<p class='correction'><b>What the notes get wrong:</b> "
                    f"{escape(_correction_sentence(f))}</p>")
    if f["notes_form"]:
        body.append(f"<div class='eq notes'>As written in the notes: {escape(f['notes_form'])}</div>")
        if f["equation"]:
            body.append(f"<div class='eq'>Corrected: {escape(f['equation'])}</div>")
    elif f["equation"]:
        body.append(f"<div class='eq'>{escape(f['equation'])}</div>")
    body.append("<dl class='nums'>"
                f"<dt>measured</dt><dd>{escape(format_value(f['measured']))}</dd>"
                f"<dt>predicted</dt><dd>{escape(format_value(f['predicted']))}</dd>"
                f"<dt>decided by</dt><dd>{escape(f['tolerance'])}</dd></dl>")
    if f["details"]:
        body.append("<details><summary>all numbers</summary>" + _details(f["details"]) + "</details>")
    for fig in f["figures"]:
        body.append(_figure(fig, figures_png, shown))
    body.append("</article>")
    return "\n".join(body)


def _figure(fig: dict[str, str], figures_png: dict[str, bytes], shown: set[str]) -> str:
    png = figures_png.get(fig["name"])
    if png is None:
        return ""
    anchor = f"fig-{fig['name']}"
    if fig["name"] in shown:
        return f"<p class='meta'>Figure: <a href='#{escape(anchor)}'>{escape(fig['caption'])}</a> (above).</p>"
    shown.add(fig["name"])
    data = base64.b64encode(png).decode("ascii")
    return (f"<figure id='{escape(anchor)}'><img alt='{escape(fig['caption'])}' "
            f"src='data:image/png;base64,{data}'><figcaption>{escape(fig['caption'])}</figcaption></figure>")


def _label(key: Any) -> str:
    return str(key).replace("_", " ")


def _details(details: dict[str, Any]) -> str:
    rows = []
    for key, value in details.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            cols = list(value[0])
            head = "".join(f"<th>{escape(_label(c))}</th>" for c in cols)
            body = "".join(
                "<tr>" + "".join(f"<td class='num'>{escape(format_value(row.get(c)))}</td>" for c in cols) + "</tr>"
                for row in value)
            inner = f"<div class='scroll'><table><tr>{head}</tr>{body}</table></div>"
            rows.append(f"<tr><th>{escape(_label(key))}</th><td>{inner}</td></tr>")
        else:
            text = ", ".join(format_value(v) for v in value) if isinstance(value, list) else format_value(value)
            rows.append(f"<tr><th>{escape(_label(key))}</th><td>{escape(text)}</td></tr>")
    return "<div class='scroll'><table>" + "".join(rows) + "</table></div>"
