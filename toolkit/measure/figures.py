"""Figures of a send run: throughput against the rate, status per transport, retries, latency,
and the rows that were not sent.

Each function returns a :class:`ReportFigure`: a matplotlib Figure made without pyplot (no
global figure registry, any backend), which shows itself as a PNG when it is a notebook cell's
last expression or is passed to ``display()``, and saves with ``savefig`` like any figure.

The rate lines come from the results when they know them (``results.attrs["summary"]``, kept
by :func:`toolkit.results.write_results` beside a CSV and inside a Parquet file), or from the
``configured_rate`` argument.

Usage::

    from toolkit.measure.figures import plot_throughput
    plot_throughput(results)                       # in a notebook: the picture
    plot_throughput(results).savefig("throughput.png")
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from toolkit.measure.report import (
    STATUS_ORDER,
    failure_table,
    latencies_ms,
    normalized,
    timeline,
)

__all__ = [
    "STATUS_COLORS",
    "ReportFigure",
    "plot_failures",
    "plot_latency",
    "plot_retries",
    "plot_status",
    "plot_throughput",
    "save_figures",
]

#: One colour per status, the same in every figure.
STATUS_COLORS: dict[str, str] = {
    "sent": "tab:blue",
    "rejected": "tab:red",
    "failed": "tab:orange",
    "unknown": "tab:purple",
    "invalid": "tab:brown",
    "skipped": "tab:gray",
}
_DPI = 100


def _integer_ticks() -> MaxNLocator:
    """Ticks on whole numbers only (rows come in whole numbers)."""
    return MaxNLocator(integer=True, steps=[1, 2, 5, 10])


class ReportFigure(Figure):
    """A matplotlib Figure that Jupyter shows as a PNG (``_repr_png_``).

    A Figure built without pyplot has no canvas manager, so IPython would show only its text
    ``<Figure size … with 1 Axes>``; this class renders itself instead.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
        return buffer.getvalue()


def known_rates(results: pd.DataFrame) -> tuple[float | None, float | None]:
    """(the provider's MaxSendRate, the pace the send asked for) when the results know them."""
    summary = results.attrs.get("summary") if hasattr(results, "attrs") else None
    if not isinstance(summary, Mapping):
        return None, None

    def positive(key: str) -> float | None:
        value = summary.get(key)
        return float(value) if isinstance(value, int | float) and value > 0 else None

    return positive("max_send_rate"), positive("rate")


def plot_throughput(
    results: pd.DataFrame,
    configured_rate: float | None = None,
    *,
    rate_label: str | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 3.5),
) -> ReportFigure:
    """Rows finishing per second: sent, not sent, and those that needed retries, with the
    rate as a dashed line.

    The rate is ``configured_rate`` (named by ``rate_label``) or, when not given, what the
    results know: the provider's quota (MaxSendRate) and the pace the send asked for. The
    last second is shaded: it holds only the rows that were left, so its lower count is the
    end of the run, not a drop in speed.
    """
    frame, fig, ax = _timed_figure(results, figsize)
    starts, _, timed = _times(frame)
    if timed.any():
        series = timeline(frame, t0=float(starts[timed].min()))
        edges = np.arange(len(series) + 1)
        not_sent = series[["rejected", "failed", "unknown"]].sum(axis=1)
        lines = [("sent", series["sent"], STATUS_COLORS["sent"], 1.6)]
        if not_sent.any():
            lines.append(("not sent", not_sent, STATUS_COLORS["rejected"], 1.2))
        if series["retried"].any():
            lines.append(("needed retries", series["retried"], STATUS_COLORS["failed"], 1.0))
        for label, counts, color, width in lines:
            ax.stairs(counts.to_numpy(), edges, label=label, color=color, lw=width)
        if len(series) > 1:  # the last second holds only the rows that were left
            ax.axvspan(edges[-2], edges[-1], color="0.92", zorder=0, label="last second (partial)")
        ax.set_xlim(0, edges[-1])
    for value, label, style in _rate_lines(results, configured_rate, rate_label):
        ax.axhline(value, color="black", ls=style, lw=1, label=label, zorder=3)
    ax.set_xlabel("seconds since the first request")
    ax.set_ylabel("rows per second")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(_integer_ticks())
    ax.set_title(title or f"Throughput · {_who(frame)}")
    _legend_outside(ax)
    return fig


