"""The CSV picker of notebook 01: reads a path or an upload, guesses the To column, and stays
readable in a saved notebook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

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
    picker = pick_csv(path, interactive=True)
    assert picker.to_column == "contact" and len(picker.frame) == 2
    bundle = picker._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "2 rows" in bundle["text/html"] and "ana@example.org" in bundle["text/html"]
    assert "picked To column 'contact'" in bundle["text/plain"]
    picker.to.value = "name"
    assert picker.to_column == "name" and "2 without an @" in picker.preview.value
    assert "picked by hand" in picker.preview.value
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


DATA = Path(__file__).resolve().parents[2] / "data"


def test_the_picker_scores_values_not_names_on_a_mailchimp_export() -> None:
    # Mailchimp writes a postal "Address" column beside "Email Address": the old guess took
    # the first usual name ("address") and the dry run marked every row invalid.
    frame = read_table(DATA / "mailchimp_audience_export.csv")
    assert guess_to_column(frame) == "Email Address"
    picker = pick_csv(DATA / "mailchimp_audience_export.csv")
    assert picker.to_column == "Email Address"
    assert "96% of its values are valid addresses" in picker.note  # 2 of 54 are not


def test_the_picker_finds_shopify_email() -> None:
    assert guess_to_column(read_table(DATA / "shopify_customers_export.csv")) == "Email"


def test_the_picker_never_falls_back_silently(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    # A To column that is not in the file: the likeliest one, and a line saying so.
    picker = pick_csv(path, to_column="email")
    assert picker.to_column == "contact"
    assert "'email' is not a column of this file: picked 'contact'" in picker._text()
    # A To column that holds no addresses: kept as asked, with a warning naming the better one.
    picker = pick_csv(path, to_column="name")
    assert picker.to_column == "name" and "'contact' has 100%" in picker.note
    # No column holds addresses: no choice at all, and the error lists the columns.
    path.write_text("id,name\n1,Ana\n", encoding="utf-8")
    picker = pick_csv(path)
    with pytest.raises(ConfigurationError, match=r"No column holds addresses.*'id', 'name'"):
        _ = picker.to_column


def test_a_picker_given_a_path_displays_as_static_html(tmp_path: Path) -> None:
    """Saved and reopened without a kernel, a widget output shows "Error displaying widget:
    model not found"; a picker given a path therefore displays plain HTML."""
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    bundle = pick_csv(path)._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert "toolkit-csv-choice" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in pick_csv()._repr_mimebundle_()


class _Display:
    """IPython's display(), recorded: each call's bundle, and the updates of its handle."""

    def __init__(self) -> None:
        self.shown: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def __call__(self, obj: Any, **kwargs: Any) -> Any:
        self.shown.append(obj)
        recorder = self

        class Handle:
            def update(self, new: Any, **_: Any) -> None:
                recorder.updates.append(new)

        return Handle() if kwargs.get("display_id") else None


def test_the_guide_keeps_its_answer_in_a_static_output_that_follows_every_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run, saved and reopened without a kernel, the guide's widget output reads "Error
    displaying widget: model not found"; the answer must be in a plain output beside it."""
    import IPython.display

    from toolkit.guide.ui import build

    shown = _Display()
    monkeypatch.setattr(IPython.display, "display", shown)
    ui = build(channels={"email"}, monthly_volume=1000, today=dt.date(2026, 11, 26))
    ui.widget._ipython_display_()
    widget, companion = shown.shown
    assert "application/vnd.jupyter.widget-view+json" in widget
    assert set(companion) == {"text/html", "text/plain"}
    assert "toolkit-guide-recommendation" in companion["text/html"]
    assert "<style>" in companion["text/html"]  # hides the copy while the widget is drawn
    ui.needs["third_party"].value = True
    assert "SES SMTP for email" in shown.updates[-1]["text/html"]


def test_an_interactive_picker_keeps_its_choice_in_a_static_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import IPython.display

    shown = _Display()
    monkeypatch.setattr(IPython.display, "display", shown)
    picker = pick_csv()
    picker._ipython_display_()
    assert len(shown.shown) == 2
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    picker.path.value = str(path)
    assert "picked To column &#x27;contact&#x27;" in shown.updates[-1]["text/html"]
