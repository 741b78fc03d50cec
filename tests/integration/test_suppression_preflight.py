"""Suppression before sending, against the sandbox: the account's list, a user's file and the
hard bounces of an earlier run make their rows skipped/Suppressed, and nothing reaches the
mailbox for them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from toolkit import send
from toolkit.compose.spec import ComposeSpec
from toolkit.compose.suppression import SuppressionList, suppress_at_account, suppression_key
from toolkit.delivery.config import EngineConfig
from toolkit.errors import ConfigurationError
from toolkit.measure.events import events_from_sandbox
from toolkit.measure.history import FeedbackHistory, record_feedback
from toolkit.sandbox import Sandbox

SENDER = "sender@example.com"
FAST = EngineConfig(rate=500.0)


def spec(stop: SuppressionList | None = None) -> ComposeSpec:
    return ComposeSpec(sender=SENDER, subject="Hi", text="Hello", suppression=stop)


def frame(*addresses: str) -> pd.DataFrame:
    return pd.DataFrame({"email": list(addresses)})


def test_three_lists_skip_their_rows_and_nothing_reaches_the_mailbox(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = make_sandbox(dead_mailboxes=["dead@example.org"])
    client = sandbox.client("sesv2")
    # An earlier run: one address hard-bounces; the toolkit records it.
    first = send(frame("dead@example.org", "ok@example.org"), target=sandbox, compose=spec(),
                 config=FAST, progress=False)  # fmt: skip
    assert list(first["status"]) == ["sent", "sent"]
    history = tmp_path / "feedback.sqlite3"
    assert record_feedback(events_from_sandbox(sandbox), history) == 1
    # The account list would hold it too (BOUNCE is a SuppressedReason): drop it there so the
    # history alone must catch it.
    client.delete_suppressed_destination(EmailAddress="dead@example.org")
    client.put_suppressed_destination(EmailAddress="Listed@Example.org", Reason="COMPLAINT")
    unsubscribed = tmp_path / "unsubscribed.csv"
    unsubscribed.write_text("email\nleft@example.org\n")
    stop = SuppressionList.build(client=client, file=unsubscribed, history=history)
    before = sandbox.mailbox.count()
    df = frame("listed@example.org", "LEFT@example.org", "Dead@example.org", "new@example.org")
    results = send(df, target=sandbox, compose=spec(stop), config=FAST, progress=False)
    assert list(results["status"]) == ["skipped", "skipped", "skipped", "sent"]
    assert list(results["error_code"][:3]) == ["Suppressed"] * 3
    messages = list(results["error_message"][:3])
    assert "the account's suppression list (complaint)" in messages[0]
    assert "the suppression file unsubscribed.csv" in messages[1]
    assert "an earlier run (hard-bounced" in messages[2]
    after = sandbox.mailbox.messages().iloc[before:]
    assert [r for rs in after["recipients"] for r in rs] == ["new@example.org"]


def test_account_list_is_read_page_by_page_no_faster_than_asked(sandbox: Sandbox) -> None:
    client = sandbox.client("sesv2")
    for i in range(5):
        client.put_suppressed_destination(EmailAddress=f"p{i}@example.org", Reason="BOUNCE")
    waits: list[float] = []
    now = [0.0]
    stop = SuppressionList().load_account(
        client, page_size=2, min_interval=1.0, sleep=waits.append, clock=lambda: now[0]
    )
    assert len(stop) == 5 and all(f"P{i}@example.org" in stop for i in range(5))
    assert waits == [1.0, 1.0]  # three pages, two waits (the fake clock never moves)


def test_cells_with_names_and_several_addresses(sandbox: Sandbox) -> None:
    stop = SuppressionList().add(["gone@example.org"], "a test list")
    df = frame("Someone <GONE@example.org>", "x@example.org, gone@example.org", "y@example.org")
    results = send(df, target=sandbox, compose=spec(stop), config=FAST, progress=False)
    assert list(results["status"]) == ["skipped", "skipped", "sent"]
    assert results["error_message"].iloc[0] == "GONE@example.org is on a test list"


def test_files_without_header_and_parquet(tmp_path: Path) -> None:
    bare = tmp_path / "bare.csv"
    bare.write_text("a@example.org\nb@example.org\n")
    assert len(SuppressionList().load_file(bare)) == 2
    parquet = tmp_path / "list.parquet"
    pd.DataFrame({"id": [1, 2], "Email": ["c@example.org", "d@example.org"]}).to_parquet(parquet)
    assert "C@EXAMPLE.ORG" in SuppressionList().load_file(parquet)
    two = tmp_path / "two.csv"
    two.write_text("a,b\nx@example.org,1\n")
    with pytest.raises(ConfigurationError, match="name the address column"):
        SuppressionList().load_file(two)
    with pytest.raises(ConfigurationError, match="does not exist"):
        SuppressionList().load_file(tmp_path / "missing.csv")
    with pytest.raises(ConfigurationError, match="SuppressionList"):
        ComposeSpec(sender=SENDER, subject="x", suppression=["a@example.org"])  # type: ignore[arg-type]


def test_writing_back_is_explicit(sandbox: Sandbox, tmp_path: Path) -> None:
    client = sandbox.client("sesv2")
    history = tmp_path / "h.sqlite3"
    FeedbackHistory(history).add([("Gone@Example.org", "BOUNCE", 1.0, None, None)])
    stop = SuppressionList().load_history(history)
    assert "gone@example.org" in stop
    assert client.list_suppressed_destinations()["SuppressedDestinationSummaries"] == []
    assert suppress_at_account(client, [a for a, *_ in FeedbackHistory(history).entries()]) == 1
    listed = client.list_suppressed_destinations()["SuppressedDestinationSummaries"]
    assert [e["EmailAddress"] for e in listed] == ["gone@example.org"]


def test_key_is_case_insensitive_and_drops_display_name() -> None:
    assert suppression_key(" Ann <Ann@Example.ORG> ") == "ann@example.org"


def test_history_keeps_hard_bounces_and_complaints_only(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    sandbox = make_sandbox(dead_mailboxes=["dead@example.org"])
    df = frame("dead@example.org", "ooto@simulator.amazonses.com", "ok@example.org",
               "complaint@simulator.amazonses.com")  # fmt: skip
    send(df, target=sandbox, compose=spec(), config=FAST, progress=False)
    events = events_from_sandbox(sandbox)
    soft = events.iloc[:1].assign(bounce_type="Transient", recipient="soft@example.org")
    history = tmp_path / "h.sqlite3"
    record_feedback(pd.concat([events, soft], ignore_index=True), history)
    record_feedback(events, history)  # again: one row per address and reason
    kept = sorted((a, r) for a, r, _at, _m in FeedbackHistory(history).entries())
    assert kept == [("complaint@simulator.amazonses.com", "COMPLAINT"),
                    ("dead@example.org", "BOUNCE")]  # fmt: skip
