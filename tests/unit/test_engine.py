"""The send engine against RecordingTransport, on a fake clock (no real sleeps)."""

from __future__ import annotations

import itertools
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes import FakeClock
from toolkit.compose.message import Message
from toolkit.delivery.engine import EngineConfig, Progress, SendEngine
from toolkit.delivery.ledger import Ledger
from toolkit.delivery.retry import RetryPolicy
from toolkit.errors import ConfigurationError, ProviderConfigurationError
from toolkit.results import Outcome, Reply, Status, Verdict
from toolkit.targets import Quota
from toolkit.transports.memory import RecordingTransport


class FakePlan:
    """A stand-in for ``toolkit.compose.Plan`` (pure data, no DataFrame)."""

    def __init__(
        self,
        n: int,
        *,
        invalid: Sequence[int] = (),
        late_invalid: Sequence[int] = (),
        version: str = "v1",
        recipients: int = 1,
    ) -> None:
        self.size = n
        self.row_keys = [f"r{i}" for i in range(n)]
        self.content_hashes = [f"{version}-{i}" for i in range(n)]
        self.preflight = {
            i: Outcome(self.row_keys[i], Status.INVALID, "memory", error_code="InvalidAddress")
            for i in invalid
        }
        self.sendable = [i for i in range(n) if i not in self.preflight]
        self.late_invalid = set(late_invalid)
        self.recipients = recipients
        self.largest_render = 0

    def render(self, positions: Sequence[int]) -> list[Message | Outcome]:
        self.largest_render = max(self.largest_render, len(positions))
        out: list[Message | Outcome] = []
        for p in positions:
            if p in self.late_invalid:
                out.append(
                    Outcome(self.row_keys[p], Status.INVALID, "memory", error_code="TooLarge")
                )
                continue
            to = tuple(f"user{p}-{k}@example.org" for k in range(self.recipients))
            out.append(
                Message(self.row_keys[p], p, "sender@example.com", to, subject="hi", text="hello")
            )
        return out


def run(plan: FakePlan, transport: RecordingTransport, **kwargs: object) -> list[Outcome]:
    ledger = kwargs.pop("ledger", None)
    clock = kwargs.pop("clock", None) or FakeClock()
    observers = kwargs.pop("observers", ())
    retry = kwargs.pop("retry", None)
    quota = kwargs.pop("quota", None)
    config = EngineConfig(**{"workers": 4, **kwargs})  # type: ignore[arg-type]
    engine = SendEngine(
        plan,
        transport,
        config,
        quota=quota,
        ledger=ledger,  # type: ignore[arg-type]
        clock=clock,
        observers=observers,
        retry=retry,
    )  # type: ignore[arg-type]
    return engine.run()


def statuses(outcomes: list[Outcome]) -> Counter[str]:
    return Counter(o.status.value for o in outcomes)


def test_all_accepted() -> None:
    plan = FakePlan(100)
    transport = RecordingTransport()
    outcomes = run(plan, transport)
    assert [o.row_key for o in outcomes] == plan.row_keys
    assert statuses(outcomes) == {"sent": 100}
    assert all(o.attempts == 1 and o.message_id and o.batch_id for o in outcomes)
    assert sorted(m.position for m in transport.outbox) == list(range(100))


def test_preflight_and_late_invalid_rows_keep_their_outcomes() -> None:
    plan = FakePlan(20, invalid=[3, 4], late_invalid=[7])
    transport = RecordingTransport()
    outcomes = run(plan, transport)
    assert statuses(outcomes) == {"sent": 17, "invalid": 3}
    assert outcomes[7].error_code == "TooLarge"
    assert {m.position for m in transport.outbox}.isdisjoint({3, 4, 7})


def test_verdicts_map_to_statuses_and_only_retryable_ones_retry() -> None:
    verdict_of = {
        0: Verdict.REJECTED,
        1: Verdict.UNKNOWN,
        2: Verdict.TRANSIENT,
        3: Verdict.THROTTLED,
    }
    transport = RecordingTransport(lambda m: verdict_of.get(m.position))
    outcomes = run(FakePlan(6), transport, max_attempts=3)
    assert [o.status for o in outcomes[:4]] == [
        Status.REJECTED,
        Status.UNKNOWN,
        Status.FAILED,
        Status.FAILED,
    ]
    assert [o.attempts for o in outcomes] == [1, 1, 3, 3, 1, 1]
    assert outcomes[2].error_code == "Transient"
    assert outcomes[4].status is Status.SENT


