"""Concurrency sized from the pace and the measured latency (issue 17), and the pacer's credit."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from tests.fakes import FakeClock
from tests.unit.test_engine import FakePlan
from toolkit.compose.message import Message
from toolkit.delivery.concurrency import (
    BATCH_CREDIT_SHARE,
    CREDIT_AFTER_S,
    CREDIT_SHARE,
    MARGIN,
    PATH_MEMORY_S,
    PREPARED_WINDOW_SHARE,
    PROCESSING_ALLOWANCE,
    SHRINK_AFTER_S,
    SPARE,
    Concurrency,
    PathEstimate,
)
from toolkit.delivery.config import MAX_WORKERS, EngineConfig
from toolkit.delivery.engine import SendEngine
from toolkit.delivery.pacing import AdaptiveRate, TokenBucket
from toolkit.errors import ConfigurationError
from toolkit.results import Reply, Status, Verdict
from toolkit.targets import Quota
from toolkit.transports.base import BaseTransport


class _Clocks:
    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def advance(self, seconds: float, cpu_share: float = 0.0) -> None:
        self.wall += seconds
        self.cpu += seconds * cpu_share


def _sizing(initial: int = 8, ceiling: int = 256) -> tuple[Concurrency, _Clocks]:
    clocks = _Clocks()
    sizing = Concurrency(
        initial=initial, ceiling=ceiling, cpu_time=lambda: clocks.cpu, clock=lambda: clocks.wall
    )
    return sizing, clocks


def test_need_is_rate_times_latency_over_recipients_per_call_with_margin() -> None:
    sizing, clocks = _sizing()
    for _ in range(20):
        sizing.record(0.050, 1)
    expected = -(-500 * 0.050 * MARGIN // 1) + SPARE  # ceil
    assert sizing.need(500, 1) == expected
    clocks.advance(0.2)
    assert sizing.target(500, 1) == expected
    bulk, _ = _sizing()
    for _ in range(20):
        bulk.record(0.050, 50)
    assert bulk.need(5_000, 50) == -(-100 * 0.050 * MARGIN // 1) + SPARE


def test_grows_at_once_shrinks_after_a_while_and_stays_within_the_ceiling() -> None:
    sizing, clocks = _sizing(ceiling=40)
    for _ in range(64):
        sizing.record(0.150, 1)
    clocks.advance(0.2)
    assert sizing.target(500, 1) == 40  # 500 × 0.15 × 1.3 + 2 = 100, capped
    for _ in range(128):
        sizing.record(0.010, 1)
    clocks.advance(0.2)
    assert sizing.target(500, 1) == 40  # lower need: wait before letting workers go
    clocks.advance(SHRINK_AFTER_S + 0.1)
    assert sizing.target(500, 1) == sizing.need(500, 1) < 40
    assert sizing.peak == 40


def test_queueing_is_not_distance() -> None:
    """Answers far slower than the fastest are a saturated server: sizing ignores the excess."""
    sizing, _ = _sizing()
    for i in range(128):
        sizing.record(0.050 if i % 4 == 0 else 0.800, 1)  # median 0.8 s, fastest 0.05 s
    assert sizing.need(500, 1) < 500 * 0.2 * MARGIN + SPARE + 1


def test_does_not_grow_while_the_process_is_cpu_bound() -> None:
    sizing, clocks = _sizing()
    for _ in range(20):
        sizing.record(0.050, 1)
    clocks.advance(0.6, cpu_share=0.95)
    assert sizing.target(500, 1) == 8
    clocks.advance(0.6, cpu_share=0.2)
    assert sizing.target(500, 1) > 8


def test_credit_is_a_share_of_the_shortest_answer_of_the_run() -> None:
    sizing, clocks = _sizing()
    assert sizing.credit == 0.0
    for seconds in (0.2, 0.05, 0.3):
        sizing.record(seconds, 1)
    for _ in range(200):  # the shortest leaves the recent samples, not the run's minimum
        sizing.record(0.4, 1)
    clocks.advance(CREDIT_AFTER_S)
    assert sizing.credit == pytest.approx(CREDIT_SHARE * 0.05 - PROCESSING_ALLOWANCE)


def test_batched_calls_take_the_credit_and_strict_ones_none() -> None:
    """Calls of many recipients are counted once inside their round trip (modelled, see
    ``toolkit.facts.BATCH_COUNT_MOMENT``); SMTP counts at the end of DATA: no credit."""
    clocks = _Clocks()
    batched = Concurrency(initial=8, ceiling=8, batched=True, clock=lambda: clocks.wall)
    strict = Concurrency(initial=8, ceiling=8, batched=True, strict=True,
                         clock=lambda: clocks.wall)  # fmt: skip
    for sizing in (batched, strict):
        sizing.record(0.05, 50)
    clocks.advance(CREDIT_AFTER_S)
    assert batched.credit == pytest.approx(BATCH_CREDIT_SHARE * 0.05 - PROCESSING_ALLOWANCE)
    assert batched.credit > 0
    assert strict.credit == 0.0


def test_no_credit_from_the_first_answers_of_a_run() -> None:
    """The first window's calls leave at once and queue behind each other: their answer
    times are the queue, not the distance (at 150 ms, 480 ms and more), so no credit is
    taken until answers have come for a while."""
    sizing, clocks = _sizing()
    sizing.record(0.5, 100)
    clocks.advance(CREDIT_AFTER_S / 2)
    sizing.record(0.48, 100)
    assert sizing.credit == 0.0
    clocks.advance(CREDIT_AFTER_S / 2)
    sizing.record(0.16, 100)  # a call sent as the first ones left the window
    assert sizing.credit == pytest.approx(CREDIT_SHARE * 0.16 - PROCESSING_ALLOWANCE)


def test_a_prepared_call_sizes_by_its_whole_time_and_credits_only_its_last_round_trip() -> None:
    """A prepared SMTP transaction: 4 round trips of a thread's time, 1 inside the pacer's
    reservation (the one the server counts in)."""
    sizing, clocks = _sizing()
    sizing.record(0.6, 1, counted=0.15)
    assert sizing.latency == pytest.approx(0.6)
    assert sizing.credit == 0.0  # not from the first answers (CREDIT_AFTER_S)
    clocks.advance(CREDIT_AFTER_S)
    assert sizing.credit == pytest.approx(CREDIT_SHARE * 0.15 - PROCESSING_ALLOWANCE)
    assert sizing.target(rate=200.0, batch=1) == int(200 * 0.6 * MARGIN + 0.999) + SPARE


def test_a_prepared_transport_keeps_a_windows_worth_within_twice_littles_law() -> None:
    """SMTP 150 ms away: a transaction takes 0.6 s, Little's law asks 158 connections for
    200/s, and the first window's 200 tokens would leave 42 waiting a whole transaction, in
    every window after it (0.93 of the rate); a window's worth is prepared instead. Closer,
    twice Little's law bounds it."""
    clocks = _Clocks()
    smtp = Concurrency(initial=8, ceiling=256, prepared=True, clock=lambda: clocks.wall)
    plain = Concurrency(initial=8, ceiling=256, clock=lambda: clocks.wall)
    for sizing in (smtp, plain):
        sizing.record(0.6, 1, counted=0.15)
    little = 200 * 0.6 * MARGIN
    assert plain.need(200.0, 1) == int(little + 0.999) + SPARE
    assert smtp.need(200.0, 1) == 200 + SPARE
    for sizing in (smtp, plain):
        sizing._recent.clear()  # the same transport 50 ms away
        sizing.record(0.2, 1, counted=0.05)
    near = 200 * 0.2 * MARGIN
    assert plain.need(200.0, 1) == int(near + 0.999) + SPARE
    assert smtp.need(200.0, 1) == int(PREPARED_WINDOW_SHARE * near + 0.999) + SPARE < 200


