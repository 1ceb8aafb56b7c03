"""The terminal table: one row per finding — claim, measured, predicted, verdict."""

from __future__ import annotations

import shutil
import textwrap

from ..experiments import ExperimentResult, check_results
from ..experiments.findings import Finding

__all__ = ["format_table", "format_value"]

_MARK = {"holds": "holds", "fails": "FAILS", "corrected": "corrected"}


def format_value(value) -> str:
    """Numbers to 4 significant digits (scientific when tiny or huge); strings as they are."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0.0:
            return "0"
        if 1e-3 <= abs(value) < 1e5:
            return f"{value:.4g}"
        return f"{value:.3e}"
    return str(value)


def format_table(results: list[ExperimentResult], *, width: int | None = None) -> str:
    """A plain-text table of every finding, grouped by section, with a summary line.

    Nothing is cut: a claim, a reference or a measured / predicted value longer than its
    column wraps onto the following lines of its row.
    """
    results = check_results(results)
    if width is not None and (isinstance(width, bool) or not isinstance(width, int) or width < 40):
        raise ValueError(f"width must be None (the terminal's) or an integer >= 40 columns; got {width!r}.")
    width = width or min(shutil.get_terminal_size((120, 24)).columns, 160)
    findings: list[Finding] = [f for r in results for f in r.findings]
    ref_w, num_w, verdict_w = 20, 20, 9
    claim_w = max(20, width - ref_w - 2 * num_w - verdict_w - 8)
    header = (f"{'where':<{ref_w}}  {'claim':<{claim_w}}  {'measured':>{num_w}}  "
              f"{'predicted':>{num_w}}  {'verdict':<{verdict_w}}")
    lines = [header, "─" * len(header)]
    for f in findings:
        cols = [_wrap(f.ref, ref_w), _wrap(f.claim, claim_w), _wrap(format_value(f.measured), num_w),
                _wrap(format_value(f.predicted), num_w), [_MARK[f.verdict.value]]]
        for i in range(max(map(len, cols))):
            ref, claim, measured, predicted, verdict = (c[i] if i < len(c) else "" for c in cols)
            lines.append(f"{ref:<{ref_w}}  {claim:<{claim_w}}  {measured:>{num_w}}  {predicted:>{num_w}}  "
                         f"{verdict:<{verdict_w}}".rstrip())
    counts = {v: sum(f.verdict.value == v for f in findings) for v in ("holds", "corrected", "fails")}
    lines.append("─" * len(header))
    lines.append(f"{len(findings)} findings: {counts['holds']} hold, {counts['corrected']} corrected, "
                 f"{counts['fails']} fail")
    return "\n".join(lines)


def _wrap(text: str, n: int) -> list[str]:
    """``text`` in lines of at most ``n`` characters, breaking long words rather than cutting them."""
    return textwrap.wrap(text, n, break_long_words=True, break_on_hyphens=False) or [""]
