"""The CLI on the one corridor: flags that do not fit the transport, where the mail went,
a served sandbox one flag away, results files that survive signals and spreadsheets."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.helpers import run_cli
from toolkit.results_io import read_results, write_results

ROOT = Path(__file__).resolve().parents[2]
OK = "success@simulator.amazonses.com"
MESSAGE = ["--from", "sender@example.com", "--subject", "Hi", "--text", "Hello {{name}}"]


def cli(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str]:
    code, lines = run_cli(capsys, *args)
    return code, "\n".join(lines)


@pytest.fixture
def people(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    pd.DataFrame(
        {
            "email": [f"success+{i}@simulator.amazonses.com" for i in range(6)],
            "name": ['=HYPERLINK("http://evil.example","x")', "+1", "-2", "@a", "plain", "'=q"],
        }
    ).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("via", "flags", "named"),
    [
        ("ses", ["--smtp-host", "mail.example.com"], "--smtp-host"),
        ("ses-bulk", ["--smtp-user", "u"], "--smtp-user"),
        ("smtp", ["--region", "eu-west-1"], "--region"),
        ("ses", ["--pinpoint-app-id", "abc"], "--pinpoint-app-id"),
    ],
)
def test_a_flag_of_another_transport_is_one_line(
    capsys: pytest.CaptureFixture[str], people: Path, tmp_path: Path, via: str,
    flags: list[str], named: str,
) -> None:  # fmt: skip
    code, err = cli(capsys, "send", people, "--via", via, *MESSAGE, *flags,
                        "--out", tmp_path / "r.csv")  # fmt: skip
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0], lines
    assert not (tmp_path / "r.csv").exists()


def test_the_embedded_sandbox_is_always_said_and_recorded(
    capsys: pytest.CaptureFixture[str], people: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.csv"
    code, err = cli(capsys, "send", people, "--via", "ses", *MESSAGE, "--no-progress",
                        "--keep", "name", "--out", out)  # fmt: skip
    assert code == 0
    assert "embedded local sandbox" in err
    summary = json.loads((tmp_path / "r.summary.json").read_text())
    assert summary["target"].startswith("embedded sandbox")
    assert summary["counts"] == {"sent": 6}


def test_results_csv_cannot_carry_a_formula_and_reads_back_exactly(
    capsys: pytest.CaptureFixture[str], people: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.csv"
    assert cli(capsys, "send", people, "--via", "ses", *MESSAGE, "--no-progress",
                   "--keep", "name", "--out", out)[0] == 0  # fmt: skip
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert not raw["name"].str.match(r"[=+\-@]").any()  # a spreadsheet evaluates none
    assert list(read_results(out)["name"]) == list(pd.read_csv(people, dtype=str)["name"])


def test_out_in_a_format_we_do_not_write_is_one_line(
    capsys: pytest.CaptureFixture[str], people: Path, tmp_path: Path
) -> None:
    code, err = cli(capsys, "send", people, "--via", "ses", *MESSAGE,
                        "--out", tmp_path / "r.xlsx")  # fmt: skip
    assert code == 2 and ".xlsx" in err and len(err.strip().splitlines()) == 1


def test_a_signal_during_the_results_write_waits_for_the_file(tmp_path: Path) -> None:
    """SIGTERM arrives while the CSV is being written: the file is complete, no temporary
    file is left, and the signal's handler runs after."""
    delivered: list[int] = []

    class Bomb:
        calls = 0

        def __str__(self) -> str:
            Bomb.calls += 1
            if Bomb.calls == 2:  # the first str() escapes formulas; the second is the write
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
            return "value"

    def handler(signum: int, frame: Any) -> None:
        delivered.append(signum)
        raise KeyboardInterrupt

    frame = pd.DataFrame({"status": ["sent"] * 3, "x": [Bomb(), "a", "b"]})
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            write_results(frame, tmp_path / "r.csv")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert delivered == [signal.SIGTERM]
    assert len(read_results(tmp_path / "r.csv")) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    """``python -m toolkit sandbox --state DIR`` in a child process (slow answers)."""
    state = tmp_path / "box"
    state.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "sandbox", "--state", str(state), "--latency-ms",
         "100", "--rate", "20"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        json.loads(child.stdout.readline())  # serving
        assert (state / "sandbox.json").exists()
        assert (state / "sandbox.json").stat().st_mode & 0o077 == 0  # holds the secret key
        yield state
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=20)
    assert not (state / "sandbox.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("via", ["ses", "smtp"])
def test_a_served_sandbox_is_one_flag_away(
    capsys: pytest.CaptureFixture[str], people: Path, tmp_path: Path, served: Path, via: str
) -> None:
    out = tmp_path / "r.csv"
    code, err = cli(capsys, "send", people, "--via", via, *MESSAGE, "--sandbox", served,
                        "--no-progress", "--out", out)  # fmt: skip
    assert code == 0, err
    summary = json.loads((tmp_path / "r.summary.json").read_text())
    assert summary["counts"] == {"sent": 6}
    assert "embedded" not in summary["target"]
    mailbox = subprocess.run(
        [sys.executable, "-m", "toolkit", "mailbox", "--state", str(served)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert mailbox.stdout.count("success+") == 6


@pytest.mark.slow
def test_ctrl_c_twice_keeps_the_results_and_exits_130(
    people: Path, tmp_path: Path, served: Path
) -> None:
    rows = tmp_path / "many.csv"
    pd.DataFrame({"email": [f"success+m{i}@simulator.amazonses.com" for i in range(400)],
                  "name": ["n"] * 400}).to_csv(rows, index=False)  # fmt: skip
    out = tmp_path / "r.csv"
    child = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "send", str(rows), "--via", "ses", *MESSAGE,
         "--sandbox", str(served), "--no-progress", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while accepted(served) < 10 and time.monotonic() < deadline:  # sending: 20 a second
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    time.sleep(0.015)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    assert "stopping: requests in flight finish" in err
    results = read_results(out)
    assert len(results) == 400 and results["status"].notna().all()
    assert (results["status"] == "sent").sum() >= 10
    assert (results["status"] == "sent").sum() == accepted(served)  # none sent unrecorded


def accepted(state: Path) -> int:
    """Messages the served sandbox has accepted so far (its mailbox, read directly)."""
    import sqlite3

    path = state / "mailbox.sqlite3"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
        except sqlite3.Error:
            return 0


def test_a_missing_to_column_lists_the_columns_and_the_likeliest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    export = tmp_path / "audience.csv"
    pd.DataFrame(
        {
            "Email Address": [OK, "success+2@simulator.amazonses.com", ""],
            "First Name": ["Ann", "Bo", "Cy"],
            "Address": ["1 Main St  Springfield IL 62701", "2 Elm St", "3 Oak Ave"],
        }
    ).to_csv(export, index=False)
    code, err = cli(capsys, "send", export, "--via", "ses", *MESSAGE,
                        "--out", tmp_path / "r.csv")  # fmt: skip
    assert code == 2
    assert "'Email Address', 'First Name', 'Address'" in err
    assert "--to-column 'Email Address'" in err
