"""Issue 16, the ledger rows: what a resume recognises, who may hold a ledger, a full disk.

* H1: the file re-exported (a row inserted at the top, the rows reversed, a row removed; the
  key is the row number): rows the ledger holds as final are not sent again.
* H2: two background sends with one ledger in one process: the second is refused.
* M2: a resume with other text: rows already sent are ``skipped``/``ContentChanged``; sent
  again only with ``resend_changed=True``.
* M4: the ledger's disk fills mid-run (or before it can be created): one line "disk full",
  exit 2, and a resume from that ledger sends nobody anything twice.

The CLI cases run ``python -m toolkit send`` in a subprocess against the test's sandbox and
count what the sandbox's mailbox holds.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import HI, send_hi
from toolkit.api import send_in_background
from toolkit.delivery.config import EngineConfig
from toolkit.errors import ConfigurationError
from toolkit.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]


def emails(n: int, prefix: str = "user") -> list[str]:
    return [f"{prefix}{i}@example.org" for i in range(n)]


def delivered(sandbox: Sandbox) -> Counter[str]:
    counts: Counter[str] = Counter()
    for recipients in sandbox.mailbox.messages()["recipients"]:
        counts.update(recipients)
    return counts


def cli(sandbox: Sandbox, *args: str | Path, timeout: float = 120) -> tuple[int, list[str]]:
    """``python -m toolkit ARGS`` in a subprocess with the sandbox's keys; (exit, stderr lines)."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": sandbox.access_key_id,
           "AWS_SECRET_ACCESS_KEY": sandbox.secret_access_key,
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, [line for line in done.stderr.splitlines() if line.strip()]


def send_args(sandbox: Sandbox, source: Path, out: Path, ledger: Path, *extra: str) -> list[str]:
    return ["send", str(source), "--via", "ses", "--from", "sender@example.com",
            "--subject", "Hi", "--text", "x", "--no-progress", "--out", str(out),
            "--ledger", str(ledger), "--endpoint-url", sandbox.endpoint_url,
            "--region", sandbox.region, *extra]  # fmt: skip


# -- H1: a re-exported file --------------------------------------------------------------------


@pytest.mark.slow
def test_h1_cli_resume_after_reexport_sends_no_row_twice(sandbox: Sandbox, tmp_path: Path) -> None:
    base = pd.DataFrame({"email": emails(40)})
    source, out, ledger = tmp_path / "people.csv", tmp_path / "o.csv", tmp_path / "run.sqlite"
    base.to_csv(source, index=False)
    code, lines = cli(sandbox, *send_args(sandbox, source, out, ledger))
    assert code == 0, lines
    assert sandbox.mailbox.count() == 40

    inserted = pd.concat([pd.DataFrame({"email": ["new@example.org"]}), base], ignore_index=True)
    reexports = ((inserted, 41), (inserted.iloc[::-1], 41), (inserted.drop(index=5), 41))
    for frame, total in reexports:
        frame.to_csv(source, index=False)  # re-exported: the key is the row number again
        code, lines = cli(sandbox, *send_args(sandbox, source, out, ledger, "--resume"))
        assert code == 0, lines
        results = pd.read_csv(out)
        assert results["status"].eq("sent").all(), results["status"].value_counts()
        assert sandbox.mailbox.count() == total
        assert any("under other row keys" in line and "--key-column" in line for line in lines)
    counts = delivered(sandbox)
    assert max(counts.values()) == 1 and sum(counts.values()) == 41


def test_h1_api_moved_rows_keep_their_recorded_outcome(sandbox: Sandbox, tmp_path: Path) -> None:
    ledger = tmp_path / "run.sqlite"
    base = pd.DataFrame({"email": emails(30)})
    first = send_hi(base, "ses", target=sandbox, ledger=ledger)
    reversed_ = base.iloc[::-1].reset_index(drop=True)
    again = send_hi(reversed_, "ses", target=sandbox, ledger=ledger)
    assert sandbox.mailbox.count() == 30
    assert again["status"].eq("sent").all()
    assert again["message_id"].tolist() == first["message_id"].tolist()[::-1]
    assert again["row_key"].tolist() == [str(i) for i in range(30)]  # the rows' keys now


