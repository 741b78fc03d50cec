"""Pacing: the sliding-window guarantee, thread safety and AIMD, all on a fake clock."""

from __future__ import annotations

import heapq
import itertools
import pickle
import random
import threading
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import FakeClock
from toolkit.delivery.pacing import (
    AdaptiveRate,
    PaceMemory,
    TokenBucket,
    _Closed,
    _time_freed,
)


def max_in_any_window(stamps: list[tuple[float, int]], window: float = 1.0) -> int:
    """Largest number of recipients admitted in any window ``(t - window, t]``."""
    best = total = 0
    inside: deque[tuple[float, int]] = deque()
    for t, n in sorted(stamps):
        inside.append((t, n))
        total += n
        while inside[0][0] <= t - window:
            total -= inside.popleft()[1]
        best = max(best, total)
    return best


@pytest.mark.parametrize("rate", [14, 100, 1000])
def test_never_more_than_rate_in_any_one_second_window(rate: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, clock=clock)
    rng = random.Random(rate)
    stamps: list[tuple[float, int]] = []
    idle = 0.0
    for _ in range(rate * 6):
        n = rng.choice([1, 1, 1, 2, 3])
        bucket.acquire(n)
        stamps.append((clock.now(), n))
        if rng.random() < 5 / rate:  # idle gaps make windows straddle refills
            gap = rng.random() * 0.7
            clock.advance(gap)
            idle += gap
    assert max_in_any_window(stamps) <= rate
    # ... and it is not slower than it has to be: busy throughput close to the rate.
    sent = sum(n for _, n in stamps)
    assert sent / (clock.now() - idle) > rate * 0.9


def test_plain_token_bucket_would_break_the_window_but_this_one_does_not() -> None:
    # R admitted at t=0.999 and R more right after t=1.0 would be 2R inside (0.5, 1.5].
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    clock.advance(0.999)
    stamps = []
    for _ in range(20):
        bucket.acquire(1)
        stamps.append((clock.now(), 1))
    assert max_in_any_window(stamps) == 10
    assert stamps[-1][0] >= 0.999 + 1.0


def test_burst_smaller_than_rate_caps_each_window() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, burst=10, clock=clock)
    stamps = []
    for _ in range(50):
        bucket.acquire(1)
        stamps.append((clock.now(), 1))
    assert max_in_any_window(stamps) <= 10


def test_oversize_request_waits_for_an_empty_window() -> None:
    clock = FakeClock()
    bucket = TokenBucket(14, clock=clock)
    bucket.acquire(5)
    t_before = clock.now()
    assert bucket.acquire(50)  # cannot be split: admitted alone
    assert clock.now() >= t_before + 1.0
    bucket.acquire(1)
    assert clock.now() >= t_before + 2.0  # the window is full until the big one leaves


def test_thread_safe_under_many_workers() -> None:
    clock = FakeClock()
    bucket = TokenBucket(50, clock=clock)
    stamps: list[tuple[float, int]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(40):
            bucket.acquire(1)
            with lock:
                stamps.append((clock.now(), 1))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) == 320
    assert bucket.admitted == 320
    # Admission time is read inside the bucket's lock; the recorded stamp is read right
    # after, and the fake clock only moves forward, so the check stays valid per window.
    assert max_in_any_window(stamps) <= 50 + 8


def test_admission_times_inside_bucket_respect_window_with_threads() -> None:
    clock = FakeClock()
    bucket = TokenBucket(20, clock=clock)
    threads = [
        threading.Thread(target=lambda: [bucket.acquire(1) for _ in range(30)]) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bucket.admitted == 180
    # 180 recipients at 20/s need at least 8 full windows after the first.
    assert clock.now() >= 8.0


def test_abort_stops_waiting() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1, clock=clock)
    bucket.acquire(1)
    abort = threading.Event()
    abort.set()
    assert bucket.acquire(1, abort=abort) is False


def test_set_rate_takes_effect() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, clock=clock)
    bucket.set_rate(5)
    stamps = []
    for _ in range(20):
        bucket.acquire(1)
        stamps.append((clock.now(), 1))
    assert max_in_any_window(stamps) <= 5


def test_rejects_bad_rates() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(10).set_rate(-1)


def test_aimd_halves_on_throttle_and_probes_up_after_quiet() -> None:
    clock = FakeClock()
    adaptive = AdaptiveRate(TokenBucket(40, clock=clock), floor=2, ceiling=100, increase=5)
    adaptive.on_throttle()
    assert adaptive.rate == 20
    adaptive.on_throttle()  # same period: one wave of throttles counts once
    assert adaptive.rate == 20
    clock.advance(1.1)
    adaptive.on_throttle()
    assert adaptive.rate == 10
    adaptive.on_success()  # not quiet long enough
    assert adaptive.rate == 10
    clock.advance(1.1)
    adaptive.on_success()
    assert adaptive.rate == 15  # additive after the first throttle
    for _ in range(20):
        clock.advance(1.1)
        adaptive.on_success()
    assert adaptive.rate == 100  # ceiling
    for _ in range(20):
        clock.advance(1.1)
        adaptive.on_throttle()
    assert adaptive.rate == 2  # floor


