"""The ``dask`` group: ``toolkit.send_partitioned`` on a 2-worker LocalCluster (worker
processes), each scenario next to its baseline measured in the same run.

* ``dask.smtp-sink.*``  SMTP into Postfix's smtp-sink: ``smtp-source`` with 16 sessions, the
  single-process toolkit (4 threads, ledger), and 2 worker processes (4 threads each, a ledger
  per partition, the shared quota service): compose + send + ledger in every toolkit run.
* ``dask.ses.*``        SES API (``SendEmail``) into the sandbox (its own process, no limit):
  single-process toolkit vs 2 worker processes.
* ``dask.pacing.r*``    a sandbox limited to R/s, 2 workers sharing R: the busiest second at
  the sandbox and the rate reached (over the seconds every worker was busy).
* ``dask.scale.dry-run`` a Parquet dataset (files written first, by a child process) dry-run
  on 2 fresh workers: each worker process's RSS growth over its own baseline.

Wall time is the ``send_partitioned`` call (the cluster is started before, and the quota
service, probes, ledgers and result files are inside). CPU per 1k counts this process plus
the worker processes. The machine has few cores, and smtp-sink or the sandbox share them with
the workers, so the ratios say as much about the machine as about the toolkit; read them with
the CPU columns.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.harness import Measure, ScenarioResult, skipped
from benchmarks.scenarios import (
    SENDER,
    SUBJECT,
    TEXT,
    UNLIMITED_RATE,
    Context,
    guarded,
    measure_toolkit,
    pacing_report,
    recipients_frame,
    sandbox,
    status_counts,
    toolkit_available,
    warm_toolkit,
)

GROUP = "dask"
WORKERS = 2  # worker processes
THREADS = 4  # sending threads per partition (the single-process runs use as many)
PARTITIONS = 2 * WORKERS  # as many partitions as worker slots, twice over


def dask_missing() -> str | None:
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        return f"dask not installed (pip install -e '.[dask]'): {exc}"
    return toolkit_available()


@contextmanager
def cluster() -> Iterator[Any]:
    """A LocalCluster of worker processes on loopback, one thread each; yields the client."""
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
    ) as local, Client(local) as client:  # fmt: skip
        yield client


class Workers:
    """The worker processes' CPU and RSS, read with psutil from here (no Dask traffic)."""

    def __init__(self, client: Any) -> None:
        import psutil

        self.processes = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.base = [p.memory_info().rss for p in self.processes]
        self.peak = list(self.base)

    def cpu(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self.processes)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            for i, p in enumerate(self.processes):
                self.peak[i] = max(self.peak[i], p.memory_info().rss)

    def __enter__(self) -> Workers:
        self.base = [p.memory_info().rss for p in self.processes]
        self.peak = list(self.base)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def growth_mb(self) -> list[float]:
        return [round((p - b) / 2**20, 1) for p, b in zip(self.peak, self.base, strict=True)]


def partitioned(frame: Any, client: Any, workdir: Path, via: str, target: Any, **options: Any):
    """``send_partitioned`` with the benchmark's message (a pandas frame: PARTITIONS parts)."""
    import dask.dataframe as dd

    from toolkit import send_partitioned

    keep = options.pop("keep", False)
    if not isinstance(frame, dd.DataFrame):
        frame = dd.from_pandas(frame, npartitions=PARTITIONS)
    out = workdir / f"dask-{uuid.uuid4().hex[:8]}"
    values = {"sender": SENDER, "subject": SUBJECT, "text": TEXT, "progress": False,
              "workers": THREADS, "target": target, **options}  # fmt: skip
    try:
        return send_partitioned(frame, via, out=out, client=client, **values)
    finally:
        if not keep:
            shutil.rmtree(out, ignore_errors=True)


def measure_partitioned(
    name: str, frame: Any, client: Any, ctx: Context, via: str, target: Any, **options: Any
) -> tuple[ScenarioResult, Any]:
    workers = Workers(client)
    cpu0 = workers.cpu()
    with Measure() as m, workers:
        done = partitioned(frame, client, ctx.workdir, via, target, **options)
    m.extra_cpu_seconds = workers.cpu() - cpu0
    rows = int(done.partitions["rows"].sum())
    sent = rows if options.get("dry_run") else done.counts["sent"]  # a dry run: rows composed
    record = m.record(
        name, group=GROUP, kind="toolkit", messages=rows, sent=sent,
        params={"via": via, "worker_processes": WORKERS, "threads_per_partition": THREADS,
                "partitions": len(done.partitions), "rows": rows},
        extra={"statuses": {k: v for k, v in done.counts.items() if v},
               "worker_rss_growth_mb": workers.growth_mb(),
               "note": "CPU counts this process and the worker processes"},
    )  # fmt: skip
    return record, done