def test_h1_a_frame_that_sends_a_message_twice_on_purpose_still_sends_the_copy(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    ledger = tmp_path / "run.sqlite"
    send_hi(pd.DataFrame({"email": ["a@example.org"]}), "ses", target=sandbox, ledger=ledger)
    twice = pd.DataFrame({"email": ["b@example.org", "a@example.org", "a@example.org"]})
    results = send_hi(twice, "ses", target=sandbox, ledger=ledger, allow_duplicates=True)
    assert results["status"].eq("sent").all()
    assert delivered(sandbox) == Counter({"a@example.org": 2, "b@example.org": 1})


# -- a re-exported file with a copy of a sent row in other letter case ---------------------------


def folded(sandbox: Sandbox) -> Counter[str]:
    """Messages per inbox: ``B@x`` and ``b@x`` are one (as pre-flight's duplicate rule says)."""
    counts: Counter[str] = Counter()
    for recipient, n in delivered(sandbox).items():
        counts[recipient.lower()] += n
    return counts


def _one_sent_one_skipped(results: pd.DataFrame, first: pd.DataFrame) -> None:
    copies = results[results["recipient"].str.lower() == "b@example.org"]
    assert sorted(copies["status"]) == ["sent", "skipped"], copies
    sent = copies[copies["status"] == "sent"]
    assert sent["message_id"].tolist() == first.loc[first["recipient"] == "b@example.org",
                                                    "message_id"].tolist()  # fmt: skip
    skipped = copies[copies["status"] == "skipped"]
    assert skipped["error_code"].tolist() == ["DuplicateRecipient"]
    assert "letter case" in skipped["error_message"].iat[0]


@pytest.mark.parametrize("via", ["ses", "smtp"])
def test_api_resume_with_a_sent_row_copied_above_in_other_case_sends_it_once(
    sandbox: Sandbox, tmp_path: Path, via: str
) -> None:
    ledger = tmp_path / "run.sqlite"
    base = ["a@example.org", "b@example.org", "c@example.org"]
    first = send_hi(pd.DataFrame({"email": base}), via, target=sandbox, ledger=ledger)
    copied = pd.DataFrame({"email": ["B@EXAMPLE.ORG", *base]})  # above the sent row
    results = send_hi(copied, via, target=sandbox, ledger=ledger)
    assert folded(sandbox) == Counter(base)
    _one_sent_one_skipped(results, first)
    assert results["status"].value_counts().to_dict() == {"sent": 3, "skipped": 1}


def test_api_resume_with_recipients_of_a_cell_reordered_in_other_case_sends_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    ledger = tmp_path / "run.sqlite"
    send_hi(pd.DataFrame({"email": ["a@example.org; B@example.org"]}), "ses",
            target=sandbox, ledger=ledger)  # fmt: skip
    again = send_hi(pd.DataFrame({"email": ["new@example.org", "b@example.org; A@example.org"]}),
                    "ses", target=sandbox, ledger=ledger)  # fmt: skip
    assert folded(sandbox) == Counter(["a@example.org", "b@example.org", "new@example.org"])
    assert again["status"].tolist() == ["sent", "sent"]  # the second: the recorded outcome


def test_a_key_column_row_copied_in_other_case_keeps_its_recorded_outcome(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    ledger = tmp_path / "run.sqlite"
    base = pd.DataFrame({"id": ["p1", "p2"], "email": ["a@example.org", "b@example.org"]})
    first = send_hi(base, "ses", target=sandbox, ledger=ledger, key="id")
    copied = pd.concat([pd.DataFrame({"id": ["p9"], "email": ["B@example.org"]}), base])
    results = send_hi(copied.reset_index(drop=True), "ses", target=sandbox, ledger=ledger,
                      key="id")  # fmt: skip
    assert folded(sandbox) == Counter(["a@example.org", "b@example.org"])
    assert first["status"].eq("sent").all()
    assert results["status"].value_counts().to_dict() == {"sent": 2, "skipped": 1}


def test_other_text_to_a_sent_address_in_other_case_is_content_changed(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    ledger = tmp_path / "run.sqlite"
    send_hi(pd.DataFrame({"email": ["b@example.org"]}), "ses", target=sandbox, ledger=ledger)
    again = send_hi(pd.DataFrame({"email": ["B@example.org"]}), "ses", target=sandbox,
                    ledger=ledger, text="y")  # fmt: skip
    assert folded(sandbox) == Counter(["b@example.org"])
    assert again["error_code"].tolist() == ["ContentChanged"]


@pytest.mark.slow
def test_cli_resume_with_a_sent_row_copied_above_in_other_case_sends_it_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    base = pd.DataFrame({"email": emails(6)})
    source, out, ledger = tmp_path / "people.csv", tmp_path / "o.csv", tmp_path / "run.sqlite"
    base.to_csv(source, index=False)
    code, lines = cli(sandbox, *send_args(sandbox, source, out, ledger))
    assert code == 0, lines
    first = pd.read_csv(out)
    copied = pd.concat([pd.DataFrame({"email": ["USER4@EXAMPLE.ORG"]}), base], ignore_index=True)
    copied.to_csv(source, index=False)  # re-exported: the key is the row number again
    code, lines = cli(sandbox, *send_args(sandbox, source, out, ledger, "--resume"))
    assert code == 0, lines
    assert folded(sandbox) == Counter(emails(6))
    results = pd.read_csv(out)
    assert results["status"].value_counts().to_dict() == {"sent": 6, "skipped": 1}
    copies = results[results["recipient"].str.lower() == "user4@example.org"]
    assert sorted(copies["status"]) == ["sent", "skipped"]
    assert set(copies["message_id"].dropna()) == set(
        first.loc[first["recipient"] == "user4@example.org", "message_id"]
    )


# -- H2: one ledger, two sends in one process --------------------------------------------------


def test_h2_a_second_background_send_on_one_ledger_is_refused(tmp_path: Path) -> None:
    # 200 rows at 40/s: the first send runs for 5 s, so the second surely starts while it runs
    # (with 60 rows it could end within a second, before a loaded CI machine polled it).
    df = pd.DataFrame({"email": emails(200)})
    ledger = tmp_path / "run.sqlite"
    with Sandbox(rate=40) as sandbox:
        first = send_in_background(df, "ses", target=sandbox, ledger=ledger, workers=4, **HI)
        deadline = time.monotonic() + 20
        while first.counts.get("sent", 0) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        second = send_in_background(df, "ses", target=sandbox, ledger=ledger, workers=4, **HI)
        with pytest.raises(ConfigurationError, match="in use by another send") as info:
            second.wait(timeout=60)
        assert "\n" not in str(info.value)
        results = first.wait(timeout=60)
        assert results["status"].eq("sent").all(), results["status"].value_counts()
        assert delivered(sandbox) == Counter(df["email"])


# -- M2: other content on a resume -------------------------------------------------------------


def test_m2_cli_resume_with_other_text_sends_nothing_twice(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    source, out, ledger = tmp_path / "people.csv", tmp_path / "o.csv", tmp_path / "run.sqlite"
    pd.DataFrame({"email": emails(40)}).to_csv(source, index=False)
    code, lines = cli(sandbox, *send_args(sandbox, source, out, ledger))
    assert code == 0, lines
    args = send_args(sandbox, source, out, ledger, "--resume")
    args[args.index("--text") + 1] = "version two"
    code, lines = cli(sandbox, *args)
    assert code == 0, lines
    results = pd.read_csv(out)
    assert results["status"].eq("skipped").all()
    assert set(results["error_code"]) == {"ContentChanged"}
    assert any("40 rows" in line and "resend_changed=True" in line for line in lines), lines
    assert sandbox.mailbox.count() == 40

    # asked explicitly: the new version goes, once
    frame = pd.read_csv(source)
    config = EngineConfig(resend_changed=True)
    again = send_hi(frame, "ses", target=sandbox, ledger=ledger, text="version two", config=config)
    assert again["status"].eq("sent").all()
    assert delivered(sandbox) == Counter({e: 2 for e in frame["email"]})
    send_hi(frame, "ses", target=sandbox, ledger=ledger, text="version two", config=config)
    assert sandbox.mailbox.count() == 80


def test_m2_new_rows_of_an_extended_frame_still_go(sandbox: Sandbox, tmp_path: Path) -> None:
    ledger = tmp_path / "run.sqlite"
    send_hi(pd.DataFrame({"email": emails(10)}), "ses", target=sandbox, ledger=ledger)
    more = pd.DataFrame({"email": emails(10) + emails(5, "extra")})
    results = send_hi(more, "ses", target=sandbox, ledger=ledger, text="other text")
    assert results["status"].tolist() == ["skipped"] * 10 + ["sent"] * 5
    assert max(delivered(sandbox).values()) == 1 and sandbox.mailbox.count() == 15


# -- M4: the ledger's disk fills ---------------------------------------------------------------


def _small_disk_works(where: Path) -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    mount = f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(where))}"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", mount], capture_output=True, timeout=30)
    return probe.returncode == 0


