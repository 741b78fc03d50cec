"""The send loop: render in chunks, batch, pace, dispatch to worker threads, retry, journal.

Data flow (one run)::

    plan.sendable ──▶ producer (caller's thread)                      workers (threads, sized)
                      skip rows final in the ledger                   acquire tokens (recipients)
                      render a chunk ──▶ batches ──▶ bounded queue ──▶ reserve tokens
                                                                      ledger: IN_FLIGHT (commit)
                      due retries, re-batched ◀── retry heap ◀──┐     transport.send(batch)
                      (workers take them first)                 └──── retryable members
                                                                      ledger: final/pending

Promises:

* every position of the plan ends with exactly one :class:`~toolkit.results.Outcome`;
* pacing counts recipients and never admits more than the rate in any one-second window
  (:class:`~.pacing.TokenBucket`), seeded from the target's :class:`~toolkit.targets.Quota`;
  with no known rate it adapts to throttling (:class:`~.pacing.AdaptiveRate`). A caller that
  shares one quota between several engines (processes, machines) passes its own ``pacer``
  and ``daily`` budget instead (:class:`Pacer`, :class:`DailyBudget`; ``toolkit.cluster``);
* only THROTTLED/TRANSIENT members are retried (UNKNOWN only with ``retry_unknown``), with
  full-jitter backoff, re-batched with other due retries; a DAILY_QUOTA answer stops the run;
* journal before send: a batch is committed ``in_flight`` before its request leaves;
* a resume sends no row the ledger holds as final: the same key and content, else the same
  recipients and content under another key (the row moved: its recorded outcome), else a
  message to the same recipient that no row claims (the content changed: ``skipped`` /
  ``ContentChanged`` unless ``resend_changed``); see :meth:`~.ledger.Ledger.reconcile`;
* enough requests in flight to meet the pace at the provider's distance: with ``workers=None``
  (the default) the number of worker threads follows rate × measured answer time ÷ recipients
  per call (:mod:`~.concurrency`), between 1 and :data:`~.config.MAX_WORKERS`; extra workers
  start at once and leave between batches, never in the middle of one. The local bucket takes
  back part of each answered request's window (:meth:`~.pacing.TokenBucket.set_credit`);
* a transport that can prepare a message (``prepare``, SMTP: MAIL, RCPT and DATA up to
  ``354``) does so before the pacer admits it, and the reservation spans only the commit, the
  round trip in which the provider counts it; a refusal while preparing takes no slot, and a
  prepared message the pacer does not admit within its ``hold_s`` (or when the run stops) is
  abandoned, nothing delivered, and sent again (``_send_prepared``);
* a :class:`~toolkit.errors.ProviderConfigurationError` stops the run: unfinished rows are
  ``failed`` with its code (:attr:`SendEngine.fault` holds it for the caller); cancel (or
  Ctrl-C) stops taking batches, lets requests in flight finish, and reports rows never sent
  as ``skipped``/``Cancelled`` while the ledger keeps them pending for a resume; any other
  exception stops the workers first, then reaches the caller.

Why one module of this size: the producer, the workers, the retry heap and the finalizer share
one lock and one set of counters; split apart, that discipline would be spread over files.

Usage::

    engine = SendEngine(plan, transport, EngineConfig(workers=8), quota=quota, ledger=ledger)
    outcomes = engine.run()          # list[Outcome], one per plan position
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from toolkit.compose.message import Message
from toolkit.delivery.collector import frozen_heap
from toolkit.delivery.concurrency import Concurrency, PathEstimate
from toolkit.delivery.config import AUTO_INITIAL_WORKERS, MAX_WORKERS, EngineConfig
from toolkit.delivery.ledger import InFlight, Ledger, LedgerRecord, Pending
from toolkit.delivery.pacing import (
    Abort,
    AdaptiveRate,
    Clock,
    MonotonicClock,
    PaceMemory,
    TokenBucket,
)
from toolkit.delivery.progress import Observer, Progress
from toolkit.delivery.retry import AttemptContext, RetryPolicy
from toolkit.errors import ProviderConfigurationError, ToolkitError
from toolkit.results import DAILY_QUOTA_CODE, Outcome, Reply, Status, Verdict

if TYPE_CHECKING:
    from toolkit.targets import Quota
    from toolkit.transports.base import Prepared, Transport

log = logging.getLogger(__name__)

CANCELLED_CODE = "Cancelled"
LIMIT_CODE = "Limit"
REPUTATION_PAUSE_CODE = "ReputationPause"  # a circuit breaker stopped the run
NO_ANSWER_CODE = "NoAnswer"
CONTENT_CHANGED_CODE = "ContentChanged"
ADAPTIVE_START_RATE = 10.0  # recipients/s when nothing is known; slow start doubles it
_IDLE_POLL = 0.5  # an idle worker looks at the halt flag this often (shutdown wakes it)
_WARM_S = 5.0  # the longest the first row waits for the first workers' connections


class Held(Protocol):
    """An admission whose request is in flight (:class:`~.pacing.Reservation` is one)."""

    def done(self) -> None: ...


class Pacer(Protocol):
    """What the engine asks of its pacer; :class:`~.pacing.TokenBucket` is the local one.

    ``reserve`` admits ``n`` recipients and keeps them counted until ``done()`` (None when
    ``abort`` was set while waiting); ``capacity`` is the largest batch (in recipients) that
    fits one window; ``rate`` is the rate in force (progress reports it).
    """

    @property
    def rate(self) -> float: ...

    @property
    def capacity(self) -> float: ...

    def reserve(self, n: float = 1, abort: Abort | None = None) -> Held | None: ...


class Breaker(Protocol):
    """Says when to stop taking new rows (:class:`toolkit.delivery.breaker.CircuitBreaker`):
    ``admit(accepted, abort)`` is asked before each new batch with the messages the provider
    accepted so far in this run (only those can have a delivery event); it may wait (the
    first ones go only as fast as their fates come back) and returns why to stop, or None."""

    def admit(self, accepted: int, abort: threading.Event | None = None) -> str | None: ...


class DailyBudget(Protocol):
    """The 24-hour quota left: ``take(n)`` is True when ``n`` more recipients fit in it."""

    def take(self, n: int) -> bool: ...


class _DailyLeft:
    """The quota's remaining 24-hour sends, counted down by this engine alone."""

    def __init__(self, left: float) -> None:
        self.left = left

    def take(self, n: int) -> bool:
        if n > self.left:
            return False
        self.left -= n
        return True


