"""Batched calls take the pacer's latency credit without a throttle (issue 17).

A sandbox 150 ms away (its own process, ``--latency-ms 150 --rate R``) and ``python -m
toolkit send`` with default settings. SendBulkEmail (50 a call) and Pinpoint SendMessages (100
a call) used to pace strictly: each call counted from before it left until a full second after
its answer, so no instant could see more than R recipients in the calls' ``[started_at,
finished_at + 1 s)`` spans. With the credit, calls go sooner than that (more than R are
covered at some instant), and still the sandbox, which counts exactly, accepts at most R in
any second and throttles nothing.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import serve_sandbox
from toolkit.measure.report import busiest_window
from toolkit.results import epoch_seconds

ROOT = Path(__file__).resolve().parents[2]
LATENCY_MS = 150
SECONDS = 3.0


def _accepted_times(state: str) -> np.ndarray:
    done = subprocess.run(
        [sys.executable, "-m", "toolkit", "mailbox", "--state", state, "--format", "json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=True,
    )  # fmt: skip
    frame = pd.read_json(io.StringIO(done.stdout), lines=True, dtype=False)
    return np.asarray(epoch_seconds(frame["accepted_at"]), dtype=float)


def strict_coverage(results: pd.DataFrame) -> int:
    """The most recipients whose call's ``[started_at, finished_at + 1 s)`` covers one instant:
    at most R when every call is counted until a full second after its answer."""
    calls = (
        pd.DataFrame(
            {
                "batch": results["batch_id"],
                "start": epoch_seconds(results["started_at"]),
                "end": epoch_seconds(results["finished_at"]) + 1.0,
            }
        )
        .groupby("batch")
        .agg(start=("start", "min"), end=("end", "max"), n=("start", "size"))
    )
    events = sorted(
        [(s, n) for s, n in zip(calls["start"], calls["n"], strict=True)]
        + [(e, -n) for e, n in zip(calls["end"], calls["n"], strict=True)],
        key=lambda event: (event[0], event[1]),  # at a tie, an end before a start
    )
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


@pytest.mark.slow
@pytest.mark.parametrize(("via", "rate"), [("ses-bulk", 500.0), ("pinpoint", 1_000.0)])
def test_batched_calls_take_the_credit_and_are_never_throttled(
    via: str, rate: float, tmp_path: Path
) -> None:
    n = int(rate * SECONDS)
    source = tmp_path / "people.csv"
    pd.DataFrame({"email": [f"success+{i}@simulator.amazonses.com" for i in range(n)]}).to_csv(
        source, index=False
    )
    out = tmp_path / "results.csv"
    flags = ("--latency-ms", str(LATENCY_MS), "--rate", str(rate))
    with serve_sandbox(tmp_path / "state", *flags) as box:
        where = ["--endpoint-url", box["endpoint_url"], "--region", box["region"]]
        if via == "pinpoint":
            where += ["--pinpoint-app-id", box["pinpoint_app_id"]]
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": box["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": box["secret_access_key"],
        }
        done = subprocess.run(
            [sys.executable, "-m", "toolkit", "send", str(source), "--via", via,
             "--from", "sender@example.com", "--subject", "Hello", "--text", "Hi there",
             "--no-progress", "--out", str(out), *where],
            capture_output=True, text=True, timeout=300, env=env, cwd=ROOT, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        accepted = _accepted_times(box["state"])
    results = pd.read_csv(out)

    assert len(results) == n and results["row_key"].is_unique
    assert (results["status"] == "sent").all(), results["status"].value_counts().to_dict()
    assert (results["attempts"] == 1).all(), "a throttled (retried) row: the credit was unsafe"
    assert len(accepted) == n
    assert busiest_window(accepted) <= rate
    assert strict_coverage(results) > rate, "no call went before a full second after an answer"
