"""What a send run did: counts, throughput, latency, failures and retries.

Reads the results DataFrame (``toolkit.results`` columns; one row per input row) and needs
nothing else, so it works as well on a CSV saved last week as on a frame just returned by
``toolkit.api.send``. The figures are in :mod:`.figures`, the command line in
:mod:`toolkit.cli.report`.

Why "rate" is measured on ``started_at``: pacing controls when requests *leave*, so the
busiest one-second window of request starts is what a provider's rate limit sees.

Caveat: a results row keeps only its *last* attempt. Retries show up as ``attempts > 1``;
a throttling error that was later retried away leaves no error code behind, so
``throttled_rows`` counts rows whose final answer was throttling, and ``retried_rows`` the
rows that needed more than one attempt.

Usage::

    from toolkit.measure.report import summarize
    summary = summarize(results, configured_rate=14)
    summary            # rich HTML in a notebook; print(summary) in a terminal
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.results import OUTCOME_COLUMNS, TIME_COLUMNS, Status, epoch_seconds
from toolkit.results_io import read_results

#: Error codes that mean "slow down" across SES, Pinpoint and SMTP (454 is SES SMTP throttling).
THROTTLE_PATTERN = re.compile(r"throttl|toomanyrequests|ratelimit|rate exceeded|^454", re.I)
STATUS_ORDER: tuple[str, ...] = tuple(s.value for s in Status)
_PERCENTILES = (50, 95, 99)
_REQUESTED = (Status.SENT, Status.REJECTED, Status.FAILED, Status.UNKNOWN)


@dataclass(frozen=True, eq=False)  # holds DataFrames: compare the numbers, not the objects
class Summary:
    """Numbers that describe one run; build it with :func:`summarize`.

    Times are seconds, latencies milliseconds, rates per second. ``timeline`` is indexed by
    whole seconds since ``t0`` (the first request start).
    """

    total: int
    counts: dict[str, int]
    shares: dict[str, float]
    duration_s: float
    messages_per_s: float
    attempts_total: int
    retried_rows: int
    throttled_rows: int
    busiest_second: int
    effective_rate: float
    configured_rate: float | None
    t0: float | None
    failures: pd.DataFrame = field(repr=False)
    timeline: pd.DataFrame = field(repr=False)
    latency: pd.DataFrame = field(repr=False)
    latency_by_attempts: pd.DataFrame = field(repr=False)

    @property
    def sent(self) -> int:
        """Rows the provider accepted."""
        return self.counts.get(Status.SENT.value, 0)

    @property
    def rate_ratio(self) -> float | None:
        """Effective over configured rate (1.0 = the run kept the pace it was asked for)."""
        if not self.configured_rate:
            return None
        return self.effective_rate / self.configured_rate

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready numbers (tables as lists of records)."""

        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = frame.reset_index().to_dict(orient="records")
            return [{str(k): _jsonable(v) for k, v in row.items()} for row in out]

        return {
            "total": self.total,
            "counts": dict(self.counts),
            "shares": {k: round(v, 6) for k, v in self.shares.items()},
            "duration_s": round(self.duration_s, 6),
            "messages_per_s": round(self.messages_per_s, 3),
            "effective_rate": round(self.effective_rate, 3),
            "configured_rate": self.configured_rate,
            "rate_ratio": None if self.rate_ratio is None else round(self.rate_ratio, 4),
            "busiest_second": self.busiest_second,
            "attempts_total": self.attempts_total,
            "retried_rows": self.retried_rows,
            "throttled_rows": self.throttled_rows,
            "latency_ms": records(self.latency),
            "latency_ms_by_attempts": records(self.latency_by_attempts),
            "failures": records(self.failures),
        }

    def _rate_text(self) -> str:
        """Sent per second, one figure; both, explained, when the whole run's average and
        the steady rate differ (a paced run's first second goes at once, so on a short run
        rows ÷ duration is above the pace the provider saw)."""
        steady, average = self.effective_rate, self.messages_per_s
        if not steady or abs(average - steady) <= 0.02 * steady:
            return f"{average:,.1f}"
        return (f"{steady:,.1f} steady ({average:,.1f} as rows ÷ duration: a paced run's first "
                "second goes at once)")  # fmt: skip

    def to_text(self) -> str:
        """A plain-text report for terminals and logs."""
        lines = [f"rows: {self.total}"]
        for status in STATUS_ORDER:
            n = self.counts.get(status, 0)
            if n:
                lines.append(f"  {status:<9}{n:>10}  {self.shares[status]:7.2%}")
        lines.append(
            f"duration: {self.duration_s:.3f} s   sent/s: {self._rate_text()}"
            f"   busiest 1 s window: {self.busiest_second}"
        )
        if self.configured_rate:
            lines.append(
                f"configured rate: {self.configured_rate:g}/s   effective: "
                f"{self.effective_rate:,.1f}/s ({self.rate_ratio:.1%} of configured)"
            )
        lines.append(
            f"attempts: {self.attempts_total}   rows retried: {self.retried_rows}"
            f"   rows ending throttled: {self.throttled_rows}"
        )
        if not self.latency.empty:
            lines.append("latency (ms):")
            lines.append(_indent(self.latency.round(2).to_string()))
        if not self.failures.empty:
            lines.append("failures:")
            table = self.failures.head(20).assign(share=self.failures["share"].map("{:.2%}".format))
            lines.append(_indent(table.to_string(index=False)))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        """Rich display in Jupyter: headline numbers, then the latency and failure tables."""
        rows = "".join(
            f"<tr><td>{html.escape(s)}</td><td style='text-align:right'>{self.counts[s]:,}</td>"
            f"<td style='text-align:right'>{self.shares[s]:.2%}</td></tr>"
            for s in STATUS_ORDER
            if self.counts.get(s)
        )
        rate = ""
        if self.configured_rate:
            rate = (
                f" &middot; effective {self.effective_rate:,.1f}/s of configured "
                f"{self.configured_rate:g}/s ({self.rate_ratio:.1%})"
            )
        parts = [
            "<div class='toolkit-summary'>",
            f"<b>{self.total:,} rows</b> in {self.duration_s:.2f} s &middot; "
            f"<b>{html.escape(self._rate_text())} sent/s</b> &middot; busiest second "
            f"{self.busiest_second:,}{rate}<br>"
            f"attempts {self.attempts_total:,} &middot; retried rows {self.retried_rows:,}"
            f" &middot; ending throttled {self.throttled_rows:,}",
            f"<table><tr><th>status</th><th>rows</th><th>share</th></tr>{rows}</table>",
        ]
        if not self.latency.empty:
            parts.append("<b>Latency (ms)</b>" + self.latency.round(2).to_html())
        if not self.failures.empty:
            parts.append("<b>Failures</b>" + self.failures.head(20).to_html(index=False))
        parts.append("</div>")
        return "".join(parts)


