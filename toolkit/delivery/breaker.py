"""A circuit breaker that stops a send before its bounces or complaints hurt the account.

SES puts an account under review at about 5 % bounces or 0.1 % complaints and may pause it
at 10 % / 0.5 % (:mod:`toolkit.facts`). A send from a stale list can get there within minutes,
long after the first bounces came back. The breaker follows this run's delivery events (an
:class:`~toolkit.measure.feed.EventFeed`: the sandbox's mailbox, or at AWS an SQS queue fed by
the configuration set's event destination) and keeps moving rates over the last ``window``
recipients whose fate is known; past a threshold it trips, and the engine stops taking new
rows: they end ``skipped`` with code ``ReputationPause`` and stay pending in the ledger, so a
later run (after cleaning the list) sends them.

Counted as SES counts (``SES_REPUTATION_EXCLUDES``): hard (``Permanent``) bounces and
complaints per delivered-or-bounced recipient; soft bounces, the mailbox simulator and bounces
from the account-level suppression list do not count. Defaults sit below SES's review levels
(``BREAKER_DEFAULTS``, the toolkit's choice).

Usage::

    breaker = CircuitBreaker(SandboxFeed(sandbox))
    engine = SendEngine(plan, transport, breaker=breaker)   # checks breaker.tripped() per batch
    breaker.snapshot()                                      # rates, counts, why it tripped
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from toolkit.delivery.engine import REPUTATION_PAUSE_CODE
from toolkit.errors import ConfigurationError
from toolkit.facts import BREAKER_DEFAULTS
from toolkit.measure.feed import EventFeed

__all__ = ["REPUTATION_PAUSE_CODE", "BreakerState", "CircuitBreaker"]

log = logging.getLogger(__name__)

_SIMULATOR = "@simulator.amazonses.com"
_NOT_COUNTED_SUBTYPES = frozenset({"OnAccountSuppressionList"})
_DELIVERED, _BOUNCED, _COMPLAINED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class BreakerState:
    """The breaker's view now: counts over the window, rates, and why it tripped (if it did)."""

    outcomes: int  # delivered + hard-bounced recipients in the window
    bounces: int
    complaints: int
    bounce_rate: float
    complaint_rate: float
    reason: str | None


