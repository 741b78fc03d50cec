"""Input files as DataFrames: CSV/TSV (any delimiter, encoding), Excel, Parquet, JSON lines.

Why one reader: a user exports "the list" from whatever they have — Excel, a semicolon CSV from
a European locale, a UTF-16 "Unicode text" file, a JSON-lines dump — and a wrong guess is
worse than a refusal: a ragged CSV read by pandas' defaults shifts every column by one (the
first becomes the index) and mails the wrong cells. So this module reads what it can
recognise, says in one line what it assumed when it had to guess (an encoding), and refuses
in one line, with the fix, what it cannot read safely.

* CSV and text: the delimiter is the one of ``, ; TAB |`` that splits the header line into the
  most fields (``.tsv``: TAB); UTF-8, UTF-8 with BOM and UTF-16 (by its BOM) are read as such,
  anything else that is not UTF-8 as Windows-1252/Latin-1 with one warning; every cell is
  text (``"00123"`` stays ``"00123"``), an empty cell is missing. A line with more fields than
  the header is a :class:`~toolkit.errors.ConfigurationError` naming the line.
* ``.xlsx``/``.xlsm``: the first sheet, through openpyxl when it is installed (else one
  :class:`~toolkit.errors.MissingDependencyError` with the pip command); ``.xls`` is refused.
* ``.parquet``/``.pq``: as written. ``.jsonl``/``.ndjson`` (and ``.json`` holding lines or an
  array of records): one row per object.

Usage::

    frame = read_table(Path("customers.csv"))
"""

from __future__ import annotations

import codecs
import csv
import importlib.util
import io
import re
import warnings
from pathlib import Path

import pandas as pd

from toolkit.errors import ConfigurationError, MissingDependencyError

__all__ = [
    "TABLE_SUFFIXES",
    "InputEncodingWarning",
    "read_table",
]

_CSV_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", "")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
TABLE_SUFFIXES = (*_CSV_SUFFIXES[:-1], *_EXCEL_SUFFIXES, *_PARQUET_SUFFIXES, *_JSON_SUFFIXES)
"""File name endings :func:`read_table` reads (a name without one is read as CSV)."""
"""What the results writer writes (Excel opens the .csv)."""

_DELIMITERS = (",", ";", "\t", "|")
_SAMPLE = 64 * 1024
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


class InputEncodingWarning(UserWarning):
    """The input was not UTF-8 and was read as Windows-1252/Latin-1 (check accented names)."""