def load_results(path: str | Path) -> pd.DataFrame:
    """Read a results file written by the toolkit (.csv, .parquet, .json or .jsonl)."""
    return read_results(path)


def summarize(results: pd.DataFrame, configured_rate: float | None = None) -> Summary:
    """Summarize a results frame (see module docstring for what each number means)."""
    frame = normalized(results)
    total = len(frame)
    status = frame["status"]
    counts = {s: int((status == s).sum()) for s in STATUS_ORDER}
    for extra in sorted(set(status.dropna().unique()) - set(STATUS_ORDER)):
        counts[str(extra)] = int((status == extra).sum())
    shares = {k: (v / total if total else 0.0) for k, v in counts.items()}

    started = frame["started_at"].to_numpy(dtype=float)
    finished = frame["finished_at"].to_numpy(dtype=float)
    # The run's seconds are those of requests to the provider: a skipped or invalid row may
    # carry times (a dry run's, an earlier run's) that are no second of this sending.
    requested = status.isin([s.value for s in _REQUESTED]).to_numpy()
    timed = ~np.isnan(started) & ~np.isnan(finished) & requested
    t0 = float(np.min(started[timed])) if timed.any() else None
    duration = float(np.nanmax(finished[timed]) - t0) if t0 is not None else 0.0
    sent_mask = (status == Status.SENT.value).to_numpy()
    n_sent = counts[Status.SENT.value]
    rate = n_sent / duration if duration > 0 else 0.0

    throttled = throttled_mask(frame)
    attempts = frame["attempts"].fillna(0).astype(int)
    return Summary(
        total=total,
        counts=counts,
        shares=shares,
        duration_s=duration,
        messages_per_s=rate,
        attempts_total=int(attempts.sum()),
        retried_rows=int((attempts > 1).sum()),
        throttled_rows=int(throttled.sum()),
        busiest_second=busiest_window(started[sent_mask & timed]),
        effective_rate=steady_rate(started[sent_mask & timed], fallback=rate),
        configured_rate=configured_rate,
        t0=t0,
        failures=failure_table(frame),
        timeline=timeline(frame, t0=t0),
        latency=_latency_table(frame, "transport"),
        latency_by_attempts=_latency_table(frame, "attempts"),
    )


