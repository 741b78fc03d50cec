"""``python -m toolkit report``: summarize a results file and write its figures."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from toolkit.cli.parser import OneLineParser
from toolkit.measure.figures import known_rates, save_figures
from toolkit.measure.report import load_results, summarize


def report_cli(argv: Sequence[str] | None = None) -> int:
    """``python -m toolkit report RESULTS [--rate R] [--png DIR] [--json]``.

    Prints the summary (or its JSON with ``--json``) and, with ``--png``, writes the figures.
    The rate line comes from ``--rate`` or from the summary saved with the results. Returns 0
    on success, 2 when the file cannot be read or lacks columns.
    """
    parser = OneLineParser(
        prog="python -m toolkit report",
        description="Summarize a results file from a send run and draw its figures.",
        epilog="example: python -m toolkit report results.csv --png figures/",
    )
    parser.add_argument(
        "results", help="results file written by 'send --out' (.csv, .parquet, .json, .jsonl)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="send rate to compare with, per second, e.g. --rate 14 (default: the rate saved "
        "with the results, when known)",
    )
    parser.add_argument(
        "--png", metavar="DIR", default=None, help="write the figures as PNG files into DIR"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        frame = load_results(args.results)
        quota, pace = known_rates(frame)
        summary = summarize(frame, configured_rate=args.rate or pace or quota)
    except (OSError, ValueError, KeyError) as exc:
        print(f"toolkit report: cannot read {args.results}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.to_text())
    if args.png:
        try:
            written = save_figures(frame, args.png, configured_rate=args.rate)
        except OSError as exc:
            print(f"toolkit report: --png {args.png}: cannot write there ({exc.strerror})",
                  file=sys.stderr)  # fmt: skip
            return 2
        for path in written:
            print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0
