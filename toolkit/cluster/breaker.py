"""One circuit breaker for a whole Dask cluster: the client follows the events, the scheduler
holds the verdict, every worker's engine asks it.

Why not one breaker per partition: a bad list spread over many partitions would trip none of
them (each sees too few fates, or trips late, after the account has taken every partition's
bounces), and SES judges the account, not a partition. So the moving rates of the run's
messages are kept once, on the client, by the single-process
:class:`~toolkit.delivery.breaker.CircuitBreaker` fed by the run's events (the client is where
the sandbox or the SQS queue's credentials are); :class:`BreakerFollower` polls it on a thread
and reports the count of known fates and, once, why it tripped to the scheduler's
:class:`BreakerBoard` (held by the quota service, :mod:`toolkit.cluster.service`).

On the workers, :class:`SharedBreaker` is the engine's breaker (``admit(accepted, abort)``
before each batch): it adds this partition's newly accepted messages to the board and asks
whether to go on. During the canary (the first ``canary`` messages the *cluster* had
accepted) it asks before every batch and waits while all but ``min_outcomes`` of them have no
known fate, exactly as the single-process canary does; after it, it asks at most every
``refresh`` seconds (about one lease), so a trip stops every worker within about one lease.
Rows not sent then end ``skipped``/``ReputationPause`` and stay pending in their partition's
ledger, as on one process.

:class:`BreakerBoard` has no Dask in it (one clock, plain numbers).

Usage::

    board = BreakerBoard(BreakerSettings.of(breaker))   # on the scheduler, per run
    board.report(fated=120, reason=None)                # from the client's follower
    reason, hold, canary = board.admit(accepted=3)      # from a worker's SharedBreaker
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["BreakerBoard", "BreakerFollower", "BreakerSettings", "SharedBreaker"]

log = logging.getLogger(__name__)

REFRESH_S = 0.1
"""Seconds a worker keeps the board's last answer after the canary (about one lease)."""
_CANARY_POLL = 0.05


@dataclass(frozen=True)
class BreakerSettings:
    """What the workers' canary needs of the client's breaker (picklable)."""

    canary: int
    min_outcomes: int
    canary_wait: float

    @classmethod
    def of(cls, breaker: Any) -> BreakerSettings:
        """The settings of a :class:`~toolkit.delivery.breaker.CircuitBreaker`."""
        return cls(int(breaker.canary), int(breaker.min_outcomes), float(breaker.canary_wait))


class BreakerBoard:
    """The run's verdict on the scheduler: messages accepted (all workers), fates known (the
    client's breaker), and why it tripped. Sticky once tripped; thread-safe."""

    def __init__(self, settings: BreakerSettings) -> None:
        self.canary = settings.canary
        self.min_outcomes = settings.min_outcomes
        self.accepted = 0
        self.fated = 0
        self.reason: str | None = None
        self._lock = threading.Lock()

    def report(self, fated: int, reason: str | None) -> None:
        """The client's breaker now knows ``fated`` fates (and may have tripped)."""
        with self._lock:
            self.fated = max(self.fated, int(fated))
            if reason and self.reason is None:
                self.reason = reason

    def admit(self, accepted: int = 0, give_up: bool = False) -> tuple[str | None, bool, bool]:
        """Add a worker's newly accepted messages; returns (why to stop or None, hold, still
        in the canary), ``hold`` meaning: the canary waits for fates, ask again shortly.
        ``give_up``: a worker waited ``canary_wait`` for fates that never came; the canary
        ends for everyone."""
        with self._lock:
            self.accepted += max(0, int(accepted))
            if give_up:
                self.canary = 0
            hold = (
                self.reason is None
                and self.accepted < self.canary
                and self.accepted - self.fated >= self.min_outcomes
            )
            return self.reason, hold, self.accepted < self.canary


class BoardChannel(Protocol):
    """How a worker reaches the board (:class:`toolkit.cluster.pacer.SchedulerChannel`)."""

    def breaker(self, accepted: int, give_up: bool) -> tuple[str | None, bool, bool]: ...


class SharedBreaker:
    """The engine's breaker on a worker: the cluster's one verdict (module docstring)."""

    def __init__(
        self,
        channel: BoardChannel,
        settings: BreakerSettings,
        *,
        refresh: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._channel = channel
        self._settings = settings
        self._refresh = refresh
        self._clock = clock
        self._sleep = sleep
        self._reported = 0
        self._reason: str | None = None
        self._canary = True
        self._asked = float("-inf")
        self._lock = threading.Lock()

    def _ask(self, accepted: int, give_up: bool = False) -> bool:
        """Report what is new, keep the answer; returns ``hold``."""
        with self._lock:
            delta, self._reported = max(0, accepted - self._reported), max(accepted, self._reported)
        reason, hold, canary = self._channel.breaker(delta, give_up)
        self._asked = self._clock()
        self._canary = canary
        if reason:
            self._reason = reason
        return hold

    def verdict(self) -> str:
        """Why the run stopped, asked now (the lease said the breaker tripped)."""
        if self._reason is None:
            self._ask(self._reported)
        return self._reason or "the cluster's circuit breaker tripped"

    def admit(self, accepted: int, abort: threading.Event | None = None) -> str | None:
        if self._reason is not None:
            return self._reason
        if not self._canary and self._clock() - self._asked < self._refresh:
            return None
        deadline = self._clock() + self._settings.canary_wait
        while self._ask(accepted) and self._reason is None:
            if abort is not None and abort.is_set():
                break
            if self._clock() >= deadline:
                log.warning("circuit breaker: no delivery events for the cluster's first "
                            "messages after %.0f s; going on without waiting for them",
                            self._settings.canary_wait)  # fmt: skip
                self._ask(accepted, give_up=True)
                break
            self._sleep(_CANARY_POLL)
        return self._reason


class BreakerFollower:
    """On the client: polls the run's :class:`~toolkit.delivery.breaker.CircuitBreaker` on a
    thread and reports to the board (``report(fated, reason)``) whenever that changes."""

    def __init__(
        self, breaker: Any, report: Callable[[int, str | None], None], interval: float = 0.05
    ) -> None:
        self.breaker = breaker
        self._report = report
        self._interval = min(interval, getattr(breaker, "poll_interval", interval))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="toolkit-breaker", daemon=True)
        self._last: tuple[int, str | None] = (-1, None)

    def __enter__(self) -> BreakerFollower:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # a feed or a scheduler hiccup: keep following
                log.warning("circuit breaker: could not follow the events: %s", exc)
            self._stop.wait(self._interval)

    def step(self) -> None:
        """Poll once; report when the count of fates or the verdict changed."""
        reason = self.breaker.tripped()
        now = (self.breaker.fated, reason)
        if now != self._last:
            self._report(*now)
            self._last = now
