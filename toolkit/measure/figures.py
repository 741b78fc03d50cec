"""Figures of a send run: throughput with the rate, latency, failures.

Plain :class:`matplotlib.figure.Figure` objects (no pyplot state), so they render under Agg,
in a notebook, or to PNG files.

Usage::

    from toolkit.measure.figures import plot_throughput
    plot_throughput(results, configured_rate=14).savefig("throughput.png")
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit.measure.report import (
    failure_table,
    latencies_ms,
    normalized,
    timeline,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_STATUS_COLORS = {
    "rejected": "tab:red",
    "failed": "tab:orange",
    "unknown": "tab:purple",
    "invalid": "tab:brown",
}


def plot_throughput(
    results: pd.DataFrame,
    configured_rate: float | None = None,
    *,
    rate_label: str = "configured",
    title: str = "Throughput",
    figsize: tuple[float, float] = (8.0, 3.5),
) -> Figure:
    """Sent, not-sent, throttled and retried rows per second (by finish time), with the
    configured rate as a dashed line (``rate_label`` names it, e.g. "provider limit")."""
    series = timeline(results)
    fig, ax = _figure(figsize)
    if series.empty:
        ax.text(0.5, 0.5, "no timed rows", ha="center", va="center", transform=ax.transAxes)
    else:
        edges = np.arange(len(series) + 1)
        not_sent = series[["rejected", "failed", "unknown"]].sum(axis=1)
        ax.stairs(series["sent"].to_numpy(), edges, label="sent/s", color="tab:blue", lw=1.5)
        if not_sent.any():
            ax.stairs(not_sent.to_numpy(), edges, label="not sent/s", color="tab:red")
        if series["throttled"].any():
            ax.stairs(
                series["throttled"].to_numpy(), edges, label="throttled/s", color="tab:orange"
            )
        if series["retried"].any():
            ax.stairs(
                series["retried"].to_numpy(), edges, label="retried/s", color="tab:purple", lw=0.8
            )
    if configured_rate:
        ax.axhline(
            configured_rate,
            color="black",
            ls="--",
            lw=1,
            label=f"{rate_label} {configured_rate:g}/s",
        )
    ax.set_xlabel("seconds since first request")
    ax.set_ylabel("rows per second")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig


def plot_latency(results: pd.DataFrame, *, figsize: tuple[float, float] = (8.0, 3.5)) -> Figure:
    """Latency histogram (log-spaced bins) and CDF, one line per transport."""
    frame = normalized(results)
    frame = frame.assign(latency_ms=latencies_ms(frame)).dropna(subset=["latency_ms"])
    fig, (hist, cdf) = _figure(figsize, ncols=2)
    if frame.empty:
        hist.text(0.5, 0.5, "no timed rows", ha="center", va="center", transform=hist.transAxes)
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
            ax.set_xlabel("latency (ms)")
        hist.set_ylabel("requests")
        cdf.set_ylabel("share of rows ≤ x")
        cdf.set_ylim(0, 1.01)
        cdf.legend(loc="lower right", fontsize="small")
    hist.set_title("Latency")
    cdf.set_title("Latency CDF")
    fig.tight_layout()
    return fig


def plot_failures(
    results: pd.DataFrame, *, top: int = 12, figsize: tuple[float, float] = (8.0, 3.5)
) -> Figure:
    """Horizontal bars: rows per status and error code, most frequent first."""
    table = failure_table(results).head(top)
    fig, ax = _figure(figsize)
    if table.empty:
        ax.text(0.5, 0.5, "no failures", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    else:
        labels = [f"{s}: {c}" for s, c in zip(table["status"], table["error_code"], strict=True)]
        colors = [_STATUS_COLORS.get(s, "tab:gray") for s in table["status"]]
        ax.barh(labels[::-1], table["count"].to_numpy()[::-1], color=colors[::-1])
        ax.set_xlabel("rows")
    ax.set_title("Failures by status and provider code")
    fig.tight_layout()
    return fig


def save_figures(
    results: pd.DataFrame, directory: str | Path, configured_rate: float | None = None
) -> list[Path]:
    """Write throughput.png, latency.png and failures.png into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in (
        ("throughput", plot_throughput(results, configured_rate)),
        ("latency", plot_latency(results)),
        ("failures", plot_failures(results)),
    ):
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        written.append(path)
    return written


def _figure(figsize: tuple[float, float], ncols: int = 1) -> tuple[Figure, Any]:
    # Figure() instead of pyplot: no global figure registry, works under any backend.
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    axes = fig.subplots(1, ncols)
    return fig, axes
