"""Issue 9 on the command line: one line and exit 2 for what the user can fix, results kept.

Most cases call ``toolkit.cli.main`` in this process (a subprocess costs a second of imports
each); Ctrl-C needs a real process and a real signal.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.helpers import run_cli
from toolkit.cli import main
from toolkit.delivery.ledger import Ledger
from toolkit.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
OK = "success@simulator.amazonses.com"

Cli = Callable[..., tuple[int, list[str]]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``python -m toolkit ARGS`` in this process: (exit status, stderr lines)."""
    return lambda *args: run_cli(capsys, *args)


@pytest.fixture
def box(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The sandbox, with its keys in the environment as a user would export them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sandbox.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", sandbox.secret_access_key)
    return sandbox


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    pd.DataFrame({"email": [OK, "success+1@simulator.amazonses.com", "bad@"],
                  "name": ["Ana", "Bo", "Cy"]}).to_csv(path, index=False)  # fmt: skip
    return path


def send_args(source: Path, out: Path | str, box: Sandbox | None = None, *extra: str) -> list[str]:
    args = ["send", str(source), "--via", "ses", "--from", "sender@example.com",
            "--subject", "Hi {{name}}", "--no-progress", "--out", str(out)]  # fmt: skip
    if box is not None:
        args += ["--endpoint-url", box.endpoint_url, "--region", box.region]
    return [*args, *extra]


def assert_one_line(code: int, lines: list[str], *needles: str) -> None:
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("toolkit: error: "), lines
    for needle in needles:
        assert needle in lines[0], lines


# -- row 1: --out (and --ledger) checked before the first send ---------------------------------


def test_row1_out_in_a_missing_directory_stops_before_sending(
    cli: Cli, box: Sandbox, small_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "nodir" / "o.csv"
    code, lines = cli(*send_args(small_csv, out, box))
    assert_one_line(code, lines, f"--out {out}: the directory {out.parent} does not exist")
    assert box.mailbox.count() == 0 and not out.exists()


@pytest.mark.parametrize(
    ("out", "needle"),
    [
        ("/proc/o.csv", "cannot write there"),
        ("{tmp}/", "is a directory"),
        ("{tmp}/sub/", "is a directory"),
        ("{csv}", "is the input file"),
    ],
)
def test_row1_other_outs_no_file_can_be_written_at(
    cli: Cli, box: Sandbox, small_csv: Path, tmp_path: Path, out: str, needle: str
) -> None:
    (tmp_path / "sub").mkdir()
    target = out.format(tmp=tmp_path, csv=small_csv)
    code, lines = cli(*send_args(small_csv, target, box))
    assert_one_line(code, lines, "--out", needle)
    assert box.mailbox.count() == 0


def test_row1_ledger_in_a_missing_directory_stops_before_sending(
    cli: Cli, box: Sandbox, small_csv: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "nodir" / "run.sqlite"
    code, lines = cli(*send_args(small_csv, tmp_path / "o.csv", box, "--ledger", str(ledger)))
    assert_one_line(code, lines, f"--ledger {ledger}: the directory", "does not exist")
    assert box.mailbox.count() == 0 and not (tmp_path / "o.csv").exists()


# -- row 2: Ctrl-C -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_row2_interrupting_a_send_writes_every_row_so_far_and_says_where(
    tmp_path: Path, signum: int, status: int
) -> None:
    out = tmp_path / "r.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit", *send_args(DATA / "recipients.csv", out),
         "--subject", "Order {{order_id}}",
         "--rate", "50", "--ledger", str(tmp_path / "run.sqlite")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if _sent_any(tmp_path / "run.sqlite"):
                break
            time.sleep(0.1)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("toolkit: interrupted; every row's status so far (")
    assert last.endswith(f") -> {out}")
    results = pd.read_csv(out)
    assert len(results) == len(pd.read_csv(DATA / "recipients.csv"))
    counts = results["status"].value_counts().to_dict()
    assert counts["sent"] > 0 and counts["skipped"] > 0
    assert set(counts) <= {"sent", "skipped", "invalid", "rejected"}
    cancelled = results.loc[results["error_code"] == "Cancelled"]
    assert len(cancelled) > 0 and cancelled["status"].eq("skipped").all()
    assert not list(tmp_path.glob(".r.csv.*"))  # no temporary file left behind


def _sent_any(ledger: Path) -> bool:
    if not ledger.exists():
        return False
    try:
        with sqlite3.connect(ledger, timeout=0.1) as conn:
            return bool(conn.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
    except sqlite3.Error:
        return False


# -- rows 3 and 4: bad settings ----------------------------------------------------------------


def _not_sqlite(path: Path) -> None:
    path.write_text("not a database\n" * 20)


def _truncated(path: Path) -> None:
    with Ledger(path) as ledger:
        ledger.start_run("ses")
        ledger.finish_run()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _other_schema(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE rows (a INTEGER)")
        conn.execute("CREATE TABLE runs (b INTEGER)")


def _not_utf8(path: Path) -> None:
    path.write_bytes(b"Hello \xe9t\xe9 {{name}}\n")


FIFTEEN: list[tuple[list[str], Callable[[Path], None] | None, tuple[str, ...]]] = [
    (["--rate", "0"], None, ("--rate: rate (recipients per second) must be a number ≥",)),
    (["--rate", "-5"], None, ("--rate:", "not -5.0")),
    (["--rate", "nan"], None, ("--rate:", "not nan")),
    (["--workers", "0"], None, ("--workers: workers must be a whole number ≥ 1 and ≤ 256",)),
    (["--workers", "-3"], None, ("--workers:", "not -3")),
    (["--workers", "100000"], None, ("--workers:", "not 100000")),
    (["--limit", "-1"], None, ("--limit: limit must be a whole number ≥ 0, not -1",)),
    (["--endpoint-url", "not a url", "--region", "us-east-1"], None,
     ("--endpoint-url: endpoint_url 'not a url' must start with https://",)),
    (["--region", "us east 1"], None, ("--region: region 'us east 1' is not an AWS Region",)),
    (["--ledger", "{tmp}/missing/run.sqlite"], None, ("--ledger", "does not exist")),
    (["--ledger", "{tmp}"], None, ("--ledger", "is a directory")),
    (["--ledger", "{tmp}/x.sqlite", "--resume"], _not_sqlite, ("is not a toolkit ledger",
                                                               "file is not a database")),
    (["--ledger", "{tmp}/x.sqlite", "--resume"], _truncated, ("is not a toolkit ledger",)),
    (["--ledger", "{tmp}/x.sqlite", "--resume"], _other_schema, ("is not a toolkit ledger",
                                                                 "has no")),
    (["--text", "@{tmp}/x.txt"], _not_utf8, ("--text:", "is not UTF-8 text", "save it as UTF-8")),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "prepare", "needles"), FIFTEEN)
def test_row4_each_bad_setting_is_one_line_naming_it_and_nothing_is_sent(
    cli: Cli, box: Sandbox, small_csv: Path, tmp_path: Path, flags: list[str],
    prepare: Callable[[Path], None] | None, needles: tuple[str, ...],
) -> None:  # fmt: skip
    flags = [f.format(tmp=tmp_path) for f in flags]
    if prepare is not None:
        prepare(tmp_path / ("x.txt" if "--text" in flags else "x.sqlite"))
    out = tmp_path / "o.csv"
    code, lines = cli(*send_args(small_csv, out, box, *flags))  # the last of a flag wins
    assert_one_line(code, lines, *needles)
    assert box.mailbox.count() == 0 and not out.exists()


# -- row 8: an endpoint no request could use ---------------------------------------------------


def test_row8_an_ftp_endpoint_is_refused_before_sending(
    cli: Cli, small_csv: Path, tmp_path: Path
) -> None:
    code, lines = cli(*send_args(small_csv, tmp_path / "o.csv"), "--endpoint-url",
                      "ftp://127.0.0.1:1", "--region", "us-east-1")  # fmt: skip
    assert_one_line(code, lines, "--endpoint-url: endpoint_url 'ftp://127.0.0.1:1' must start")


# -- row 10: no credentials --------------------------------------------------------------------


@pytest.mark.parametrize("via", ["ses", "ses-bulk", "pinpoint"])
def test_row10_no_credentials_exit_2_one_line_nothing_sent(
    cli: Cli, sandbox: Sandbox, small_csv: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, via: str,
) -> None:  # fmt: skip
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    out = tmp_path / "o.csv"
    app = ["--pinpoint-app-id", sandbox.info()["pinpoint_app_id"]] if via == "pinpoint" else []
    args = send_args(small_csv, out, sandbox, *app, "--ledger", str(tmp_path / "l.sqlite"))
    args[args.index("ses")] = via
    code, lines = cli(*args)
    if via == "pinpoint":  # it says once that Pinpoint has ended, on a line of its own
        assert lines[0].startswith("toolkit: warning: Amazon Pinpoint reached end of support")
        lines = lines[1:]
    assert_one_line(code, lines, "NoCredentialsError", "Unable to locate credentials")
    assert sandbox.mailbox.count() == 0 and not out.exists()
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert "failed" not in ledger.counts()


# -- row 14: --ledger somedir/ -----------------------------------------------------------------


def test_row14_a_ledger_path_ending_in_a_slash_is_one_error(
    cli: Cli, small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, lines = cli(*send_args(small_csv, "o.csv"), "--ledger", "somedir/")
    assert_one_line(code, lines, "--ledger somedir/ names a directory (it ends in /)",
                    "give a file path, e.g. somedir/ledger.sqlite")  # fmt: skip
    assert not (tmp_path / "somedir").exists()


# -- the guard ---------------------------------------------------------------------------------


def _break_the_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording an answer fails: an unexpected error after the first message went out."""

    def broken(self: Ledger, *args: Any, **kwargs: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Ledger, "record", broken)


def test_an_unexpected_error_is_one_line_asking_for_a_report_and_results_are_kept(
    cli: Cli, box: Sandbox, small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_the_ledger(monkeypatch)
    out = tmp_path / "o.csv"
    code, lines = cli(*send_args(small_csv, out, box, "--ledger", str(tmp_path / "l.sqlite")))
    assert code == 1
    error = [line for line in lines if line.startswith("toolkit: internal error:")]
    assert len(error) == 1, lines
    assert "OperationalError: disk I/O error — please report it" in error[0]
    assert "run again with --debug for the traceback" in error[0]
    assert error[0].endswith(f"-> {out}")
    results = pd.read_csv(out)
    assert len(results) == 3 and results["status"].notna().all()
    assert box.mailbox.count() >= 1


def test_debug_adds_the_traceback(
    box: Sandbox, small_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _break_the_ledger(monkeypatch)
    args = send_args(small_csv, tmp_path / "o.csv", box, "--ledger", str(tmp_path / "l.sqlite"))
    assert main(["--debug", *args]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "disk I/O error" in err


def test_results_are_written_atomically_with_a_normal_file_mode(
    cli: Cli, box: Sandbox, small_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o.csv"
    out.write_text("old results\n")
    os.chmod(out, 0o640)
    code, lines = cli(*send_args(small_csv, out, box))
    assert code == 0, lines
    assert pd.read_csv(out)["status"].tolist() == ["sent", "sent", "invalid"]
    assert out.stat().st_mode & 0o777 == 0o640  # the old file's mode is kept
    # no temporary file left behind; the summary sidecar is written the same way
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv", "o.summary.json", "people.csv"]


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for line in ("0    the command did its job", "1    an unexpected error",
                 "2    a configuration or usage error", "130  interrupted", "--debug"):  # fmt: skip
        assert line in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "### Exit status" in readme and "please report" in readme