def run_dask(ctx: Context) -> list[ScenarioResult]:
    out: list[ScenarioResult] = []
    if not ctx.group_selected(GROUP):
        return out
    reason = dask_missing()
    if reason:
        return [skipped(f"{GROUP}.*", GROUP, "toolkit", reason)]
    with cluster() as client:
        _smtp_sink(ctx, client, out)
        _ses(ctx, client, out)
        _pacing(ctx, client, out)
    _scale(ctx, out)
    return out


def _warm(client: Any, ctx: Context, via: str, target: Any) -> None:
    partitioned(recipients_frame(40, start=9_500_000, domain="example.org"), client,
                ctx.workdir, via, target, rate=UNLIMITED_RATE)  # fmt: skip


def _smtp_sink(ctx: Context, client: Any, out: list[ScenarioResult]) -> None:
    from benchmarks.postfix import SmtpSink, ToolsMissing, ensure_postfix_tools, run_smtp_source

    prefix = f"{GROUP}.smtp-sink"
    names = ("reference.smtp-source.s16", "toolkit.single", f"toolkit.p{WORKERS}")
    if not any(ctx.selected(f"{prefix}.{name}") for name in names):
        return
    n = ctx.sizes.dask_smtp_n
    try:
        tools = ensure_postfix_tools(install=ctx.install)
    except ToolsMissing as exc:
        out.append(skipped(f"{prefix}.*", GROUP, "reference", str(exc)))
        return
    from toolkit.targets import SmtpTarget

    with SmtpSink(tools) as sink:
        target = SmtpTarget(host="127.0.0.1", port=sink.port, tls="none")

        def source() -> ScenarioResult:
            run = run_smtp_source(tools, sink.port, messages=n, sessions=16, reuse=True)
            if run.returncode != 0:
                raise RuntimeError(f"smtp-source exited {run.returncode}")
            return ScenarioResult(
                name=f"{prefix}.reference.smtp-source.s16", group=GROUP, kind="reference",
                messages=run.messages, sent=run.messages, seconds=run.seconds,
                msgs_per_s=run.messages / run.seconds,
                cpu_s_per_1k=run.cpu_seconds / run.messages * 1000,
                params={"sessions": 16, "reuse_connection": True, "rows": run.messages},
            )  # fmt: skip

        def single() -> ScenarioResult:
            warm_toolkit(ctx, "smtp", target)
            ledger = ctx.workdir / f"dask-single-{uuid.uuid4().hex[:8]}.sqlite3"
            record, _ = measure_toolkit(
                f"{prefix}.toolkit.single", GROUP, recipients_frame(n, domain="example.org"),
                "smtp", target, workers=THREADS, rate=UNLIMITED_RATE, ledger=ledger,
            )  # fmt: skip
            record.params.update({"process": "one", "includes": "compose + send + ledger"})
            return record

        def two() -> ScenarioResult:
            _warm(client, ctx, "smtp", target)
            record, _ = measure_partitioned(
                f"{prefix}.toolkit.p{WORKERS}", recipients_frame(n, domain="example.org"),
                client, ctx, "smtp", target, rate=UNLIMITED_RATE,
            )  # fmt: skip
            record.params["includes"] = "compose + send + ledger per partition + quota service"
            return record

        guarded(ctx, out, f"{prefix}.reference.smtp-source.s16", GROUP, "reference", source)
        guarded(ctx, out, f"{prefix}.toolkit.single", GROUP, "toolkit", single)
        guarded(ctx, out, f"{prefix}.toolkit.p{WORKERS}", GROUP, "toolkit", two)


def _ses(ctx: Context, client: Any, out: list[ScenarioResult]) -> None:
    prefix = f"{GROUP}.ses"
    n = ctx.sizes.dask_ses_n
    if not any(ctx.selected(f"{prefix}.toolkit.{name}") for name in ("single", f"p{WORKERS}")):
        return
    with sandbox(ctx) as sb:
        target = sb.aws_target()

        def single() -> ScenarioResult:
            warm_toolkit(ctx, "ses", target)
            record, _ = measure_toolkit(
                f"{prefix}.toolkit.single", GROUP, recipients_frame(n), "ses", target,
                workers=THREADS, rate=UNLIMITED_RATE, server=sb,
                ledger=ctx.workdir / f"dask-ses-{uuid.uuid4().hex[:8]}.sqlite3",
            )  # fmt: skip
            record.params["process"] = "one"
            return record

        def two() -> ScenarioResult:
            _warm(client, ctx, "ses", target)
            cpu0 = sb.cpu_seconds()
            record, _ = measure_partitioned(
                f"{prefix}.toolkit.p{WORKERS}", recipients_frame(n), client, ctx, "ses", target,
                rate=UNLIMITED_RATE,
            )  # fmt: skip
            record.extra["server_cpu_s_per_1k"] = round((sb.cpu_seconds() - cpu0) / n * 1000, 4)
            return record

        guarded(ctx, out, f"{prefix}.toolkit.single", GROUP, "toolkit", single)
        guarded(ctx, out, f"{prefix}.toolkit.p{WORKERS}", GROUP, "toolkit", two)


