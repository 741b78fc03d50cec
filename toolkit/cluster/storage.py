"""What a partitioned send keeps on storage every worker sees: ledgers, claims, result files.

Layout (``ledger`` and ``out`` are directories; the same path on every worker)::

    <ledger>/part-<identity>.sqlite    the partition's ledger (toolkit.delivery.ledger)
    <ledger>/part-<identity>.claim     who is sending the partition right now (JSON)
    <out>/part-<identity>.parquet      the partition's results, written when it finishes

A partition's *identity* is a digest of its row keys and recipients (:func:`partition_identity`),
not its number: Dask's optimizer may merge or renumber partitions between two calls (reading
fewer columns of Parquet files fuses them), while the same rows always give the same identity.
A re-run of a task, or a resume of the whole run, therefore finds the partition's ledger.

The *claim* stands in for the ledger's "in use by process N" check, which can only see
processes on its own machine: a task claims its partition before opening the ledger, waits
(bounded) while another live worker holds it, and takes it over from a worker the scheduler
no longer lists (that worker is fenced by the quota service, so it sends no more).

:func:`probe` is run on every worker before a send: each creates the directories, writes a
file and a small SQLite database in WAL mode, and checks that it sees the other workers'
files, so a path that a worker cannot open, or that is not shared between machines, is refused
before anything is sent.

``out`` may hold other files (a user's notes, another run's results): only this run's
``part-<identity>.parquet`` files are written and read back. A file already at one of those
names that is not a toolkit results file (:func:`foreign_results`) stops the run before
anything is sent, rather than being replaced.

Usage::

    identity = partition_identity(pdf, key=None, to="email")
    path = results_path(out, identity)     # written by toolkit.results_io.write_results
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "CLAIM_WAIT_S",
    "Claim",
    "PartitionBusyError",
    "claimed",
    "foreign_results",
    "ledger_identities",
    "ledger_path",
    "partition_identity",
    "probe",
    "result_identities",
    "results_path",
]

CLAIM_WAIT_S = 60.0
"""Seconds a task waits for a partition another live worker is sending."""
FENCE_GRACE_S = 1.0
"""Seconds to wait after taking a partition over from a worker the scheduler dropped: its
engine fails at its next lease, and a batch it already holds tokens for is journaled first."""
_POLL_S = 0.5
_PREFIX = "part-"


def ledger_path(ledger_dir: str, identity: str) -> Path:
    return Path(ledger_dir) / f"{_PREFIX}{identity}.sqlite"


def results_path(out_dir: str, identity: str) -> Path:
    return Path(out_dir) / f"{_PREFIX}{identity}.parquet"


def _claim_path(ledger_dir: str, identity: str) -> Path:
    return Path(ledger_dir) / f"{_PREFIX}{identity}.claim"


def ledger_identities(names: Iterable[str]) -> list[str]:
    """Identities of the partition ledgers among these file names (sorted)."""
    suffix = ".sqlite"
    return sorted(
        n[len(_PREFIX) : -len(suffix)]
        for n in names
        if n.startswith(_PREFIX) and n.endswith(suffix)
    )


def result_identities(names: Iterable[str]) -> list[str]:
    """Identities of the partition result files among these file names (sorted)."""
    suffix = ".parquet"
    return sorted(
        n[len(_PREFIX) : -len(suffix)]
        for n in names
        if n.startswith(_PREFIX) and n.endswith(suffix)
    )


_RESULT_COLUMNS = frozenset({"row_key", "status"})


def foreign_results(out_dir: str, identities: list[str]) -> list[str]:
    """The names of these partitions' result files in ``out_dir`` that are not toolkit
    results (no Parquet file with ``row_key`` and ``status``): another program's files that a
    partition's results would replace. Run on a worker: the client may not see ``out_dir``."""
    import pyarrow.parquet as pq

    foreign = []
    for identity in identities:
        path = results_path(out_dir, identity)
        try:
            names = set(pq.read_schema(path).names)
        except FileNotFoundError:
            continue
        except Exception:  # not Parquet at all (pyarrow raises several kinds)
            names = set()
        if not names >= _RESULT_COLUMNS:
            foreign.append(path.name)
    return foreign