def plot_status(
    results: pd.DataFrame, *, by: str = "transport", figsize: tuple[float, float] = (8.0, 3.0)
) -> ReportFigure:
    """One horizontal bar per ``by`` value (default: transport), split by final status."""
    frame = normalized(results)
    fig, ax = _figure(figsize)
    if frame.empty:
        _empty(ax, "no rows")
        return fig
    keys = frame[by].fillna("").astype(str).replace("", "(none)")
    table = pd.crosstab(keys, frame["status"].fillna("(not final)"))
    order = [s for s in STATUS_ORDER if s in table.columns]
    table = table[order + [c for c in table.columns if c not in order]].iloc[::-1]
    left = np.zeros(len(table))
    for status in table.columns:
        counts = table[status].to_numpy()
        ax.barh(table.index, counts, left=left, label=status,
                color=STATUS_COLORS.get(status, "lightgray"))  # fmt: skip
        left += counts
    ax.set_xlabel("rows")
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_title(f"Final status of each row, per {by}")
    _legend_outside(ax)
    return fig


def plot_retries(
    results: pd.DataFrame, *, figsize: tuple[float, float] = (8.0, 3.0)
) -> ReportFigure:
    """Rows finishing per second, split by the attempts they needed (1, 2, 3 or more).

    A results row keeps only its last request, so this shows when retried rows finished,
    not each individual retry.
    """
    frame, fig, ax = _timed_figure(results, figsize)
    starts, ends, timed = _times(frame)
    if not timed.any():
        return fig
    t0 = float(starts[timed].min())
    second = np.floor(ends[timed] - t0).astype(int).clip(min=0)
    attempts = frame["attempts"].to_numpy(dtype=float)[timed]
    groups = {"1 attempt": attempts <= 1, "2 attempts": attempts == 2, "3 or more": attempts >= 3}
    colors = {"1 attempt": "tab:blue", "2 attempts": "tab:orange", "3 or more": "tab:red"}
    bottom = np.zeros(int(second.max()) + 1)
    for label, mask in groups.items():
        counts = np.bincount(second[mask], minlength=bottom.size)
        if counts.any():
            ax.bar(np.arange(bottom.size), counts, width=1.0, align="edge", bottom=bottom,
                   label=label, color=colors[label])  # fmt: skip
            bottom += counts
    ax.set_xlim(0, bottom.size)
    ax.set_xlabel("seconds since the first request (by finish time)")
    ax.set_ylabel("rows finished")
    ax.yaxis.set_major_locator(_integer_ticks())
    retried = int((attempts > 1).sum())
    ax.set_title(f"Retries over time · {retried:,} of {timed.sum():,} rows needed more than one")
    _legend_outside(ax)
    return fig


def plot_latency(
    results: pd.DataFrame, *, figsize: tuple[float, float] = (8.0, 3.5)
) -> ReportFigure:
    """Request latency: histogram (log-spaced bins) and the share of rows below each value,
    one line per transport."""
    frame = normalized(results)
    frame = frame.assign(latency_ms=latencies_ms(frame)).dropna(subset=["latency_ms"])
    fig, (hist, cdf) = _figure(figsize, ncols=2)
    if frame.empty:
        _empty(hist, "no timed rows")
        cdf.set_axis_off()
    else:
        values = frame["latency_ms"].clip(lower=1e-3)
        low, high = float(values.min()), float(values.max())
        if high / low < 10:  # a narrow spread would leave a single bar and cramped ticks
            middle = math.sqrt(low * high)
            low, high = middle / 4, middle * 4
        bins = np.logspace(math.log10(low), math.log10(high), 40)
        for name, group in frame.groupby("transport", sort=True):
            data = group["latency_ms"].clip(lower=1e-3).to_numpy()
            hist.hist(data, bins=bins, histtype="step", label=str(name))
            ordered = np.sort(data)
            cdf.plot(ordered, np.arange(1, ordered.size + 1) / ordered.size, label=str(name))
        for ax in (hist, cdf):
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.set_xlabel("latency of the last request (ms)")
        hist.set_ylabel("rows")
        hist.yaxis.set_major_locator(_integer_ticks())
        cdf.set_ylabel("share of rows at or below")
        cdf.set_ylim(0, 1.01)
        cdf.legend(loc="lower right", fontsize="small")
    hist.set_title("Latency")
    cdf.set_title("Latency, cumulative")
    return fig


