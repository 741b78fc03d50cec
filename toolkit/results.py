"""What happened: a provider's answer for one message, and the final outcome of one row.

Two small vocabularies, shared by every stage:

* :class:`Verdict` / :class:`Reply` — what one provider answer means for one message. A
  transport returns them; the engine turns them into outcomes.
* :class:`Status` / :class:`Outcome` — the final status of one input row. Every row ends with
  exactly one.

The results frame is built in one place, :class:`ResultTable` (column by column, so a million
rows never become a million objects); :func:`results_frame` is its shortcut for a list of
outcomes.

Usage::

    from toolkit.results import Outcome, Status, results_frame
    frame = results_frame(outcomes, index=df.index)
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DAILY_QUOTA_CODE",
    "OUTCOME_COLUMNS",
    "Outcome",
    "Reply",
    "ResultTable",
    "Status",
    "Verdict",
    "results_frame",
]


class Verdict(enum.Enum):
    """What one provider answer means for one message; the engine maps it to a status."""

    ACCEPTED = "accepted"  # provider took it; message_id set -> sent
    REJECTED = "rejected"  # permanent, for this message/recipient -> rejected
    THROTTLED = "throttled"  # the send rate; retry after backing off, and slow down
    DAILY_QUOTA = "daily_quota"  # the 24-hour quota is used up: stop; rows fail, resend later
    TRANSIENT = "transient"  # retry with backoff (5xx, connection refused before sending)
    UNKNOWN = "unknown"  # the request left but no answer came: never resent automatically


@dataclass(frozen=True, slots=True)
class Reply:
    """The provider's answer for one message of a batch."""

    verdict: Verdict
    started_at: float
    finished_at: float
    message_id: str | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None


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

DAILY_QUOTA_CODE = "DailyQuotaExceeded"
"""The error code of every row stopped by the 24-hour quota, whatever the provider said."""


class ResultTable:
    """The results frame, filled position by position and built once.

    Rows start with ``status`` None (not final yet) unless ``default`` gives every row a
    status, code and message (a dry run starts every row ``skipped``/``DryRun``).
    """

    def __init__(
        self,
        row_keys: Sequence[str],
        transport: str,
        *,
        default: tuple[Status, str, str] | None = None,
    ) -> None:
        n = len(row_keys)
        self.size = n
        self._row_keys = row_keys
        self._transport = transport
        status, code, message = default if default is not None else (None, None, None)
        self._status: list[str | None] = [status.value if status else None] * n
        self._recipient: list[str | None] = [None] * n
        self._message_id: list[str | None] = [None] * n
        self._code: list[str | None] = [code] * n
        self._message: list[str | None] = [message] * n
        self._attempts: list[int] = [0] * n
        self._started: list[float | None] = [None] * n
        self._finished: list[float | None] = [None] * n
        self._batch: list[str | None] = [None] * n
        self._transports: dict[int, str] = {}

    def put(self, position: int, outcome: Outcome) -> None:
        """Record one row's outcome."""
        self._status[position] = outcome.status.value
        self._recipient[position] = outcome.recipient
        self._message_id[position] = outcome.message_id
        self._code[position] = outcome.error_code
        self._message[position] = outcome.error_message
        self._attempts[position] = outcome.attempts
        self._started[position] = outcome.started_at
        self._finished[position] = outcome.finished_at
        self._batch[position] = outcome.batch_id
        if outcome.transport != self._transport:
            self._transports[position] = outcome.transport

    def put_recipient(self, position: int, recipient: str) -> None:
        """Record who a row would go to (a dry run renders without sending)."""
        self._recipient[position] = recipient

    def frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """The results as a DataFrame with :data:`OUTCOME_COLUMNS`, on ``index`` when given."""
        import numpy as np
        import pandas as pd

        n = self.size
        transport: list[str] | str = self._transport
        if self._transports:
            transport = [self._transports.get(i, self._transport) for i in range(n)]
        columns: dict[str, Any] = {
            "row_key": list(self._row_keys),
            "status": self._status,
            "transport": transport,
            "recipient": self._recipient,
            "message_id": self._message_id,
            "error_code": self._code,
            "error_message": self._message,
            "attempts": np.asarray(self._attempts, dtype=np.int64),
            "started_at": np.asarray(self._started, dtype=float),
            "finished_at": np.asarray(self._finished, dtype=float),
            "batch_id": self._batch,
        }
        if index is not None and len(index) != n:
            raise ValueError(f"index has {len(index)} labels for {n} rows")
        return pd.DataFrame(columns, columns=list(OUTCOME_COLUMNS), index=index)


def results_frame(
    outcomes: Sequence[Outcome | None],
    index: pd.Index | None = None,
    *,
    row_keys: Sequence[str] | None = None,
    transport: str = "",
) -> pd.DataFrame:
    """Outcomes (None = not final yet) as the results frame, in order, on ``index``.

    ``row_keys`` names the rows that have no outcome yet; without it they get an empty key.
    """
    keys = (
        row_keys if row_keys is not None else [o.row_key if o is not None else "" for o in outcomes]
    )
    first = next((o for o in outcomes if o is not None), None)
    table = ResultTable(keys, transport or (first.transport if first else ""))
    for position, outcome in enumerate(outcomes):
        if outcome is not None:
            table.put(position, outcome)
    return table.frame(index)
