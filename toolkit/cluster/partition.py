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

import logging
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from toolkit.cluster.pacer import SLICE_S, LeasedPacer, SchedulerChannel, SharedDaily
from toolkit.cluster.pool import TransportPool
from toolkit.cluster.storage import (
    Claim,
    claimed,
    ledger_path,
    partition_identity,
    results_path,
    write_results,
)
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.config import EngineConfig
from toolkit.delivery.engine import SendEngine
from toolkit.delivery.ledger import Ledger
from toolkit.job import Job, Request
from toolkit.results import ResultTable, Status, results_frame
from toolkit.targets import AwsTarget, SmtpTarget
from toolkit.transports.registry import transport_kind

__all__ = [
    "IDENTITY_META",
    "PARTITION_FAILED_CODE",
    "SUMMARY_META",
    "PartitionJob",
    "identity_frame",
    "send_partition",
    "settle_partition",
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


@dataclass(frozen=True)
class PartitionJob:
    """Everything a task needs, checked on the client and pickled to the workers.

    Attributes:
        via / spec / config: as for ``toolkit.send`` (the config's rate is not used here:
            the cluster's ``rate`` is, through the quota service).
        endpoint: where the transport connects (None for a dry run).
        out_dir / ledger_dir: shared directories (``ledger_dir`` None for a dry run).
        dry_run: render every row, send nothing.
        run / scope: this call's id, and the quota's scope (the provider account).
        rate: recipients per second for the whole cluster.
        daily: share the 24-hour quota through the service (False: no daily limit known).
    """

    via: str
    spec: ComposeSpec
    config: EngineConfig
    endpoint: AwsTarget | SmtpTarget | None
    out_dir: str
    ledger_dir: str | None
    dry_run: bool
    run: str
    scope: str
    rate: float | None
    daily: bool
    slice_s: float = SLICE_S


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
    identity = partition_identity(pdf, job.spec.key_column, job.spec.to)
    return pd.DataFrame({"identity": [identity], "rows": [len(pdf)]}).astype(
        IDENTITY_META.dtypes.to_dict()
    )


def send_partition(pdf: pd.DataFrame, job: PartitionJob) -> pd.DataFrame:
    """Send one partition (see the module docstring); returns its one-row summary."""
    started = time.monotonic()
    identity = partition_identity(pdf, job.spec.key_column, job.spec.to)
    path = results_path(job.out_dir, identity)
    if job.dry_run or pdf.empty:  # an empty partition (a filter emptied it): nothing to send
        request = Request(
            df=pdf, via=job.via, target=None, spec=job.spec, config=job.config,
            ledger=None, dry_run=True, progress=False,
        )  # fmt: skip
        frame = Job(request).run()
        write_results(frame, path)
        return _summary(identity, frame, started, str(path))
    assert job.ledger_dir is not None and job.endpoint is not None and job.rate is not None
    channel = SchedulerChannel(job.scope, job.run)
    me = Claim.mine(channel.owner, channel.task())
    with claimed(job.ledger_dir, identity, me, channel.alive) as previous:
        if previous is not None:
            log.warning("partition %s: taking over from %s, which the scheduler dropped",
                        identity, previous.owner)  # fmt: skip
        frame, recovered = _send(pdf, job, channel, str(ledger_path(job.ledger_dir, identity)))
        write_results(frame, path)
    return _summary(identity, frame, started, str(path), recovered=recovered,
                    taken_over=previous is not None)  # fmt: skip


def _plan(pdf: pd.DataFrame, job: PartitionJob) -> Any:
    from toolkit.compose.plan import plan

    kind = transport_kind(job.via)
    shape = kind.transport_class()
    return plan(pdf, job.spec, mode=shape.content_mode,
                max_message_bytes=shape.max_message_bytes, transport=kind.name)  # fmt: skip


def _send(
    pdf: pd.DataFrame, job: PartitionJob, channel: SchedulerChannel, ledger_file: str
) -> tuple[pd.DataFrame, int]:
    """Plan, open the ledger, run the engine on the shared quota; the results and how many
    rows a previous attempt left in flight."""
    endpoint, rate = job.endpoint, job.rate
    assert endpoint is not None and rate is not None
    p = _plan(pdf, job)
    kind = transport_kind(job.via)
    transport = TransportPool.on_this_worker().get(
        job.run, kind.name, lambda: kind.create(endpoint, workers=job.config.workers)
    )
    ledger = Ledger(ledger_file)
    pacer = LeasedPacer(channel, rate, slice_s=job.slice_s)
    daily = SharedDaily(channel, block=rate) if job.daily else None
    try:
        if ledger.recovered:
            log.warning("ledger %s: %d rows were in flight when an earlier attempt stopped; "
                        "they are 'unknown'", ledger_file, ledger.recovered)  # fmt: skip
        engine = SendEngine(p, transport, job.config, ledger=ledger, pacer=pacer, daily=daily)
        pacer.on_stop(engine.cancel)
        outcomes = engine.run()
    finally:
        pacer.close()
        if daily is not None:
            daily.close()
        ledger.close()
    return results_frame(outcomes, pdf.index), ledger.recovered


def settle_partition(pdf: pd.DataFrame, job: PartitionJob, reason: str) -> pd.DataFrame:
    """Results for a partition whose task failed: recorded outcomes from its ledger, the
    rest ``failed`` (code ``PartitionFailed``, resent by a resume); sends nothing."""
    started = time.monotonic()
    identity = partition_identity(pdf, job.spec.key_column, job.spec.to)
    path = results_path(job.out_dir, identity)
    p = _plan(pdf, job)
    message = f"the partition's task failed: {reason}"
    table = ResultTable(p.row_keys, transport_kind(job.via).name,
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
            frame = table.frame(pdf.index)
            write_results(frame, path)
    else:
        frame = table.frame(pdf.index)
        write_results(frame, path)
    return _summary(identity, frame, started, str(path), recovered=recovered, error=reason)
