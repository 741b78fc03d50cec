"""Issue 9's properties: arbitrary frames and flag combinations never end in a traceback.

* ``send(..., dry_run=True)`` and a real send to the sandbox, given frames with arbitrary
  dtypes, index types, column names and cells (bytes, lists, NaN, NA, huge strings, control
  characters, lone surrogates), raise nothing but ConfigurationError, return exactly one
  status per input row on the input's index, and never put a CR/LF into a header (what the
  sandbox received has no line break in a subject, no recipient that was not in the frame,
  no header the toolkit does not write).
* ``python -m toolkit send`` over combinations of good and bad flags exits 0 or 2 and never
  prints a traceback.

Bounded for the default suite (a few seconds each); ``TOOLKIT_HYPOTHESIS_EXAMPLES`` raises
the number of examples for a longer hunt.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from toolkit.api import send
from toolkit.cli import main
from toolkit.errors import ConfigurationError
from toolkit.results import Status
from toolkit.sandbox import Sandbox

_SCALE = int(os.environ.get("TOOLKIT_HYPOTHESIS_EXAMPLES", "0")) or 1
SENDER = "sender@example.com"
POOL = [f"success+{i}@simulator.amazonses.com" for i in range(6)]
STATUSES = {s.value for s in Status}
HUGE = "x" * 200_000
# What the toolkit writes into a message it builds (RAW/SMTP); anything else is an injection.
HEADERS = {"from", "to", "cc", "reply-to", "subject", "date", "mime-version", "content-type",
           "content-transfer-encoding", "content-disposition", "message-id"}  # fmt: skip

_TRICKY = st.sampled_from(
    ["\r\n", "\n", "\r", "\x00", "\x85", "\u2028", "Bcc: evil@example.com", "\ud800", "é",
     "{{x}}", "}}", "=?utf-8?q?x?=", " ", ""]
)  # fmt: skip

pytestmark = pytest.mark.slow  # hypothesis drives real sends and CLI runs


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, picked in proportion to its weight (one_of picks evenly)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda k: table[k])


_TEXT = st.lists(st.one_of(st.text(max_size=8), _TRICKY), max_size=4).map("".join)
_PLAIN = st.sampled_from(["Ana", "Bo", "Zoë", "山田", "O'Brien & Co", "42"])
_ODD = st.one_of(
    st.binary(max_size=8), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1), st.none(),
    st.just(float("nan")), st.just(pd.NA), st.just(pd.NaT), st.integers(), st.floats(),
    st.booleans(), st.builds(object), st.just(HUGE),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
)  # fmt: skip
CELLS = weighted((3, _PLAIN), (1, _TEXT), (1, _ODD))
_BAD_ADDRESSES = st.sampled_from(
    [f"{POOL[0]}\r\nBcc: evil@example.com", f"{POOL[1]}, evil@example.com\n",
     "Eve <evil@example.com>\r\n", "\ud800@example.com", "", " ", "bad@",
     POOL[2].encode()]
)  # fmt: skip
_POOL = st.sampled_from(POOL)
ADDRESSES = weighted((12, _POOL), (1, _BAD_ADDRESSES), (1, CELLS))
_SIMPLE_NAMES = st.sampled_from(["email", "name", "body", "0", "a b", "é", 0, 1, 2])
_WEIRD_NAMES = st.one_of(st.sampled_from(["", "\r\n", "{{x}}", "\ud800"]), st.text(max_size=4))
NAMES = weighted((4, _SIMPLE_NAMES), (1, _WEIRD_NAMES))


@st.composite
def frames(draw: st.DrawFn) -> tuple[Any, Any, dict[str, Any]]:
    """(the input, the column it names as ``to``, the message keywords)."""
    n = draw(weighted((1, st.just(0)), (6, st.integers(1, 5))))
    unique = draw(st.integers(0, 4)) > 0  # mostly distinct names; sometimes a repeated one
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique_by=str if unique else None))
    columns: dict[int, list[Any]] = {
        i: draw(st.lists(ADDRESSES if i == 0 else CELLS, min_size=n, max_size=n))
        for i in range(len(names))
    }
    df = pd.DataFrame({i: pd.Series(v, dtype=object) for i, v in columns.items()})
    df.columns = pd.Index(names, dtype=object)
    for i in range(len(names)):  # some columns get another dtype, when pandas can make it
        kind = draw(st.sampled_from(["object", "object", "string", "category", "number"]))
        try:
            column = df.iloc[:, i]
            converted = pd.to_numeric(column) if kind == "number" else column.astype(kind)
            df.isetitem(i, converted)
        except (TypeError, ValueError, UnicodeError):
            pass
    df.index = draw(indexes(n))
    used = [str(draw(st.sampled_from(names))) for _ in range(2)]
    options: dict[str, Any] = {
        "subject": f"Hi {{{{{used[0]}}}}}",
        "text": draw(st.sampled_from([None, f"Body {{{{{used[1]}}}}}", "plain"])),
    }
    if len(names) > 1 and draw(st.booleans()):
        options["name_column"] = names[1]
    source: Any = df
    if draw(st.integers(0, 9)) == 0:
        source = df.iloc[:, 0]  # a Series of addresses
    return source, names[0], options


def indexes(n: int) -> st.SearchStrategy[pd.Index]:
    makers = {
        "range": lambda: pd.RangeIndex(n),
        "text": lambda: pd.Index([f"k{i}\r\n" for i in range(n)], dtype=object),
        "int": lambda: pd.Index(list(range(n, 0, -1)), dtype="int64"),
        "multi": lambda: pd.MultiIndex.from_arrays([["a"] * n, list(range(n))]),
        "dup": lambda: pd.Index([0] * n, dtype="int64"),
        "nan": lambda: pd.Index([np.nan, *range(1, n)], dtype=float)[:n],
        "time": lambda: pd.date_range("2026-01-01", periods=n, freq="h"),
    }
    kinds = ["range", "range", "range", "text", "int", "multi", "nan", "time", "dup"]
    return st.sampled_from(kinds).map(lambda kind: makers[kind]())


def check_results(source: Any, results: pd.DataFrame) -> None:
    """One status per input row, on the input's index."""
    assert len(results) == len(source)
    assert results.index.equals(source.index)
    assert results["status"].notna().all()
    assert set(results["status"]) <= STATUSES


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(rate=100_000) as sandbox:
        yield sandbox