def test_aimd_slow_start_doubles_until_first_throttle() -> None:
    clock = FakeClock()
    adaptive = AdaptiveRate(TokenBucket(10, clock=clock), ceiling=1000)
    for _ in range(3):
        clock.advance(1.01)
        adaptive.on_success()
    assert adaptive.rate == 80
    adaptive.on_throttle()
    assert adaptive.rate == 40
    clock.advance(1.01)
    adaptive.on_success()
    assert adaptive.rate == 48  # 40 + 10% of 80, the rate found too high


def test_fake_clock_records_sleeps_and_never_waits() -> None:
    clock = FakeClock(5.0)
    clock.sleep(2.5)
    assert clock.now() == 7.5
    assert clock.sleeps == [2.5]


def test_reservation_counts_until_the_request_finishes() -> None:
    # The provider counts a request when it arrives, somewhere before the answer: an
    # admission must keep counting for one window after done(), not after reserve().
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    reservation = bucket.reserve(10)
    assert reservation is not None
    clock.advance(0.3)  # request latency
    reservation.done()
    start = clock.now()
    bucket.acquire(1)
    assert clock.now() >= start + 1.0


def test_reserved_requests_in_flight_block_the_window() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, clock=clock)
    held = bucket.reserve(5)
    assert held is not None
    clock.advance(3.0)  # still in flight after 3 s: it may not have arrived yet
    abort = threading.Event()
    done_later = threading.Timer(0.05, held.done)
    done_later.start()
    assert bucket.acquire(1, abort=abort)
    done_later.join()
    assert bucket.admitted == 6


@pytest.mark.parametrize("rate", [0.25, 0.5, 0.9])
def test_a_rate_below_one_per_second_is_paced_exactly(rate: float) -> None:
    # Issue 9, row 7: rate=0.25 is one recipient every 4 s, not one per second.
    clock = FakeClock()
    bucket = TokenBucket(rate, clock=clock)
    stamps = []
    for _ in range(12):
        bucket.acquire(1)
        stamps.append(clock.now())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps == pytest.approx([1 / rate] * 11)
    assert bucket.window == pytest.approx(1 / rate)
    assert max_in_any_window([(t, 1) for t in stamps], window=1 / rate) == 1


def test_below_one_per_second_a_message_with_several_recipients_holds_them_all() -> None:
    # Two recipients at 0.5/s take 4 s, so the long-run rate stays exactly 0.5/s.
    clock = FakeClock()
    bucket = TokenBucket(0.5, clock=clock)
    stamps = []
    for _ in range(6):
        bucket.acquire(2)
        stamps.append(clock.now())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps == pytest.approx([4.0] * 5)


def test_reserved_admissions_below_one_per_second_count_from_the_answer() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.25, clock=clock)
    held = bucket.reserve(1)
    assert held is not None
    clock.advance(1.5)  # the request's latency
    held.done()
    answered = clock.now()
    bucket.acquire(1)
    assert clock.now() == pytest.approx(answered + 4.0)


def test_set_rate_below_one_stretches_the_window_and_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    bucket.set_rate(0.2)
    assert bucket.window == pytest.approx(5.0)
    bucket.acquire(1)
    start = clock.now()
    bucket.acquire(1)
    assert clock.now() == pytest.approx(start + 5.0)
    bucket.set_rate(4)
    assert bucket.window == pytest.approx(1.0)


def test_adaptive_rate_with_a_floor_below_one_per_second() -> None:
    clock = FakeClock()
    adaptive = AdaptiveRate(TokenBucket(0.5, clock=clock), floor=0.25, ceiling=0.5)
    adaptive.on_throttle()
    assert adaptive.rate == 0.25
    assert adaptive.bucket.window == pytest.approx(4.0)


def test_a_credit_that_shrinks_reaches_answers_already_credited() -> None:
    """The cause of the batched calls' throttles (issue 17): the first answers queue at the
    provider, so the first credit is too large; answers credited with it must count with the
    smaller credit found later, or the next window opens before the provider's does."""
    clock = FakeClock()
    bucket = TokenBucket(100, clock=clock)
    bucket.set_credit(0.3)  # from a first, queued answer
    held = bucket.reserve(100)
    assert held is not None
    clock.advance(0.35)  # its answer: counted from 0.05 with that credit, until 1.05
    held.done()
    clock.advance(0.5)
    bucket.set_credit(0.05)  # a 60-ms round trip shows the distance: counted from 0.30
    start = clock.now()
    bucket.acquire(1)
    assert clock.now() == pytest.approx(1.30, abs=0.005), clock.now() - start


def test_an_answer_the_credit_took_out_comes_back_when_the_credit_shrinks() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, clock=clock)
    bucket.set_credit(0.3)
    held = bucket.reserve(100)
    assert held is not None
    clock.advance(0.35)
    held.done()
    clock.advance(0.75)  # 1.10: out of the window by the credit (since 1.05) ...
    bucket.acquire(1)
    assert clock.now() == pytest.approx(1.10)
    bucket.set_credit(0.05)  # ... and back in it until 1.30: 101 in the window
    bucket.acquire(1)
    assert clock.now() == pytest.approx(1.30, abs=0.005)


