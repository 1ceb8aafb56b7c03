"""report.json and index.html: well formed, complete, figures embedded, atomic writes."""

import base64
import json
from html.parser import HTMLParser

from curvlab.experiments import Experiment, ExperimentResult
from curvlab.experiments.findings import Figure, Finding, Verdict, new_figure
from curvlab.report import ReportMeta, build_report, format_table, write_report


def _results():
    fig, ax = new_figure()
    ax.plot([1, 2, 3])
    figure = Figure.from_matplotlib(fig, "sec2-test", "a test <plot> & caption")
    f1 = Finding("2", "§2.2, eq. (13)", "claim <one> & more", 1.0, 1.0, "CI", Verdict.HOLDS,
                 equation="E = (N − d)/N σ²", details={"rows": [{"N": 3, "d": 1}], "x": 2.5}, figures=(figure,))
    f2 = Finding("5", "§5.2, eq. (35)", "closed form", 1e-14, 0.0, "≤ 1e-10", Verdict.CORRECTED,
                 equation="ω⁽ᵗ⁾ = Q(I − εΛ)ᵗQᵀω⁽⁰⁾", notes_form="ω⁽ᵗ⁺¹⁾ = Q(I − εΛ)Qᵀω⁽⁰⁾")
    f3 = Finding("5", "§5.4", "fails on purpose", 1.0, 0.0, "= 0", Verdict.FAILS)
    return [ExperimentResult(Experiment("2", "a", None), (f1,), 0.1),
            ExperimentResult(Experiment("5", "b", None), (f2, f3), 0.2)]


class _Collector(HTMLParser):
    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.imgs, self.text, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append((tag, list(self.stack)))
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_write_report_files_are_well_formed(tmp_path):
    meta = ReportMeta("0.1.0", "quick", 7, "curvlab reproduce --seed 7")
    index = write_report(_results(), tmp_path / "out", meta)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"] == {"holds": 1, "fails": 1, "corrected": 1} and report["ok"] is False
    assert [s["id"] for s in report["sections"]] == ["2", "5"]
    assert report["sections"][1]["findings"][0]["notes_form"].startswith("ω⁽ᵗ⁺¹⁾")
    assert (tmp_path / "out" / "figures" / "sec2-test.png").read_bytes()[:4] == b"\x89PNG"

    parser = _Collector()
    parser.feed(index.read_text(encoding="utf-8"))
    parser.close()
    assert parser.errors == [] and parser.stack == []          # every tag closed, properly nested
    (img,) = parser.imgs
    assert base64.b64decode(img["src"].split(",", 1)[1])[:4] == b"\x89PNG"   # embedded, offline
    text = "".join(parser.text)
    assert "claim <one> & more" in text                        # escaped, and shown as written
    assert "As written in the notes" in text and "Corrected" in text
    assert not list((tmp_path / "out").glob(".*.tmp"))          # no temporary files left behind


def test_html_has_no_external_resources(tmp_path):
    index = write_report(_results(), tmp_path, ReportMeta("0.1.0", "quick", 0, "c"))
    html = index.read_text()
    assert "<script" not in html and "src='http" not in html and 'href="http' not in html


def test_build_report_timings_are_separate_from_numbers():
    meta = ReportMeta("0.1.0", "quick", 0, "c")
    a, b = build_report(_results(), meta), build_report(_results(), meta)
    assert a["sections"] == b["sections"] and "timings" in a


def test_terminal_table_lists_every_finding():
    table = format_table(_results(), width=120)
    assert table.count("§") >= 3
    assert "FAILS" in table and "corrected" in table
    assert table.strip().endswith("3 findings: 1 hold, 1 corrected, 1 fail")


def test_terminal_table_cuts_no_value():
    """Long measured / predicted values and references wrap inside their columns; every
    character of them is in the table (the old table clipped them with '…')."""
    long = "η=0.8·2/λ₀: median λ_max·η/2 = 0.985, 12 loss increases, loss 0.0911→0.000123"
    f = Finding("5", "§5.2, eq. (36) on a network", "claim", long, "λ_max·η/2 ≈ 1 over the last 40% " * 3,
                "rule", Verdict.HOLDS)
    table = format_table([ExperimentResult(Experiment("5", "x", None), (f,), 0.1)], width=100)
    assert "…" not in table
    lines = table.splitlines()
    header, rows = lines[0], lines[2:-2]
    m_end = header.index("measured") + len("measured")                # right-aligned columns of 20
    p_end = header.index("predicted") + len("predicted")
    column = {"measured": "".join("".join(r[m_end - 20:m_end].split()) for r in rows),
              "predicted": "".join("".join(r[p_end - 20:p_end].split()) for r in rows),
              "where": "".join("".join(r[:20].split()) for r in rows)}
    assert column["measured"] == "".join(long.split())
    assert column["predicted"] == "".join(f.predicted.split())
    assert column["where"] == "".join(f.ref.split())
    assert max(len(line) for line in lines) <= 100


def test_each_claim_once_and_corrections_in_a_visible_sentence(tmp_path):
    """On real §4 findings (the notes' (28)–(30) are wrong): every claim appears once, and every
    corrected claim states what was wrong in a visible paragraph, not only in collapsed details."""
    import re
    from html import unescape

    from curvlab.experiments import registered, run_experiment

    results = [run_experiment(e, "quick", 0) for e in registered(["4"])
               if e.name in ("expected-gradient", "expected-loss")]
    index = write_report(results, tmp_path, ReportMeta("0.1.0", "quick", 0, "c"))
    html = index.read_text(encoding="utf-8")
    visible = unescape(re.sub(r"<details>.*?</details>", "", html, flags=re.S))
    findings = [f for r in results for f in r.findings]
    corrected = [f for f in findings if f.verdict is Verdict.CORRECTED]
    assert len(corrected) >= 3                                   # (28)–(29) twice, (30) at least once
    for f in findings:
        assert unescape(html).count(f.claim) == 1
    for f in corrected:
        assert f.correction.endswith(".") and f.correction in visible
        assert f"What the notes get wrong: {f.correction}" in re.sub(r"<[^>]+>", "", visible)


def test_prune_report_formatters_against_the_summary():
    """report.md's per-layer table (prune/report.py) reproduces every number of the summary dict."""
    import pytest

    from curvlab.prune.report import format_layer_table, format_prune_markdown

    layers = [{"name": "encoder.layer.0.attention.self.query_with_a_long_name", "shape": [384, 384],
               "sparsity": 0.35, "predicted_error": 0.004398, "calibration_error": 0.003052,
               "heldout_error": None, "time_s": 0.1}]
    text = format_layer_table(layers)
    assert layers[0]["name"] in text and "384×384" in text and "0.004398" in text
    assert "held-out" not in text                                   # a column no layer has is left out
    md = format_prune_markdown({"method": "obs", "pattern": "2:4", "sparsity": 0.5, "layers": layers,
                                "mean_heldout_error": float("nan")})
    row = next(line for line in md.splitlines() if line.startswith(f"| {layers[0]['name']} |"))
    assert [c.strip() for c in row.strip("|").split("|")] == [layers[0]["name"], "384×384", "0.350", "0.004398",
                                                               "0.003052", "0.10"]
    assert "| mean held-out error | — |" in md                     # NaN shows as a dash
    with pytest.raises(TypeError, match="summary must be a dict"):
        format_prune_markdown([1, 2])
    with pytest.raises(TypeError, match="list of dicts"):
        format_layer_table("abc")
