"""Reproducing the paper's table: all seven models under the paper's protocol and
recipe, beside the same seven under honest protocols, over one or more seeds.

=============  ===========================================================
module         what it holds
=============  ===========================================================
``plan``       which runs a reproduction is (models x protocols x seeds) and
               the record fields that tie them together
``runner``     running a plan in this process (the CLI; the app queues the
               same plan on its job manager)
``results``    the tables: one row per model and protocol, the per-model
               comparison with the paper, per-class F1 beside Tables 1-7
``report``     the self-contained HTML report (plotly figures embedded)
=============  ===========================================================
"""

from .plan import PAPER_PROTOCOL, ReproductionPlan, honest_protocols, plan_reproduction, screen_splits, skipped_summary
from .report import report_html, write_report
from .results import comparison_table, list_reproductions, per_class_f1, protocol_table, reproduction_records
from .runner import queue_reproduction, reproduction_specs, run_reproduction

__all__ = [
    "PAPER_PROTOCOL", "ReproductionPlan", "comparison_table", "honest_protocols", "list_reproductions",
    "per_class_f1", "plan_reproduction", "protocol_table", "report_html", "reproduction_records",
    "queue_reproduction", "reproduction_specs", "run_reproduction", "screen_splits", "skipped_summary", "write_report",
]
