"""The analyst's impact report, computed from verdicts alone.

:class:`~policysim.report.builder.ReportBuilder` folds verdicts into the
numbers (report.json); :func:`~policysim.report.render.write_report` writes
them as JSON, Markdown and a self-contained HTML page with charts.
"""

from policysim.report.builder import ReportBuilder, ReportError, report_from_file
from policysim.report.render import write_report

__all__ = ["ReportBuilder", "ReportError", "report_from_file", "write_report"]
