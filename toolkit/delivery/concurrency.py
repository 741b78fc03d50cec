"""How many requests to keep in flight: enough to meet the pace at the provider's latency.

Throughput through a provider is bounded by requests in flight ÷ answer time (Little's law),
so a fixed number of threads reaches the quota on loopback and falls far short at a real
distance (8 threads at 50 ms make 160 SendEmail calls/s, not 500). :class:`Concurrency`
measures each call's answer time and the recipients it carried, and says how many calls to
keep in flight::

    in flight = ceil(rate × answer time ÷ recipients per call × MARGIN) + SPARE

It follows the median of the recent answer times, grows at once and shrinks slowly (after
:data:`SHRINK_AFTER_S` of lower need), within ``[1, ceiling]``. It never paces: the pacer
admits every request, so more workers than needed only wait for it.

It sizes for at most :data:`QUEUEING` times the fastest recent answer: slower answers are
queueing (a saturated server, a starved client), which more requests in flight only lengthen.
It does not grow while the process is already CPU-bound (one core of CPU time per second of
wall time, the GIL's limit): on loopback the "latency" is our own CPU, and more threads would
only add contention. Beyond that, more processes help, not more threads (``send_partitioned``).

The run's shortest answer time is also what the engine's pacer may credit back
(:attr:`credit`; see :meth:`toolkit.delivery.pacing.TokenBucket.set_credit`).

What a run learnt of the distance (:class:`PathEstimate`, :meth:`Concurrency.estimate`) can
start the next run on the same connections (:meth:`Concurrency.recall`): a Dask worker's next
partition then sizes and credits from its first request, instead of spending a second on
guesses and no credit at each partition's start.

Usage::

    sizing = Concurrency(initial=8, ceiling=256)
    sizing.record(seconds=0.052, recipients=1)       # after each call
    workers = sizing.target(rate=500.0, batch=1)     # how many threads to run now
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "BATCH_CREDIT_SHARE",
    "CPU_BOUND",
    "CREDIT_AFTER_S",
    "CREDIT_SHARE",
    "MARGIN",
    "PATH_MEMORY_S",
    "PREPARED_WINDOW_SHARE",
    "QUEUEING",
    "SHRINK_AFTER_S",
    "SPARE",
    "Concurrency",
    "PathEstimate",
]

MARGIN = 1.3
"""Calls in flight beyond Little's law: answer times vary, and a worker also spends time on
the journal and on waiting for the pacer's turnstile between calls."""
SPARE = 2
"""Workers on top of the margin: one waiting for the pacer, one settling a reply."""
SHRINK_AFTER_S = 2.0
"""Seconds the need must stay lower before workers are let go (latency spikes are short)."""
CPU_BOUND = 0.85
"""Process CPU seconds per wall second above which growing stops (the GIL allows ~1.0)."""
PREPARED_WINDOW_SHARE = 2.0
"""For a transport that prepares its transactions before the pacer admits them (SMTP): keep
up to this many times Little's law in flight, to hold a whole window's worth prepared.

Why: a prepared transaction spends its round trips (MAIL, RCPT, DATA: three of four at SMTP)
before the pacer admits it. When the first window's tokens outnumber the transactions
prepared, the rest wait for a connection to prepare again (a whole transaction), and the
sliding window repeats that lag in every later window: at 150 ms, 160 connections for 200
messages/s used 160 tokens at once and 40 a transaction (0.6 s) later, every second of the run,
and the run ended that much later (0.93 of the rate; 210 connections: 0.99). Twice Little's
law covers a window's worth wherever a transaction takes about 0.4 s or more, where that lag
costs most; closer, the lag is one short transaction, and the connections are not worth it."""
QUEUEING = 1.5
"""An answer time above this many times the fastest recent one counts as queueing: sizing
uses at most that (as TCP Vegas tells queueing from distance by the shortest round trip)."""
CREDIT_SHARE = 0.9
"""Share of the run's shortest answer time the pacer may credit (see ``credit``), for calls
the provider counts at one moment (one message: SES SendEmail, and an SMTP transaction's
last round trip, the content and its verdict, when the transaction was prepared up to
``354`` before the pacer admitted it; see :mod:`toolkit.transports.smtp`).

Why 0.9: what is not credited stretches every window. With :data:`PROCESSING_ALLOWANCE` the
margin is 15 ms at 50 ms and 25 ms at 150 ms, room for the two legs' shortest not coming in
the same request; at 0.8 (20 and 40 ms) SendEmail 150 ms away reached 0.94-0.95 of the rate,
at 0.9 0.96, never throttled by the sandbox, which counts a request at the last moment (its
whole latency before the count). A wrong guess costs a throttled request that is retried
(``toolkit.delivery.retry``), never a lost or doubled row."""
PROCESSING_ALLOWANCE = 0.010
"""Seconds kept back from the credit: the provider's own work before it counts a request is
part of the round trip but not of its ways out and back (on loopback it is nearly all of it:
a credit of 0.8 of a 1-ms round trip let the sandbox, which counts exactly, throttle 2 of
120 requests at 14/s)."""
BATCH_CREDIT_SHARE = CREDIT_SHARE
"""The same for calls of many recipients (SendBulkEmail, Pinpoint SendMessages). It rests on
a modelled assumption (``toolkit.facts.BATCH_COUNT_MOMENT``): the provider counts a call at
moments inside its round trip, after its way out and before its way back, as its per-call
quota implies; the credit never reaches into the provider's processing of the call (the
:data:`PROCESSING_ALLOWANCE` and the share keep a margin for it). These calls were paced
strictly (no credit) after the sandbox throttled Pinpoint calls of 100 at 50 ms at any share;
the cause was not the count inside the call but the credit taken from the first, queued
answers (:data:`CREDIT_AFTER_S`) and kept for a whole window after a shorter round trip was
found (:meth:`toolkit.delivery.pacing.TokenBucket.set_credit`)."""
CREDIT_AFTER_S = 1.0
"""Seconds after the run's first answer before the pacer may take any credit. The first
window is admitted at once, and its calls queue behind each other at the provider and in our
own process: their answer times measure that queue, not the distance (at 150 ms, Pinpoint
calls of 100 first answered in 480-570 ms; a credit from them let the sandbox throttle the
next window in 3 runs of 6). Calls admitted later, as the first ones leave the window, come
spread out and give the shortest round trip its meaning."""
PATH_MEMORY_S = 60.0
"""Seconds a run's :class:`PathEstimate` may start the next run: long enough for the next
partition on a Dask worker, short enough that the path is still the one measured."""
_ALPHA = 0.2  # weight of a new sample in the smoothed recipients per call
_SAMPLES = 128  # recent answer times kept for the minimum
_PERIOD_S = 0.1  # the target is recomputed at most this often


