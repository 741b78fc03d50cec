"""The reputation guard through send() and the CLI against the sandbox: suppression before
sending (the account's list, the user's file, earlier runs' bounces), the circuit breaker
during, and a resume that sends the paused rows once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import SENDER, run_cli, send_hi
from toolkit.sandbox import Sandbox

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


def recipients(n: int, domain: str = "customers.example") -> pd.DataFrame:
    """Ordinary (non-simulator) recipients: the sandbox decides who bounces."""
    return pd.DataFrame({"email": [f"person{i}@{domain}" for i in range(n)]})


def test_all_three_suppression_lists_skip_rows_before_sending(tmp_path: Path) -> None:
    history = tmp_path / "feedback.sqlite3"
    frame = recipients(12)
    with Sandbox(dead_mailboxes=["person5@customers.example"]) as box:
        ses = box.client("sesv2")
        ses.put_suppressed_destination(EmailAddress="Person1@Customers.Example", Reason="BOUNCE")
        unsubscribed = tmp_path / "unsubscribed.csv"
        pd.DataFrame({"email": ["PERSON2@customers.example"]}).to_csv(unsubscribed, index=False)

        first = send_hi(frame, target=box, suppression_file=unsubscribed,
                        suppression_history=history)  # fmt: skip
        assert first.loc[1, "error_code"] == "Suppressed"
        assert "account's suppression list" in first.loc[1, "error_message"]
        assert first.loc[2, "error_code"] == "Suppressed"
        assert "suppression file unsubscribed.csv" in first.loc[2, "error_message"]
        assert first.loc[5, "status"] == "sent"  # accepted; then it hard-bounced

        box.client("sesv2").delete_suppressed_destination(EmailAddress="person5@customers.example")
        again = send_hi(frame, target=box, suppression_file=unsubscribed,
                        suppression_history=history)  # fmt: skip
        assert again.loc[5, "error_code"] == "Suppressed"
        assert "earlier run (hard-bounced" in again.loc[5, "error_message"]
        delivered = box.mailbox.messages()["recipients"].astype(str)
        assert not delivered.str.contains(r"person[12]@", case=False).any()
        assert delivered.str.contains("person5@").sum() == 1  # the first run only


def test_the_breaker_stops_a_bouncing_list_and_a_resume_sends_the_rest_once(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "run.sqlite"
    frame = recipients(400)
    with Sandbox(bounce_rate=0.3, seed=4, rate=200) as box:
        first = send_hi(frame, target=box, ledger=ledger, workers=2)
        paused = first["error_code"] == "ReputationPause"
        assert paused.sum() > 100, first["status"].value_counts()
        sent = int((first["status"] == "sent").sum())
        assert 50 <= sent <= 100  # the first 200 go only as fast as their fates come back
        state = box.client("sesv2").get_account()
        assert state["EnforcementStatus"] == "HEALTHY"

        box.feedback.bounce_rate = 0.0  # the list was cleaned before resuming
        resumed = send_hi(frame, target=box, ledger=ledger)
        assert (resumed["status"] == "sent").sum() >= sent
        ids = box.mailbox.messages()["message_id"]
        assert ids.is_unique
        delivered = box.mailbox.messages()["recipients"].astype(str)
        assert delivered.value_counts().max() == 1  # no recipient twice


def test_the_cli_exits_4_with_one_line_when_the_breaker_stops(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A sandbox served by another process (``--sandbox STATE``): the guard follows its
    mailbox's events, stops, exits 4 with one line; the ledger keeps the rest."""
    people = tmp_path / "people.csv"
    recipients(300, "list.example").to_csv(people, index=False)
    state = tmp_path / "box"
    state.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "sandbox", "--state", str(state), "--rate", "200",
         "--bounce-rate", "0.3", "--seed", "4"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        json.loads(child.stdout.readline())
        code, lines = run_cli(
            capsys, "send", people, "--via", "ses", "--from", SENDER, "--subject", "Hi",
            "--text", "x", "--sandbox", state, "--no-progress", "--out", tmp_path / "r.csv",
            "--ledger", tmp_path / "l.sqlite",
        )  # fmt: skip
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=20)
    assert code == 4, lines
    assert any("stopped to protect the account's reputation" in line for line in lines)
    results = pd.read_csv(tmp_path / "r.csv")
    assert (results["error_code"] == "ReputationPause").sum() >= 200
