"""Durable per-row send state in SQLite, so a run can resume without sending anything twice.

One row per message, keyed by ``(row_key, content_hash)``: the same key with a different
content hash is a *different* message (the data changed since the last run), so it is sent.

Row states:

==============  =============================================================================
``in_flight``   the request carrying it is about to leave or has left (journal before send)
``pending``     known not sent yet (a throttled/transient attempt waiting to be retried, or a
                batch the provider refused as a whole: a configuration fault stopped the run)
``sent``        final – never sent again
``rejected``    final – never sent again
``unknown``     final – may or may not have gone; resent only with ``retry_unknown=True``
``failed``      transient errors outlasted the budget; a later run sends it again
==============  =============================================================================

Rows absent from the ledger have never been attempted. When a ledger is opened, rows left
``in_flight`` by a crashed run become ``unknown`` (code ``InterruptedInFlight``).

Durability: WAL mode. With ``durable=False`` (default, ``synchronous=NORMAL``) a commit is a
``write()`` into the WAL file – it survives the *process* being killed (SIGKILL, kernel OOM,
a crashed kernel in Jupyter), which is what journal-before-send needs, but not a power loss
of the machine. ``durable=True`` (``synchronous=FULL``) fsyncs every commit for that case.

Writes are grouped, and answers are written behind: a batch's in-flight mark is committed
before its request leaves (one transaction), while its answers are staged and committed with
the next in-flight mark, or at most ``ANSWER_DELAY`` seconds later, or before any read and at
the end of the run. One commit per batch instead of two halves the ledger's cost for
one-message calls (``ses``, ``smtp``). The price: a crash can lose answers of the last
``ANSWER_DELAY`` seconds, and those rows come back ``unknown`` (never resent silently). With
``durable=True`` every answer is committed at once.
One run per ledger at a time: opening a ledger whose unfinished run belongs to another live
process raises :class:`~toolkit.errors.ConfigurationError` (its in-flight rows are not ours to
recover). So does a path no ledger can live at (a directory, a missing directory, a name
ending in ``/``) and a file that is not a ledger (not SQLite, damaged, another schema):
:func:`check_ledger_path` looks before anything is sent, the constructor when it opens it.

Why one module of this size: the row states, the SQL that moves rows between them and the
write-behind discipline are one contract (journal before send, nothing sent twice); split,
each half would have to trust the other's SQL.

Usage::

    with Ledger("run.sqlite") as ledger:
        records = ledger.lookup([("42", "9f2c…")])
        ledger.mark_in_flight([InFlight("42", "9f2c…", "ana@example.org", 1)], "b-1", 1.0e9)
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from toolkit.errors import ConfigurationError
from toolkit.results import Outcome, Status

if TYPE_CHECKING:
    import pandas as pd

IN_FLIGHT = "in_flight"
PENDING = "pending"
INTERRUPTED_CODE = "InterruptedInFlight"
FINAL_STATES = frozenset({"sent", "rejected", "unknown"})  # never resent (unknown: unless asked)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    row_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    recipient TEXT,
    transport TEXT,
    message_id TEXT,
    error_code TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    batch_id TEXT,
    run_id TEXT,
    updated_at REAL,
    PRIMARY KEY (row_key, content_hash)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rows_status ON rows(status);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at REAL,
    finished_at REAL,
    transport TEXT,
    pid INTEGER,
    note TEXT
);
"""

_COLUMNS = (
    "row_key, content_hash, status, recipient, transport, message_id, error_code, "
    "error_message, attempts, started_at, finished_at, batch_id, run_id, updated_at"
)
_RUN_COLUMNS = frozenset(["run_id", "started_at", "finished_at", "transport", "pid", "note"])
_MEMORY = ":memory:"
_LOOKUP_CHUNK = 500


