"""The hard bounces and complaints of earlier runs, kept so the next run does not repeat them.

SES keeps an account-level suppression list, but only when SuppressedReasons says so, only
per Region, and a team may send through SMTP relays or other accounts too. The toolkit keeps
its own record: :func:`record_feedback` appends the permanent bounces and complaints of an
events frame (:mod:`toolkit.measure.events`) to a small SQLite file, and
:class:`toolkit.compose.suppression.SuppressionList` reads it back before the next send.
Soft (``Transient``/``Undetermined``) bounces are not kept: the address may work tomorrow.

Usage::

    events = events_from_sandbox(sandbox)          # or events_from_sqs(queue_url)
    record_feedback(events, "sends/feedback.sqlite3")
    FeedbackHistory("sends/feedback.sqlite3").entries()   # [(address, reason, at, message_id)]
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pandas as pd

__all__ = ["FeedbackHistory", "record_feedback"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    address TEXT NOT NULL,          -- lower-cased bare address
    reason TEXT NOT NULL,           -- BOUNCE | COMPLAINT
    at REAL NOT NULL,               -- unix seconds of the event
    message_id TEXT,
    detail TEXT,
    PRIMARY KEY (address, reason)
);
"""


class FeedbackHistory:
    """One SQLite file of addresses that hard-bounced or complained (latest event kept)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(self.path), timeout=30)
        db.executescript(_SCHEMA)
        return db

    def add(self, rows: list[tuple[str, str, float, str | None, str | None]]) -> int:
        """Insert or refresh ``(address, reason, at, message_id, detail)`` rows."""
        if not rows:
            return 0
        db = self._connect()
        try:
            with db:
                db.executemany(
                    "INSERT INTO feedback VALUES (?,?,?,?,?) ON CONFLICT(address, reason) DO "
                    "UPDATE SET at=excluded.at, message_id=excluded.message_id, "
                    "detail=excluded.detail WHERE excluded.at >= feedback.at",
                    [(a.strip().lower(), r, at, m, d) for a, r, at, m, d in rows],
                )
        finally:
            db.close()
        return len(rows)

    def entries(self) -> list[tuple[str, str, float, str | None]]:
        """Every kept ``(address, reason, at, message_id)``; empty when the file is missing."""
        if not self.path.exists():
            return []
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            return [
                (str(a), str(r), float(at), m)
                for a, r, at, m in db.execute(
                    "SELECT address, reason, at, message_id FROM feedback ORDER BY address"
                )
            ]
        except sqlite3.OperationalError:  # a file without our table: nothing recorded yet
            return []
        finally:
            db.close()


def record_feedback(events: pd.DataFrame, path: str | os.PathLike[str]) -> int:
    """Append the hard bounces and complaints of ``events`` (an events frame) to the history
    at ``path``; returns how many rows were written."""
    if events.empty:
        return 0
    kind = events["event"].astype(str)
    hard = (kind == "bounce") & (events["bounce_type"].astype(str) == "Permanent")
    complaint = kind == "complaint"
    chosen = events[hard | complaint]
    now = time.time()
    rows: list[tuple[str, str, float, str | None, str | None]] = []
    for record in chosen.itertuples(index=False):
        when = getattr(record, "event_time", None)
        at = now if when is None or pd.isna(when) else pd.Timestamp(when).timestamp()
        rows.append(
            (
                str(record.recipient),
                "COMPLAINT" if record.event == "complaint" else "BOUNCE",
                at,
                None if pd.isna(record.message_id) else str(record.message_id),
                None if pd.isna(record.detail) else str(record.detail),
            )
        )
    return FeedbackHistory(path).add(rows)