def test_a_level_set_by_hand_stays_but_the_credit_is_still_measured() -> None:
    """``workers=64``: the threads are the user's choice, the distance is not; without the
    credit a request 150 ms away holds its slot 1.15 s (0.87 of the rate)."""
    clocks = _Clocks()
    sizing = Concurrency(initial=64, ceiling=64, fixed=True, clock=lambda: clocks.wall)
    assert sizing.expect(0.15, rate=500.0, batch=1) == 64
    for _ in range(20):
        sizing.record(0.15, 1)
    clocks.advance(CREDIT_AFTER_S)
    assert sizing.target(rate=500.0, batch=1) == 64  # need is 100: not grown
    assert sizing.target(rate=5.0, batch=1) == 64  # nor shrunk
    assert sizing.credit == pytest.approx(CREDIT_SHARE * 0.15 - PROCESSING_ALLOWANCE)
    path = sizing.estimate()
    assert path is not None
    again = Concurrency(initial=4, ceiling=4, fixed=True, clock=lambda: clocks.wall)
    assert again.recall(path, 500.0, 1) == 4
    assert again.credit == sizing.credit


def test_an_expected_answer_time_sizes_the_first_workers_but_never_the_credit() -> None:
    sizing, _ = _sizing()
    assert sizing.expect(0.6, rate=200.0, batch=1) == int(200 * 0.6 * MARGIN + 0.999) + SPARE
    assert sizing.credit == 0.0  # an estimate is no measured round trip
    low, _ = _sizing()
    assert low.expect(0.6, rate=1.0, batch=1) == 1 + SPARE  # not the initial 8
    sizing.record(0.2, 1)
    assert sizing.expect(5.0, rate=200.0, batch=1) == sizing.current  # answers came: ignored