def check_ledger_path(path: str | os.PathLike[str]) -> Path:
    """The ledger's path, or ConfigurationError when no ledger file can live there.

    Refused: a directory (or a name ending in ``/``), a directory that does not exist, a
    directory we cannot write to. The file itself is checked when it is opened.
    """
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(f"ledger {text!r}: give a file path, e.g. run.sqlite")
    if text == _MEMORY:
        return Path(text)
    where = Path(text)
    if text.endswith(("/", os.sep)) or where.is_dir():
        what = "is a directory" if where.is_dir() else "names a directory (it ends in /)"
        raise ConfigurationError(
            f"ledger {text} {what}: give a file path, e.g. {where / 'ledger.sqlite'}"
        )
    parent = where.parent
    if not parent.is_dir():
        raise ConfigurationError(
            f"ledger {text}: the directory {parent} does not exist; create it first or give "
            "another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK) or (
        where.exists() and not os.access(where, os.R_OK | os.W_OK)
    ):
        raise ConfigurationError(f"ledger {text}: not writable here; give a path you can write")
    return where


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:  # pragma: no cover - e.g. platforms without signal 0
        return False
    return True


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """What the ledger remembers about one message."""

    row_key: str
    content_hash: str
    status: str
    recipient: str | None
    transport: str | None
    message_id: str | None
    error_code: str | None
    error_message: str | None
    attempts: int
    started_at: float | None
    finished_at: float | None
    batch_id: str | None
    run_id: str | None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATES

    def to_outcome(self) -> Outcome:
        """The recorded outcome (for a row a resumed run does not send again)."""
        return Outcome(
            row_key=self.row_key,
            status=Status(self.status),
            transport=self.transport or "",
            recipient=self.recipient or "",
            message_id=self.message_id,
            error_code=self.error_code,
            error_message=self.error_message,
            attempts=self.attempts,
            started_at=self.started_at,
            finished_at=self.finished_at,
            batch_id=self.batch_id,
        )


@dataclass(frozen=True, slots=True)
class InFlight:
    """One message about to be sent."""

    row_key: str
    content_hash: str
    recipient: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Pending:
    """One message whose attempt failed retryably: known not sent, waiting for a retry."""

    row_key: str
    content_hash: str
    attempts: int
    error_code: str | None
    error_message: str | None


ANSWER_DELAY = 0.2  # seconds an answer may wait to share the next commit


