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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from toolkit.compose.addresses import AddressProblem, AddressValidator
from toolkit.errors import ConfigurationError

__all__ = [
    "ColumnScore",
    "CsvPicker",
    "StaticHtmlBox",
    "guess_to_column",
    "pick_csv",
    "read_table",
    "score_address_columns",
]

_PREVIEW_ROWS = 5
_SAMPLE = 200
_MIN_VALID = 0.5
_ADDRESS_NAMES = frozenset(
    ["email", "e mail", "mail", "to", "email address", "e mail address", "recipient"]
)


class StaticHtmlBox(w.VBox):
    """A VBox whose display also carries ``static_html()`` as ``text/html``.

    With :meth:`watch_static`, displaying the box also displays a *companion*: a plain HTML
    output below it holding ``static_html()``, updated (through a display handle) whenever a
    watched widget changes. A notebook saved and reopened without a kernel cannot draw the
    widget (JupyterLab shows "Error displaying widget: model not found" unless widget state
    was saved), but it shows the companion: the answer survives the save. A style in the
    companion hides it while the live widget is drawn, and hides the error line above it
    when the widget cannot be, so a person sees one answer either way.
    """

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

    def watch_static(self, *sources: w.Widget) -> None:
        """Keep a companion output in step with these widgets' values (see the class doc)."""
        self._companion_id = f"toolkit-static-{uuid.uuid4().hex[:12]}"
        self._companion: Any = None
        self.add_class(f"{self._companion_id}-live")
        for source in sources:
            source.observe(lambda _: self.refresh_static(), names="value")

    def companion_bundle(self) -> dict[str, str]:
        """The companion output: the static HTML, and the style that hides what is redundant."""
        key = getattr(self, "_companion_id", "toolkit-static")
        body = self.static_html() if self.static_html is not None else ""
        # While the live widget is drawn (its class is in the cell), hide this copy; when it
        # is not (no kernel, no saved state), hide the output before this one: JupyterLab's
        # "Error displaying widget" line.
        style = (
            f".jp-Cell:has(.{key}-live) .{key} {{ display: none; }}"
            f" .jp-Cell:not(:has(.{key}-live))"
            f" .jp-OutputArea-child:has(+ .jp-OutputArea-child .{key}) {{ display: none; }}"
        )
        text = self.static_text() if self.static_text is not None else ""
        div = f'<div class="{key} toolkit-static-companion">{body}</div>'
        return {"text/html": f"<style>{style}</style>{div}", "text/plain": text}

    def refresh_static(self) -> None:
        """Redraw the companion (no-op before the box is displayed)."""
        if getattr(self, "_companion", None) is not None:
            self._companion.update(self.companion_bundle(), raw=True)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        if hasattr(self, "_companion_id"):
            self._companion = display(self.companion_bundle(), raw=True, display_id=True)


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


@dataclass(frozen=True)
class ColumnScore:
    """How much a column looks like the recipients' addresses."""

    column: str
    valid: float  # share of its non-empty sampled cells that are usable addresses
    named: bool  # its name is one people give an address column

    @property
    def score(self) -> float:
        # Values decide; a usual name only breaks near-ties (a postal "Address" column is
        # named like one but holds no address).
        return self.valid + (0.05 if self.named else 0.0)


def score_address_columns(frame: pd.DataFrame, sample: int = _SAMPLE) -> list[ColumnScore]:
    """Every column with its share of valid addresses (first ``sample`` non-empty cells),
    best first. Validity is pre-flight's own (:class:`AddressValidator`)."""
    validator = AddressValidator()
    scores = []
    for column in frame.columns:
        values = frame[column].dropna().astype(str).str.strip()
        values = values[values != ""].head(sample)
        valid = 0.0
        if len(values) and values.str.contains("@", regex=False).any():
            ok = [not isinstance(validator.normalize_cell(v), AddressProblem) for v in values]
            valid = sum(ok) / len(ok)
        name = str(column).strip().lower().replace("_", " ").replace("-", " ")
        scores.append(ColumnScore(str(column), valid, name in _ADDRESS_NAMES))
    return sorted(scores, key=lambda s: -s.score)


def guess_to_column(frame: pd.DataFrame) -> str | None:
    """The column whose values are most often valid addresses (at least half of them);
    None when no column qualifies."""
    scores = score_address_columns(frame)
    if scores and scores[0].valid >= _MIN_VALID:
        return scores[0].column
    return None


