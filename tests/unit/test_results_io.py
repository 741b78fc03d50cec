"""The one results writer and reader: formats, formula cells, the checks before a send."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ConfigurationError
from toolkit.results import RunSummary, results_frame
from toolkit.results_io import check_results_path, read_results, write_results


def test_refuses_a_results_path_without_room_for_the_rows(tmp_path: Path) -> None:
    check_results_path(tmp_path / "r.csv", rows=1000)
    with pytest.raises(ConfigurationError, match="free"):
        check_results_path(tmp_path / "r.csv", rows=10**15)


@pytest.mark.parametrize("name", ["r.xlsx", "r.txt", "r"])
def test_refuses_a_format_it_does_not_write(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"\.csv or \.parquet"):
        check_results_path(tmp_path / name)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_summary_travels_with_the_file(tmp_path: Path, suffix: str) -> None:
    frame = results_frame([], pd.RangeIndex(0))
    frame.attrs["summary"] = RunSummary.build({"sent": 3}, elapsed=1.5, transport="ses").to_dict()
    back = RunSummary.of(read_results(write_results(frame, tmp_path / f"r{suffix}")))
    assert back == RunSummary.build({"sent": 3}, elapsed=1.5, transport="ses")
    assert back is not None and back.sent_per_second == 2.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="=+-@'\t ab1", max_size=6), min_size=1, max_size=5))
def test_any_text_reads_back_exactly_and_no_cell_is_a_formula(values: list[str]) -> None:
    import tempfile

    frame = pd.DataFrame({"status": ["sent"] * len(values), "note": values})
    with tempfile.TemporaryDirectory() as folder:
        path = write_results(frame, Path(folder) / "r.csv")
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)["note"]
        assert not raw.str.match(r"[=+\-@\t\r]").any()
        back = read_results(path)["note"].fillna("")
    assert list(back) == values
