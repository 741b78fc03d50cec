"""One account quota for many senders: the accounting, on one clock, with no Dask in it.

The send rate is shared by *leasing*: a sender asks for a small slice of the rate (about a
tenth of a second's worth of recipients), hands it out to its own threads, and reports back
when the last request sent under it has been answered. :class:`RateLog` is the sliding-window
log of those leases, kept by whoever serves them (the Dask scheduler,
:mod:`toolkit.cluster.service`), on that server's clock only:

* a lease counts from the moment it is granted until one window after it is reported
  finished, so every request sent under it is inside the accounting wherever the provider
  saw it arrive between grant and answer (the same rule as
  :meth:`toolkit.delivery.pacing.TokenBucket.reserve`, across processes);
* hence, in any one-second window, the leases that overlap it hold at most ``rate``
  recipients, which bounds what the provider can see in that window;
* the finish report may carry *stamps*: ``(count, offset)`` pairs, one per group of requests,
  where ``offset`` is an upper bound of their answer time after the grant (measured on the
  sender's own monotonic clock plus the lease call's round trip). Each group then leaves the
  window at its own time instead of the lease's last answer, which is what brings a shared
  quota close to the single-process pacer's throughput. No clocks are compared between
  machines: only durations cross the wire;
* a sender whose latency credit changes after it reported leases *re-credits* them
  (:meth:`RateLog.recredit`): their groups move by the change, never before their grant;
* the server never blocks: :meth:`RateLog.lease` grants now or says how long to wait.

:class:`DailyPool` shares the 24-hour quota the same way: senders take blocks of it and give
back what they did not use when they finish.

Usage::

    log = RateLog(rate=100)
    lease_id, granted, wait = log.lease(want=10, need=1, owner="w1")
    ...                                     # send up to `granted` recipients
    log.trim(lease_id, used=7)              # retired: the 3 never handed out leave now
    log.finish(lease_id, used=7, stamps=[(4, 0.05), (3, 0.09)])
    log.recredit([lease_id], 0.04)          # the sender learnt 40 ms more of latency credit
    log.drop_owner("w1")                    # its process died: close its leases now
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["FENCED", "OPEN_POLL", "PAUSED", "STOPPED", "DailyPool", "RateLog"]

FENCED = -1
"""A lease or daily answer meaning: the service no longer serves this process."""
STOPPED = -2
"""A lease answer meaning: the run was cancelled; stop sending."""
PAUSED = -3
"""A lease answer meaning: the run's circuit breaker tripped; stop sending (ReputationPause)."""
OPEN_POLL = 0.01
"""Seconds to wait before asking again when only leases still in flight could free room."""
_EPS = 1e-9


@dataclass(slots=True)
class _Lease:
    """Tokens granted to one owner; ``time`` is the grant while open, the end once closed."""

    owner: str
    time: float
    count: float
    open: bool = True
    granted_at: float = 0.0  # a re-credit never moves a group before its grant


