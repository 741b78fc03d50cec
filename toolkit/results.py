"""The outcome record and the status vocabulary shared by every transport.

Every input row ends with exactly one :class:`Outcome` whose :class:`Status` is final.
See shared/DESIGN.md ("Status vocabulary").

Usage::

    from toolkit.results import Outcome, Status, outcomes_to_frame
    frame = outcomes_to_frame(outcomes, index=df.index)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


class Status(enum.StrEnum):
    """Final status of one input row; one vocabulary for all transports."""

    SENT = "sent"  # provider accepted it; message_id is set
    REJECTED = "rejected"  # permanent refusal for this recipient
    FAILED = "failed"  # transient errors outlasted the retry budget (a later run may resend)
    UNKNOWN = "unknown"  # request left, no answer came: may or may not have been sent
    INVALID = "invalid"  # refused before sending (bad address, missing column, injection, size)
    SKIPPED = "skipped"  # dry run, duplicate row, or already final in the ledger


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one input row.

    ``started_at``/``finished_at`` are wall-clock epoch seconds of the *last* request that
    carried the row, so reports can compute latency and throughput.
    """

    row_key: str
    status: Status
    transport: str
    recipient: str = ""
    message_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    batch_id: str | None = None

    @property
    def latency(self) -> float | None:
        """Seconds the last request took, or None when no request was made."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


OUTCOME_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Outcome))


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    """A plain dict with the status as its string value (for CSV/JSON/SQLite)."""
    record = asdict(outcome)
    record["status"] = outcome.status.value
    return record


def outcomes_to_frame(outcomes: Iterable[Outcome], index: pd.Index | None = None) -> pd.DataFrame:
    """Results as a DataFrame, one row per outcome, in the given order.

    When ``index`` is given it must have one label per outcome, in the same order; the
    frame then lines up with the caller's input frame.
    """
    import pandas as pd

    records = [outcome_to_dict(o) for o in outcomes]
    frame = pd.DataFrame.from_records(records, columns=list(OUTCOME_COLUMNS))
    if index is not None:
        if len(index) != len(frame):
            raise ValueError(f"index has {len(index)} labels for {len(frame)} outcomes")
        frame.index = index
    return frame
