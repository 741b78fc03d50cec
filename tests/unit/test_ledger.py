"""The SQLite ledger: records, recovery, and journal-before-send surviving SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from toolkit.delivery.ledger import InFlight, Ledger, Pending
from toolkit.errors import ConfigurationError
from toolkit.results import Outcome, Status


def sent(key: str, **kw: object) -> Outcome:
    return Outcome(
        key,
        Status.SENT,
        "memory",
        recipient=f"{key}@example.org",
        message_id=f"id-{key}",
        attempts=1,
        started_at=1.0,
        finished_at=2.0,
        batch_id="b1",
        **kw,
    )  # type: ignore[arg-type]


def test_in_flight_then_final(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.start_run("memory")
        ledger.mark_in_flight(
            [InFlight("a", "h1", "a@example.org", 1), InFlight("b", "h1", "b@example.org", 1)],
            "b1",
            1.0,
            "memory",
        )
        assert ledger.counts() == {"in_flight": 2}
        ledger.record(
            [("h1", sent("a"))], [Pending("b", "h1", 1, "TooManyRequestsException", "slow down")]
        )
        assert ledger.counts() == {"sent": 1, "pending": 1}
        records = ledger.lookup([("a", "h1"), ("b", "h1"), ("c", "h1")])
        assert set(records) == {("a", "h1"), ("b", "h1")}
        a = records[("a", "h1")]
        assert a.final and a.to_outcome() == sent("a")
        assert not records[("b", "h1")].final
        ledger.finish_run()


def test_lookup_matches_on_content_hash(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.record([("h1", sent("a"))])
        assert ledger.lookup([("a", "h2")]) == {}
        assert ("a", "h1") in ledger.lookup([("a", "h1")])


def test_lookup_in_chunks(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.record([("h", sent(f"k{i}")) for i in range(1200)])
        found = ledger.lookup([(f"k{i}", "h") for i in range(0, 1300)])
        assert len(found) == 1200
        assert len(ledger.frame()) == 1200


def test_reopen_turns_in_flight_into_unknown(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger.mark_in_flight([InFlight("a", "h", "a@example.org", 1)], "b1", 1.0)
        ledger.record([("h", sent("b"))])
    with Ledger(path) as ledger:
        assert ledger.recovered == 1
        record = ledger.lookup([("a", "h")])[("a", "h")]
        assert record.status == "unknown" and record.error_code == "InterruptedInFlight"
        assert record.final


def test_release_puts_rows_back_to_pending(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.mark_in_flight([InFlight("a", "h", "a@example.org", 1)], "b1", 1.0)
        ledger.release([("a", "h")])
        assert ledger.counts() == {"pending": 1}


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from toolkit.delivery.ledger import InFlight, Ledger
    ledger = Ledger(sys.argv[1])
    ledger.mark_in_flight([InFlight(f"k{i}", "h", "x@example.org", 1) for i in range(50)],
                          "b1", 1.0)
    # the request would leave here; the process dies before any answer is recorded
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_in_flight_mark_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    child = subprocess.run([sys.executable, "-c", _CHILD, str(path)], timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert os.path.exists(path)
    with Ledger(path) as ledger:
        assert ledger.recovered == 50
        assert ledger.counts() == {"unknown": 50}


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from toolkit.delivery.ledger import Ledger
    ledger = Ledger(sys.argv[1])
    ledger.start_run("memory")
    print("open", flush=True)
    time.sleep(60)
    """
)