class CircuitBreaker:
    """Moving bounce/complaint rates of a run's events; trips past a threshold (sticky).

    Args:
        feed: where the events come from (polled at most every ``poll_interval`` seconds,
            from whichever thread asks :meth:`tripped`).
        bounce_threshold, complaint_threshold: trip at or above these rates.
        min_outcomes: no trip before this many recipients' fate is known (one early bounce
            is not a rate).
        window: rates over the last this many known fates.
        canary: the first this many recipients go only as fast as their fates come back (at
            most ``min_outcomes`` unknown at a time), so the breaker can trip before a bad list
            has done harm; after that, full speed. ``canary_wait``: seconds to wait for fates
            before going on anyway (events that never come: a warning, not a hang).
    """

    def __init__(
        self,
        feed: EventFeed,
        *,
        bounce_threshold: float = BREAKER_DEFAULTS.value[0],
        complaint_threshold: float = BREAKER_DEFAULTS.value[1],
        min_outcomes: int = BREAKER_DEFAULTS.value[2],
        window: int = 1000,
        poll_interval: float = 0.2,
        canary: int | None = None,
        canary_wait: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("bounce_threshold", bounce_threshold),
                            ("complaint_threshold", complaint_threshold)):  # fmt: skip
            if not 0.0 < value <= 1.0:
                raise ConfigurationError(f"{name} must be a rate in (0, 1], not {value!r}")
        if min_outcomes < 1 or window < min_outcomes:
            raise ConfigurationError("the breaker needs 1 <= min_outcomes <= window")
        self.feed = feed
        self.bounce_threshold = bounce_threshold
        self.complaint_threshold = complaint_threshold
        self.min_outcomes = min_outcomes
        self.window = window
        self.poll_interval = poll_interval
        self.canary = 4 * min_outcomes if canary is None else canary
        self.canary_wait = canary_wait
        self._clock = clock
        self._next_poll = 0.0
        self._seen: set[tuple[str, str, str]] = set()
        self._fated: set[tuple[str, str]] = set()  # recipients whose fate is known
        self._codes: deque[int] = deque()
        self._base = self._bounces = self._complaints = 0
        self._reason: str | None = None
        self._lock = threading.Lock()

    # -- asking --------------------------------------------------------------------------

    def tripped(self) -> str | None:
        """Why to stop (a sentence), or None to go on; polls the feed when it is time."""
        if self._reason is not None:
            return self._reason
        now = self._clock()
        if now >= self._next_poll and self._lock.acquire(blocking=False):
            try:
                self._next_poll = now + self.poll_interval
                events = self.feed.poll()
            finally:
                self._lock.release()
            self.observe(events)
        return self._reason

    def admit(self, sent: int, abort: threading.Event | None = None) -> str | None:
        """Before more messages go, ``sent`` of this run's having been accepted by the
        provider (a refused or failed one has no delivery event to wait for): in the canary,
        wait (polling the feed) until all but ``min_outcomes`` of them have a known fate;
        then :meth:`tripped`. Returns at once when ``abort`` is set."""
        deadline = self._clock() + self.canary_wait
        while sent < self.canary and sent - len(self._fated) >= self.min_outcomes:
            if self.tripped() is not None or (abort is not None and abort.is_set()):
                break
            if self._clock() >= deadline:
                log.warning("circuit breaker: no delivery events for %d of %d recipients after "
                            "%.0f s; going on without waiting for them", sent - len(self._fated),
                            sent, self.canary_wait)  # fmt: skip
                self.canary = 0
                break
            time.sleep(min(0.05, self.poll_interval))
        return self.tripped()

    @property
    def fated(self) -> int:
        """Recipients of this run whose fate (delivery or bounce) is known."""
        return len(self._fated)

    def snapshot(self) -> BreakerState:
        """The counts and rates now."""
        with self._lock:
            base = self._base
            return BreakerState(
                base,
                self._bounces,
                self._complaints,
                self._bounces / base if base else 0.0,
                self._complaints / base if base else 0.0,
                self._reason,
            )

    # -- feeding -------------------------------------------------------------------------

    def observe(self, events: pd.DataFrame) -> None:
        """Count an events frame (repeats of an event already seen are dropped)."""
        if events is None or events.empty:
            return
        with self._lock:
            for row in events[["message_id", "recipient", "event", "bounce_type",
                               "bounce_subtype"]].itertuples(index=False):  # fmt: skip
                message_id, recipient, event, bounce_type, subtype = row
                recipient = str(recipient or "")
                fate = (str(message_id), recipient.lower())
                if event in ("delivery", "bounce") and fate not in self._fated:
                    self._fated.add(fate)  # known, even where it does not count (simulator)
                key = (str(message_id), recipient.lower(), str(event))
                if key in self._seen or recipient.lower().endswith(_SIMULATOR):
                    continue
                self._seen.add(key)
                if event == "delivery":
                    self._push(_DELIVERED)
                elif event == "bounce":
                    if bounce_type == "Permanent" and subtype not in _NOT_COUNTED_SUBTYPES:
                        self._push(_BOUNCED)
                elif event == "complaint":
                    self._push(_COMPLAINED)
            self._judge()

    def _push(self, code: int) -> None:
        self._codes.append(code)
        if code == _COMPLAINED:
            self._complaints += 1
            return
        self._base += 1
        self._bounces += code == _BOUNCED
        while self._base > self.window:
            old = self._codes.popleft()
            if old == _COMPLAINED:
                self._complaints -= 1
            else:
                self._base -= 1
                self._bounces -= old == _BOUNCED

    def _judge(self) -> None:
        base = self._base
        if self._reason is not None or base < self.min_outcomes:
            return
        bounce, complaint = self._bounces / base, self._complaints / base
        if bounce >= self.bounce_threshold:
            self._reason = (
                f"{self._bounces} of the last {base} recipients hard-bounced ({bounce:.1%}, "
                f"threshold {self.bounce_threshold:.1%}); clean the list before resuming"
            )
        elif complaint >= self.complaint_threshold:
            self._reason = (
                f"{self._complaints} complaints from the last {base} recipients "
                f"({complaint:.2%}, threshold {self.complaint_threshold:.2%}); check who "
                "is on the list and why before resuming"
            )