def test_bulk_partial_failure_retries_only_failed_members_rebatched() -> None:
    seen: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(m: Message) -> Verdict | None:
        with lock:
            seen[m.position] += 1
            first = seen[m.position] == 1
        return Verdict.THROTTLED if first and m.position % 3 == 0 else None

    transport = RecordingTransport(handler, max_batch=10)
    plan = FakePlan(60)
    outcomes = run(
        plan,
        transport,
        workers=1,
        retry=RetryPolicy.standard(5, random=lambda: 0.5),
        quota=Quota(max_send_rate=1000, max_24_hour_send=-1),
    )
    assert statuses(outcomes) == {"sent": 60}
    assert Counter(m.position for m in transport.outbox) == Counter(range(60))
    first_round = transport.calls[:6]
    assert all(len(call) == 10 for call in first_round)
    retried = [call for call in transport.calls[6:]]
    retried_keys = [k for call in retried for k in call]
    assert sorted(retried_keys) == sorted(f"r{i}" for i in range(0, 60, 3))
    # re-batched: retries from different original batches share a request
    assert max(len(call) for call in retried) > 4
    assert all(outcomes[i].attempts == (2 if i % 3 == 0 else 1) for i in range(60))


VERDICTS = [
    Verdict.ACCEPTED,
    Verdict.REJECTED,
    Verdict.THROTTLED,
    Verdict.TRANSIENT,
    Verdict.UNKNOWN,
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 120),
    weights=st.lists(st.integers(0, 5), min_size=5, max_size=5).filter(lambda w: sum(w) > 0),
    max_batch=st.sampled_from([1, 7, 50]),
    workers=st.integers(1, 5),
    max_attempts=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_every_row_gets_exactly_one_final_status(
    n: int, weights: list[int], max_batch: int, workers: int, max_attempts: int, seed: int
) -> None:
    rng = random.Random(seed)
    lock = threading.Lock()

    def handler(m: Message) -> Verdict:
        with lock:
            return rng.choices(VERDICTS, weights)[0]

    plan = FakePlan(n, invalid=[i for i in range(n) if i % 17 == 5])
    transport = RecordingTransport(handler, max_batch=max_batch)
    with Ledger(":memory:") as ledger:
        outcomes = run(plan, transport, workers=workers, max_attempts=max_attempts, ledger=ledger)
        journal = {r.row_key: r.status for r in ledger.records()}
    # the journal agrees with the results, and nothing is left in flight
    for outcome in outcomes:
        if outcome.status is not Status.INVALID:
            assert journal[outcome.row_key] == outcome.status.value
    assert len(outcomes) == n
    assert [o.row_key for o in outcomes] == plan.row_keys
    sent_positions = Counter(m.position for m in transport.outbox)
    assert all(c == 1 for c in sent_positions.values())  # nothing accepted twice
    for position, outcome in enumerate(outcomes):
        assert outcome.status in set(Status)
        if outcome.status is Status.SENT:
            assert sent_positions[position] == 1 and outcome.message_id
        else:
            assert position not in sent_positions
        assert outcome.attempts <= max_attempts
        if outcome.status in (Status.REJECTED, Status.UNKNOWN):
            assert outcome.attempts >= 1


def test_provider_configuration_error_stops_and_fails_unfinished_rows() -> None:
    calls = Counter[str]()

    def handler(m: Message) -> None:
        calls["n"] += 1
        if m.position == 10:
            raise ProviderConfigurationError("AccountSuspended", "sending paused")

    transport = RecordingTransport(handler)
    outcomes = run(FakePlan(200), transport, workers=1)
    assert statuses(outcomes)["sent"] == 10
    failed = [o for o in outcomes if o.status is Status.FAILED]
    assert len(failed) == 190
    assert {o.error_code for o in failed} == {"AccountSuspended"}
    assert outcomes[10].attempts == 1 and outcomes[11].attempts == 0
    assert calls["n"] <= 12


