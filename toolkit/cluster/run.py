"""``send_partitioned``: a partitioned (Dask) frame sent partition by partition on Dask workers.

Why a sibling of :func:`toolkit.send` rather than ``send`` taking a Dask frame: the call has
other inputs (an output *directory* and a ledger *directory* on storage every worker sees, a
cluster) and another result (results that stay on disk, read lazily, instead of a frame in
memory), and ``ledger=`` would mean a file in one and a directory in the other. ``send``
given a Dask frame says to use this function.

What one call does, on the client:

1. checks the arguments exactly as ``send`` does (the same keywords), and the message against
   the frame's columns, before anything is sent;
2. connects to the cluster: a ``distributed.Client`` given, a scheduler address, or a
   ``LocalCluster`` of worker processes sized to this machine (closed at the end); with no
   target and a local cluster, an embedded sandbox in this process;
3. reads the quota once (``GetAccount``, or the rate given) and opens it on the scheduler's
   quota service (:mod:`toolkit.cluster.service`), shared by every worker, and by every run
   sending to the same account at the same time;
4. probes the ledger and output directories from every worker (each must open them, and see
   the files the others write) and, when the ledger directory already holds ledgers (a
   resume), checks that each still belongs to a partition of this frame;
5. runs :func:`~toolkit.cluster.partition.send_partition` on every partition (``persist``
   semantics: a failed partition does not stop the others), with a progress bar over
   partitions and rows;
6. settles partitions whose task failed for good (their rows get a status from the ledger);
7. returns :class:`PartitionedResults`: the results as a Dask DataFrame read back from the
   per-partition Parquet files, one partition per input partition, on the input's index.

Usage::

    import dask.dataframe as dd
    done = send_partitioned(dd.read_parquet("recipients/*.parquet"), via="ses",
                            out="/mnt/nfs/run-42", target=AwsTarget(region="eu-west-1"),
                            sender="Shop <shop@example.com>", subject="...", text="...")
    done.counts                      # {"sent": ..., "failed": ...}
    done.results.status.value_counts().compute()
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.cluster.connect import check_directories, connected, endpoint_for, scope_of
from toolkit.cluster.guard import RunGuard, with_account_suppression
from toolkit.compose.message import Template
from toolkit.delivery.engine import REPUTATION_PAUSE_CODE
from toolkit.errors import (
    ConfigurationError,
    MissingDependencyError,
    ProviderConfigurationError,
    ToolkitError,
)
from toolkit.job import Job, plan_for, stored_template
from toolkit.options import SendKeywords, SendOptions
from toolkit.results import RunSummary, Status
from toolkit.targets import AwsTarget, Quota, SmtpTarget

if TYPE_CHECKING:
    from toolkit.cluster.partition import PartitionJob

__all__ = ["DEFAULT_LEDGER", "PartitionedResults", "require_dask", "send_partitioned"]

log = logging.getLogger(__name__)

DEFAULT_LEDGER = "_ledger"
"""The ledger directory inside ``out`` when none is given (the underscore keeps Parquet
readers of ``out`` from looking into it)."""
_STATUSES = tuple(s.value for s in Status)


def require_dask(feature: str = "send_partitioned") -> None:
    """Raise :class:`MissingDependencyError` unless dask.dataframe and distributed import."""
    for package, module in (("dask", "dask.dataframe"), ("distributed", "distributed")):
        try:
            __import__(module)
        except ImportError as exc:
            raise MissingDependencyError(package, feature, extra="dask") from exc


@dataclass(frozen=True, eq=False)
class PartitionedResults:
    """What a partitioned send did.

    Attributes:
        results: a Dask DataFrame with the results columns of ``toolkit.send``, one partition
            per input partition, on the input's index (read from ``out``; nothing is loaded
            until you compute).
        partitions: one row per partition: identity, rows, rows per status, rows found in
            flight from an earlier attempt (``recovered``), the worker, seconds, file, error.
        counts: rows per status over the whole run.
        summary: the run's :class:`~toolkit.results.RunSummary` (as ``toolkit.send``'s, plus
            partitions and the dashboard).
        out / ledger: the directories used.
    """

    results: Any = field(repr=False)
    partitions: pd.DataFrame = field(repr=False)
    counts: dict[str, int]
    summary: RunSummary = field(repr=False)
    out: Path
    ledger: Path | None

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts.items() if v)
        return f"<PartitionedResults {len(self.partitions)} partitions: {counts} in {self.out}>"


# -- the call ----------------------------------------------------------------------------------


def send_partitioned(
    ddf: Any,
    via: str = "ses",
    *,
    out: str | os.PathLike[str],
    ledger: str | os.PathLike[str] | None = None,
    client: Any = None,
    **keywords: Any,
) -> PartitionedResults:
    """Send a Dask DataFrame, each partition on a Dask worker, sharing one account quota.

    Args:
        ddf: a ``dask.dataframe.DataFrame`` (``dd.read_parquet(...)``); one row per message.
            Keep partitions at a few hundred thousand rows at most (each is loaded whole on
            one worker). Row keys (``key=`` column, else the index) need only be unique
            within a partition; duplicate recipients are detected within a partition only.
        via: the transport, as for :func:`toolkit.send`.
        out: a directory for the results, one Parquet file per partition (created).
        ledger: the ledger directory (default ``<out>/_ledger``): one SQLite ledger per
            partition. Call again with the same frame, ``out`` and ``ledger`` to resume: rows
            already final are not sent again. On a cluster of several machines both
            directories must be on storage every worker mounts at the same path.
        client: a ``distributed.Client``, a scheduler address (``"tcp://host:8786"``), or
            None for a LocalCluster of worker processes on this machine (one per CPU).
        **keywords: the keywords of :func:`toolkit.send` (message, ``target``, ``rate``,
            ``workers`` = requests in flight per partition, ``keep``, ``dry_run``,
            ``progress``, ...), validated by the same options object; ``limit`` and
            ``transport`` are refused (one line). The rate must be known (given, or read
            from the target's quota): it is shared by every worker.

    Returns:
        :class:`PartitionedResults`.

    Raises:
        MissingDependencyError: dask/distributed are not installed (``toolkit[dask]``).
        ConfigurationError: nothing was sent: a bad argument or column, no known rate, a
            directory a worker cannot open, or ledgers that belong to other partitions.
        ProviderConfigurationError: the provider refused the account on a worker (e.g. the
            workers have no credentials): the run stops; rows it stopped are not reported
            failed; when something had been sent, ``results`` holds what was done.
        ToolkitError: some partitions have no results (their task and its settling failed);
            its ``results`` attribute holds the :class:`PartitionedResults` of the rest.
        KeyboardInterrupt: after stopping every partition cleanly (rows not sent are
            ``skipped``/``Cancelled``); its ``results`` attribute holds what was done.
    """
    require_dask()
    import dask.dataframe as dd

    if not isinstance(ddf, dd.DataFrame):
        raise ConfigurationError(
            f"send_partitioned takes a dask DataFrame, not {type(ddf).__name__} "
            "(use toolkit.send for a pandas DataFrame)"
        )
    options = SendOptions.from_keywords(via, SendKeywords(**keywords))
    options = options.for_partitions(list(ddf.columns))
    _check_columns(ddf, options)
    out_dir = Path(os.path.abspath(out))
    ledger_dir = None
    if not options.dry_run:
        ledger_dir = Path(
            os.path.abspath(ledger if ledger is not None else out_dir / DEFAULT_LEDGER)
        )
    with connected(client) as (dask_client, local), endpoint_for(options, local) as where:
        endpoint, quota, target, sandbox = where
        if endpoint is not None and options.spec.template_name is not None:
            _check_columns(ddf, options, _stored(options, endpoint))
        options = with_account_suppression(options, endpoint)
        job, daily = _job(options, endpoint, quota, target, out_dir, ledger_dir)
        check_directories(dask_client, ddf, job)
        guard = RunGuard(options, sandbox)
        if not job.dry_run:
            job = guard.resolve(dask_client, ddf, job)
            job = guard.arm(job)
        return _run(dask_client, ddf, job, daily, options.progress, guard)


def _check_columns(ddf: Any, options: SendOptions, stored: Template | None = None) -> None:
    """Pre-flight an empty frame with the input's columns: a missing column or a bad
    template (also a stored one's, once read) raises here, on the client, before any task
    starts."""
    empty = pd.DataFrame({c: pd.Series([], dtype=t) for c, t in ddf.dtypes.items()})
    job = Job(options, empty)
    plan_for(job.df, job.options, stored)


def _stored(options: SendOptions, endpoint: AwsTarget | SmtpTarget) -> Template | None:
    """The stored template, read once here as ``send`` reads it."""
    transport = options.kind.create(endpoint)
    try:
        return stored_template(transport, options)
    finally:
        transport.close()


def _job(
    options: SendOptions,
    endpoint: AwsTarget | SmtpTarget | None,
    quota: Quota | None,
    target: str,
    out_dir: Path,
    ledger_dir: Path | None,
) -> tuple[PartitionJob, float | None]:
    """The job every task gets, and the 24-hour quota left (None: no limit known)."""
    from toolkit.cluster.partition import PartitionJob

    rate = options.config.pace(quota)
    if rate is None and not options.dry_run:
        raise ConfigurationError(
            f"send_partitioned needs a known send rate for via={options.via!r}: give rate= "
            "(or a target that reports its quota); every worker shares it"
        )
    daily = quota.remaining_24_hours if quota is not None else None
    job = PartitionJob(
        options=dataclasses.replace(options, target=endpoint), out_dir=str(out_dir),
        ledger_dir=str(ledger_dir) if ledger_dir else None, run=uuid.uuid4().hex[:12],
        scope=scope_of(options.kind, endpoint), rate=rate,
        daily=daily is not None and not options.dry_run, quota=quota, target=target,
    )  # fmt: skip
    return job, daily


# -- running it --------------------------------------------------------------------------------


def _run(
    client: Any, ddf: Any, job: Any, daily: float | None, progress: bool, guard: RunGuard
) -> PartitionedResults:
    """Open the quota, send every partition (the run's breaker followed meanwhile), settle
    failures, read the results back."""
    from toolkit.cluster.partition import SUMMARY_META, send_partition
    from toolkit.cluster.pool import TransportPool
    from toolkit.cluster.service import QuotaService

    started = time.monotonic()
    if not job.dry_run:
        client.register_plugin(QuotaService())
        client.register_plugin(TransportPool())
        window = 1.0 + job.config.window_margin
        client.sync(client.scheduler.toolkit_quota_open, scope=job.scope, run=job.run,
                    rate=job.rate, window=window, daily=daily)  # fmt: skip
    cancelled = False
    try:
        tasks = ddf.map_partitions(send_partition, job, meta=SUMMARY_META).to_delayed()
        with guard.follow(client, job):
            futures = client.compute(tasks)
            stop = (lambda: _stop(client, job)) if not job.dry_run else (lambda: None)
            try:
                rows, errors, refusal = _collect(client, futures, progress, stop)
            except KeyboardInterrupt:
                cancelled = True
                if job.dry_run:  # nothing to stop cleanly: drop the work and go
                    client.cancel(futures)
                    raise
                _stop(client, job)
                rows, errors, refusal = _collect(client, futures, False, lambda: None)
        if refusal is not None:  # as send(): the error alone, no row reported failed
            cancelled = True
            raise refusal
        for number, reason in sorted(errors.items()):
            rows[number] = _settle(client, ddf, job, number, reason)
    finally:
        if not job.dry_run:
            _close_run(client, job, cancelled)
    paused = guard.reason
    if paused is not None:  # as send(): said once, here, where the user is
        log.error("stopping the send: %s: %s", REPUTATION_PAUSE_CODE, paused)
    guard.record()
    done = _results(rows, errors, job, time.monotonic() - started, client, paused)
    missing = [n for n, row in sorted(rows.items()) if row is None]
    if cancelled:
        interrupt = KeyboardInterrupt()
        interrupt.results = done  # type: ignore[attr-defined]
        raise interrupt
    if missing:
        first = errors[missing[0]]
        error = ToolkitError(
            f"{len(missing)} of {ddf.npartitions} partitions have no results: their tasks "
            f"failed (partition {missing[0]}: {first}), and so did settling them; the others "
            "are in the results. Call again with the same arguments to resume."
        )
        error.results = done  # type: ignore[attr-defined]
        raise error
    return done


def _collect(
    client: Any, futures: list[Any], progress: bool, stop: Any
) -> tuple[dict[int, pd.DataFrame | None], dict[int, str], ProviderConfigurationError | None]:
    """Wait for every partition: their summaries, the error of those that failed, and the
    first refusal of the account a task raised (credentials, a paused account: ``stop()``
    is called at once, so the other partitions stop at their next lease; a partition's own
    problem, such as an empty key, fails that partition only)."""
    from distributed import as_completed

    position = {f.key: i for i, f in enumerate(futures)}
    rows: dict[int, pd.DataFrame | None] = {}
    errors: dict[int, str] = {}
    refusal: ProviderConfigurationError | None = None
    bar = _bar(len(futures)) if progress else None
    totals = dict.fromkeys(("rows", *_STATUSES), 0)
    try:
        for future in as_completed(futures):
            number = position[future.key]
            if future.status == "error":
                exc = future.exception()
                if isinstance(exc, ProviderConfigurationError) and refusal is None:
                    refusal = exc
                    stop()
                errors[number] = f"{type(exc).__name__}: {exc}"
                rows[number] = None
                log.warning("partition %d failed: %s", number, errors[number])
            else:
                summary = future.result()
                rows[number] = summary
                for name in totals:
                    totals[name] += int(summary[name].iloc[0])
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: v for k, v in totals.items() if v}, refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return rows, errors, refusal


def _bar(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="partitions", unit="part", dynamic_ncols=True)


def _close_run(client: Any, job: Any, cancelled: bool) -> None:
    """Close the run's transports on the workers and its share of the quota (best effort:
    a cluster that went away must not hide why the run ended)."""
    from toolkit.cluster.pool import release_run

    try:
        client.run(release_run, job.run)
        client.sync(client.scheduler.toolkit_quota_close, scope=job.scope, run=job.run,
                    cancel=cancelled)  # fmt: skip
    except Exception as exc:  # logged: the run's own outcome matters more
        log.warning("could not close the run on the cluster: %s", exc)


def _stop(client: Any, job: Any) -> None:
    """Ctrl-C: every partition stops at its next lease (rows not sent: Cancelled)."""
    log.warning("stopping: partitions finish their requests in flight and stop")
    client.sync(client.scheduler.toolkit_quota_close, scope=job.scope, run=job.run,
                cancel=True)  # fmt: skip


def _settle(client: Any, ddf: Any, job: Any, number: int, reason: str) -> pd.DataFrame | None:
    """A status for every row of a partition whose task failed for good (or None)."""
    from toolkit.cluster.partition import SUMMARY_META, settle_partition

    part = ddf.partitions[number].map_partitions(settle_partition, job, reason, meta=SUMMARY_META)
    try:
        return client.compute(part).result()
    except Exception as exc:  # reported with the partition; the others' results stand
        log.error("partition %d could not be settled: %s", number, exc)
        return None


def _results(
    rows: Mapping[int, pd.DataFrame | None],
    errors: Mapping[int, str],
    job: Any,
    elapsed: float,
    client: Any,
    reason: str | None = None,
) -> PartitionedResults:
    import dask.dataframe as dd

    from toolkit.cluster.partition import SUMMARY_META
    from toolkit.results_io import read_results

    frames = []
    for number in sorted(rows):
        row = rows[number]
        if row is None:  # no results at all: only the error is known
            row = pd.DataFrame({"error": [errors.get(number)]}).astype({"error": "string"})
            row = row.reindex(columns=SUMMARY_META.columns).astype(SUMMARY_META.dtypes.to_dict())
        frames.append(row.assign(partition=number))
    partitions = pd.concat(frames, ignore_index=True) if frames else SUMMARY_META.copy()
    counts = {s: int(partitions[s].sum()) for s in _STATUSES}
    files = [str(f) for f in partitions["file"].dropna()]
    results = None
    if files:
        meta = read_results(files[0]).iloc[:0]
        results = dd.from_map(read_results, files, meta=meta, enforce_metadata=False)
    summary = RunSummary.build(
        counts, elapsed=None if job.dry_run else elapsed, transport=job.via,
        target=job.target, dry_run=job.dry_run, rate=job.rate,
        max_send_rate=job.quota.max_send_rate if job.quota is not None else None,
        run_id=job.run, partitions=len(rows),
        failed_partitions=int(partitions["error"].notna().sum()),
        dashboard=getattr(client, "dashboard_link", None),
        stopped=(REPUTATION_PAUSE_CODE, reason) if reason is not None else None,
    )  # fmt: skip
    return PartitionedResults(
        results=results, partitions=partitions, counts=counts, summary=summary,
        out=Path(job.out_dir), ledger=Path(job.ledger_dir) if job.ledger_dir else None,
    )  # fmt: skip