@settings(max_examples=60 * _SCALE, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(case=frames(), via=st.sampled_from(["ses", "ses-bulk", "smtp", "pinpoint"]))
def test_dry_run_of_any_frame_is_one_status_per_row_or_a_configuration_error(
    case: tuple[Any, Any, dict[str, Any]], via: str
) -> None:
    source, to, options = case
    try:
        results = send(source, via, to=to, sender=SENDER, dry_run=True, progress=False, **options)
    except ConfigurationError as exc:
        event(f"ConfigurationError: {str(exc)[:45]}")
        return
    check_results(source, results)
    event(f"statuses: {sorted(set(results['status']))}")
    for subject in results.attrs["preview"]["subject"].dropna():
        assert "\r" not in subject and "\n" not in subject


@pytest.mark.filterwarnings("ignore::toolkit.transports.pinpoint.PinpointEndOfSupportWarning")
@settings(max_examples=40 * _SCALE, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])  # fmt: skip
@given(case=frames(), via=st.sampled_from(["ses", "ses-bulk", "smtp", "pinpoint"]))
def test_a_real_send_of_any_frame_never_raises_and_never_injects_a_header(
    box: Sandbox, case: tuple[Any, Any, dict[str, Any]], via: str
) -> None:
    source, to, options = case
    box.mailbox.clear()
    try:
        results = send(source, via, target=box, to=to, sender=SENDER, progress=False,
                       max_attempts=2, **options)  # fmt: skip
    except ConfigurationError as exc:
        event(f"ConfigurationError: {str(exc)[:45]}")
        assert box.mailbox.count() == 0  # refused before anything was sent
        return
    check_results(source, results)
    event(f"statuses: {sorted(set(results['status']))}")
    received = box.mailbox.messages(content=True)
    assert len(received) == int((results["status"] == "sent").sum())
    for _, message in received.iterrows():
        subject = message["subject"] or ""
        assert "\r" not in subject and "\n" not in subject
        assert {r.lower() for r in message["recipients"]} <= set(POOL)
        if message["content_kind"] == "mime":
            parsed = email.message_from_bytes(message["content"], policy=email.policy.default)
            assert {k.lower() for k in parsed} <= HEADERS


# -- the CLI -----------------------------------------------------------------------------------


