"""The named benchmark scenarios, their sizes in quick and full mode, and the goals.

Every group runs its baseline in the same run as the toolkit, so ratios compare numbers taken
back to back on the same machine (this kind of machine drifts by up to 1.5x over minutes).

Groups (``--only`` takes a group or any prefix of a scenario name):

* ``ses``        boto3 SES v2 ``SendEmail`` per recipient (sequential) vs toolkit ``ses``
* ``ses-bulk``   toolkit ``ses-bulk`` (baseline: the ``ses`` group's boto3 loop)
* ``pinpoint``   boto3 ``SendMessages`` per recipient vs toolkit ``pinpoint``
* ``smtp``       sandbox SMTP (STARTTLS + AUTH): smtplib connection-per-message vs toolkit
* ``smtp-sink``  Postfix smtp-sink: smtp-source (1 and 16 sessions), smtplib per message,
                 toolkit ``smtp`` (``tls="none"``, no AUTH)
* ``pacing``     rate R in {14, 100, 1000}/s against a sandbox limited to R
* ``adaptive``   a limit the client is not told: time to 90 % of it, throttled share
* ``scale``      1,000,000-row frame, dry run: composition rate and memory over the frame
* ``faults``     5 % and 20 % injected throttling, 5xx and dropped connections: rate, loss
* ``dask``       ``send_partitioned`` on 2 worker processes: SMTP into smtp-sink and SES vs the
                 single-process toolkit (and smtp-source), the shared quota, a Parquet dry run's
                 worker memory (:mod:`benchmarks.dask_group`)

Servers: the sandbox runs in a child process (:mod:`benchmarks.sandbox_proc`), smtp-sink is
its own process; everything listens on 127.0.0.1. Client CPU is this process's CPU.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import baselines
from benchmarks.harness import Measure, ScenarioResult, failed, skipped
from benchmarks.sandbox_proc import SandboxProcess

SENDER = baselines.SENDER
SUBJECT = "Your order {{order}} has shipped"
#: The sandbox's MaxSendRate in throughput runs, and the rate the toolkit is told there (as a
#: user would pass their quota): without it, transports that cannot read a quota (SMTP,
#: Pinpoint) start adaptive pacing from a low rate, which is what the adaptive group measures.
UNLIMITED_RATE = 1_000_000.0
THROTTLE_CODES = ("throttl", "toomanyrequests", "454")


@dataclass(frozen=True)
class Sizes:
    """How much each scenario does; quick mode must finish in under two minutes."""

    ses_n: int
    ses_base_n: int
    bulk_n: int
    pin_base_n: int
    smtp_n: int
    smtp_base_n: int
    sink_n: int
    sink_base_n: int
    source_n: int
    workers: tuple[int, ...]
    sink_workers: tuple[int, ...]
    pacing_rates: tuple[int, ...]
    pacing_seconds: float
    adaptive_limit: int
    adaptive_seconds: float
    scale_rows: int
    fault_n: int
    fault_rates: tuple[float, ...]
    warmup: int = 50
    dask_smtp_n: int = 2_000
    dask_ses_n: int = 600
    dask_pacing_rates: tuple[int, ...] = (100,)
    dask_scale_rows: int = 100_000


QUICK = Sizes(
    ses_n=300,
    ses_base_n=150,
    bulk_n=2_000,
    pin_base_n=150,
    smtp_n=300,
    smtp_base_n=60,
    sink_n=1_000,
    sink_base_n=200,
    source_n=3_000,
    workers=(4,),
    sink_workers=(1, 16),
    pacing_rates=(14, 100, 1000),
    pacing_seconds=2.0,
    adaptive_limit=200,
    adaptive_seconds=3.0,
    scale_rows=20_000,
    fault_n=200,
    fault_rates=(0.20,),
    warmup=20,
)
FULL = Sizes(
    ses_n=5_000,
    ses_base_n=1_000,
    bulk_n=50_000,
    pin_base_n=1_000,
    smtp_n=3_000,
    smtp_base_n=500,
    sink_n=20_000,
    sink_base_n=3_000,
    source_n=20_000,
    workers=(1, 4, 8, 16),
    sink_workers=(1, 4, 16),
    pacing_rates=(14, 100, 1000),
    pacing_seconds=10.0,
    adaptive_limit=500,
    adaptive_seconds=12.0,
    scale_rows=1_000_000,
    fault_n=3_000,
    fault_rates=(0.05, 0.20),
    warmup=100,
    dask_smtp_n=40_000,
    dask_ses_n=10_000,
    dask_pacing_rates=(100, 1000),
    dask_scale_rows=10_000_000,
)


@dataclass
class Context:
    """What every group gets: sizes, the ``--only`` selection, a scratch directory."""

    sizes: Sizes
    only: tuple[str, ...] = ()
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-")))
    figures: dict[str, Any] = field(default_factory=dict)  # name -> matplotlib Figure
    install: bool = True  # may apt-get install postfix for smtp-sink/smtp-source
    repeat: int = 1  # runs per scenario; the median run is reported
    log: Callable[[str], None] = print

    def selected(self, name: str) -> bool:
        """True when ``name`` (a scenario) is selected by ``--only`` (or nothing was).

        A bare group (``ses``) selects ``ses.*`` only, not ``ses-bulk.*``; a dotted selector
        selects that name, what is below it, and its ``-`` variants
        (``smtp-sink.reference.smtp-source.s1`` selects ``...s1-newconn`` but not ``...s16``).
        """
        if not self.only:
            return True
        return any(
            name == s or name.startswith(s + ".") or ("." in s and name.startswith(s + "-"))
            for s in self.only
        )

    def group_selected(self, group: str) -> bool:
        """True when some selector names this group or something inside it."""
        if not self.only:
            return True
        return any(s == group or s.startswith(group + ".") for s in self.only)


# --------------------------------------------------------------------------- data


def recipients_frame(
    n: int, start: int = 0, domain: str = "simulator.amazonses.com"
) -> pd.DataFrame:
    """``n`` rows addressed to the SES mailbox simulator (``success+<i>@``), so the sandbox's
    daily quota never interferes; ``name``/``order`` feed the templates."""
    index = np.arange(start, start + n)
    local = "success+" if domain == "simulator.amazonses.com" else "user"
    return pd.DataFrame(
        {
            "email": [f"{local}{i}@{domain}" for i in index],
            "name": [f"Customer {i}" for i in index],
            "order": [f"A{i:07d}" for i in index],
        }
    )


TEXT = "Hello {{name}},\n\n" + baselines.body_text(2048 - 40)


def toolkit_send(frame: pd.DataFrame, via: str, target: Any, **options: Any) -> pd.DataFrame:
    """``toolkit.api.send`` with the benchmark's message; options the API lacks are dropped
    (and noted by the caller), so the harness keeps working while the API evolves."""
    from toolkit.api import send

    accepted = inspect.signature(send).parameters
    kwargs: dict[str, Any] = {
        "via": via,
        "target": target,
        "sender": SENDER,
        "to": "email",
        "subject": SUBJECT,
        "text": TEXT,
        "progress": False,
    }
    kwargs.update(options)
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    if not has_var_kw:
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    with warnings.catch_warnings():
        # e.g. Pinpoint's end-of-support warning: true, but noise in a benchmark log
        warnings.simplefilter("ignore")
        return send(frame, **kwargs)


def api_supports(option: str) -> bool:
    from toolkit.api import send

    return option in inspect.signature(send).parameters


def toolkit_available() -> str | None:
    """None when the toolkit's send API and sandbox import, else the reason they do not."""
    try:
        importlib.import_module("toolkit.api").send  # noqa: B018
        importlib.import_module("toolkit.sandbox").Sandbox  # noqa: B018
    except (ImportError, AttributeError) as exc:
        return f"toolkit not ready: {exc}"
    return None