def test_no_credit_where_the_round_trip_is_mostly_the_providers_work() -> None:
    """On loopback a 1-ms round trip is nearly all processing: no credit (it let the sandbox
    throttle 2 of 120 requests at 14/s)."""
    sizing, _ = _sizing()
    sizing.record(0.001, 1)
    assert sizing.credit == 0.0


def test_credit_lets_an_answered_request_leave_the_window_sooner() -> None:
    """Without the credit, a request 150 ms away holds its slot for 1.15 s: 0.87 of the rate."""
    for credit, expected in ((0.0, 1.15), (0.12, 1.03)):
        clock = FakeClock()
        bucket = TokenBucket(1, clock=clock)
        bucket.set_credit(credit)
        held = bucket.reserve(1)
        assert held is not None
        clock.advance(0.15)
        held.done()
        start = clock.now()
        bucket.acquire(1)
        assert clock.now() - start + 0.15 == pytest.approx(expected, abs=0.005)
    bucket.set_credit(10)
    assert bucket.credit == pytest.approx(0.5)  # at most half a window
    with pytest.raises(ValueError):
        bucket.set_credit(-1)


def test_workers_default_is_automatic_and_an_explicit_number_is_kept() -> None:
    assert EngineConfig().workers is None
    assert EngineConfig(workers=3).workers == 3
    with pytest.raises(ConfigurationError):
        EngineConfig(workers=MAX_WORKERS + 1)
    with pytest.raises(ConfigurationError):
        EngineConfig(workers=0)


class _Distant(BaseTransport):
    """Answers after ``latency`` seconds; counts the most calls open at once."""

    name = "memory"

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.open_now = 0
        self.most_open = 0
        self.lock = threading.Lock()

    def send(self, batch: Sequence[Message]) -> list[Reply]:
        with self.lock:
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
        started = time.time()
        time.sleep(self.latency)
        with self.lock:
            self.open_now -= 1
        return [Reply(Verdict.ACCEPTED, started, time.time(), message_id="m")] * len(batch)


@pytest.mark.slow
def test_engine_keeps_enough_requests_in_flight_to_meet_the_pace_at_a_distance() -> None:
    """Fails on the old engine: 8 threads at 100 ms make 80/s of the 300/s quota."""
    transport = _Distant(0.100)
    n = 600
    engine = SendEngine(FakePlan(n), transport, EngineConfig(), quota=Quota(300, -1))
    started = time.monotonic()
    outcomes = engine.run()
    elapsed = time.monotonic() - started
    assert [o.status for o in outcomes] == [Status.SENT] * n
    assert transport.most_open > 8
    assert elapsed < n / 300 * 1.6  # ~2 s of pacing; 7.5 s with 8 threads
    _, peak = engine.concurrency
    assert peak >= transport.most_open - 1