def plot_failures(
    results: pd.DataFrame, *, top: int = 12, figsize: tuple[float, float] = (8.0, 3.5)
) -> ReportFigure:
    """Horizontal bars: rows not sent, per status and error code, most frequent first.

    ``invalid`` rows were refused by the toolkit's own checks before sending; their codes are
    the toolkit's, the other codes are the provider's answers (or the toolkit's when no
    answer came: ``InterruptedInFlight``, ``DailyQuotaExceeded``).
    """
    table = failure_table(results).head(top)
    fig, ax = _figure(figsize)
    if table.empty:
        _empty(ax, "every row was sent (or skipped on purpose)")
    else:
        labels = [
            f"{s}: {c}" + (" (before sending)" if s == "invalid" else "")
            for s, c in zip(table["status"], table["error_code"], strict=True)
        ]
        colors = [STATUS_COLORS.get(s, "tab:gray") for s in table["status"]]
        ax.barh(labels[::-1], table["count"].to_numpy()[::-1], color=colors[::-1])
        ax.set_xlabel("rows")
        ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_title("Rows not sent, by status and error code")
    return fig


def save_figures(
    results: pd.DataFrame, directory: str | Path, configured_rate: float | None = None
) -> list[Path]:
    """Write throughput, status, retries, latency and failures PNGs into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in (
        ("throughput", plot_throughput(results, configured_rate)),
        ("status", plot_status(results)),
        ("retries", plot_retries(results)),
        ("latency", plot_latency(results)),
        ("failures", plot_failures(results)),
    ):
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        written.append(path)
    return written


# --------------------------------------------------------------------------- helpers


def _figure(figsize: tuple[float, float], ncols: int = 1) -> tuple[ReportFigure, Any]:
    # No pyplot: no global figure registry, works under any backend; constrained layout
    # keeps titles, labels and an outside legend inside the picture.
    fig = ReportFigure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def _times(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Request start and end times (epoch seconds) and which rows have both."""
    starts, ends = frame["started_at"].to_numpy(), frame["finished_at"].to_numpy()
    return starts, ends, ~np.isnan(starts) & ~np.isnan(ends)


def _timed_figure(
    results: pd.DataFrame, figsize: tuple[float, float]
) -> tuple[pd.DataFrame, ReportFigure, Any]:
    """The normalized frame and an empty figure, which says so when no row has times."""
    frame = normalized(results)
    fig, ax = _figure(figsize)
    if not _times(frame)[2].any():
        _empty(ax, "no row was sent (no request times)")
    return frame, fig, ax


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def _legend_outside(ax: Any) -> None:
    """A legend beside the axes, never over the data."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)


def _who(frame: pd.DataFrame) -> str:
    names = sorted({t for t in frame["transport"].unique() if t})
    return f"{', '.join(names) or 'send'}, {len(frame):,} rows"


def _rate_lines(
    results: pd.DataFrame, configured: float | None, label: str | None
) -> list[tuple[float, str, str]]:
    if configured:
        return [(configured, f"{label or 'configured rate'} {configured:g}/s", "--")]
    quota, pace = known_rates(results)
    lines = []
    if quota:
        lines.append((quota, f"{label or 'quota (MaxSendRate)'} {quota:g}/s", "--"))
    if pace and (quota is None or not math.isclose(pace, quota)):
        lines.append((pace, f"pace asked for {pace:g}/s", ":"))
    return lines