class CsvPicker:
    """A file's rows, its To column (picked by the values, with the reason shown) and a preview.

    Displayed with a path that reads, it is a static rendering (HTML): it stays readable in a
    notebook saved and reopened without a kernel. Displayed without a path (or with
    ``interactive=True``) it is a live widget (a path field, an upload button, a To-column
    dropdown) whose display also carries that HTML.
    """

    def __init__(
        self, path: str | Path = "", to_column: str | None = None, interactive: bool | None = None
    ) -> None:
        self.frame: pd.DataFrame | None = None
        self.source = ""
        self.error: str | None = None
        self.note = ""  # why this To column (or why none): never a silent choice
        self.scores: list[ColumnScore] = []
        self.interactive = not path if interactive is None else interactive
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
        self.to.observe(lambda _: self._picked(), names="value")
        self.widget = StaticHtmlBox(
            [w.HBox([self.path, self.upload]), self.to, self.preview]
        ).add_class("toolkit-csv-picker")
        self.widget.static_html = self._html
        self.widget.static_text = self._text
        self.widget.watch_static(self.preview)  # the choice survives a save, beside the widget
        self._wanted_to = to_column
        self._choosing = False
        if path:
            self._load_path()

    @property
    def to_column(self) -> str:
        """The column picked as the To address (ConfigurationError before a file is read, or
        when no column holds addresses: the message lists the columns)."""
        if self.frame is None:
            raise ConfigurationError(self.error or "pick a file and its To column first")
        if not self.to.value:
            raise ConfigurationError(self.note)
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
            self.note, self.scores = "", []
            self.to.options = []
            self._render()
            return
        self.frame, self.error, self.source = frame, None, source
        self.scores = score_address_columns(frame)
        columns = [str(c) for c in frame.columns]
        self._choosing = True
        try:
            self.to.options = columns
            self.to.value = self._choose(columns)
        finally:
            self._choosing = False
        self._render()

    def _choose(self, columns: list[str]) -> str | None:
        """The To column and, in ``self.note``, why (the wanted one, the likeliest, or none)."""
        best = self.scores[0] if self.scores and self.scores[0].valid >= _MIN_VALID else None
        share = {s.column: s.valid for s in self.scores}
        wanted = self._wanted_to
        if wanted is not None and wanted in columns:
            self.note = f"To column {wanted!r} (as asked): {share[wanted]:.0%} valid addresses"
            if best is not None and best.column != wanted and share[wanted] < _MIN_VALID:
                self.note += (f"; {best.column!r} has {best.valid:.0%}: the dry run will mark "
                              "most rows invalid unless the To column changes")  # fmt: skip
            return wanted
        if best is None:
            listed = ", ".join(repr(c) for c in columns)
            asked = f"{wanted!r} is not a column of this file, and n" if wanted else "N"
            self.note = (f"{asked}o column holds addresses (at least {_MIN_VALID:.0%} valid): "
                         f"pick the To column among {listed}")  # fmt: skip
            return None
        runner_up = next((s for s in self.scores[1:] if s.valid > 0), None)
        why = f"{best.valid:.0%} of its values are valid addresses"
        if runner_up is not None:
            why += f"; next: {runner_up.column!r}, {runner_up.valid:.0%}"
        if wanted is not None:
            self.note = f"{wanted!r} is not a column of this file: picked {best.column!r} ({why})"
        else:
            self.note = f"picked To column {best.column!r}: {why}"
        return best.column

    def _picked(self) -> None:
        if not self._choosing and self.frame is not None:
            picked = self.to.value
            share = {s.column: s.valid for s in self.scores}
            if picked is not None:
                self.note = (
                    f"To column {picked!r} (picked by hand): {share.get(picked, 0):.0%} "
                    "valid addresses"
                )
        self._render()

    def _render(self) -> None:
        self.preview.value = self._html()

    def _text(self) -> str:
        if self.frame is None:
            return f"CSV picker: {self.error or 'no file yet'}"
        return f"{self.source}: {len(self.frame):,} rows; {self.note}"

    def _html(self) -> str:
        style = "font-family: system-ui, sans-serif; font-size: 13px"
        if self.frame is None:
            message = html.escape(self.error or "Give a file path or upload a file.")
            return f'<div style="{style}; color: #82071e">{message}</div>'
        frame, to = self.frame, self.to.value
        line = f"<b>{html.escape(self.source)}</b>: {len(frame):,} rows, {frame.shape[1]} columns"
        color = "#1a7f37" if to else "#82071e"
        line += (f'<div class="toolkit-csv-choice" style="color: {color}">'
                 f"{html.escape(self.note)}</div>")  # fmt: skip
        if to in frame.columns:
            addresses = frame[to].fillna("").astype(str)
            missing = int((addresses.str.strip() == "").sum())
            odd = int((~addresses.str.contains("@", regex=False) & (addresses != "")).sum())
            if missing or odd:
                line += (f"<div>{missing:,} empty, {odd:,} without an @ in "
                         f"{html.escape(str(to))}: the dry run will say why</div>")  # fmt: skip
        table = frame.head(_PREVIEW_ROWS).to_html(index=False, border=0, max_cols=12)
        return f'<div style="{style}">{line}first {_PREVIEW_ROWS} rows:{table}</div>'

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.interactive:
            return self.widget._repr_mimebundle_(**kwargs)
        return {"text/html": self._html(), "text/plain": self._text()}

    def _ipython_display_(self) -> None:
        if self.interactive:
            self.widget._ipython_display_()
        else:
            from IPython.display import display

            display(self._repr_mimebundle_(), raw=True)


def pick_csv(
    path: str | Path = "", to_column: str | None = None, interactive: bool | None = None
) -> CsvPicker:
    """A :class:`CsvPicker`, loaded with ``path`` when given (display it as a cell's last
    expression; ``picker.frame`` and ``picker.to_column`` feed ``toolkit.send``).

    ``to_column=None`` picks the column whose values are valid addresses, and says so.
    Without a path (or with ``interactive=True``) it shows a file box and an upload button.
    """
    return CsvPicker(path, to_column, interactive)