def test_the_quota_calls_round_trip_sizes_the_first_requests() -> None:
    """Fails on the old engine: the first answers, 200 ms away, found 8 requests open; the
    quota call (GetAccount, 200 ms away too) already said how far the provider is."""

    class _FirstAnswer(_Distant):
        def __init__(self, latency: float) -> None:
            super().__init__(latency)
            self.open_at_first_answer: int | None = None

        def send(self, batch: Sequence[Message]) -> list[Reply]:
            with self.lock:
                self.open_now += 1
            started = time.time()
            time.sleep(self.latency)
            with self.lock:
                if self.open_at_first_answer is None:
                    self.open_at_first_answer = self.open_now
                self.open_now -= 1
            return [Reply(Verdict.ACCEPTED, started, time.time(), message_id="m")] * len(batch)

    transport = _FirstAnswer(0.2)
    quota = Quota(300, -1, answered_in=0.2)
    engine = SendEngine(FakePlan(120), transport, EngineConfig(), quota=quota)
    assert all(o.status is Status.SENT for o in engine.run())
    assert transport.open_at_first_answer is not None
    assert transport.open_at_first_answer > 40  # 300/s × 0.2 s × 1.3 + 2 = 80 wanted


def test_an_explicit_worker_count_is_an_override() -> None:
    transport = _Distant(0.02)
    engine = SendEngine(FakePlan(40), transport, EngineConfig(workers=2), quota=Quota(1000, -1))
    engine.run()
    assert transport.most_open <= 2
    assert engine.concurrency == (2, 2)


@pytest.mark.slow
def test_an_explicit_worker_count_keeps_the_latency_credit() -> None:
    """Fails on the old engine: with ``workers=`` set, nothing measured the answers and the
    pacer never got its credit."""

    class _Pacer:
        def __init__(self) -> None:
            self.bucket = TokenBucket(50)
            self.credits: list[float] = []

        @property
        def rate(self) -> float:
            return 50.0

        @property
        def capacity(self) -> float:
            return 50.0

        def reserve(self, n: float = 1, abort: threading.Event | None = None) -> object:
            return self.bucket.reserve(n, abort)

        def set_credit(self, seconds: float) -> None:
            self.credits.append(seconds)
            self.bucket.set_credit(seconds)

    transport, pacer = _Distant(0.05), _Pacer()
    engine = SendEngine(FakePlan(75), transport, EngineConfig(workers=3), pacer=pacer)
    assert all(o.status is Status.SENT for o in engine.run())  # 1.5 s: past CREDIT_AFTER_S
    assert transport.most_open <= 3 and engine.concurrency == (3, 3)
    assert max(pacer.credits) == pytest.approx(CREDIT_SHARE * 0.05 - PROCESSING_ALLOWANCE,
                                               abs=0.01)  # fmt: skip


def test_injected_pacer_sizes_from_its_rate() -> None:
    """The Dask path passes a pacer (a lease of the cluster's rate): sizing uses its rate."""

    class _Pacer:
        def __init__(self) -> None:
            self.bucket = TokenBucket(400)

        @property
        def rate(self) -> float:
            return 400.0

        @property
        def capacity(self) -> float:
            return 400.0

        def reserve(self, n: float = 1, abort: threading.Event | None = None) -> object:
            return self.bucket.reserve(n, abort)

    transport = _Distant(0.06)
    engine = SendEngine(FakePlan(300), transport, EngineConfig(), pacer=_Pacer())
    outcomes = engine.run()
    assert all(o.status is Status.SENT for o in outcomes)
    assert transport.most_open > 8  # 400/s × 60 ms = 24 in flight


