"""The sandbox account's reputation: bounce and complaint rates and ``EnforcementStatus``.

SES measures an account's bounce and complaint rates over "a representative volume" of its
recent mail and puts it under review (``PROBATION``) or pauses its sending (``SHUTDOWN``)
past published levels: 5 % / 10 % of bounces, 0.1 % / 0.5 % of complaints (each with its
source in :mod:`toolkit.facts`). AWS publishes neither the volume nor an exact rule, so the
sandbox models one (labelled "modelled" in the facts): rates over the last
``window`` eligible recipients; no status change before ``min_volume`` of them; PROBATION
while a rate is at or above its review level; SHUTDOWN, which pauses sending
(``SendingEnabled`` false, sends refused with ``SendingPausedException``) and stays until
:meth:`Reputation.reset` (at AWS: until a review lifts it).

Eligible recipients exclude the mailbox simulator and addresses on the account's suppression
list (``SES_REPUTATION_EXCLUDES``): the caller simply does not record them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from toolkit.facts import (
    SES_BOUNCE_RATE_PAUSE,
    SES_BOUNCE_RATE_REVIEW,
    SES_COMPLAINT_RATE_PAUSE,
    SES_COMPLAINT_RATE_REVIEW,
    SES_REPUTATION_VOLUME,
)

__all__ = ["HEALTHY", "PROBATION", "SHUTDOWN", "Reputation", "ReputationSnapshot"]

HEALTHY = "HEALTHY"
PROBATION = "PROBATION"
SHUTDOWN = "SHUTDOWN"

_DELIVERED, _BOUNCED, _COMPLAINED = 0, 1, 2
_KINDS = {"delivery": _DELIVERED, "bounce": _BOUNCED, "complaint": _COMPLAINED}


@dataclass(frozen=True, slots=True)
class ReputationSnapshot:
    """The account's reputation at one moment (what ``Sandbox.reputation.snapshot()`` says)."""

    eligible: int
    bounces: int
    complaints: int
    bounce_rate: float
    complaint_rate: float
    status: str


class Reputation:
    """Moving bounce and complaint rates and the status they lead to; thread-safe.

    Args:
        window, min_volume: recipients the rates cover, and the fewest that may change the
            status (``SES_REPUTATION_VOLUME``, modelled).
        on_status: called with the new status whenever it changes (the sandbox pauses
            sending on SHUTDOWN from it).
    """

    def __init__(
        self,
        *,
        window: int = SES_REPUTATION_VOLUME.value[0],
        min_volume: int = SES_REPUTATION_VOLUME.value[1],
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        if window < 1 or min_volume < 1:
            raise ValueError("window and min_volume must be at least 1")
        self.window = window
        self.min_volume = min_volume
        self.on_status = on_status
        self._outcomes: deque[int] = deque()
        self._bounces = 0
        self._complaints = 0
        self._status = HEALTHY
        self._lock = threading.Lock()

    @property
    def status(self) -> str:
        """GetAccount's ``EnforcementStatus``."""
        return self._status

    def record(self, kind: str) -> None:
        """One eligible recipient's outcome: ``delivery``, ``bounce`` (hard) or ``complaint``."""
        self.record_many((kind,))

    def record_many(self, kinds: Iterable[str]) -> None:
        """Several outcomes (one message's recipients) under one lock."""
        outcomes = self._outcomes
        with self._lock:
            for kind in kinds:
                outcome = _KINDS[kind]
                outcomes.append(outcome)
                if outcome:
                    self._bounces += outcome == _BOUNCED
                    self._complaints += outcome == _COMPLAINED
                if len(outcomes) > self.window:
                    old = outcomes.popleft()
                    if old:
                        self._bounces -= old == _BOUNCED
                        self._complaints -= old == _COMPLAINED
            changed = self._update()
        if changed and self.on_status is not None:
            self.on_status(self._status)

    def snapshot(self) -> ReputationSnapshot:
        """The rates and status now."""
        with self._lock:
            n = len(self._outcomes)
            return ReputationSnapshot(
                n,
                self._bounces,
                self._complaints,
                self._bounces / n if n else 0.0,
                self._complaints / n if n else 0.0,
                self._status,
            )

    def reset(self) -> None:
        """Forget every outcome and return to HEALTHY (a review lifted the pause)."""
        with self._lock:
            self._outcomes.clear()
            self._bounces = self._complaints = 0
            changed = self._status != HEALTHY
            self._status = HEALTHY
        if changed and self.on_status is not None:
            self.on_status(HEALTHY)

    def _update(self) -> bool:
        n = len(self._outcomes)
        if self._status == SHUTDOWN or n < self.min_volume:
            return False
        bounce, complaint = self._bounces / n, self._complaints / n
        if bounce >= SES_BOUNCE_RATE_PAUSE.value or complaint >= SES_COMPLAINT_RATE_PAUSE.value:
            status = SHUTDOWN
        elif bounce >= SES_BOUNCE_RATE_REVIEW.value or complaint >= SES_COMPLAINT_RATE_REVIEW.value:
            status = PROBATION
        else:
            status = HEALTHY
        changed = status != self._status
        self._status = status
        return changed
