"""The benchmark harness: a tiny subset of ``--quick`` end to end (checks the JSON shape, not
timings), plus the pure helpers that turn measurements into goals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is a top-level package beside toolkit/, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import Measure, ScenarioResult  # noqa: E402
from benchmarks.report import render_markdown  # noqa: E402
from benchmarks.scenarios import (  # noqa: E402
    QUICK,
    Context,
    achieved_rate,
    evaluate_goals,
    loss_report,
)

SCENARIO_KEYS = {
    "name",
    "group",
    "kind",
    "status",
    "reason",
    "params",
    "messages",
    "sent",
    "seconds",
    "msgs_per_s",
    "p50_ms",
    "p95_ms",
    "cpu_s_per_1k",
    "peak_rss_mb",
    "rss_growth_mb",
    "extra",
}


@pytest.mark.slow
def test_quick_mode_writes_valid_json(tmp_path: Path) -> None:
    """``python -m benchmarks --quick`` as CI runs it: every scenario, JSON shape only."""
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--no-install", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads((out / "latest.json").read_text())
    assert document["schema"] == 1 and document["mode"] == "quick"
    machine = document["machine"]
    assert machine["cpu_count"] >= 1 and machine["python"] and machine["platform"]
    assert {"boto3", "pandas", "aiosmtpd"} <= set(machine["versions"])
    scenarios = document["scenarios"]
    assert scenarios, "selected scenarios must be reported (run or skipped), never dropped"
    for scenario in scenarios:
        assert set(scenario) >= SCENARIO_KEYS
        assert scenario["status"] in {"ok", "skipped", "error"}
        if scenario["status"] == "ok":
            assert scenario["msgs_per_s"] > 0 and scenario["cpu_s_per_1k"] is not None
        else:
            assert scenario["reason"]
    groups = {s["name"].split(".")[0] for s in scenarios}
    assert groups >= {"ses", "ses-bulk", "pinpoint", "smtp", "smtp-sink", "pacing", "adaptive",
                      "scale", "faults", "dask", "latency"}  # fmt: skip
    assert isinstance(document["goals"], list)
    markdown = (out / "latest.md").read_text()
    assert "| scenario |" in markdown and "Machine:" in markdown


def test_achieved_rate_counts_whole_seconds() -> None:
    # a sliding-window pacer at 10/s: 10 at once each second, for 3 seconds (30 rows)
    starts = [s + i * 0.001 for s in (0.0, 1.0, 2.0) for i in range(10)]
    assert achieved_rate(starts) == pytest.approx(10.0)
    assert achieved_rate([0.0, 0.5]) is None
    assert achieved_rate([]) is None


def test_loss_report() -> None:
    frame = pd.DataFrame({"email": [f"r{i}@example.org" for i in range(5)]})
    results = pd.DataFrame(
        {
            "status": ["sent", "sent", "unknown", "failed", "failed"],
            "message_id": ["a", "b", None, None, None],
            "error_code": [None, None, "ConnectionDropped", "InternalFailure", None],
            "error_message": [None, None, "no answer", "500", None],
            "attempts": [1, 2, 1, 3, 3],
        }
    )
    report = loss_report(frame, results, stored={"a", "z"})
    assert report["sent_not_stored"] == 1  # "b" claimed sent, not in the mailbox
    assert report["unsent_unexplained"] == 1  # last row: failed without any reason
    assert report["loss"] == 2
    assert report["stored_not_claimed"] == 1  # "z"


def _record(name: str, group: str, kind: str, rate: float, **extra: object) -> ScenarioResult:
    return ScenarioResult(
        name=name,
        group=group,
        kind=kind,
        messages=100,
        sent=100,
        seconds=100 / rate,
        msgs_per_s=rate,
        extra=dict(extra),
        params={"reuse_connection": True} if kind == "reference" else {},
    )


def test_goals_and_markdown_from_records() -> None:
    records = [
        _record("smtp-sink.reference.smtp-source.s16", "smtp-sink", "reference", 10_000),
        _record("smtp-sink.baseline.smtplib-each", "smtp-sink", "baseline", 500),
        _record("smtp-sink.toolkit.w16", "smtp-sink", "toolkit", 4_000),
        _record("ses.baseline.boto3-each", "ses", "baseline", 400),
        _record("ses.toolkit.w8", "ses", "toolkit", 1_200),
        _record(
            "pacing.r14",
            "pacing",
            "toolkit",
            14,
            configured_rate=14,
            throttled_requests=0,
            achieved_ratio=0.99,
            busiest_1s_server=15,
        ),
        ScenarioResult(
            name="scale.*",
            group="scale",
            kind="toolkit",
            status="skipped",
            reason="toolkit not ready",
        ),
    ]
    goals = {g["goal"]: g for g in evaluate_goals(records)}
    sink = next(g for k, g in goals.items() if k.startswith("smtp-sink: toolkit best (compose"))
    assert sink["value"] == pytest.approx(0.4) and sink["passed"] is True
    assert (
        goals["smtp-sink: toolkit best / smtplib connection per message (sample shape)"]["passed"]
        is True
    )
    assert goals["ses: toolkit best msg/s"]["passed"] is True
    assert goals["pacing.r14: busiest 1 s window at the server"]["passed"] is False
    assert not any(k.startswith("pinpoint") for k in goals)  # group not in this run
    document = {
        "mode": "quick",
        "started_at": "2026-11-26T10:00:00Z",
        "duration_s": 1.0,
        "command": "python -m benchmarks --quick",
        "machine": {
            "cpu_count": 2,
            "cpu_model": "x",
            "memory_gb": 1,
            "platform": "p",
            "python": "3.11",
            "versions": {"pandas": "3"},
        },
        "calibration_s": {"before": 0.1, "after": 0.1},
        "scenarios": [r.to_dict() for r in records],
        "goals": list(goals.values()),
        "figures": [],
    }
    markdown = render_markdown(document)
    assert "smtp-sink.toolkit.w16" in markdown and "**skipped**: toolkit not ready" in markdown


def test_measure_records_cpu_and_memory() -> None:
    with Measure() as m:
        block = bytearray(30 * 2**20)
        sum(range(200_000))
    record = m.record(
        "x", group="g", kind="toolkit", messages=1000, sent=1000, latencies_s=[0.001, 0.002, 0.003]
    )
    del block
    assert record.seconds and record.seconds > 0
    assert record.cpu_s_per_1k is not None and record.cpu_s_per_1k > 0
    assert record.p50_ms == pytest.approx(2.0)
    assert record.peak_rss_mb and record.peak_rss_mb > 0


def test_only_selects_by_group_and_prefix() -> None:
    ctx = Context(sizes=QUICK, only=("ses", "smtp-sink.reference"))
    assert ctx.selected("ses.toolkit.w8") and ctx.group_selected("ses")
    assert ctx.selected("smtp-sink.reference.smtp-source.s1")
    assert not ctx.selected("ses-bulk.toolkit.w4")
    one = Context(sizes=QUICK, only=("smtp-sink.reference.smtp-source.s1",))
    assert one.selected("smtp-sink.reference.smtp-source.s1-newconn")
    assert not one.selected("smtp-sink.reference.smtp-source.s16")
    assert not ctx.selected("smtp-sink.toolkit.w1")
    assert ctx.group_selected("smtp-sink") and not ctx.group_selected("pacing")


def test_dask_goals_compare_two_worker_processes_with_one() -> None:
    scale = _record("dask.scale.dry-run", "dask", "toolkit", 90_000)
    scale.rss_growth_mb = 620.0
    records = [
        _record("dask.smtp-sink.reference.smtp-source.s16", "dask", "reference", 20_000),
        _record("dask.smtp-sink.toolkit.single", "dask", "toolkit", 3_000),
        _record("dask.smtp-sink.toolkit.p2", "dask", "toolkit", 5_400),
        _record("dask.ses.toolkit.single", "dask", "toolkit", 2_000),
        _record("dask.ses.toolkit.p2", "dask", "toolkit", 3_000),
        _record(
            "dask.pacing.r100",
            "dask",
            "toolkit",
            100,
            configured_rate=100,
            throttled_requests=0,
            achieved_ratio=0.93,
            busiest_1s_server=100,
        ),
        scale,
    ]
    goals = {g["goal"]: g for g in evaluate_goals(records)}
    smtp = goals["dask: SMTP into smtp-sink, 2 worker processes / single-process toolkit"]
    assert smtp["value"] == pytest.approx(1.8) and smtp["passed"] is True
    source = goals["dask: SMTP into smtp-sink, 2 worker processes / smtp-source 16 sessions"]
    assert source["value"] == pytest.approx(0.27) and source["passed"] is False
    ses = goals["dask: SES API, 2 worker processes / single-process toolkit"]
    assert ses["value"] == pytest.approx(1.5) and ses["passed"] is False
    assert goals["dask.pacing.r100: achieved / configured rate"]["passed"] is True  # >= 0.9
    assert goals["dask.pacing.r100: busiest 1 s window at the server"]["passed"] is True
    memory = next(g for k, g in goals.items() if k.startswith("dask: Parquet dry run"))
    assert memory["value"] == 620.0 and memory["passed"] is False


def test_inflight_compares_threads_and_asyncio_on_one_delayed_server() -> None:
    """The mechanism benchmark runs both modes against its delayed stub and reports figures."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.inflight", "-n", "20", "--delay", "0.05",
         "--seconds", "0.5", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    figures = json.loads(out.stdout)
    assert set(figures["modes"]) == {"threads", "asyncio"}
    for mode in figures["modes"].values():
        # 20 in flight at 50 ms make about 400/s: at least a quarter of that on a busy machine.
        assert mode["requests"] >= 0.25 * 20 / 0.05 * 0.5
        assert mode["cpu_us_per_request"] > 0