def busiest_window(times: Sequence[float] | np.ndarray, window: float = 1.0) -> int:
    """The most events in any half-open window ``[t, t + window)`` (exact, O(n log n))."""
    values = np.sort(np.asarray(times, dtype=float))
    values = values[~np.isnan(values)]
    if values.size == 0:
        return 0
    ends = np.searchsorted(values, values + window, side="left")
    return int((ends - np.arange(values.size)).max())


def steady_rate(starts: Sequence[float] | np.ndarray, fallback: float = 0.0) -> float:
    """Rows per second over the run's whole seconds: rows started in ``[t0, t0 + K)`` / K,
    K = whole seconds between the first and last start; ``fallback`` for runs under 1 s.

    Rows / duration overstates a paced run: a sliding-window pacer may start a second's R
    rows at once, so N rows at rate R take about N/R - 1 seconds.
    """
    values = np.sort(np.asarray(starts, dtype=float))
    values = values[~np.isnan(values)]
    if values.size < 2:
        return fallback
    span = int(np.floor(values[-1] - values[0]))
    if span < 1:
        return fallback
    inside = int(np.searchsorted(values, values[0] + span, side="left"))
    return inside / span


def timeline(results: pd.DataFrame, t0: float | None = None) -> pd.DataFrame:
    """Per-second counts by request finish time: one column per status, plus
    ``retried`` (rows with attempts > 1), ``throttled`` and ``attempts``.

    Indexed by whole seconds since ``t0`` (default: the first request start); seconds with
    nothing finishing are present as zeros, so the frame plots as a continuous line.
    """
    frame = normalized(results)
    finished = frame["finished_at"].astype(float)
    timed = finished.notna()
    columns = [*STATUS_ORDER, "retried", "throttled", "attempts"]
    if not timed.any():
        return pd.DataFrame(columns=columns, dtype="int64").rename_axis("second")
    if t0 is None:
        t0 = float(frame["started_at"].astype(float).min())
    second = np.floor(finished[timed] - t0).astype(int).clip(lower=0)
    sub = frame.loc[timed]
    data = pd.DataFrame(
        {s: (sub["status"] == s).astype(int) for s in STATUS_ORDER}
        | {
            "retried": (sub["attempts"].fillna(0) > 1).astype(int),
            "throttled": throttled_mask(sub).astype(int),
            "attempts": sub["attempts"].fillna(0).astype(int),
        }
    )
    out = data.groupby(second.to_numpy()).sum()
    out = out.reindex(range(int(second.max()) + 1), fill_value=0)
    out.index.name = "second"
    return out[columns]


