"""Widgets a notebook user reaches for first: pick a CSV (a path or an upload) and its To
column, and see what is in it before anything is sent.

Why a module of its own: ipywidgets is imported only here and in :mod:`toolkit.guide.ui`, so the
rest of the toolkit runs without a notebook front end. :class:`StaticHtmlBox` is what both
use to stay readable in a saved notebook: its display carries an HTML picture of the current
state beside the live widget, and a front end that cannot draw the widget (a notebook not run
or not trusted yet, a rendered copy on a website) shows the HTML.

Usage (in a notebook cell)::

    from toolkit.notebook import pick_csv
    picker = pick_csv("../data/recipients.csv")   # a path field, an upload button, a preview
    picker                                        # shows it; then, in the next cells:
    picker.frame, picker.to_column
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from toolkit.errors import ConfigurationError

__all__ = ["CsvPicker", "StaticHtmlBox", "guess_to_column", "pick_csv", "read_table"]

_PREVIEW_ROWS = 5
_ADDRESS_NAMES = ("email", "e-mail", "mail", "to", "address", "email_address")


class StaticHtmlBox(w.VBox):
    """A VBox whose display also carries ``static_html()`` as ``text/html``."""

    static_html: Callable[[], str] | None = None
    static_text: Callable[[], str] | None = None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            if self.static_html is not None:
                bundle["text/html"] = self.static_html()
            if self.static_text is not None:
                bundle["text/plain"] = self.static_text()
        return bundle


def read_table(source: str | Path | bytes, name: str = "") -> pd.DataFrame:
    """A CSV or Parquet file (a path, or the bytes of an upload) with every CSV column as
    text, as a user's file arrives (leading zeros and '+' signs kept)."""
    label = name or str(source)
    parquet = label.lower().endswith((".parquet", ".pq"))
    data: Any = io.BytesIO(source) if isinstance(source, bytes) else Path(source).expanduser()
    try:
        if parquet:
            return pd.read_parquet(data)
        return pd.read_csv(data, dtype=str, keep_default_na=False, na_values=[""])
    except FileNotFoundError as exc:
        raise ConfigurationError(f"no file {label!r} (relative to {Path.cwd()})") from exc
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigurationError(f"cannot read {label}: {exc}") from exc


def guess_to_column(frame: pd.DataFrame) -> str | None:
    """The column that most likely holds the addresses: a usual name, else the column whose
    values most often contain an @."""
    lowered = {str(c).strip().lower(): c for c in frame.columns}
    for name in _ADDRESS_NAMES:
        if name in lowered:
            return str(lowered[name])
    best, share = None, 0.5
    sample = frame.head(200)
    for column in sample.columns:
        values = sample[column].dropna().astype(str)
        if len(values):
            found = float(values.str.contains("@", regex=False).mean())
            if found > share:
                best, share = str(column), found
    return best


class CsvPicker:
    """A path field, an upload button, a To-column picker and a preview of the rows."""

    def __init__(self, path: str | Path = "", to_column: str | None = None) -> None:
        self.frame: pd.DataFrame | None = None
        self.source = ""
        self.error: str | None = None
        self.path = w.Text(
            value=str(path),
            placeholder="a .csv or .parquet file, relative to this notebook",
            description="File",
            continuous_update=False,
            layout=w.Layout(width="36em"),
        ).add_class("toolkit-csv-path")
        self.upload = w.FileUpload(
            accept=".csv,.parquet", multiple=False, description="or upload"
        ).add_class("toolkit-csv-upload")
        self.to = w.Dropdown(description="To column", options=[], layout=w.Layout(width="24em"))
        self.to.add_class("toolkit-csv-to")
        self.preview = w.HTML().add_class("toolkit-csv-preview")
        self.path.observe(lambda _: self._load_path(), names="value")
        self.upload.observe(lambda _: self._load_upload(), names="value")
        self.to.observe(lambda _: self._render(), names="value")
        self.widget = StaticHtmlBox(
            [w.HBox([self.path, self.upload]), self.to, self.preview]
        ).add_class("toolkit-csv-picker")
        self.widget.static_html = self._html
        self.widget.static_text = self._text
        self._wanted_to = to_column
        if path:
            self._load_path()

    @property
    def to_column(self) -> str:
        """The column picked as the To address (ConfigurationError before a file is read)."""
        if self.frame is None or not self.to.value:
            raise ConfigurationError(self.error or "pick a file and its To column first")
        return str(self.to.value)

    def _load_path(self) -> None:
        text = self.path.value.strip()
        if text:
            self._load(lambda: read_table(text), text)

    def _load_upload(self) -> None:
        files = self.upload.value
        if files:
            item = files[0]
            self._load(lambda: read_table(bytes(item["content"]), item["name"]), item["name"])

    def _load(self, read: Callable[[], pd.DataFrame], source: str) -> None:
        try:
            frame = read()
        except ConfigurationError as exc:
            self.frame, self.error, self.source = None, str(exc), source
            self.to.options = []
            self._render()
            return
        self.frame, self.error, self.source = frame, None, source
        columns = [str(c) for c in frame.columns]
        wanted = self._wanted_to if self._wanted_to in columns else guess_to_column(frame)
        self.to.options = columns
        self.to.value = wanted if wanted in columns else (columns[0] if columns else None)
        self._render()

    def _render(self) -> None:
        self.preview.value = self._html()

    def _text(self) -> str:
        if self.frame is None:
            return f"CSV picker: {self.error or 'no file yet'}"
        return f"{self.source}: {len(self.frame):,} rows; To column: {self.to.value}"

    def _html(self) -> str:
        style = "font-family: system-ui, sans-serif; font-size: 13px"
        if self.frame is None:
            message = html.escape(self.error or "Give a file path or upload a file.")
            return f'<div style="{style}; color: #82071e">{message}</div>'
        frame, to = self.frame, self.to.value
        line = f"<b>{html.escape(self.source)}</b>: {len(frame):,} rows, {frame.shape[1]} columns"
        if to in frame.columns:
            addresses = frame[to].fillna("").astype(str)
            missing = int((addresses.str.strip() == "").sum())
            odd = int((~addresses.str.contains("@", regex=False) & (addresses != "")).sum())
            line += f"; To column <b>{html.escape(str(to))}</b>"
            if missing or odd:
                line += f" ({missing:,} empty, {odd:,} without an @: the dry run will say why)"
        table = frame.head(_PREVIEW_ROWS).to_html(index=False, border=0, max_cols=12)
        return f'<div style="{style}">{line}<br>first {_PREVIEW_ROWS} rows:{table}</div>'

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def pick_csv(path: str | Path = "", to_column: str | None = None) -> CsvPicker:
    """A :class:`CsvPicker`, loaded with ``path`` when given (display it as a cell's last
    expression; ``picker.frame`` and ``picker.to_column`` feed ``toolkit.send``)."""
    return CsvPicker(path, to_column)