def read_table(path: str | Path) -> pd.DataFrame:
    """The file at ``path`` as a DataFrame (see the module docstring for the formats).

    Raises ConfigurationError (one line, naming the file) when the file is missing, empty,
    ragged or in a format this reader does not take, and MissingDependencyError when reading
    it needs a package that is not installed.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigurationError(f"cannot read {path}: no such file")
    if path.is_dir():
        raise ConfigurationError(f"cannot read {path}: it is a directory, not a file")
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET_SUFFIXES:
            return pd.read_parquet(path)
        if suffix in _EXCEL_SUFFIXES:
            return _read_excel(path)
        if suffix == ".xls":
            raise ConfigurationError(
                f"cannot read {path}: the old Excel .xls format; save it as .xlsx or CSV"
            )
        if suffix in _JSON_SUFFIXES:
            return _read_json(path)
        if suffix in _CSV_SUFFIXES or suffix not in TABLE_SUFFIXES:
            return _read_csv(path, tab=suffix in (".tsv", ".tab"))
    except ConfigurationError:
        raise
    except (OSError, ValueError, ImportError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigurationError(f"cannot read {path}: {detail}") from exc
    raise AssertionError(suffix)  # pragma: no cover - every suffix is handled above


# -- CSV ---------------------------------------------------------------------------------


def _encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _delimiter(head: str, tab: bool) -> str:
    """The delimiter that splits the header line into the most fields (',' when none do)."""
    if tab:
        return "\t"
    first = head.splitlines()[0] if head else ""
    best, most = ",", 1
    for delimiter in _DELIMITERS:
        try:
            fields = next(csv.reader([first], delimiter=delimiter), [])
        except csv.Error:  # pragma: no cover - a quote the sample cut
            continue
        if len(fields) > most:
            best, most = delimiter, len(fields)
    return best


def _read_csv(path: Path, *, tab: bool) -> pd.DataFrame:
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE)
    if not head.strip():
        raise ConfigurationError(f"cannot read {path}: the file is empty")
    encoding = _encoding(head)
    try:
        return _parse_csv(path, encoding, head, tab)
    except UnicodeDecodeError as exc:
        if encoding != "utf-8":
            raise ConfigurationError(f"cannot read {path}: not valid {encoding} ({exc})") from exc
    fallback = "cp1252" if _decodes(path, "cp1252") else "latin-1"
    warnings.warn(
        f"{path} is not UTF-8; read it as Windows-1252/Latin-1 (check accented names, or "
        "save the file as UTF-8)",
        InputEncodingWarning,
        stacklevel=3,
    )
    return _parse_csv(path, fallback, head, tab)


def _decodes(path: Path, encoding: str) -> bool:
    try:
        path.read_bytes().decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _parse_csv(path: Path, encoding: str, head: bytes, tab: bool) -> pd.DataFrame:
    delimiter = _delimiter(head.decode(encoding, errors="replace"), tab)
    try:
        # header=None: a line with more fields than the header is then pandas' "Expected n
        # fields" error, never a silent shift of every column (pandas' default makes the
        # first column the index when every row has one field more than the header).
        grid = pd.read_csv(path, sep=delimiter, header=None, dtype=str, encoding=encoding,
                           keep_default_na=False, na_values=[""], skip_blank_lines=True,
                           engine="c")  # fmt: skip
    except pd.errors.ParserError as exc:
        found = _RAGGED.search(str(exc))
        if found is None:
            raise ConfigurationError(f"cannot read {path}: {str(exc).splitlines()[0]}") from exc
        header, line, saw = found.groups()
        raise ConfigurationError(
            f"{path}: line {line} has {saw} fields but the header has {header} (delimiter "
            f"{_shown(delimiter)}): quote values that contain it, or fix the line"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise ConfigurationError(f"cannot read {path}: the file is empty") from exc
    names = _column_names(grid.iloc[0].tolist())
    frame = grid.iloc[1:].reset_index(drop=True)
    frame.columns = pd.Index(names)
    return frame


def _shown(delimiter: str) -> str:
    return {"\t": "TAB", ",": "','", ";": "';'", "|": "'|'"}[delimiter]


def _column_names(header: list[object]) -> list[str]:
    """Header cells as pandas names them: empty -> ``Unnamed: i``, repeats -> ``a.1``."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(header):
        name = f"Unnamed: {i}" if cell is None or (isinstance(cell, float)) else str(cell)
        if name in seen:
            seen[name] += 1
            candidate = f"{name}.{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}.{seen[name]}"
            seen[candidate] = 0
            name = candidate
        else:
            seen[name] = 0
        names.append(name)
    return names


# -- Excel and JSON ----------------------------------------------------------------------


def _read_excel(path: Path) -> pd.DataFrame:
    if importlib.util.find_spec("openpyxl") is None:
        raise MissingDependencyError("openpyxl", f"reading the Excel file {path.name}")
    frame = pd.read_excel(path, sheet_name=0, dtype=str, keep_default_na=False, na_values=[""])
    return frame


def _read_json(path: Path) -> pd.DataFrame:
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE).lstrip()
    if not head:
        raise ConfigurationError(f"cannot read {path}: the file is empty")
    encoding = _encoding(head)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :].lstrip()
    if head.startswith(b"["):
        text = path.read_text(encoding=encoding)
        return pd.read_json(io.StringIO(text), orient="records", dtype=False)
    try:
        return pd.read_json(path, lines=True, dtype=False, encoding=encoding)
    except ValueError as exc:
        raise ConfigurationError(
            f"cannot read {path}: not JSON lines (one object per line) or an array of "
            f"objects ({str(exc).splitlines()[0]})"
        ) from exc