def test_refuses_a_ledger_a_live_process_is_running_on(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(ConfigurationError, match="in use by another send") as info:
            Ledger(path)
        assert "\n" not in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    with Ledger(path) as ledger:  # the process is gone (SIGKILL): the ledger can be resumed
        assert ledger.counts() == {}


def test_a_second_open_in_the_same_process_is_refused(tmp_path: Path) -> None:
    # Issue 16 H2: a notebook cell run twice opened one ledger twice in one process.
    path = tmp_path / "l.sqlite"
    first = Ledger(path)
    first.mark_in_flight([InFlight("a", "h", "a@example.org", 1)], "b1", 1.0)
    with pytest.raises(ConfigurationError, match="in use by another send"):
        Ledger(path)
    assert first.counts() == {"in_flight": 1}  # the refused open recovered nothing of ours
    first.close()
    with Ledger(path) as again:
        assert again.recovered == 1


def test_a_recorded_pid_that_now_belongs_to_a_live_process_does_not_block(
    tmp_path: Path,
) -> None:
    # Issue 16 M9: the PID of a run that died was reused by an unrelated live process.
    path = tmp_path / "l.sqlite"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with Ledger(path) as ledger:
            ledger.start_run("memory")  # never finished: the run "died"
            ledger._conn.execute("UPDATE runs SET pid=?", (sleeper.pid,))
            ledger.mark_in_flight([InFlight("a", "h", "a@example.org", 1)], "b1", 1.0)
        with Ledger(path) as ledger:
            assert ledger.recovered == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def _status_on_disk(path: Path, key: str) -> str | None:
    """What another process would read now (committed state only)."""
    import sqlite3

    with sqlite3.connect(path) as other:
        row = other.execute("SELECT status FROM rows WHERE row_key=?", (key,)).fetchone()
    return row[0] if row else None


def test_answers_ride_on_the_next_in_flight_commit(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger.start_run("memory")
        ledger.mark_in_flight([InFlight("a", "h1", "a@example.org", 1)], "b1", 1.0, "memory")
        ledger.record([("h1", sent("a"))])
        assert _status_on_disk(path, "a") == "in_flight"  # staged, not committed yet
        ledger.mark_in_flight([InFlight("b", "h1", "b@example.org", 1)], "b2", 1.0, "memory")
        assert _status_on_disk(path, "a") == "sent"  # committed with b's journal entry
        assert _status_on_disk(path, "b") == "in_flight"


def test_staged_answers_are_committed_within_the_delay(tmp_path: Path) -> None:
    import time

    from toolkit.delivery.ledger import ANSWER_DELAY

    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger.start_run("memory")
        ledger.mark_in_flight([InFlight("a", "h1", "a@example.org", 1)], "b1", 1.0, "memory")
        ledger.record([("h1", sent("a"))])
        deadline = time.monotonic() + ANSWER_DELAY + 5
        while _status_on_disk(path, "a") != "sent":
            assert time.monotonic() < deadline, "the staged answer was never committed"
            time.sleep(0.02)


def test_durable_ledgers_commit_every_answer_at_once(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path, durable=True) as ledger:
        ledger.start_run("memory")
        ledger.mark_in_flight([InFlight("a", "h1", "a@example.org", 1)], "b1", 1.0, "memory")
        ledger.record([("h1", sent("a"))])
        assert _status_on_disk(path, "a") == "sent"


def test_a_crash_before_the_answer_is_committed_leaves_the_row_unknown(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = Ledger(path)
    ledger.start_run("memory")
    ledger.mark_in_flight([InFlight("a", "h1", "a@example.org", 1)], "b1", 1.0, "memory")
    ledger.record([("h1", sent("a"))])
    ledger._staged_finals.clear()  # what a SIGKILL before the commit loses
    ledger._conn.close()
    ledger._let_go()  # the kernel drops a dead process's lock
    with Ledger(path) as reopened:
        (record,) = reopened.lookup([("a", "h1")]).values()
        assert record.status == "unknown" and record.final


def _someone_elses(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")


def _other_schema(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE rows (a INTEGER)")
        conn.execute("CREATE TABLE runs (b INTEGER)")


def _truncated(path: Path) -> None:
    with Ledger(path) as ledger:
        ledger.start_run("ses")
        ledger.mark_in_flight([InFlight(f"k{i}", "h", "a@example.com", 1) for i in range(500)],
                              "b-1", 1.0)  # fmt: skip
        ledger.finish_run()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("name", "prepare", "needle"),
    [
        ("missing/run.sqlite", None, "the directory"),
        ("", None, "is a directory"),
        ("somedir/", None, "names a directory (it ends in /)"),
        ("x.sqlite", lambda p: p.write_text("not a database"), "file is not a database"),
        ("x.sqlite", _truncated, "is not a toolkit ledger"),
        ("x.sqlite", _other_schema, "its table 'rows' has no"),
        ("x.sqlite", _someone_elses, "its tables are customers"),
    ],
)
def test_a_path_or_file_that_is_no_ledger_is_one_configuration_error(
    tmp_path: Path, name: str, prepare: Any, needle: str
) -> None:
    path = tmp_path / name if name else tmp_path
    if name.endswith("/"):
        path = Path(f"{tmp_path}/{name}")
    if prepare is not None:
        prepare(path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(ConfigurationError) as info:
        Ledger(f"{tmp_path}/{name}" if name.endswith("/") else path)
    assert needle in str(info.value)
    assert str(info.value).startswith("ledger ")
    if before is not None:
        assert path.read_bytes() == before  # someone else's file is left as it was
    assert not (tmp_path / "somedir").exists()


def test_an_empty_file_becomes_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    path.touch()
    with Ledger(path) as ledger:
        assert ledger.counts() == {}


def _fill_after(ledger: Ledger, pages: int = 0) -> None:
    """The disk is full once the database has ``pages`` more pages (SQLite's own limit)."""
    now = ledger._conn.execute("PRAGMA page_count").fetchone()[0]
    ledger._conn.execute(f"PRAGMA max_page_count={now + pages}")


def test_a_full_disk_is_one_line_and_the_journal_stays_true(tmp_path: Path) -> None:
    # Issue 16 M4: "please report" and a traceback before.
    from toolkit.errors import DiskFullError

    path = tmp_path / "l.sqlite"
    ledger = Ledger(path)
    ledger.start_run("memory")
    ledger.mark_in_flight([InFlight("a", "h", "a@example.org", 1)], "b0", 1.0)
    ledger.record([("h", sent("a"))])
    ledger.flush()
    _fill_after(ledger)
    with pytest.raises(DiskFullError) as info:
        for b in range(1, 500):
            ledger.mark_in_flight([InFlight(f"k{b}-{i}", "h", "x@example.org", 1)
                                   for i in range(20)], f"b{b}", 1.0)  # fmt: skip
    message = str(info.value)
    assert "\n" not in message and "disk full" in message and str(path) in message
    assert isinstance(info.value, ConfigurationError)
    with pytest.raises(DiskFullError):  # every later write says the same
        ledger.mark_in_flight([InFlight("z", "h", "z@example.org", 1)], "bz", 1.0)
    with pytest.raises(DiskFullError):
        ledger.finish_run()
    in_flight = ledger.counts().get("in_flight", 0)  # reads still work
    ledger.close()
    with Ledger(path) as reopened:  # space is back: what was committed is there
        assert reopened.counts() == {"sent": 1, **({"unknown": in_flight} if in_flight else {})}


def test_a_ledger_that_cannot_be_created_on_a_full_disk_says_disk_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.delivery import ledger as module
    from toolkit.errors import DiskFullError

    real = sqlite3.connect

    def full(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real(*args, **kwargs)
        conn.execute("PRAGMA max_page_count=1")  # what a full disk does to the first write
        return conn

    monkeypatch.setattr(module.sqlite3, "connect", full)
    with pytest.raises(DiskFullError, match="disk full") as info:
        Ledger(tmp_path / "new.sqlite")
    assert "not a toolkit ledger" not in str(info.value)
    monkeypatch.undo()
    with Ledger(tmp_path / "new.sqlite") as ledger:  # the lock went with the failed open
        assert ledger.counts() == {}
