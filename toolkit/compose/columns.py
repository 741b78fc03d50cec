"""Column-at-a-time helpers for pre-flight: text conversion, the address fast path, hashes.

Pre-flight looks at whole columns, never row by row; these are the pieces that make that fast
and small: cells as pandas text (lone surrogates made printable), cells that are not text at
all (bytes, lists, dicts, objects) found without a Python loop over plain columns, plain
``local@domain`` addresses found with pyarrow's RE2 in one pass, and per-row content hashes
kept as one numpy array.
"""

from __future__ import annotations

import datetime as dt
import numbers
import re
from collections.abc import Callable, Sequence
from typing import overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "SIMPLE_ADDRESS",
    "HexDigests",
    "address_columns",
    "as_text",
    "clean_text",
    "is_missing",
    "is_plain_value",
    "not_plain",
    "simple_addresses",
]

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
SIMPLE_ADDRESS = rf"^(?P<local>{_ATEXT}+(?:\.{_ATEXT}+)*)@(?P<domain>[^@\s,;<>\"]+)$"
_SIMPLE = re.compile(SIMPLE_ADDRESS)


class HexDigests(Sequence[str]):
    """Per-row 64-bit content hashes, shown as 16 hex digits when read.

    Kept as one numpy array and formatted on access: a million rows would otherwise hold a
    million small strings (~70 MB) that a dry run never reads.
    """

    __slots__ = ("_values",)

    def __init__(self, values: np.ndarray) -> None:
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [f"{h:016x}" for h in self._values[index].tolist()]
        return f"{int(self._values[index]):016x}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HexDigests):
            return bool(np.array_equal(self._values, other._values))
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking sequence: no hash

    def __repr__(self) -> str:
        return f"HexDigests({len(self)} rows)"


def is_missing(value: object) -> bool:
    """True for None, pd.NA and NaN: the cell has no value."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


# What a cell may hold to become text in a message: text, a number, a date or time, or nothing.
# Anything else (bytes, a list, a dict, an object) would be mailed as its repr().
_PLAIN_TYPES = (str, numbers.Number, dt.date, dt.time, dt.timedelta, np.datetime64, np.timedelta64)
# pandas' inferred kinds of an object column that hold only such values (checked in C).
_PLAIN_KINDS = frozenset(
    ["string", "empty", "integer", "floating", "mixed-integer-float", "decimal", "complex",
     "boolean", "datetime64", "datetime", "date", "timedelta64", "timedelta", "time"]
)  # fmt: skip


def is_plain_value(value: object) -> bool:
    """True for a cell that can be sent as text: str, a number, a date/time, or missing."""
    return isinstance(value, _PLAIN_TYPES) or is_missing(value) or value is pd.NaT


def not_plain(series: pd.Series) -> list[tuple[int, str]]:
    """(position, type name) of the cells that are not text, numbers, dates or missing.

    Typed columns (numbers, strings, dates) are plain by construction; an object column is
    looked at cell by cell only when pandas cannot tell it holds plain values only.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = not_plain(pd.Series(dtype.categories, dtype=object))
        if not categories:
            return []
        bad = {int(k) for k, _ in categories}
        names = dict(categories)
        codes = series.cat.codes.to_numpy()
        return [(i, names[int(c)]) for i, c in enumerate(codes.tolist()) if c in bad]
    if not pd.api.types.is_object_dtype(dtype):
        return []
    if pd.api.types.infer_dtype(series, skipna=True) in _PLAIN_KINDS:
        return []
    return [(i, type(v).__name__) for i, v in enumerate(series.tolist()) if not is_plain_value(v)]


def clean_text(value: str) -> str:
    """``value`` with lone surrogates replaced (they cannot be encoded, stored or sent)."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def as_text(series: pd.Series) -> pd.Series:
    """``series.astype("str")``; cells that are not valid Unicode get U+FFFD instead."""
    try:
        return series.astype("str")
    except (ValueError, TypeError):  # pyarrow refuses lone surrogates
        cleaned = [v if is_missing(v) else clean_text(str(v)) for v in series.tolist()]
        return pd.Series(cleaned, dtype="str")


def simple_addresses(
    text: pd.Series,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], Callable[[np.ndarray], list[str]]]:
    """Rows with one plain ``local@domain``: mask, local lengths, domain codes, domains, locals.

    Vectorized with pyarrow compute when the column is Arrow-backed (RE2, no Python object per
    cell); codes are -1 for other rows. ``locals(rows)`` fetches the local parts of some rows.
    """
    n = len(text)
    try:
        array = pa.array(text.array)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
            raise TypeError(array.type)
    except (TypeError, ValueError, pa.ArrowException):
        cells = text.tolist()
        matches = [_SIMPLE.fullmatch(c) if isinstance(c, str) else None for c in cells]
        mask = np.array([m is not None for m in matches], dtype=bool)
        local_len = np.array([len(m.group(1)) if m else 0 for m in matches], dtype=np.int64)
        codes, uniques = pd.factorize(pd.Series([m.group(2) if m else None for m in matches]))
        return (mask, local_len, np.asarray(codes), [str(u) for u in uniques],
                lambda rows: [matches[r].group(1) for r in rows.tolist()])  # type: ignore[union-attr]  # fmt: skip
    parts = pc.extract_regex(array, SIMPLE_ADDRESS)
    mask = parts.is_valid().to_numpy(zero_copy_only=False).copy()
    local = pc.struct_field(parts, "local")
    local_len = pc.fill_null(pc.utf8_length(local), 0).to_numpy(zero_copy_only=False)
    encoded = pc.dictionary_encode(pc.struct_field(parts, "domain"))
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    assert len(codes) == n
    return (mask, local_len.astype(np.int64), codes, encoded.dictionary.to_pylist(),
            lambda rows: local.take(pa.array(rows)).to_pylist())  # fmt: skip


def address_columns(frame: pd.DataFrame, sample: int = 1000) -> list[tuple[str, float]]:
    """Columns holding email addresses, likeliest first: (name, share of its non-empty values
    that are one plain address), judged by the values, not the name (a Mailchimp export's
    postal ``Address`` holds none; its ``Email Address`` nearly all). Columns with none are
    left out."""
    head = frame.head(sample)
    scored = []
    for name in head.columns:
        text = as_text(head[name]).dropna().str.strip()
        text = text[text != ""]
        if text.empty:
            continue
        share = float(simple_addresses(text.reset_index(drop=True))[0].mean())
        if share > 0:
            scored.append((str(name), share))
    return sorted(scored, key=lambda item: -item[1])
