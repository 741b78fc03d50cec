"""What ``send --dry-run`` and ``--preview N`` print before anything goes: N messages in full
and the plan (every row that will not be sent, why, how long and how much).

Why a module of its own: ``send``'s ``run()`` decides when to print; this decides what, from
the same plan a send makes (:func:`toolkit.compose.preview.plan_for`), so the terminal shows
what the notebook's ``toolkit.preview`` and ``toolkit.plan_table`` show.

Usage (from ``run()``)::

    print_plan(frame, via=ns.via, rows=ns.preview, rate=config.rate, quota=quota,
               sender=ns.sender, to=ns.to_column, key=ns.key_column, subject=..., text=...)
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from toolkit.compose.frame import conform
from toolkit.compose.preview import compose_spec, plan_for, preview_plan
from toolkit.compose.sendplan import from_plan

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["print_plan"]


def print_plan(
    frame: pd.DataFrame,
    *,
    via: str,
    rows: int = 0,
    rate: float | None = None,
    quota: Any = None,
    file: TextIO | None = None,
    **message: Any,
) -> None:
    """Print ``rows`` sample messages (none for 0) and the plan; message keywords as for
    ``toolkit.send`` (``sender``, ``to``, ``key``, ``subject``, ``text``, ``html``,
    ``template``). Raises ConfigurationError as the send would."""
    out = file or sys.stdout
    spec = compose_spec(**message)
    df, spec = conform(frame, spec)
    p = plan_for(df, spec, via)
    if rows:
        print(preview_plan(p, df, spec, rows).to_text(), end="\n\n", file=out)
    print(from_plan(p, df, spec, rate=rate, quota=quota).to_text(), file=out)