def _cli_on_a_small_disk(sandbox: Sandbox, tmp_path: Path, cli_args: list[str], size: str,
                         fill: bool = False) -> tuple[int, list[str]]:  # fmt: skip
    """Run the CLI with ``tmp_path/small`` a tmpfs of ``size`` (a private mount namespace:
    `unshare`), then copy the ledger out of it to ``tmp_path/kept``."""
    small, kept = tmp_path / "small", tmp_path / "kept"
    small.mkdir()
    kept.mkdir()
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "toolkit", *cli_args])
    script = f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(small))} && "
    if fill:
        script += f"(cat /dev/zero > {shlex.quote(str(small / 'filler'))} 2>/dev/null; true) && "
    script += (f"{command}; rc=$?; cp -a {shlex.quote(str(small))}/. {shlex.quote(str(kept))}/; "
               "exit $rc")  # fmt: skip
    env = {**os.environ, "AWS_ACCESS_KEY_ID": sandbox.access_key_id,
           "AWS_SECRET_ACCESS_KEY": sandbox.secret_access_key,
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}  # fmt: skip
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, [line for line in done.stderr.splitlines() if line.strip()]


def test_m4_cli_ledger_disk_full_mid_run_is_one_line_and_nothing_twice(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    if not _small_disk_works(tmp_path):
        pytest.skip("needs unshare and tmpfs (Linux, user namespaces)")
    n = 300
    frame = pd.DataFrame({"email": emails(n)})
    source, out = tmp_path / "people.csv", tmp_path / "o.csv"
    frame.to_csv(source, index=False)
    code, lines = _cli_on_a_small_disk(
        sandbox, tmp_path, send_args(sandbox, source, out, tmp_path / "small" / "run.sqlite"),
        "256k",
    )  # fmt: skip
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("toolkit: error: ledger ") and "disk full" in lines[0], lines
    assert "please report" not in lines[0] and str(out) in lines[0]
    results = pd.read_csv(out)  # every row's status so far was written
    assert len(results) == n and 0 < sandbox.mailbox.count() < n
    # Resume from what the journal holds (copied off the full disk): nobody gets two.
    again = send_hi(frame, "ses", target=sandbox, ledger=tmp_path / "kept" / "run.sqlite")
    counts = delivered(sandbox)
    assert max(counts.values()) == 1
    assert set(again["status"]) <= {"sent", "unknown"}
    # a row nobody got is 'unknown' (its request may have gone), never 'sent'; rows whose
    # answers the full disk kept out of the journal are 'unknown' too, and not resent
    unknown = set(frame.loc[again["status"].eq("unknown").to_numpy(), "email"])
    assert set(frame["email"]) - set(counts) <= unknown
    assert len(unknown) < n // 2


def test_m4_cli_ledger_that_cannot_be_created_on_a_full_disk(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    if not _small_disk_works(tmp_path):
        pytest.skip("needs unshare and tmpfs (Linux, user namespaces)")
    source, out = tmp_path / "people.csv", tmp_path / "o.csv"
    pd.DataFrame({"email": emails(5)}).to_csv(source, index=False)
    code, lines = _cli_on_a_small_disk(
        sandbox, tmp_path, send_args(sandbox, source, out, tmp_path / "small" / "run.sqlite"),
        "64k", fill=True,
    )  # fmt: skip
    assert code == 2, lines
    assert len(lines) == 1 and "disk full" in lines[0], lines
    assert "not a toolkit ledger" not in lines[0]
    assert sandbox.mailbox.count() == 0
