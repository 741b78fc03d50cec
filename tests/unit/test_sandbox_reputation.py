"""The sandbox's reputation model and suppression list, without a server."""

from __future__ import annotations

import pytest

from toolkit.facts import (
    SES_BOUNCE_RATE_PAUSE,
    SES_BOUNCE_RATE_REVIEW,
    SES_COMPLAINT_RATE_PAUSE,
    SES_COMPLAINT_RATE_REVIEW,
)
from toolkit.sandbox.reputation import HEALTHY, PROBATION, SHUTDOWN, Reputation
from toolkit.sandbox.suppression import AccountSuppression


def test_thresholds_are_awss_published_levels() -> None:
    assert (SES_BOUNCE_RATE_REVIEW.value, SES_BOUNCE_RATE_PAUSE.value) == (0.05, 0.10)
    assert (SES_COMPLAINT_RATE_REVIEW.value, SES_COMPLAINT_RATE_PAUSE.value) == (0.001, 0.005)


def test_status_moves_with_the_rates_and_shutdown_sticks() -> None:
    seen: list[str] = []
    rep = Reputation(window=100, min_volume=20, on_status=seen.append)
    rep.record_many(["bounce"] * 3)  # 100 % but below the volume: no change
    assert rep.status == HEALTHY
    rep.record_many(["delivery"] * 47)  # 3 / 50 = 6 %
    assert rep.status == PROBATION
    rep.record_many(["delivery"] * 50)  # 3 / 100 = 3 %
    assert rep.status == HEALTHY
    rep.record_many(["bounce"] * 11)  # the window keeps the last 100: 11 + ... >= 10 %
    assert rep.status == SHUTDOWN
    rep.record_many(["delivery"] * 100)
    assert rep.status == SHUTDOWN  # until a review lifts it
    rep.reset()
    assert rep.status == HEALTHY
    assert seen == [PROBATION, HEALTHY, SHUTDOWN, HEALTHY]


@pytest.mark.parametrize(
    ("complaints", "status"), [(0, HEALTHY), (1, PROBATION), (4, PROBATION), (5, SHUTDOWN)]
)
def test_complaint_levels(complaints: int, status: str) -> None:
    rep = Reputation(window=1000, min_volume=1000)
    rep.record_many(["complaint"] * complaints + ["delivery"] * (1000 - complaints))
    assert rep.status == status  # at or above 0.1 % and 0.5 % of 1,000


def test_suppression_list_keys_reasons_and_filters() -> None:
    now = [100.0]
    changes: list[int] = []
    stop = AccountSuppression(clock=lambda: now[0], on_change=lambda: changes.append(1))
    assert stop.reasons == ("BOUNCE", "COMPLAINT")
    stop.put("Ann <Ann@Example.org>", "BOUNCE")
    now[0] = 200.0
    stop.put("bob@example.org", "COMPLAINT")
    assert stop.listed("ann@EXAMPLE.org") and "ANN@example.org" in stop
    assert [e.email_address for e in stop.entries()] == ["bob@example.org", "Ann@Example.org"]
    assert [e.reason for e in stop.entries(reasons=["BOUNCE"])] == ["BOUNCE"]
    assert [e.email_address for e in stop.entries(start=150)] == ["bob@example.org"]
    assert [e.email_address for e in stop.entries(end=150)] == ["Ann@Example.org"]
    stop.set_reasons(["COMPLAINT"])
    assert not stop.feedback("c@example.org", "BOUNCE", "m", "f")
    assert stop.feedback("c@example.org", "COMPLAINT", "m", "f")
    with pytest.raises(ValueError):
        stop.set_reasons(["SPAM"])
    restored = AccountSuppression(reasons=())
    restored.load_json(stop.to_json())
    assert restored.reasons == ("COMPLAINT",) and len(restored) == 3
    assert stop.delete("ANN@example.org") and not stop.delete("ann@example.org")
    assert len(changes) == 5  # put, put, set_reasons, feedback, delete
