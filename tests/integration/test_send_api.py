"""The public ``send`` API with a RecordingTransport as the target (no sandbox needed)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import HI, send_hi
from toolkit.api import send, send_in_background
from toolkit.compose.message import Message
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.config import EngineConfig
from toolkit.errors import ConfigurationError
from toolkit.results import OUTCOME_COLUMNS, Verdict
from toolkit.transports.memory import RecordingTransport


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"email": [f"user{i}@example.org" for i in range(n)], "name": [f"N{i}" for i in range(n)]},
        index=pd.Index([f"id-{i}" for i in range(n)], name="customer"),
    )


FAST = 10_000  # a transport given as the target tells no quota (else adaptive from 10/s)


def test_results_align_with_the_input_index() -> None:
    df = frame(50)
    transport = RecordingTransport(lambda m: Verdict.REJECTED if m.position == 7 else None)
    results = send_hi(df, transport=transport, subject="Hi {{name}}", rate=FAST)
    assert results.index.equals(df.index)
    assert list(results.columns) == list(OUTCOME_COLUMNS)
    assert results.loc["id-7", "status"] == "rejected"
    assert results.loc["id-8", "recipient"] == "user8@example.org"
    assert results["row_key"].tolist() == df.index.tolist()
    assert transport.opened == 1 and transport.closed == 1
    summary = results.attrs["summary"]
    assert summary["counts"] == {"sent": 49, "rejected": 1}
    assert summary["transport"] == "memory"


def test_key_column_and_ledger_resume(tmp_path: Path) -> None:
    df = frame(20).reset_index()
    ledger = tmp_path / "l.sqlite"
    first = RecordingTransport(lambda m: Verdict.TRANSIENT if m.position < 5 else None)
    r1 = send_hi(df, transport=first, key="customer", ledger=ledger, max_attempts=2, rate=FAST)
    assert r1["status"].value_counts().to_dict() == {"sent": 15, "failed": 5}
    second = RecordingTransport()
    r2 = send_hi(df, transport=second, key="customer", ledger=ledger, rate=FAST)
    assert sorted(m.row_key for m in second.outbox) == [f"id-{i}" for i in range(5)]
    assert r2["status"].eq("sent").all()
    # the data changed for one row: a different message, sent again
    df.loc[19, "email"] = "new@example.org"
    third = RecordingTransport()
    send_hi(df, transport=third, key="customer", ledger=ledger, rate=FAST)
    assert [m.to for m in third.outbox] == [("new@example.org",)]


def test_dry_run_with_a_transport() -> None:
    transport = RecordingTransport()
    results = send_hi(frame(12), transport=transport, subject="Hi {{name}}", dry_run=True)
    assert transport.calls == []
    assert results["error_code"].eq("DryRun").all()
    assert len(results.attrs["preview"]) == 5


def test_progress_bar_runs(capsys: pytest.CaptureFixture[str]) -> None:
    results = send_hi(frame(30), transport=RecordingTransport(), rate=FAST, progress=True)
    assert results["status"].eq("sent").all()
    err = capsys.readouterr().err
    # rows done, and the rate of messages *sent* (skipped rows would inflate a "msg/s")
    assert "30/30" in err and "sent=30" in err and "sent/s=" in err


def test_handle_counts_results_and_cancel() -> None:
    gate = threading.Event()

    def slow(m: Message) -> None:
        if m.position >= 10:
            gate.wait(5)

    transport = RecordingTransport(slow)
    handle = send_in_background(frame(200), transport=transport, workers=2, rate=1000, **HI)
    deadline = time.monotonic() + 10
    while handle.counts.get("sent", 0) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handle.counts["sent"] == 10
    assert handle.counts["pending"] == 190
    snapshot = handle.results_so_far()
    assert snapshot is not None
    assert snapshot["status"].isna().sum() == 190
    assert snapshot["row_key"].notna().all()
    assert not handle.done()
    handle.cancel()
    gate.set()
    results = handle.wait(timeout=10)
    assert handle.done()
    counts = results["status"].value_counts().to_dict()
    assert counts["sent"] >= 10 and counts["sent"] + counts["skipped"] == 200
    assert "done" in repr(handle)


def test_ctrl_c_stops_cleanly_and_keeps_the_results(tmp_path: Path) -> None:
    import _thread

    fired = threading.Event()

    def handler(m: Message) -> None:
        if m.position == 20 and not fired.is_set():
            fired.set()
            _thread.interrupt_main()  # what Ctrl-C (or Jupyter's interrupt) does

    transport = RecordingTransport(handler)
    ledger = tmp_path / "l.sqlite"
    with pytest.raises(KeyboardInterrupt) as info:
        send_hi(frame(1000), transport=transport, ledger=ledger, workers=2, rate=200)
    results = info.value.results  # type: ignore[attr-defined]
    assert len(results) == 1000
    counts = results["status"].value_counts().to_dict()
    assert counts["sent"] == len(transport.outbox)
    assert counts["sent"] + counts["skipped"] == 1000
    assert transport.closed == 1
    resumed = RecordingTransport()
    again = send_hi(frame(1000), transport=resumed, ledger=ledger, rate=FAST)
    assert again["status"].eq("sent").all()
    assert len(transport.outbox) + len(resumed.outbox) == 1000


@pytest.mark.parametrize(
    "bad",
    [{"rate": 0}, {"workers": 0}, {"headroom": 2}, {"rate": float("nan")}, {"via": "sms"}],
)
def test_bad_settings_raise_configuration_error_before_anything_is_sent(
    bad: dict[str, object],
) -> None:
    transport = RecordingTransport()
    with pytest.raises(ConfigurationError) as info:
        send_hi(frame(3), transport=transport, **bad)
    assert next(iter(bad)) in str(info.value)
    assert transport.calls == [] and transport.opened == 0


def test_compose_and_config_objects_are_the_keywords_in_one_value() -> None:
    transport = RecordingTransport()
    spec = ComposeSpec(to="email", sender="sender@example.com", subject="Hi {{name}}")
    results = send(frame(5), transport=transport, compose=spec, config=EngineConfig(rate=FAST))
    assert results["status"].eq("sent").all()
    assert transport.outbox[0].subject == "Hi N0"
    with pytest.raises(ConfigurationError, match="not both"):
        send(frame(5), transport=transport, compose=spec, subject="Other")
    with pytest.raises(ConfigurationError, match="not both"):
        send(frame(5), transport=transport, compose=spec, config=EngineConfig(), workers=2)
