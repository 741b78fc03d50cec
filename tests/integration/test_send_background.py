"""``send_in_background``: live counts, snapshot results, cancel, resume with the ledger."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import HI, send_hi
from toolkit.api import send_in_background
from toolkit.errors import MissingColumnError
from toolkit.sandbox import Sandbox


def frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"email": [f"user{i}@example.org" for i in range(n)]})


def delivered(sandbox: Sandbox) -> Counter[str]:
    counts: Counter[str] = Counter()
    for recipients in sandbox.mailbox.messages()["recipients"]:
        counts.update(recipients)
    return counts


@pytest.mark.slow
def test_cancel_then_resume_delivers_every_row_once(tmp_path: Path) -> None:
    df = frame(400)
    ledger = tmp_path / "run.sqlite"
    with Sandbox(rate=100) as sandbox:
        handle = send_in_background(df, "ses", target=sandbox, ledger=ledger, workers=4, **HI)
        deadline = time.monotonic() + 20
        while handle.counts.get("sent", 0) < 60 and time.monotonic() < deadline:
            time.sleep(0.02)
        snapshot = handle.results_so_far()
        assert snapshot is not None and len(snapshot) == 400
        assert snapshot["status"].isna().any()  # still running: rows not final yet
        handle.cancel()
        first = handle.wait(timeout=30)
        assert handle.done()
        counts = first["status"].value_counts().to_dict()
        assert set(counts) == {"sent", "skipped"}
        assert counts["skipped"] > 0
        assert set(first.loc[first["status"] == "skipped", "error_code"]) == {"Cancelled"}

        second = send_hi(df, "ses", target=sandbox, ledger=ledger)
        assert second["status"].eq("sent").all()
        # rows sent by the first run come back with the outcome recorded then
        already = first["status"] == "sent"
        assert second.loc[already, "message_id"].equals(first.loc[already, "message_id"])
        assert delivered(sandbox) == Counter(df["email"])


def test_background_configuration_error_surfaces_in_wait() -> None:
    with Sandbox() as sandbox:
        handle = send_in_background(frame(3), "ses", target=sandbox, to="nope", **HI)
        with pytest.raises(MissingColumnError):
            handle.wait(timeout=30)
        assert isinstance(handle.exception(), MissingColumnError)


def test_background_rejects_unknown_arguments() -> None:
    with pytest.raises(TypeError):
        send_in_background(frame(1), "ses", colour="blue")


def test_wait_times_out_while_running() -> None:
    with Sandbox(rate=20) as sandbox:
        handle = send_in_background(frame(100), "ses", target=sandbox, **HI)
        with pytest.raises(TimeoutError):
            handle.wait(timeout=0.2)
        handle.cancel()
        results = handle.wait(timeout=30)
    assert len(results) == 100
    assert results["status"].notna().all()


def test_works_inside_a_running_event_loop() -> None:
    # Jupyter runs cells inside an asyncio loop: send must not call asyncio.run on it.
    import asyncio

    async def cell() -> pd.DataFrame:
        with Sandbox() as sandbox:
            return send_hi(frame(5), "smtp", target=sandbox)

    results = asyncio.run(cell())
    assert results["status"].eq("sent").all()


def test_the_handle_follows_the_future_protocol() -> None:
    """done()/result()/exception()/add_done_callback() behave as concurrent.futures.Future's;
    cancel() stops cleanly and the frame (rows not sent: Cancelled) is still the result."""
    import concurrent.futures

    from tests.helpers import HI
    from toolkit.transports.memory import RecordingTransport

    frame = pd.DataFrame({"email": [f"user{i}@example.com" for i in range(400)]})
    handle = send_in_background(frame, "ses", transport=RecordingTransport(), rate=100, **HI)
    seen: list[object] = []
    handle.add_done_callback(seen.append)
    with pytest.raises(concurrent.futures.TimeoutError):
        handle.result(timeout=0.05)
    assert not handle.done() and handle.running()
    assert handle.cancel() is True
    results = handle.result(timeout=30)
    assert handle.done() and handle.cancelled() and handle.exception() is None
    assert seen == [handle]
    assert set(results["status"]) <= {"sent", "skipped"} and len(results) == 400
    assert (results["error_code"] == "Cancelled").any()
    assert handle.cancel() is False  # already over

    failing = send_in_background(frame.head(3), "ses", transport=RecordingTransport(),
                                 to="nope", **HI)  # fmt: skip
    assert isinstance(failing.exception(timeout=30), MissingColumnError)
    with pytest.raises(MissingColumnError):
        failing.result()
