"""The input, made into a frame pre-flight can read: one row per message, columns named by text.

Why a step of its own: ``send()`` is called with whatever a notebook holds — a list, a Series
of addresses, a frame read without a header (integer column names), a frame with a MultiIndex
or with two columns of the same name. Each used to fail deep inside pre-flight with an
``AttributeError`` or a ``TypeError``; here each either works (the results keep the input's
index) or is one :class:`~toolkit.errors.ConfigurationError` that says what to do.

* a DataFrame: used as is; non-text column names become text (``0`` -> ``"0"``, the name a
  :class:`~toolkit.compose.spec.ComposeSpec` keeps; lone surrogates replaced); a MultiIndex
  on the rows is kept;
* a Series: a frame with one column, named by ``spec.to`` (a Series of addresses);
* anything else (None, a list, a dict, an array, a string): ConfigurationError;
* MultiIndex columns, or a name that appears twice among the columns the message uses:
  ConfigurationError (which copy would be meant is a guess).

Usage::

    df, spec = conform(df, spec)   # before plan(); plan() does it too
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from toolkit.compose.columns import clean_text
from toolkit.compose.render import placeholders
from toolkit.compose.spec import ComposeSpec
from toolkit.errors import ConfigurationError

__all__ = ["conform", "used_columns"]


def conform(df: Any, spec: ComposeSpec) -> tuple[pd.DataFrame, ComposeSpec]:
    """``df`` as a DataFrame with text column names (see the module docstring)."""
    if isinstance(df, pd.Series):
        df = pd.DataFrame({0: df}).set_axis(pd.Index([spec.to], dtype=object), axis=1)
    if not isinstance(df, pd.DataFrame):
        kind = "None" if df is None else type(df).__name__
        raise ConfigurationError(
            f"send() needs a pandas DataFrame with one row per message, not {kind}; "
            "for example pd.DataFrame({'email': [...]}), or pd.read_csv(path)"
        )
    columns = df.columns
    if isinstance(columns, pd.MultiIndex):
        raise ConfigurationError(
            "the DataFrame's columns have several levels (a MultiIndex); flatten them first, "
            "e.g. df.columns = ['_'.join(map(str, c)) for c in df.columns]"
        )
    if not all(isinstance(c, str) and clean_text(c) == c for c in columns):
        names = [clean_text(str(c)) for c in columns]
        df = df.set_axis(pd.Index(names, dtype=object), axis=1)
        columns = df.columns
    if not columns.is_unique:
        repeated = set(columns[columns.duplicated()])
        used = repeated & used_columns(spec, columns)
        if used:
            name = sorted(used)[0]
            count = int((columns == name).sum())
            raise ConfigurationError(
                f"column {name!r} appears {count} times in the DataFrame; rename or drop the "
                "copies, e.g. df = df.loc[:, ~df.columns.duplicated()]"
            )
    return df, spec


def used_columns(spec: ComposeSpec, columns: pd.Index) -> set[str]:
    """The column names a message built from ``spec`` reads (every column for a stored
    template without ``template_columns``, whose data holds every column)."""
    references = (spec.to, spec.cc, spec.bcc, spec.reply_to, spec.sender_column,
                  spec.name_column, spec.attachment_column, spec.key_column)  # fmt: skip
    used = {c for c in references if c is not None}
    for source in (spec.subject, spec.text, spec.html):
        if source is not None:
            used.update(placeholders(source))
    if spec.template_columns is not None:
        used.update(spec.template_columns)
    elif spec.template_name is not None:
        used.update(str(c) for c in columns)
    return used
