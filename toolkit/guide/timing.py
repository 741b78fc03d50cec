"""How long a month's mail takes: at the account's quota, and at a throughput measured by the
toolkit.

:class:`Throughput` reads measured rates from a results frame, a benchmark JSON (found relative
to the working directory or the checkout: :func:`find_file`, :func:`saved_runs`) or a
mapping; :func:`estimate_time` turns a :class:`~.profile.Profile` into a :class:`TimeEstimate`.
Without the account's quota there is no time at the quota, only :func:`known_limits`.
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
from toolkit.results import epoch_seconds
from toolkit.transports.registry import names as transport_names

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
        import numpy as np

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
            starts = epoch_seconds(group["started_at"])
            ends = epoch_seconds(group["finished_at"])
            if np.isnan(starts).all() or np.isnan(ends).all():
                continue
            seconds = float(np.nanmax(ends) - np.nanmin(starts))
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
            path = find_file(data)
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigurationError(f"cannot read benchmark results {path}: {exc}") from exc
            source = _describe_run(path, data)
        if not isinstance(data, Mapping):
            raise ConfigurationError("benchmark results must be a JSON object")
        saved = _toolkit_benchmarks(data)
        if saved:
            return cls.from_mapping(saved, source)
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


def _toolkit_benchmarks(data: Mapping[str, Any]) -> dict[str, float]:
    """Best rate per transport from ``python -m benchmarks`` output (its "scenarios" list:
    toolkit runs that finished, grouped by transport name); empty for other layouts."""
    scenarios = data.get("scenarios")
    if not isinstance(scenarios, list):
        return {}
    best: dict[str, float] = {}
    for item in scenarios:
        if not isinstance(item, Mapping) or item.get("kind") != "toolkit":
            continue
        group, rate = item.get("group"), item.get("msgs_per_s")
        if item.get("status", "ok") != "ok" or group not in transport_names():
            continue
        if isinstance(rate, (int, float)) and rate > 0:
            best[str(group)] = max(best.get(str(group), 0.0), float(rate))
    return best


def _describe_run(path: Path, data: Any) -> str:
    """'benchmarks/results/latest.json (full run of 2026-11-26)' for a saved benchmark run."""
    label = _display_path(path)
    if isinstance(data, Mapping) and isinstance(data.get("started_at"), str):
        mode = f"{data['mode']} run" if isinstance(data.get("mode"), str) else "run"
        return f"{label} ({mode} of {data['started_at'][:10]}, against the local sandbox)"
    return label


def repo_root() -> Path:
    """The checkout the toolkit runs from (where benchmarks/ and data/ live)."""
    return Path(__file__).resolve().parents[2]


def find_file(name: str | Path) -> Path:
    """``name`` as given, else relative to the checkout, else to the working directory's
    parents (a notebook runs from notebooks/). ConfigurationError names where it looked."""
    path = Path(name).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        bases = [Path.cwd(), repo_root(), *list(Path.cwd().parents)[:2]]
        candidates = [base / path for base in bases]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(dict.fromkeys(str(c.parent) for c in candidates))
    raise ConfigurationError(f"no file {str(name)!r} (looked in {looked})")


def saved_runs() -> list[Path]:
    """Benchmark results saved in the checkout (benchmarks/results/*.json), newest first."""
    folder = repo_root() / "benchmarks" / "results"
    runs = [p for p in folder.glob("*.json") if p.is_file()] if folder.is_dir() else []
    return sorted(runs, key=lambda p: (p.name != "latest.json", -p.stat().st_mtime))


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(repo_root()))
    except ValueError:
        return str(path)


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
class MeasuredTime:
    """How long the send takes at one measured throughput."""

    label: str
    rate: float  # messages per second measured (e.g. the toolkit against the sandbox)
    alone_s: float  # at the measured rate, were the quota no limit
    with_quota_s: float | None  # at the slower of the measured rate and the quota (None: unknown)


@dataclass(frozen=True, slots=True)
class TimeEstimate:
    """How long one send of ``messages`` takes at the account's quota and at measured rates.

    With the quota unknown (``max_send_rate`` None) there is no time at the quota: the
    sandbox's limits would give absurd answers for production volumes and any other guess
    would be made up. What is known instead is in :data:`known_limits`.
    """

    messages: int
    max_send_rate: float | None  # None: the account's quota was not given
    max_24_hour_send: float | None
    at_quota_s: float | None
    at_headroom_s: float | None  # pacing at facts.SES_RATE_HEADROOM of the rate (field report)
    measured: tuple[MeasuredTime, ...] = ()
    measured_source: str = ""
    quota_fact: Fact[Any] = facts.SES_QUOTA_COUNTS_RECIPIENTS

    @property
    def quota_known(self) -> bool:
        """True when the account's MaxSendRate was given."""
        return self.max_send_rate is not None

    @property
    def limited_by(self) -> str:
        """'rate', 'daily quota', or 'unknown quota'."""
        if not self.quota_known:
            return "unknown quota"
        if self.max_24_hour_send is not None and 0 <= self.max_24_hour_send < self.messages:
            return "daily quota"
        return "rate"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "messages": self.messages,
            "quota_known": self.quota_known,
            "max_send_rate": self.max_send_rate,
            "max_24_hour_send": self.max_24_hour_send,
            "limited_by": self.limited_by,
            "at_quota_s": _finite(self.at_quota_s),
            "at_headroom_s": _finite(self.at_headroom_s),
            "measured": [
                {
                    "label": m.label,
                    "messages_per_s": m.rate,
                    "seconds": m.alone_s,
                    "seconds_with_quota": _finite(m.with_quota_s),
                }
                for m in self.measured
            ],
            "measured_source": self.measured_source,
            "source": self.quota_fact.source,
        }


def known_limits() -> str:
    """What is known about SES quotas when the account's own is not given, and how to read it."""
    rate = facts.SES_SANDBOX_MAX_SEND_RATE.value
    daily = facts.SES_SANDBOX_MAX_24_HOUR_SEND.value
    return (
        f"A new SES account starts in the sandbox: {rate:g} email per second and {daily:,} per "
        "24 hours; production quotas are set per account and Region. Read yours with "
        "'aws sesv2 get-account' (SendQuota: MaxSendRate, Max24HourSend) or on the SES "
        "console's Account dashboard."
    )


def estimate_time(profile: Profile, measured: Throughput | None = None) -> TimeEstimate:
    """Time for ``profile.messages`` (default: the monthly volume) at the quota and measured.

    No time at the quota when ``profile.max_send_rate`` is None; measured rates are then
    timed on their own (what the toolkit could do if the quota allowed it).
    """
    n = profile.monthly_volume if profile.messages is None else profile.messages
    rate = float(profile.max_send_rate) if profile.max_send_rate is not None else None
    daily: float | None = profile.max_24_hour_send
    headroom = facts.SES_RATE_HEADROOM.value
    rows = tuple(
        MeasuredTime(
            label,
            r,
            n / r,
            seconds_to_send(n, min(r, rate), daily) if rate is not None else None,
        )
        for label, r in (measured.rates if measured else ())
    )
    return TimeEstimate(
        messages=n,
        max_send_rate=rate,
        max_24_hour_send=daily,
        at_quota_s=seconds_to_send(n, rate, daily) if rate is not None else None,
        at_headroom_s=seconds_to_send(n, rate * headroom, daily) if rate is not None else None,
        measured=rows,
        measured_source=measured.source if measured else "",
    )


def _finite(seconds: float | None) -> float | None:
    return None if seconds is None or math.isinf(seconds) else seconds
