"""The HTML report in a real browser (headless Chromium): a phone's 420 px and a desktop's
1400 px show no horizontal page overflow, every image decodes, every in-page link lands on
its target, and the page fetches nothing.

Skips, saying why, when Chromium is not installed or cannot start (``.ci/run`` installs
Debian's ``chromium`` when it is missing).

How it measures: a copy of the page gets one inline script (allowed by a nonce added to the
page's own Content-Security-Policy; nothing else of the policy changes) that runs on
``load``: it measures the page width against the viewport, checks that every image decoded,
clicks every in-page link and records where its target lands, and lists every resource the
page fetched. Headless Chromium will not make a window narrower than 500 px, so the page is
loaded in an ``<iframe>`` of exactly the viewport size: inside it, layout and media queries
see that width. The probe posts its JSON to the outer page, which writes it into its DOM for
``chromium --dump-dom`` to print (no selenium, no driver).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from curvlab.experiments import Experiment, ExperimentResult, registered, run_experiment
from curvlab.experiments.findings import Figure, Finding, Verdict, new_figure
from curvlab.report import ReportMeta, write_report

NONCE = "curvlab-browser-test"

_PROBE = """
<script nonce="%s">
window.addEventListener('load', () => {
  const de = document.documentElement, r = {};
  r.innerWidth = window.innerWidth;
  r.scrollWidth = Math.max(de.scrollWidth, document.body.scrollWidth);
  r.images = [...document.images].map(i => ({decoded: i.complete && i.naturalWidth > 0,
      width: i.getBoundingClientRect().width, alt: i.alt.slice(0, 60)}));
  r.sticking_out = [...document.querySelectorAll('body *')]
      .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.scroll'))
      .slice(0, 10).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 60));
  const maxY = de.scrollHeight - window.innerHeight;
  r.links = [...document.querySelectorAll("a[href^='#']")].map(a => {
    const id = decodeURIComponent(a.getAttribute('href').slice(1));
    const target = document.getElementById(id);
    history.replaceState(null, '', location.pathname);
    window.scrollTo(0, id === 'top' ? maxY : 0);
    a.click();
    return {href: a.getAttribute('href'), found: !!target,
            top: target ? target.getBoundingClientRect().top : null, scrollY: window.scrollY, maxY: maxY};
  });
  r.resources = performance.getEntriesByType('resource').map(e => e.name);
  parent.postMessage(JSON.stringify(r), '*');
});
</script>
""" % NONCE

_FRAME = """<!DOCTYPE html><html><head><meta charset='utf-8'></head><body style='margin:0'>
<iframe src='index.html' style='border:0;width:%dpx;height:%dpx'></iframe>
<script>
window.addEventListener('message', e => {
  const pre = document.createElement('pre');
  pre.id = 'curvlab-measure';
  pre.textContent = e.data;
  document.body.appendChild(pre);
});
</script></body></html>
"""


def chromium() -> str | None:
    """The Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def measure(html: str, width: int, *, height: int = 900, timeout: float = 90.0) -> dict:
    """Load ``html`` at a ``width`` × ``height`` viewport and return the probe's measurements."""
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed")
    csp = re.search(r"Content-Security-Policy' content=\"([^\"]*)\"", html)
    if csp is None:
        raise AssertionError("the page has no Content-Security-Policy meta tag")
    probed = html.replace(csp.group(1), csp.group(1) + f"; script-src 'nonce-{NONCE}'", 1)
    probed = probed.replace("</body>", _PROBE + "</body>", 1)
    with tempfile.TemporaryDirectory(prefix="curvlab-chromium-") as tmp:
        (Path(tmp) / "index.html").write_text(probed, encoding="utf-8")
        frame = Path(tmp) / "frame.html"
        frame.write_text(_FRAME % (width, height), encoding="utf-8")
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--hide-scrollbars", f"--user-data-dir={tmp}/profile",
               f"--window-size={max(width, 500) + 40},{height + 40}", "--virtual-time-budget=10000",
               "--dump-dom", frame.as_uri()]
        env = dict(os.environ, HOME=tmp)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    found = re.search(r"<pre id=\"curvlab-measure\">(.*?)</pre>", done.stdout, re.S)
    if found is None:
        raise RuntimeError(f"chromium printed no measurement (status {done.returncode}): {done.stderr[-800:]}")
    return json.loads(unescape(found.group(1)))


