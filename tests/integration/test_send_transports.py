"""``send`` through every transport against the sandbox, with injected faults.

Every input row must end with exactly one final status, and the sandbox's mailbox must hold
exactly one message per ``sent`` row and none for rows that were not sent (``unknown`` rows
may or may not have arrived: that is what unknown means).
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from tests.helpers import send_hi
from toolkit.api import send
from toolkit.errors import ProviderConfigurationError
from toolkit.results import OUTCOME_COLUMNS, Status
from toolkit.sandbox import Sandbox
from toolkit.transports.registry import names

VIAS = names()
FINAL = {s.value for s in Status}


def recipients_frame(n: int) -> pd.DataFrame:
    emails = [f"user{i}@example.org" for i in range(n)]
    emails[3] = "not-an-address"  # invalid before sending
    emails[5] = ""  # missing
    frame = pd.DataFrame(
        {"email": emails, "first_name": [f"Name{i}" for i in range(n)]},
        index=pd.RangeIndex(1000, 1000 + n),
    )
    frame.loc[1000 + n - 1, :] = frame.loc[1000 + 10, :]  # duplicate of row 10 -> skipped
    return frame


def mailbox_counts(sandbox: Sandbox) -> Counter[str]:
    counts: Counter[str] = Counter()
    for recipients in sandbox.mailbox.messages()["recipients"]:
        counts.update(recipients)
    return counts


def check_consistent(df: pd.DataFrame, results: pd.DataFrame, delivered: Counter[str]) -> None:
    assert list(results.columns) == list(OUTCOME_COLUMNS)
    assert results.index.equals(df.index)
    assert results["status"].isin(FINAL).all()
    for email, status in zip(df["email"], results["status"], strict=True):
        if status == "sent":
            assert delivered[email] == 1, (email, status)
        elif status == "unknown":
            assert delivered[email] <= 1, (email, status)
        elif email and email != df["email"].iloc[10]:
            assert delivered[email] == 0, (email, status)


def test_pacing_keeps_the_sandbox_from_throttling() -> None:
    df = recipients_frame(150)
    with Sandbox(rate=60) as sandbox:
        results = send_hi(df, "ses-bulk", target=sandbox, text="Hello {{first_name}}")
    sent = results[results["status"] == "sent"]
    assert len(sent) == 147
    assert sent["attempts"].eq(1).all()  # never throttled: paced by arrival, not by start
    assert results.attrs["summary"]["elapsed"] >= 1.9  # 147 recipients at 60/s


def test_dry_run_sends_nothing_and_previews() -> None:
    df = recipients_frame(30)
    with Sandbox() as sandbox:
        results = send_hi(
            df, "ses", target=sandbox, subject="Hi {{first_name}}", text="Hello", dry_run=True
        )
        assert sandbox.mailbox.count() == 0
    assert results["status"].value_counts().to_dict() == {"skipped": 28, "invalid": 2}
    assert set(results.loc[results["status"] == "skipped", "error_code"]) == {
        "DryRun",
        "DuplicateRecipient",
    }
    preview = results.attrs["preview"]
    assert len(preview) == 5 and preview["subject"].iloc[0] == "Hi Name0"


def test_default_target_is_an_embedded_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.DataFrame({"email": ["a@example.org", "b@example.org"]})
    results = send_hi(df, "ses", progress=True)
    assert list(results["status"]) == ["sent", "sent"]
    assert "embedded local sandbox" in capsys.readouterr().err


def test_limit_and_provider_rejection() -> None:
    # Issue 16 M1: an unverified sender is no longer one row's final rejection (a resume
    # after verifying it would never send that row): it stops the run, nothing final.
    df = recipients_frame(20)
    df["from"] = "sender@example.com"
    df.loc[df.index[0], "from"] = "someone@unverified.example"
    with Sandbox() as sandbox:
        with pytest.raises(ProviderConfigurationError) as info:
            send(df, "ses", target=sandbox, sender_column="from", subject="Hi", text="x",
                 limit=10, progress=False, workers=1)  # fmt: skip
        assert info.value.code == "SenderNotVerified"
        stopped = getattr(info.value, "results", None)
        if stopped is not None:
            assert "rejected" not in set(stopped["status"])
        df.loc[df.index[0], "from"] = "sender@example.com"
        results = send(
            df,
            "ses",
            target=sandbox,
            sender_column="from",
            subject="Hi",
            text="x",
            limit=10,
            progress=False,
        )
    assert results["status"].value_counts().to_dict() == {
        "sent": 10,
        "skipped": 8,
        "invalid": 2,
    }
    assert (results.loc[results["error_code"] == "Limit"].shape[0]) == 7
