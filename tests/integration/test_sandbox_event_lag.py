"""The sandbox's event lag: delivery events become readable only ``event_lag_ms`` after the
send, as SES's arrive seconds later through SNS/SQS (what the breaker's canary waits for)."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import toolkit
from toolkit.errors import ConfigurationError
from toolkit.measure.feed import SandboxFeed
from toolkit.sandbox import Sandbox
from toolkit.sandbox.mailbox import Mailbox


def _send(box: Sandbox, n: int, **keywords: object) -> pd.DataFrame:
    df = pd.DataFrame({"email": [f"success+{i}@simulator.amazonses.com" for i in range(n)]})
    return toolkit.send(df, via="ses", target=box, sender="sender@example.com", subject="Hi",
                        text="Hello", progress=False, **keywords)  # fmt: skip


def test_events_are_readable_only_after_the_lag() -> None:
    with Sandbox(event_lag_ms=600) as box:
        feed = SandboxFeed(box)
        _send(box, 3, breaker=False)
        assert box.mailbox.count() == 3
        assert box.mailbox.events().empty and feed.poll().empty
        time.sleep(0.8)
        assert len(box.mailbox.events()) == 3
        assert len(feed.poll()) == 3 and feed.poll().empty  # each event once


def test_a_reader_in_another_process_keeps_the_servers_lag(tmp_path: object) -> None:
    with Sandbox(event_lag_ms=60_000, state_dir=tmp_path) as box:
        _send(box, 2, breaker=False)
        box.mailbox.flush()  # the server buffers its writes
        assert Mailbox.open(tmp_path).events().empty
        assert len(Mailbox.open(tmp_path).messages()) == 2


def test_the_breaker_waits_for_lagging_events_then_sends_everything() -> None:
    with Sandbox(event_lag_ms=300) as box:
        started = time.monotonic()
        out = _send(box, 120, breaker=True)
        took = time.monotonic() - started
    assert (out["status"] == "sent").all()
    # The canary lets at most 50 unknown fates go at a time: 120 rows wait for two lags.
    assert took >= 0.6


@pytest.mark.parametrize("lag", [-1.0, float("nan")])
def test_a_negative_lag_is_a_configuration_error(lag: float) -> None:
    with pytest.raises(ConfigurationError, match="event_lag_ms"):
        Sandbox(event_lag_ms=lag)
