"""What happened: a provider's answer for one message, and the final outcome of one row.

Two small vocabularies, shared by every stage:

* :class:`Verdict` / :class:`Reply` — what one provider answer means for one message. A
  transport returns them; the engine turns them into outcomes.
* :class:`Status` / :class:`Outcome` — the final status of one input row. Every row ends with
  exactly one.

The results frame is built in one place, :class:`ResultTable` (column by column, so a million
rows never become a million objects); :func:`results_frame` is its shortcut for a list of
outcomes. In the frame, ``started_at``/``finished_at`` are timezone-aware (UTC) datetimes and
input columns asked for with ``keep=`` follow the outcome columns; everything before the
frame (transports, engine, ledger) keeps epoch floats, which are cheap to compare and store.
:func:`epoch_seconds` turns either form (or ISO text read back from a CSV) into floats for
the code that computes with them.

Usage::

    from toolkit.results import Outcome, Status, results_frame
    frame = results_frame(outcomes, index=df.index)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DAILY_QUOTA_CODE",
    "OUTCOME_COLUMNS",
    "TIME_COLUMNS",
    "Outcome",
    "Reply",
    "ResultTable",
    "RunSummary",
    "Status",
    "Verdict",
    "check_keep",
    "epoch_seconds",
    "results_frame",
    "utc_datetimes",
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
TIME_COLUMNS: tuple[str, ...] = ("started_at", "finished_at")

DAILY_QUOTA_CODE = "DailyQuotaExceeded"
"""The error code of every row stopped by the 24-hour quota, whatever the provider said."""


class ResultTable:
    """The results frame, filled position by position and built once.

    Rows start with ``status`` None (not final yet) unless ``default`` gives every row a
    status, code and message (a dry run starts every row ``skipped``/``DryRun``). The columns
    only a sent request fills (message id, attempts, times, batch) are made on first use: a
    dry run of a million rows never holds them.
    """

    _SPARSE = ("message_id", "attempts", "started_at", "finished_at", "batch_id")

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
        self._code: list[str | None] = [code] * n
        self._message: list[str | None] = [message] * n
        self._sparse: dict[str, list[Any]] = {}
        self._transports: dict[int, str] = {}

    def _set(self, column: str, position: int, value: Any) -> None:
        values = self._sparse.get(column)
        if values is None:
            if value is None or (column == "attempts" and value == 0):
                return  # still the column's default: nothing to hold yet
            values = self._sparse[column] = [0 if column == "attempts" else None] * self.size
        values[position] = value

    def put(self, position: int, outcome: Outcome) -> None:
        """Record one row's outcome."""
        self._status[position] = outcome.status.value
        self._recipient[position] = outcome.recipient
        self._code[position] = outcome.error_code
        self._message[position] = outcome.error_message
        self._set("message_id", position, outcome.message_id)
        self._set("attempts", position, outcome.attempts)
        self._set("started_at", position, outcome.started_at)
        self._set("finished_at", position, outcome.finished_at)
        self._set("batch_id", position, outcome.batch_id)
        if outcome.transport != self._transport:
            self._transports[position] = outcome.transport

    def put_recipient(self, position: int, recipient: str) -> None:
        """Record who a row would go to (a dry run renders without sending)."""
        self._recipient[position] = recipient

    def frame(
        self, index: pd.Index | None = None, keep: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """The results as a DataFrame with :data:`OUTCOME_COLUMNS`, on ``index`` when given.

        ``keep``: input columns to carry along (row for row, by position), after the outcome
        columns. Times become UTC datetimes here, and only here.
        """
        import numpy as np
        import pandas as pd

        n = self.size
        transport: list[str] | str = self._transport
        if self._transports:
            transport = [self._transports.get(i, self._transport) for i in range(n)]
        sparse = self._sparse
        attempts = sparse.get("attempts")
        columns: dict[str, Any] = {
            "row_key": self._row_keys if isinstance(self._row_keys, list) else list(self._row_keys),
            "status": self._status,
            "transport": transport,
            "recipient": self._recipient,
            "message_id": sparse.get("message_id"),
            "error_code": self._code,
            "error_message": self._message,
            "attempts": (
                np.zeros(n, dtype=np.int64)
                if attempts is None
                else np.asarray(attempts, dtype=np.int64)
            ),
            "started_at": utc_datetimes(sparse.get("started_at"), n),
            "finished_at": utc_datetimes(sparse.get("finished_at"), n),
            "batch_id": sparse.get("batch_id"),
        }
        if index is not None and len(index) != n:
            raise ValueError(f"index has {len(index)} labels for {n} rows")
        order = list(OUTCOME_COLUMNS)
        if keep is not None:
            if len(keep) != n:
                raise ValueError(f"keep= has {len(keep)} rows for {n} results")
            for name in keep.columns:
                columns[name] = keep[name].to_numpy()
                order.append(name)
        return pd.DataFrame(columns, columns=order, index=index)


def results_frame(
    outcomes: Sequence[Outcome | None],
    index: pd.Index | None = None,
    *,
    row_keys: Sequence[str] | None = None,
    transport: str = "",
    keep: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Outcomes (None = not final yet) as the results frame, in order, on ``index``.

    ``row_keys`` names the rows that have no outcome yet; without it they get an empty key.
    ``keep``: input columns carried into the frame (see :meth:`ResultTable.frame`).
    """
    keys = (
        row_keys if row_keys is not None else [o.row_key if o is not None else "" for o in outcomes]
    )
    first = next((o for o in outcomes if o is not None), None)
    table = ResultTable(keys, transport or (first.transport if first else ""))
    for position, outcome in enumerate(outcomes):
        if outcome is not None:
            table.put(position, outcome)
    return table.frame(index, keep)


def check_keep(keep: Sequence[str] | str | None, available: Sequence[Any]) -> tuple[str, ...]:
    """The input columns ``keep=`` asks for, checked against the frame's columns.

    Raises MissingColumnError for a column the frame lacks, ConfigurationError for a name
    the results already use (``status``, ``recipient``…: rename the input column first).
    """
    from toolkit.errors import ConfigurationError, MissingColumnError

    if keep is None:
        return ()
    names = (keep,) if isinstance(keep, str) else tuple(keep)
    present = {str(c) for c in available}
    for name in names:
        if not isinstance(name, str):
            raise ConfigurationError(f"keep= takes column names, not {type(name).__name__}")
        if name in OUTCOME_COLUMNS:
            raise ConfigurationError(
                f"keep={name!r}: the results already have a {name!r} column; rename the "
                "input column to keep it"
            )
        if name not in present:
            raise MissingColumnError(name, "keep=")
    if len(set(names)) != len(names):
        raise ConfigurationError(f"keep= names a column twice: {list(names)}")
    return names


def epoch_seconds(values: Any) -> Any:
    """Timestamps as a float array of epoch seconds (NaN where missing).

    Takes what a results column may hold: the frame's UTC datetimes, epoch floats (older
    files), or ISO 8601 text (a results CSV read back without parsing dates).
    """
    import numpy as np
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(series):
        numbers = pd.to_numeric(series, errors="coerce")
        if numbers.notna().sum() == series.notna().sum():
            return numbers.to_numpy(dtype=float)
        series = pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")
    if series.dt.tz is None:
        series = series.dt.tz_localize("UTC")
    delta = series - pd.Timestamp(0, tz="UTC")
    return (delta / pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=np.nan)


def utc_datetimes(seconds: Sequence[float | None] | Any | None, n: int) -> Any:
    """Epoch seconds as UTC datetimes (NaT where None, or everywhere when None), exact to the
    microsecond."""
    import numpy as np
    import pandas as pd

    if seconds is None:
        return pd.DatetimeIndex(np.full(n, np.datetime64("NaT", "us")), tz="UTC")
    micros = np.round(np.asarray(seconds, dtype=float) * 1e6)
    return pd.to_datetime(micros, unit="us", utc=True)


@dataclass(frozen=True)
class RunSummary:
    """What one run did, in one shape for ``send``, ``send_in_background``,
    ``send_partitioned`` and the CLI (the results file's summary sidecar holds it too).

    Attributes:
        counts: rows per status.
        transport: the ``via`` name (or the transport object's name).
        target: where it went, in words: "embedded sandbox (nothing left this machine)",
            "AWS eu-west-1", "SMTP host:587", ... (never a secret).
        dry_run: nothing was sent.
        elapsed: seconds the sending took (None for a dry run).
        sent_per_second: ``sent`` messages per second of sending (skipped rows never count).
        rate: the pace asked for (recipients per second), None when adaptive.
        max_send_rate: the provider's limit when known (SES ``MaxSendRate``).
        run_id: the ledger's run id; stopped: why the run stopped early, if it did.
        partitions / failed_partitions / dashboard: the partitioned path's extras.
    """

    counts: Mapping[str, int]
    transport: str
    target: str = ""
    dry_run: bool = False
    elapsed: float | None = None
    sent_per_second: float | None = None
    rate: float | None = None
    max_send_rate: float | None = None
    run_id: str | None = None
    stopped: str | None = None
    partitions: int | None = None
    failed_partitions: int | None = None
    dashboard: str | None = None

    @classmethod
    def build(
        cls, counts: Mapping[str, int], *, elapsed: float | None = None, **details: Any
    ) -> RunSummary:
        """The summary of a run that sent ``counts`` in ``elapsed`` seconds (the one place
        the rate of sent messages is computed)."""
        plain = {str(k): int(v) for k, v in counts.items() if int(v)}
        sent = plain.get(Status.SENT.value, 0)
        per_second = round(sent / elapsed, 2) if elapsed and elapsed > 0 else None
        if elapsed is not None:
            elapsed = round(elapsed, 3)
        return cls(counts=plain, elapsed=elapsed, sent_per_second=per_second, **details)

    @classmethod
    def of(cls, frame: pd.DataFrame) -> RunSummary | None:
        """The summary a results frame carries (``frame.attrs["summary"]``), if any."""
        saved = getattr(frame, "attrs", {}).get("summary")
        if not isinstance(saved, Mapping):
            return None
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in saved.items() if k in known}
        values.setdefault("counts", {})
        values.setdefault("transport", "")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (what ``frame.attrs["summary"]`` and the sidecar hold)."""
        plain = asdict(self)
        plain["counts"] = dict(self.counts)
        return plain
