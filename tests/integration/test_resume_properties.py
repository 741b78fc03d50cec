"""Issue 16's resume property: however a run is interrupted and however the frame changes
before the resume, the sandbox's mailbox never holds a row twice unless the user asked.

A *row* is a recipient here (every row the test makes has its own address; new rows get new
ones). Between runs the user re-exports the frame: reorders it, filters it, extends it (new
rows, or rows filtered out before coming back), puts a new row at the top, changes the
text (of a person: every copy of an address alike), or copies a row in other letter case
(``USER1@EXAMPLE.ORG``: one inbox with ``user1@example.org``, skipped as a duplicate);
the key is the row number again (``reset_index``) or, sometimes, the index is kept.
Runs are interrupted by a cancel after k rows (``send_in_background``, over SMTP: no boto3
client to build per run, so many runs fit in seconds), and in the second test by SIGKILL of a
child process mid-send (SES). Then:

* without ``resend_changed`` nobody is mailed twice; with it, nobody gets the same version
  twice (addresses compared case-folded, as one inbox receives them);
* the last, uninterrupted run ends every row ``sent``, ``unknown`` or ``skipped``
  (``ContentChanged``, ``DuplicateRecipient``), and a row ``sent`` reached its recipient.

Bounded for the default suite (small frames, a few examples, well under 30 s);
``TOOLKIT_HYPOTHESIS_EXAMPLES`` multiplies the examples for a longer hunt.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.helpers import HI
from toolkit.api import send, send_in_background
from toolkit.delivery.config import EngineConfig
from toolkit.sandbox import Sandbox

_SCALE = int(os.environ.get("TOOLKIT_HYPOTHESIS_EXAMPLES", "0")) or 1
CHILD = Path(__file__).with_name("crash_child.py")


@dataclass(frozen=True)
class Row:
    email: str
    version: int  # the text the row is sent with ("v<version>")


KINDS = ("same", "reorder", "filter", "extend", "top", "change", "case")


@st.composite
def edits(draw: st.DrawFn, rows: list[Row], fresh: Iterator[int], gone: list[Row],
          kinds: tuple[str, ...] = KINDS) -> list[Row]:  # fmt: skip
    """One re-export of the frame (``gone``: rows filtered out earlier, which may come back)."""
    kind = draw(st.sampled_from(kinds))
    out = list(rows)
    if kind == "reorder":
        out = draw(st.permutations(out))
    elif kind == "filter" and len(out) > 1:
        keep = draw(st.lists(st.booleans(), min_size=len(out), max_size=len(out)))
        kept = [r for r, k in zip(out, keep, strict=True) if k] or out[:1]
        gone.extend(r for r in out if r not in kept)
        out = kept
    elif kind == "extend":
        back = draw(st.lists(st.sampled_from(gone), max_size=2, unique=True)) if gone else []
        new = [Row(f"new{next(fresh)}@example.org", out[0].version if out else 1)
               for _ in range(draw(st.integers(0, 3)))]  # fmt: skip
        for r in back:
            gone.remove(r)
        out = out + back + new
    elif kind == "top":
        out = [Row(f"new{next(fresh)}@example.org", out[0].version if out else 1), *out]
    elif kind == "change":
        people = sorted({r.email.lower() for r in out})
        bump = draw(st.lists(st.booleans(), min_size=len(people), max_size=len(people)))
        if not any(bump):
            bump = [True] * len(people)
        bumped = {e for e, b in zip(people, bump, strict=True) if b}
        out = [Row(r.email, r.version + 1) if r.email.lower() in bumped else r for r in out]
    elif kind == "case":
        single = [r for r in out if [c.email.lower() for c in out].count(r.email.lower()) == 1]
        if single:
            row = draw(st.sampled_from(single))
            out.insert(draw(st.integers(0, len(out))), Row(row.email.upper(), row.version))
    return out


def frame_of(rows: list[Row], keyed: bool) -> pd.DataFrame:
    """The frame as exported: the key is the row number, or (``keyed``) an id per person."""
    df = pd.DataFrame({"email": [r.email for r in rows],
                       "text": [f"v{r.version}" for r in rows]})  # fmt: skip
    if keyed:
        df.index = pd.Index([r.email.split("@")[0] for r in rows])
    return df


def run_once(sandbox: Sandbox, df: pd.DataFrame, ledger: Path, cancel_after: int | None,
             resend: bool) -> pd.DataFrame:  # fmt: skip
    options: dict[str, Any] = {**HI, "subject": "Hi {{text}}", "text": "{{text}}",
                               "target": sandbox, "ledger": ledger}  # fmt: skip
    if resend:
        options["config"] = EngineConfig(workers=2, resend_changed=True)
    else:
        options["workers"] = 2
    if cancel_after is None:
        return send(df, "smtp", progress=False, **options)
    handle = send_in_background(df, "smtp", **options)
    deadline = time.monotonic() + 20
    while not handle.done and handle.counts.get("sent", 0) < cancel_after:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    handle.cancel()
    return handle.wait(timeout=30)


def mailbox(sandbox: Sandbox) -> Counter[tuple[str, str]]:
    """(recipient, text version) -> messages the sandbox accepted."""
    frame = sandbox.mailbox.messages()
    got: Counter[tuple[str, str]] = Counter()
    for recipients, subject in zip(frame["recipients"], frame["subject"], strict=True):
        for recipient in recipients:
            got[(recipient.lower(), subject)] += 1  # one inbox, whatever the letter case
    return got


def check(sandbox: Sandbox, asked_resend: bool, last: pd.DataFrame, df: pd.DataFrame) -> None:
    got = mailbox(sandbox)
    assert max(got.values(), default=1) == 1, got  # the same version never twice
    per_recipient = Counter(r for r, _ in got.elements())
    if not asked_resend:
        assert max(per_recipient.values(), default=1) == 1, per_recipient
    statuses = set(last["status"])
    assert statuses <= {"sent", "unknown", "skipped"}, last["status"].value_counts()
    skipped = last.loc[last["status"] == "skipped", "error_code"]
    assert set(skipped) <= {"ContentChanged", "DuplicateRecipient"}, set(skipped)
    sent = df.loc[last["status"].eq("sent").to_numpy(), "email"]
    assert set(sent.str.lower()) <= set(per_recipient)


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[Sandbox]:
    with Sandbox(latency_ms=5) as sandbox:
        yield sandbox


_STEP = st.tuples(st.booleans(), st.one_of(st.none(), st.integers(0, 6)), st.booleans())


@settings(max_examples=12 * _SCALE, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(n=st.integers(2, 8), steps=st.lists(_STEP, min_size=1, max_size=3), data=st.data())
def test_cancel_then_resume_with_an_edited_frame_never_mails_a_row_twice(
    shared_sandbox: Sandbox, n: int, steps: list[tuple[bool, int | None, bool]], data: Any
) -> None:
    # Everything is drawn before anything is sent: how a run is interrupted depends on
    # timing, and the draws must not (hypothesis replays them).
    fresh = iter(range(1000))
    gone: list[Row] = []
    rows = [Row(f"user{i}@example.org", 1) for i in range(n)]
    first = frame_of(rows, data.draw(st.booleans()))
    runs: list[tuple[pd.DataFrame, int | None, bool]] = []
    for keyed, cancel_after, resend in steps:
        rows = data.draw(edits(rows, fresh, gone))
        asked_now = resend and data.draw(st.integers(0, 3)) == 0  # asked now and then
        runs.append((frame_of(rows, keyed), cancel_after, asked_now))
    sandbox = shared_sandbox
    sandbox.mailbox.clear()
    asked = False
    with tempfile.TemporaryDirectory() as folder:
        ledger = Path(folder) / "run.sqlite"
        run_once(sandbox, first, ledger, steps[0][1], resend=False)
        for df, cancel_after, resend in runs:
            asked = asked or resend
            run_once(sandbox, df, ledger, cancel_after, resend)
            check(sandbox, asked, run_once(sandbox, df, ledger, None, False), df)


def _ledger_sent(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM rows WHERE status='sent'").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@settings(max_examples=2 * _SCALE, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a child per try: no shrinking
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])  # fmt: skip
@given(steps=st.integers(1, 2), data=st.data())
def test_sigkill_then_resume_with_an_edited_frame_never_mails_a_row_twice(
    steps: int, data: Any
) -> None:
    n = 120
    kill_at = data.draw(st.integers(1, n // 2))
    # crash_child sends subject "Hi", text "x" to user<i>: the same rows, as version 1
    rows = [Row(f"user{i}@example.org", 1) for i in range(n)]
    fresh: Iterator[int] = iter(range(1000))
    gone: list[Row] = []
    resumes: list[tuple[pd.DataFrame, str]] = []
    for _ in range(steps):  # drawn before the child starts (see the test above)
        rows = data.draw(edits(rows, fresh, gone, KINDS[1:]))  # a plain resume: test_crash_resume
        version = max((r.version for r in rows), default=1)  # one text for the frame
        resumes.append((pd.DataFrame({"email": [r.email for r in rows]}),
                        "x" if version == 1 else f"x v{version}"))  # fmt: skip
    with tempfile.TemporaryDirectory() as folder, Sandbox(rate=400, latency_ms=5) as sandbox:
        ledger, info = Path(folder) / "run.sqlite", Path(folder) / "sandbox.json"
        info.write_text(json.dumps(sandbox.info()), encoding="utf-8")
        child = subprocess.Popen([sys.executable, str(CHILD), str(info), str(ledger), str(n)])
        try:
            deadline = time.monotonic() + 60
            while _ledger_sent(ledger) < kill_at and child.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.005)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
        for df, text in resumes:
            last = send(df, "ses", progress=False, **{**HI, "text": text},
                        target=sandbox, ledger=ledger)  # fmt: skip
        got = Counter(r.lower() for recipients in sandbox.mailbox.messages()["recipients"]
                      for r in recipients)  # fmt: skip
        assert max(got.values()) == 1, got
        assert set(last["status"]) <= {"sent", "unknown", "skipped"}
