"""Seeded, reproducible fault injection for the sandbox's interfaces.

Tests and benchmarks ask for a known mix of failures ("5 % throttling, 1 % dropped
connections, seed 7") and get the same sequence of faults for the same sequence of requests.
One :class:`Faults` is shared by the HTTP API and the SMTP server; each draws with one
``random.Random(seed)`` under a lock.

Usage (per request / SMTP transaction)::

    action = faults.draw()              # one uniform draw per request
    if faults.latency_s:
        await asyncio.sleep(faults.latency_s)
    if action is FaultAction.THROTTLE:  # HTTP 429 TooManyRequestsException / SMTP 454
        ...
    elif action is FaultAction.ERROR:   # HTTP 500 InternalServerError / SMTP 451
        ...
    elif action is FaultAction.DROP:    # close the connection without answering;
        ...                             # the message is NOT stored (lost in transit)
    # inside bulk answers, per recipient:
    if faults.recipient_fails():        # TRANSIENT_FAILURE / TEMPORARY_FAILURE
        ...
"""

from __future__ import annotations

import enum
import random
import threading

from toolkit.errors import ConfigurationError


class FaultAction(enum.Enum):
    """What to do to one request instead of (or before) serving it normally."""

    NONE = "none"
    THROTTLE = "throttle"
    ERROR = "error"
    DROP = "drop"


class Faults:
    """Probabilities of each fault, drawn from one seeded generator.

    Args:
        latency_ms: added before every answer.
        throttle_rate: probability per request of a throttling error.
        error_rate: probability per request of a 5xx / SMTP 451.
        drop_rate: probability per request of closing the connection without an answer.
        partial_failure_rate: probability per recipient, inside bulk answers, of a
            transient per-recipient failure.
        seed: same seed and same request sequence → same faults.
        event_lag_ms: delivery events (Send, Delivery, Bounce, Complaint) become readable this
            long after the send, as SES's arrive seconds later through SNS or SQS (the
            circuit breaker's canary waits for them).
    """

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        partial_failure_rate: float = 0.0,
        seed: int | None = None,
        event_lag_ms: float = 0.0,
    ) -> None:
        for name, value in (
            ("throttle_rate", throttle_rate),
            ("error_rate", error_rate),
            ("drop_rate", drop_rate),
            ("partial_failure_rate", partial_failure_rate),
        ):
            if not 0.0 <= value <= 1.0:
                raise ConfigurationError(f"{name} must be between 0 and 1, got {value!r}")
        if throttle_rate + error_rate + drop_rate > 1.0:
            raise ConfigurationError("throttle_rate + error_rate + drop_rate must not exceed 1")
        for name, value in (("latency_ms", latency_ms), ("event_lag_ms", event_lag_ms)):
            if not value >= 0:
                raise ConfigurationError(f"{name} must not be negative, got {value!r}")
        self.latency_ms = float(latency_ms)
        self.event_lag_ms = float(event_lag_ms)
        self.throttle_rate = float(throttle_rate)
        self.error_rate = float(error_rate)
        self.drop_rate = float(drop_rate)
        self.partial_failure_rate = float(partial_failure_rate)
        self.seed = seed
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._t1 = self.throttle_rate
        self._t2 = self._t1 + self.error_rate
        self._t3 = self._t2 + self.drop_rate

    @property
    def latency_s(self) -> float:
        """Added latency in seconds (0.0 when none)."""
        return self.latency_ms / 1000.0

    @property
    def event_lag_s(self) -> float:
        """Seconds before an event can be read (0.0 when at once)."""
        return self.event_lag_ms / 1000.0

    @property
    def active(self) -> bool:
        """True when any request-level fault can happen (draws are skipped otherwise)."""
        return self._t3 > 0.0

    def draw(self) -> FaultAction:
        """One draw for one request or SMTP transaction."""
        if self._t3 <= 0.0:
            return FaultAction.NONE
        with self._lock:
            u = self._random.random()
        if u < self._t1:
            return FaultAction.THROTTLE
        if u < self._t2:
            return FaultAction.ERROR
        if u < self._t3:
            return FaultAction.DROP
        return FaultAction.NONE

    def recipient_fails(self) -> bool:
        """One draw for one recipient inside a bulk answer."""
        if self.partial_failure_rate <= 0.0:
            return False
        with self._lock:
            return self._random.random() < self.partial_failure_rate

    def __repr__(self) -> str:
        return (
            f"Faults(latency_ms={self.latency_ms}, throttle_rate={self.throttle_rate}, "
            f"error_rate={self.error_rate}, drop_rate={self.drop_rate}, "
            f"partial_failure_rate={self.partial_failure_rate}, seed={self.seed}, "
            f"event_lag_ms={self.event_lag_ms})"
        )