class RateLog:
    """Grants leases so that no ``window``-second window holds more than ``rate`` recipients.

    Args:
        rate: recipients per window (the account's send rate).
        window: seconds (1 + the engine's ``window_margin``).
        coalesce: when only part of a wanted lease is free now but the rest frees within this
            many seconds, answer "come back then" instead of granting a sliver: fewer, larger
            leases, for a little throughput.
        lease_timeout: an open lease older than this is closed (its owner is presumed gone);
            longer than any request may take.
        clock: the server's clock (monotonic seconds).

    Thread-safe; every call is O(leases in the window) and never sleeps.
    """

    def __init__(
        self,
        rate: float,
        *,
        window: float = 1.0,
        coalesce: float = 0.0,
        lease_timeout: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not rate > 0 or not window > 0:
            raise ValueError("rate and window must be positive")
        self.rate = float(rate)
        self.window = float(window)
        self.coalesce = float(coalesce)
        self.lease_timeout = float(lease_timeout)
        self._clock = clock
        self._lock = threading.Lock()
        self._leases: dict[object, _Lease] = {}
        self._ids = itertools.count(1)
        self.grants = 0
        self.waits = 0
        self.granted = 0.0
        self.returned = 0.0

    def set_rate(self, rate: float) -> None:
        """A new rate for the next grants (leases already granted keep counting)."""
        if not rate > 0:
            raise ValueError("rate must be positive")
        with self._lock:
            self.rate = float(rate)

    def _expire(self, now: float) -> None:
        cutoff = now - self.window
        gone = []
        for key, lease in self._leases.items():
            if lease.open and now - lease.time > self.lease_timeout:
                lease.open, lease.time = False, now
            if not lease.open and lease.time <= cutoff:
                gone.append(key)
        for key in gone:
            del self._leases[key]

    def _until_free(self, short: float, now: float) -> float | None:
        """Seconds until closed leases free ``short`` more tokens (None: open ones must end)."""
        freed = 0.0
        for end, count in sorted((e.time, e.count) for e in self._leases.values() if not e.open):
            freed += count
            if freed + _EPS >= short:
                return end + self.window - now
        return None

    def lease(self, want: float, need: float, owner: str) -> tuple[int, float, float]:
        """Grant between ``need`` and ``want`` tokens: ``(lease_id, granted, 0.0)``; or none
        yet: ``(0, 0.0, seconds to wait before asking again)``.

        A ``need`` above the rate (one request for more recipients than a window holds) is
        granted alone once the window is empty, as the local pacer does.
        """
        with self._lock:
            now = self._clock()
            self._expire(now)
            free = self.rate - sum(e.count for e in self._leases.values())
            oversize = need > self.rate
            need, asked = min(float(need), self.rate), float(need)
            want = max(float(want), need)
            if self.coalesce > 0 and need - _EPS <= free < min(want, self.rate) - _EPS:
                later = self._until_free(min(want, self.rate) - free, now)
                if later is not None and later <= self.coalesce:
                    self.waits += 1
                    return 0, 0.0, max(later, 1e-4)
            if free + _EPS >= need:
                granted = asked if oversize else max(need, min(want, math.floor(free + _EPS)))
                lease_id = next(self._ids)
                self._leases[lease_id] = _Lease(owner, now, granted, granted_at=now)
                self.grants += 1
                self.granted += granted
                return lease_id, granted, 0.0
            self.waits += 1
            later = self._until_free(need - free, now)
            return 0, 0.0, max(later, 1e-4) if later is not None else OPEN_POLL

    def trim(self, lease_id: int, used: float) -> None:
        """The lease hands out no more than ``used``: its unused tokens leave the window now.

        Why: a sender retires a lease after its slice (0.1 s) whether or not it used it all,
        but the lease stays open until its last request is answered, a round trip later.
        Tokens never handed out cannot reach the provider, yet they held the window that
        long: 150 ms away, two partitions at 500/s kept about a fifth of it empty this way.
        """
        with self._lock:
            lease = self._leases.get(lease_id)
            if lease is None or not lease.open or used >= lease.count:
                return  # finished (or closed) already: its count is final
            self.returned += lease.count - max(0.0, float(used))
            lease.count = max(0.0, float(used))

    def finish(
        self, lease_id: int, used: float, stamps: Iterable[Sequence[float]] | None = None
    ) -> None:
        """The lease's last request is answered; it counts one more window, for ``used``.

        ``stamps``: ``(count, offset)`` per group of requests, ``offset`` an upper bound of
        their answer in seconds after the grant; each group then leaves at its own time.
        """
        with self._lock:
            lease = self._leases.get(lease_id)
            if lease is None or not lease.open:
                return  # closed already (timed out, or its owner was dropped): stays counted
            now = self._clock()
            self.returned += max(0.0, lease.count - used)
            parts = [(float(c), float(off)) for c, off in stamps or () if c > 0]
            if parts and abs(sum(c for c, _ in parts) - used) < 1e-6:
                del self._leases[lease_id]
                for i, (count, offset) in enumerate(parts):
                    end = min(lease.time + max(offset, 0.0), now)
                    self._leases[(lease_id, i)] = _Lease(lease.owner, end, count, open=False,
                                                         granted_at=lease.time)  # fmt: skip
            else:
                lease.open, lease.time, lease.count = False, now, float(used)

    def recredit(self, lease_ids: Iterable[int], seconds: float) -> None:
        """The sender's latency credit changed by ``seconds`` since it stamped these finished
        leases: each of their groups leaves that much sooner (later, when negative), never
        before its lease was granted.

        Why: a sender learns the credit only after a second of answers
        (``toolkit.delivery.concurrency.CREDIT_AFTER_S``), so the first second's leases were
        stamped without it, and the sliding window kept that lag (a whole answer time) in
        every later window: what :meth:`toolkit.delivery.pacing.TokenBucket.set_credit` does
        for the local bucket, for leases. Groups that have left the window are gone already.
        """
        ids = set(lease_ids)
        with self._lock:
            for key, lease in self._leases.items():
                if isinstance(key, tuple) and key[0] in ids and not lease.open:
                    lease.time = max(lease.granted_at, lease.time - seconds)

    def drop_owner(self, owner: str | Callable[[str], bool]) -> int:
        """Close the open leases of an owner that is gone (or of every owner the predicate
        picks): they count one window from now. Returns how many were closed."""
        match = owner if callable(owner) else owner.__eq__
        with self._lock:
            now, closed = self._clock(), 0
            for lease in self._leases.values():
                if lease.open and match(lease.owner):
                    lease.open, lease.time = False, now
                    closed += 1
            return closed

    def in_window(self) -> float:
        """Tokens the window holds now (open leases included)."""
        with self._lock:
            self._expire(self._clock())
            return sum(e.count for e in self._leases.values())

    def stats(self) -> dict[str, float]:
        """Counters for reports: grants, waits, tokens granted and given back, open leases."""
        with self._lock:
            return {
                "rate": self.rate,
                "grants": self.grants,
                "waits": self.waits,
                "granted": self.granted,
                "returned": self.returned,
                "open_leases": sum(e.open for e in self._leases.values()),
            }


class DailyPool:
    """What is left of the 24-hour quota, taken in blocks and given back when unused.

    ``left`` None means no daily limit. Blocks are taken before sending, so the pool errs on
    the safe side: a block held by a sender is unavailable to the others until given back.
    """

    def __init__(self, left: float | None) -> None:
        self.left = left
        self._lock = threading.Lock()

    def reset(self, left: float | None, *, keep_lower: bool) -> None:
        """A new reading of the quota; with ``keep_lower`` (another run still takes from this
        pool) the smaller of the two stays, since that run's sends may not be in the reading."""
        with self._lock:
            if keep_lower and self.left is not None and left is not None:
                self.left = min(self.left, left)
            else:
                self.left = left

    def take(self, want: float, need: float) -> float:
        """Between ``need`` and ``want`` recipients of the quota, or 0 when not even ``need``
        is left (unlimited: ``want``)."""
        with self._lock:
            if self.left is None:
                return float(want)
            if self.left + _EPS < need:
                return 0.0
            granted = min(float(want), float(math.floor(self.left + _EPS)))
            granted = max(granted, float(need))
            self.left -= granted
            return granted

    def give_back(self, n: float) -> None:
        """Unused recipients of a block return to the pool."""
        with self._lock:
            if self.left is not None and n > 0:
                self.left += float(n)
