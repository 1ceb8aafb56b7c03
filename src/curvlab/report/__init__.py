"""Turn experiment results into a terminal table, ``report.json`` and ``index.html``."""

from .terminal import format_table, format_value
from .writer import ReportMeta, build_report, write_report

__all__ = ["ReportMeta", "build_report", "format_table", "format_value", "write_report"]