def test_a_credit_that_grows_applies_to_answers_in_the_window() -> None:
    clock = FakeClock()
    bucket = TokenBucket(100, clock=clock)
    held = bucket.reserve(100)
    assert held is not None
    clock.advance(0.2)
    held.done()  # no credit yet: counts until 1.20
    bucket.set_credit(0.15)
    bucket.acquire(1)
    assert clock.now() == pytest.approx(1.05, abs=0.005)


@given(
    entries=st.lists(
        st.tuples(st.floats(0, 5, allow_nan=False), st.sampled_from([0.5, 1.0, 2.0, 3.0, 50.0])),
        min_size=1,
        max_size=80,
    ),
    share=st.floats(0.01, 1.0),
)
def test_the_wait_for_room_walks_the_heap_in_the_order_entries_leave(
    entries: list[tuple[float, float]], share: float
) -> None:
    """The pacer's wait (the heap walked lazily) equals the sorted walk it replaced."""
    closed = [_Closed(0.0, i, count, start, 1.0, start, start) for i, (start, count) in
              enumerate(entries)]  # fmt: skip
    heapq.heapify(closed)
    excess = share * sum(count for _, count in entries)
    freed, expected = 0.0, None
    for leaving in sorted(closed):
        freed += leaving.count
        if freed >= excess - 1e-9:
            expected = leaving.leaves
            break
    assert _time_freed(closed, excess) == expected


def test_a_run_preloaded_with_the_last_runs_tail_stays_within_the_rate() -> None:
    """Two runs to one account back to back: the second's pacer counts what the first
    admitted in its last second, so together they never pass the rate in any window."""
    clock = FakeClock()
    memory = PaceMemory()
    stamps: list[tuple[float, int]] = []
    for _ in range(2):
        bucket = TokenBucket(10, clock=clock)
        bucket.preload(memory.recall())
        for _ in range(25):
            held = bucket.reserve(1)
            assert held is not None
            stamps.append((clock.now(), 1))
            held.done()
        memory.keep(bucket.tail())
    assert max_in_any_window(stamps) <= 10
    fresh = TokenBucket(10, clock=clock)  # without the memory, the next run bursts at once
    before = clock.now()
    for _ in range(10):
        fresh.acquire(1)
    assert clock.now() == before


def test_the_memory_keeps_only_what_still_counts_and_does_not_cross_processes() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock)
    for _ in range(4):
        bucket.acquire(1)
    clock.advance(0.5)
    assert [count for _, count in bucket.tail()] == [1.0] * 4
    clock.advance(0.6)
    assert bucket.tail() == []
    memory = PaceMemory()
    memory.keep([(5.0, 3.0)])
    assert pickle.loads(pickle.dumps(memory)).recall() == []


class _LateClock(FakeClock):
    """A loaded machine: every sleep ends ``late`` seconds after it was due."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds + self.late if seconds > 0 else seconds)


@pytest.mark.parametrize("late", [0.0, 0.05])
def test_a_process_that_wakes_late_takes_less_credit(late: float) -> None:
    """A late wake-up is a delay the process also times into its round trips, perhaps into
    one leg only: the credit shrinks by it (halving every 2 s), then comes back."""
    clock = _LateClock(late)
    bucket = TokenBucket(1, clock=clock)
    bucket.set_credit(0.12)
    first = bucket.reserve(1)
    assert first is not None
    clock.advance(0.15)
    first.done()  # leaves at 0.15 - 0.12 + 1 = 1.03
    bucket.acquire(1)  # waits for it, and wakes `late` after 1.03
    assert clock.now() == pytest.approx(1.03 + late)
    clock.late = 0.0
    held = bucket.reserve(1)  # once the acquired one leaves, a window later
    assert held is not None and clock.now() == pytest.approx(2.03 + late)
    clock.advance(0.15)
    held.done()  # credited 0.12, less the lateness halved over the 1.15 s since (0.0864)
    used = 0.12 - late * 0.5 ** (1.15 / 2)
    bucket.acquire(1)
    assert clock.now() == pytest.approx(2.03 + late + 0.15 - used + 1)
    assert bucket.credit == 0.12  # what was given; only its use shrinks


def test_one_late_wake_up_among_punctual_ones_keeps_the_credit() -> None:
    """What can inflate the shortest round trip is a delay in every request: the credit
    shrinks by how late most recent wake-ups were, not by one slow one (a thread that held
    the GIL once)."""
    clock = _LateClock(0.05)
    bucket = TokenBucket(1, clock=clock)
    bucket.set_credit(0.12)
    bucket.acquire(1)
    bucket.acquire(1)  # wakes 50 ms late
    clock.late = 0.0
    bucket.acquire(1)
    bucket.acquire(1)  # two punctual wake-ups since: the median lateness is 0
    held = bucket.reserve(1)
    assert held is not None
    start = clock.now()
    clock.advance(0.15)
    held.done()  # counted from 0.15 - 0.12 after its admission, the full credit
    bucket.acquire(1)
    assert clock.now() == pytest.approx(start + 0.15 - 0.12 + 1)
