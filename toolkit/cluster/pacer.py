"""The worker side of the shared quota: a pacer and a daily budget that lease from the service.

:class:`LeasedPacer` is what :class:`~toolkit.delivery.engine.SendEngine` gets instead of its
local :class:`~toolkit.delivery.pacing.TokenBucket` (it has the engine's
:class:`~toolkit.delivery.engine.Pacer` methods: ``reserve``, ``capacity``, ``rate``). It asks
the service for about ``rate × slice`` tokens at a time, hands them to the engine's threads
with ``reserve(n)``, retires a lease when it is used up or ``slice`` seconds old, and reports
it finished once its last request is answered (fire and forget), with stamps that say when
each group of requests was answered (see :mod:`toolkit.cluster.quota`).

:class:`SharedDaily` is the engine's :class:`~toolkit.delivery.engine.DailyBudget`: it takes
blocks of the 24-hour quota and gives back what is left at the end of the task.

Both talk to the service through a :class:`Channel`; :class:`SchedulerChannel` is the real one
(the scheduler's handlers, from any thread of a task on a worker).

Usage (inside a task on a Dask worker)::

    channel = SchedulerChannel(scope, run)
    pacer = LeasedPacer(channel, rate=100)
    engine = SendEngine(plan, transport, config, pacer=pacer, daily=SharedDaily(channel, 100))
    try:
        engine.run()
    finally:
        pacer.close()
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from toolkit.cluster.quota import FENCED, PAUSED, STOPPED
from toolkit.delivery.pacing import Abort

__all__ = ["Channel", "FencedError", "LeasedPacer", "SchedulerChannel", "SharedDaily"]

SLICE_S = 0.1
"""Seconds of the rate one lease holds (about ten service calls per second per worker)."""
STAMP_BUCKET_S = 0.01
"""Answers within this many seconds share one stamp (bounds the finish report's size)."""
RECREDIT_KEEP_S = 2.0
"""Seconds a finished lease may still be re-credited: longer than a window and an answer."""
RECREDIT_MIN_S = 0.001
"""A credit change smaller than this is not worth a message to the service."""
CALL_TIMEOUT_S = 30.0
_ABORT_POLL = 0.1


class FencedError(RuntimeError):
    """The scheduler no longer lists this worker process: it must stop sending now (Dask is
    running, or will run, its task elsewhere)."""


class Channel(Protocol):
    """How a worker reaches the quota service."""

    def lease(self, want: float, need: float) -> tuple[int, float, float]: ...

    def trim(self, lease_id: int, used: float) -> None: ...

    def finish(self, lease_id: int, used: float, stamps: list[list[float]]) -> None: ...

    def recredit(self, lease_ids: list[int], seconds: float) -> None: ...

    def daily(self, want: float, need: float) -> float: ...

    def give_back(self, n: float) -> None: ...


class SchedulerChannel:
    """The quota handlers of the scheduler this worker belongs to (:mod:`.service`).

    Must be made on the task's own thread (``get_worker()`` works there); its methods may then
    be called from any thread the task starts.
    """

    def __init__(self, scope: str, run: str) -> None:
        from distributed import get_worker

        self._worker = get_worker()
        self.scope = scope
        self.run = run
        self.owner = f"{self._worker.address}#{self._worker.id}"

    def _call(self, handler: str, **kwargs: Any) -> Any:
        from distributed.utils import sync

        method = getattr(self._worker.scheduler, handler)
        return sync(self._worker.loop, method, callback_timeout=CALL_TIMEOUT_S, **kwargs)

    def _post(self, handler: str, **kwargs: Any) -> None:
        """Fire and forget (the worker's event loop sends it)."""
        self._worker.loop.add_callback(getattr(self._worker.scheduler, handler), **kwargs)

    def lease(self, want: float, need: float) -> tuple[int, float, float]:
        answer = self._call("toolkit_quota_lease", **self._who(), want=want, need=need)
        return int(answer[0]), float(answer[1]), float(answer[2])

    def trim(self, lease_id: int, used: float) -> None:
        self._post("toolkit_quota_trim", scope=self.scope, lease_id=lease_id, used=used)

    def finish(self, lease_id: int, used: float, stamps: list[list[float]]) -> None:
        self._post(
            "toolkit_quota_finish", scope=self.scope, lease_id=lease_id, used=used, stamps=stamps
        )

    def recredit(self, lease_ids: list[int], seconds: float) -> None:
        self._post("toolkit_quota_recredit", scope=self.scope, lease_ids=lease_ids,
                   seconds=seconds)  # fmt: skip

    def daily(self, want: float, need: float) -> float:
        return float(self._call("toolkit_quota_daily", **self._who(), want=want, need=need))

    def _who(self) -> dict[str, str]:
        return {"scope": self.scope, "run": self.run, "owner": self.owner}

    def give_back(self, n: float) -> None:
        self._post("toolkit_quota_give_back", scope=self.scope, n=n)

    def breaker(self, accepted: int, give_up: bool) -> tuple[str | None, bool, bool]:
        """The run's circuit breaker on the scheduler (:mod:`toolkit.cluster.breaker`)."""
        answer = self._call("toolkit_breaker_admit", run=self.run, accepted=accepted,
                            give_up=give_up)  # fmt: skip
        return (str(answer[0]) if answer[0] else None), bool(answer[1]), bool(answer[2])

    def alive(self, owner: str) -> bool:
        """Is ``owner`` still the worker process the scheduler lists at its address?"""
        return bool(self._call("toolkit_owner_alive", owner=owner))

    def task(self) -> str:
        """The key of the Dask task running on this thread, as text."""
        return str(self._worker.get_current_task())


class _Lease:
    """A lease as the worker sees it: tokens left, requests open, answers by stamp bucket."""

    __slots__ = ("born", "lease_id", "left", "open", "retired", "rtt", "stamps", "used")

    def __init__(self, lease_id: int, count: float, born: float, rtt: float) -> None:
        self.lease_id = lease_id
        self.left = count
        self.used = 0.0
        self.born = born
        self.rtt = rtt
        self.open = 0
        self.retired = False
        self.stamps: dict[int, float] = {}


class _Held:
    """One reservation: ``done()`` when its request is answered."""

    __slots__ = ("_lease", "_n", "_pacer")

    def __init__(self, pacer: LeasedPacer, lease: _Lease, n: float) -> None:
        self._pacer, self._lease, self._n = pacer, lease, n

    def done(self) -> None:
        self._pacer._done(self._lease, self._n)


class LeasedPacer:
    """The engine's pacer, backed by leases of one cluster-wide rate (module docstring).

    ``reserve`` returns None when ``abort`` is set while waiting, or when the run was
    cancelled (``on_stop`` callbacks run first) or its circuit breaker tripped (``on_pause``
    callbacks run first: requests already waiting for tokens stop too); it raises
    :class:`FencedError` when the scheduler has dropped this worker.
    """

    def __init__(
        self,
        channel: Channel,
        rate: float,
        *,
        slice_s: float = SLICE_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._channel = channel
        self._rate = float(rate)
        self._lease_size = max(1.0, math.ceil(self._rate * slice_s))
        self._slice = slice_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._fetch = threading.Lock()  # one thread asks the service at a time
        self._current: _Lease | None = None
        self._stop_callbacks: list[Callable[[], None]] = []
        self._pause_callbacks: list[Callable[[], None]] = []
        self.stopped = threading.Event()
        self.calls = 0
        self._credit = 0.0
        # (lease id, credit its stamps were sent with, when) of recently finished leases
        self._stamped: deque[tuple[int, float, float]] = deque()

    def set_credit(self, seconds: float) -> None:
        """Let an answered request count from ``seconds`` before its answer, as
        :meth:`toolkit.delivery.pacing.TokenBucket.set_credit` does (the same argument: the
        provider counted it no later than its way back before the answer).

        As there, every answer still in the window counts with the credit given last: a
        lease's stamps take the credit in force when it is reported, and the leases reported
        in the last :data:`RECREDIT_KEEP_S` with another one are re-credited at the service
        (:meth:`toolkit.cluster.quota.RateLog.recredit`).
        """
        if not seconds >= 0:
            raise ValueError("credit must be >= 0")
        credit = min(float(seconds), 0.5)
        if credit == self._credit:
            return
        with self._lock:
            self._credit = credit
            now = self._clock()
            kept = [s for s in self._stamped if now - s[2] <= RECREDIT_KEEP_S]
            moves: dict[float, list[int]] = {}
            for lease_id, used, _ in kept:
                if abs(credit - used) >= RECREDIT_MIN_S:
                    moves.setdefault(used, []).append(lease_id)
            self._stamped = deque(
                (lease_id, credit if used in moves else used, at) for lease_id, used, at in kept
            )
            for used, lease_ids in moves.items():
                self._channel.recredit(lease_ids, credit - used)

    @property
    def rate(self) -> float:
        """The cluster's rate (recipients per second, all workers together)."""
        return self._rate

    @property
    def capacity(self) -> float:
        """The largest request one window holds: the whole rate."""
        return max(1.0, self._rate)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once) when the service says the run was cancelled."""
        self._stop_callbacks.append(callback)

    def on_pause(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once) when the service says the run's breaker tripped."""
        self._pause_callbacks.append(callback)

    def _take(self, n: float, fresh: bool = False) -> _Lease | None:
        """Take ``n`` from the current lease if it is young enough and holds them (lock held)."""
        lease = self._current
        if lease is None:
            return None
        young = fresh or self._clock() - lease.born < self._slice
        if young and lease.left + 1e-9 >= n:
            lease.left -= n
            lease.used += n
            lease.open += 1
            return lease
        self._retire(lease)
        return None

    def _retire(self, lease: _Lease) -> None:
        lease.retired = True
        self._current = None
        if lease.open == 0:
            self._report(lease)
        elif lease.left > 0:  # answers still to come: free what was never handed out now
            self._channel.trim(lease.lease_id, lease.used)

    def _report(self, lease: _Lease) -> None:
        if lease.used <= 0:
            self._channel.finish(lease.lease_id, 0.0, [])
            return
        credit = self._credit
        stamps = [[count, max(0.0, bucket * STAMP_BUCKET_S - credit)]
                  for bucket, count in lease.stamps.items()]  # fmt: skip
        self._channel.finish(lease.lease_id, lease.used, stamps)
        now = self._clock()
        self._stamped.append((lease.lease_id, credit, now))
        while now - self._stamped[0][2] > RECREDIT_KEEP_S:
            self._stamped.popleft()

    def reserve(self, n: float = 1, abort: Abort | None = None) -> _Held | None:
        """Admit ``n`` recipients now or after waiting; see the class docstring."""
        while True:
            if self.stopped.is_set() or (abort is not None and abort.is_set()):
                return None
            with self._lock:
                lease = self._take(n)
            if lease is not None:
                return _Held(self, lease, n)
            with self._fetch:
                with self._lock:  # another thread may have fetched a lease meanwhile
                    lease = self._take(n)
                if lease is not None:
                    return _Held(self, lease, n)
                sent = self._clock()
                lease_id, granted, wait = self._channel.lease(max(n, self._lease_size), n)
                received = self._clock()
                self.calls += 1
                if lease_id == FENCED:
                    raise FencedError("the scheduler no longer lists this worker; stopping")
                if lease_id == STOPPED:
                    self._stop()
                    return None
                if lease_id == PAUSED:
                    self._stop(self._pause_callbacks)
                    return None
                if lease_id > 0:
                    with self._lock:
                        self._current = _Lease(lease_id, granted, received, received - sent)
                        lease = self._take(n, fresh=True)
                    assert lease is not None  # granted >= n, and nobody else took from it
                    return _Held(self, lease, n)
            self._wait(wait, abort)

    def _wait(self, seconds: float, abort: Abort | None) -> None:
        end = self._clock() + seconds
        while True:
            left = end - self._clock()
            if left <= 0 or (abort is not None and abort.is_set()):
                return
            self._sleep(min(left, _ABORT_POLL))

    def _done(self, lease: _Lease, n: float) -> None:
        with self._lock:
            lease.open -= 1
            # An upper bound of the answer time after the grant (receipt offset + the lease's
            # round trip to the scheduler); the latency credit comes off when it is reported.
            offset = max(0.0, self._clock() - lease.born + lease.rtt)
            bucket = math.ceil(offset / STAMP_BUCKET_S)
            lease.stamps[bucket] = lease.stamps.get(bucket, 0.0) + n
            if lease.retired and lease.open == 0:
                self._report(lease)

    def _stop(self, callbacks: list[Callable[[], None]] | None = None) -> None:
        if self.stopped.is_set():
            return
        for callback in self._stop_callbacks if callbacks is None else callbacks:
            callback()
        self.stopped.set()

    def close(self) -> None:
        """Give back the current lease's unused tokens (the task's sends are over)."""
        with self._lock:
            if self._current is not None:
                self._retire(self._current)


class SharedDaily:
    """The engine's 24-hour budget, taken from the service's pool in blocks of ``block``."""

    def __init__(self, channel: Channel, block: float) -> None:
        self._channel = channel
        self._block = max(1.0, float(block))
        self._held = 0.0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self._lock:
            if self._held >= n:
                self._held -= n
                return True
            short = n - self._held
            granted = self._channel.daily(max(short, self._block), short)
            if granted == FENCED:
                raise FencedError("the scheduler no longer lists this worker; stopping")
            if granted < short:
                return False
            self._held += granted - n
            return True

    def close(self) -> None:
        """Return what this task took and did not use."""
        with self._lock:
            held, self._held = self._held, 0.0
        if held > 0:
            self._channel.give_back(held)
