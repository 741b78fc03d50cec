"""The sandbox's mailbox: every accepted message and its simulated events, in SQLite.

Both interfaces (HTTP API and SMTP) write here after the :class:`~toolkit.sandbox.policy.Policy`
admitted a message; tests, notebooks and the CLI read it back as pandas DataFrames.

Writes are cheap: :meth:`Mailbox.add` appends to an in-memory buffer (a few microseconds);
a background thread flushes it with ``executemany`` every ``flush_interval`` seconds or once
``flush_threshold`` rows are pending, and every read flushes first, so a read always sees
everything accepted before it. One SQLite connection is shared by all threads under a lock.

Durability: an accepted message is in the buffer for at most ``flush_interval`` (50 ms)
before it is committed, so a *process crash* can lose that much; stopping the sandbox, any
read, and :meth:`Mailbox.close` flush first.

In memory by default; with a path (``Mailbox.in_dir(state_dir)``) the database is a file in
WAL mode, durable across restarts and readable from another process with
``Mailbox.open(state_dir)`` (read-only).

Usage::

    mailbox = Mailbox()                                   # or Mailbox.in_dir(state_dir)
    message_id = mailbox.add(
        interface="smtp", sender="sender@example.com", recipients=["a@example.org"],
        subject="Hi", content=raw_mime_bytes, content_kind="mime",
    )
    mailbox.messages()      # DataFrame, one row per message
    mailbox.events()        # DataFrame, one row per (message, recipient, event)
    mailbox.count()         # number of messages
    mailbox.close()

Tables: ``messages(message_id, interface, sender, recipients (JSON list), n_recipients,
subject, size, accepted_at (unix seconds), content_kind ('mime'|'json'), content, detail)``,
``events(message_id, recipient, event ('delivery'|'bounce'|'complaint'|'auto-reply'),
detail, at)`` and ``state(key, value)`` (JSON blobs the server persists: identities,
templates, apps).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.sandbox.policy import simulator_events

if TYPE_CHECKING:
    import pandas as pd

DB_NAME = "mailbox.sqlite3"
INTERFACES = ("ses-api", "ses-bulk", "pinpoint", "smtp", "verification")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    message_id TEXT PRIMARY KEY,
    interface TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipients TEXT NOT NULL,
    n_recipients INTEGER NOT NULL,
    subject TEXT,
    size INTEGER NOT NULL,
    accepted_at REAL NOT NULL,
    content_kind TEXT NOT NULL,
    content BLOB,
    detail TEXT
);
CREATE TABLE IF NOT EXISTS events (
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_message ON events(message_id);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tags (message_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT);
CREATE INDEX IF NOT EXISTS tags_message ON tags(message_id);
"""
_MESSAGE_COLUMNS = (
    "message_id",
    "interface",
    "sender",
    "recipients",
    "n_recipients",
    "subject",
    "size",
    "accepted_at",
    "content_kind",
    "content",
    "detail",
)
_EVENT_COLUMNS = ("message_id", "recipient", "event", "detail", "at")
_INSERT_MESSAGE = f"INSERT OR REPLACE INTO messages VALUES ({','.join('?' * 11)})"
_INSERT_EVENT = "INSERT INTO events VALUES (?,?,?,?,?)"


# A private generator: random.seed() elsewhere (tests, hypothesis) must not repeat our ids;
# reseeded in forked children so that parent and child never share a sequence.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def random_uuid() -> str:
    """A random version-4 UUID as text, without a system call per id.

    Ids only need to be unique, not unpredictable, and ``uuid.uuid4()`` reads ``os.urandom``
    each time, which is a measurable share of a request at thousands of requests per second.
    """
    h = f"{_ids.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def new_message_id(now: float | None = None) -> str:
    """An id shaped like SES's: ``0100`` + 12 hex digits of epoch ms, a UUID, ``-000000``."""
    ms = int((time.time() if now is None else now) * 1000)
    return f"0100{ms:012x}-{random_uuid()}-000000"


