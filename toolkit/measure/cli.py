"""``python -m toolkit report``: summarize a results file and write its figures."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from toolkit.measure.figures import save_figures
from toolkit.measure.report import summarize


def load_results(path: str | Path) -> pd.DataFrame:
    """Read a results file written by the toolkit (.csv, .parquet, .json or .jsonl)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(p)
    if suffix in (".json", ".jsonl"):
        return pd.read_json(p, lines=suffix == ".jsonl")
    return pd.read_csv(p, dtype={"row_key": str, "message_id": str, "error_code": str})


def report_cli(argv: Sequence[str] | None = None) -> int:
    """``python -m toolkit report RESULTS [--rate R] [--png DIR] [--json]``.

    Prints the summary (or its JSON with ``--json``) and, with ``--png``, writes the three
    figures. Returns 0 on success, 2 when the file cannot be read or lacks columns.
    """
    parser = argparse.ArgumentParser(
        prog="toolkit report", description="Summarize a results file from a send run."
    )
    parser.add_argument("results", help="results file (.csv, .parquet, .json, .jsonl)")
    parser.add_argument("--rate", type=float, default=None, help="configured send rate (/s)")
    parser.add_argument("--png", metavar="DIR", default=None, help="write figures here")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        frame = load_results(args.results)
        summary = summarize(frame, configured_rate=args.rate)
    except (OSError, ValueError, KeyError) as exc:
        print(f"toolkit report: cannot read {args.results}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.to_text())
    if args.png:
        for path in save_figures(frame, args.png, configured_rate=args.rate):
            print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0
