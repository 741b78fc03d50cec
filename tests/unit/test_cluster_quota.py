"""The shared quota without Dask: the lease log, the daily pool, the worker-side pacer and the
engine's pacer hook, on fake clocks (the Dask side is in tests/integration/test_cluster.py)."""

from __future__ import annotations

import random
import threading
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes import FakeClock
from tests.unit.test_engine import FakePlan
from toolkit.cluster.pacer import FencedError, LeasedPacer, SharedDaily
from toolkit.cluster.quota import FENCED, STOPPED, DailyPool, RateLog
from toolkit.delivery.engine import EngineConfig, SendEngine
from toolkit.results import Status
from toolkit.transports.memory import RecordingTransport


def busiest_overlap(starts: np.ndarray, ends: np.ndarray, counts: np.ndarray) -> float:
    """The most recipients whose request interval [start, end] overlaps one 1-s window: what
    a provider could count in a second, wherever each request arrived within its interval."""
    candidates = starts - 1.0 + 1e-9  # the count only grows just after a request enters
    inside = (starts[None, :] < candidates[:, None] + 1.0) & (ends[None, :] >= candidates[:, None])
    return float((inside * counts[None, :]).sum(axis=1).max())


def simulate(
    rnd: random.Random,
    *,
    rate: float,
    owners: int,
    batch: int,
    latency: float,
    stamps: bool,
    coalesce: float,
    seconds: float = 3.0,
    slice_s: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Owners lease from one RateLog in 1 ms steps, as LeasedPacer does, with random transit
    times to the service and random request latencies; returns every request made."""
    now = [0.0]
    log = RateLog(rate, coalesce=coalesce, clock=lambda: now[0])
    current: list[dict | None] = [None] * owners
    ask_at = [0.0] * owners
    leases: list[dict] = []  # every lease granted, until reported
    flying: list[tuple[float, float, int, dict]] = []
    finishes: list[tuple[float, int, float, list[list[float]]]] = []
    done: list[tuple[float, float, int]] = []
    for step in range(int(seconds * 1000)):
        t = now[0] = step * 0.001
        for finish in [f for f in finishes if f[0] <= t]:
            finishes.remove(finish)
            log.finish(finish[1], finish[2], finish[3] if stamps else None)
        for flight in [f for f in flying if f[1] <= t]:
            flying.remove(flight)
            start, end, n, lease = flight
            done.append((start, end, n))
            lease["open"] -= 1
            lease["stamps"].append([n, end - lease["born"] + lease["rtt"]])
        for owner in range(owners):
            lease = current[owner]
            if lease is None:
                if t < ask_at[owner]:
                    continue
                there, back = rnd.uniform(0, 0.003), rnd.uniform(0, 0.003)
                now[0] = t + there  # the service sees the call a little later
                lease_id, granted, wait = log.lease(max(batch, rate * slice_s), batch, str(owner))
                now[0] = t
                if lease_id:
                    current[owner] = {"id": lease_id, "left": granted, "used": 0, "open": 0,
                                      "born": t + there + back, "rtt": there + back,
                                      "stamps": [], "retired": False}  # fmt: skip
                    leases.append(current[owner])
                else:
                    ask_at[owner] = t + there + back + wait
            elif t >= lease["born"]:
                n = rnd.randint(1, batch)
                if lease["left"] >= n and t - lease["born"] < slice_s:
                    lease["left"] -= n
                    lease["used"] += n
                    lease["open"] += 1
                    flying.append((t, t + rnd.uniform(0.001, latency), n, lease))
                else:
                    lease["retired"] = True
                    current[owner] = None
        for lease in [x for x in leases if x["retired"] and x["open"] == 0]:
            leases.remove(lease)
            finishes.append((now[0] + 0.002, lease["id"], lease["used"], lease["stamps"]))
    rows = np.array(done, dtype=float)
    return rows[:, 0], rows[:, 1], rows[:, 2]


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    rate=st.sampled_from([20.0, 100.0, 500.0]),
    owners=st.integers(1, 4),
    latency=st.sampled_from([0.005, 0.05, 0.3]),
    stamps=st.booleans(),
    coalesce=st.sampled_from([0.0, 0.03]),
)
def test_no_window_holds_more_than_the_rate(
    seed: int, rate: float, owners: int, latency: float, stamps: bool, coalesce: float
) -> None:
    rnd = random.Random(seed)
    batch = max(1, int(rate // 20))
    starts, ends, counts = simulate(rnd, rate=rate, owners=owners, batch=batch,
                                    latency=latency, stamps=stamps, coalesce=coalesce)  # fmt: skip
    assert counts.sum() > rate  # the run was long enough to be limited
    assert busiest_overlap(starts, ends, counts) <= rate


def test_a_lease_waits_for_the_window_and_unused_tokens_come_back() -> None:
    clock = FakeClock()
    log = RateLog(10, clock=clock.now)
    first, granted, _ = log.lease(want=8, need=1, owner="a")
    assert (granted, log.lease(want=5, need=3, owner="b")[1]) == (8, 0.0)  # only 2 left
    _, granted, _ = log.lease(want=5, need=2, owner="b")
    assert granted == 2
    log.finish(first, used=3)  # 5 unused tokens are given back at once...
    assert log.in_window() == 5
    assert log.lease(want=9, need=6, owner="b")[0] == 0  # ...but the 3 used count 1 s more
    clock.advance(0.99)
    assert log.lease(want=9, need=6, owner="b")[0] == 0
    clock.advance(0.02)
    assert log.lease(want=9, need=6, owner="b")[1] == 8  # 2 still open from `second`
    assert log.stats()["returned"] == 5


def test_the_wait_hint_points_at_when_room_frees() -> None:
    clock = FakeClock()
    log = RateLog(10, clock=clock.now)
    lease_id, _, _ = log.lease(want=10, need=10, owner="a")
    assert log.lease(want=1, need=1, owner="b")[2] > 0  # all open: look again soon
    clock.advance(0.3)
    log.finish(lease_id, used=10)
    _, _, wait = log.lease(want=1, need=1, owner="b")
    assert wait == pytest.approx(1.0)


def test_stamps_let_each_request_leave_the_window_at_its_own_time() -> None:
    clock = FakeClock()
    log = RateLog(10, clock=clock.now)
    lease_id, _, _ = log.lease(want=10, need=10, owner="a")
    clock.advance(0.5)
    log.finish(lease_id, used=10, stamps=[[6, 0.1], [4, 0.5]])
    clock.advance(0.61)  # 1 s after the first group's answer, not after the last one's
    assert log.lease(want=10, need=1, owner="a")[1] == 6


def test_a_recredit_moves_finished_groups_but_never_before_their_grant() -> None:
    """A sender that learns its latency credit after it stamped leases: their groups leave
    sooner (later for a smaller credit), never before the lease was granted; an open lease
    and other senders' leases are untouched."""
    clock = FakeClock()
    log = RateLog(20, clock=clock.now)
    first, _, _ = log.lease(want=10, need=10, owner="a")
    other, _, _ = log.lease(want=10, need=10, owner="b")
    clock.advance(0.15)
    log.finish(first, used=10, stamps=[[6, 0.15], [4, 0.05]])  # no credit yet
    log.recredit([first, other], 0.12)  # b's lease is still open: it stays counted
    clock.advance(0.87)  # 1.02: the 4 answered at 0.05 stopped at the grant (0.0) and left;
    assert log.lease(want=20, need=1, owner="a")[1] == 4  # the 6 count until 0.03 + 1
    log.recredit([first], -0.5)  # a smaller credit moves a stamp later: 0.53
    clock.advance(0.02)
    assert log.in_window() == 10 + 4 + 6


def test_an_oversize_request_goes_alone_into_an_empty_window() -> None:
    log = RateLog(14, clock=FakeClock().now)
    assert log.lease(want=50, need=50, owner="a")[1] == 50
    assert log.lease(want=1, need=1, owner="a")[0] == 0


def test_a_dead_owners_open_leases_close_now() -> None:
    clock = FakeClock()
    log = RateLog(10, clock=clock.now, lease_timeout=30)
    log.lease(want=10, need=10, owner="tcp://a#1")
    assert log.drop_owner(lambda owner: owner.startswith("tcp://a#")) == 1
    clock.advance(1.01)
    assert log.lease(want=10, need=10, owner="b")[1] == 10


def test_leases_of_a_silent_owner_time_out() -> None:
    clock = FakeClock()
    log = RateLog(10, clock=clock.now, lease_timeout=5)
    log.lease(want=10, need=10, owner="a")
    clock.advance(5.5)
    assert log.lease(want=1, need=1, owner="b")[0] == 0  # closed now, counts one more window
    clock.advance(1.01)
    assert log.lease(want=1, need=1, owner="b")[1] == 1


def test_the_daily_pool_hands_out_blocks_and_takes_back_the_rest() -> None:
    pool = DailyPool(25)
    assert pool.take(want=10, need=1) == 10
    assert pool.take(want=20, need=1) == 15
    assert pool.take(want=5, need=1) == 0
    pool.give_back(4)
    assert pool.take(want=10, need=5) == 0 and pool.take(want=10, need=3) == 4
    unlimited = DailyPool(None)
    assert unlimited.take(want=7, need=1) == 7
    pool.reset(100, keep_lower=True)
    assert pool.left == 0
    pool.reset(100, keep_lower=False)
    assert pool.left == 100


class LocalChannel:
    """The service's answers without Dask: a RateLog and a DailyPool in this process."""

    def __init__(self, log: RateLog, pool: DailyPool | None = None) -> None:
        self.log = log
        self.pool = pool or DailyPool(None)
        self.answer: int | None = None  # force FENCED / STOPPED
        self.finished: list[tuple[int, float, list[list[float]]]] = []
        self.trimmed: list[tuple[int, float]] = []
        self.recredited: list[tuple[list[int], float]] = []
        self.calls = 0
        self._lock = threading.Lock()

    def lease(self, want: float, need: float) -> tuple[int, float, float]:
        with self._lock:
            self.calls += 1
        if self.answer is not None:
            return self.answer, 0.0, 0.0
        return self.log.lease(want, need, "me")

    def trim(self, lease_id: int, used: float) -> None:
        self.trimmed.append((lease_id, used))
        self.log.trim(lease_id, used)

    def finish(self, lease_id: int, used: float, stamps: list[list[float]]) -> None:
        self.finished.append((lease_id, used, stamps))
        self.log.finish(lease_id, used, stamps)

    def recredit(self, lease_ids: list[int], seconds: float) -> None:
        self.recredited.append((lease_ids, seconds))
        self.log.recredit(lease_ids, seconds)

    def daily(self, want: float, need: float) -> float:
        if self.answer == FENCED:
            return FENCED
        return self.pool.take(want, need)

    def give_back(self, n: float) -> None:
        self.pool.give_back(n)


def test_the_pacer_hands_out_one_lease_slice_and_reports_it_when_answered() -> None:
    clock = FakeClock()
    channel = LocalChannel(RateLog(100, clock=clock.now))
    pacer = LeasedPacer(channel, 100, clock=clock.now, sleep=clock.sleep)
    held = [pacer.reserve(1) for _ in range(10)]
    assert channel.calls == 1 and pacer.capacity == 100 and pacer.rate == 100
    clock.advance(0.05)
    for h in held:
        assert h is not None
        h.done()
    assert channel.finished == []  # still the current lease
    extra = pacer.reserve(1)  # the slice is used up: retired, reported, and a new one
    assert extra is not None and channel.calls == 2
    ((_, used, stamps),) = channel.finished
    assert used == 10 and sum(c for c, _ in stamps) == 10
    assert all(0.05 <= offset <= 0.07 for _, offset in stamps)
    extra.done()
    pacer.close()
    assert len(channel.finished) == 2 and channel.finished[1][1] == 1


def test_a_retired_lease_frees_what_it_never_handed_out_before_its_answers() -> None:
    """A lease's slice ends with tokens left while requests are still in flight: the unused
    tokens leave the window at once, the used ones only a window after their answers."""
    clock = FakeClock()
    log = RateLog(100, clock=clock.now)
    channel = LocalChannel(log)
    pacer = LeasedPacer(channel, 100, clock=clock.now, sleep=clock.sleep)
    held = [pacer.reserve(1) for _ in range(4)]  # a lease of 10; 4 handed out, in flight
    assert log.in_window() == 10
    clock.advance(0.2)  # the slice is over: the next reserve retires it, answers still out
    again = pacer.reserve(1)
    assert again is not None and channel.trimmed == [(1, 4)] and channel.finished == []
    assert log.in_window() == 4 + 10  # the in-flight four, and the new lease
    for h in held:
        assert h is not None
        h.done()
    assert [used for _, used, _ in channel.finished] == [4]
    clock.advance(0.5)
    assert log.in_window() == 14  # the answered four still count for a window
    clock.advance(1.0)
    assert log.in_window() == 10


def test_a_trim_after_the_finish_changes_nothing() -> None:
    """Trim and finish travel as separate messages and may arrive in either order."""
    clock = FakeClock()
    log = RateLog(100, clock=clock.now)
    lease_id, granted, _ = log.lease(10, 1, "w")
    log.finish(lease_id, 6, [[6, 0.1]])
    log.trim(lease_id, 6)
    assert granted == 10 and log.in_window() == 6 and log.returned == 4
    other, _, _ = log.lease(10, 1, "w")
    log.trim(other, 3)
    log.finish(other, 3)
    assert log.in_window() == 9 and log.returned == 11


def test_the_pacer_waits_for_room_and_gives_up_when_aborted() -> None:
    clock = FakeClock()
    channel = LocalChannel(RateLog(10, clock=clock.now))
    pacer = LeasedPacer(channel, 10, clock=clock.now, sleep=clock.sleep)
    first = pacer.reserve(10)
    assert first is not None
    first.done()
    t0 = clock.now()
    assert pacer.reserve(5) is not None and clock.now() - t0 >= 1.0  # waited for the window
    aborted = threading.Event()
    aborted.set()
    assert pacer.reserve(5, abort=aborted) is None


def test_a_fenced_worker_stops_and_a_cancelled_run_stops_cleanly() -> None:
    clock = FakeClock()
    channel = LocalChannel(RateLog(10, clock=clock.now))
    pacer = LeasedPacer(channel, 10, clock=clock.now, sleep=clock.sleep)
    channel.answer = FENCED
    with pytest.raises(FencedError):
        pacer.reserve(1)
    stops: list[str] = []
    pacer.on_stop(lambda: stops.append("stop"))
    channel.answer = STOPPED
    assert pacer.reserve(1) is None and pacer.reserve(1) is None
    assert stops == ["stop"]


def test_the_shared_daily_budget_takes_blocks_and_returns_the_rest() -> None:
    pool = DailyPool(30)
    channel = LocalChannel(RateLog(10), pool)
    daily = SharedDaily(channel, block=20)
    assert all(daily.take(1) for _ in range(25))
    assert pool.left == 0
    assert [daily.take(1) for _ in range(6)] == [True] * 5 + [False]
    daily.close()
    other = SharedDaily(channel, block=20)
    assert not other.take(1)
    channel.answer = FENCED
    with pytest.raises(FencedError):
        other.take(1)


def test_the_engine_sends_through_a_pacer_and_daily_budget_it_is_given() -> None:
    clock = FakeClock()
    channel = LocalChannel(RateLog(50, clock=clock.now), DailyPool(120))
    pacer = LeasedPacer(channel, 50, clock=clock.now, sleep=clock.sleep)
    transport = RecordingTransport()
    engine = SendEngine(FakePlan(200), transport, EngineConfig(workers=4, rate=1_000_000),
                        clock=clock, pacer=pacer, daily=SharedDaily(channel, block=10))  # fmt: skip
    outcomes = engine.run()
    pacer.close()
    counts = Counter(o.status.value for o in outcomes)
    assert counts == {"sent": 120, "failed": 80}
    assert {o.error_code for o in outcomes if o.status is Status.FAILED} == {"DailyQuotaExceeded"}
    assert channel.calls >= 120 / 5  # leased from the channel, not paced by rate=1_000_000
    assert engine.snapshot().send_rate == 50


def test_the_latency_credit_moves_each_answer_back_but_never_before_the_grant() -> None:
    """As the token bucket's credit: an answered request counts from ``credit`` seconds
    before its answer (the provider counted it no later than its way back), never earlier
    than the lease was granted."""
    clock = FakeClock()
    channel = LocalChannel(RateLog(100, clock=clock.now))
    pacer = LeasedPacer(channel, 100, clock=clock.now, sleep=clock.sleep)
    pacer.set_credit(0.04)
    held = [pacer.reserve(1) for _ in range(10)]
    clock.advance(0.05)
    for h in held[:5]:
        assert h is not None
        h.done()
    clock.advance(0.04)
    for h in held[5:]:
        assert h is not None
        h.done()
    pacer.reserve(1)  # the slice is used up: the first lease is reported
    ((_, used, stamps),) = channel.finished
    offsets = sorted(offset for _, offset in stamps)
    assert used == 10 and 0.009 <= offsets[0] <= 0.02 and 0.049 <= offsets[-1] <= 0.06
    pacer.set_credit(0.5)  # more than the answer time: the offset stops at the grant
    clock.advance(0.05)
    pacer.close()  # the second lease (one answer pending) is reported when it is answered
    with pytest.raises(ValueError):
        pacer.set_credit(-1)


def test_leases_reported_before_the_credit_came_are_recredited() -> None:
    """The credit comes after a second of answers: the leases already reported without it
    are re-credited at the service, so that the first window's tokens come back a credit
    sooner, as the local bucket's do (else every later window keeps that lag)."""
    clock = FakeClock()
    channel = LocalChannel(RateLog(10, clock=clock.now))
    pacer = LeasedPacer(channel, 10, clock=clock.now, sleep=clock.sleep)
    held = [pacer.reserve(1) for _ in range(10)]  # the whole window, one lease of 1 each
    clock.advance(0.15)
    for h in held:
        assert h is not None
        h.done()  # answered 0.15 after their grants: each retired lease is reported
    assert len(channel.finished) == 9  # the tenth is reported once the next one is taken
    clock.advance(0.5)
    pacer.set_credit(0.12)
    ((lease_ids, seconds),) = channel.recredited
    assert sorted(lease_ids) == sorted(f[0] for f in channel.finished) and seconds == 0.12
    assert pacer.reserve(1) is not None  # at 0.03 + 1, not 0.15 + 1
    assert channel.finished[-1][2] == [[1.0, pytest.approx(0.03)]]  # the tenth, credited
    assert clock.now() == pytest.approx(1.03, abs=0.002)
    pacer.set_credit(0.12)  # no change: nothing sent
    pacer.set_credit(0.1205)  # less than a millisecond: not worth a message
    assert len(channel.recredited) == 1
    pacer.set_credit(0.1)  # the shortest answer got shorter: the leases move back, later
    assert channel.recredited[-1][1] == pytest.approx(-0.02)