class Ledger:
    """The SQLite journal of one send (or of several resumed runs of the same send).

    One connection shared by the engine's worker threads, guarded by a lock: SQLite has a
    single writer anyway, and each batch costs one short transaction (its answers ride on a
    later one; see the module docstring).
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = False) -> None:
        self.path = check_ledger_path(path)
        self.run_id = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self._write_behind = not durable
        self._staged_finals: list[tuple[Any, ...]] = []
        self._staged_pending: list[tuple[Any, ...]] = []
        self._flush_timer: threading.Timer | None = None
        existed = str(self.path) != _MEMORY and self.path.exists() and self.path.stat().st_size
        try:
            self._conn = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None, timeout=30.0
            )
        except sqlite3.Error as exc:
            raise ConfigurationError(f"ledger {self.path}: cannot open it ({exc})") from exc
        try:
            self._open(durable=durable, check=bool(existed))
            self._refuse_if_in_use()
            self.recovered = self._recover()
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.Error):
                raise self._not_a_ledger(str(exc)) from exc
            raise

    # -- lifecycle -------------------------------------------------------------------------

    def _open(self, *, durable: bool, check: bool) -> None:
        """Settings, the schema, and (for a file that was there) a check that it is one of
        ours and intact, so a damaged file stops the run now rather than mid-send."""
        conn = self._conn
        if check:
            self._check_existing()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        conn.executescript(_SCHEMA)

    def _check_existing(self) -> None:
        """An existing file must be an intact ledger: never add our tables to another
        database, never run on a damaged one."""
        conn = self._conn
        verdict = conn.execute("PRAGMA quick_check(1)").fetchone()
        if not verdict or verdict[0] != "ok":
            raise self._not_a_ledger(f"damaged: {verdict[0] if verdict else 'no answer'}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return  # an empty database: the schema is made next
        if not {"rows", "runs"} <= tables:
            raise self._not_a_ledger(f"its tables are {', '.join(sorted(tables)[:5])}")
        for table, wanted in (("rows", frozenset(c.strip() for c in _COLUMNS.split(","))),
                              ("runs", _RUN_COLUMNS)):  # fmt: skip
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if not wanted <= have:
                gone = sorted(wanted - have)
                missing = ", ".join(gone[:4]) + (", …" if len(gone) > 4 else "")
                raise self._not_a_ledger(f"its table {table!r} has no {missing}")

    def _not_a_ledger(self, reason: str) -> ConfigurationError:
        return ConfigurationError(
            f"ledger {self.path} is not a toolkit ledger ({reason}); give a new file, or move "
            "this one away"
        )

    def _refuse_if_in_use(self) -> None:
        """Another live process running on this ledger would have its in-flight rows turned
        into ``unknown`` (and could send rows twice): refuse."""
        rows = self._conn.execute("SELECT DISTINCT pid FROM runs WHERE finished_at IS NULL")
        for (pid,) in rows.fetchall():
            if pid and pid != os.getpid() and _alive(pid):
                raise ConfigurationError(
                    f"ledger {self.path} is in use by a running send (process {pid}); wait for "
                    "it to finish or stop it first"
                )

    def _recover(self) -> int:
        """Rows a previous run left in flight become ``unknown``: they may have gone."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE rows SET status='unknown', error_code=?, error_message=?, updated_at=? "
                "WHERE status=?",
                (
                    INTERRUPTED_CODE,
                    "the run stopped while this message's request was in flight",
                    time.time(),
                    IN_FLIGHT,
                ),
            )
            return cur.rowcount

    def start_run(self, transport: str, note: str = "") -> str:
        """Record that a run starts; returns its id."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO runs(run_id, started_at, transport, pid, note) VALUES (?,?,?,?,?)",
                (self.run_id, time.time(), transport, os.getpid(), note),
            )
        return self.run_id

    def finish_run(self) -> None:
        with self._lock:
            self._commit_staged()
            self._conn.execute(
                "UPDATE runs SET finished_at=? WHERE run_id=?", (time.time(), self.run_id)
            )

    def flush(self) -> None:
        """Commit staged answers now."""
        with self._lock:
            self._commit_staged()

    def close(self) -> None:
        with self._lock:
            self._commit_staged()
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------------

    def lookup(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], LedgerRecord]:
        """The records of these ``(row_key, content_hash)`` keys that the ledger knows."""
        found: dict[tuple[str, str], LedgerRecord] = {}
        wanted = set(keys)
        row_keys = list(dict.fromkeys(k for k, _ in keys))
        with self._lock:
            self._commit_staged()
            for start in range(0, len(row_keys), _LOOKUP_CHUNK):
                chunk = row_keys[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(
                    f"SELECT {_COLUMNS} FROM rows WHERE row_key IN ({marks})", chunk
                ):
                    key = (row[0], row[1])
                    if key in wanted:
                        found[key] = LedgerRecord(*row[:13])
        return found

    def records(self) -> list[LedgerRecord]:
        """Every record (for tests and small ledgers)."""
        with self._lock:
            self._commit_staged()
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM rows").fetchall()
        return [LedgerRecord(*row[:13]) for row in rows]

    def counts(self) -> dict[str, int]:
        """Rows per ledger state."""
        with self._lock:
            self._commit_staged()
            rows = self._conn.execute("SELECT status, COUNT(*) FROM rows GROUP BY status")
            return {status: count for status, count in rows}

    def frame(self) -> pd.DataFrame:
        """The whole ledger as a DataFrame."""
        import pandas as pd

        with self._lock:
            self._commit_staged()
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM rows").fetchall()
        return pd.DataFrame.from_records(rows, columns=[c.strip() for c in _COLUMNS.split(",")])

    # -- writes (one transaction each) -----------------------------------------------------

    def mark_in_flight(
        self, entries: Iterable[InFlight], batch_id: str, started_at: float, transport: str = ""
    ) -> None:
        """Journal a batch *before* its request leaves; committed when this returns."""
        now = time.time()
        params = [
            (
                e.row_key,
                e.content_hash,
                IN_FLIGHT,
                e.recipient,
                transport,
                e.attempts,
                started_at,
                batch_id,
                self.run_id,
                now,
            )
            for e in entries
        ]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._write_staged()  # answers first: a retried row goes pending -> in flight
                self._conn.executemany(
                    "INSERT INTO rows(row_key, content_hash, status, recipient, transport, "
                    "attempts, started_at, batch_id, run_id, updated_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(row_key, content_hash) DO UPDATE SET status=excluded.status, "
                    "recipient=excluded.recipient, transport=excluded.transport, "
                    "attempts=excluded.attempts, started_at=excluded.started_at, "
                    "finished_at=NULL, batch_id=excluded.batch_id, run_id=excluded.run_id, "
                    "updated_at=excluded.updated_at",
                    params,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def record(
        self,
        finals: Iterable[tuple[str, Outcome]],
        pending: Iterable[Pending] = (),
    ) -> None:
        """Store the answers of one batch: final outcomes (with their content hash) and
        members put back to ``pending`` for a retry, in one transaction."""
        now = time.time()
        final_params = [
            (
                content_hash,
                o.row_key,
                o.status.value,
                o.recipient,
                o.transport,
                o.message_id,
                o.error_code,
                o.error_message,
                o.attempts,
                o.started_at,
                o.finished_at,
                o.batch_id,
                self.run_id,
                now,
            )
            for content_hash, o in finals
        ]
        pending_params = [
            (PENDING, p.attempts, p.error_code, p.error_message, now, p.row_key, p.content_hash)
            for p in pending
        ]
        if not final_params and not pending_params:
            return
        with self._lock:
            self._staged_finals.extend(final_params)
            self._staged_pending.extend(pending_params)
            if not self._write_behind:
                self._commit_staged()
            elif self._flush_timer is None:
                self._flush_timer = threading.Timer(ANSWER_DELAY, self.flush)
                self._flush_timer.daemon = True
                self._flush_timer.start()

    def _commit_staged(self) -> None:
        """Commit staged answers in a transaction of their own (caller holds the lock)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if not self._staged_finals and not self._staged_pending:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._write_staged()
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _write_staged(self) -> None:
        """Write staged answers inside the caller's transaction (caller holds the lock)."""
        final_params, self._staged_finals = self._staged_finals, []
        pending_params, self._staged_pending = self._staged_pending, []
        if final_params:
            self._conn.executemany(
                "INSERT INTO rows(content_hash, row_key, status, recipient, transport, "
                "message_id, error_code, error_message, attempts, started_at, "
                "finished_at, batch_id, run_id, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(row_key, content_hash) DO UPDATE SET "
                "status=excluded.status, recipient=excluded.recipient, "
                "transport=excluded.transport, message_id=excluded.message_id, "
                "error_code=excluded.error_code, error_message=excluded.error_message, "
                "attempts=excluded.attempts, started_at=excluded.started_at, "
                "finished_at=excluded.finished_at, batch_id=excluded.batch_id, "
                "run_id=excluded.run_id, updated_at=excluded.updated_at",
                final_params,
            )
        if pending_params:
            self._conn.executemany(
                "UPDATE rows SET status=?, attempts=?, error_code=?, error_message=?, "
                "updated_at=? WHERE row_key=? AND content_hash=?",
                pending_params,
            )

    def release(self, keys: Iterable[tuple[str, str]]) -> None:
        """Put in-flight rows back to ``pending`` (their request never left)."""
        params = [(PENDING, time.time(), k, h) for k, h in keys]
        if not params:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._write_staged()
            self._conn.executemany(
                "UPDATE rows SET status=?, updated_at=? WHERE row_key=? AND content_hash=? "
                "AND status='in_flight'",
                params,
            )
            self._conn.execute("COMMIT")
