"""Compose throughput and memory: plan() + render() against an EmailMessage-per-row baseline.

Measures, in one process run (compare only numbers from the same run: this kind of machine
drifts by up to 1.5x within minutes):

1. ``plan()`` + ``render()`` of the order-confirmation template (text + html,
   multipart/alternative, RAW mode: complete MIME bytes) over ``--rows`` rows (default
   100,000), rendering in chunks of ``--chunk`` positions, on one core;
2. the baseline: the same rows rendered with the same templates but built as
   ``email.message.EmailMessage`` (policy.default) + ``as_bytes(policy=SMTP)``, on a sample of
   ``--baseline-rows`` rows (it is ~50× slower, so the rate is taken on a sample);
3. peak RSS of a dry-run-like ``plan()`` over ``--memory-rows`` rows (default 1,000,000), in a
   fresh child process whose frame is built with pyarrow (no Python string per cell), as the
   child's peak RSS minus its RSS with the frame loaded.

Run: ``python benchmarks/compose_bench.py`` (about half a minute).
"""

from __future__ import annotations

import argparse
import email.policy
import email.utils
import json
import resource
import subprocess
import sys
import time
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.compose import ComposeSpec, plan
from toolkit.compose.message import ContentMode, Message
from toolkit.compose.render import compile_template

DATA = Path(__file__).resolve().parents[1] / "data"
SENDER = "Example Shop <sender@example.com>"
LIMIT = 40 * 1024 * 1024


def templates() -> dict[str, str]:
    folder = DATA / "templates"
    return {
        "subject": (folder / "order_confirmation.subject.txt").read_text("utf-8").strip(),
        "text": (folder / "order_confirmation.txt").read_text("utf-8"),
        "html": (folder / "order_confirmation.html").read_text("utf-8"),
    }


def frame(rows: int, seed: int = 1) -> pd.DataFrame:
    """``rows`` recipients: sample columns resampled, a unique simulator address per row.

    Built with pyarrow compute so no Python object exists per cell (for the memory run).
    """
    sample = pd.read_csv(DATA / "recipients.csv", dtype=str, keep_default_na=False)
    sample = sample[~sample["first_name"].str.contains("\n")]  # drop the deliberately bad rows
    sample = sample[sample["email"].str.contains("@simulator")]
    rng = np.random.default_rng(seed)
    take = pa.array(rng.integers(0, len(sample), rows))
    numbers = pc.cast(pa.array(np.arange(rows)), pa.string())
    emails = pc.binary_join_element_wise("success+", numbers, "@simulator.amazonses.com", "")
    columns = {"email": emails}
    for column in ("first_name", "last_name", "order_id", "amount", "currency", "city"):
        columns[column] = pa.array(sample[column].tolist(), pa.string()).take(take)
    return pd.DataFrame(
        {name: pd.Series(pd.arrays.ArrowStringArray(arr)) for name, arr in columns.items()}
    )


def spec() -> ComposeSpec:
    return ComposeSpec(sender=SENDER, name_column="first_name", **templates())


def bench_toolkit(df: pd.DataFrame, chunk: int) -> dict[str, float]:
    cpu = time.process_time()
    started = time.perf_counter()
    p = plan(df, spec(), mode=ContentMode.RAW, max_message_bytes=LIMIT, transport="bench")
    planned = time.perf_counter()
    count = size = 0
    for start in range(0, len(p.sendable), chunk):
        for item in p.render(p.sendable[start : start + chunk]):
            assert isinstance(item, Message) and item.raw is not None
            count += 1
            size += len(item.raw)
    done = time.perf_counter()
    cpu = time.process_time() - cpu
    return {
        "rows": len(df),
        "cpu_s": cpu,
        "cpu_msgs_per_s": count / cpu,
        "messages": count,
        "plan_s": planned - started,
        "render_s": done - planned,
        "total_s": done - started,
        "msgs_per_s": count / (done - started),
        "render_msgs_per_s": count / (done - planned),
        "avg_bytes": size / max(count, 1),
    }


