"""How a run sends: workers, attempts, rate, limits — checked once, up front.

Every setting is validated when the config is made, so a bad value is a
:class:`~toolkit.errors.ConfigurationError` before anything is sent (the CLI turns it into one
line), never a hang or a traceback from deep inside the send loop.

Usage::

    config = EngineConfig(workers=8, rate=14)
    engine = SendEngine(plan, transport, config)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from toolkit.errors import ConfigurationError

__all__ = ["MAX_WORKERS", "MIN_RATE", "EngineConfig"]

MAX_WORKERS = 256
"""Threads per process at most: more only adds contention (go beyond one process with Dask)."""

MIN_RATE = 1 / 3600
"""The slowest pace accepted: one recipient an hour (slower is a run that never ends)."""


def _number(
    name: str,
    value: object,
    *,
    low: float,
    high: float | None = None,
    whole: bool = False,
    low_open: bool = False,
    low_text: str | None = None,
) -> None:
    """Raise ConfigurationError unless ``value`` is a finite number within the bounds."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and whole:
        ok = float(value).is_integer()
    if ok:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        kind = "a whole number" if whole else "a number"
        bound = f"> {low_text or f'{low:g}'}" if low_open else f"≥ {low_text or f'{low:g}'}"
        if high is not None:
            bound += f" and ≤ {high:g}"
        raise ConfigurationError(f"{name} must be {kind} {bound}, not {value!r}")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How a run sends. Rates count recipients (To + Cc + Bcc), as SES quotas do.

    Attributes:
        workers: threads sending at once; cover the provider's latency (rate × latency).
        max_attempts: requests per message at most, the first included.
        retry_unknown: also retry (and, on resume, resend) rows whose fate is unknown.
        rate: recipients per second; None = the transport's quota (``MaxSendRate``). Below
            1/s it is one recipient every ``1 / rate`` seconds; at least :data:`MIN_RATE`.
        headroom: fraction of the quota's rate to use (1.0 = exactly the quota; the
            sandbox, which counts exactly, never throttles a run paced this way because each
            admission counts until its answer arrives). Real SES is fuzzier: field reports
            suggest ~0.7 (``toolkit.facts.SES_RATE_HEADROOM``). Ignored when ``rate`` is given.
        window_margin: seconds added to the one-second pacing window (extra safety against
            clock and arrival jitter; 0 by default).
        adaptive: AIMD on throttling; None = only when no rate is known. With a known rate
            it never goes above it.
        limit: send at most this many rows; the rest are ``skipped`` with code ``Limit``.
        chunk_size: rows rendered at a time (bounds memory for large frames).
        queue_batches: batches waiting for a worker at most (default ``2 × workers``).
        drain_timeout: seconds to wait for requests in flight when stopping.
        progress_interval: seconds between progress snapshots sent to observers.
    """

    workers: int = 8
    max_attempts: int = 5
    retry_unknown: bool = False
    rate: float | None = None
    headroom: float = 1.0
    window_margin: float = 0.0
    adaptive: bool | None = None
    limit: int | None = None
    chunk_size: int = 1000
    queue_batches: int | None = None
    drain_timeout: float = 30.0
    progress_interval: float = 0.1

    def __post_init__(self) -> None:
        _number("workers", self.workers, low=1, high=MAX_WORKERS, whole=True)
        _number("max_attempts", self.max_attempts, low=1, high=100, whole=True)
        if self.rate is not None:
            _number("rate (recipients per second)", self.rate, low=MIN_RATE,
                    low_text="1/3600 (one an hour)")  # fmt: skip
        _number("headroom", self.headroom, low=0, high=1, low_open=True)
        _number("window_margin", self.window_margin, low=0, high=60)
        if self.limit is not None:
            _number("limit", self.limit, low=0, whole=True)
        _number("chunk_size", self.chunk_size, low=1, whole=True)
        if self.queue_batches is not None:
            _number("queue_batches", self.queue_batches, low=1, whole=True)
        _number("drain_timeout", self.drain_timeout, low=0)
        _number("progress_interval", self.progress_interval, low=0)
        if self.adaptive not in (None, True, False):
            raise ConfigurationError(f"adaptive must be True, False or None, not {self.adaptive!r}")
