"""What the results frame holds for a person: input columns kept on request, times as UTC
datetimes (also after resuming from a ledger and after a round trip through CSV or Parquet),
and the rate the send was paced at, for the figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import send_hi
from toolkit.errors import ConfigurationError, MissingColumnError
from toolkit.results import OUTCOME_COLUMNS, epoch_seconds
from toolkit.results_io import read_results, write_results
from toolkit.sandbox import Sandbox


def people(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": [f"success+{i}@simulator.amazonses.com" for i in range(n)],
            "order_id": [f"00{i}" for i in range(n)],  # leading zeros must survive a CSV
            "city": ["Łódź"] * n,
        }
    )


def test_keep_carries_input_columns_and_times_are_utc(sandbox: Sandbox) -> None:
    df = people(5)
    results = send_hi(df, target=sandbox, keep=["order_id", "city"])
    assert list(results.columns) == [*OUTCOME_COLUMNS, "order_id", "city"]
    assert results["order_id"].tolist() == df["order_id"].tolist()
    for column in ("started_at", "finished_at"):
        assert isinstance(results[column].dtype, pd.DatetimeTZDtype)
        assert str(results[column].dt.tz) == "UTC"
    assert (results["finished_at"] >= results["started_at"]).all()
    summary = results.attrs["summary"]
    assert summary["max_send_rate"] == sandbox.policy.max_send_rate
    assert summary["rate"] == pytest.approx(sandbox.policy.max_send_rate)


def test_keep_in_a_dry_run_and_bad_keep_columns() -> None:
    df = people(3)
    dry = send_hi(df, dry_run=True, keep="order_id")
    assert dry["order_id"].tolist() == ["000", "001", "002"]
    assert dry["started_at"].isna().all() and isinstance(
        dry["started_at"].dtype, pd.DatetimeTZDtype
    )
    with pytest.raises(MissingColumnError, match="keep="):
        send_hi(df, dry_run=True, keep=["nope"])
    with pytest.raises(ConfigurationError, match="already have a 'status'"):
        send_hi(df.assign(status="x"), dry_run=True, keep=["status"])


def test_resumed_rows_keep_their_times_and_columns(sandbox: Sandbox, tmp_path: Path) -> None:
    df = people(4)
    ledger = tmp_path / "run.sqlite"
    first = send_hi(df, target=sandbox, ledger=ledger, keep=["order_id"])
    again = send_hi(df, target=sandbox, ledger=ledger, keep=["order_id"])
    assert again["message_id"].tolist() == first["message_id"].tolist()
    pd.testing.assert_series_equal(again["started_at"], first["started_at"])
    assert again["order_id"].tolist() == df["order_id"].tolist()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_results_files_round_trip(sandbox: Sandbox, tmp_path: Path, suffix: str) -> None:
    results = send_hi(people(3), target=sandbox, keep=["order_id", "city"])
    path = write_results(results, tmp_path / f"results{suffix}")
    if suffix == ".csv":
        text = path.read_text(encoding="utf-8")
        assert text.startswith("input_index,row_key,status")
        assert "Z," in text and "e+09" not in text  # ISO 8601 UTC, not epoch floats
    back = read_results(path)
    assert back["order_id"].tolist() == ["000", "001", "002"]
    assert back["city"].tolist() == ["Łódź"] * 3
    assert (epoch_seconds(back["started_at"]) == epoch_seconds(results["started_at"])).all()
    assert back.attrs["summary"]["max_send_rate"] == sandbox.policy.max_send_rate


def test_a_dry_run_can_be_saved_as_parquet(tmp_path: Path) -> None:
    # Its preview frame is not JSON, which pandas' to_parquet would choke on in attrs.
    dry = send_hi(people(2), dry_run=True)
    back = read_results(write_results(dry, tmp_path / "dry.parquet"))
    assert back["status"].tolist() == ["skipped", "skipped"]