def status_table(results: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Rows per final status as a labelled table, statuses in the vocabulary's order.

    Without ``by``: columns ``rows`` and ``share %`` (rounded to 0.1). With ``by`` (e.g.
    ``"transport"``): one column of row counts per value of that column.
    """
    status = results["status"].map(lambda s: getattr(s, "value", s)).fillna("(not final)")
    present = [s for s in STATUS_ORDER if (status == s).any()]
    order = present + sorted(set(status) - set(present))
    if by is None:
        counts = status.value_counts().reindex(order)
        share = (counts / max(len(results), 1) * 100).round(1)
        table = pd.DataFrame({"rows": counts.astype(int), "share %": share})
    else:
        table = pd.crosstab(status, results[by]).reindex(order).fillna(0).astype(int)
        table.columns.name = by
    table.index.name = "status"
    return table


def failure_table(results: pd.DataFrame, by: str = "code") -> pd.DataFrame:
    """Rows that were not sent or skipped, grouped by status and provider code.

    Columns: status, error_code, count, share (of all rows), example (one error message).
    With ``by="message"`` the groups are (status, code, message) and ``example`` is that
    message; use it when one code covers different causes (``MessageRejected``).
    """
    if by not in ("code", "message"):
        raise ValueError(f"by must be 'code' or 'message', not {by!r}")
    frame = normalized(results)
    bad = frame[~frame["status"].isin([Status.SENT.value, Status.SKIPPED.value])]
    columns = ["status", "error_code", "count", "share", "example"]
    if bad.empty:
        return pd.DataFrame(columns=columns)
    keyed = bad.assign(
        error_code=bad["error_code"].fillna("").astype(str).replace("", "(none)"),
        error_message=bad["error_message"].fillna("").astype(str),
    )
    keys = ["status", "error_code"] + (["error_message"] if by == "message" else [])
    grouped = keyed.groupby(keys, sort=False).agg(
        count=("row_key", "size"), example=("error_message", "first")
    )
    if by == "message":
        grouped = grouped.droplevel("error_message")
    grouped = grouped.reset_index().sort_values("count", ascending=False, kind="stable")
    grouped["share"] = grouped["count"] / len(frame)
    return grouped[columns].reset_index(drop=True)


def latencies_ms(results: pd.DataFrame) -> pd.Series:
    """Per-row request latency in milliseconds (NaN where no request was made)."""
    frame = normalized(results)
    return (frame["finished_at"].astype(float) - frame["started_at"].astype(float)) * 1000.0


# --------------------------------------------------------------------------- helpers


def normalized(results: pd.DataFrame) -> pd.DataFrame:
    """The results columns with usable dtypes; raises KeyError naming missing columns.

    Times become float epoch seconds (from the frame's UTC datetimes, older epoch floats, or
    ISO text read back from a CSV), so the arithmetic below has one form to deal with.
    """
    missing = [c for c in ("status", "started_at", "finished_at") if c not in results.columns]
    if missing:
        raise KeyError(f"results frame lacks columns: {', '.join(missing)}")
    frame = results.copy()
    for column in OUTCOME_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["status"] = frame["status"].map(lambda s: getattr(s, "value", s)).astype(object)
    frame["transport"] = frame["transport"].fillna("").astype(str)
    for column in TIME_COLUMNS:
        frame[column] = epoch_seconds(frame[column])
    frame["attempts"] = pd.to_numeric(frame["attempts"], errors="coerce")
    if frame["row_key"].isna().all():
        frame["row_key"] = np.arange(len(frame)).astype(str)
    return frame


def throttled_mask(frame: pd.DataFrame) -> pd.Series:
    codes = frame["error_code"].fillna("").astype(str)
    return codes.str.contains(THROTTLE_PATTERN, regex=True)


def _latency_table(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    latency = latencies_ms(frame)
    data = frame.assign(latency_ms=latency).dropna(subset=["latency_ms"])
    columns = ["count", "mean", *(f"p{p}" for p in _PERCENTILES), "max"]
    if data.empty:
        return pd.DataFrame(columns=columns).rename_axis(by)
    if by == "attempts":
        data = data.assign(attempts=data["attempts"].fillna(0).astype(int))
    rows = {}
    for key, group in data.groupby(by, sort=True):
        values = group["latency_ms"].to_numpy()
        pcts = np.percentile(values, _PERCENTILES)
        rows[key] = [values.size, values.mean(), *pcts, values.max()]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table["count"] = table["count"].astype(int)
    table.index.name = by
    return table


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value
