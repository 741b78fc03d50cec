"""The ``latency`` group: each transport at an account's rate R, at 50 and 150 ms, DEFAULT settings.

Loopback hides the one thing a real provider adds: every answer takes tens of milliseconds.
Here the sandbox adds ``latency_ms`` before every answer and polices rate R; the toolkit
sends with its defaults (no ``workers``; the SES API reads R from ``GetAccount``, Pinpoint from
``GetEmailChannel``, SMTP is told ``SmtpTarget(rate=R)``, having no quota call), and
the figures come from the results file, as a user would compute them:

* ``achieved`` = sent ÷ (last ``finished_at`` − first ``started_at``) (the issue's measure;
  a sliding-window pacer may start the first second's R at once, so a short run can show a
  little more than R), and ``steady`` = rows started per whole second of the run;
* ``busiest_1s`` (recipients the *sandbox* accepted in its busiest one-second window, ≤ R),
  ``throttled`` (requests answered with throttling), ``in_flight`` (the most provider calls
  open at once, from each batch's start and end), client CPU per message, peak RSS;
* the baseline, in the same run at the same latency: AWS's sample shape, one request at a
  time with a default boto3 client (smtplib, a new connection per message, for SMTP).

Usage: ``python -m benchmarks --quick --only latency``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import baselines
from benchmarks.harness import Measure, ScenarioResult, skipped
from benchmarks.scenarios import (
    SENDER,
    SUBJECT,
    TEXT,
    Context,
    guarded,
    recipients_frame,
    sandbox,
    sent_count,
    status_counts,
    throttled_requests,
    toolkit_available,
    toolkit_send,
)

__all__ = ["RATES", "in_flight_peak", "run_latency", "run_once"]

RATES: dict[str, float] = {"ses": 500.0, "ses-bulk": 5_000.0, "pinpoint": 2_000.0, "smtp": 200.0}
"""The account rate R per transport (recipients per second), as in issue 17."""
LATENCIES_MS = (50, 150)
QUICK_SECONDS = 1.5
FULL_SECONDS = 8.0
BASELINE_SECONDS = (0.5, 3.0)  # quick, full: sequential calls for about this long


def in_flight_peak(results: pd.DataFrame) -> int:
    """The most provider calls open at once: each batch's [started_at, finished_at]."""
    from toolkit.results import epoch_seconds

    frame = pd.DataFrame(
        {
            "batch": results["batch_id"],
            "start": epoch_seconds(results["started_at"]),
            "end": epoch_seconds(results["finished_at"]),
        }
    ).dropna()
    if frame.empty:
        return 0
    calls = frame.groupby(["batch", "start"], sort=False)["end"].max().reset_index()
    events = np.concatenate([calls["start"].to_numpy(), calls["end"].to_numpy()])
    steps = np.concatenate([np.ones(len(calls)), -np.ones(len(calls))])
    order = np.lexsort((steps, events))  # at a tie, an end before a start
    return int(np.cumsum(steps[order]).max())


def span_rate(results: pd.DataFrame) -> float | None:
    """sent ÷ (last finished_at − first started_at) over the sent rows."""
    from toolkit.results import epoch_seconds

    sent = results[results["status"] == "sent"]
    if len(sent) < 2:
        return None
    span = float(np.nanmax(epoch_seconds(sent["finished_at"])) -
                 np.nanmin(epoch_seconds(sent["started_at"])))  # fmt: skip
    return len(sent) / span if span > 0 else None


