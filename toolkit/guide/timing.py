"""How long a month's mail takes: at the quota, and at a throughput measured by the toolkit.

:class:`Throughput` reads measured rates from a results frame, a benchmark JSON or a mapping;
:func:`estimate_time` turns a :class:`~.profile.Profile` into a :class:`TimeEstimate`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import facts
from toolkit.errors import ConfigurationError
from toolkit.facts import Fact

if TYPE_CHECKING:
    import pandas as pd


from toolkit.guide.profile import SECONDS_PER_DAY, Profile


@dataclass(frozen=True, slots=True)
class Throughput:
    """Measured messages per second, per transport (or scenario) label."""

    rates: tuple[tuple[str, float], ...]
    source: str = ""

    @property
    def as_dict(self) -> dict[str, float]:
        """The rates as a dict."""
        return dict(self.rates)

    @classmethod
    def coerce(cls, measured: Any) -> Throughput | None:
        """Accept a Throughput, a results DataFrame, a benchmark JSON path or {label: rate}."""
        if measured is None or isinstance(measured, Throughput):
            return measured
        if isinstance(measured, (str, Mapping)) or hasattr(measured, "__fspath__"):
            return cls.from_benchmarks(measured)
        if hasattr(measured, "columns"):
            return cls.from_results(measured)
        raise ConfigurationError(f"cannot read throughput from {type(measured).__name__}")

    @classmethod
    def from_mapping(cls, rates: Mapping[str, float], source: str = "dict") -> Throughput:
        """From ``{transport: msgs_per_s}``; non-positive rates are dropped."""
        clean = tuple(
            (str(k), float(v)) for k, v in rates.items() if isinstance(v, (int, float)) and v > 0
        )
        return cls(clean, source)

    @classmethod
    def from_results(cls, frame: pd.DataFrame, source: str = "last run") -> Throughput:
        """From a results DataFrame: sent messages / (max finished_at − min started_at).

        Grouped by the ``transport`` column when present. Only rows with status ``sent``
        count when a ``status`` column exists (skipped and invalid rows took no time).
        """
        import pandas as pd

        missing = {"started_at", "finished_at"} - set(frame.columns)
        if missing:
            raise ConfigurationError(f"results frame lacks column(s) {sorted(missing)}")
        data = frame
        if "status" in data.columns:
            data = data[data["status"].astype(str) == "sent"]
        groups: Iterable[tuple[Any, pd.DataFrame]]
        if "transport" in data.columns:
            groups = data.groupby("transport", sort=True)
        else:
            groups = [("run", data)]
        rates: dict[str, float] = {}
        for label, group in groups:
            start, end = group["started_at"].min(), group["finished_at"].max()
            if pd.isna(start) or pd.isna(end):
                continue
            span = end - start
            seconds = span.total_seconds() if hasattr(span, "total_seconds") else float(span)
            if seconds > 0:
                rates[str(label)] = len(group) / seconds
        return cls.from_mapping(rates, source)

    @classmethod
    def from_benchmarks(cls, data: str | Path | Mapping[str, Any]) -> Throughput:
        """From benchmark results: a JSON file path, its parsed dict, or ``{label: rate}``.

        Any mapping holding ``messages_per_s`` counts, labelled by its ``transport``,
        ``scenario`` or ``name`` field, else its key; the best rate per label wins.
        """
        source = "dict"
        if isinstance(data, (str, Path)):
            path = Path(data)
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigurationError(f"cannot read benchmark results {path}: {exc}") from exc
            source = str(path)
        if not isinstance(data, Mapping):
            raise ConfigurationError("benchmark results must be a JSON object")
        rates: dict[str, float] = {}

        def visit(node: Any, key: str) -> None:
            if isinstance(node, Mapping):
                rate = node.get("messages_per_s")
                if isinstance(rate, (int, float)) and rate > 0:
                    label = str(
                        node.get("transport") or node.get("scenario") or node.get("name") or key
                    )
                    rates[label] = max(rates.get(label, 0.0), float(rate))
                for k, v in node.items():
                    visit(v, str(k))
            elif isinstance(node, list):
                for item in node:
                    visit(item, key)

        if data and all(isinstance(v, (int, float)) for v in data.values()):
            return cls.from_mapping(data, source)
        visit(data, "benchmark")
        return cls.from_mapping(rates, source)


def seconds_to_send(
    messages: int, max_send_rate: float, max_24_hour_send: float | None = None
) -> float:
    """Seconds to send ``messages`` recipients at ``max_send_rate`` under a rolling daily quota.

    With a daily quota Q < messages, a full window of Q is sent per 24 h and the last partial
    window at the rate: ``(ceil(n/Q) − 1) · 86 400 + rest / rate`` (never less than n / rate).
    ``None`` or a negative quota means unlimited (SES reports −1).
    """
    if messages <= 0:
        return 0.0
    if max_send_rate <= 0:
        raise ConfigurationError("max_send_rate must be positive")
    at_rate = messages / max_send_rate
    if max_24_hour_send is None or max_24_hour_send < 0 or messages <= max_24_hour_send:
        return at_rate
    if max_24_hour_send == 0:
        return math.inf
    waits = math.ceil(messages / max_24_hour_send) - 1
    rest = messages - waits * max_24_hour_send
    return max(at_rate, waits * SECONDS_PER_DAY + rest / max_send_rate)


def format_duration(seconds: float) -> str:
    """'2 d 3 h', '4 h 05 min', '12 min 30 s', '3.2 s'."""
    if math.isinf(seconds):
        return "never (daily quota is 0)"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {sec:02d} s"


@dataclass(frozen=True, slots=True)
class TimeEstimate:
    """How long one send of ``messages`` takes at the quota and at measured rates."""

    messages: int
    max_send_rate: float
    max_24_hour_send: float | None
    quota_assumed: bool  # True when the sandbox quota was assumed (account quota not given)
    at_quota_s: float
    at_headroom_s: float  # pacing below the max rate, as field reports advise
    measured: tuple[tuple[str, float, float], ...] = ()  # (label, msgs/s, seconds)
    measured_source: str = ""
    quota_fact: Fact[Any] = facts.SES_QUOTA_COUNTS_RECIPIENTS

    @property
    def limited_by(self) -> str:
        """'rate' or 'daily quota'."""
        if self.max_24_hour_send is not None and 0 <= self.max_24_hour_send < self.messages:
            return "daily quota"
        return "rate"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "messages": self.messages,
            "max_send_rate": self.max_send_rate,
            "max_24_hour_send": self.max_24_hour_send,
            "quota_assumed": self.quota_assumed,
            "limited_by": self.limited_by,
            "at_quota_s": None if math.isinf(self.at_quota_s) else self.at_quota_s,
            "at_headroom_s": None if math.isinf(self.at_headroom_s) else self.at_headroom_s,
            "measured": [
                {"label": k, "messages_per_s": r, "seconds": s} for k, r, s in self.measured
            ],
            "measured_source": self.measured_source,
            "source": self.quota_fact.source,
        }


def estimate_time(profile: Profile, measured: Throughput | None = None) -> TimeEstimate:
    """Time for ``profile.messages`` (default: the monthly volume) at the quota and measured."""
    n = profile.monthly_volume if profile.messages is None else profile.messages
    assumed = profile.max_send_rate is None
    rate = facts.SES_SANDBOX_MAX_SEND_RATE.value if assumed else float(profile.max_send_rate or 0)
    daily: float | None = profile.max_24_hour_send
    if assumed and daily is None:
        daily = float(facts.SES_SANDBOX_MAX_24_HOUR_SEND.value)
    headroom = facts.SES_RATE_HEADROOM.value
    rows = tuple((label, r, n / r) for label, r in (measured.rates if measured else ()))
    return TimeEstimate(
        messages=n,
        max_send_rate=rate,
        max_24_hour_send=daily,
        quota_assumed=assumed,
        at_quota_s=seconds_to_send(n, rate, daily),
        at_headroom_s=seconds_to_send(n, rate * headroom, daily),
        measured=rows,
        measured_source=measured.source if measured else "",
    )
