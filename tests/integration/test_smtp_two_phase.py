"""SMTP in two phases against the sandbox: MAIL, RCPT and DATA before the pacer admits a
message, the content and its verdict inside the reservation (``SendEngine._send_prepared``).

What must hold: a refusal before the content takes no pacer slot; a prepared transaction the
pacer does not admit in time (or a cancel while it waits) is abandoned without the final
``.``, so the sandbox stores nothing from it, and the row is then sent once (or kept pending);
with the latency credit this now takes, the sandbox never accepts more than R in a second,
150 ms away.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from toolkit.compose.message import Message
from toolkit.delivery.concurrency import PathEstimate
from toolkit.delivery.config import EngineConfig
from toolkit.delivery.engine import SendEngine
from toolkit.delivery.ledger import Ledger
from toolkit.delivery.pacing import Abort, Reservation, TokenBucket
from toolkit.measure.report import busiest_window
from toolkit.results import Outcome, Status
from toolkit.sandbox import Sandbox
from toolkit.sandbox.target import smtp_target_for
from toolkit.targets import Quota
from toolkit.transports.smtp import PreparedTransaction, SmtpTransport

SENDER = "sender@example.com"


class Plan:
    """A plan of ready messages (``SendPlan``), one per address; no compose pre-flight, so an
    address the server refuses at RCPT reaches it."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = list(addresses)
        self.size = len(self.addresses)
        self.row_keys = [f"r{i}" for i in range(self.size)]
        self.content_hashes = [f"h{i}" for i in range(self.size)]
        self.preflight: dict[int, Outcome] = {}
        self.sendable = list(range(self.size))

    def render(self, positions: Sequence[int]) -> list[Message | Outcome]:
        out: list[Message | Outcome] = []
        for p in positions:
            to = self.addresses[p]
            raw = f"From: {SENDER}\r\nTo: {to}\r\nSubject: Row {p}\r\n\r\nHello.\r\n".encode()
            out.append(Message(self.row_keys[p], p, SENDER, (to,), subject=f"Row {p}", raw=raw))
        return out


class CountingPacer:
    """A token bucket that counts its admissions; ``hold_first`` makes the first reservation
    wait until its ``abort`` is set (a breaker or a paused quota that does not let it go)."""

    def __init__(self, rate: float, *, hold_first: bool = False) -> None:
        self.bucket = TokenBucket(rate)
        self.hold_first = hold_first
        self.reserved: list[float] = []
        self.aborted = 0
        self.waiting = threading.Event()

    @property
    def rate(self) -> float:
        return self.bucket.rate

    @property
    def capacity(self) -> float:
        return self.bucket.capacity

    def reserve(self, n: float = 1, abort: Abort | None = None) -> Reservation | None:
        if self.hold_first:
            self.hold_first = False
            assert abort is not None
            self.waiting.set()
            while not abort.is_set():
                threading.Event().wait(0.01)
            self.aborted += 1
            return None
        held = self.bucket.reserve(n, abort)
        if held is not None:
            self.reserved.append(n)
        return held


def smtp(sandbox: Sandbox) -> SmtpTransport:
    transport = SmtpTransport(smtp_target_for(sandbox))
    transport.open()
    return transport


def engine(
    sandbox: Sandbox, plan: Plan, pacer: CountingPacer, **kwargs: object
) -> tuple[SendEngine, SmtpTransport]:
    transport = smtp(sandbox)
    config = EngineConfig(workers=2, max_attempts=3)
    return SendEngine(plan, transport, config, pacer=pacer, **kwargs), transport  # type: ignore[arg-type]


def test_a_refusal_at_rcpt_ends_the_row_without_a_pacer_slot(sandbox: Sandbox) -> None:
    plan = Plan(["a@example.org", "b..1@example.org", "c@example.org"])  # RCPT: 501
    pacer = CountingPacer(100.0)
    run, transport = engine(sandbox, plan, pacer)
    try:
        outcomes = run.run()
    finally:
        transport.close()
    by_key = {o.row_key: o for o in outcomes}
    assert by_key["r1"].status is Status.REJECTED and by_key["r1"].error_code == "SMTP501"
    assert by_key["r1"].attempts == 1
    assert by_key["r0"].status is by_key["r2"].status is Status.SENT
    assert pacer.reserved == [1, 1]  # only the two messages whose content went
    assert sandbox.mailbox.count("smtp") == 2


