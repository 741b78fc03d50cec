"""The circuit breaker against the sandbox: a frame where 30 % of recipients bounce stops
before the account is hurt; the rest ends skipped/ReputationPause and a resume sends it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from toolkit import send
from toolkit.compose.plan import plan
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.breaker import REPUTATION_PAUSE_CODE, CircuitBreaker
from toolkit.delivery.config import EngineConfig
from toolkit.delivery.engine import SendEngine
from toolkit.delivery.ledger import Ledger
from toolkit.errors import ConfigurationError
from toolkit.measure.events import events_from_sandbox
from toolkit.measure.feed import SandboxFeed
from toolkit.results import Status
from toolkit.sandbox import Sandbox
from toolkit.transports.registry import make_transport

SPEC = ComposeSpec(sender="sender@example.com", subject="Hi", text="Hello")


def run_engine(
    sandbox: Sandbox, df: pd.DataFrame, ledger: Path, breaker: CircuitBreaker | None
) -> list[Status]:
    transport = make_transport("ses", sandbox, workers=2)
    p = plan(df, SPEC, mode=transport.content_mode,
             max_message_bytes=transport.max_message_bytes, transport="ses")  # fmt: skip
    transport.open()
    try:
        with Ledger(ledger) as journal:  # one send per ledger: closed before the next opens
            engine = SendEngine(p, transport, EngineConfig(rate=100.0, workers=2),
                                ledger=journal, breaker=breaker)  # fmt: skip
            outcomes = engine.run()
    finally:
        transport.close()
    by_key = {o.row_key: o for o in outcomes}
    run_engine.last = [by_key[k] for k in p.row_keys]  # type: ignore[attr-defined]
    return [by_key[k].status for k in p.row_keys]


def test_thirty_percent_bounces_trip_before_the_account_suffers(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = make_sandbox(bounce_rate=0.3, seed=5)
    df = pd.DataFrame({"email": [f"user{i}@example.org" for i in range(400)]})
    breaker = CircuitBreaker(SandboxFeed(sandbox), poll_interval=0.05)
    statuses = run_engine(sandbox, df, tmp_path / "l.sqlite3", breaker)
    outcomes = run_engine.last  # type: ignore[attr-defined]
    paused = [o for o in outcomes if o.error_code == REPUTATION_PAUSE_CODE]
    assert paused and all(o.status is Status.SKIPPED for o in paused)
    assert "hard-bounced" in paused[0].error_message
    sent = statuses.count(Status.SENT)
    assert 50 <= sent < 250  # stopped early: events lag the sends a little
    state = breaker.snapshot()
    assert state.reason is not None and state.bounce_rate >= 0.04
    # The account was not pushed into review: SES's (modelled) volume was never reached.
    account = sandbox.client("sesv2").get_account()
    assert account["EnforcementStatus"] == "HEALTHY" and account["SendingEnabled"] is True
    # The paused rows stay pending in the ledger: once the list is clean, a resume sends
    # exactly them, and nothing twice. (The run's early bounces still weigh on the account:
    # the sandbox may put it under review or pause it during the resume, as SES would.)
    sandbox.feedback.bounce_rate = 0.0
    before = sandbox.mailbox.count()
    again = run_engine(sandbox, df, tmp_path / "l.sqlite3", None)
    resumed = run_engine.last  # type: ignore[attr-defined]
    newly_sent = sandbox.mailbox.count() - before
    paused_keys = {o.row_key for o in paused}
    first_ids = {o.row_key: o.message_id for o in outcomes if o.status is Status.SENT}
    assert all(o.message_id == first_ids[o.row_key] for o in resumed if o.row_key in first_ids)
    assert newly_sent == sum(1 for o in resumed if o.row_key in paused_keys and o.status
                             is Status.SENT)  # fmt: skip
    assert again.count(Status.SENT) >= sent + min(len(paused), 60)
    recipients = [r for rs in sandbox.mailbox.messages()["recipients"] for r in rs]
    assert len(recipients) == len(set(recipients))  # 0 duplicates


def test_a_clean_list_is_not_stopped(sandbox: Sandbox, tmp_path: Path) -> None:
    df = pd.DataFrame({"email": [f"ok{i}@example.org" for i in range(120)]})
    breaker = CircuitBreaker(SandboxFeed(sandbox), poll_interval=0.05)
    statuses = run_engine(sandbox, df, tmp_path / "l.sqlite3", breaker)
    assert statuses == [Status.SENT] * len(df)
    assert breaker.snapshot().reason is None


def test_simulator_and_suppressed_bounces_do_not_count(sandbox: Sandbox) -> None:
    sandbox.suppression.put("gone@example.org", "BOUNCE")
    rows = ["bounce@simulator.amazonses.com"] * 60 + ["gone@example.org"] * 60
    spec = ComposeSpec(sender="sender@example.com", subject="Hi", text="Hello",
                       allow_duplicates=True)  # fmt: skip
    send(pd.DataFrame({"email": rows}), target=sandbox, compose=spec,
         config=EngineConfig(rate=500.0), progress=False)  # fmt: skip
    breaker = CircuitBreaker(SandboxFeed(sandbox, since=0), min_outcomes=1)
    breaker.observe(events_from_sandbox(sandbox))
    state = breaker.snapshot()
    assert state.outcomes == 0 and state.reason is None


def test_complaints_trip_and_repeats_are_dropped(sandbox: Sandbox) -> None:
    events = pd.DataFrame(
        {
            "message_id": [f"m{i}" for i in range(100)] + ["m0"],
            "recipient": [f"r{i}@example.org" for i in range(100)] + ["r0@example.org"],
            "event": ["delivery"] * 100 + ["complaint"],
            "bounce_type": None,
            "bounce_subtype": None,
        }
    )
    breaker = CircuitBreaker(SandboxFeed(sandbox))
    breaker.observe(events)
    breaker.observe(events)  # an SQS message seen twice
    state = breaker.snapshot()
    assert state.outcomes == 100 and state.complaints == 1
    assert state.reason is not None and "complaints" in state.reason


@pytest.mark.parametrize("kwargs", [{"bounce_threshold": 0}, {"min_outcomes": 0},
                                    {"min_outcomes": 10, "window": 5}])  # fmt: skip
def test_bad_settings(sandbox: Sandbox, kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        CircuitBreaker(SandboxFeed(sandbox), **kwargs)  # type: ignore[arg-type]
