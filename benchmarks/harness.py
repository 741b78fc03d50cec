"""Measuring one scenario run: wall time, process CPU, peak RSS, latency percentiles.

A :class:`Measure` wraps the timed part of a run::

    with Measure() as m:
        results = send(...)
    record = m.record("ses.toolkit.w8", group="ses", kind="toolkit", messages=n, sent=k,
                      latencies_s=lat)

CPU is ``getrusage(RUSAGE_SELF)`` (all threads of this process) plus ``RUSAGE_CHILDREN``
(children reaped during the run, e.g. ``smtp-source``). Peak RSS is sampled every 10 ms by
a helper thread (``ru_maxrss`` only ever grows, so it cannot tell one scenario from the next).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is a test dependency
    psutil = None


@dataclass
class ScenarioResult:
    """One row of the results table (JSON-ready via :meth:`to_dict`)."""

    name: str
    group: str
    kind: str  # "toolkit" | "baseline" | "reference"
    status: str = "ok"  # "ok" | "skipped" | "error"
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    messages: int = 0
    sent: int = 0
    seconds: float | None = None
    msgs_per_s: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    cpu_s_per_1k: float | None = None
    peak_rss_mb: float | None = None
    rss_growth_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("seconds", "msgs_per_s", "p50_ms", "p95_ms", "cpu_s_per_1k"):
            if out[key] is not None:
                out[key] = round(float(out[key]), 4)
        for key in ("peak_rss_mb", "rss_growth_mb"):
            if out[key] is not None:
                out[key] = round(float(out[key]), 1)
        return out


def skipped(name: str, group: str, kind: str, reason: str, **params: Any) -> ScenarioResult:
    """A scenario that could not run, with the reason (never silently dropped)."""
    return ScenarioResult(
        name=name, group=group, kind=kind, status="skipped", reason=reason, params=params
    )


def failed(name: str, group: str, kind: str, exc: BaseException, **params: Any) -> ScenarioResult:
    """A scenario that raised: recorded as an error with the exception text."""
    text = f"{type(exc).__name__}: {exc}"
    return ScenarioResult(
        name=name, group=group, kind=kind, status="error", reason=text[:500], params=params
    )


class Measure:
    """Context manager timing a block: wall, CPU (self + reaped children), peak RSS."""

    def __init__(self, sample_interval: float = 0.01) -> None:
        self._interval = sample_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process = psutil.Process() if psutil is not None else None
        self.rss_before = self._rss()
        self.peak_rss = self.rss_before
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.extra_cpu_seconds = 0.0  # CPU of processes measured separately (e.g. wait4)

    def _rss(self) -> int:
        if self._process is None:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return int(self._process.memory_info().rss)

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            rss = self._rss()
            if rss > self.peak_rss:
                self.peak_rss = rss

    def __enter__(self) -> Measure:
        self.rss_before = self._rss()
        self.peak_rss = self.rss_before
        self._cpu0 = _cpu()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.cpu_seconds = _cpu() - self._cpu0
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        self.peak_rss = max(self.peak_rss, self._rss())

    def record(
        self,
        name: str,
        *,
        group: str,
        kind: str,
        messages: int,
        sent: int,
        latencies_s: Iterable[float] | None = None,
        params: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        rss_base: int | None = None,
    ) -> ScenarioResult:
        """The :class:`ScenarioResult` for what was measured (rates count ``sent``)."""
        p50 = p95 = None
        if latencies_s is not None:
            lat = np.asarray(list(latencies_s), dtype=float)
            lat = lat[~np.isnan(lat)]
            if lat.size:
                p50, p95 = (float(v) * 1000 for v in np.percentile(lat, [50, 95]))
        cpu = self.cpu_seconds + self.extra_cpu_seconds
        base = self.rss_before if rss_base is None else rss_base
        return ScenarioResult(
            name=name,
            group=group,
            kind=kind,
            params=dict(params or {}),
            messages=messages,
            sent=sent,
            seconds=self.seconds,
            msgs_per_s=sent / self.seconds if self.seconds > 0 else None,
            p50_ms=p50,
            p95_ms=p95,
            cpu_s_per_1k=cpu / messages * 1000 if messages else None,
            peak_rss_mb=self.peak_rss / 2**20,
            rss_growth_mb=max(0, self.peak_rss - base) / 2**20,
            extra=dict(extra or {}),
        )


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def machine_info() -> dict[str, Any]:
    """Where the numbers came from: CPU, memory, OS, Python and package versions."""
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = None
    if psutil is not None:
        memory = round(psutil.virtual_memory().total / 2**30, 1)
    versions = {}
    for package in ("boto3", "botocore", "pandas", "numpy", "aiosmtpd", "matplotlib", "moto"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": memory,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def calibrate(loops: int = 3) -> float:
    """Seconds for a fixed pure-Python loop (best of ``loops``): how fast the machine is now."""
    best = float("inf")
    for _ in range(loops):
        t0 = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - t0)
    return best


def percentile_ms(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile of seconds, in milliseconds (None when empty)."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q)) * 1000