@dataclass(frozen=True, slots=True)
class PathEstimate:
    """What a run measured of the way to the provider, for the next run on the same transport.

    Only runs that measured past :data:`CREDIT_AFTER_S` give one: their shortest answer came
    from calls spread out in time, not from the first ones queued behind each other.
    """

    shortest: float  # the run's shortest counted answer, seconds (what the credit rests on)
    latency: float  # the median of its recent answers, seconds (what sizing rests on)
    recipients: float  # recipients per call, smoothed
    measured_at: float  # the sizing clock's time (monotonic seconds)


class Concurrency:
    """Measured answer times → the number of calls to keep in flight; thread-safe.

    Args:
        initial: workers before the first answer is measured.
        ceiling: workers at most (the engine's cap, see :data:`~.config.MAX_WORKERS`).
        batched: calls carry many recipients (credit :data:`BATCH_CREDIT_SHARE`).
        strict: the provider counts a request later than its round trip shows: no credit
            at all (a transport that says ``paced_strictly = True``; none of ours since SMTP
            prepares its transaction before the pacer admits it and counts only the last
            round trip, ``record(counted=)``).
        prepared: calls are prepared before the pacer admits them (a two-phase transport):
            keep a window's worth in flight (:data:`PREPARED_WINDOW_SHARE`).
        fixed: the user chose the level (``workers=``): keep ``initial`` whatever is
            measured, but still measure, for the pacer's credit and the next run's
            :class:`PathEstimate` (the distance is the same whoever chose the threads).
        cpu_time: process CPU seconds (``time.process_time``); a seam for tests.
        clock: wall seconds (``time.monotonic``); a seam for tests.
    """

    def __init__(
        self,
        *,
        initial: int,
        ceiling: int,
        batched: bool = False,
        strict: bool = False,
        prepared: bool = False,
        fixed: bool = False,
        cpu_time: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = max(1, int(ceiling))
        self._share = 0.0 if strict else BATCH_CREDIT_SHARE if batched else CREDIT_SHARE
        self._current = max(1, min(int(initial), self.ceiling))
        self._fixed = fixed
        self._prepared = prepared
        self._cpu_time = cpu_time
        self._clock = clock
        self._lock = threading.Lock()
        self._recipients: float | None = None  # smoothed recipients per call
        self._recent: deque[float] = deque(maxlen=_SAMPLES)
        self._shortest = math.inf  # the shortest answer of the run
        self._first_answer: float | None = None  # when the run's first answer came
        self._last_eval = clock()
        self._cpu_mark = (clock(), cpu_time())
        self._cpu_share = 0.0
        self._lower_since: float | None = None
        self.peak = self._current  # the highest level reached (reports show it)

    @property
    def latency(self) -> float | None:
        """The median answer time of the recent calls, seconds (None before the first).

        The median, not a mean: a few slow answers (a new SMTP connection, a pause of the
        process) must not double the threads, and a latency that really rose moves the median
        within half the samples kept (a fraction of a second at the rates that need many).
        """
        with self._lock:
            return self._median()

    def _median(self) -> float | None:
        recent = sorted(self._recent)  # caller holds the lock
        return recent[len(recent) // 2] if recent else None

    @property
    def credit(self) -> float:
        """Seconds the pacer may take off an answered request's window (0 before answers).

        A request is counted by the provider somewhere inside its round trip; the next one
        cannot arrive sooner than its own way out, and an answered one arrived no later than
        its way back before the answer. The shortest round trip of the whole run bounds the
        shortest way out plus the shortest way back (a run's *recent* shortest would not: a
        slow spell may lengthen only one of the two legs); :data:`CREDIT_SHARE` of it leaves
        room for the legs' shortest not coinciding (:data:`BATCH_CREDIT_SHARE` for calls of
        many recipients). None before :data:`CREDIT_AFTER_S` of answers: the first ones
        queued behind each other.
        """
        shortest, first = self._shortest, self._first_answer
        if first is None or self._clock() - first < CREDIT_AFTER_S:
            return 0.0
        return max(0.0, self._share * shortest - PROCESSING_ALLOWANCE)

    def estimate(self) -> PathEstimate | None:
        """What this run learnt of the distance, or None before it may take credit."""
        with self._lock:
            first, latency = self._first_answer, self._median()
            if first is None or latency is None or self._clock() - first < CREDIT_AFTER_S:
                return None
            return PathEstimate(self._shortest, latency, self._recipients or 1.0, self._clock())

    def recall(self, path: PathEstimate | None, rate: float | None, batch: float) -> int:
        """Start from an earlier run's ``path`` when it is recent (:data:`PATH_MEMORY_S`) and
        nothing was measured yet: size for its latency and take its credit at once (new answers
        only lower the shortest). Returns the level."""
        with self._lock:
            now = self._clock()
            fresh = path is not None and 0 <= now - path.measured_at <= PATH_MEMORY_S
            if path is None or not fresh or self._recent:
                return self._current
            self._recent.append(path.latency)
            self._shortest = min(self._shortest, path.shortest)
            self._recipients = path.recipients
            self._first_answer = now - CREDIT_AFTER_S
            if rate is not None and rate > 0 and not self._fixed:
                self._current = max(1, min(self.ceiling, self._need(rate, batch)))
                self.peak = max(self.peak, self._current)
            return self._current

    def record(self, seconds: float, recipients: int, counted: float | None = None) -> None:
        """One call took ``seconds`` and carried ``recipients`` recipients.

        ``counted``: the part of it inside the pacer's reservation, the round trip in which
        the provider counts the message, when that is not the whole call (a prepared SMTP
        transaction: its ``354`` came before the pacer admitted it, the content and the
        verdict after). Sizing needs the whole time (a thread is busy for all of it), the
        credit only that round trip: its ways out and back are what the credit may take.
        """
        seconds = max(0.0, seconds)
        counted = seconds if counted is None else max(0.0, min(counted, seconds))
        with self._lock:
            self._recent.append(seconds)
            if self._first_answer is None:
                self._first_answer = self._clock()
            if counted < self._shortest:
                self._shortest = counted
            if self._recipients is None:
                self._recipients = float(recipients)
            else:
                self._recipients += _ALPHA * (recipients - self._recipients)

    def expect(self, seconds: float, rate: float | None, batch: float) -> int:
        """Before the first answer: size now for calls expected to take ``seconds`` (a
        transport's estimate from opening its connections), so that the first workers cover
        the distance from the start instead of a few seconds in. The estimate joins the
        sizing's samples, never the credit's shortest. Returns the level."""
        with self._lock:
            if self._recent or rate is None or rate <= 0 or not seconds > 0 or self._fixed:
                return self._current
            self._recent.append(float(seconds))
            # The estimate replaces the initial guess, both ways: at 1/s, eight threads
            # would only queue at the pacer (a prepared SMTP transaction may not wait long).
            self._current = max(1, min(self.ceiling, self._need(rate, batch)))
            self.peak = max(self.peak, self._current)
            return self._current

    def need(self, rate: float, batch: float) -> int:
        """Calls in flight that meet ``rate`` recipients/s at the measured answer time and
        recipients per call (``batch`` until measured), before caps and CPU checks."""
        with self._lock:
            return self._need(rate, batch)

    def _need(self, rate: float, batch: float) -> int:
        latency = self._median()
        if latency is None:
            return self._current
        # Answers far slower than the fastest recent one are queueing (at a saturated server,
        # or in a CPU-starved client), not distance: more in flight would only queue longer.
        latency = min(latency, QUEUEING * min(self._recent))
        per_call = max(1.0, self._recipients or batch)
        little = rate / per_call * latency * MARGIN
        if self._prepared:  # a window's worth prepared, within reason
            little = max(little, min(rate / per_call, PREPARED_WINDOW_SHARE * little))
        return math.ceil(little) + SPARE

    def target(self, rate: float | None, batch: float) -> int:
        """Workers to run now for ``rate`` (None = unpaced: stay where we are)."""
        now = self._clock()
        with self._lock:
            if self._fixed or now - self._last_eval < _PERIOD_S or rate is None or rate <= 0:
                return self._current
            self._last_eval = now
            self._sample_cpu(now)
            want = min(self.ceiling, max(1, self._need(rate, batch)))
            if want > self._current:
                self._lower_since = None
                if self._cpu_share < CPU_BOUND:
                    self._current = want
            elif want < self._current:
                if self._lower_since is None:
                    self._lower_since = now
                elif now - self._lower_since >= SHRINK_AFTER_S:
                    self._current = want
                    self._lower_since = None
            else:
                self._lower_since = None
            self.peak = max(self.peak, self._current)
            return self._current

    def _sample_cpu(self, now: float) -> None:
        wall0, cpu0 = self._cpu_mark
        if now - wall0 < 0.5:
            return
        cpu = self._cpu_time()
        self._cpu_share = (cpu - cpu0) / (now - wall0)
        self._cpu_mark = (now, cpu)

    @property
    def current(self) -> int:
        """The level last decided."""
        return self._current
