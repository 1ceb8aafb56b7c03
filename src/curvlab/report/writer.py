"""Write ``report.json``, ``index.html`` and ``figures/*.png`` into a report directory.

Every file is written to a temporary name and moved into place with ``os.replace``, so an
interrupted run never leaves a half-written report file behind; files get the permissions of
the user's umask. (``curvlab reproduce`` goes further: it writes the whole report into a
staging directory and swaps it in, see :mod:`curvlab._outdir`.)
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._outdir import current_umask
from ..experiments import ExperimentResult, check_results
from ..experiments.findings import Verdict
from ..experiments.sections import SECTIONS
from .html import render_html

__all__ = ["ReportMeta", "build_report", "write_report"]


@dataclass(frozen=True)
class ReportMeta:
    version: str
    size: str
    seed: int
    command: str

    def __post_init__(self):
        from ..experiments import SIZES

        if self.size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}; got {self.size!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an integer; got {self.seed!r}.")
        for name in ("version", "command"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string; got {type(getattr(self, name)).__name__}.")


def build_report(results: list[ExperimentResult], meta: ReportMeta) -> dict[str, Any]:
    """The report as a JSON-ready dict: findings by section, a summary, and timings.

    Everything but ``timings`` depends only on the seed and size, so two runs with the same
    seed give equal ``sections``.
    """
    results = check_results(results)
    if not isinstance(meta, ReportMeta):
        raise TypeError(f"meta must be a ReportMeta(version, size, seed, command); got {type(meta).__name__}.")
    by_section: dict[str, list[dict]] = {}
    for r in results:
        by_section.setdefault(r.experiment.section, []).extend(f.to_dict() for f in r.findings)
    sections = []
    for sid in sorted(by_section, key=int):
        sec = SECTIONS[sid]
        sections.append({"id": sid, "title": sec.title, "equations": sec.equations,
                         "summary": sec.summary, "findings": by_section[sid]})
    verdicts = [f["verdict"] for s in sections for f in s["findings"]]
    summary = {v.value: verdicts.count(v.value) for v in Verdict}
    return {
        "curvlab_version": meta.version,
        "command": meta.command,
        "size": meta.size,
        "seed": meta.seed,
        "ok": summary["fails"] == 0,
        "summary": summary,
        "sections": sections,
        "timings": {r.experiment.key: round(r.elapsed_s, 3) for r in results},
        "errors": {r.experiment.key: r.error for r in results if r.error},
    }


def write_report(results: list[ExperimentResult], out_dir: str | os.PathLike, meta: ReportMeta) -> Path:
    """Write the report files into ``out_dir`` (created if needed); return ``index.html``'s path."""
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a directory path (str or os.PathLike); got {type(out_dir).__name__}.")
    results = check_results(results)
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    report = build_report(results, meta)
    figures = {f.name: f for r in results for finding in r.findings for f in finding.figures}
    for name, fig in figures.items():
        _atomic_write(out / "figures" / f"{name}.png", fig.png)
    _atomic_write(out / "report.json", json.dumps(report, indent=2, ensure_ascii=False).encode())
    html = render_html(report, {name: fig.png for name, fig in figures.items()})
    index = out / "index.html"
    _atomic_write(index, html.encode("utf-8"))
    return index


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())           # mkstemp makes 0600; honour the umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
