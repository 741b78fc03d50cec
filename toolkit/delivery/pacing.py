"""Pacing: admit recipients at a send rate, exactly, and adapt when the rate is unknown.

* :class:`Clock` – the time seam (``now()``/``sleep()``); :class:`MonotonicClock` for real
  runs (tests use a fake clock whose ``sleep`` advances it, ``tests/fakes.py``).
* :class:`TokenBucket` – a sliding-window log: never more than ``rate`` recipients are admitted
  in *any* one-second window (``(t - 1, t]``), which is how SES counts ``MaxSendRate`` and how
  the sandbox polices it. Below one recipient per second the window stretches to ``1 / rate``
  seconds (one recipient per window), so ``rate=0.25`` sends one every four seconds. A
  classic token bucket with ``burst == rate`` can admit up to ``2R`` in a window that
  straddles a refill; the log cannot. :meth:`TokenBucket.reserve` keeps an
  admission counting until its request is answered, so the guarantee also holds for the
  provider's *arrival* times, whatever the latency jitter.
* :class:`AdaptiveRate` – AIMD on top of a bucket for when no quota is known: slow start
  (double after each quiet period) until the first throttle, then multiplicative decrease on
  throttling and additive increase after quiet periods, between a floor and a ceiling.

Why one module of this size: the log and the AIMD controller are one mechanism. The
controller moves the bucket's rate, capacity and window between admissions, and what a change
means for the admissions already in the log (and for the latency credit) is decided in the
bucket; apart, the rule of when a change applies would be split over two files.

Usage::

    bucket = TokenBucket(rate=14)
    bucket.acquire(1)        # blocks until one more recipient fits in the window

    held = bucket.reserve(50)  # around a request: counts until the answer is in
    try:
        transport.send(batch)
    finally:
        held.done()

    adaptive = AdaptiveRate(TokenBucket(rate=10), floor=1, ceiling=500)
    adaptive.on_throttle()   # after a THROTTLED reply
    adaptive.on_success()    # after an accepted request
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Time as the pacing and retry code sees it (injectable, after botocore's ``Clock``)."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``time.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


ACCEPTED_SHARE = 0.95
"""After a throttle (``AdaptiveRate(measured=True)``): this share of what the provider accepted
in the last second becomes the rate."""
SLOW_START_USE = 0.4
"""Slow start grows only while the last second's accepted recipients are at least this share
of the rate (a rate doubling twice a second has sent about half of it over the last second)."""
PROBE_USE = 0.8
"""The additive probe only while this share of the rate is used."""
# How long one waiting thread sleeps at most before looking at ``abort`` again.
_ABORT_POLL = 0.1
# How often a waiter looks again while the oldest admission's request is still in flight.
_OPEN_POLL = 0.002
_LATE_HALF_LIFE_S = 2.0
"""Seconds over which a late wake-up's weight on the credit halves (see ``_woke``)."""
_LATE_WAKES = 9
"""Recent wake-ups whose lateness is kept; the credit shrinks by their median (``_late_now``)."""


