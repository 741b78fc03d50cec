"""Journal before send, for real: SIGKILL a sending process mid-run, then resume.

A child process sends a few thousand rows to a sandbox that this test runs, journaling in a
ledger; it is killed with SIGKILL while requests are in flight. Resuming with the same ledger
must finish every row, and no recipient may receive two messages (the rows in flight at the
kill come back ``unknown`` and are not resent).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import kill_when, send_hi
from toolkit.sandbox import Sandbox

CHILD = Path(__file__).with_name("crash_child.py")
N = 1500


def ledger_sent(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM rows WHERE status='sent'").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_mid_run_then_resume(tmp_path: Path) -> None:
    ledger = tmp_path / "run.sqlite"
    info_path = tmp_path / "sandbox.json"
    with Sandbox(rate=1500, latency_ms=10) as sandbox:
        info_path.write_text(json.dumps(sandbox.info()), encoding="utf-8")
        child = subprocess.Popen([sys.executable, str(CHILD), str(info_path), str(ledger), str(N)])
        kill_when(child, lambda: ledger_sent(ledger) >= N // 4)
        before = sum(1 for _ in sandbox.mailbox.messages()["message_id"])
        assert 0 < before < N

        df = pd.DataFrame({"email": [f"user{i}@example.org" for i in range(N)]})
        results = send_hi(df, "ses", target=sandbox, ledger=ledger)
        delivered: Counter[str] = Counter()
        for recipients in sandbox.mailbox.messages()["recipients"]:
            delivered.update(recipients)

    counts = results["status"].value_counts().to_dict()
    assert set(counts) <= {"sent", "unknown"}
    assert counts["sent"] + counts.get("unknown", 0) == N
    assert max(delivered.values()) == 1  # nobody got a message twice
    for email, status in zip(df["email"], results["status"], strict=True):
        if status == "sent":
            assert delivered[email] == 1
    unknown = results[results["status"] == "unknown"]
    assert set(unknown["error_code"]) <= {"InterruptedInFlight"}
    # the unknown rows are exactly the ones in flight at the kill: few, at most a few batches
    assert len(unknown) <= 8 * 2