def run_once(
    via: str, rate: float, latency_ms: float, seconds: float, *, baseline_s: float = 1.0,
    log: Callable[[str], None] = print, name: str = "", ctx: Context | None = None,
) -> ScenarioResult:  # fmt: skip
    """One transport at one latency: the toolkit with defaults, then the baseline."""
    n = int(rate * seconds)
    box = ctx or Context(sizes=None)  # type: ignore[arg-type]
    with sandbox(box, rate=rate, latency_ms=float(latency_ms)) as sb:
        target = sb.smtp_target(rate=rate) if via == "smtp" else sb.aws_target()
        # warm-up, well inside the limit: imports, clients, first connections
        toolkit_send(recipients_frame(20, start=9_000_000), via, target, rate=rate / 4)
        sb.clear()
        time.sleep(1.1)  # let the warm-up leave the sandbox's one-second window
        # The account's rate as the user knows it: SES API from GetAccount, Pinpoint from
        # GetEmailChannel (nothing to give); SMTP has no quota call, so SmtpTarget(rate=R).
        with Measure() as m:
            results = toolkit_send(recipients_frame(n), via, target, workers=None)
        accepted = sb.accepted_at()
        sb.clear()
        time.sleep(1.1)
        base = _baseline(via, sb, target, latency_ms, baseline_s)
    return _record(m, name or f"latency.{via}.{int(latency_ms)}ms", via, rate, latency_ms, n,
                   results, accepted, base, log)  # fmt: skip


def _record(
    m: Measure, name: str, via: str, rate: float, latency_ms: float, n: int,
    results: pd.DataFrame, accepted: Any, base: float | None, log: Callable[[str], None],
    **params: Any,
) -> ScenarioResult:  # fmt: skip
    """The scenario's figures, from the results file's stamps and what the sandbox accepted."""
    from toolkit.measure.report import busiest_window, steady_rate
    from toolkit.results import epoch_seconds

    sent = sent_count(results)
    record = m.record(
        name,
        group="latency",
        kind="toolkit",
        messages=n,
        sent=sent,
        latencies_s=(epoch_seconds(results["finished_at"]) - epoch_seconds(results["started_at"])),
        params={
            "via": via,
            "rate": rate,
            "latency_ms": latency_ms,
            "rows": n,
            "settings": "defaults",
            **params,
        },
    )
    achieved = span_rate(results)
    starts = epoch_seconds(results.loc[results["status"] == "sent", "started_at"])
    steady = steady_rate(starts)
    once = bool(results["row_key"].is_unique) if "row_key" in results else None
    record.extra.update(
        {
            "statuses": status_counts(results),
            "achieved_per_s": None if achieved is None else round(achieved, 1),
            "achieved_ratio": None if achieved is None else round(achieved / rate, 4),
            "steady_ratio": round(steady / rate, 4) if steady else None,
            "busiest_1s_server": busiest_window(accepted),
            "throttled_requests": throttled_requests(results),
            "in_flight_peak": in_flight_peak(results),
            "cpu_us_per_msg": round((m.cpu_seconds + m.extra_cpu_seconds) / max(1, sent) * 1e6, 1),
            "stored": len(accepted),
            "every_row_once": bool(once) and sent == n and len(accepted) == n,
            "baseline_per_s": None if base is None else round(base, 1),
            "baseline_ratio": None if base is None else round(base / rate, 4),
        }
    )
    log(f"  {name}: achieved {record.extra['achieved_ratio']} R, steady "
        f"{record.extra['steady_ratio']} R, busiest {record.extra['busiest_1s_server']}/"
        f"{rate:g}, throttled {record.extra['throttled_requests']}, in flight "
        f"{record.extra['in_flight_peak']}, {record.extra['cpu_us_per_msg']} µs/msg, "
        f"baseline {record.extra['baseline_ratio']} R")  # fmt: skip
    return record


def _baseline(via: str, sb: Any, target: Any, latency_ms: float, seconds: float) -> float:
    """Recipients/s of AWS's sample shape at this latency: one request at a time."""
    per_call = {"ses-bulk": 50}.get(via, 1)
    calls = max(2, int(seconds / (latency_ms / 1000.0)))
    recipients = [f"success+{i}@simulator.amazonses.com" for i in range(calls * per_call)]
    t0 = time.perf_counter()
    if via == "ses":
        accepted, _ = baselines.ses_send_email_each(
            baselines.boto3_client("sesv2", target), recipients, TEXT
        )
    elif via == "pinpoint":
        accepted, _ = baselines.pinpoint_send_messages_each(
            baselines.boto3_client("pinpoint", target), target.pinpoint_app_id, recipients, TEXT
        )
    elif via == "ses-bulk":
        accepted = _bulk_each(baselines.boto3_client("sesv2", target), recipients)
    else:
        accepted, _ = baselines.smtplib_connection_each(
            target.host, target.port, recipients, TEXT, context=target.ssl_context(),
            username=target.username, password=target.password,
        )  # fmt: skip
    return accepted / (time.perf_counter() - t0)