class Mailbox:
    """Accepted messages and their events; thread-safe.

    Args:
        path: SQLite file, or None for an in-memory database.
        read_only: open an existing file without writing (another process's mailbox).
        flush_interval: seconds between background flushes of the write buffer.
        flush_threshold: flush synchronously once this many rows are pending.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        flush_interval: float = 0.05,
        flush_threshold: int = 2000,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.read_only = read_only
        self._lock = threading.RLock()  # the database
        self._buffer_lock = threading.Lock()  # the write buffer
        self._pending_messages: list[tuple[Any, ...]] = []
        self._pending_events: list[tuple[Any, ...]] = []
        self._pending_tags: list[tuple[str, str, str]] = []
        self._flush_threshold = flush_threshold
        self._closed = False
        # (interface, message_id, recipients, suppressed_reasons) -> events: the account's
        # feedback model (suppression list, bounces, complaints; toolkit.sandbox.feedback).
        self.feedback: (
            Callable[[str, str, Sequence[str], Sequence[str] | None], list[tuple[str, str, str]]]
            | None
        ) = None
        # Seconds before an event is readable (``Faults.event_lag_ms``; the serving sandbox
        # stores it as state "event_lag_s", so another process's reader keeps it too).
        self.event_lag = 0.0
        if self.path is None:
            if read_only:
                raise ValueError("an in-memory mailbox cannot be opened read-only")
            self._db = sqlite3.connect(":memory:", check_same_thread=False)
        elif read_only:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        if not read_only:
            self._db.executescript(_SCHEMA)
            self._db.commit()
        self._wake = threading.Event()
        self._flusher: threading.Thread | None = None
        if not read_only:
            self._flush_interval = flush_interval
            self._flusher = threading.Thread(
                target=self._flush_loop, name="sandbox-mailbox-flush", daemon=True
            )
            self._flusher.start()

    @classmethod
    def in_dir(cls, state_dir: str | os.PathLike[str], **kwargs: Any) -> Mailbox:
        """A durable, writable mailbox in ``state_dir`` (created if needed)."""
        return cls(Path(state_dir) / DB_NAME, **kwargs)

    @classmethod
    def open(cls, state_dir: str | os.PathLike[str]) -> Mailbox:
        """Read another process's mailbox in ``state_dir`` (read-only)."""
        path = Path(state_dir)
        if path.is_dir():
            path = path / DB_NAME
        if not path.exists():
            raise FileNotFoundError(f"no sandbox mailbox at {path}")
        mailbox = cls(path, read_only=True)
        mailbox.event_lag = float(mailbox.get_state("event_lag_s", 0.0))  # the server's
        return mailbox

    # -- writing ----------------------------------------------------------------------------

    def add(
        self,
        *,
        interface: str,
        sender: str,
        recipients: Sequence[str],
        subject: str | None,
        content: bytes | str,
        content_kind: str = "mime",
        size: int | None = None,
        message_id: str | None = None,
        detail: str | None = None,
        accepted_at: float | None = None,
        events: Sequence[tuple[str, str, str]] | None = None,
        tags: Sequence[tuple[str, str]] = (),
        suppressed_reasons: Sequence[str] | None = None,
    ) -> str:
        """Record one accepted message and its per-recipient events; returns its message id.

        ``content`` is the raw MIME (``content_kind="mime"``) or a JSON text of the structured
        content (``"json"``). ``size`` defaults to ``len(content)``. Events come from
        :func:`~toolkit.sandbox.policy.simulator_events` (a delivery for ordinary addresses)
        unless ``events`` gives them as ``(recipient, event, detail)`` triples (for example a
        ``rendering-failure`` when a template variable had no value). ``tags`` are the
        message's SES message tags (name, value), as SES copies them into its events.
        ``suppressed_reasons`` are those of the send's configuration set, when it has its own
        (None: the account's).
        """
        if self.read_only:
            raise PermissionError("this mailbox is read-only")
        now = time.time() if accepted_at is None else accepted_at
        if message_id is None:
            message_id = new_message_id(now)
        if isinstance(content, str):
            content = content.encode("utf-8")
        recipients = list(recipients)
        row = (
            message_id,
            interface,
            sender,
            json.dumps(recipients),
            len(recipients),
            subject,
            len(content) if size is None else size,
            now,
            content_kind,
            content,
            detail,
        )
        if events is None and self.feedback is not None:
            events = self.feedback(interface, message_id, recipients, suppressed_reasons)
        if events is None:
            rows = [
                (message_id, recipient, event.kind, event.detail, now)
                for recipient in recipients
                for event in simulator_events(recipient)
            ]
        else:
            rows = [(message_id, r, kind, d, now) for r, kind, d in events]
        with self._buffer_lock:
            if self._closed:
                raise RuntimeError("mailbox is closed")
            self._pending_messages.append(row)
            self._pending_events.extend(rows)
            if tags:
                self._pending_tags.extend((message_id, name, value) for name, value in tags)
            pending = len(self._pending_messages)
        if pending >= self._flush_threshold:
            self.flush()
        return message_id

    def flush(self) -> None:
        """Write the buffer to SQLite now (reads call this themselves)."""
        if self.read_only:
            return
        # The database lock is taken first and held while writing, so a reader that flushes
        # waits for a flush in progress and then sees its rows; writers (add) only ever take
        # the buffer lock, so they are never blocked by SQLite.
        with self._lock:
            with self._buffer_lock:
                if not self._pending_messages and not self._pending_events:
                    return
                messages, self._pending_messages = self._pending_messages, []
                events, self._pending_events = self._pending_events, []
                tags, self._pending_tags = self._pending_tags, []
            with self._db:
                self._db.executemany(_INSERT_MESSAGE, messages)
                self._db.executemany(_INSERT_EVENT, events)
                if tags:
                    self._db.executemany("INSERT INTO tags VALUES (?,?,?)", tags)

    def clear(self) -> None:
        """Delete every message and event (keeps persisted server state)."""
        if self.read_only:
            raise PermissionError("this mailbox is read-only")
        with self._lock:
            with self._buffer_lock:
                self._pending_messages.clear()
                self._pending_events.clear()
                self._pending_tags.clear()
            with self._db:
                self._db.execute("DELETE FROM messages")
                self._db.execute("DELETE FROM events")
                self._db.execute("DELETE FROM tags")

    # -- server state (identities, templates, apps) -----------------------------------------

    def put_state(self, key: str, value: Any) -> None:
        """Persist one JSON-serialisable value under ``key``."""
        if self.read_only:
            raise PermissionError("this mailbox is read-only")
        text = json.dumps(value)
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, text))

    def get_state(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # -- reading ----------------------------------------------------------------------------

    def count(self, interface: str | None = None) -> int:
        """Number of accepted messages (of one interface when given)."""
        self.flush()
        with self._lock:
            if interface is None:
                row = self._db.execute("SELECT COUNT(*) FROM messages").fetchone()
            else:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM messages WHERE interface = ?", (interface,)
                ).fetchone()
        return int(row[0])

    def event_count(self) -> int:
        """Number of recorded events (where a follower of :meth:`events` starts)."""
        self.flush()
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def message(self, message_id: str) -> dict[str, Any] | None:
        """One message as a dict (recipients decoded, content as bytes), or None."""
        self.flush()
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM messages WHERE message_id = ?", (message_id,)
            ).fetchone()
        if row is None:
            return None
        record = dict(zip(_MESSAGE_COLUMNS, row, strict=True))
        record["recipients"] = json.loads(record["recipients"])
        return record

    def messages(self, interface: str | None = None, *, content: bool = False) -> pd.DataFrame:
        """Accepted messages in acceptance order, one row each.

        Columns: message_id, interface, sender, recipients (list), n_recipients, subject,
        size, accepted_at (UTC timestamp), content_kind, detail, and content (bytes) when
        ``content=True``.
        """
        import pandas as pd

        self.flush()
        columns = [c for c in _MESSAGE_COLUMNS if content or c != "content"]
        sql = f"SELECT {', '.join(columns)} FROM messages"
        params: tuple[Any, ...] = ()
        if interface is not None:
            sql += " WHERE interface = ?"
            params = (interface,)
        sql += " ORDER BY accepted_at, rowid"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=columns)
        frame["recipients"] = pd.Series(
            [json.loads(r) for r in frame["recipients"]], index=frame.index, dtype=object
        )
        frame = frame.astype({"n_recipients": "int64", "size": "int64"})
        frame["accepted_at"] = pd.to_datetime(frame["accepted_at"], unit="s", utc=True)
        return frame

    def events(self, message_id: str | None = None, *, start: int = 0) -> pd.DataFrame:
        """Simulated events, one row per (message, recipient, event), in order.

        Columns: message_id, recipient, event, detail, at (UTC timestamp). ``start`` skips the
        first events (a follower that read ``n`` events before asks from ``n`` on).
        """
        import pandas as pd

        self.flush()
        sql = f"SELECT {', '.join(_EVENT_COLUMNS)} FROM events"
        where: list[str] = []
        params: list[Any] = []
        if message_id is not None:
            where.append("message_id = ?")
            params.append(message_id)
        if self.event_lag > 0:  # not readable yet (recorded in time order: a prefix is)
            where.append("at <= ?")
            params.append(time.time() - self.event_lag)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY rowid"
        if start:
            sql += " LIMIT -1 OFFSET ?"
            params.append(int(start))
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=list(_EVENT_COLUMNS))
        frame["at"] = pd.to_datetime(frame["at"], unit="s", utc=True)
        return frame

    def tags(self, message_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """The accepted messages' SES message tags: columns message_id, name, value (only
        those of ``message_ids`` when given: a follower tags just the events it read)."""
        import pandas as pd

        self.flush()
        sql = "SELECT message_id, name, value FROM tags"
        wanted = None if message_ids is None else sorted(set(message_ids))
        chunks = (
            [()]
            if wanted is None
            else [tuple(wanted[i : i + 500]) for i in range(0, len(wanted), 500)]
        )
        rows: list[Any] = []
        with self._lock:
            try:
                for chunk in chunks:
                    where = f" WHERE message_id IN ({','.join('?' * len(chunk))})" if chunk else ""
                    rows += self._db.execute(sql + where + " ORDER BY rowid", chunk).fetchall()
            except sqlite3.OperationalError:  # a mailbox written before tags were kept
                rows = []
        return pd.DataFrame.from_records(rows, columns=["message_id", "name", "value"])

    # -- lifecycle --------------------------------------------------------------------------

    def _flush_loop(self) -> None:
        while not self._wake.wait(self._flush_interval):
            try:
                self.flush()
            except sqlite3.Error:  # pragma: no cover - keep the flusher alive
                continue

    def seal(self) -> None:
        """Flush and stop writing (the flusher thread ends) but stay readable.

        The sandbox seals its mailbox on stop, so a test or notebook can still read what was
        accepted, even from an in-memory database.
        """
        if self._closed or self.read_only:
            return
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
            self._flusher = None
        self.flush()
        self.read_only = True

    def close(self) -> None:
        """Flush, stop the flusher thread and close the database; idempotent."""
        if self._closed:
            return
        self._wake.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self.flush()
        with self._lock:
            with self._buffer_lock:
                self._closed = True
            self._db.close()

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else ":memory:"
        return f"Mailbox({where!r}, read_only={self.read_only})"
