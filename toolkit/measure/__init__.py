"""Measure: what a send did — summaries, figures, and delivery events joined by message id.

:mod:`.report` (counts, throughput, latency, failures), :mod:`.figures` (matplotlib figures
that show themselves in a notebook: throughput, status per transport, retries, latency,
failures),
:mod:`.events` (bounces, complaints, deliveries from the sandbox or SES via SNS/SQS);
``python -m toolkit report`` is :mod:`toolkit.cli.report`.

Usage::

    from toolkit.measure import summarize, plot_throughput
    summarize(results, configured_rate=14)
    plot_throughput(results)        # the picture, with the quota line when the results know it
"""

from toolkit.measure.events import events_from_sandbox, events_from_sqs, join_events
from toolkit.measure.figures import (
    ReportFigure,
    plot_failures,
    plot_latency,
    plot_retries,
    plot_status,
    plot_throughput,
    save_figures,
)
from toolkit.measure.report import (
    Summary,
    busiest_window,
    failure_table,
    latencies_ms,
    load_results,
    status_table,
    steady_rate,
    summarize,
    timeline,
)

__all__ = [
    "ReportFigure",
    "Summary",
    "busiest_window",
    "events_from_sandbox",
    "events_from_sqs",
    "failure_table",
    "join_events",
    "latencies_ms",
    "load_results",
    "plot_failures",
    "plot_latency",
    "plot_retries",
    "plot_status",
    "plot_throughput",
    "save_figures",
    "status_table",
    "steady_rate",
    "summarize",
    "timeline",
]
