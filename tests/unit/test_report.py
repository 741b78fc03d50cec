"""Summary math on synthetic results with fixed timestamps, and figures rendered with Agg."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

from toolkit.cli.report import report_cli
from toolkit.measure import (
    ReportFigure,
    busiest_window,
    failure_table,
    plot_failures,
    plot_latency,
    plot_retries,
    plot_status,
    plot_throughput,
    save_figures,
    status_table,
    steady_rate,
    summarize,
    timeline,
)
from toolkit.results import OUTCOME_COLUMNS, Outcome, Status, results_frame

matplotlib.use("Agg")

T0 = 1_800_000_000.0


def _row(i: int, status: str = "sent", **kw: object) -> dict[str, object]:
    start = kw.pop("start", T0 + i * 0.1)
    latency = kw.pop("latency", 0.010)
    row: dict[str, object] = {
        "row_key": str(i),
        "status": status,
        "transport": "ses",
        "recipient": f"r{i}@example.org",
        "message_id": f"m{i}" if status == "sent" else None,
        "error_code": None,
        "error_message": None,
        "attempts": 1,
        "started_at": start,
        "finished_at": None if start is None else start + latency,
        "batch_id": None,
    }
    row.update(kw)
    return row


@pytest.fixture
def frame() -> pd.DataFrame:
    """20 rows over 2 s: 16 sent (4 of them retried), 2 throttled-failed, 1 rejected, 1 invalid."""
    rows = [_row(i) for i in range(16)]
    for i in range(12, 16):
        rows[i]["attempts"] = 2
        rows[i]["latency"] = 0.03
        rows[i]["finished_at"] = rows[i]["started_at"] + 0.030
    rows.append(
        _row(16, "failed", error_code="TooManyRequestsException", error_message="slow", attempts=3)
    )
    rows.append(
        _row(
            17,
            "failed",
            error_code="Throttling",
            error_message="Maximum sending rate exceeded.",
            attempts=3,
        )
    )
    rows.append(
        _row(
            18,
            "rejected",
            error_code="MessageRejected",
            error_message="Email address is not verified.",
        )
    )
    rows.append(
        _row(
            19, "invalid", start=None, error_code="InvalidAddress", error_message="no @", attempts=0
        )
    )
    return pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))


def test_counts_shares_and_rate(frame: pd.DataFrame) -> None:
    s = summarize(frame, configured_rate=10)
    assert s.total == 20
    assert s.counts["sent"] == 16 and s.counts["failed"] == 2
    assert s.counts["rejected"] == 1 and s.counts["invalid"] == 1 and s.counts["unknown"] == 0
    assert s.shares["sent"] == pytest.approx(0.8)
    # first start T0, last finish: row 18 at T0 + 1.8 + 0.01
    assert s.duration_s == pytest.approx(1.81)
    assert s.messages_per_s == pytest.approx(16 / 1.81)
    # sent rows start every 0.1 s from T0 to T0 + 1.5: one whole second holds 10 of them
    assert s.effective_rate == pytest.approx(10.0)
    assert s.rate_ratio == pytest.approx(1.0)
    assert s.attempts_total == 12 + 4 * 2 + 3 + 3 + 1 + 0
    assert s.retried_rows == 6
    assert s.throttled_rows == 2
    # sent rows start every 0.1 s: [T0, T0+1) holds rows 0..9
    assert s.busiest_second == 10


def test_latency_percentiles_per_transport_and_attempts(frame: pd.DataFrame) -> None:
    s = summarize(frame)
    ses = s.latency.loc["ses"]
    assert ses["count"] == 19  # the invalid row has no timestamps
    assert ses["p50"] == pytest.approx(10.0)
    assert ses["max"] == pytest.approx(30.0)
    by_attempts = s.latency_by_attempts
    assert by_attempts.loc[2, "p50"] == pytest.approx(30.0)
    assert by_attempts.loc[1, "count"] == 13


def test_failure_table_groups_by_code(frame: pd.DataFrame) -> None:
    table = failure_table(frame)
    assert list(table.columns) == ["status", "error_code", "count", "share", "example"]
    assert set(table["error_code"]) == {
        "TooManyRequestsException",
        "Throttling",
        "MessageRejected",
        "InvalidAddress",
    }
    assert table["count"].sum() == 4
    assert table.loc[table["error_code"] == "Throttling", "example"].item().startswith("Maximum")


def test_status_table_is_labelled_and_ordered(frame: pd.DataFrame) -> None:
    table = status_table(frame)
    assert table.index.name == "status" and list(table.columns) == ["rows", "share %"]
    assert list(table.index) == ["sent", "rejected", "failed", "invalid"]  # vocabulary order
    assert table.loc["sent", "rows"] == 16 and table.loc["sent", "share %"] == 80.0
    two = pd.concat([frame, frame.assign(transport="smtp")])
    by = status_table(two, by="transport")
    assert by.columns.name == "transport" and by.loc["failed", "smtp"] == 2


def test_failure_table_by_message() -> None:
    rows = [
        _row(0, "rejected", error_code="MessageRejected", error_message="not verified"),
        _row(1, "rejected", error_code="MessageRejected", error_message="not verified"),
        _row(2, "rejected", error_code="MessageRejected", error_message="too large"),
    ]
    frame = pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))
    assert failure_table(frame)["count"].tolist() == [3]
    by_message = failure_table(frame, by="message")
    assert by_message["count"].tolist() == [2, 1]
    assert by_message["example"].tolist() == ["not verified", "too large"]
    with pytest.raises(ValueError):
        failure_table(frame, by="row")


def test_timeline_counts_per_second(frame: pd.DataFrame) -> None:
    series = timeline(frame)
    assert list(series.index) == [0, 1]
    assert series.loc[0, "sent"] == 10
    assert series.loc[1, "sent"] == 6
    assert series.loc[1, "throttled"] == 2
    assert series["retried"].sum() == 6
    assert series["sent"].sum() + series["failed"].sum() + series["rejected"].sum() == 19


def test_steady_rate_ignores_a_sliding_window_first_burst() -> None:
    # 3 x 100 rows started at once each second: rows / duration would say ~150/s
    starts = [second + i * 1e-4 for second in (0.0, 1.0, 2.0) for i in range(100)]
    assert steady_rate(starts) == pytest.approx(100.0)
    assert steady_rate([0.0, 0.5], fallback=7.0) == 7.0


def test_busiest_window_is_exact() -> None:
    assert busiest_window([]) == 0
    assert busiest_window([0.0, 0.5, 0.999, 1.0, 1.5]) == 3
    # a sliding window finds the burst that straddles a second boundary
    assert busiest_window([0.9, 0.95, 1.0, 1.05, 2.5]) == 4


def test_works_from_outcomes_and_empty_frames() -> None:
    outcomes = [
        Outcome(
            row_key="a",
            status=Status.SENT,
            transport="smtp",
            message_id="x",
            attempts=1,
            started_at=T0,
            finished_at=T0 + 0.002,
        ),
        Outcome(row_key="b", status=Status.SKIPPED, transport="smtp"),
    ]
    s = summarize(results_frame(outcomes))
    assert s.counts["sent"] == 1 and s.counts["skipped"] == 1
    assert s.failures.empty
    empty = summarize(pd.DataFrame(columns=list(OUTCOME_COLUMNS)))
    assert empty.total == 0 and empty.messages_per_s == 0 and empty.busiest_second == 0
    assert "rows: 0" in empty.to_text()


def test_text_html_and_json(frame: pd.DataFrame) -> None:
    s = summarize(frame, configured_rate=10)
    text = str(s)
    assert "sent" in text and "Throttling" in text and "configured rate: 10/s" in text
    html = s._repr_html_()
    assert "<table" in html and "16" in html
    data = json.loads(json.dumps(s.to_dict()))
    assert data["counts"]["sent"] == 16
    assert data["latency_ms"][0]["transport"] == "ses"


def test_missing_columns_raise_key_error() -> None:
    with pytest.raises(KeyError, match="started_at"):
        summarize(pd.DataFrame({"status": ["sent"]}))


def _is_png(path) -> bool:  # type: ignore[no-untyped-def]
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # draws and writes every figure
def test_figures_render_to_png(frame: pd.DataFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name, fig in (
        ("t", plot_throughput(frame, configured_rate=10)),
        ("l", plot_latency(frame)),
        ("f", plot_failures(frame)),
        ("e", plot_failures(frame[frame.status == "sent"])),
        ("n", plot_latency(frame.iloc[0:0])),
    ):
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        assert _is_png(path)
    paths = save_figures(frame, tmp_path / "figs", configured_rate=10)
    assert [p.name for p in paths] == [
        "throughput.png",
        "status.png",
        "retries.png",
        "latency.png",
        "failures.png",
    ]
    assert all(_is_png(p) for p in paths)


@pytest.mark.parametrize(
    "plot", [plot_throughput, plot_latency, plot_failures, plot_status, plot_retries]
)
def test_figures_show_themselves_in_a_notebook(frame: pd.DataFrame, plot) -> None:  # type: ignore[no-untyped-def]
    # A Figure built without pyplot has no canvas manager: IPython would print only
    # "<Figure size … with 1 Axes>". The toolkit's figures render their own PNG instead.
    from IPython.core.formatters import PNGFormatter

    fig = plot(frame)
    assert isinstance(fig, ReportFigure)
    png = PNGFormatter()(fig)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_row_counts_get_whole_number_ticks(frame: pd.DataFrame) -> None:
    for fig, axis in (
        (plot_failures(frame), "x"),
        (plot_status(frame), "x"),
        (plot_retries(frame), "y"),
        (plot_throughput(frame), "y"),
    ):
        fig.canvas.draw()
        ax = fig.axes[0]
        ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
        assert all(float(t).is_integer() for t in ticks), ticks


def test_status_figure_has_one_bar_per_transport_and_an_outside_legend(frame: pd.DataFrame) -> None:
    two = pd.concat([frame, frame.assign(transport="smtp")])
    fig = plot_status(two)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == ["ses", "smtp"]
    legend = ax.get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1


def test_retries_figure_splits_rows_by_attempts(frame: pd.DataFrame) -> None:
    ax = plot_retries(frame).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["1 attempt", "2 attempts", "3 or more"]
    assert "6 of 19 rows" in ax.get_title()  # 4 sent after 2 attempts, 2 failed after 3


def test_failures_figure_says_which_codes_the_toolkit_assigned(frame: pd.DataFrame) -> None:
    ax = plot_failures(frame).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("(before sending)" in label and label.startswith("invalid") for label in labels)
    assert "provider code" not in ax.get_title()


def test_throughput_figure_draws_configured_rate(frame: pd.DataFrame) -> None:
    fig = plot_throughput(frame, configured_rate=10)
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if line.get_label().startswith("configured")]
    assert lines and np.allclose(lines[0].get_ydata(), 10)


def test_throughput_figure_draws_the_rate_the_results_know(frame: pd.DataFrame) -> None:
    known = frame.copy()
    known.attrs["summary"] = {"max_send_rate": 14.0, "rate": 9.8}
    labels = {line.get_label(): line for line in plot_throughput(known).axes[0].get_lines()}
    assert np.allclose(labels["quota (MaxSendRate) 14/s"].get_ydata(), 14)
    assert np.allclose(labels["pace asked for 9.8/s"].get_ydata(), 9.8)
    bare = {line.get_label() for line in plot_throughput(frame).axes[0].get_lines()}
    assert not any("MaxSendRate" in label for label in bare)


def test_throughput_figure_shades_the_partial_last_second(frame: pd.DataFrame) -> None:
    ax = plot_throughput(frame).axes[0]
    assert "last second (partial)" in ax.get_legend_handles_labels()[1]


def test_report_cli_prints_and_writes_pngs(frame: pd.DataFrame, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "results.csv"
    frame.to_csv(csv, index_label="input_index")  # an older file: epoch floats, no summary
    assert report_cli([str(csv), "--rate", "10", "--png", str(tmp_path / "png")]) == 0
    out = capsys.readouterr().out
    assert "rows: 20" in out and "throughput.png" in out
    assert _is_png(tmp_path / "png" / "latency.png")
    assert report_cli([str(csv), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["failed"] == 2
    assert report_cli([str(tmp_path / "missing.csv")]) == 2


def test_report_cli_uses_the_rate_saved_with_the_results(
    frame: pd.DataFrame, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from toolkit.results import results_frame
    from toolkit.results_io import write_results

    outcomes = [
        Outcome(str(i), Status.SENT, "ses", started_at=T0 + i / 10, finished_at=T0 + i / 10 + 0.01)
        for i in range(30)
    ]
    saved = results_frame(outcomes)
    saved.attrs["summary"] = {"max_send_rate": 10.0, "rate": 10.0, "transport": "ses"}
    path = write_results(saved, tmp_path / "results.csv")
    assert (tmp_path / "results.summary.json").exists()
    assert report_cli([str(path), "--png", str(tmp_path / "png")]) == 0
    assert "configured rate: 10/s" in capsys.readouterr().out


def test_report_help_names_the_command_as_typed(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        report_cli(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m toolkit report")


def test_the_rate_is_of_this_runs_sending_never_of_skipped_rows(frame: pd.DataFrame) -> None:
    """A skipped row with times (an earlier run's, say) is no second of this sending: the old
    summary started the clock at its start and showed a rate far below the real one."""
    skipped = _row(20, "skipped", start=T0 - 100.0, error_code="DryRun")
    with_skipped = pd.concat([frame, pd.DataFrame([skipped], columns=frame.columns)])
    s = summarize(with_skipped, configured_rate=10)
    assert s.duration_s == pytest.approx(1.81)
    assert s.messages_per_s == pytest.approx(16 / 1.81)


def test_the_text_report_gives_one_sent_rate_or_explains_two() -> None:
    """A run paced at 14/s: 120 rows in 8 s are 15/s as rows ÷ duration (the first second's
    14 go at once) but 14/s steady; the report leads with the steady rate and says why the
    other is higher (it printed "sent/s 16.3" beside "effective 14.0/s")."""
    from toolkit.measure.report import summarize
    from toolkit.results import Outcome, Status, results_frame

    starts = [float(i // 14) for i in range(120)]  # each second's 14 go at once
    outcomes = [Outcome(str(i), Status.SENT, "ses", "a@example.com", message_id=str(i),
                        attempts=1, started_at=1e9 + t, finished_at=1e9 + t + 0.001)
                for i, t in enumerate(starts)]  # fmt: skip
    text = summarize(results_frame(outcomes), configured_rate=14).to_text()
    assert "sent/s: 14.0 steady (" in text and "first second goes at once" in text
