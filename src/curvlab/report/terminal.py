"""The terminal table: one row per finding — claim, measured, predicted, verdict."""

from __future__ import annotations

import shutil
import textwrap

from ..experiments import ExperimentResult
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
    """A plain-text table of every finding, grouped by section, with a summary line."""
    width = width or min(shutil.get_terminal_size((120, 24)).columns, 160)
    findings: list[Finding] = [f for r in results for f in r.findings]
    ref_w, num_w, verdict_w = 22, 16, 9
    claim_w = max(20, width - ref_w - 2 * num_w - verdict_w - 8)
    header = (f"{'where':<{ref_w}}  {'claim':<{claim_w}}  {'measured':>{num_w}}  "
              f"{'predicted':>{num_w}}  {'verdict':<{verdict_w}}")
    lines = [header, "─" * len(header)]
    for f in findings:
        claim_lines = textwrap.wrap(f.claim, claim_w) or [""]
        measured = _clip(format_value(f.measured), num_w)
        predicted = _clip(format_value(f.predicted), num_w)
        lines.append(f"{_clip(f.ref, ref_w):<{ref_w}}  {claim_lines[0]:<{claim_w}}  "
                     f"{measured:>{num_w}}  {predicted:>{num_w}}  {_MARK[f.verdict.value]:<{verdict_w}}")
        for extra in claim_lines[1:]:
            lines.append(f"{'':<{ref_w}}  {extra}")
    counts = {v: sum(f.verdict.value == v for f in findings) for v in ("holds", "corrected", "fails")}
    lines.append("─" * len(header))
    lines.append(f"{len(findings)} findings: {counts['holds']} hold, {counts['corrected']} corrected, "
                 f"{counts['fails']} fail")
    return "\n".join(lines)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