def bench_baseline(df: pd.DataFrame) -> dict[str, float]:
    """EmailMessage per row, same templates, same values (rendering included)."""
    parts = {k: compile_template(v, escape_html=k == "html") for k, v in templates().items()}
    records = df.to_dict("records")
    sender = Address("Example Shop", addr_spec="sender@example.com")
    cpu = time.process_time()
    started = time.perf_counter()
    size = 0
    for row in records:
        rendered = {k: t.render([row[f] for f in t.fields]) for k, t in parts.items()}
        message = EmailMessage()
        message["From"] = sender
        message["To"] = Address(row["first_name"], addr_spec=row["email"])
        message["Subject"] = rendered["subject"]
        message["Date"] = email.utils.formatdate(usegmt=True)
        message.set_content(rendered["text"])
        message.add_alternative(rendered["html"], subtype="html")
        size += len(message.as_bytes(policy=email.policy.SMTP))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return {"messages": len(records), "total_s": elapsed, "msgs_per_s": len(records) / elapsed,
            "cpu_msgs_per_s": len(records) / cpu,
            "avg_bytes": size / max(len(records), 1)}  # fmt: skip


def memory_child(rows: int) -> dict[str, float]:
    """Run in a fresh process: RSS with the frame loaded, then peak RSS during plan()."""
    import psutil

    df = frame(rows)
    process = psutil.Process()
    with_frame = process.memory_info().rss
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    p = plan(df, spec(), mode=ContentMode.RAW, max_message_bytes=LIMIT, transport="dry-run")
    elapsed = time.perf_counter() - started
    preview = p.preview(3)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "rows": rows,
        "sendable": len(p.sendable),
        "plan_s": elapsed,
        "frame_mb": df.memory_usage(deep=True).sum() / 2**20,
        "rss_with_frame_mb": with_frame / 2**20,
        "peak_rss_mb": peak / 2**20,
        "peak_over_frame_mb": (peak - max(with_frame, 0)) / 2**20,
        "peak_before_plan_mb": peak_before / 2**20,
        "preview_rows": len(preview),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--baseline-rows", type=int, default=5_000)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child)))
        return

    df = frame(args.rows)
    ours = bench_toolkit(df, args.chunk)
    base = bench_baseline(df.head(args.baseline_rows))
    print(
        f"toolkit  plan+render: {ours['messages']:,} messages in {ours['total_s']:.2f} s "
        f"= {ours['msgs_per_s']:,.0f} msg/s wall, {ours['cpu_msgs_per_s']:,.0f} msg/s per "
        f"CPU-second (plan {ours['plan_s']:.2f} s, render {ours['render_msgs_per_s']:,.0f} "
        f"msg/s wall, {ours['avg_bytes']:,.0f} B/msg)"
    )
    print(
        f"baseline EmailMessage: {base['messages']:,} messages in {base['total_s']:.2f} s "
        f"= {base['msgs_per_s']:,.0f} msg/s wall, {base['cpu_msgs_per_s']:,.0f} msg/s per "
        f"CPU-second ({base['avg_bytes']:,.0f} B/msg)"
    )
    print(
        f"ratio toolkit/baseline: {ours['msgs_per_s'] / base['msgs_per_s']:.1f}x wall, "
        f"{ours['cpu_msgs_per_s'] / base['cpu_msgs_per_s']:.1f}x CPU"
    )
    if args.memory_rows:
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(args.memory_rows)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        mem = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"dry-run plan over {mem['rows']:,} rows: {mem['plan_s']:.2f} s; frame "
              f"{mem['frame_mb']:.0f} MB (RSS with frame {mem['rss_with_frame_mb']:.0f} MB); "
              f"peak RSS {mem['peak_rss_mb']:.0f} MB = {mem['peak_over_frame_mb']:.0f} MB "
              f"over the frame")  # fmt: skip


if __name__ == "__main__":
    main()