class SendPlan(Protocol):
    """What the engine needs from ``toolkit.compose.plan(...)``."""

    @property
    def size(self) -> int: ...

    @property
    def row_keys(self) -> Sequence[str]: ...

    @property
    def content_hashes(self) -> Sequence[str]: ...

    @property
    def preflight(self) -> Mapping[int, Outcome]: ...

    @property
    def sendable(self) -> Sequence[int]: ...

    def render(self, positions: Sequence[int]) -> list[Message | Outcome]: ...


def _recipient(message: Message) -> str:
    to = message.to
    return to[0] if len(to) == 1 else ", ".join(to)  # no new string in the common case


@dataclass(slots=True)
class _Item:
    """One message travelling through the engine (mutable: attempts grow)."""

    position: int
    message: Message
    content_hash: str
    recipients: int
    attempts: int = 0
    last: Reply | None = None
    prepare_late: bool = False  # a prepared transaction of it waited too long for the pacer


@dataclass(frozen=True, slots=True)
class _Stop:
    status: Status
    code: str
    message: str


_SENTINEL: list[_Item] = []


class _Once:
    """A reservation whose ``done`` runs once, however often it is called."""

    __slots__ = ("held",)

    def __init__(self, held: Held | None) -> None:
        self.held = held

    def done(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            held.done()


class _Until:
    """Set when the run halts or ``deadline`` passes: how long a prepared transaction may
    wait for the pacer (an ``abort`` for :meth:`Pacer.reserve`)."""

    __slots__ = ("_clock", "_deadline", "_halt")

    def __init__(self, halt: threading.Event, deadline: float, clock: Clock) -> None:
        self._halt = halt
        self._deadline = deadline
        self._clock = clock

    def is_set(self) -> bool:
        return self._halt.is_set() or self._clock.now() >= self._deadline


@dataclass(order=True)
class _Retry:
    due: float
    seq: int
    item: _Item = field(compare=False)


class SendEngine:
    """Runs one send of a plan through a transport; see the module docstring.

    The transport must be open; the engine does not open or close it. ``run`` may be called
    once. ``cancel``, ``snapshot`` and ``outcomes`` may be called from any thread.
    ``pace_memory``: the target's (:class:`~.pacing.PaceMemory`): the engine's own pacer
    starts with the last run's admissions that still count, and leaves its own there.
    """

    def __init__(
        self,
        plan: SendPlan,
        transport: Transport,
        config: EngineConfig | None = None,
        *,
        quota: Quota | None = None,
        ledger: Ledger | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        observers: Sequence[Observer] = (),
        pacer: Pacer | None = None,
        daily: DailyBudget | None = None,
        breaker: Breaker | None = None,
        pace_memory: PaceMemory | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self._breaker = breaker
        self._pace_memory = pace_memory
        self._plan = plan
        self._transport = transport
        self._ledger = ledger
        self._quota = quota
        self._clock = clock or self.config.clock or MonotonicClock()
        self._retry = retry or RetryPolicy.standard(
            self.config.max_attempts, retry_unknown=self.config.retry_unknown
        )
        self._observers = tuple(observers)
        self._total = plan.size
        self._outcomes: list[Outcome | None] = [None] * plan.size
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._counts: dict[str, int] = {s.value: 0 for s in Status}
        self._engine_done = 0
        self._outstanding = 0  # items handed to the queue and not final yet
        self._producer_done = False
        self._halt = threading.Event()
        self._accepted = 0  # messages the provider accepted in this run
        self._stop: _Stop | None = None
        self._retries: list[_Retry] = []
        self._retry_seq = itertools.count()
        self._unsent: list[_Item] = []
        self._inflight: dict[str, list[_Item]] = {}
        self._batch_ids = itertools.count(1)
        self._run_id = ledger.run_id if ledger is not None else uuid.uuid4().hex[:12]
        workers = self.config.workers
        # Automatic (workers=None): sized from the pace and the measured answer time. Set by
        # hand, the level stays, but answers are still measured: the pacer's latency credit
        # and the next run's path estimate do not depend on who chose the threads.
        ceiling = min(MAX_WORKERS, getattr(transport, "max_concurrency", None) or MAX_WORKERS)
        ceiling = min(ceiling, max(1, len(plan.sendable)))  # a thread per row at most
        self._sizing = Concurrency(
            initial=AUTO_INITIAL_WORKERS if workers is None else workers,
            ceiling=ceiling if workers is None else workers,
            batched=transport.max_batch > 1,
            strict=getattr(transport, "paced_strictly", False),
            prepared=callable(getattr(transport, "prepare", None)),
            fixed=workers is not None,
        )  # fmt: skip
        workers = self._sizing.current
        self._level = workers  # workers wanted now
        self._live = 0  # worker threads running
        self._warmed = 0  # workers that have run the transport's ready() once
        self._threads: list[threading.Thread] = []
        self._spawning = True  # False once shutting down: no new workers
        self._queue: queue.Queue[list[_Item]] = queue.Queue(
            self.config.queue_batches or 2 * workers
        )
        self._pacer: Pacer | None = pacer  # given: shared with other engines, used as is
        self._bucket: TokenBucket | None = None  # our own bucket (takes the latency credit)
        self._adaptive: AdaptiveRate | None = None
        self._daily: DailyBudget | None = daily
        self._t0 = self._clock.now()
        self._last_notify = 0.0
        self._notify_lock = threading.Lock()
        self._crash: BaseException | None = None
        self._fault: ProviderConfigurationError | None = None
        self._started = False
        self._closed = False
        self.finished = threading.Event()

    # -- public, thread-safe ---------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self._run_id

    def cancel(self) -> None:
        """Stop taking new batches; requests in flight finish; ``run`` returns soon after."""
        self._halt_with(
            _Stop(Status.SKIPPED, CANCELLED_CODE, "the run was cancelled before this row was sent")
        )

    def pause(self, reason: str) -> None:
        """A circuit breaker outside this engine tripped (a Dask cluster's one): stop as
        :meth:`cancel` does, the rows not sent ending ``skipped``/``ReputationPause``."""
        self._halt_with(_Stop(Status.SKIPPED, REPUTATION_PAUSE_CODE, reason))

    def snapshot(self) -> Progress:
        """Counts per status so far (rows not final yet are "pending")."""
        with self._lock:
            counts = dict(self._counts)
            done = sum(counts.values())
            engine_done = self._engine_done
        counts["pending"] = self._total - done
        elapsed = max(self._clock.now() - self._t0, 0.0)
        rate = engine_done / elapsed if elapsed > 0 else 0.0
        send_rate = self._pacer.rate if self._pacer is not None else None
        return Progress(self._total, counts, elapsed, rate, send_rate, self.finished.is_set())

    def outcomes(self) -> list[Outcome | None]:
        """A copy of the outcomes so far, by position (None = not final yet)."""
        with self._lock:
            return list(self._outcomes)

    @property
    def fault(self) -> ProviderConfigurationError | None:
        """The configuration fault that stopped the run, if one did (the first one)."""
        return self._fault

    @property
    def concurrency(self) -> tuple[int, int]:
        """(workers wanted now, the most wanted during the run)."""
        return self._level, self._sizing.peak

    @property
    def stop_reason(self) -> tuple[str, str] | None:
        """(code, message) of what stopped the run early, or None."""
        stop = self._stop
        return (stop.code, stop.message) if stop is not None else None

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> list[Outcome]:
        """Send every sendable row; returns one outcome per plan position.

        Raises KeyboardInterrupt (after stopping cleanly, with the finished outcomes in its
        ``outcomes`` attribute) when interrupted from the keyboard.
        """
        if self._started:
            raise RuntimeError("a SendEngine runs once")
        self._started = True
        with frozen_heap():  # full collections would stall every answer (collector.py)
            return self._run()

    def _run(self) -> list[Outcome]:
        self._t0 = self._clock.now()
        for position, outcome in self._plan.preflight.items():
            self._finish(position, outcome, engine=False)
        interrupted: KeyboardInterrupt | None = None
        try:
            self._setup_pacing()
            self._expect()
            if self._ledger is not None:
                self._ledger.start_run(self._transport.name)
            with self._lock:
                self._spawn_locked()
            self._warm()
            self._produce()
            self._drive()
            self._shutdown()
        except KeyboardInterrupt as exc:
            interrupted = exc
            self.cancel()
            self._shutdown()
        except BaseException as exc:  # a bug or a broken ledger: stop the workers, then raise
            if isinstance(exc, ToolkitError) and self._crash is None:
                self._crash = exc  # the ledger's disk filled: the caller says it once
            self._halt_with(_Stop(Status.FAILED, "EngineError", f"{type(exc).__name__}: {exc}"))
            self._shutdown()
            raise
        finally:
            self._remember_path()
            self._finalize()
            self.finished.set()
            self._notify(force=True)
        if self._crash is not None:
            raise self._crash
        outcomes = [o for o in self._outcomes if o is not None]
        if interrupted is not None:
            interrupted.outcomes = outcomes  # type: ignore[attr-defined]
            raise interrupted
        return outcomes

    def _setup_pacing(self) -> None:
        cfg, quota = self.config, self._quota
        if self._daily is None and quota is not None and quota.remaining_24_hours is not None:
            self._daily = _DailyLeft(quota.remaining_24_hours)
        if self._pacer is not None:
            return
        rate = cfg.pace(quota)
        adaptive = cfg.adaptive if cfg.adaptive is not None else rate is None
        if rate is None and not adaptive:
            return
        bucket = TokenBucket(rate or ADAPTIVE_START_RATE, clock=self._clock,
                             margin=cfg.window_margin)  # fmt: skip
        if self._pace_memory is not None:
            bucket.preload(self._pace_memory.recall())
        self._pacer = self._bucket = bucket
        if adaptive:
            ceiling = rate if rate is not None else 10_000.0
            self._adaptive = AdaptiveRate(
                bucket, floor=min(1.0, ceiling), ceiling=ceiling,
                slow_start_period=0.5, probe=0.02, measured=True,
            )  # fmt: skip
            if rate is not None:  # known ceiling: no slow start past it
                self._adaptive.slow_start = False

    def _expect(self) -> None:
        """Size the first workers from what an earlier run on this transport measured (the
        previous partition on a Dask worker), else from the transport's expected answer time
        (SMTP measures its distance while connecting) or the quota call's (SES, Pinpoint),
        instead of waiting for answers."""
        rate = self._pacer.rate if self._pacer is not None else None
        batch = max(1, self._transport.max_batch)
        known = getattr(self._transport, "path_estimate", None)
        if isinstance(known, PathEstimate):
            self._apply_level(self._sizing.recall(known, rate, batch))
            set_credit = getattr(self._pacer, "set_credit", None)
            if set_credit is not None:
                set_credit(self._sizing.credit)
        expected = getattr(self._transport, "expected_answer_s", None)
        if not expected and self._quota is not None:  # the quota call: the same distance
            expected = self._quota.answered_in
        if expected:
            self._apply_level(self._sizing.expect(expected, rate, batch))

    def _remember_path(self) -> None:
        """Leave what this run measured of the distance on the transport, for the next run
        that sends through it (a transport that takes no new attributes keeps nothing), and
        its admissions that still count in the target's pace memory."""
        if self._pace_memory is not None and self._bucket is not None:
            self._pace_memory.keep(self._bucket.tail())
        estimate = self._sizing.estimate()
        if estimate is not None:
            with contextlib.suppress(AttributeError):
                self._transport.path_estimate = estimate  # type: ignore[attr-defined]

    def _warm(self) -> None:
        """Let the first workers open their connections (``ready``) before the first row
        goes, for at most :data:`_WARM_S`: opened in parallel before the pace starts, they
        do not hold the first second's rows back one connection at a time."""
        if getattr(self._transport, "ready", None) is None:
            return
        deadline = time.monotonic() + _WARM_S
        with self._lock:
            while self._warmed < self._live and not self._halt.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(min(left, _IDLE_POLL))

    # -- producer --------------------------------------------------------------------------

    def _batch_capacity(self) -> float:
        if self._pacer is None:
            return math.inf
        return max(1.0, math.floor(self._pacer.capacity))

    def _produce(self) -> None:
        plan, cfg = self._plan, self.config
        row_keys, hashes = plan.row_keys, plan.content_hashes
        sendable = plan.sendable
        max_batch = max(1, self._transport.max_batch)
        limit_left = cfg.limit
        batch: list[_Item] = []
        batch_recipients = 0
        ledger, moved_rows, changed_rows = self._ledger, 0, 0
        if ledger is not None:  # rows that moved or changed since the ledger saw them
            ledger.reconcile(row_keys, hashes, sendable, retry_unknown=cfg.retry_unknown,
                             resend_changed=cfg.resend_changed)  # fmt: skip
        for start in range(0, len(sendable), cfg.chunk_size):
            if self._halt.is_set():
                break
            positions = sendable[start : start + cfg.chunk_size]
            records, moved = {}, {}
            if ledger is not None:
                records = ledger.lookup([(row_keys[p], hashes[p]) for p in positions])
                moved = ledger.moved(positions)
            fresh: list[int] = []
            for p in positions:
                record = records.get((row_keys[p], hashes[p])) if records else None
                if (
                    record is not None
                    and record.final
                    and not (record.status == Status.UNKNOWN.value and cfg.retry_unknown)
                ):
                    self._finish(p, record.to_outcome(), engine=False)
                    continue
                if p in moved:  # the same message under its old row key: never twice
                    self._finish(p, replace(moved[p].to_outcome(), row_key=row_keys[p]),
                                 engine=False)  # fmt: skip
                    moved_rows += 1
                    continue
                if limit_left is not None:
                    if limit_left <= 0:
                        self._finish(
                            p,
                            self._plain(p, Status.SKIPPED, LIMIT_CODE, f"beyond limit={cfg.limit}"),
                            engine=False,
                        )
                        continue
                    limit_left -= 1
                fresh.append(p)
            if not fresh:
                continue
            messages = plan.render(fresh)
            changed = {}
            if ledger is not None and not cfg.resend_changed:
                changed = ledger.claim_changed([(p, _recipient(m)) for p, m in
                                                zip(fresh, messages, strict=True)
                                                if not isinstance(m, Outcome)])  # fmt: skip
            for p, rendered in zip(fresh, messages, strict=True):
                if isinstance(rendered, Outcome):
                    self._finish(p, rendered, engine=False)
                    continue
                if p in changed:
                    self._finish(p, self._changed(p, rendered, changed[p]), engine=False)
                    changed_rows += 1
                    continue
                n = max(1, len(rendered.recipients))
                if self._daily is not None and not self._daily.take(n):
                    self._finish(
                        p,
                        self._plain(
                            p,
                            Status.FAILED,
                            DAILY_QUOTA_CODE,
                            "beyond the remaining 24-hour sending quota (Max24HourSend)",
                            recipient=_recipient(rendered),
                        ),
                        engine=False,
                    )
                    continue
                item = _Item(p, rendered, hashes[p], n)
                if batch and (
                    len(batch) >= max_batch or batch_recipients + n > self._batch_capacity()
                ):
                    self._put(batch)
                    batch, batch_recipients = [], 0
                batch.append(item)
                batch_recipients += n
            self._put_due_retries()
            if self._halt.is_set():
                break
        if batch:
            self._put(batch)
        with self._lock:
            self._producer_done = True
            self._cond.notify_all()
        if moved_rows:
            log.warning(
                "%d rows were in the ledger under other row keys (same recipients and "
                "content: the rows moved since the last run) and were not sent again; "
                "key= (--key-column) names a column whose ids do not move",
                moved_rows,
            )
        if changed_rows:
            log.warning("%d rows went to the same recipients before with other content and were "
                        "skipped (code %s); resend_changed=True sends the new version",
                        changed_rows, CONTENT_CHANGED_CODE)  # fmt: skip

    def _changed(self, position: int, message: Message, record: LedgerRecord) -> Outcome:
        went = "was sent" if record.status == Status.SENT.value else "may have gone"
        return self._plain(
            position, Status.SKIPPED, CONTENT_CHANGED_CODE,
            f"a message to this recipient with other content {went} (row {record.row_key!r}"
            + (f", message id {record.message_id}" if record.message_id else "")
            + "); resend_changed=True sends this version",
            recipient=_recipient(message),
        )  # fmt: skip

    def _put(self, batch: list[_Item]) -> None:
        """Hand a new batch to the workers (blocks while the queue is full); a tripped circuit
        breaker stops the run first (the batch and the rest end ReputationPause)."""
        if self._breaker is not None:
            why = self._breaker.admit(self._accepted, abort=self._halt)
            if why is not None:
                self._halt_with(_Stop(Status.SKIPPED, REPUTATION_PAUSE_CODE, why))
        with self._lock:
            self._outstanding += len(batch)
        self._enqueue(batch)

    def _pop_due_retries(self, most: int | None = None) -> list[list[_Item]]:
        """Due retries, re-batched (members of different original batches may share one);
        at most ``most`` batches."""
        if not self._retries:  # unlocked peek: a miss is caught on the next look
            return []
        now = self._clock.now()
        max_batch = max(1, self._transport.max_batch)
        capacity = self._batch_capacity()
        batches: list[list[_Item]] = []
        batch: list[_Item] = []
        recipients = 0
        with self._lock:
            while self._retries and self._retries[0].due <= now:
                item = self._retries[0].item
                if batch and (len(batch) >= max_batch or recipients + item.recipients > capacity):
                    batches.append(batch)
                    batch, recipients = [], 0
                    if most is not None and len(batches) >= most:
                        break
                heapq.heappop(self._retries)
                batch.append(item)
                recipients += item.recipients
        if batch:
            batches.append(batch)
        return batches

    def _put_due_retries(self) -> None:
        for batch in self._pop_due_retries():
            self._enqueue(batch)  # retried items are already counted in _outstanding

    def _enqueue(self, batch: list[_Item]) -> None:
        """Queue a batch for the workers; on a halt it goes to the unsent rows instead."""
        while True:
            if self._halt.is_set():
                with self._lock:
                    self._unsent.extend(batch)
                return
            try:
                self._queue.put(batch, timeout=0.1)
                return
            except queue.Full:
                self._notify()

    def _drive(self) -> None:
        """After production: feed due retries until every item is final (or the run stops)."""
        while not self._halt.is_set():
            with self._lock:
                if self._outstanding == 0:
                    return
                next_due = self._retries[0].due if self._retries else None
            if next_due is None:
                with self._lock:
                    if self._outstanding and not self._retries:
                        self._cond.wait(timeout=0.1)
                self._notify()
                continue
            wait = next_due - self._clock.now()
            if wait > 0:
                self._clock.sleep(min(wait, 0.05))
            self._put_due_retries()
            self._notify()

    def _shutdown(self) -> None:
        deadline = time.monotonic() + self.config.drain_timeout
        with self._lock:
            self._spawning = False
            workers = list(self._threads)
        alive = [t for t in workers if t.is_alive()]
        sentinels = len(alive)
        while sentinels and time.monotonic() < deadline:
            try:
                self._queue.put(_SENTINEL, timeout=0.1)
                sentinels -= 1
            except queue.Full:
                if self._halt.is_set():
                    self._drain_queue()
        for t in alive:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        self._drain_queue()

    def _drain_queue(self) -> None:
        while True:
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                return
            if batch is not _SENTINEL:
                with self._lock:
                    self._unsent.extend(batch)

    # -- workers ---------------------------------------------------------------------------

    def _spawn_locked(self) -> None:
        """Start workers up to the level wanted (caller holds the lock)."""
        self._threads = [t for t in self._threads if t.is_alive()]
        while self._spawning and self._live < self._level:
            t = threading.Thread(
                target=self._worker, name=f"toolkit-send-{len(self._threads)}", daemon=True
            )
            self._live += 1
            self._threads.append(t)
            t.start()

    def _resize(self) -> None:
        """Follow the measured need: start workers now, or let extra ones leave."""
        sizing = self._sizing
        pacer = self._pacer
        rate = pacer.rate if pacer is not None else None
        if rate is not None and self._adaptive is not None and self._adaptive.slow_start:
            rate *= 2  # slow start grows the rate only if it is used: be ready for the next
        level = sizing.target(rate, max(1, self._transport.max_batch))
        set_credit = getattr(self._pacer, "set_credit", None)  # a bucket, or Dask's leases
        if set_credit is not None:
            set_credit(sizing.credit)
        self._apply_level(level)

    def _apply_level(self, level: int) -> None:
        """Run ``level`` workers: start the missing ones now (extra ones leave by themselves)."""
        if level == self._level:
            return
        with self._lock:
            self._level = level
            self._spawn_locked()
        if self.config.queue_batches is None:
            q = self._queue
            with q.mutex:
                q.maxsize = 2 * level
                q.not_full.notify_all()

    def _leave(self) -> bool:
        """True when this worker is one too many and has signed off."""
        if self._live <= self._level:  # unlocked peek: the common case
            return False
        with self._lock:
            if self._live > self._level:
                self._live -= 1
                return True
        return False

    def _worker(self) -> None:
        try:
            ready = getattr(self._transport, "ready", None)
            if ready is not None:
                ready()  # e.g. open this worker's SMTP connection before any row is taken
                with self._lock:
                    self._warmed += 1
                    self._cond.notify_all()
            readied = ready is not None  # the first batch's connection is claimed already
            while True:
                if self._leave():
                    return
                # Due retries first: while the producer is blocked on a full queue, they
                # would otherwise wait for its next chunk.
                due = self._pop_due_retries(most=1)
                if due and not self._halt.is_set():
                    self._send_batch(due[0], readied)
                    readied = False
                    self._resize()
                    continue
                if due:
                    with self._lock:
                        self._unsent.extend(due[0])
                try:
                    batch = self._queue.get(timeout=_IDLE_POLL)
                except queue.Empty:
                    if self._halt.is_set():
                        return
                    continue
                if batch is _SENTINEL:
                    return
                if self._halt.is_set():
                    with self._lock:
                        self._unsent.extend(batch)
                    continue
                self._send_batch(batch, readied)
                readied = False
                self._resize()
        except ToolkitError as exc:  # the ledger's disk filled: the caller says it once
            self._crash = exc
            self._halt_with(_Stop(Status.FAILED, type(exc).__name__, str(exc)))
        except BaseException as exc:  # a bug or a broken ledger: stop the run loudly
            log.exception("send worker crashed")
            self._crash = exc
            self._halt_with(_Stop(Status.FAILED, "EngineError", repr(exc)))

    def _send_batch(self, batch: list[_Item], readied: bool = False) -> None:
        """``readied``: this thread's ``ready()`` ran just before (at its start); a second
        call would claim (or open) a second connection for one message, and each worker
        would leave one idle (160 SMTP workers opened 320 connections, and 400 in 8 s)."""
        ready = getattr(self._transport, "ready", None)
        if ready is not None and not readied:
            ready()  # e.g. open an SMTP connection: setup is not paced
        prepare = getattr(self._transport, "prepare", None)
        if prepare is not None and len(batch) == 1 and not batch[0].prepare_late:
            self._send_prepared(batch[0], prepare)
            return
        reservation = None
        if self._pacer is not None:
            recipients = sum(item.recipients for item in batch)
            reservation = self._pacer.reserve(recipients, abort=self._halt)
            if reservation is None:
                with self._lock:
                    self._unsent.extend(batch)
                return
        once = _Once(reservation)
        try:
            self._send_reserved(batch, once)
        finally:
            once.done()  # normally already done, as soon as the answer was in

    def _send_prepared(self, item: _Item, prepare: Callable[[Message], Prepared]) -> None:
        """Two phases, for a transport that can prepare a message (SMTP: MAIL, RCPT, DATA up
        to ``354``): the preparation goes before the pacer admits the message, and the
        reservation spans only ``commit``, the round trip in which the provider counts it, so
        the latency credit is as sound as for a one-request call. A refusal while preparing
        ends the row without taking a slot. When admission does not come within the
        transaction's ``hold_s`` (the provider would time it out) or the run stops, it is
        abandoned (nothing delivered) and the row goes back: to the retry heap, due now, to
        be sent in one phase (admitted first, so it cannot wait past the hold again), or to
        the unsent rows."""
        batch = [item]
        begun, started = time.monotonic(), time.time()
        try:
            prepared = prepare(item.message)
        except Exception as exc:  # a configuration fault, or the transport broke its contract
            item.attempts += 1
            replies, fatal = self._failed_call(batch, started, exc)
            self._settle(batch, f"{self._run_id}-{next(self._batch_ids)}", replies, fatal)
            return
        if prepared.replies is not None:  # answered before the content: no pacer slot
            item.attempts += 1
            replies = prepared.replies
            if len(replies) != 1:
                replies = self._unknown_replies(batch, started, "ReplyCountMismatch",
                                                f"transport returned {len(replies)} replies "
                                                "for 1 message")  # fmt: skip
            self._settle(batch, f"{self._run_id}-{next(self._batch_ids)}", replies, None)
            return
        spent = time.monotonic() - begun
        reservation = None
        try:
            if self._pacer is not None:
                until = _Until(self._halt, self._clock.now() + prepared.hold_s, self._clock)
                reservation = self._pacer.reserve(item.recipients, abort=until)
                if reservation is None:
                    prepared.abandon()
                    self._put_back(item)
                    return
            once = _Once(reservation)
            try:
                self._send_reserved(batch, once, call=prepared.commit, spent=spent)
            finally:
                once.done()
        finally:
            prepared.abandon()  # nothing after a commit; voids it if the journal failed first

    def _put_back(self, item: _Item) -> None:
        """A prepared transaction was abandoned before its content left: nothing was sent,
        and the row is sent again (or kept unsent when the run stops)."""
        with self._lock:
            if self._closed:
                return
            if self._halt.is_set():
                self._unsent.append(item)
                return
            item.prepare_late = True
            heapq.heappush(self._retries, _Retry(self._clock.now(), next(self._retry_seq), item))
            self._cond.notify_all()

    def _send_reserved(
        self,
        batch: list[_Item],
        reservation: _Once | None = None,
        *,
        call: Callable[[], list[Reply]] | None = None,
        spent: float = 0.0,
    ) -> None:
        """Journal ``batch`` in flight, send it (``call``: the second phase of a prepared
        transaction that took ``spent`` seconds, else ``transport.send``) and settle it."""
        transport, ledger = self._transport, self._ledger
        batch_id = f"{self._run_id}-{next(self._batch_ids)}"
        for item in batch:
            item.attempts += 1
        started = time.time()
        if ledger is not None:  # journal before send: committed before the request leaves
            ledger.mark_in_flight(
                [
                    InFlight(
                        self._plan.row_keys[i.position],
                        i.content_hash,
                        _recipient(i.message),
                        i.attempts,
                    )
                    for i in batch
                ],
                batch_id,
                started,
                transport.name,
            )
        with self._lock:
            self._inflight[batch_id] = batch
        fatal: ProviderConfigurationError | None = None
        admitted = time.monotonic()
        try:
            replies = call() if call is not None else transport.send([i.message for i in batch])
            if len(replies) != len(batch):
                replies = self._unknown_replies(
                    batch,
                    started,
                    "ReplyCountMismatch",
                    f"transport returned {len(replies)} replies for {len(batch)} messages",
                )
        except Exception as exc:
            replies, fatal = self._failed_call(batch, started, exc)
        if reservation is not None:
            reservation.done()  # the answer is in: its pacing window runs from now
        took = time.monotonic() - admitted
        recipients = sum(i.recipients for i in batch)
        # A prepared transaction: threads are busy for all of it, the credit may take only the
        # round trip the reservation spanned.
        self._sizing.record(spent + took, recipients, counted=took if call else None)
        self._settle(batch, batch_id, replies, fatal)

    def _failed_call(
        self, batch: list[_Item], started: float, exc: Exception
    ) -> tuple[list[Reply], ProviderConfigurationError | None]:
        """Replies for a call that raised: a configuration fault refuses the batch (and stops
        the run); anything else broke the transport's contract, and we cannot tell."""
        if isinstance(exc, ProviderConfigurationError):
            with self._lock:
                if self._fault is None:
                    self._fault = exc
            reply = Reply(Verdict.REJECTED, started, time.time(), code=exc.code,
                          message=exc.message)  # fmt: skip
            return [reply] * len(batch), exc
        name = self._transport.name
        log.warning("transport %s raised %r; marking its batch unknown", name, exc)
        return self._unknown_replies(batch, started, type(exc).__name__, str(exc)), None

    @staticmethod
    def _unknown_replies(batch: list[_Item], started: float, code: str, msg: str) -> list[Reply]:
        return [Reply(Verdict.UNKNOWN, started, time.time(), code=code, message=msg)] * len(batch)

    def _settle(
        self,
        batch: list[_Item],
        batch_id: str,
        replies: Sequence[Reply],
        fatal: ProviderConfigurationError | None,
    ) -> None:
        """Classify each member's reply: final outcome, or back to the retry heap."""
        finals: list[tuple[_Item, Outcome]] = []
        retries: list[tuple[_Item, float]] = []
        stop: _Stop | None = None
        throttled = accepted = False
        accepted_recipients = 0
        delays: dict[tuple[Verdict, int, float | None], float] = {}
        name = self._transport.name
        row_keys = self._plan.row_keys
        for item, reply in zip(batch, replies, strict=True):
            item.last = reply
            verdict = reply.verdict
            status: Status | None = None
            code = reply.code
            if fatal is not None:
                status = Status.FAILED
                stop = _Stop(Status.FAILED, fatal.code, fatal.message)
            elif verdict is Verdict.ACCEPTED:
                status, accepted = Status.SENT, True
                accepted_recipients += item.recipients
            elif verdict is Verdict.REJECTED:
                status = Status.REJECTED
            else:
                if verdict is Verdict.THROTTLED:
                    throttled = True
                elif verdict is Verdict.DAILY_QUOTA:
                    throttled = True
                    status, code = Status.FAILED, DAILY_QUOTA_CODE
                    stop = _Stop(Status.FAILED, DAILY_QUOTA_CODE,
                                 reply.message or "Daily message quota exceeded.")  # fmt: skip
                if status is None:
                    context = AttemptContext(
                        item.attempts, verdict, reply.code, reply.message, reply.retry_after
                    )
                    if self._retry.should_retry(context):
                        # One jittered delay per group of the batch, so that the failed
                        # members go back together (and re-batch) instead of one by one.
                        group = (verdict, item.attempts, reply.retry_after)
                        if group not in delays:
                            delays[group] = self._retry.delay(context)
                        retries.append((item, delays[group]))
                        continue
                    status = Status.UNKNOWN if verdict is Verdict.UNKNOWN else Status.FAILED
            finals.append(
                (
                    item,
                    Outcome(
                        row_key=row_keys[item.position],
                        status=status,
                        transport=name,
                        recipient=_recipient(item.message),
                        message_id=reply.message_id if status is Status.SENT else None,
                        error_code=None if status is Status.SENT else code,
                        error_message=None if status is Status.SENT else reply.message,
                        attempts=item.attempts,
                        started_at=reply.started_at,
                        finished_at=reply.finished_at,
                        batch_id=batch_id,
                    ),
                )
            )
        if self._adaptive is not None:
            self._adaptive.count(accepted_recipients)
            if throttled:
                self._adaptive.on_throttle()
            elif accepted:
                self._adaptive.on_success()
        if self._ledger is not None:
            # A batch the provider refused as a whole (a configuration fault) was not sent:
            # the ledger keeps it pending for the run after the fix, not failed.
            journal_finals = [] if fatal is not None else finals
            waiting = [i for i, _ in retries] + ([i for i, _ in finals] if fatal else [])
            self._ledger.record(
                [(item.content_hash, outcome) for item, outcome in journal_finals],
                [
                    Pending(
                        row_keys[i.position],
                        i.content_hash,
                        i.attempts,
                        i.last.code if i.last else None,
                        i.last.message if i.last else None,
                    )
                    for i in waiting
                ],
            )
        now = self._clock.now()
        with self._lock:
            if self._closed:  # answered after the run gave up waiting: ledger has it
                return
            self._inflight.pop(batch_id, None)
            for item, delay in retries:
                heapq.heappush(self._retries, _Retry(now + delay, next(self._retry_seq), item))
            for item, outcome in finals:
                self._set(item.position, outcome, engine=True)
            self._outstanding -= len(finals)
            self._cond.notify_all()
        if stop is not None:
            self._halt_with(stop)
        self._notify()

    # -- bookkeeping -----------------------------------------------------------------------

    def _halt_with(self, stop: _Stop) -> None:
        with self._lock:
            if self._stop is None:
                self._stop = stop
                if stop.code != CANCELLED_CODE:
                    # A configuration fault reaches the caller as an exception: no need to shout.
                    quiet = self._fault is not None or isinstance(self._crash, ToolkitError)
                    level = logging.INFO if quiet else logging.ERROR
                    log.log(level, "stopping the send: %s: %s", stop.code, stop.message)
            self._halt.set()
            self._cond.notify_all()

    def _plain(
        self,
        position: int,
        status: Status,
        code: str,
        message: str,
        *,
        recipient: str = "",
        attempts: int = 0,
        last: Reply | None = None,
    ) -> Outcome:
        return Outcome(
            row_key=self._plan.row_keys[position],
            status=status,
            transport=self._transport.name,
            recipient=recipient,
            error_code=code,
            error_message=message,
            attempts=attempts,
            started_at=last.started_at if last is not None else None,
            finished_at=last.finished_at if last is not None else None,
        )

    def _set(self, position: int, outcome: Outcome, *, engine: bool) -> None:
        # caller holds the lock
        if self._outcomes[position] is not None:  # pragma: no cover - guarded by design
            raise RuntimeError(f"row at position {position} finished twice")
        self._outcomes[position] = outcome
        self._counts[outcome.status.value] += 1
        if engine:
            self._engine_done += 1
            if outcome.status is Status.SENT:
                self._accepted += 1  # this run's accepted messages (the breaker's canary)

    def _finish(self, position: int, outcome: Outcome, *, engine: bool) -> None:
        with self._lock:
            self._set(position, outcome, engine=engine)

    def _finalize(self) -> None:
        """Give every row still open an outcome that says why it was not sent."""
        stop = self._stop or _Stop(
            Status.FAILED, "NotProcessed", "the run ended before this row was processed"
        )
        with self._lock:
            leftovers = list(self._unsent)
            self._unsent.clear()
            leftovers.extend(r.item for r in self._retries)
            self._retries.clear()
            inflight = [i for b in self._inflight.values() for i in b]
            self._inflight.clear()
            for item in inflight:
                if self._outcomes[item.position] is None:
                    self._set(
                        item.position,
                        self._plain(
                            item.position,
                            Status.UNKNOWN,
                            NO_ANSWER_CODE,
                            "the request was still in flight when the run stopped",
                            recipient=_recipient(item.message),
                            attempts=item.attempts,
                            last=item.last,
                        ),
                        engine=True,
                    )
            for item in leftovers:
                if self._outcomes[item.position] is None:
                    message = stop.message
                    if item.last is not None and item.last.message:
                        message = f"{stop.message} (last answer: {item.last.message})"
                    self._set(
                        item.position,
                        self._plain(
                            item.position,
                            stop.status,
                            stop.code,
                            message,
                            recipient=_recipient(item.message),
                            attempts=item.attempts,
                            last=item.last,
                        ),
                        engine=True,
                    )
            for position, outcome in enumerate(self._outcomes):
                if outcome is None:
                    self._set(
                        position,
                        self._plain(position, stop.status, stop.code, stop.message),
                        engine=False,
                    )
            self._closed = True
        if self._ledger is not None:
            try:
                self._ledger.finish_run()
            except ToolkitError as exc:  # its disk filled: answers since are not journaled
                if self._crash is None:
                    self._crash = exc
            except Exception:  # pragma: no cover - closing bookkeeping only
                log.exception("could not record the end of the run in the ledger")

    def _notify(self, force: bool = False) -> None:
        if not self._observers:
            return
        now = time.monotonic()
        if not force and now - self._last_notify < self.config.progress_interval:
            return
        if not self._notify_lock.acquire(blocking=force):
            return
        try:
            self._last_notify = now
            snapshot = self.snapshot()
            for observer in self._observers:
                try:
                    observer(snapshot)
                except Exception:  # an observer must never break a send
                    log.exception("progress observer failed")
        finally:
            self._notify_lock.release()
