"""A resume through send() against a sandbox resolves the rows a crash left ``unknown`` from
the sandbox's events (the feed's events carry the messages' run and row tags).

The crash lands at a known moment: the sending process is frozen while its second wave of
requests waits at a slow sandbox, the sandbox accepts them and answers into the void, then the
process is killed. Its first wave is ``sent`` in the ledger, the second ``unknown``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from toolkit import send
from toolkit.measure.resolve import RESOLVED_CODE
from toolkit.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
SENDER = "sender@example.com"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120),
              pytest.mark.skipif(sys.platform == "win32", reason="SIGSTOP")]  # fmt: skip


def wait_for(sandbox: Sandbox, messages: int, within: float) -> None:
    deadline = time.monotonic() + within
    while sandbox.mailbox.count() < messages:
        assert time.monotonic() < deadline, sandbox.mailbox.count()
        time.sleep(0.01)


def test_a_resume_resolves_the_rows_a_crash_left_in_flight(tmp_path: Path) -> None:
    orders = pd.DataFrame({"email": [f"buyer{i}@example.org" for i in range(12)]})
    orders.to_csv(tmp_path / "orders.csv", index=False)
    ledger = tmp_path / "orders.sqlite"
    with Sandbox(rate=200, latency_ms=1000) as slow:
        keys = {
            "AWS_ACCESS_KEY_ID": slow.access_key_id,
            "AWS_SECRET_ACCESS_KEY": slow.secret_access_key,
            "PYTHONPATH": str(ROOT),
        }
        child = subprocess.Popen(
            [sys.executable, "-m", "toolkit", "send", str(tmp_path / "orders.csv"), "--via",
             "ses", "--from", SENDER, "--subject", "Hi", "--text", "Hello", "--workers", "4",
             "--endpoint-url", slow.endpoint_url, "--region", slow.region, "--ledger",
             str(ledger), "--no-progress", "--out", str(tmp_path / "r.csv")],
            env={**os.environ, **keys}, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(slow, 4, within=60)
            time.sleep(0.5)  # the second wave waits at the sandbox
            child.send_signal(signal.SIGSTOP)
            wait_for(slow, 8, within=10)  # accepted; the answers are never read
        finally:
            child.kill()
            child.wait(timeout=30)
        resumed = send(orders, "ses", target=slow, sender=SENDER, subject="Hi", text="Hello",
                       ledger=ledger, progress=False)  # fmt: skip
        delivered = pd.Series([r for rs in slow.mailbox.messages()["recipients"] for r in rs])
    # Old code: the feed's events had no tags, and the 4 rows stayed unknown.
    assert (resumed["error_code"] == RESOLVED_CODE).sum() == 4
    assert (resumed["status"] == "sent").all()
    assert sorted(delivered) == sorted(orders["email"])  # each once