def test_daily_quota_caps_the_run_up_front() -> None:
    quota = Quota(max_send_rate=1000, max_24_hour_send=50, sent_last_24_hours=40)
    transport = RecordingTransport()
    outcomes = run(FakePlan(30), transport, quota=quota)
    assert statuses(outcomes) == {"sent": 10, "failed": 20}
    assert {o.error_code for o in outcomes if o.status is Status.FAILED} == {"DailyQuotaExceeded"}
    assert all(o.attempts == 0 for o in outcomes if o.status is Status.FAILED)


def test_daily_quota_throttle_stops_instead_of_spinning() -> None:
    def handler(m: Message) -> Reply | None:
        if m.position >= 5:
            return Reply(
                Verdict.DAILY_QUOTA,
                0.0,
                0.0,
                code="DailyQuotaExceeded",
                message="Daily message quota exceeded.",
            )
        return None

    transport = RecordingTransport(handler)
    outcomes = run(FakePlan(100), transport, workers=1)
    assert statuses(outcomes) == {"sent": 5, "failed": 95}
    assert all(o.error_code == "DailyQuotaExceeded" for o in outcomes[5:])
    assert len(transport.calls) <= 7  # stopped right away, no retries


def test_pacing_inside_the_engine_respects_the_quota_rate() -> None:
    clock = FakeClock()
    stamps: list[float] = []
    lock = threading.Lock()

    def handler(m: Message) -> None:
        with lock:
            stamps.append(clock.now())

    transport = RecordingTransport(handler, max_batch=5)
    outcomes = run(
        FakePlan(200),
        transport,
        clock=clock,
        workers=6,
        quota=Quota(max_send_rate=20, max_24_hour_send=-1),
    )
    assert statuses(outcomes) == {"sent": 200}
    stamps.sort()
    for i, t in enumerate(stamps):
        inside = sum(1 for s in stamps[i:] if s < t + 1.0)
        assert inside <= 20
    assert clock.now() >= 9.0


def test_a_rate_below_one_per_second_spaces_every_send_by_one_over_the_rate() -> None:
    # Issue 9, row 7: rate=0.25 sends one message every 4 s (it used to be floored to 1/s).
    clock = FakeClock()
    stamps: list[float] = []

    def handler(m: Message) -> None:
        stamps.append(clock.now())

    outcomes = run(FakePlan(6), RecordingTransport(handler, max_batch=50), clock=clock,
                   workers=3, rate=0.25)  # fmt: skip
    assert statuses(outcomes) == {"sent": 6}
    stamps.sort()
    assert [b - a for a, b in itertools.pairwise(stamps)] == pytest.approx([4.0] * 5, abs=0.01)


def test_batches_shrink_to_fit_a_small_rate() -> None:
    transport = RecordingTransport(max_batch=50)
    outcomes = run(FakePlan(100), transport, quota=Quota(max_send_rate=14, max_24_hour_send=-1))
    assert statuses(outcomes) == {"sent": 100}
    assert max(len(c) for c in transport.calls) == 14


def test_limit_skips_the_rest() -> None:
    transport = RecordingTransport()
    outcomes = run(FakePlan(10), transport, limit=4)
    assert statuses(outcomes) == {"sent": 4, "skipped": 6}
    assert {o.error_code for o in outcomes[4:]} == {"Limit"}


def test_rendering_is_chunked() -> None:
    plan = FakePlan(5000)
    outcomes = run(plan, RecordingTransport(max_batch=50), chunk_size=300)
    assert len(outcomes) == 5000
    assert plan.largest_render <= 300


def test_transport_exception_makes_the_batch_unknown() -> None:
    def handler(m: Message) -> None:
        if m.position == 2:
            raise ConnectionResetError("peer reset")

    outcomes = run(FakePlan(5), RecordingTransport(handler))
    assert outcomes[2].status is Status.UNKNOWN
    assert outcomes[2].error_code == "ConnectionResetError"
    assert statuses(outcomes)["sent"] == 4


def test_observers_get_snapshots_and_a_final_one() -> None:
    snapshots: list[Progress] = []
    outcomes = run(FakePlan(50, invalid=[1]), RecordingTransport(), observers=[snapshots.append])
    assert len(outcomes) == 50
    final = snapshots[-1]
    assert final.finished and final.done == 50
    assert final.counts["sent"] == 49 and final.counts["invalid"] == 1
    assert final.counts["pending"] == 0


# -- ledger: journal before send, cancel, resume -----------------------------------------------