def _bulk_each(client: Any, recipients: Sequence[str]) -> int:
    """SES v2 ``SendBulkEmail``, 50 entries per call, one call after the other."""
    accepted = 0
    template = {"Subject": SUBJECT, "Text": "Hello {{name}}"}
    for start in range(0, len(recipients), 50):
        entries = [
            {
                "Destination": {"ToAddresses": [r]},
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {"ReplacementTemplateData": '{"name": "x"}'}
                },
            }
            for r in recipients[start : start + 50]
        ]
        try:
            response = client.send_bulk_email(
                FromEmailAddress=SENDER,
                DefaultContent={"Template": {"TemplateContent": template, "TemplateData": "{}"}},
                BulkEmailEntries=entries,
            )
        except Exception:  # the sample prints the error and moves on
            continue
        accepted += sum(
            1 for r in response.get("BulkEmailEntryResults", []) if r.get("Status") == "SUCCESS"
        )
    return accepted


def run_latency(ctx: Context) -> list[ScenarioResult]:
    """Every transport at 50 and 150 ms (full: ~8 s of sending each); quick: at 50 ms only,
    ~1.5 s each (a scenario mostly waits, but it starts a sandbox and a baseline: ~15 s)."""
    out: list[ScenarioResult] = []
    if not ctx.group_selected("latency"):
        return out
    reason = toolkit_available()
    if reason:
        return [skipped("latency.*", "latency", "toolkit", reason)]
    full = ctx.sizes.ses_n >= 1_000
    seconds = FULL_SECONDS if full else QUICK_SECONDS
    baseline_s = BASELINE_SECONDS[1] if full else BASELINE_SECONDS[0]
    for latency in LATENCIES_MS if full else LATENCIES_MS[:1]:
        for via, rate in RATES.items():
            name = f"latency.{via}.{latency}ms"

            def run(via: str = via, rate: float = rate, latency: int = latency,
                    name: str = name) -> ScenarioResult:  # fmt: skip
                return run_once(via, rate, latency, seconds, baseline_s=baseline_s,
                                log=ctx.log, name=name, ctx=ctx)  # fmt: skip

            guarded(ctx, out, name, "latency", "toolkit", run, via=via, latency_ms=latency)
    if full:
        for latency in LATENCIES_MS:
            _dask_ses(ctx, out, latency, seconds)
    return out


def _dask_ses(ctx: Context, out: list[ScenarioResult], latency: int, seconds: float) -> None:
    """SendEmail at R through ``send_partitioned`` on 2 worker processes, default settings:
    each partition sizes its requests in flight for the share of R it holds."""
    from benchmarks.dask_group import (
        PARTITIONS,
        WORKERS,
        Workers,
        cluster,
        dask_missing,
        partitioned,
    )

    name, rate = f"latency.dask-ses.{latency}ms", RATES["ses"]
    reason = dask_missing()
    if reason:
        if ctx.selected(name):
            out.append(skipped(name, "latency", "toolkit", reason))
        return

    def run() -> ScenarioResult:
        n = int(rate * seconds)
        with sandbox(ctx, rate=rate, latency_ms=float(latency)) as sb, cluster() as client:
            target = sb.aws_target()
            partitioned(recipients_frame(40, start=9_000_000), client, ctx.workdir, "ses",
                        target, workers=None, rate=rate / 4)  # warm-up  # fmt: skip
            sb.clear()
            time.sleep(1.1)
            workers = Workers(client)
            cpu0 = workers.cpu()
            with Measure() as m:
                done = partitioned(recipients_frame(n), client, ctx.workdir, "ses", target,
                                   workers=None, keep=True)  # fmt: skip
                results = done.results.compute()
            m.extra_cpu_seconds = workers.cpu() - cpu0  # the workers send
            accepted = sb.accepted_at()
        return _record(m, name, "ses", rate, latency, n, results, accepted, None, ctx.log,
                       worker_processes=WORKERS, partitions=PARTITIONS)  # fmt: skip

    guarded(ctx, out, name, "latency", "toolkit", run, via="ses", latency_ms=latency)
