"""One partition, sent on a Dask worker by the same compose, engine, transport and ledger code
as a single-process send, paced by the cluster's shared quota.

:func:`send_partition` is the task :func:`toolkit.cluster.run.send_partitioned` maps over the
partitions. In order, on the worker:

1. the partition's identity (:func:`~toolkit.cluster.storage.partition_identity`);
2. a dry run renders every row and sends nothing (no ledger, no quota), as ``toolkit.send``;
3. otherwise: claim the partition, open its ledger (rows a killed attempt left in flight
   become ``unknown``, rows already final are not sent again: a task Dask re-runs after its
   worker died resumes instead of resending), and run the engine with a
   :class:`~toolkit.cluster.pacer.LeasedPacer`, the shared daily budget and the run's
   transport on this worker (:class:`~toolkit.cluster.pool.TransportPool`);
4. write the results file (atomic), release the claim, and return one summary row.

:func:`settle_partition` gives every row of a partition whose task failed for good a status
from its ledger (what is known stays as recorded; the rest ``failed``, resent by a resume), so
that every input row still ends with exactly one status. :func:`identity_frame` computes
identities only (the resume check).

Usage (what ``send_partitioned`` does)::

    summaries = ddf.map_partitions(send_partition, job, meta=SUMMARY_META)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.cluster.breaker import BreakerSettings, SharedBreaker
from toolkit.cluster.pacer import SLICE_S, LeasedPacer, SchedulerChannel, SharedDaily
from toolkit.cluster.pool import TransportPool
from toolkit.cluster.storage import Claim, claimed, ledger_path, partition_identity, results_path
from toolkit.delivery.ledger import Ledger, unanswered_keys
from toolkit.job import Job, Shared, plan_for
from toolkit.options import SendOptions, run_tag_for
from toolkit.results import ResultTable, Status
from toolkit.results_io import write_results
from toolkit.targets import Quota

__all__ = [
    "IDENTITY_META",
    "PARTITION_FAILED_CODE",
    "SUMMARY_META",
    "PartitionJob",
    "identity_frame",
    "send_partition",
    "settle_partition",
    "unanswered_frame",
]

log = logging.getLogger(__name__)

PARTITION_FAILED_CODE = "PartitionFailed"

_COUNTS = tuple(s.value for s in Status)
SUMMARY_META = pd.DataFrame(
    {
        "identity": pd.Series([], dtype="string"),
        "rows": pd.Series([], dtype="Int64"),
        **{status: pd.Series([], dtype="Int64") for status in _COUNTS},
        "recovered": pd.Series([], dtype="Int64"),
        "taken_over": pd.Series([], dtype="boolean"),
        "worker": pd.Series([], dtype="string"),
        "seconds": pd.Series([], dtype="float64"),
        "file": pd.Series([], dtype="string"),
        "error": pd.Series([], dtype="string"),
    }
)
"""One row per partition: what :func:`send_partition` returns (``meta=`` for Dask). The
numbers are nullable: a partition without results has only its ``error``."""
IDENTITY_META = pd.DataFrame(
    {"identity": pd.Series([], dtype="string"), "rows": pd.Series([], dtype="int64")}
)
UNANSWERED_META = pd.DataFrame(
    {"identity": pd.Series([], dtype="string"), "row_key": pd.Series([], dtype="string")}
)
Resolved = Mapping[str, tuple[str, str, Any, Any]]


@dataclass(frozen=True)
class PartitionJob:
    """Everything a task needs, checked on the client and pickled to the workers.

    Attributes:
        options: the validated options of ``toolkit.send`` (their target is the plain
            endpoint the workers connect to, None for a dry run; the config's rate is not
            used here: the cluster's ``rate`` is, through the quota service).
        out_dir / ledger_dir: shared directories (``ledger_dir`` None for a dry run).
        run / scope: this call's id, and the quota's scope (the provider account).
        rate: recipients per second for the whole cluster.
        daily: share the 24-hour quota through the service (False: no daily limit known).
        quota / target: the quota read once on the client, and where the send goes in words.
        breaker: the run's one circuit breaker's canary settings (None: no breaker), held
            on the scheduler (:mod:`toolkit.cluster.breaker`).
        resolved: per partition identity, its ``unknown`` rows the client resolved from the
            provider's events before a resume (row key -> message id, event, time).
    """

    options: SendOptions
    out_dir: str
    ledger_dir: str | None
    run: str
    scope: str
    rate: float | None
    daily: bool
    quota: Quota | None = None
    target: str = ""
    slice_s: float = SLICE_S
    breaker: BreakerSettings | None = None
    resolved: Mapping[str, Resolved] | None = None

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    @property
    def via(self) -> str:
        return self.options.via

    @property
    def config(self) -> Any:
        return self.options.config


def _summary(
    identity: str,
    frame: pd.DataFrame,
    started: float,
    file: str,
    *,
    recovered: int = 0,
    taken_over: bool = False,
    error: str | None = None,
) -> pd.DataFrame:
    counts = frame["status"].value_counts()
    row: dict[str, Any] = {
        "identity": identity,
        "rows": len(frame),
        **{status: int(counts.get(status, 0)) for status in _COUNTS},
        "recovered": recovered,
        "taken_over": taken_over,
        "worker": _worker_address(),
        "seconds": round(time.monotonic() - started, 3),
        "file": file,
        "error": error,
    }
    return pd.DataFrame([row]).astype(SUMMARY_META.dtypes.to_dict())


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""


def identity_frame(pdf: pd.DataFrame, job: PartitionJob) -> pd.DataFrame:
    """The partition's identity and row count (for the resume check; sends nothing)."""
    spec = job.options.spec
    identity = partition_identity(pdf, spec.key_column, spec.to)
    return pd.DataFrame({"identity": [identity], "rows": [len(pdf)]}).astype(
        IDENTITY_META.dtypes.to_dict()
    )


def unanswered_frame(pdf: pd.DataFrame, job: PartitionJob) -> pd.DataFrame:
    """The partition's identity and the row keys its ledger has without an answer (one row
    each): what the client resolves from events before a resume (sends nothing)."""
    spec = job.options.spec
    identity = partition_identity(pdf, spec.key_column, spec.to)
    keys: list[str] = []
    if job.ledger_dir is not None:
        keys = unanswered_keys(ledger_path(job.ledger_dir, identity))
    return pd.DataFrame({"identity": [identity] * len(keys), "row_key": keys}).astype(
        UNANSWERED_META.dtypes.to_dict()
    )


def send_partition(pdf: pd.DataFrame, job: PartitionJob) -> pd.DataFrame:
    """Send one partition (see the module docstring); returns its one-row summary."""
    started = time.monotonic()
    spec = job.options.spec
    identity = partition_identity(pdf, spec.key_column, spec.to)
    path = results_path(job.out_dir, identity)
    if job.dry_run or pdf.empty:  # an empty partition (a filter emptied it): nothing to send
        options = dataclasses.replace(job.options, dry_run=True, progress=False)
        frame = Job(options, pdf).run()
        write_results(frame, path)
        return _summary(identity, frame, started, str(path))
    assert job.ledger_dir is not None and job.rate is not None
    channel = SchedulerChannel(job.scope, job.run)
    me = Claim.mine(channel.owner, channel.task())
    with claimed(job.ledger_dir, identity, me, channel.alive) as previous:
        if previous is not None:
            log.warning("partition %s: taking over from %s, which the scheduler dropped",
                        identity, previous.owner)  # fmt: skip
        ledger = ledger_path(job.ledger_dir, identity)
        frame, recovered = _send(pdf, job, channel, ledger, identity)
        write_results(frame, path)
    return _summary(identity, frame, started, str(path), recovered=recovered,
                    taken_over=previous is not None)  # fmt: skip


def _send(
    pdf: pd.DataFrame, job: PartitionJob, channel: SchedulerChannel, ledger: Path, identity: str
) -> tuple[pd.DataFrame, int]:
    """The same :class:`~toolkit.job.Job` as ``toolkit.send``, with what the cluster shares
    injected: the worker's open transport, the leased pacer, the shared daily budget, the
    run's one circuit breaker, and the rows the client resolved from events. Messages carry
    the partition's ledger's run tag (as ``send`` with a ledger), so that a later resume can
    resolve its ``unknown`` rows."""
    options = job.options
    target, kind, rate = options.target, options.kind, job.rate
    assert target is not None and rate is not None
    transport = TransportPool.on_this_worker().get(
        job.run, kind.name, lambda: kind.create(target, workers=options.config.workers)
    )
    pacer = LeasedPacer(channel, rate, slice_s=job.slice_s)
    daily = SharedDaily(channel, block=rate) if job.daily else None
    breaker = SharedBreaker(channel, job.breaker) if job.breaker is not None else None

    def watch(engine: Any) -> None:
        pacer.on_stop(engine.cancel)
        if breaker is not None:
            pacer.on_pause(lambda: engine.pause(breaker.verdict()))

    shared = Shared(
        transport=transport,
        pacer=pacer,
        daily=daily,
        quota=job.quota,
        target=job.target,
        on_engine=watch,
        breaker=breaker,
        resolved=(job.resolved or {}).get(identity),
    )
    spec = options.spec
    if spec.run_tag is None:
        spec = dataclasses.replace(spec, run_tag=run_tag_for(ledger))
    options = dataclasses.replace(options, spec=spec, ledger=ledger, progress=False)
    runner = Job(options, pdf, shared)
    try:
        return runner.run(), runner.recovered
    finally:
        pacer.close()
        if daily is not None:
            daily.close()


def settle_partition(pdf: pd.DataFrame, job: PartitionJob, reason: str) -> pd.DataFrame:
    """Results for a partition whose task failed: recorded outcomes from its ledger, the
    rest ``failed`` (code ``PartitionFailed``, resent by a resume); sends nothing."""
    started = time.monotonic()
    spec = job.options.spec
    identity = partition_identity(pdf, spec.key_column, spec.to)
    path = results_path(job.out_dir, identity)
    df, options = job.options.for_frame(pdf)
    p = plan_for(df, options)
    kept = df[list(options.keep)] if options.keep else None
    message = f"the partition's task failed: {reason}"
    table = ResultTable(p.row_keys, job.via,
                        default=(Status.FAILED, PARTITION_FAILED_CODE, message))  # fmt: skip
    for position, outcome in p.preflight.items():
        table.put(position, outcome)
    recovered = 0
    if job.ledger_dir is not None and ledger_path(job.ledger_dir, identity).exists():
        channel = SchedulerChannel(job.scope, job.run)
        me = Claim.mine(channel.owner, channel.task())
        with claimed(job.ledger_dir, identity, me, channel.alive):
            with Ledger(ledger_path(job.ledger_dir, identity)) as ledger:
                recovered = ledger.recovered
                keys = [(p.row_keys[i], p.content_hashes[i]) for i in p.sendable]
                records = ledger.lookup(keys)
            for position, key in zip(p.sendable, keys, strict=True):
                record = records.get(key)
                if record is not None and (record.final or record.status == Status.FAILED):
                    table.put(position, record.to_outcome())
            frame = table.frame(pdf.index, kept)
            write_results(frame, path)
    else:
        frame = table.frame(pdf.index, kept)
        write_results(frame, path)
    return _summary(identity, frame, started, str(path), recovered=recovered, error=reason)