def test_admission_too_late_abandons_the_transaction_and_the_row_is_sent_once(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(PreparedTransaction, "hold_s", 0.3)
    plan = Plan(["late@example.org"])
    pacer = CountingPacer(100.0, hold_first=True)
    with Ledger(tmp_path / "ledger.db") as ledger:
        run, transport = engine(sandbox, plan, pacer, ledger=ledger)
        try:
            (outcome,) = run.run()
        finally:
            transport.close()
    assert pacer.aborted == 1  # the first admission never came: abandoned after 0.3 s
    assert outcome.status is Status.SENT and outcome.attempts == 1
    frame = sandbox.mailbox.messages("smtp")
    assert list(frame["message_id"]) == [outcome.message_id]  # once: the abandoned one is void


def test_cancel_while_prepared_sends_nothing_and_keeps_the_row_pending(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    plan = Plan(["wait@example.org"])
    pacer = CountingPacer(100.0, hold_first=True)
    path = tmp_path / "ledger.db"
    with Ledger(path) as ledger:
        run, transport = engine(sandbox, plan, pacer, ledger=ledger)
        threading.Thread(target=lambda: pacer.waiting.wait(10) and run.cancel()).start()
        try:
            (outcome,) = run.run()
        finally:
            transport.close()
    assert outcome.status is Status.SKIPPED and outcome.error_code == "Cancelled"
    assert sandbox.mailbox.count("smtp") == 0
    with Ledger(path) as ledger:  # nothing in flight: a resume sends it, not "unknown"
        assert ledger.counts().get("unknown", 0) == 0
        assert ledger.counts().get("in_flight", 0) == 0


@pytest.mark.slow
def test_the_sandbox_sees_at_most_r_a_second_150ms_away_with_the_credit(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    rate = 20.0
    sandbox = make_sandbox(rate=rate, latency_ms=150)
    plan = Plan([f"success+{i}@simulator.amazonses.com" for i in range(int(rate * 3))])
    transport = smtp(sandbox)
    run = SendEngine(
        plan, transport, EngineConfig(), quota=Quota(max_send_rate=rate, max_24_hour_send=-1)
    )
    try:
        outcomes = run.run()
    finally:
        transport.close()
    assert [o.status for o in outcomes] == [Status.SENT] * plan.size
    assert all(o.attempts == 1 for o in outcomes), "throttled: the credit was unsound"
    assert run._bucket is not None and run._bucket.credit > 0.05  # the last round trip's
    accepted = sandbox.mailbox.messages("smtp")["accepted_at"]
    times = np.asarray(accepted.astype("int64"), dtype=float) / 1e9
    assert len(times) == plan.size
    assert busiest_window(times) <= rate


@pytest.mark.slow
def test_a_windows_worth_is_prepared_150ms_away_and_set_by_hand_keeps_the_credit(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """Fails on the old engine: sized by Little's law alone (18 connections for 20/s), the
    first window's last tokens waited a whole transaction (0.6 s) for a connection, and that
    lag came back in every window; and ``workers=`` took no latency credit at all."""
    rate = 20.0
    for config in (EngineConfig(), EngineConfig(workers=24)):
        sandbox = make_sandbox(rate=rate, latency_ms=150)
        plan = Plan([f"success+w{i}@simulator.amazonses.com" for i in range(int(rate * 3))])
        transport = smtp(sandbox)
        quota = Quota(max_send_rate=rate, max_24_hour_send=-1)
        run = SendEngine(plan, transport, config, quota=quota)
        try:
            outcomes = run.run()
        finally:
            transport.close()
        assert [o.status for o in outcomes] == [Status.SENT] * plan.size
        assert all(o.attempts == 1 for o in outcomes), "throttled"
        accepted = sandbox.mailbox.messages("smtp")["accepted_at"]
        times = np.sort(np.asarray(accepted.astype("int64"), dtype=float) / 1e9)
        assert busiest_window(times) <= rate
        first_window = times[: int(rate)]
        assert first_window[-1] - first_window[0] < 0.3  # together, not a transaction apart
        assert run._bucket is not None and run._bucket.credit > 0.05, config


def test_each_worker_opens_one_connection_at_a_distance(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """A worker's start claims its first connection; its first message must not claim (and
    open) a second, which then idles (160 workers 150 ms away opened 320, and 400 in 8 s)."""
    rate = 40.0
    sandbox = make_sandbox(rate=rate, latency_ms=50)
    plan = Plan([f"success+c{i}@simulator.amazonses.com" for i in range(int(rate * 3))])
    transport = smtp(sandbox)
    run = SendEngine(
        plan, transport, EngineConfig(), quota=Quota(max_send_rate=rate, max_24_hour_send=-1)
    )
    try:
        outcomes = run.run()
        pooled = transport.idle_connections
    finally:
        transport.close()
    assert [o.status for o in outcomes] == [Status.SENT] * plan.size
    assert run._sizing is not None and run._sizing.peak >= 4
    assert pooled <= run._sizing.peak


def test_the_next_run_on_a_transport_starts_from_its_measured_distance(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """As a Dask worker's partitions do: the second run on one transport takes the first's
    estimate (sized and credited from its first message), and the sandbox still sees at
    most R in any second, 150 ms away, with nothing throttled."""
    rate = 20.0
    sandbox = make_sandbox(rate=rate, latency_ms=150)
    transport = smtp(sandbox)
    quota = Quota(max_send_rate=rate, max_24_hour_send=-1)
    try:
        for run_no in range(2):
            plan = Plan([f"success+p{run_no}-{i}@simulator.amazonses.com" for i in range(50)])
            run = SendEngine(plan, transport, EngineConfig(), quota=quota)
            outcomes = run.run()
            assert [o.status for o in outcomes] == [Status.SENT] * plan.size
            assert all(o.attempts == 1 for o in outcomes), f"throttled in run {run_no}"
            path = transport.path_estimate
            assert isinstance(path, PathEstimate) and 0.15 <= path.shortest < 0.5
            # An engine given no pace memory starts with an empty window: back to back, its
            # first second and the last run's could hold 2R at the provider (``send`` passes
            # its target's memory: the next test; not what this one is about).
            time.sleep(1.1)
    finally:
        transport.close()
    accepted = sandbox.mailbox.messages("smtp")["accepted_at"]
    times = np.asarray(accepted.astype("int64"), dtype=float) / 1e9
    assert len(times) == 100 and busiest_window(times) <= rate


@pytest.mark.parametrize("via", ["ses", "smtp"])
def test_two_sends_back_to_back_to_one_target_stay_within_its_rate(
    via: str, make_sandbox: Callable[..., Sandbox]
) -> None:
    """``toolkit.send`` twice, at once, with one target (a loop over segments): the second
    run's pacer starts with the first one's last second (the target's pace memory), so the
    sandbox, 150 ms away, sees at most R in any second and throttles nothing. 20 workers
    admit a window's 20 at once, so the runs' bursts meet (without the memory, the second
    run was throttled)."""
    import pandas as pd

    import toolkit
    from toolkit.sandbox.target import aws_target_for

    rate = 20.0
    sandbox = make_sandbox(rate=rate, latency_ms=150)
    target = smtp_target_for(sandbox, rate=rate) if via == "smtp" else aws_target_for(sandbox)
    for segment in range(2):
        frame = pd.DataFrame({"email": [f"success+s{segment}-{i}@simulator.amazonses.com"
                                        for i in range(40)]})  # fmt: skip
        results = toolkit.send(frame, via, target=target, sender=SENDER, subject="Hi",
                               text="Hello.", progress=False, workers=20)  # fmt: skip
        assert (results["status"] == "sent").all()
        assert (results["attempts"] == 1).all(), f"throttled in segment {segment}"
    accepted = sandbox.mailbox.messages()["accepted_at"]
    times = np.asarray(accepted.astype("int64"), dtype=float) / 1e9
    assert len(times) == 80 and busiest_window(times) <= rate
