"""``python -m benchmarks [--quick|--full] [--out DIR] [--only NAME ...]``.

Writes ``latest.json`` (machine, parameters, every scenario, goals, figures) and
``latest.md`` (the same as tables) into ``--out``. Exit status 0 unless the harness itself
broke; failed goals and skipped scenarios are reported in the files, not as an exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from benchmarks.harness import calibrate, machine_info
from benchmarks.report import render_markdown, save_figures, update_readme
from benchmarks.scenarios import FULL, GROUPS, QUICK, Context, evaluate_goals, run_all

DEFAULT_FULL_OUT = Path(__file__).resolve().parent / "results"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes, < 2 min (default)")
    mode.add_argument("--full", action="store_true", help="full sizes, for people")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default: benchmarks/results for --full, "
        "a new temporary directory for --quick)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=(),
        metavar="NAME",
        help=f"groups or scenario-name prefixes; groups: {', '.join(GROUPS)}",
    )
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get install postfix (skip instead)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run each scenario N times, keep the median",
    )
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    args = parser.parse_args(argv)

    full = bool(args.full)
    sizes = FULL if full else QUICK
    out = args.out or (DEFAULT_FULL_OUT if full else Path(tempfile.mkdtemp(prefix="bench-quick-")))
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        sizes=sizes,
        only=tuple(args.only),
        log=lambda s: print(s, flush=True),
        install=not args.no_install,
        repeat=args.repeat,
    )
    started = time.time()
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"benchmarks ({'full' if full else 'quick'}) -> {out}", flush=True)
    load_before = os.getloadavg()
    calibration_before = calibrate()
    try:
        records = run_all(ctx)
    finally:
        shutil.rmtree(ctx.workdir, ignore_errors=True)
    calibration_after = calibrate()
    figures = [] if args.no_figures else save_figures(records, ctx.figures, out)
    document = {
        "schema": 1,
        "mode": "full" if full else "quick",
        "command": command.strip(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "machine": machine_info(),
        "calibration_s": {
            "before": round(calibration_before, 4),
            "after": round(calibration_after, 4),
        },
        "load_average_1m": {
            "before": round(load_before[0], 2),
            "after": round(os.getloadavg()[0], 2),
        },
        "parameters": asdict(sizes) | {"only": list(args.only), "repeat": args.repeat},
        "scenarios": [r.to_dict() for r in records],
        "goals": evaluate_goals(records),
        "figures": figures,
    }
    (out / "latest.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(document)
    (out / "latest.md").write_text(markdown, encoding="utf-8")
    if full and out.resolve() == DEFAULT_FULL_OUT and not args.only:
        readme = DEFAULT_FULL_OUT.parent / "README.md"
        if update_readme(readme, markdown):
            print(f"updated {readme}", flush=True)
        # nbval compares notebook 02's saved tables with this file: stale outputs fail the tests.
        print(
            "notebooks/02_throughput_and_failures.ipynb shows these results: re-run it before "
            "committing (jupyter nbconvert --to notebook --execute --inplace "
            "notebooks/02_throughput_and_failures.ipynb)",
            flush=True,
        )
    print(
        f"wrote {out / 'latest.json'} and {out / 'latest.md'} ({document['duration_s']} s)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
