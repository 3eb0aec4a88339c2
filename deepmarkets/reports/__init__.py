"""Self-contained HTML reports of the jobs: one page per run, with its tables, plots and data.

:class:`Report` builds a page; the functions of :mod:`deepmarkets.reports.jobs` build the report
of each command (``deepmarkets check --report OUT.html`` and the others).
"""

from deepmarkets.reports.document import Report, Section, format_number
from deepmarkets.reports.jobs import (
    bria_report,
    coherence_report,
    economy_report,
    fit_report,
    induction_report,
    layered_report,
    replay_report,
    sweep_report,
)

__all__ = ["Report", "Section", "format_number", "coherence_report", "replay_report", "fit_report",
           "induction_report", "economy_report", "bria_report", "layered_report", "sweep_report"]
