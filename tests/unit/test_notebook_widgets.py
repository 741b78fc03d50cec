"""The CSV picker of notebook 01: reads a path or an upload, guesses the To column, and stays
readable in a saved notebook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from toolkit.errors import ConfigurationError
from toolkit.notebook import guess_to_column, pick_csv, read_table

CSV = "id,name,contact\n007,Ana,ana@example.org\n+12,Bo,bo@example.org\n"


def test_read_table_keeps_text_as_written(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    frame = read_table(path)
    assert frame["id"].tolist() == ["007", "+12"]
    assert read_table(CSV.encode(), "upload.csv").equals(frame)
    with pytest.raises(ConfigurationError, match="no file"):
        read_table(tmp_path / "missing.csv")


def test_guess_to_column() -> None:
    assert guess_to_column(pd.DataFrame({"x": ["1"], "Email": ["a@b.c"]})) == "Email"
    assert guess_to_column(pd.DataFrame({"x": ["1", "2"], "c": ["a@b.c", "d@e.f"]})) == "c"
    assert guess_to_column(pd.DataFrame({"x": ["1"]})) is None


def test_picker_loads_guesses_and_shows_a_static_preview(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    picker = pick_csv(path)
    assert picker.to_column == "contact" and len(picker.frame) == 2
    bundle = picker._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "2 rows" in bundle["text/html"] and "ana@example.org" in bundle["text/html"]
    assert bundle["text/plain"].endswith("To column: contact")
    picker.to.value = "name"
    assert picker.to_column == "name" and "2 without an @" in picker.preview.value
    picker.path.value = str(tmp_path / "nope.csv")
    assert picker.frame is None and "no file" in picker.preview.value
    with pytest.raises(ConfigurationError, match="no file"):
        _ = picker.to_column
    upload = {
        "name": "up.csv",
        "type": "text/csv",
        "size": len(CSV),
        "content": memoryview(CSV.encode()),
        "last_modified": dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
    }
    picker.upload.value = (upload,)
    assert picker.to_column == "contact" and picker.source == "up.csv"
