"""Input files as users export them (issue 16 L1-L3): one reader for every format.

Before: the CLI read only comma CSV as UTF-8; a semicolon or TAB file became one column, a
UTF-16 or Latin-1 file an error, Excel/JSON lines "cannot read", a ragged CSV shifted every
column silently (the first became the index) and ``--out x.xlsx`` wrote CSV text into it.
"""

from __future__ import annotations

import codecs
import importlib.util
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from toolkit.cli import main
from toolkit.compose.inputs import InputEncodingWarning, read_table
from toolkit.errors import ConfigurationError, MissingDependencyError
from toolkit.results_io import check_results_path
from toolkit.sandbox import Sandbox

OK = "success@simulator.amazonses.com"
ROWS = [(OK, "Zoë"), ("success+1@simulator.amazonses.com", "José")]
EXPECTED = pd.DataFrame(ROWS, columns=["email", "name"])


def _text(rows: list[tuple[str, str]], delimiter: str) -> str:
    return "".join(delimiter.join(r) + "\n" for r in [("email", "name"), *rows])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("comma.csv", _text(ROWS, ",").encode()),
        ("semicolon.csv", _text(ROWS, ";").encode()),
        ("tab.tsv", _text(ROWS, "\t").encode()),
        ("tab.txt", _text(ROWS, "\t").encode()),
        ("pipe.csv", _text(ROWS, "|").encode()),
        ("bom.csv", codecs.BOM_UTF8 + _text(ROWS, ",").encode()),
        ("utf16.csv", _text(ROWS, ",").encode("utf-16")),
        ("utf16be.txt", codecs.BOM_UTF16_BE + _text(ROWS, "\t").encode("utf-16-be")),
        ("crlf.csv", _text(ROWS, ";").replace("\n", "\r\n").encode()),
        ("lines.jsonl", EXPECTED.to_json(orient="records", lines=True).encode()),
        ("records.json", EXPECTED.to_json(orient="records").encode()),
    ],
)
def test_every_export_reads_the_same_frame(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    pd.testing.assert_frame_equal(read_table(path), EXPECTED, check_dtype=False)


def test_latin1_is_read_with_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(_text(ROWS, ";").encode("cp1252"))
    with pytest.warns(InputEncodingWarning, match="not UTF-8") as caught:
        frame = read_table(path)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    pd.testing.assert_frame_equal(frame, EXPECTED)


def test_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("email;zip;n\na@example.org;00123;\n", encoding="utf-8")
    frame = read_table(path)
    assert frame.loc[0, "zip"] == "00123" and pd.isna(frame.loc[0, "n"])


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ("email,name\na@example.org,Ann,extra\nb@example.org,Bo,extra\n", "line 2"),
        ("email,name\na@example.org,Ann\nb@example.org,Smith, Bo\n", "line 3"),
    ],
    ids=["every-row-shifted", "one-row"],
)
def test_a_ragged_csv_is_one_line_naming_the_line(tmp_path: Path, content: str, line: str) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        read_table(path)
    message = str(info.value)
    assert line in message and "3 fields" in message and "header has 2" in message
    assert "\n" not in message


@pytest.mark.skipif(importlib.util.find_spec("openpyxl") is not None, reason="openpyxl present")
def test_excel_without_openpyxl_names_the_pip_command(tmp_path: Path) -> None:
    path = tmp_path / "list.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(MissingDependencyError, match="pip install openpyxl"):
        read_table(path)


def test_excel_with_openpyxl_reads_the_first_sheet(tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    path = tmp_path / "list.xlsx"
    EXPECTED.to_excel(path, index=False)
    pd.testing.assert_frame_equal(read_table(path), EXPECTED)


@pytest.mark.parametrize(
    ("name", "needle"),
    [("old.xls", ".xlsx or CSV"), ("missing.csv", "no such file"), ("empty.csv", "empty")],
)
def test_unreadable_inputs_are_one_line(tmp_path: Path, name: str, needle: str) -> None:
    path = tmp_path / name
    if name != "missing.csv":
        path.write_bytes(b"")
    with pytest.raises(ConfigurationError, match=needle):
        read_table(path)


@pytest.mark.parametrize("name", ["r.xlsx", "r.xls", "r.json", "r"])
def test_results_in_another_format_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        check_results_path(tmp_path / name)
    assert ".csv or .parquet" in str(info.value) and "r.csv" in str(info.value)
    check_results_path(tmp_path / "r.CSV")
    check_results_path(tmp_path / "r.parquet")


# -- through the CLI ------------------------------------------------------------------------

Cli = Callable[..., tuple[int, list[str]]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*args: str) -> tuple[int, list[str]]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err, captured.err
        return code, [line for line in captured.err.splitlines() if line.strip()]

    return run


def _send(source: Path, out: Path, box: Sandbox) -> list[str]:
    return ["send", str(source), "--via", "ses", "--from", "sender@example.com",
            "--subject", "Hi {{name}}", "--no-progress", "--out", str(out),
            "--endpoint-url", box.endpoint_url, "--region", box.region]  # fmt: skip


@pytest.fixture
def box(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sandbox.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", sandbox.secret_access_key)
    sandbox.mailbox.clear()
    return sandbox


def test_the_cli_sends_a_semicolon_latin1_file(cli: Cli, box: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(_text(ROWS, ";").encode("cp1252"))
    code, lines = cli(*_send(path, tmp_path / "r.csv", box))
    assert code == 0, lines
    assert len(lines) == 1 and "warning" in lines[0] and "not UTF-8" in lines[0], lines
    assert sorted(box.mailbox.messages()["subject"]) == ["Hi José", "Hi Zoë"]


def test_the_cli_refuses_a_ragged_file_and_sends_nothing(
    cli: Cli, box: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(f"email,name\n{OK},Smith, Ann\n", encoding="utf-8")
    code, lines = cli(*_send(path, tmp_path / "r.csv", box))
    assert code == 2 and len(lines) == 1 and "line 2 has 3 fields" in lines[0], lines
    assert box.mailbox.count() == 0


def test_the_cli_refuses_xlsx_results_before_sending(
    cli: Cli, box: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "in.csv"
    path.write_text(_text(ROWS, ","), encoding="utf-8")
    code, lines = cli(*_send(path, tmp_path / "r.xlsx", box))
    assert code == 2 and len(lines) == 1 and "r.csv" in lines[0], lines
    assert box.mailbox.count() == 0 and not (tmp_path / "r.xlsx").exists()


def test_pinpoint_without_an_app_id_names_the_flag(cli: Cli, box: Sandbox, tmp_path: Path) -> None:
    """Issue 16 L: `--via pinpoint` on an endpoint without --pinpoint-app-id."""
    path = tmp_path / "in.csv"
    path.write_text(_text(ROWS, ","), encoding="utf-8")
    args = _send(path, tmp_path / "r.csv", box)
    args[args.index("ses")] = "pinpoint"
    code, lines = cli(*args)
    errors = [line for line in lines if "error" in line]
    assert code == 2 and len(errors) == 1 and "--pinpoint-app-id" in errors[0], lines
    assert box.mailbox.count() == 0