def partition_identity(pdf: pd.DataFrame, key: str | None, to: str) -> str:
    """A digest of a partition's row keys (the ``key`` column, else the index) and its
    recipients (the ``to`` column), in order: the same rows give the same identity."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"rows:{len(pdf)};".encode())
    keys: pd.Series | None
    if key is not None:
        keys = pdf[key]
    elif isinstance(pdf.index, pd.RangeIndex):
        index = pdf.index
        digest.update(f"range:{index.start}:{index.stop}:{index.step};".encode())
        keys = None
    else:
        keys = pd.Series(pdf.index.array)
    for column in (keys, pdf[to]):
        if column is not None:
            text = column.astype("string")
            digest.update(pd.util.hash_pandas_object(text, index=False).to_numpy().tobytes())
    return digest.hexdigest()


class PartitionBusyError(RuntimeError):
    """Another live worker is sending this partition (two calls at once, or identical
    partitions in one frame)."""


@dataclass(frozen=True)
class Claim:
    """Who sends a partition: the worker process (``owner``), the Dask task, host and pid."""

    owner: str
    task: str
    host: str
    pid: int
    since: float

    @classmethod
    def mine(cls, owner: str, task: str) -> Claim:
        return cls(owner, task, socket.gethostname(), os.getpid(), time.time())


def _read_claim(path: Path) -> Claim | None:
    try:
        return Claim(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _write_claim(path: Path, claim: Claim, *, exclusive: bool) -> bool:
    """Write the claim; with ``exclusive``, only if there is none (atomic create)."""
    data = json.dumps(asdict(claim)).encode()
    if exclusive:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return True
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


@contextlib.contextmanager
def claimed(
    ledger_dir: str,
    identity: str,
    me: Claim,
    alive: Callable[[str], bool],
    *,
    wait_s: float = CLAIM_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Claim | None]:
    """Hold the partition's claim for the block; yields the claim taken over, if any.

    Raises :class:`PartitionBusyError` when a live worker holds it for ``wait_s`` seconds.
    """
    path = _claim_path(ledger_dir, identity)
    deadline = time.monotonic() + wait_s
    previous: Claim | None = None
    unreadable = 0
    while not _write_claim(path, me, exclusive=True):
        other = _read_claim(path)
        if other is None:  # released just now, or left half written by a killed process
            unreadable += 1
            if unreadable < 3:
                sleep(0.05)
                continue
            _write_claim(path, me, exclusive=False)
            break
        if other.owner == me.owner and other.task == me.task:
            _write_claim(path, me, exclusive=False)
            break  # this very task, run again in the same process
        if not alive(other.owner):
            sleep(FENCE_GRACE_S)
            _write_claim(path, me, exclusive=False)
            previous = other
            break
        if time.monotonic() > deadline:
            raise PartitionBusyError(
                f"partition {identity} is being sent by {other.owner} (task {other.task}, "
                f"host {other.host}, process {other.pid}) for longer than {wait_s:.0f} s"
            )
        sleep(_POLL_S)
    try:
        yield previous
    finally:
        if _read_claim(path) == me:
            with contextlib.suppress(OSError):
                path.unlink()


# -- probe -------------------------------------------------------------------------------------


def probe(
    stage: str, paths: list[str], token: str, sqlite_dir: str | None, dask_worker: Any = None
) -> dict[str, Any]:
    """Run on every worker (``client.run``) in three stages.

    ``"write"`` creates the directories, a probe file in each (and a WAL-mode SQLite database
    in ``sqlite_dir``) and returns its name; ``"see"`` returns the probe files of this call
    that this worker sees per directory, the partition ledgers in ``sqlite_dir`` and the
    partition result files in ``paths[0]`` (the output directory);
    ``"clean"`` removes this worker's files. Problems come back as ``{"error": text}``.
    """
    name = f".probe-{token}-{getattr(dask_worker, 'id', os.getpid())}"
    try:
        if stage == "write":
            for folder in paths:
                os.makedirs(folder, exist_ok=True)
                Path(folder, name).write_text("probe", encoding="utf-8")
            if sqlite_dir is not None:
                conn = sqlite3.connect(str(Path(sqlite_dir, f"{name}.sqlite")), timeout=5.0)
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("CREATE TABLE IF NOT EXISTS probe(x)")
                    conn.execute("INSERT INTO probe VALUES (1)")
                    conn.commit()
                finally:
                    conn.close()
            return {"name": name}
        if stage == "see":
            prefix = f".probe-{token}-"
            listings = {folder: os.listdir(folder) for folder in paths}
            return {
                "probes": {
                    folder: sorted(n for n in names if n.startswith(prefix) and "." not in n[1:])
                    for folder, names in listings.items()
                },
                "ledgers": ledger_identities(listings.get(sqlite_dir or "", [])),
                "results": result_identities(listings.get(paths[0], [])),
            }
        for folder in paths:
            for leftover in Path(folder).glob(f"{name}*"):
                leftover.unlink()
        return {"ok": True}
    except (OSError, sqlite3.Error) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
