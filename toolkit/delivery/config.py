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
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from toolkit.delivery.pacing import Clock
from toolkit.errors import ConfigurationError

if TYPE_CHECKING:
    from toolkit.targets import Quota

__all__ = ["AUTO_INITIAL_WORKERS", "MAX_WORKERS", "MIN_RATE", "EngineConfig"]

MAX_WORKERS = 256
"""Threads per process at most, set by hand or sized automatically. Enough for 500 SendEmail
calls/s at 300 ms (150 in flight, with margin) or 200 SMTP messages/s at 4 round trips of
150 ms; beyond that one process runs out of CPU before threads (one SendEmail call costs
~0.3-1 ms of CPU, so ~1,000-3,000 calls/s per core): use more processes (Dask)."""

AUTO_INITIAL_WORKERS = 8
"""Workers before the first answer is measured, when sizing is automatic."""

_OPTIONAL = frozenset(["workers", "rate", "limit", "queue_batches"])  # None means "not set"

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
) -> float:
    """``value`` as a float (an int when ``whole``); ConfigurationError unless it is a finite
    number within the bounds. numpy numbers and ``8.0`` for a whole number are fine."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    number = float(value) if ok else math.nan  # type: ignore[arg-type]
    ok = ok and math.isfinite(number)
    if ok and whole:
        ok = number.is_integer()
    if ok:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number <= high
    if not ok:
        kind = "a whole number" if whole else "a number"
        bound = f"> {low_text or f'{low:g}'}" if low_open else f"≥ {low_text or f'{low:g}'}"
        if high is not None:
            bound += f" and ≤ {high:g}"
        raise ConfigurationError(f"{name} must be {kind} {bound}, not {value!r}")
    return int(number) if whole else number


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """How a run sends. Rates count recipients (To + Cc + Bcc), as SES quotas do.

    Attributes:
        workers: threads sending at once; None (the default) = sized automatically from the
            pace and the measured answer time (rate × latency ÷ recipients per call, with a
            margin, at most :data:`MAX_WORKERS`; :mod:`toolkit.delivery.concurrency`). A
            number fixes it (an explicit override).
        max_attempts: requests per message at most, the first included.
        retry_unknown: also retry (and, on resume, resend) rows whose fate is unknown.
        resend_changed: on resume, send a row whose recipient already got (or may have got)
            a message from this ledger that no row of the frame holds any more – the same
            row with other content. Off: such rows are ``skipped``/``ContentChanged``.
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
        queue_batches: batches waiting for a worker at most (default ``2 × workers``, following
            the automatic level).
        drain_timeout: seconds to wait for requests in flight when stopping.
        progress_interval: seconds between progress snapshots sent to observers.
        clock: the time the engine paces and backs off by (``now()``/``sleep()``); None is
            the real monotonic clock. A seam for tests, which pass a fake clock so backoff
            and pacing cost no real time (``tests/helpers.py``); not a setting to tune.
    """

    workers: int | None = None
    max_attempts: int = 5
    retry_unknown: bool = False
    resend_changed: bool = False
    rate: float | None = None
    headroom: float = 1.0
    window_margin: float = 0.0
    adaptive: bool | None = None
    limit: int | None = None
    chunk_size: int = 1000
    queue_batches: int | None = None
    drain_timeout: float = 30.0
    progress_interval: float = 0.1
    clock: Clock | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        def store(name: str, **bounds: object) -> None:
            value = getattr(self, name)
            if value is not None or name not in _OPTIONAL:
                label = "rate (recipients per second)" if name == "rate" else name
                object.__setattr__(self, name, _number(label, value, **bounds))  # type: ignore[arg-type]

        store("workers", low=1, high=MAX_WORKERS, whole=True)
        store("max_attempts", low=1, high=100, whole=True)
        store("rate", low=MIN_RATE, low_text="1/3600 (one an hour)")
        store("headroom", low=0, high=1, low_open=True)
        store("window_margin", low=0, high=60)
        store("limit", low=0, whole=True)
        store("chunk_size", low=1, whole=True)
        store("queue_batches", low=1, whole=True)
        store("drain_timeout", low=0)
        store("progress_interval", low=0)
        if self.resend_changed not in (True, False):
            raise ConfigurationError(f"resend_changed must be True or False, not "
                                     f"{self.resend_changed!r}")  # fmt: skip
        if self.clock is not None and not isinstance(self.clock, Clock):
            raise ConfigurationError(f"clock must have now() and sleep(), not {self.clock!r}")
        if self.adaptive not in (None, True, False):
            raise ConfigurationError(f"adaptive must be True, False or None, not {self.adaptive!r}")

    def pace(self, quota: Quota | None) -> float | None:
        """Recipients per second to send at: ``rate`` when given, else the quota's
        ``MaxSendRate`` × ``headroom``; None when neither is known (then the engine adapts).

        The one place this rule lives: the engine, the run summary and the cluster's shared
        quota all ask here.
        """
        if self.rate is not None:
            return self.rate
        if quota is not None and quota.max_send_rate > 0:
            return quota.max_send_rate * self.headroom
        return None