def test_adaptive_falls_to_what_was_accepted_not_to_half() -> None:
    clock = FakeClock()
    adaptive = AdaptiveRate(TokenBucket(10, clock=clock), ceiling=10_000,
                            slow_start_period=0.5, probe=0.02, measured=True)  # fmt: skip
    for _ in range(80):  # slow start: every answer grows the rate a little, if it is used
        clock.advance(0.05)
        adaptive.count(adaptive.rate * 0.05)
        adaptive.bucket.limited_at = clock.now()  # and the client wanted more
        adaptive.on_success()
    assert adaptive.rate > 300
    clock.advance(1.5)  # what slow start sent leaves the last second
    for _ in range(20):
        clock.advance(0.05)
        adaptive.count(500 * 0.05)  # the provider's limit: 500/s
    adaptive.on_throttle()
    assert adaptive.rate == pytest.approx(0.95 * 500)
    clock.advance(1.01)
    adaptive.count(470)
    adaptive.bucket.limited_at = clock.now()
    adaptive.on_success()
    assert adaptive.rate == pytest.approx(0.95 * 500 + 0.02 * 500)


def test_adaptive_slow_start_stops_growing_a_rate_that_holds_nothing_back() -> None:
    """At 500/s on a loaded machine the answers showed the limit used (500 a second) while
    the client could send no faster: slow start went on to 1,251/s, and when the workers
    caught up, the room came out at once and 35 requests were throttled. A rate grows only
    while an admission waited for it in the last period (RFC 7661)."""
    clock = FakeClock()
    bucket = TokenBucket(400, clock=clock)
    adaptive = AdaptiveRate(bucket, ceiling=10_000, slow_start_period=0.5, probe=0.02,
                            measured=True)  # fmt: skip
    for _ in range(40):  # the client sends 500/s, all accepted, and never waits
        clock.advance(0.05)
        adaptive.count(500 * 0.05)
        adaptive.on_success()
    assert adaptive.rate == 400
    bucket.acquire(bucket.capacity)  # now the client wants more than the rate: it waits
    bucket.acquire(1)
    for _ in range(10):
        clock.advance(0.05)
        adaptive.count(500 * 0.05)
        adaptive.on_success()
    assert adaptive.rate > 400


def test_adaptive_does_not_grow_a_rate_it_does_not_use() -> None:
    clock = FakeClock()
    adaptive = AdaptiveRate(TokenBucket(100, clock=clock), ceiling=10_000, measured=True)
    adaptive.on_throttle()  # leaves slow start (nothing accepted yet: halves)
    for _ in range(10):
        clock.advance(1.01)
        adaptive.count(10)  # a CPU-bound client sends 10/s of the 50/s allowed
        adaptive.on_success()
    assert adaptive.rate == 50


def test_a_run_starts_from_what_the_last_run_on_its_transport_measured() -> None:
    """The next partition on a Dask worker: sized and credited from its first request."""
    first, clocks = _sizing()
    assert first.estimate() is None  # nothing measured
    for _ in range(50):
        first.record(0.150, 1)
    assert first.estimate() is None  # the first answers may have queued: no credit yet
    clocks.advance(CREDIT_AFTER_S)
    path = first.estimate()
    assert path is not None and path.shortest == 0.150 and path.latency == 0.150

    second = Concurrency(initial=8, ceiling=256, clock=lambda: clocks.wall)
    assert second.credit == 0.0
    level = second.recall(path, 500.0, 1)
    assert level == first.need(500.0, 1) > 8
    assert second.credit == pytest.approx(CREDIT_SHARE * 0.150 - PROCESSING_ALLOWANCE)
    second.record(0.120, 1)  # a shorter answer lowers the shortest at once
    assert second.credit == pytest.approx(CREDIT_SHARE * 0.120 - PROCESSING_ALLOWANCE)


def test_an_old_estimate_or_a_run_already_measuring_ignores_the_recall() -> None:
    first, clocks = _sizing()
    for _ in range(50):
        first.record(0.150, 1)
    clocks.advance(CREDIT_AFTER_S)
    path = first.estimate()
    assert path is not None
    clocks.advance(PATH_MEMORY_S + 1)
    stale = Concurrency(initial=8, ceiling=256, clock=lambda: clocks.wall)
    assert stale.recall(path, 500.0, 1) == 8 and stale.credit == 0.0
    busy = Concurrency(initial=8, ceiling=256, clock=lambda: clocks.wall)
    busy.record(0.050, 1)
    fresh = PathEstimate(0.150, 0.150, 1.0, clocks.wall)
    assert busy.recall(fresh, 500.0, 1) == 8 and busy.credit == 0.0
