"""The quota service: a Dask scheduler plugin that leases the account's send rate to workers.

Why the scheduler: it outlives every worker (an Actor dies with the worker that hosts it, and
every task holding it fails with it), its handlers run on its event loop with no thread hop,
and it learns at once when a worker is removed, so the dead worker's leases are closed
immediately and the worker is *fenced*: a process the scheduler no longer lists (dead, or
cut off and still running its task as a zombie while Dask re-runs the task elsewhere) gets no
more tokens, so it stops within one lease.

The plugin keeps one :class:`~toolkit.cluster.quota.RateLog` and one
:class:`~toolkit.cluster.quota.DailyPool` per *scope* (one provider account: runs that send to
the same account at the same time share its quota) and adds these scheduler handlers, called
by :mod:`toolkit.cluster.pacer` on the workers and by :mod:`toolkit.cluster.run`:

=============================  ==============================================================
``toolkit_quota_open``         a run starts: its rate, window and 24-hour budget for a scope
``toolkit_quota_close``        the run ended (or was cancelled: its senders stop)
``toolkit_quota_lease``        tokens for a worker (``[id, granted, wait]``; id -1 = fenced,
                               -2 = the run was cancelled, -3 = its breaker tripped)
``toolkit_quota_trim``         a retired lease's unused tokens leave the window now
``toolkit_quota_finish``       the lease's requests are answered (with stamps)
``toolkit_quota_recredit``     the sender's latency credit changed since it stamped leases
``toolkit_quota_daily``        a block of the 24-hour quota (-1 = fenced)
``toolkit_quota_give_back``    unused recipients of a block
``toolkit_quota_stats``        counters of a scope (reports, tests)
``toolkit_owner_alive``        is this worker process still the one the scheduler lists?
``toolkit_breaker_open``       a run follows its events: its one circuit breaker's board
``toolkit_breaker_report``     the client's breaker: fates known, and why it tripped
``toolkit_breaker_admit``      a worker's newly accepted messages; ``[reason, hold, canary]``
=============================  ==============================================================

The circuit breaker's board (:mod:`toolkit.cluster.breaker`) lives here for the same reasons
as the quota: one place every worker of the run asks, which outlives them.

An owner is ``"<worker address>#<worker id>"``: a worker restarted by its nanny at the same
address is another owner, so a fenced process stays fenced.

The toolkit must be importable where the scheduler runs (it unpickles this class).

Usage::

    client.register_plugin(QuotaService())          # once per cluster (idempotent)
    client.sync(client.scheduler.toolkit_quota_open, scope=..., run=..., rate=100.0,
                window=1.0, daily=None)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from toolkit.cluster.breaker import BreakerBoard, BreakerSettings
from toolkit.cluster.quota import FENCED, PAUSED, STOPPED, DailyPool, RateLog

__all__ = ["QuotaService", "owner_alive"]

log = logging.getLogger(__name__)

SLICE_COALESCE = 0.03  # seconds: see RateLog(coalesce=...)


def owner_alive(scheduler: Any, owner: str) -> bool:
    """True while ``owner`` ("address#id") is the worker the scheduler lists at that address."""
    address, _, worker_id = owner.rpartition("#")
    state = scheduler.workers.get(address)
    return state is not None and getattr(state, "server_id", None) == worker_id


@dataclass
class _Scope:
    rates: RateLog
    daily: DailyPool
    runs: set[str] = field(default_factory=set)


class QuotaService(SchedulerPlugin):
    """The scheduler-side quota service (see the module docstring)."""

    name = "toolkit-quota"
    idempotent = True

    def __init__(self) -> None:
        self.scheduler: Any = None
        self.scopes: dict[str, _Scope] = {}
        self.stopped: set[str] = set()
        self.boards: dict[str, BreakerBoard] = {}
        self.dropped = 0

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        scheduler.handlers.update(
            {
                "toolkit_quota_open": self.open,
                "toolkit_quota_close": self.close_run,
                "toolkit_quota_lease": self.lease,
                "toolkit_quota_trim": self.trim,
                "toolkit_quota_finish": self.finish,
                "toolkit_quota_recredit": self.recredit,
                "toolkit_quota_daily": self.daily,
                "toolkit_quota_give_back": self.give_back,
                "toolkit_quota_stats": self.stats,
                "toolkit_owner_alive": self.alive,
                "toolkit_breaker_open": self.breaker_open,
                "toolkit_breaker_report": self.breaker_report,
                "toolkit_breaker_admit": self.breaker_admit,
            }
        )

    # -- runs --------------------------------------------------------------------------------

    def open(
        self,
        scope: str = "",
        run: str = "",
        rate: float = 1.0,
        window: float = 1.0,
        daily: float | None = None,
    ) -> None:
        """A run starts sending to ``scope``: the latest rate applies to every run sharing it."""
        known = self.scopes.get(scope)
        if known is None:
            rates = RateLog(rate, window=window, coalesce=SLICE_COALESCE)
            known = self.scopes[scope] = _Scope(rates, DailyPool(daily))
        else:  # leases of earlier runs still in the window keep counting: nothing resets
            known.rates.set_rate(rate)
            known.rates.window = max(known.rates.window, window)
            known.daily.reset(daily, keep_lower=bool(known.runs))
        known.runs.add(run)

    def close_run(self, scope: str = "", run: str = "", cancel: bool = False) -> None:
        """The run ended; with ``cancel`` its senders get "stopped" at their next lease."""
        if cancel:
            self.stopped.add(run)
        self.boards.pop(run, None)
        known = self.scopes.get(scope)
        if known is not None:
            known.runs.discard(run)

    # -- senders -----------------------------------------------------------------------------

    def _scope(self, scope: str) -> _Scope:
        known = self.scopes.get(scope)
        if known is None:  # the scheduler restarted mid-run: nothing to lease from
            raise KeyError(f"no quota is open for scope {scope!r}")
        return known

    def lease(
        self, scope: str = "", run: str = "", owner: str = "", want: float = 1, need: float = 1
    ) -> list[float]:
        if run in self.stopped:
            return [STOPPED, 0.0, 0.0]
        board = self.boards.get(run)
        if board is not None and board.reason is not None:  # rows waiting here stop too
            return [PAUSED, 0.0, 0.0]
        if not owner_alive(self.scheduler, owner):
            return [FENCED, 0.0, 0.0]
        return list(self._scope(scope).rates.lease(want, need, owner))

    def trim(self, scope: str = "", lease_id: int = 0, used: float = 0.0) -> None:
        known = self.scopes.get(scope)
        if known is not None:
            known.rates.trim(lease_id, used)

    def finish(
        self,
        scope: str = "",
        lease_id: int = 0,
        used: float = 0.0,
        stamps: list[list[float]] | None = None,
    ) -> None:
        known = self.scopes.get(scope)
        if known is not None:
            known.rates.finish(lease_id, used, stamps)

    def recredit(
        self, scope: str = "", lease_ids: list[int] | None = None, seconds: float = 0.0
    ) -> None:
        known = self.scopes.get(scope)
        if known is not None:
            known.rates.recredit(lease_ids or (), seconds)

    def daily(
        self, scope: str = "", run: str = "", owner: str = "", want: float = 1, need: float = 1
    ) -> float:
        if run in self.stopped or not owner_alive(self.scheduler, owner):
            return FENCED
        return self._scope(scope).daily.take(want, need)

    def give_back(self, scope: str = "", n: float = 0.0) -> None:
        known = self.scopes.get(scope)
        if known is not None:
            known.daily.give_back(n)

    def stats(self, scope: str = "") -> dict[str, Any]:
        known = self.scopes.get(scope)
        if known is None:
            return {}
        return known.rates.stats() | {
            "daily_left": known.daily.left,
            "runs": len(known.runs),
            "dropped_leases": self.dropped,
        }

    def alive(self, owner: str = "") -> bool:
        return owner_alive(self.scheduler, owner)

    # -- the run's circuit breaker -------------------------------------------------------------

    def breaker_open(
        self, run: str = "", canary: int = 0, min_outcomes: int = 1, canary_wait: float = 30.0
    ) -> None:
        self.boards[run] = BreakerBoard(BreakerSettings(canary, min_outcomes, canary_wait))

    def breaker_report(self, run: str = "", fated: int = 0, reason: str | None = None) -> None:
        board = self.boards.get(run)
        if board is not None:
            board.report(fated, reason)

    def breaker_admit(self, run: str = "", accepted: int = 0, give_up: bool = False) -> list[Any]:
        """``[reason or None, hold, canary]``; a run without a board (closed) goes on: its
        senders are stopped by the lease instead."""
        board = self.boards.get(run)
        if board is None:
            return [None, False, False]
        reason, hold, canary = board.admit(accepted, give_up)
        return [reason, hold, canary]

    # -- scheduler events --------------------------------------------------------------------

    def remove_worker(self, scheduler: Any, worker: str, **kwargs: Any) -> None:
        """A worker left (or was dropped): its open leases count from now, one window."""
        prefix = f"{worker}#"
        closed = sum(
            known.rates.drop_owner(lambda owner: owner.startswith(prefix))
            for known in self.scopes.values()
        )
        self.dropped += closed
        if closed:
            log.info("quota service: closed %d open leases of removed worker %s", closed, worker)
