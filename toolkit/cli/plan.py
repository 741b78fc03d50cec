"""What ``send --dry-run`` and ``--preview N`` print before anything goes: N messages in full
and the plan (every row that will not be sent, why, how long and how much).

Why a module of its own: ``send``'s ``run()`` decides when to print; this decides what, from
the same plan a send makes (:func:`toolkit.compose.preview.plan_for`), so the terminal shows
what the notebook's ``toolkit.preview`` and ``toolkit.plan_table`` show.

Usage (from ``run()``)::

    print_plan(frame, options, rows=ns.preview)
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from toolkit.compose.preview import preview_plan
from toolkit.compose.sendplan import from_plan
from toolkit.job import plan_for

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.options import SendOptions

__all__ = ["print_plan"]


def print_plan(
    frame: pd.DataFrame,
    options: SendOptions,
    *,
    rows: int = 0,
    quota: Any = None,
    file: TextIO | None = None,
) -> None:
    """Print ``rows`` sample messages (none for 0) and the plan of sending ``frame`` with
    ``options`` (the send's own); raises ConfigurationError as the send would."""
    out = file or sys.stdout
    df, options = options.for_frame(frame)
    p = plan_for(df, options)
    if rows:
        print(preview_plan(p, df, options.spec, rows).to_text(), end="\n\n", file=out)
    print(from_plan(p, df, options.spec, rate=options.config.rate, quota=quota).to_text(),
          file=out)  # fmt: skip