def _pacing(ctx: Context, client: Any, out: list[ScenarioResult]) -> None:
    for rate in ctx.sizes.dask_pacing_rates:
        name = f"{GROUP}.pacing.r{rate}"
        n = int(rate * ctx.sizes.pacing_seconds)

        def run(rate: int = rate, n: int = n, name: str = name) -> ScenarioResult:
            with sandbox(ctx, rate=float(rate)) as sb:
                target = sb.aws_target()
                _warm_within(client, ctx, target, rate)
                sb.clear()
                time.sleep(1.1)  # the warm-up leaves the sandbox's one-second window
                record, done = measure_partitioned(
                    name, recipients_frame(n), client, ctx, "ses", target, keep=True
                )
                accepted = sb.accepted_at()
            results = done.results.compute()
            shutil.rmtree(done.out, ignore_errors=True)
            record.extra.update(pacing_report(rate, results, accepted))
            record.extra["statuses"] = status_counts(results)
            if rate == 100:
                from toolkit.measure.figures import plot_throughput

                ctx.figures["dask_pacing_r100"] = plot_throughput(
                    results, configured_rate=rate,
                    title=f"{WORKERS} worker processes sharing 100/s (sandbox limit 100/s)",
                )  # fmt: skip
            return record

        guarded(ctx, out, name, GROUP, "toolkit", run, rate=rate)


def _warm_within(client: Any, ctx: Context, target: Any, rate: int) -> None:
    n = max(4, min(40, rate // 2))
    partitioned(recipients_frame(n, start=9_600_000), client, ctx.workdir, "ses", target)


def _scale(ctx: Context, out: list[ScenarioResult]) -> None:
    name = f"{GROUP}.scale.dry-run"
    if not ctx.selected(name):
        return
    rows = ctx.sizes.dask_scale_rows
    per_file = min(250_000, max(1, rows // 4))
    data = ctx.workdir / f"parquet-{rows}"
    written = subprocess.run(  # once, in a child process (its memory is not the point)
        [sys.executable, "-m", "benchmarks.dask_group", str(data), str(rows), str(per_file)],
        capture_output=True, text=True, timeout=1800, check=False,
        cwd=str(Path(__file__).resolve().parents[1]),
    )  # fmt: skip

    def run() -> ScenarioResult:
        if written.returncode != 0:
            raise RuntimeError(f"writing the Parquet files failed: {written.stderr[-500:]}")
        import dask.dataframe as dd

        with cluster() as client:  # fresh workers each time: RSS does not shrink after a run
            warm = recipients_frame(40, domain="example.org")
            partitioned(warm, client, ctx.workdir, "ses", None, dry_run=True)
            ddf = dd.read_parquet(str(data))
            record, _ = measure_partitioned(name, ddf, client, ctx, "ses", None, dry_run=True)
        growth = record.extra["worker_rss_growth_mb"]
        record.rss_growth_mb = max(growth)
        record.peak_rss_mb = None
        record.params.update({"rows_per_partition": per_file, "dry_run": True})
        record.extra.update(
            {
                "rows_per_s": round(rows / (record.seconds or 1), 1),
                "note": "rss_growth_mb: the largest worker process's growth over its own "
                "baseline (after a warm-up); msgs_per_s counts composed rows",
            }
        )
        return record

    try:
        guarded(ctx, out, name, GROUP, "toolkit", run, rows=rows)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def write_parquet(folder: Path, rows: int, per_file: int) -> None:
    """The recipients as Parquet files of ``per_file`` rows (a chunk at a time: small RSS)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    for number, start in enumerate(range(0, rows, per_file)):
        frame = recipients_frame(min(per_file, rows - start), start=start, domain="example.org")
        frame.index = frame.index + start
        table = pa.Table.from_pandas(frame, preserve_index=True)
        pq.write_table(table, folder / f"part-{number:05d}.parquet")


if __name__ == "__main__":
    write_parquet(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