def _flags(tmp: Path, box: Sandbox) -> dict[str, st.SearchStrategy[list[str]]]:
    """Each flag group: good values mostly, bad ones sometimes (``[]`` leaves it out)."""
    nothing: list[str] = []
    aws = ["--endpoint-url", box.endpoint_url, "--region", box.region]
    smtp = ["--smtp-host", box.smtp_host, "--smtp-port", str(box.smtp_port), "--smtp-user",
            box.smtp_username, "--smtp-password-env", "BOX_PASSWORD"]  # fmt: skip

    def pick(good: list[list[str]], bad: list[list[str]]) -> st.SearchStrategy[list[str]]:
        return weighted((4, st.sampled_from(good)), (1, st.sampled_from(bad)))

    return {
        "via": pick([["--via", v] for v in ("ses", "ses-bulk", "smtp", "pinpoint")],
                    [["--via", "sms"], nothing]),
        "from": pick([["--from", SENDER]], [["--from", "bad"], ["--from", "a\nb@x.com"],
                                            ["--from", ""], nothing]),
        "content": pick([["--subject", "Hi {{name}}"],
                         ["--subject", "x", "--text", str(tmp / "t.txt")]],
                        [["--subject", "Hi {{nope}}"], ["--template", "welcome"],
                         ["--subject", "x", "--text", str(tmp / "latin1.txt")],
                         ["--subject", "x", "--html", str(tmp)],
                         ["--subject", "x", "--text", str(tmp / "missing.txt")],
                         ["--template", "t", "--subject", "x"], nothing]),
        "columns": pick([nothing, ["--key-column", "name"]],
                        [["--to-column", "nope"], ["--to-column", ""], ["--key-column", "email"]]),
        "where": pick([aws, aws, smtp, nothing],
                      [["--region", "us east 1"],
                       ["--endpoint-url", "ftp://127.0.0.1:1", "--region", "us-east-1"],
                       [*aws, "--profile", "nope"], ["--smtp-host", "a b", "--smtp-port", "0"],
                       ["--smtp-password-env", "UNSET_VAR_X"], ["--pinpoint-app-id", ""]]),
        "engine": st.lists(pick(
            [["--rate", "5000"], ["--rate", "0.5"], ["--workers", "2"], ["--limit", "1"],
             ["--retry-unknown"], ["--ledger", str(tmp / "fresh.sqlite")]],
            [["--rate", "0"], ["--rate", "nan"], ["--rate", "inf"], ["--rate", "1e-300"],
             ["--rate", "abc"], ["--workers", "0"], ["--workers", "100000"], ["--workers", "x"],
             ["--limit", "-1"], ["--resume"], ["--ledger", str(tmp / "missing" / "l.sqlite")],
             ["--ledger", str(tmp) + "/"], ["--ledger", str(tmp / "junk.sqlite"), "--resume"],
             ["--bogus"]]), max_size=2),
        "dry": st.sampled_from([["--dry-run"], nothing]),
        "out": pick([["--out", str(tmp / "o.csv")]],
                    [["--out", str(tmp / "no" / "o.csv")], ["--out", str(tmp) + "/"],
                     ["--out", "/proc/o.csv"], nothing]),
        "file": pick([str(tmp / "people.csv")],
                     [str(tmp / "empty.csv"), str(tmp / "junk.csv"), str(tmp),
                      str(tmp / "missing.csv"), str(tmp / "people.parquet")]),
    }  # fmt: skip


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("fuzz")
    people = pd.DataFrame({"email": [*POOL[:3], "bad@"], "name": ["Ana", "Bo\r\n", "Cy", "Di"]})
    people.to_csv(tmp / "people.csv", index=False)
    people.assign(blob=[b"\x00\xff", b"x", b"", b"y"]).to_parquet(tmp / "people.parquet")
    (tmp / "empty.csv").write_text("")
    (tmp / "junk.csv").write_bytes(b"\xff\xfe\x00garbage\x00\n\x01")
    (tmp / "junk.sqlite").write_text("not a database")
    (tmp / "t.txt").write_text("Body {{name}}\n", encoding="utf-8")
    (tmp / "latin1.txt").write_bytes("Body é {{name}}\n".encode("latin-1"))
    return tmp


@pytest.mark.filterwarnings("ignore::toolkit.transports.pinpoint.PinpointEndOfSupportWarning")
@settings(max_examples=40 * _SCALE, deadline=None,
          suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_the_send_command_exits_0_or_2_and_never_prints_a_traceback(
    data: st.DataObject, box: Sandbox, cli_files: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", box.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", box.secret_access_key)
    monkeypatch.setenv("BOX_PASSWORD", box.smtp_password)
    monkeypatch.delenv("UNSET_VAR_X", raising=False)
    flags = _flags(cli_files, box)
    args = ["send", data.draw(flags["file"])]
    for name in ("via", "from", "content", "columns", "where", "dry", "out"):
        args += data.draw(flags[name], label=name)
    for extra in data.draw(flags["engine"], label="engine"):
        args += extra
    for leftover in (cli_files / "fresh.sqlite", cli_files / "o.csv"):
        leftover.unlink(missing_ok=True)
    try:
        code = main(args)
    except SystemExit as exc:  # argparse: a usage error
        code = exc.code
    err = capsys.readouterr().err
    event(f"exit {code}: {err.strip().splitlines()[-1][:40] if code and err.strip() else ''}")
    assert code in (0, 2), (args, err)
    assert "Traceback" not in err, (args, err)
    if code == 2:  # one line says why (a usage error from argparse, or ours)
        said = [line for line in err.splitlines() if line.startswith(_ERROR_LINES)]
        assert len(said) == 1, (args, err)


_ERROR_LINES = ("toolkit: error: ", "python -m toolkit send: error: ", "python -m toolkit: error: ")