def test_rows_are_journaled_in_flight_before_the_request(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    seen: list[str] = []

    def handler(m: Message) -> None:
        with sqlite3.connect(path) as peek:  # another connection sees only committed data
            row = peek.execute(
                "SELECT status, batch_id FROM rows WHERE row_key=?", (m.row_key,)
            ).fetchone()
        seen.append(row[0])
        assert row[1]

    with Ledger(path) as ledger:
        run(FakePlan(20), RecordingTransport(handler), ledger=ledger, workers=2)
        assert ledger.counts() == {"sent": 20}
    assert seen == ["in_flight"] * 20


def test_cancel_leaves_a_consistent_ledger_and_resume_sends_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    plan = FakePlan(300)
    engine_box: list[SendEngine] = []

    def handler(m: Message) -> None:
        if m.position == 40:
            engine_box[0].cancel()

    transport = RecordingTransport(handler, max_batch=5)
    with Ledger(path) as ledger:
        engine = SendEngine(
            plan, transport, EngineConfig(workers=3), ledger=ledger, clock=FakeClock()
        )
        engine_box.append(engine)
        outcomes = engine.run()
        counts = statuses(outcomes)
        assert counts["sent"] + counts["skipped"] == 300
        assert counts["skipped"] > 0
        assert {o.error_code for o in outcomes if o.status is Status.SKIPPED} == {"Cancelled"}
        assert "in_flight" not in ledger.counts()
        assert ledger.counts()["sent"] == counts["sent"]

    resumed_transport = RecordingTransport(max_batch=5)
    with Ledger(path) as ledger:
        outcomes2 = run(FakePlan(300), resumed_transport, ledger=ledger)
    assert statuses(outcomes2) == {"sent": 300}
    first = Counter(m.position for m in transport.outbox)
    second = Counter(m.position for m in resumed_transport.outbox)
    assert first + second == Counter(range(300))  # every row delivered exactly once
    # rows final before the resume come back with their recorded outcome
    for o in outcomes2:
        if int(o.row_key[1:]) in first:
            assert o.message_id and o.message_id.startswith("mem-")


def test_resume_turns_in_flight_rows_into_unknown(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    from toolkit.delivery.ledger import InFlight

    with Ledger(path) as ledger:
        ledger.mark_in_flight([InFlight("r1", "v1-1", "x@example.org", 1)], "crashed-1", 1.0)
    transport = RecordingTransport()
    with Ledger(path) as ledger:
        assert ledger.recovered == 1
        outcomes = run(FakePlan(3), transport, ledger=ledger)
    assert outcomes[1].status is Status.UNKNOWN
    assert outcomes[1].error_code == "InterruptedInFlight"
    assert [m.position for m in transport.outbox] == [0, 2] or sorted(
        m.position for m in transport.outbox
    ) == [0, 2]

    again = RecordingTransport()
    with Ledger(path) as ledger:
        outcomes = run(FakePlan(3), again, ledger=ledger, retry_unknown=True)
    assert [m.position for m in again.outbox] == [1]
    assert statuses(outcomes) == {"sent": 3}


def test_changed_content_for_the_same_recipient_is_sent_only_when_asked(tmp_path: Path) -> None:
    # Issue 16 M2 (was: "changed content is a different message", sent again unasked).
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        run(FakePlan(4), RecordingTransport(), ledger=ledger)
    transport = RecordingTransport()
    with Ledger(path) as ledger:
        outcomes = run(FakePlan(4, version="v2"), transport, ledger=ledger)
    assert transport.outbox == []
    assert statuses(outcomes) == {"skipped": 4}
    assert {o.error_code for o in outcomes} == {"ContentChanged"}
    assert "resend_changed=True" in (outcomes[0].error_message or "")
    assert outcomes[0].recipient == "user0-0@example.org"
    asked = RecordingTransport()
    with Ledger(path) as ledger:
        run(FakePlan(4, version="v2"), asked, ledger=ledger, resend_changed=True)
    assert len(asked.outbox) == 4
    same = RecordingTransport()
    with Ledger(path) as ledger:
        run(FakePlan(4, version="v2"), same, ledger=ledger)
    assert same.outbox == []


def test_failed_rows_are_sent_again_by_a_later_run(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        outcomes = run(
            FakePlan(3),
            RecordingTransport(lambda m: Verdict.TRANSIENT if m.position == 0 else None),
            ledger=ledger,
            max_attempts=2,
        )
        assert outcomes[0].status is Status.FAILED
        assert ledger.counts() == {"failed": 1, "sent": 2}
    transport = RecordingTransport()
    with Ledger(path) as ledger:
        outcomes = run(FakePlan(3), transport, ledger=ledger)
    assert [m.position for m in transport.outbox] == [0]
    assert statuses(outcomes) == {"sent": 3}


def test_cancel_before_start_sends_nothing() -> None:
    transport = RecordingTransport()
    plan = FakePlan(10)
    engine = SendEngine(plan, transport, EngineConfig(workers=2), clock=FakeClock())
    engine.cancel()
    outcomes = engine.run()
    assert statuses(outcomes) == {"skipped": 10}
    assert transport.outbox == []


@pytest.mark.parametrize(
    "bad",
    [
        {"workers": 0},
        {"workers": -3},
        {"workers": 100_000},
        {"workers": 2.5},
        {"max_attempts": 0},
        {"rate": 0},
        {"rate": -5},
        {"rate": float("nan")},
        {"rate": float("inf")},
        {"headroom": 1.5},
        {"headroom": 0},
        {"headroom": float("nan")},
        {"chunk_size": 0},
        {"limit": -1},
        {"adaptive": "yes"},
    ],
)
def test_config_validation(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError) as info:
        EngineConfig(**bad)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)  # ConfigurationError is a ValueError too
    assert next(iter(bad)) in str(info.value)


def test_keyboard_interrupt_stops_cleanly_and_reraises(tmp_path: Path) -> None:
    class Interrupting(FakePlan):
        def render(self, positions: Sequence[int]) -> list[Message | Outcome]:
            if positions and positions[0] >= 100:
                raise KeyboardInterrupt
            return super().render(positions)

    transport = RecordingTransport()
    with Ledger(tmp_path / "l.sqlite") as ledger:
        engine = SendEngine(
            Interrupting(300),
            transport,
            EngineConfig(workers=2, chunk_size=100),
            ledger=ledger,
            clock=FakeClock(),
        )
        with pytest.raises(KeyboardInterrupt) as info:
            engine.run()
        outcomes = info.value.outcomes  # type: ignore[attr-defined]
        assert len(outcomes) == 300
        counts = statuses(outcomes)
        assert counts["sent"] == len(transport.outbox) <= 100
        assert counts["sent"] + counts["skipped"] == 300
        assert "in_flight" not in ledger.counts()


def test_retries_are_not_held_back_by_a_long_chunk() -> None:
    seen: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(m: Message) -> Verdict | None:
        with lock:
            seen[m.position] += 1
            return Verdict.THROTTLED if m.position == 0 and seen[0] == 1 else None

    transport = RecordingTransport(handler)
    outcomes = run(
        FakePlan(200),
        transport,
        workers=2,
        chunk_size=1000,
        retry=RetryPolicy.standard(5, random=lambda: 0.5),
        quota=Quota(max_send_rate=20, max_24_hour_send=-1),
    )
    assert statuses(outcomes) == {"sent": 200}
    order = [call[0] for call in transport.calls]
    assert order.count("r0") == 2
    # 0.5 s backoff at 20/s: the retry goes out after ~10-40 other requests, not after 199
    assert order.index("r0", 1) < 60


def test_adaptive_rate_converges_on_an_unknown_provider_limit() -> None:
    clock = FakeClock()
    lock = threading.Lock()
    accepted: list[float] = []
    throttled = Counter[str]()

    def provider(m: Message) -> Verdict | None:  # a provider admitting 50/s, quota unknown
        with lock:
            now = clock.now()
            recent = sum(1 for t in accepted[-60:] if t > now - 1.0)
            if recent >= 50:
                throttled["n"] += 1
                return Verdict.THROTTLED
            accepted.append(now)
            return None

    engine = SendEngine(
        FakePlan(1500),
        RecordingTransport(provider),
        EngineConfig(workers=4, max_attempts=8),
        clock=clock,
    )
    outcomes = engine.run()
    assert statuses(outcomes) == {"sent": 1500}
    assert throttled["n"] < 300  # it backs off instead of hammering
    assert 15 <= engine.snapshot().send_rate <= 110  # type: ignore[operator]
    assert clock.now() < 1500 / 50 * 2.5  # and it does not crawl far below the limit


def test_engine_config_takes_numpy_numbers_and_whole_floats_as_ints() -> None:
    import numpy as np

    config = EngineConfig(workers=8.0, limit=np.int64(3), rate=np.float32(2.5))
    assert (config.workers, config.limit, config.rate) == (8, 3, 2.5)
    assert type(config.workers) is int and type(config.limit) is int
    outcomes = run(FakePlan(5), RecordingTransport(), workers=2.0, rate=np.float64(1000))
    assert statuses(outcomes) == {"sent": 5}
    for bad in ({"workers": 8.5}, {"rate": np.bool_(True)}, {"workers": "8"}):
        with pytest.raises(ConfigurationError):
            EngineConfig(**bad)  # type: ignore[arg-type]


def test_a_batch_refused_by_a_configuration_fault_stays_pending_in_the_ledger() -> None:
    # Issue 9, row 10: nothing the fault stopped is journaled "failed"; the run after the fix
    # sends it. The results still give every row a status, and the engine keeps the fault.
    def handler(m: Message) -> None:
        raise ProviderConfigurationError("NoCredentialsError", "Unable to locate credentials")

    transport = RecordingTransport(handler)
    with Ledger(":memory:") as ledger:
        engine = SendEngine(FakePlan(5), transport, EngineConfig(workers=1), ledger=ledger,
                            clock=FakeClock())  # fmt: skip
        outcomes = engine.run()
        assert ledger.counts() == {"pending": 1}
    assert engine.fault is not None and engine.fault.code == "NoCredentialsError"
    assert statuses(outcomes) == {"failed": 5}


def test_the_ledger_disk_filling_mid_run_stops_with_one_error_and_nothing_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 16 M4: a worker's sqlite3.OperationalError was "send worker crashed" + a traceback.
    from toolkit.errors import DiskFullError

    path = tmp_path / "ledger.sqlite"
    transport = RecordingTransport(max_batch=5)
    with Ledger(path) as ledger:
        pages = ledger._conn.execute("PRAGMA page_count").fetchone()[0]
        ledger._conn.execute(f"PRAGMA max_page_count={pages + 3}")
        engine = SendEngine(FakePlan(2000), transport, EngineConfig(workers=3), ledger=ledger,
                            clock=FakeClock())  # fmt: skip
        with pytest.raises(DiskFullError):
            engine.run()
        assert all(o is not None for o in engine.outcomes())  # every row has an outcome
        assert not [r for r in caplog.records if r.levelno >= 40]  # no error lines, no traceback
    assert 0 < len(transport.outbox) < 2000
    again = RecordingTransport(max_batch=5)
    with Ledger(path) as ledger:
        outcomes = run(FakePlan(2000), again, ledger=ledger)
    first = Counter(m.position for m in transport.outbox)
    assert not first & Counter(m.position for m in again.outbox)  # nobody twice
    sent_first = {p for p in first}
    for position, outcome in enumerate(outcomes):
        if position not in sent_first:
            assert outcome.status is Status.SENT


def test_the_config_clock_reaches_the_engine_so_backoff_costs_no_real_time() -> None:
    """``EngineConfig(clock=...)`` is how a test's fake clock reaches an engine that
    ``toolkit.send`` builds (tests/helpers.py ``fake_time``): every row is throttled twice,
    and the backoff is spent on the fake clock, not slept."""
    clock = FakeClock()
    calls: Counter[str] = Counter()

    def handler(m: Message) -> Reply | None:
        calls[m.row_key] += 1
        if calls[m.row_key] <= 2:
            return Reply(Verdict.THROTTLED, 0.0, 0.0, code="Throttling")
        return None

    started = time.monotonic()
    config = EngineConfig(workers=2, max_attempts=5, clock=clock)
    outcomes = SendEngine(FakePlan(20), RecordingTransport(handler), config).run()
    assert statuses(outcomes) == {"sent": 20}
    assert clock.sleeps and sum(clock.sleeps) > 0.1  # backoff happened, on the fake clock
    assert time.monotonic() - started < 5
    assert "clock" not in repr(config) and config == EngineConfig(workers=2, max_attempts=5)


def test_a_config_clock_must_be_a_clock() -> None:
    with pytest.raises(ConfigurationError, match="clock must have now"):
        EngineConfig(clock=object())  # type: ignore[arg-type]