def sent_count(results: pd.DataFrame) -> int:
    return int((results["status"] == "sent").sum())


def row_latencies(results: pd.DataFrame) -> np.ndarray:
    from toolkit.results import epoch_seconds

    return epoch_seconds(results["finished_at"]) - epoch_seconds(results["started_at"])


def status_counts(results: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in results["status"].value_counts().items()}


def throttled_requests(results: pd.DataFrame) -> int:
    """Requests answered with throttling: every retry (no other faults are injected) plus
    rows whose last answer was throttling."""
    attempts = results["attempts"].fillna(0).astype(int)
    codes = results["error_code"].fillna("").astype(str).str.lower()
    ending = codes.apply(lambda c: any(t in c for t in THROTTLE_CODES)).astype(int)
    return int((attempts - 1).clip(lower=0).sum() + ending.sum())


@contextmanager
def sandbox(ctx: Context, **kwargs: Any) -> Iterator[SandboxProcess]:
    kwargs.setdefault("rate", UNLIMITED_RATE)
    proc = SandboxProcess(**kwargs)
    ctx.log(f"  sandbox pid {proc.pid} {kwargs}")
    try:
        yield proc
    finally:
        proc.close()


def guarded(
    ctx: Context,
    out: list[ScenarioResult],
    name: str,
    group: str,
    kind: str,
    run: Callable[[], ScenarioResult],
    **params: Any,
) -> ScenarioResult | None:
    """Run one scenario if selected (``ctx.repeat`` times, keeping the run with the median
    rate; every run's rate goes to ``extra["runs_msgs_per_s"]``); an exception becomes an
    ``error`` record."""
    if not ctx.selected(name):
        return None
    ctx.log(f"- {name}")
    runs: list[ScenarioResult] = []
    record: ScenarioResult | None = None
    for _ in range(max(1, ctx.repeat)):
        try:
            runs.append(run())
        except Exception as exc:  # a broken scenario must not stop the others
            record = failed(name, group, kind, exc, **params)
            break
    if record is None:
        ranked = sorted(runs, key=lambda r: r.msgs_per_s or 0.0)
        record = ranked[(len(ranked) - 1) // 2]
        if len(runs) > 1:
            record.extra["runs_msgs_per_s"] = [round(r.msgs_per_s or 0.0, 1) for r in runs]
    out.append(record)
    if record.status != "ok":
        ctx.log(f"  {record.status}: {record.reason}")
    else:
        p50 = "" if record.p50_ms is None else f", p50 {record.p50_ms:.2f} ms"
        ctx.log(f"  {record.msgs_per_s or 0:,.0f} msg/s{p50}")
    return record


def measure_toolkit(
    name: str,
    group: str,
    frame: pd.DataFrame,
    via: str,
    target: Any,
    *,
    workers: int,
    rate: float | None = None,
    server: SandboxProcess | None = None,
    **options: Any,
) -> tuple[ScenarioResult, pd.DataFrame]:
    server_cpu = server.cpu_seconds() if server is not None else None
    with Measure() as m:
        results = toolkit_send(frame, via, target, workers=workers, rate=rate, **options)
    if server is not None and server_cpu is not None:
        server_cpu = server.cpu_seconds() - server_cpu
    record = m.record(
        name,
        group=group,
        kind="toolkit",
        messages=len(frame),
        sent=sent_count(results),
        latencies_s=row_latencies(results),
        params={"via": via, "workers": workers, "rate": rate, "rows": len(frame)},
        extra={"statuses": status_counts(results)},
    )
    if server_cpu is not None and len(frame):
        record.extra["server_cpu_s_per_1k"] = round(server_cpu / len(frame) * 1000, 4)
    fast = getattr(target, "fast", None)
    if fast is not None:
        record.params["fast_client"] = fast
    return record, results


def warm_toolkit(ctx: Context, via: str, target: Any, **options: Any) -> None:
    """A short untimed run first: imports, client creation, first connections."""
    options.setdefault("rate", UNLIMITED_RATE)
    toolkit_send(
        recipients_frame(ctx.sizes.warmup, start=9_000_000), via, target, workers=2, **options
    )


# --------------------------------------------------------------------------- API groups


def run_api_groups(ctx: Context) -> list[ScenarioResult]:
    """``ses``, ``ses-bulk`` and ``pinpoint`` against one unlimited sandbox."""
    out: list[ScenarioResult] = []
    groups = [g for g in ("ses", "ses-bulk", "pinpoint") if ctx.group_selected(g)]
    if not groups:
        return out
    reason = toolkit_available()
    if reason:
        return [skipped(f"{g}.*", g, "toolkit", reason) for g in groups]
    s = ctx.sizes
    with sandbox(ctx) as sb:
        target = sb.aws_target()  # the toolkit's default: its fast client
        boto3_target = sb.aws_target(fast=False)  # the same transports over a boto3 client
        if "ses" in groups or "ses-bulk" in groups:

            def ses_baseline() -> ScenarioResult:
                client = baselines.boto3_client("sesv2", target)
                warm = recipients_frame(s.warmup, start=8_000_000)["email"]
                baselines.ses_send_email_each(client, list(warm), TEXT)
                rcpts = list(recipients_frame(s.ses_base_n)["email"])
                with Measure() as m:
                    ok, lat = baselines.ses_send_email_each(client, rcpts, TEXT)
                return m.record(
                    "ses.baseline.boto3-each",
                    group="ses",
                    kind="baseline",
                    messages=len(rcpts),
                    sent=ok,
                    latencies_s=lat,
                    params={"rows": len(rcpts), "shape": "SendEmail per recipient, sequential"},
                )

            guarded(ctx, out, "ses.baseline.boto3-each", "ses", "baseline", ses_baseline)
        for via in ("ses", "ses-bulk", "pinpoint"):
            if via not in groups:
                continue
            if via == "pinpoint":

                def pin_baseline() -> ScenarioResult:
                    client = baselines.boto3_client("pinpoint", target)
                    app = target.pinpoint_app_id
                    warm = recipients_frame(s.warmup, start=8_000_000)["email"]
                    baselines.pinpoint_send_messages_each(client, app, list(warm), TEXT)
                    rcpts = list(recipients_frame(s.pin_base_n)["email"])
                    with Measure() as m:
                        ok, lat = baselines.pinpoint_send_messages_each(client, app, rcpts, TEXT)
                    return m.record(
                        "pinpoint.baseline.boto3-each",
                        group="pinpoint",
                        kind="baseline",
                        messages=len(rcpts),
                        sent=ok,
                        latencies_s=lat,
                        params={
                            "rows": len(rcpts),
                            "shape": "SendMessages per recipient, sequential",
                        },
                    )

                guarded(
                    ctx, out, "pinpoint.baseline.boto3-each", "pinpoint", "baseline", pin_baseline
                )
            n = s.ses_n if via == "ses" else s.bulk_n
            # "toolkit": the default (fast) client; "toolkit-boto3": AwsTarget(fast=False)
            for variant, client_target in (("toolkit", target), ("toolkit-boto3", boto3_target)):
                warmed = False
                for workers in s.workers:
                    name = f"{via}.{variant}.w{workers}"

                    def run(
                        via: str = via,
                        workers: int = workers,
                        name: str = name,
                        n: int = n,
                        client_target: Any = client_target,
                    ) -> ScenarioResult:
                        nonlocal warmed
                        if not warmed:
                            warm_toolkit(ctx, via, client_target)
                            warmed = True
                        record, _ = measure_toolkit(
                            name,
                            via,
                            recipients_frame(n),
                            via,
                            client_target,
                            workers=workers,
                            rate=UNLIMITED_RATE,
                            server=sb,
                        )
                        return record

                    guarded(ctx, out, name, via, "toolkit", run, via=via, workers=workers)
    return out


# --------------------------------------------------------------------------- SMTP groups


def run_smtp_sandbox(ctx: Context) -> list[ScenarioResult]:
    """Sandbox SMTP with STARTTLS + AUTH: the AWS SMTP sample shape vs the toolkit."""
    out: list[ScenarioResult] = []
    if not ctx.group_selected("smtp"):
        return out
    reason = toolkit_available()
    if reason:
        return [skipped("smtp.*", "smtp", "toolkit", reason)]
    s = ctx.sizes
    with sandbox(ctx) as sb:
        target = sb.smtp_target()

        def base() -> ScenarioResult:
            rcpts = list(recipients_frame(s.smtp_base_n)["email"])
            context = target.ssl_context()
            with Measure() as m:
                ok, lat = baselines.smtplib_connection_each(
                    target.host,
                    target.port,
                    rcpts,
                    TEXT,
                    context=context,
                    username=target.username,
                    password=target.password,
                )
            return m.record(
                "smtp.baseline.smtplib-each-tls",
                group="smtp",
                kind="baseline",
                messages=len(rcpts),
                sent=ok,
                latencies_s=lat,
                params={
                    "rows": len(rcpts),
                    "shape": "new connection + STARTTLS + AUTH per message",
                },
            )

        guarded(ctx, out, "smtp.baseline.smtplib-each-tls", "smtp", "baseline", base)
        warmed = False
        for workers in s.workers:
            name = f"smtp.toolkit.w{workers}"

            def run(workers: int = workers, name: str = name) -> ScenarioResult:
                nonlocal warmed
                if not warmed:
                    warm_toolkit(ctx, "smtp", target)
                    warmed = True
                record, _ = measure_toolkit(
                    name,
                    "smtp",
                    recipients_frame(s.smtp_n),
                    "smtp",
                    target,
                    workers=workers,
                    rate=UNLIMITED_RATE,
                    server=sb,
                )
                return record

            guarded(ctx, out, name, "smtp", "toolkit", run, workers=workers)
    return out


def run_smtp_sink(ctx: Context) -> list[ScenarioResult]:
    """Postfix smtp-sink as the receiver: smtp-source, smtplib per message, the toolkit."""
    from benchmarks.postfix import SmtpSink, ToolsMissing, ensure_postfix_tools, run_smtp_source

    out: list[ScenarioResult] = []
    group = "smtp-sink"
    if not ctx.group_selected(group):
        return out
    s = ctx.sizes
    try:
        tools = ensure_postfix_tools(install=ctx.install)
    except ToolsMissing as exc:
        return [skipped(f"{group}.*", group, "reference", str(exc))]
    with SmtpSink(tools) as sink:
        ctx.log(f"  smtp-sink pid {sink.pid} on 127.0.0.1:{sink.port}")
        for sessions in (1, 16):
            for reuse in (True, False):
                name = f"{group}.reference.smtp-source.s{sessions}" + ("" if reuse else "-newconn")

                def ref(
                    sessions: int = sessions, reuse: bool = reuse, name: str = name
                ) -> ScenarioResult:
                    run = run_smtp_source(
                        tools, sink.port, messages=s.source_n, sessions=sessions, reuse=reuse
                    )
                    if run.returncode != 0:
                        raise RuntimeError(f"smtp-source exited {run.returncode}")
                    return ScenarioResult(
                        name=name,
                        group=group,
                        kind="reference",
                        messages=run.messages,
                        sent=run.messages,
                        seconds=run.seconds,
                        msgs_per_s=run.messages / run.seconds,
                        cpu_s_per_1k=run.cpu_seconds / run.messages * 1000,
                        params={
                            "sessions": sessions,
                            "reuse_connection": reuse,
                            "message_bytes": 2048,
                            "rows": run.messages,
                        },
                        extra={
                            "note": "wall time around the smtp-source process; CPU from wait4; "
                            "no peak RSS (wait4 reports the forked parent's high-water mark)"
                        },
                    )

                guarded(ctx, out, name, group, "reference", ref, sessions=sessions, reuse=reuse)

        def base() -> ScenarioResult:
            rcpts = list(recipients_frame(s.sink_base_n, domain="example.org")["email"])
            with Measure() as m:
                ok, lat = baselines.smtplib_connection_each("127.0.0.1", sink.port, rcpts, TEXT)
            return m.record(
                f"{group}.baseline.smtplib-each",
                group=group,
                kind="baseline",
                messages=len(rcpts),
                sent=ok,
                latencies_s=lat,
                params={
                    "rows": len(rcpts),
                    "shape": "new connection + EmailMessage per message, no TLS",
                },
            )

        guarded(ctx, out, f"{group}.baseline.smtplib-each", group, "baseline", base)

        reason = toolkit_available()
        if reason:
            out.append(skipped(f"{group}.toolkit.*", group, "toolkit", reason))
            return out
        from toolkit.targets import SmtpTarget

        target = SmtpTarget(host="127.0.0.1", port=sink.port, tls="none")
        warmed = False
        for workers in s.sink_workers:
            name = f"{group}.toolkit.w{workers}"

            def run(workers: int = workers, name: str = name) -> ScenarioResult:
                nonlocal warmed
                if not warmed:
                    warm_toolkit(ctx, "smtp", target)
                    warmed = True
                options: dict[str, Any] = {}
                if api_supports("ledger"):
                    # a fresh ledger per run: a reused one would answer "already sent"
                    options["ledger"] = ctx.workdir / f"{name}-{uuid.uuid4().hex[:8]}.sqlite3"
                frame = recipients_frame(s.sink_n, domain="example.org")
                record, _ = measure_toolkit(
                    name,
                    group,
                    frame,
                    "smtp",
                    target,
                    workers=workers,
                    rate=UNLIMITED_RATE,
                    **options,
                )
                record.params["ledger"] = "ledger" in options
                record.params["includes"] = "compose + send + ledger"
                return record

            guarded(ctx, out, name, group, "toolkit", run, workers=workers)
    return out


# --------------------------------------------------------------------------- pacing


def achieved_rate(starts: Sequence[float]) -> float | None:
    """Rows per second over the run's complete seconds: the rows started in ``[t0, t0+K)``
    divided by ``K``, where ``K`` is the whole number of seconds the run spans.

    (``rows / wall`` would overstate a sliding-window pacer, which may start the first
    second's ``R`` rows at once.)
    """
    values = np.sort(np.asarray(starts, dtype=float))
    if values.size < 2:
        return None
    span = int(np.floor(values[-1] - values[0]))
    if span < 1:
        return None
    inside = int(np.searchsorted(values, values[0] + span, side="left"))
    return inside / span


def pacing_report(
    rate: float, results: pd.DataFrame, accepted: Sequence[float], starts: Any = ()
) -> dict[str, Any]:
    """What a paced run did at the server: the rate reached (from acceptance times, else the
    client's request starts), the busiest second, and the requests throttled."""
    from toolkit.measure.report import busiest_window

    achieved = achieved_rate(accepted) or achieved_rate(starts)
    return {
        "configured_rate": rate,
        "throttled_requests": throttled_requests(results),
        "achieved_rate": None if achieved is None else round(achieved, 2),
        "achieved_ratio": None if achieved is None else round(achieved / rate, 4),
        "busiest_1s_server": busiest_window(accepted),
    }


def run_pacing(ctx: Context) -> list[ScenarioResult]:
    from toolkit.measure.report import busiest_window

    out: list[ScenarioResult] = []
    if not ctx.group_selected("pacing"):
        return out
    reason = toolkit_available()
    if reason:
        return [skipped("pacing.*", "pacing", "toolkit", reason)]
    s = ctx.sizes
    for rate in s.pacing_rates:
        name = f"pacing.r{rate}"
        via = "ses" if rate <= 100 else "ses-bulk"
        n = int(rate * s.pacing_seconds)

        def run(rate: int = rate, via: str = via, n: int = n, name: str = name) -> ScenarioResult:
            with sandbox(ctx, rate=float(rate)) as sb:
                target = sb.aws_target()
                warm_toolkit_quiet(ctx, via, target, rate)
                sb.clear()
                time.sleep(1.1)  # let the warm-up leave the sandbox's one-second window
                record, results = measure_toolkit(
                    name, "pacing", recipients_frame(n), via, target, workers=8, rate=float(rate)
                )
                accepted = sb.accepted_at()
            from toolkit.results import epoch_seconds

            starts = epoch_seconds(results.loc[results["status"] == "sent", "started_at"])
            record.extra.update(pacing_report(rate, results, accepted, starts))
            record.extra["busiest_1s_client_starts"] = busiest_window(starts)
            if rate == 100:
                from toolkit.measure.figures import plot_throughput

                ctx.figures["pacing_r100"] = plot_throughput(
                    results, configured_rate=rate, title="Pacing at 100/s (sandbox limit 100/s)"
                )
            return record

        guarded(ctx, out, name, "pacing", "toolkit", run, rate=rate)
    return out


def warm_toolkit_quiet(ctx: Context, via: str, target: Any, rate: float) -> None:
    """Warm up within the limit (a small frame at the configured rate)."""
    n = max(2, min(ctx.sizes.warmup, int(rate // 2)))
    toolkit_send(recipients_frame(n, start=9_000_000), via, target, workers=2, rate=rate)


# --------------------------------------------------------------------------- adaptive


def run_adaptive(ctx: Context) -> list[ScenarioResult]:
    out: list[ScenarioResult] = []
    if not ctx.group_selected("adaptive"):
        return out
    reason = toolkit_available()
    if reason:
        return [skipped("adaptive.*", "adaptive", "toolkit", reason)]
    s = ctx.sizes
    limit = s.adaptive_limit
    name = f"adaptive.limit{limit}"

    def run() -> ScenarioResult:
        adaptive = api_supports("adaptive")
        # Not told the limit: SMTP has no quota call (the API transports would read
        # GetAccount's MaxSendRate), and rate=None, so the engine must find the limit.
        via = "smtp"
        n = int(limit * s.adaptive_seconds)
        with sandbox(ctx, rate=float(limit)) as sb:
            target = sb.smtp_target()
            options = {"adaptive": True} if adaptive else {}
            record, results = measure_toolkit(
                name, "adaptive", recipients_frame(n), via, target, workers=8, rate=None, **options
            )
            accepted = np.sort(np.asarray(sb.accepted_at(), dtype=float))
        to_90 = None
        if accepted.size:
            from toolkit.results import epoch_seconds

            t0 = float(np.nanmin(epoch_seconds(results["started_at"])))
            ends = np.searchsorted(accepted, accepted + 1.0, side="left")
            in_window = ends - np.arange(accepted.size)
            hit = np.nonzero(in_window >= 0.9 * limit)[0]
            if hit.size:
                to_90 = float(accepted[hit[0]] + 1.0 - t0)
        attempts = int(results["attempts"].fillna(0).sum())
        throttled = throttled_requests(results)
        record.params.update({"limit": limit, "adaptive_flag": adaptive})
        from toolkit.measure.figures import plot_throughput

        ctx.figures["adaptive"] = plot_throughput(
            results,
            configured_rate=limit,
            rate_label="sandbox limit (not told)",
            title=f"Adaptive pacing against an unannounced limit of {limit}/s",
        )
        record.extra.update(
            {
                "seconds_to_90pct": None if to_90 is None else round(to_90, 3),
                "throttled_requests": throttled,
                "requests": attempts,
                "throttled_share": round(throttled / attempts, 4) if attempts else None,
                "achieved_ratio": round((record.msgs_per_s or 0) / limit, 4),
            }
        )
        return record

    guarded(ctx, out, name, "adaptive", "toolkit", run, limit=limit)
    return out


# --------------------------------------------------------------------------- scale


def offline_target(via: str) -> Any:
    """A target nothing connects to (a dry run never opens the transport), so no embedded
    sandbox is started and its memory does not count against the frame."""
    from toolkit.targets import AwsTarget, SmtpTarget

    if via == "smtp":
        return SmtpTarget(host="127.0.0.1", port=9, tls="none")
    return AwsTarget(
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="offline",
        secret_access_key="offline",
    )


def run_scale(ctx: Context) -> list[ScenarioResult]:
    out: list[ScenarioResult] = []
    if not ctx.group_selected("scale"):
        return out
    reason = toolkit_available()
    if reason:
        return [skipped("scale.*", "scale", "toolkit", reason)]
    rows = ctx.sizes.scale_rows
    for via in ("ses", "smtp"):
        name = f"scale.{via}.dry-run"

        # SMTP composition (full MIME per row) is ~3x slower; a fifth of the rows keeps --full
        # within its time budget while still showing the per-row cost and memory slope.
        scale_rows = rows if via == "ses" else max(1, rows // 5)

        def run(scale_rows: int = scale_rows, via: str = via) -> ScenarioResult:
            # a fresh interpreter per measurement (see benchmarks/scale_child.py)
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.scale_child", via, str(scale_rows)],
                capture_output=True,
                text=True,
                timeout=1200,
                check=False,
                cwd=str(Path(__file__).resolve().parents[1]),
            )
            lines = done.stdout.strip().splitlines()
            if done.returncode != 0 or not lines:
                raise RuntimeError(f"scale child failed: {done.stderr.strip()[-500:]}")
            return ScenarioResult(**json.loads(lines[-1]))

        guarded(ctx, out, name, "scale", "toolkit", run, via=via)
    return out


# --------------------------------------------------------------------------- faults


def run_faults(ctx: Context) -> list[ScenarioResult]:
    out: list[ScenarioResult] = []
    if not ctx.group_selected("faults"):
        return out
    reason = toolkit_available()
    if reason:
        return [skipped("faults.*", "faults", "toolkit", reason)]
    s = ctx.sizes
    for kind, option in (
        ("throttle", "throttle_rate"),
        ("error", "error_rate"),
        ("drop", "drop_rate"),
    ):
        for share in s.fault_rates:
            name = f"faults.{kind}{int(share * 100)}"

            def run(option: str = option, share: float = share, name: str = name) -> ScenarioResult:
                with sandbox(ctx, **{option: share, "seed": 7}) as sb:
                    target = sb.aws_target()
                    frame = recipients_frame(s.fault_n)
                    record, results = measure_toolkit(
                        name, "faults", frame, "ses", target, workers=8
                    )
                    stored = set(sb.message_ids())
                record.params.update({option: share})
                record.extra.update(loss_report(frame, results, stored))
                return record

            guarded(ctx, out, name, "faults", "toolkit", run, fault=kind, share=share)
    return out


def loss_report(frame: pd.DataFrame, results: pd.DataFrame, stored: set[str]) -> dict[str, Any]:
    """Loss = rows with no result, rows 'sent' that the sandbox does not hold, and rows not
    sent without any error code or message. Duplicates = stored messages no row claims."""
    missing = max(0, len(frame) - len(results))
    sent = results[results["status"] == "sent"]
    sent_ids = set(sent["message_id"].dropna().astype(str))
    sent_not_stored = len(sent_ids - stored)
    unsent = results[results["status"] != "sent"]
    unexplained = int((unsent["error_code"].isna() & unsent["error_message"].isna()).sum())
    return {
        "statuses": status_counts(results),
        "loss": missing + sent_not_stored + unexplained,
        "rows_missing": missing,
        "sent_not_stored": sent_not_stored,
        "unsent_unexplained": unexplained,
        "stored_not_claimed": len(stored - sent_ids),
        "attempts": int(results["attempts"].fillna(0).sum()),
    }


# --------------------------------------------------------------------------- registry


def _dask_group() -> Any:
    """benchmarks.dask_group (imported when its group runs: it imports this module)."""
    return importlib.import_module("benchmarks.dask_group")


GROUP_RUNNERS: tuple[tuple[str, Callable[[Context], list[ScenarioResult]]], ...] = (
    ("ses,ses-bulk,pinpoint", run_api_groups),
    ("smtp", run_smtp_sandbox),
    ("smtp-sink", run_smtp_sink),
    ("pacing", run_pacing),
    ("adaptive", run_adaptive),
    ("scale", run_scale),
    ("faults", run_faults),
    ("dask", lambda ctx: _dask_group().run_dask(ctx)),
    ("latency", lambda ctx: importlib.import_module("benchmarks.latency_group").run_latency(ctx)),
)
GROUPS: tuple[str, ...] = tuple(g for names, _ in GROUP_RUNNERS for g in names.split(","))


def run_all(ctx: Context) -> list[ScenarioResult]:
    """Every selected group, in a fixed order."""
    results: list[ScenarioResult] = []
    for _names, runner in GROUP_RUNNERS:
        results.extend(runner(ctx))
    return results


# --------------------------------------------------------------------------- goals


def _find(records: Sequence[ScenarioResult], prefix: str) -> list[ScenarioResult]:
    return [r for r in records if r.name.startswith(prefix) and r.status == "ok" and r.msgs_per_s]


def _memory_verdict(rows: int, growth: float | None, per_million: float | None) -> bool | None:
    """<= 500 MB over a 1M-row frame; from 100k rows on, judged per million rows (fixed
    costs make smaller runs meaningless, so they are only reported)."""
    if growth is None:
        return None
    if rows >= 1_000_000:
        return growth <= 500
    if rows >= 100_000 and per_million is not None:
        return per_million <= 500
    return None


def _best_note(record: ScenarioResult | None) -> str:
    return f"best: {record.name}" if record is not None else ""


def _best(records: Sequence[ScenarioResult], prefix: str) -> ScenarioResult | None:
    found = _find(records, prefix)
    return max(found, key=lambda r: r.msgs_per_s or 0) if found else None


def evaluate_goals(records: Sequence[ScenarioResult]) -> list[dict[str, Any]]:
    """The issue's goals, checked against this run's numbers (``passed`` None = could not be
    measured, or a number that is only reported). Goals of groups not in the run are left out.
    """
    ran = {r.group for r in records}
    goals: list[dict[str, Any]] = []

    def goal(
        group: str, name: str, value: Any, target: str, passed: bool | None, note: str = ""
    ) -> None:
        if group in ran:
            goals.append(
                {
                    "goal": name,
                    "value": None if value is None else round(float(value), 3),
                    "target": target,
                    "passed": passed,
                    "note": note,
                }
            )

    def first(prefix: str, **params: Any) -> ScenarioResult | None:
        for record in _find(records, prefix):
            if all(record.params.get(k) == v for k, v in params.items()):
                return record
        return None

    def ratio(a: ScenarioResult | None, b: ScenarioResult | None) -> float | None:
        if a is None or b is None or not b.msgs_per_s:
            return None
        return (a.msgs_per_s or 0) / b.msgs_per_s

    def at_least(value: float | None, threshold: float) -> bool | None:
        return None if value is None else value >= threshold

    # SMTP against smtp-sink and the sandbox
    tk_best = _best(records, "smtp-sink.toolkit")
    tk16 = first("smtp-sink.toolkit.w16")
    src16 = first("smtp-sink.reference.smtp-source.s16", reuse_connection=True)
    src16_new = first("smtp-sink.reference.smtp-source.s16-newconn")
    notes = [_best_note(tk_best)]
    if tk16 is not None and src16 is not None and tk16 is not tk_best:
        notes.append(f"with 16 workers: {ratio(tk16, src16):.2f}x")
    if tk_best is not None and src16_new is not None:
        notes.append(
            f"vs 16 sessions, new connection per message: {ratio(tk_best, src16_new):.2f}x"
        )
    value = ratio(tk_best, src16)
    goal(
        "smtp-sink",
        "smtp-sink: toolkit best (compose + send + ledger) / smtp-source 16 sessions",
        value,
        ">= 0.3",
        at_least(value, 0.3),
        "; ".join(n for n in notes if n),
    )
    best = _best(records, "smtp-sink.toolkit")
    value = ratio(best, first("smtp-sink.baseline."))
    goal(
        "smtp-sink",
        "smtp-sink: toolkit best / smtplib connection per message (sample shape)",
        value,
        ">= 5",
        at_least(value, 5),
        _best_note(best),
    )
    best = _best(records, "smtp.toolkit")
    value = ratio(best, first("smtp.baseline."))
    goal(
        "smtp",
        "smtp (sandbox, STARTTLS+AUTH): toolkit best / AWS SMTP sample shape",
        value,
        ">= 5",
        at_least(value, 5),
        _best_note(best),
    )

    # API transports
    ses_best = _best(records, "ses.toolkit")
    ses_base = first("ses.baseline.")
    rate = ses_best.msgs_per_s if ses_best else None
    goal(
        "ses",
        "ses: toolkit best msg/s",
        rate,
        ">= 1000",
        at_least(rate, 1000),
        _best_note(ses_best),
    )
    goal(
        "ses",
        "ses: toolkit best / boto3 SendEmail sequential",
        ratio(ses_best, ses_base),
        "report",
        None,
    )
    for label, base in (("ses-bulk", ses_base), ("pinpoint", first("pinpoint.baseline."))):
        best = _best(records, f"{label}.toolkit")
        rate = best.msgs_per_s if best else None
        goal(
            label,
            f"{label}: toolkit best recipients/s",
            rate,
            ">= 10000",
            at_least(rate, 10_000),
            _best_note(best),
        )
        value = ratio(best, base)
        goal(
            label,
            f"{label}: toolkit best / per-recipient boto3 baseline",
            value,
            ">= 20",
            at_least(value, 20),
        )

    _dask_goals(records, goal, first, ratio, at_least)

    for r in (r for r in records if r.status == "ok"):
        extra = r.extra
        if r.group == "pacing" or (r.group == "dask" and ".pacing." in r.name):
            limit = extra.get("configured_rate")
            throttled = extra.get("throttled_requests")
            goal(
                r.group,
                f"{r.name}: throttling errors",
                throttled,
                "== 0",
                None if throttled is None else throttled == 0,
            )
            achieved = extra.get("achieved_ratio")
            floor = 0.9 if r.group == "dask" else 0.97  # a shared quota: issue 12 asks 0.9
            goal(
                r.group,
                f"{r.name}: achieved / configured rate",
                achieved,
                f">= {floor}",
                at_least(achieved, floor),
            )
            busy = extra.get("busiest_1s_server")
            goal(
                r.group,
                f"{r.name}: busiest 1 s window at the server",
                busy,
                f"<= {limit}",
                None if busy is None or limit is None else busy <= limit,
            )
        elif r.group == "adaptive":
            goal(
                "adaptive",
                f"{r.name}: seconds to 90% of the limit",
                extra.get("seconds_to_90pct"),
                "report",
                None,
            )
            goal(
                "adaptive",
                f"{r.name}: throttled share of requests",
                extra.get("throttled_share"),
                "report",
                None,
            )
        elif r.group == "scale":
            growth = r.rss_growth_mb
            per_million = extra.get("mb_per_million_rows")
            goal(
                "scale",
                f"{r.name}: memory over the frame, MB ({r.messages:,} rows)",
                growth,
                "<= 500 per 1M rows",
                _memory_verdict(r.messages, growth, per_million),
                f"{per_million:,.0f} MB per 1M rows"
                if per_million is not None and r.messages >= 100_000
                else "",
            )
        elif r.group == "latency":
            _latency_goals(r, goal)
        elif r.group == "faults":
            loss = extra.get("loss")
            goal(
                "faults", f"{r.name}: rows lost", loss, "== 0", None if loss is None else loss == 0
            )
    return goals


def _latency_goals(r: ScenarioResult, goal: Any) -> None:
    """Issue 17: default settings at a distance reach the quota, exactly paced."""
    extra, rate = r.extra, float(r.params.get("rate") or 0)
    achieved = extra.get("achieved_ratio")
    goal("latency", f"{r.name}: achieved / R (defaults)", achieved, ">= 0.95",
         None if achieved is None else achieved >= 0.95,
         f"steady {extra.get('steady_ratio')} R, in flight {extra.get('in_flight_peak')}, "
         f"baseline {extra.get('baseline_ratio')} R")  # fmt: skip
    busiest = extra.get("busiest_1s_server")
    goal("latency", f"{r.name}: busiest second at the sandbox / R", None if busiest is None
         else busiest / rate if rate else None, "<= 1",
         None if busiest is None or not rate else busiest <= rate)  # fmt: skip
    throttled = extra.get("throttled_requests")
    goal("latency", f"{r.name}: throttled requests", throttled, "== 0",
         None if throttled is None else throttled == 0)  # fmt: skip
    once = extra.get("every_row_once")
    goal("latency", f"{r.name}: every row sent once", None if once is None else int(once),
         "== 1", once)  # fmt: skip


def _dask_goals(records: Sequence[ScenarioResult], goal: Any, first: Any, ratio: Any,
                at_least: Any) -> None:  # fmt: skip
    """The ``dask`` group's goals (issue 12): 2 worker processes against one, and memory."""
    p2_smtp = first("dask.smtp-sink.toolkit.p2")
    value = ratio(p2_smtp, first("dask.smtp-sink.toolkit.single"))
    goal("dask", "dask: SMTP into smtp-sink, 2 worker processes / single-process toolkit",
         value, ">= 1.7", at_least(value, 1.7))  # fmt: skip
    value = ratio(p2_smtp, first("dask.smtp-sink.reference.smtp-source.s16"))
    goal("dask", "dask: SMTP into smtp-sink, 2 worker processes / smtp-source 16 sessions",
         value, ">= 0.3", at_least(value, 0.3))  # fmt: skip
    value = ratio(first("dask.ses.toolkit.p2"), first("dask.ses.toolkit.single"))
    goal("dask", "dask: SES API, 2 worker processes / single-process toolkit", value,
         ">= 1.7", at_least(value, 1.7))  # fmt: skip
    scale = next((r for r in records if r.name == "dask.scale.dry-run" and r.status == "ok"), None)
    if scale is not None:
        growth = scale.rss_growth_mb
        goal("dask", f"dask: Parquet dry run, largest worker's memory growth, MB "
             f"({scale.messages:,} rows)", growth, "<= 500",
             None if growth is None else growth <= 500)  # fmt: skip
