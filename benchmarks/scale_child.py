"""One ``scale`` measurement in a fresh interpreter: ``python -m benchmarks.scale_child VIA ROWS``.

RSS never shrinks much after a big run (freed memory stays in the allocator's arenas), so a
second large dry run in the same process would reuse the first one's memory and look free.
Each scale scenario therefore runs here, alone, and prints its record as one JSON line.
"""

from __future__ import annotations

import gc
import json
import sys

from benchmarks.harness import Measure
from benchmarks.scenarios import offline_target, recipients_frame, status_counts, toolkit_send


def measure(via: str, rows: int) -> dict[str, object]:
    """Dry-run ``rows`` rows through ``via``'s composition; the record as a dict."""
    # imports and client set-up first, so the measured growth is the frame's
    toolkit_send(
        recipients_frame(100, domain="example.org"),
        via,
        offline_target(via),
        dry_run=True,
        workers=1,
    )
    frame = recipients_frame(rows, domain="example.org")
    gc.collect()
    with Measure() as m:
        results = toolkit_send(frame, via, offline_target(via), dry_run=True, workers=1)
    record = m.record(
        f"scale.{via}.dry-run",
        group="scale",
        kind="toolkit",
        messages=rows,
        sent=len(results),
        params={"via": via, "rows": rows, "dry_run": True, "process": "fresh"},
    )
    growth = record.rss_growth_mb or 0.0
    record.extra.update(
        {
            "rows_per_s": round(rows / m.seconds, 1),
            "mb_per_million_rows": round(growth * 1_000_000 / rows, 1),
            "statuses": status_counts(results),
            "note": "msgs_per_s counts composed rows (dry run: nothing is sent)",
            "frame_mb": round(frame.memory_usage(deep=True).sum() / 2**20, 1),
        }
    )
    return record.to_dict()


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))), flush=True)