class TokenBucket:
    """Admit at most ``rate`` recipients in any ``window``-second window; thread-safe.

    Implementation note: this is a sliding-window *log* (one entry per admission: a sum of the
    requests in flight, and a heap of answered ones by the time each leaves the window), not a
    refilling counter, because the guarantee must hold for every window, including those that
    straddle a refill. It holds at most ``rate`` entries, so memory and time per call stay
    small.

    ``burst`` (default ``rate``) caps what one window may hold; a lower burst smooths traffic.
    A window holds at least one recipient, so for a rate below 1/s it lasts ``1 / rate`` seconds
    (``capacity / rate`` in general, never less than one second): the long-run rate is then
    exactly ``rate``, and still never more than ``rate`` in any one-second window.
    ``margin`` (seconds) stretches the window to ``1 + margin`` s: the provider counts when
    requests *arrive*, and arrival times jitter by the request latency, so a margin of a few
    tens of milliseconds keeps a client that paces exactly from being throttled at the
    window's edges (at a cost of ``margin / (1 + margin)`` of the rate).
    Only one thread waits for capacity at a time (a turnstile), so waiters are served roughly
    in order and are not woken as a herd.

    A single request larger than the burst (say 50 recipients at 14/s) cannot be split: it is
    admitted alone once the window is empty, and it stays in the log for as many windows as it
    fills (50/14 of one), so the average rate holds. Callers should size batches to fit the
    burst (the engine does).
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Clock | None = None,
        margin: float = 0.0,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if margin < 0:
            raise ValueError("margin must be >= 0")
        self._clock = clock if clock is not None else MonotonicClock()
        self._margin = float(margin)
        self._lock = threading.Lock()
        self._turnstile = threading.Lock()
        self._open = 0.0  # recipients admitted whose requests are still in flight
        # Answered (or acquired) admissions that count, a heap of _Closed by when they leave.
        self._closed: list[_Closed] = []
        # Answered admissions the credit took out of the window before a full window after
        # their answer: kept until then, in case the credit shrinks (see set_credit).
        self._credited: list[_Closed] = []
        self._seq = itertools.count()
        self._in_window = 0.0  # open + closed
        self._rate = float(rate)
        self._burst_setting = burst
        self._capacity = self._compute_capacity()
        self._window = self._compute_window()
        self._credit = 0.0
        # (lateness, when) of the recent wake-ups, once one was late (``_woke``)
        self._wakes: deque[tuple[float, float]] = deque(maxlen=_LATE_WAKES)
        self.admitted = 0  # total recipients admitted (for tests and reports)
        self.limited_at = -math.inf
        """When an admission last had to wait for the window: the rate, not the client, was
        what held sending back then (:class:`AdaptiveRate` grows only such a rate)."""

    def _compute_capacity(self) -> float:
        cap = self._rate
        if self._burst_setting is not None:
            cap = min(cap, float(self._burst_setting))
        return max(cap, 1.0)

    def _compute_window(self) -> float:
        # One window holds ``capacity`` recipients; at a rate below 1/s that takes longer
        # than a second.
        return max(1.0, self._capacity / self._rate) + self._margin

    def _lifetime(self, count: float) -> float:
        """Seconds an entry of ``count`` recipients counts (more than one window if oversize)."""
        return self._window * max(1.0, count / self._capacity)

    @property
    def rate(self) -> float:
        """Recipients per second currently allowed."""
        return self._rate

    @property
    def capacity(self) -> float:
        """Recipients one window may hold (the largest request that fits without waiting)."""
        return self._capacity

    @property
    def clock(self) -> Clock:
        return self._clock

    def tail(self) -> list[tuple[float, float]]:
        """``(leaves, recipients)`` of every admission still counting now (requests still in
        flight as leaving a full window from now): what :class:`PaceMemory` keeps."""
        with self._lock:
            now = self._clock.now()
            self._expire(now)
            kept = [(entry.leaves, entry.count) for entry in self._closed]
            if self._open > 0:
                kept.append((now + self._window, self._open))
            return kept

    def preload(self, tail: list[tuple[float, float]]) -> None:
        """Count an earlier run's admissions (:meth:`tail`) until they leave, before the first
        admission of this one: its first window then holds only what they left free."""
        with self._lock:
            now = self._clock.now()
            for leaves, count in tail:
                if leaves > now and count > 0:
                    start = leaves - self._window
                    entry = _Closed(leaves, next(self._seq), float(count), start, self._window,
                                    start, start)  # fmt: skip
                    heapq.heappush(self._closed, entry)
                    self._in_window += entry.count

    def set_rate(self, rate: float) -> None:
        """Change the rate (used by :class:`AdaptiveRate`); applies to the next admission."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        with self._lock:
            self._rate = float(rate)
            self._capacity = self._compute_capacity()
            self._window = self._compute_window()

    @property
    def credit(self) -> float:
        """Seconds taken off the window of an answered reservation (see :meth:`set_credit`)."""
        return self._credit

    def set_credit(self, seconds: float) -> None:
        """Let an answered reservation count until ``done + window - seconds`` (never before
        its admission + window).

        Why: the provider counts a request when it *arrives*, somewhere inside its round trip.
        Counting each admission from ``reserve`` until a full window after ``done`` is exact
        for any latency, but admits only ``rate / (1 + latency)`` (0.87 of the rate at 150 ms).
        The next request cannot arrive sooner than its own way out, and the answered one
        arrived no later than its way back before ``done``; so with ``seconds`` no more than
        the shortest way out plus the shortest way back (the engine passes 0.9 of the shortest
        recent round trip, :attr:`toolkit.delivery.concurrency.Concurrency.credit`), no
        provider-side one-second window holds more than the rate. Capped at half a window.
        Every answered admission still within a window of its answer is counted with the
        credit given last, not with the one in force at its answer (see :meth:`_recredit`).
        Less the lateness of this process's recent wake-ups (:meth:`_woke`): a process that
        wakes late (a loaded machine, other threads holding the GIL) times its own delays
        into the round trips the credit rests on, and not always into both legs alike.
        """
        if not seconds >= 0:
            raise ValueError("credit must be >= 0")
        credit = min(float(seconds), 0.5 * self._window)
        if credit == self._credit:
            return
        with self._lock:
            self._credit = credit
            self._recredit(self._clock.now())

    def _recredit(self, now: float) -> None:
        """Count every answered admission with the credit in force now (lock held).

        Why: the credit is an estimate that only shrinks as the run finds shorter round trips
        (its first answers queue behind each other at the provider: at 50 ms, Pinpoint calls
        of 100 answered in 180 ms at first, then in 55 ms). An answer credited with the
        early, too large figure and kept so for its whole window let the next window's calls
        in too soon: the sandbox throttled them, at any credit share. Re-crediting the
        answers still in (or just out of) the window makes every admission rest on the best
        estimate known when it is made.
        """
        entries = [e for e in (*self._closed, *self._credited) if e.answered > now - e.lifetime]
        self._closed, self._credited = [], []
        self._in_window = self._open
        credit = self._credit_now(now)
        for entry in entries:
            entry.start = max(entry.admitted, entry.answered - credit)
            entry.leaves = entry.start + entry.lifetime
            if entry.start <= now - entry.lifetime:
                self._credited.append(entry)
            else:
                self._closed.append(entry)
                self._in_window += entry.count
        heapq.heapify(self._closed)

    def _late_now(self, now: float) -> float:
        """How late this process wakes: the (upper) median lateness of its recent wake-ups,
        each halved every :data:`_LATE_HALF_LIFE_S` since (lock held).

        Why the median, not the largest: what can inflate the shortest round trip is a delay
        in *every* request (a sample without it would be the shortest), and a process that
        is loaded that way wakes late most of the time. One slow wake-up among punctual ones
        (a thread holding the GIL for 15 ms while it builds a call of 50) took up to that
        much off the credit for seconds: 8.6 ms on average in a SendBulkEmail run 150 ms
        away, about a hundredth of the rate, with nothing to guard against.
        """
        wakes = self._wakes
        if not wakes:
            return 0.0
        decayed = sorted(late * 0.5 ** (max(0.0, now - at) / _LATE_HALF_LIFE_S)
                         for late, at in wakes)  # fmt: skip
        return decayed[len(decayed) // 2]

    def _credit_now(self, now: float) -> float:
        """The credit less the recent lateness (lock held)."""
        return max(0.0, self._credit - self._late_now(now))

    def _woke(self, late: float) -> None:
        """A wait ended ``late`` seconds after it was due: keep it among the recent wake-ups
        (once one was late), and re-count the answers at once when the credit shrank."""
        if late <= 0.001 and not self._wakes:  # punctual, as on a machine with room
            return
        with self._lock:
            now = self._clock.now()
            before = self._credit_now(now)
            self._wakes.append((max(0.0, late), now))
            if all(lateness <= 0.001 for lateness, _ in self._wakes):
                self._wakes.clear()  # punctual again: back to the fast path
            if self._credit > 0 and self._credit_now(now) < before - 0.001:
                self._recredit(now)

    @property
    def window(self) -> float:
        """Seconds one admission of up to ``capacity`` recipients keeps counting."""
        return self._window

    def _expire(self, now: float) -> None:
        # An entry still in flight stays (its request may not have arrived yet); each
        # answered one leaves on its own time (a slow request does not hold the others:
        # at 150 ms and 200 in flight, one slow answer at the head stalled the window).
        closed = self._closed
        # ``start <= now - lifetime``, not ``start + lifetime <= now``: the same rounding as
        # a window ``(now - 1, now]`` that is checked from outside.
        while closed and closed[0].start <= now - closed[0].lifetime:
            entry = heapq.heappop(closed)
            self._in_window -= entry.count
            if entry.answered > now - entry.lifetime:  # out by the credit only
                self._credited.append(entry)
        if not closed:
            self._in_window = self._open  # no drift from float sums
        credited = self._credited
        if credited and credited[0].answered <= now - credited[0].lifetime:
            self._credited = [e for e in credited if e.answered > now - e.lifetime]

    def _close(self, admitted: float, answered: float, count: float) -> None:
        """Count ``count`` recipients admitted at ``admitted`` and answered at ``answered``
        for their lifetime, less the credit (lock held)."""
        lifetime = self._lifetime(count)
        start = max(admitted, answered - self._credit_now(answered))
        entry = _Closed(start + lifetime, next(self._seq), count, start, lifetime, admitted,
                        answered)  # fmt: skip
        heapq.heappush(self._closed, entry)

    def _try_admit(self, n: float, hold: bool) -> float | _Entry:
        """Admit ``n`` now and return its entry, or return how long to wait first."""
        with self._lock:
            now = self._clock.now()
            self._expire(now)
            need = min(n, self._capacity)  # an oversize request waits for an empty window
            if self._in_window + need <= self._capacity + 1e-9:
                entry = _Entry(now, float(n), hold)
                if hold:
                    self._open += n
                else:
                    self._close(now, now, float(n))
                self._in_window += n
                self.admitted += int(n)
                return entry
            self.limited_at = now
            # Earliest time enough answered entries leave the window.
            excess = self._in_window + need - self._capacity
            closed = self._closed
            if not closed:  # only requests in flight: wait for answers, then look again
                return _OPEN_POLL
            if self._in_window - self._open >= excess - 1e-9:
                return max(_time_freed(closed, excess) - now, 1e-6)
            return max(min(closed[0].leaves - now, _OPEN_POLL), 1e-6)

    def _finish(self, entry: _Entry) -> None:
        with self._lock:
            if entry.open:
                entry.open = False
                self._open -= entry.count
                self._close(entry.time, self._clock.now(), entry.count)

    def acquire(self, n: float = 1, abort: Abort | None = None) -> bool:
        """Block until ``n`` recipients may go; True when admitted, False when ``abort`` was set.

        Waiting goes through ``clock.sleep`` (so a :class:`FakeClock` never really sleeps).
        """
        return self._acquire(n, abort, hold=False) is not None

    def reserve(self, n: float = 1, abort: Abort | None = None) -> Reservation | None:
        """Like :meth:`acquire`, but the admission counts until :meth:`Reservation.done`.

        Use it around a request: the provider counts a request when it *arrives*, somewhere
        between ``reserve`` and the answer, so the admission is re-stamped with the time of
        ``done()`` (an upper bound of the arrival). Then no provider-side one-second window
        can hold more than the rate, whatever the latency jitter. None when aborted.
        """
        entry = self._acquire(n, abort, hold=True)
        return Reservation(self, entry) if entry is not None else None

    def _acquire(self, n: float, abort: Abort | None, hold: bool) -> _Entry | None:
        if n <= 0:
            return _Entry(self._clock.now(), 0.0, False)
        # Fast path: nobody is queued.
        if self._turnstile.acquire(blocking=False):
            try:
                return self._wait_and_admit(n, abort, hold)
            finally:
                self._turnstile.release()
        while not self._turnstile.acquire(timeout=_ABORT_POLL):
            if abort is not None and abort.is_set():
                return None
        try:
            return self._wait_and_admit(n, abort, hold)
        finally:
            self._turnstile.release()

    def _wait_and_admit(self, n: float, abort: Abort | None, hold: bool) -> _Entry | None:
        waited = False
        while True:
            if abort is not None and abort.is_set():
                return None
            result = self._try_admit(n, hold)
            if isinstance(result, _Entry):
                if waited:  # held back until now
                    self.limited_at = result.time
                return result
            waited = True
            wait = result
            if abort is not None:
                wait = min(wait, _ABORT_POLL)
            began = self._clock.now()
            self._clock.sleep(wait)
            self._woke(self._clock.now() - began - wait)


def _time_freed(closed: list[_Closed], excess: float) -> float:
    """When the entries that leave first free ``excess`` recipients (``closed`` is a heap).

    Why not ``sorted(closed)``: the caller holds the lock, and at the rate limit every
    admission asks; sorting 500 entries (SendEmail at 500/s) took 0.6 ms each time, a third
    of a core, while the answers that wanted the lock waited. This walks the heap in order
    only as far as it must (one entry for one recipient: the head).
    """
    freed = 0.0
    frontier = [(closed[0].leaves, 0)]
    while frontier:
        leaves, i = heapq.heappop(frontier)
        freed += closed[i].count
        if freed >= excess - 1e-9:
            return leaves
        for child in (2 * i + 1, 2 * i + 2):
            if child < len(closed):
                heapq.heappush(frontier, (closed[child].leaves, child))
    return max(entry.leaves for entry in closed)  # not reached: the caller checked the sum


class Abort(Protocol):
    """What a waiting ``acquire``/``reserve`` looks at: a ``threading.Event``, or anything
    with ``is_set`` (the engine's deadline for a prepared SMTP transaction)."""

    def is_set(self) -> bool: ...


@dataclass(order=True, slots=True)
class _Closed:
    """Answered (or acquired) recipients in the log, ordered by when they leave it."""

    leaves: float  # start + lifetime
    seq: int
    count: float = field(compare=False)
    start: float = field(compare=False)  # counted from: max(admitted, answered - credit)
    lifetime: float = field(compare=False)  # seconds (more than a window if oversize)
    admitted: float = field(compare=False)
    answered: float = field(compare=False)

    def __post_init__(self) -> None:
        self.leaves = self.start + self.lifetime


class _Entry:
    """Recipients admitted at ``time``; ``open`` while their request is in flight."""

    __slots__ = ("count", "open", "time")

    def __init__(self, time: float, count: float, open: bool) -> None:
        self.time = time
        self.count = count
        self.open = open


class PaceMemory:
    """The last run's admissions to one account that still count, for the next run to it.

    Why: a new engine's pacer starts with an empty window. Two runs to the same account
    within a second of each other (a loop over segments, a Ctrl-C and a run again) could
    then each admit the full rate in one second at the provider: the sandbox throttled the
    second of two runs at 20/s, 150 ms away. A target keeps one (``AwsTarget.pace_memory``,
    ``SmtpTarget.pace_memory``); the engine preloads its bucket from it and leaves its own
    tail in it at the end. Times are the pacing clock's (monotonic, this process), so a copy
    in another process (a pickled target on a Dask worker) starts empty.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tail: list[tuple[float, float]] = []

    def keep(self, tail: list[tuple[float, float]]) -> None:
        with self._lock:
            self._tail = list(tail)

    def recall(self) -> list[tuple[float, float]]:
        with self._lock:
            return list(self._tail)

    def __getstate__(self) -> dict[str, object]:
        return {}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__()  # type: ignore[misc]


class KeepsPace:
    """For a target: ``pace_memory``, one :class:`PaceMemory` per target object, made when a
    run first asks (not compared, not in the repr: not a dataclass field)."""

    @functools.cached_property
    def pace_memory(self) -> PaceMemory:
        return PaceMemory()


class Reservation:
    """An admission whose request is in flight; call :meth:`done` when the answer is in."""

    __slots__ = ("_bucket", "_entry")

    def __init__(self, bucket: TokenBucket, entry: _Entry) -> None:
        self._bucket = bucket
        self._entry = entry

    def done(self) -> None:
        """The request finished (or failed): it counts from now on for one window (less the
        bucket's credit)."""
        self._bucket._finish(self._entry)


class AdaptiveRate:
    """AIMD control of a :class:`TokenBucket` when the provider's rate is not known.

    * Slow start: until the first throttle, the rate doubles after each quiet
      ``slow_start_period`` (default ``period``).
    * On throttling: ``rate *= decrease`` (at most once per ``period``, so a burst of
      throttled replies from one wave of requests counts once), never below ``floor``.
      With ``measured=True`` (the engine's choice) it falls instead to ``ACCEPTED_SHARE`` of
      the recipients the provider *accepted* in the last second (:meth:`count`), when that is
      lower than the rate: a throttle says the limit was just reached, and what got through
      in that second is the best measure of it, so there is no halving to climb back from.
    * After a quiet ``period`` with successes: ``rate += max(increase, probe × the rate at
      the last throttle)`` (``probe`` 10 % by default, so recovery from a halving takes ~5
      periods at any scale; the engine probes by 2 % from just below the limit, so that a
      probe over it costs few throttled requests), never above ``ceiling``.
    """

    def __init__(
        self,
        bucket: TokenBucket,
        *,
        floor: float = 1.0,
        ceiling: float = 10_000.0,
        decrease: float = 0.5,
        increase: float | None = None,
        period: float = 1.0,
        slow_start_period: float | None = None,
        probe: float = 0.1,
        measured: bool = False,
    ) -> None:
        if not 0 < decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        if floor <= 0 or ceiling < floor:
            raise ValueError("need 0 < floor <= ceiling")
        self.bucket = bucket
        self.floor = float(floor)
        self.ceiling = float(ceiling)
        self.decrease = decrease
        self.increase = float(increase) if increase is not None else max(1.0, floor)
        self.period = period
        self.slow_start_period = period if slow_start_period is None else slow_start_period
        self.probe = probe
        self.measured = measured
        self._accepted: deque[tuple[float, float]] = deque()  # (time, recipients), last 1 s
        self._accepted_total = 0.0
        self.slow_start = True
        self._lock = threading.Lock()
        clock = bucket.clock
        self._clock = clock
        self._last_change = clock.now()
        self._last_throttle: float | None = None
        self._last_throttle_rate: float | None = None
        bucket.set_rate(min(max(bucket.rate, self.floor), self.ceiling))

    @property
    def rate(self) -> float:
        return self.bucket.rate

    def acquire(self, n: float = 1, abort: Abort | None = None) -> bool:
        """Same as :meth:`TokenBucket.acquire`."""
        return self.bucket.acquire(n, abort)

    def reserve(self, n: float = 1, abort: Abort | None = None) -> Reservation | None:
        """Same as :meth:`TokenBucket.reserve`."""
        return self.bucket.reserve(n, abort)

    def _measured_success(self, now: float) -> None:
        """``on_success`` with ``measured``: grow smoothly, and only a rate that is used.

        Slow start grows continuously (doubling every ``slow_start_period``) instead of in
        steps: a step frees a whole window of admissions at once, and the part above the limit
        comes back throttled; growing a little on every answer crosses the limit by a little.
        Neither phase grows a rate the answers show is not used (a CPU-bound client, a short
        frame), nor one that held nothing back in the last period (no admission waited for
        it): a rate far above what is sent would allow a burst later (RFC 7661's rule for
        TCP's window, for the same reason). The second test is the one that holds at the
        limit: there the answers show the limit used, so slow start went on to 2.5 times it
        while the client sent no faster (at 500/s, on a loaded machine, to 1,251/s); when the
        workers caught up, the room came out at once and 35 requests were throttled.
        """
        if self._last_throttle is not None and now - self._last_throttle < self.period:
            return
        self._trim(now)
        rate = self.bucket.rate
        quiet = now - self._last_change
        held_back = now - self.bucket.limited_at <= self.period
        if self.slow_start:
            if self._accepted_total < SLOW_START_USE * rate or not held_back:
                return  # (the quiet time keeps counting: the next step is at most 2x)
            new = rate * 2 ** min(1.0, quiet / self.slow_start_period)
        else:
            if quiet < self.period:
                return
            self._last_change = now
            if self._accepted_total < PROBE_USE * rate or not held_back:
                return
            new = rate + max(self.increase, self.probe * (self._last_throttle_rate or 0.0))
        self._last_change = now
        self.bucket.set_rate(min(self.ceiling, new))

    def count(self, recipients: float) -> None:
        """``recipients`` were just accepted by the provider (for ``measured``)."""
        if not self.measured or recipients <= 0:
            return
        with self._lock:
            now = self._clock.now()
            self._accepted.append((now, recipients))
            self._accepted_total += recipients
            self._trim(now)

    def _trim(self, now: float) -> None:
        accepted = self._accepted  # caller holds the lock
        while accepted and accepted[0][0] <= now - 1.0:
            self._accepted_total -= accepted.popleft()[1]

    def on_throttle(self) -> None:
        """A throttling answer arrived: back off (once per period); see the class docstring."""
        with self._lock:
            now = self._clock.now()
            self.slow_start = False
            if self._last_throttle is not None and now - self._last_throttle < self.period:
                return
            self._last_throttle = now
            rate = self.bucket.rate
            self._last_throttle_rate = rate
            self._last_change = now
            new = rate * self.decrease
            if self.measured:
                self._trim(now)
                got = ACCEPTED_SHARE * self._accepted_total
                if 0 < got < rate:
                    new = got
                    # probe from the limit found, not from a slow start's overshoot
                    self._last_throttle_rate = got / ACCEPTED_SHARE
            self.bucket.set_rate(max(self.floor, new))

    def on_success(self) -> None:
        """An accepted request: probe upward once a quiet period has passed."""
        with self._lock:
            now = self._clock.now()
            if self.measured:
                self._measured_success(now)
                return
            period = self.slow_start_period if self.slow_start else self.period
            if now - self._last_change < period:
                return
            if self._last_throttle is not None and now - self._last_throttle < self.period:
                return
            quiet, self._last_change = now - self._last_change, now
            rate = self.bucket.rate
            if self.slow_start:
                # Answers come in bursts at a low rate (a window's worth at once), so a quiet
                # spell may span several periods: double once for each (at most 4x).
                new = rate * 2 ** min(2, int(quiet / period))
            else:
                # Additive, with a step that scales with the rate last found too high, so
                # recovering from a halving takes a handful of periods at any scale.
                step = max(self.increase, self.probe * (self._last_throttle_rate or 0.0))
                new = rate + step
            self.bucket.set_rate(min(self.ceiling, new))