def _chromium_or_skip():
    binary = chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run does this)")
    try:
        done = subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                               "data:text/html,<p>ok</p>"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"Chromium cannot run here: {exc}")
    if "<p>ok</p>" not in done.stdout:
        pytest.skip(f"Chromium cannot run here (status {done.returncode}): {done.stderr.strip()[-300:]}")


def _extreme_results():
    """Findings with the widest content the report meets: long unbreakable values, a wide
    details table, a corrected claim, and one figure shared by two claims."""
    fig, ax = new_figure(size=(11, 4))
    ax.plot([0, 1, 2], [0, 1, 4], label="line")
    ax.set(xlabel="x", ylabel="y")
    ax.legend()
    shared = Figure.from_matplotlib(fig, "wide-figure", "a wide figure")
    wide_rows = [{f"column_number_{j}": 123456.789 * j for j in range(14)} for _ in range(3)]
    long = "η=0.8·2/λ₀:median_λ_max·η/2=0.985,12_loss_increases,loss_0.0911→0.000123;" * 3
    f1 = Finding("5", "§5.2, eq. (36) on a network with a long reference", "a claim " * 40, long, long,
                 "tolerance " * 20, Verdict.HOLDS, equation="λ_max(θ⁽ᵗ⁾) → 2/η " * 8,
                 details={"rows": wide_rows, "a_long_key_name": list(range(60))}, figures=(shared,))
    f2 = Finding("5", "§5.2, eq. (35)", "closed form", 1e-14, 0.0, "≤ 1e-10", Verdict.CORRECTED,
                 equation="ω⁽ᵗ⁾ = Q(I − εΛ)ᵗQᵀω⁽⁰⁾", notes_form="ω⁽ᵗ⁺¹⁾ = Q(I − εΛ)Qᵀω⁽⁰⁾",
                 correction="The notes' closed form lacks the power t.", figures=(shared,))
    return [ExperimentResult(Experiment("5", "extreme", None), (f1, f2), 0.1)]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    _chromium_or_skip()
    results = [run_experiment(e, "quick", 0) for e in registered(["4"])] + _extreme_results()
    out = tmp_path_factory.mktemp("report")
    command = "curvlab reproduce --only 4 --out " + "/a/very/long/path/without/any/break" * 4
    index = write_report(results, out, ReportMeta("0.1.0", "quick", 0, command))
    return index.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [420, 1400])
def test_report_in_chromium(page, width):
    m = measure(page, width)
    assert m["innerWidth"] == width
    assert m["scrollWidth"] <= width, f"page overflows at {width} px: {m['scrollWidth']} px; {m['sticking_out']}"
    assert m["sticking_out"] == []
    images = m["images"]
    assert len(images) == len(re.findall(r"<img ", page)) >= 5
    assert all(img["decoded"] for img in images), [img["alt"] for img in images if not img["decoded"]]
    assert all(0 < img["width"] <= width for img in images)                 # figures scale to the width
    links = m["links"]
    sections = set(re.findall(r"<section id='([^']+)'", page))
    assert {link["href"][1:] for link in links} >= sections | {"top"}      # a link to every section and to the top
    for link in links:
        assert link["found"], link
        landed = abs(link["top"]) <= 2 or link["scrollY"] >= link["maxY"] - 1   # at the top, or as far as it scrolls
        assert landed, link
    assert m["resources"] == []                                            # nothing fetched


class _Urls(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action", "formaction", "background"):
                self.urls.append((tag, name, value))


def test_every_reference_stays_in_the_page(page):
    """Static half of 'no request leaves the page': only data: images and in-page anchors, no
    url() or @import in the CSS, and a Content-Security-Policy that forbids anything else."""
    parser = _Urls()
    parser.feed(page)
    assert parser.urls
    for tag, name, value in parser.urls:
        embedded = tag == "img" and name == "src" and value.startswith("data:image/png;base64,")
        assert value.startswith("#") or embedded, (tag, name, value[:80])
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    assert "url(" not in style and "@import" not in style
    assert "<script" not in page
    assert "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\"" in page
