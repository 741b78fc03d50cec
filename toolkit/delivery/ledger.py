"""Durable per-row send state in SQLite, so a run can resume without sending anything twice.

One row per message, keyed by ``(row_key, content_hash)``. The content hash covers the
recipients (case-folded, as pre-flight's duplicate rule compares them: ``B@x`` and ``b@x``
reach one inbox) and everything that is mailed, so a resume recognises a row in three ways
(:meth:`Ledger.reconcile`, then :meth:`Ledger.moved` and :meth:`Ledger.claim_changed`):

* the same key and hash: the row itself;
* the same hash under another key the frame no longer holds with that hash: the row *moved*
  (the file was re-exported with a row inserted, removed, or the order changed, and the key
  is the row number). Matched one to one, so a frame that sends the same message twice on
  purpose (``allow_duplicates``) still sends the second copy;
* the same recipient (case-folded, like the hash), other content, its old message not
  claimed by any row of the frame:
  the text changed since that message went. Not sent again unless asked
  (``EngineConfig.resend_changed``): the engine reports it ``skipped``/``ContentChanged``.

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
One run per ledger at a time: a ledger is held with an exclusive ``flock`` on ``<path>-lock``
while it is open, so a second open – by another process, or by this one (a notebook cell run
twice) – raises :class:`~toolkit.errors.ConfigurationError` (the other run's in-flight rows
are not ours to recover). The kernel drops the lock with its owner, so a killed run never
blocks a resume (a recorded PID could belong to another process by then). Only POSIX; on
NFS ``flock`` is only as good as the server's locking. Also refused: a path no ledger can
live at (a directory, a missing directory, a name ending in ``/``) and a file that is not a
ledger (not SQLite, damaged, another schema): :func:`check_ledger_path` looks before
anything is sent, the constructor when it opens it. A full disk, on creating the ledger or
mid-run, is :class:`~toolkit.errors.DiskFullError` (one line); what was committed stays, rows
whose answers could not be written come back ``unknown`` on the resume, never resent.

Why one module of this size: the row states, the SQL that moves rows between them and the
write-behind discipline are one contract (journal before send, nothing sent twice); split,
each half would have to trust the other's SQL.

Usage::

    with Ledger("run.sqlite") as ledger:
        records = ledger.lookup([("42", "9f2c…")])
        ledger.mark_in_flight([InFlight("42", "9f2c…", "ana@example.org", 1)], "b-1", 1.0e9)
"""

from __future__ import annotations

import contextlib
import errno
import logging
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

from toolkit.errors import ConfigurationError, DiskFullError
from toolkit.results import Outcome, Status

if TYPE_CHECKING:
    import pandas as pd

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock (one run per ledger is on the user)
    fcntl = None  # type: ignore[assignment]

IN_FLIGHT = "in_flight"
PENDING = "pending"
INTERRUPTED_CODE = "InterruptedInFlight"
FINAL_STATES = frozenset({"sent", "rejected", "unknown"})  # never resent (unknown: unless asked)
DELIVERED_STATES = ("sent", "unknown")  # may have reached the recipient
LOCK_SUFFIX = "-lock"
log = logging.getLogger(__name__)

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


def unanswered_keys(path: str | os.PathLike[str]) -> list[str]:
    """Row keys of a ledger whose request got no answer (``unknown``, or in flight when its
    run stopped), read without opening the ledger for a run (no recovery, no lock; a plain
    connection, as a WAL database left by a killed run may need its -shm made): what a
    partitioned resume resolves from events on the client. A missing file has none."""
    where = Path(path)
    if not where.exists():
        return []
    db = sqlite3.connect(str(where), timeout=30)
    try:
        found = db.execute(
            "SELECT row_key FROM rows WHERE status IN ('unknown', ?)", (IN_FLIGHT,)
        ).fetchall()
    finally:
        db.close()
    return [str(key) for (key,) in found]


def _disk_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or "disk is full" in str(exc)


