"""``python -m toolkit send``'s content options and help, run in-process as a user types them:
``--text``/``--html``/``--subject`` take the text itself or ``@file``, ``--keep`` copies input
columns into the results, and every option explains itself with an example."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from toolkit.cli import _parser, main
from toolkit.cli.send import _read_text
from toolkit.errors import ConfigurationError
from toolkit.results_io import read_results

ROOT = Path(__file__).resolve().parents[2]
RECIPIENTS = str(ROOT / "data" / "recipients.csv")
TEXT_FILE = ROOT / "data" / "templates" / "order_confirmation.txt"


def dry_run(tmp_path: Path, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "dry.csv"
    args = ["send", RECIPIENTS, "--via", "ses", "--from", "sender@example.com"]
    args += ["--dry-run", "--no-progress", "--out", str(out), *extra]
    return main(args), out


def test_text_is_the_text_itself_or_at_a_file(tmp_path: Path) -> None:
    code, out = dry_run(tmp_path, "--subject", "Order {{order_id}}", "--text", "Hello")
    assert code == 0 and (read_results(out)["status"] == "skipped").sum() > 900
    assert _read_text("Hi {{first_name}}") == "Hi {{first_name}}"
    assert _read_text(f"@{TEXT_FILE}") == TEXT_FILE.read_text(encoding="utf-8")
    with pytest.raises(ConfigurationError, match="--html: cannot read"):
        _read_text("@/no/such/file.html", "--html")


def test_a_file_name_without_the_at_is_refused_not_sent(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _ = dry_run(tmp_path, "--subject", "x", "--text", str(TEXT_FILE))
    assert code == 2
    assert f"--text @{TEXT_FILE}" in capsys.readouterr().err


def test_keep_copies_input_columns_and_times_are_iso(tmp_path: Path) -> None:
    code, out = dry_run(tmp_path, "--subject", "x", "--text", "y", "--keep", "order_id, city")
    assert code == 0
    results = pd.read_csv(out, dtype=str)
    source = pd.read_csv(RECIPIENTS, dtype=str)
    assert results["order_id"].tolist() == source["order_id"].tolist()
    assert results["city"].tolist() == source["city"].tolist()
    assert list(results.columns[:3]) == ["input_index", "row_key", "status"]


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def test_every_send_option_has_help_and_examples_are_given() -> None:
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    send = sub.choices["send"]
    for action in _options(send):
        assert action.help, f"{action.dest} has no help"
    text = send.format_help()
    for needle in ("@FILE", "--text @", "e.g. --via ses", "--to-column mail", "--keep"):
        assert needle in text, needle


def test_top_level_help_lists_each_command_once(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "send", "sandbox", "mailbox", "report", "guide"):
        listed = [line for line in out.splitlines() if line.strip().startswith(command + " ")]
        assert len(listed) == 1, (command, listed)