def _finals_sql(statuses: Iterable[str]) -> str:
    return ",".join(f"'{s}'" for s in statuses)  # our own constants, never user text


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
        self._broken: DiskFullError | None = None  # the disk filled: no more writes
        self._moved = 0
        self._spare = 0
        self._lock_fd = self._hold()
        existed = str(self.path) != _MEMORY and self.path.exists() and self.path.stat().st_size
        try:
            self._conn = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None, timeout=30.0
            )
        except sqlite3.Error as exc:
            self._let_go()
            if _disk_full(exc):
                raise self._full(exc, opening=True) from exc
            raise ConfigurationError(f"ledger {self.path}: cannot open it ({exc})") from exc
        try:
            self._open(durable=durable, check=bool(existed))
            self.recovered = self._recover()
        except BaseException as exc:
            self._conn.close()
            self._let_go()
            if isinstance(exc, sqlite3.Error):
                if _disk_full(exc):
                    raise self._full(exc, opening=True) from exc
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

    def _hold(self) -> int | None:
        """Take the ledger's lock (``<path>-lock``, exclusive, not waiting): one run per
        ledger, in this process too. The kernel releases it when its owner dies."""
        if str(self.path) == _MEMORY or fcntl is None:
            return None
        lock_path = f"{self.path}{LOCK_SUFFIX}"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise self._full(exc, opening=True) from exc
            raise ConfigurationError(f"ledger {self.path}: cannot lock it ({exc})") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ConfigurationError(
                    f"ledger {self.path} is in use by another send (in this process or another); "
                    "wait for it to finish or cancel it, or give another ledger"
                ) from None
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                log.warning(
                    "ledger %s: this file system cannot lock files (%s); make sure no other "
                    "send uses this ledger at the same time",
                    self.path,
                    exc,
                )
                return None
            raise ConfigurationError(f"ledger {self.path}: cannot lock it ({exc})") from exc
        return fd

    def _let_go(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # releases the flock

    def _full(self, exc: BaseException, *, opening: bool = False) -> DiskFullError:
        where = self.path.parent if str(self.path) != _MEMORY else "memory"
        if opening:  # nothing was sent
            return DiskFullError(f"ledger {self.path}: disk full ({exc}); free space on {where} "
                                 "or give a ledger path on another disk")  # fmt: skip
        return DiskFullError(
            f"ledger {self.path}: disk full ({exc}); free space on {where} and resume with the "
            "same ledger: rows already answered are kept, rows in flight come back 'unknown'"
        )

    def _failed(self, exc: sqlite3.Error) -> BaseException:
        """A write failed: a full disk is one line and stops every later write; any other
        SQLite error stays what it is (a bug, or a damaged file)."""
        if _disk_full(exc):
            self._broken = self._full(exc)
            return self._broken
        return exc

    def _transaction(self, write: Any) -> None:
        """Run ``write()`` in one IMMEDIATE transaction (caller holds the lock)."""
        if self._broken is not None:
            raise self._broken
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                write()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite rolls back by itself on some errors
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

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
            self._transaction(lambda: self._conn.execute(
                "INSERT INTO runs(run_id, started_at, transport, pid, note) VALUES (?,?,?,?,?)",
                (self.run_id, time.time(), transport, os.getpid(), note),
            ))  # fmt: skip
        return self.run_id

    def finish_run(self) -> None:
        with self._lock:
            if self._broken is not None:  # the answers staged since could not be written
                raise self._broken
            self._commit_staged()
            self._transaction(lambda: self._conn.execute(
                "UPDATE runs SET finished_at=? WHERE run_id=?", (time.time(), self.run_id)
            ))  # fmt: skip

    def flush(self) -> None:
        """Commit staged answers now."""
        with self._lock:
            self._commit_staged()

    def _flush_behind(self) -> None:
        """The write-behind timer: a full disk is kept for the next write to raise."""
        with contextlib.suppress(DiskFullError):
            self.flush()

    def close(self) -> None:
        """Commit what is staged, close, and let go of the lock (also when the commit fails)."""
        with self._lock:
            try:
                if self._broken is None:
                    self._commit_staged()
            finally:
                self._conn.close()
                self._let_go()

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

    # -- a resumed frame: rows that moved, rows whose content changed ---------------------

    def reconcile(
        self,
        row_keys: Sequence[str],
        content_hashes: Sequence[str],
        positions: Sequence[int],
        *,
        retry_unknown: bool = False,
        resend_changed: bool = False,
    ) -> tuple[int, int]:
        """Match the frame about to be sent against what the ledger holds; call once, before
        :meth:`moved` and :meth:`claim_changed`. Returns (rows that moved, old messages no
        row of the frame claims, to be matched by recipient).

        Why in SQL: a resumed frame can have a million rows; temp tables keep them out of
        Python's memory, and a fresh ledger (nothing final yet) costs one query.
        """
        finals = _finals_sql(s for s in sorted(FINAL_STATES)
                             if not (retry_unknown and s == "unknown"))  # fmt: skip
        delivered = _finals_sql(s for s in DELIVERED_STATES
                                if not (retry_unknown and s == "unknown"))  # fmt: skip
        with self._lock:
            self._commit_staged()
            conn = self._conn
            try:
                for table in ("plan_rows", "covered", "spare"):
                    conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
                self._moved, self._spare = 0, 0
                some = f"SELECT EXISTS(SELECT 1 FROM rows WHERE status IN ({finals}))"
                if not conn.execute(some).fetchone()[0]:
                    return 0, 0  # a new ledger: nothing to match
                conn.execute("CREATE TEMP TABLE plan_rows(pos INTEGER PRIMARY KEY, "
                             "row_key TEXT NOT NULL, content_hash TEXT NOT NULL)")  # fmt: skip
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT INTO temp.plan_rows VALUES (?,?,?)",
                    ((int(p), row_keys[p], content_hashes[p]) for p in positions),
                )
                conn.execute("COMMIT")
                conn.execute("CREATE INDEX temp.plan_rows_key ON plan_rows(row_key, content_hash)")
                conn.execute("CREATE TEMP TABLE covered(pos INTEGER PRIMARY KEY, "
                             "row_key TEXT NOT NULL, content_hash TEXT NOT NULL)")  # fmt: skip
                # A final message no row of the frame holds under its own key covers, one to
                # one and in frame order, a row with its hash that has no final record itself.
                conn.execute(
                    "INSERT INTO temp.covered(pos, row_key, content_hash) "
                    "WITH spare AS MATERIALIZED (SELECT r.row_key, r.content_hash, ROW_NUMBER() "
                    "  OVER (PARTITION BY r.content_hash ORDER BY r.row_key) AS n FROM rows r "
                    f"  WHERE r.status IN ({finals}) AND NOT EXISTS (SELECT 1 FROM plan_rows f "
                    "  WHERE f.row_key = r.row_key AND f.content_hash = r.content_hash)), "
                    "needy AS (SELECT f.pos, f.content_hash, ROW_NUMBER() "
                    "  OVER (PARTITION BY f.content_hash ORDER BY f.pos) AS n FROM plan_rows f "
                    "  WHERE f.content_hash IN (SELECT content_hash FROM spare) "
                    "  AND NOT EXISTS (SELECT 1 FROM rows r WHERE r.row_key = f.row_key AND "
                    f"  r.content_hash = f.content_hash AND r.status IN ({finals}))) "
                    "SELECT needy.pos, spare.row_key, spare.content_hash FROM needy "
                    "JOIN spare ON spare.content_hash = needy.content_hash AND spare.n = needy.n"
                )
                self._moved = conn.execute("SELECT COUNT(*) FROM temp.covered").fetchone()[0]
                conn.execute("CREATE INDEX temp.covered_key ON covered(row_key, content_hash)")
                if not resend_changed:
                    # Messages that may have reached someone and that no row claims any
                    # more: a row to the same recipient is the same row with other content.
                    conn.execute(
                        "CREATE TEMP TABLE spare AS SELECT lower(r.recipient) AS recipient, "
                        "r.row_key, "
                        f"r.content_hash FROM rows r WHERE r.status IN ({delivered}) "
                        "AND r.recipient IS NOT NULL AND NOT EXISTS (SELECT 1 FROM plan_rows f "
                        "WHERE f.row_key = r.row_key AND f.content_hash = r.content_hash) "
                        "AND NOT EXISTS (SELECT 1 FROM covered c WHERE c.row_key = r.row_key "
                        "AND c.content_hash = r.content_hash)"
                    )
                    conn.execute("CREATE INDEX temp.spare_recipient ON spare(recipient)")
                    self._spare = conn.execute("SELECT COUNT(*) FROM temp.spare").fetchone()[0]
                conn.execute("DROP TABLE temp.plan_rows")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise self._failed(exc) from exc
        return self._moved, self._spare

    def moved(self, positions: Sequence[int]) -> dict[int, LedgerRecord]:
        """For these positions, the final record of the same message under another row key
        (see :meth:`reconcile`)."""
        if not self._moved or not positions:
            return {}
        found: dict[int, LedgerRecord] = {}
        columns = ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))
        with self._lock:
            for start in range(0, len(positions), _LOOKUP_CHUNK):
                chunk = [int(p) for p in positions[start : start + _LOOKUP_CHUNK]]
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(
                    f"SELECT c.pos, {columns} FROM temp.covered c JOIN rows r "
                    "ON r.row_key = c.row_key AND r.content_hash = c.content_hash "
                    f"WHERE c.pos IN ({marks})",
                    chunk,
                ):
                    found[row[0]] = LedgerRecord(*row[1:14])
        return found

    def claim_changed(self, entries: Sequence[tuple[int, str]]) -> dict[int, LedgerRecord]:
        """For ``(position, recipient)`` pairs about to be sent: the message this recipient
        already got (or may have: ``unknown``) that no row of the frame claims, one per row
        and never twice (see :meth:`reconcile`). Claimed messages are not offered again."""
        if not self._spare or not entries:
            return {}
        recipients = list(dict.fromkeys(r.lower() for _, r in entries))  # as in reconcile
        offered: dict[str, list[tuple[int, LedgerRecord]]] = {}
        columns = ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))
        with self._lock:
            for start in range(0, len(recipients), _LOOKUP_CHUNK):
                chunk = recipients[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(
                    f"SELECT s.rowid, {columns} FROM temp.spare s JOIN rows r ON r.row_key = "
                    f"s.row_key AND r.content_hash = s.content_hash WHERE s.recipient IN ({marks}) "
                    "ORDER BY r.finished_at, r.row_key",
                    chunk,
                ):
                    record = LedgerRecord(*row[1:14])
                    offered.setdefault((record.recipient or "").lower(), []).append(
                        (row[0], record)
                    )
            if not offered:
                return {}
            claimed: dict[int, LedgerRecord] = {}
            gone: list[tuple[int]] = []
            for position, recipient in entries:
                records = offered.get(recipient.lower())
                if records:
                    rowid, claimed[position] = records.pop(0)
                    gone.append((rowid,))
            self._conn.execute("BEGIN")  # temp tables only: no lock on the ledger itself
            self._conn.executemany("DELETE FROM temp.spare WHERE rowid = ?", gone)
            self._conn.execute("COMMIT")
            self._spare -= len(claimed)
        return claimed

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

        def write() -> None:
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

        with self._lock:
            self._transaction(write)

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
                self._flush_timer = threading.Timer(ANSWER_DELAY, self._flush_behind)
                self._flush_timer.daemon = True
                self._flush_timer.start()

    def _commit_staged(self) -> None:
        """Commit staged answers in a transaction of their own (caller holds the lock)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if not self._staged_finals and not self._staged_pending:
            return
        if self._broken is not None:  # raised once already; reads still work
            self._staged_finals, self._staged_pending = [], []
            return
        self._transaction(self._write_staged)

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

        def write() -> None:
            self._write_staged()
            self._conn.executemany(
                "UPDATE rows SET status=?, updated_at=? WHERE row_key=? AND content_hash=? "
                "AND status='in_flight'",
                params,
            )

        with self._lock:
            self._transaction(write)
