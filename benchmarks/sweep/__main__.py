"""``python -m benchmarks.sweep [--quick] [--out FILE.json] [--only NAME ...] [--jobs N]``.

Replays users' actions (issue 16) against the embedded sandbox and counts, from the
sandbox's mailbox, duplicates, lost results and false ``sent`` rows. Exit status 0 when every
count is zero, 1 when a case found a defect (each listed with what it ran), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from benchmarks.sweep import all_cases
from benchmarks.sweep.ground import total
from benchmarks.sweep.runner import CaseResult, by_family, run_all, table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep",
                                     description=__doc__.split("\n")[2])  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="about 40 cases, ~2 minutes")
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON here")
    parser.add_argument("--only", nargs="+", default=(), metavar="NAME",
                        help="cases whose name starts with NAME (e.g. interrupt/smtp)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=2, help="cases at once (default 2)")
    parser.add_argument("--no-dask", action="store_true", help="leave out the LocalCluster cases")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    args = parser.parse_args(argv)
    for name in ("toolkit", "distributed"):  # the API cases' notes: counted, not shown
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.simplefilter("ignore")  # Pinpoint's end of support, once per API case
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:  # started in the background: the
        signal.signal(signal.SIGINT, signal.default_int_handler)  # CLI runs need Ctrl-C

    command = "python -m benchmarks.sweep " + " ".join(argv if argv is not None else sys.argv[1:])
    choice = {"quick": args.quick, "only": tuple(args.only), "dask": not args.no_dask}
    with all_cases(**choice, cluster=not args.list) as cases:
        if args.list:
            print("\n".join(case.name for case in cases))
            return 0
        print(f"{command}: {len(cases)} cases, {args.jobs} at a time", flush=True)
        load_before, started = os.getloadavg(), time.monotonic()
        signal.signal(signal.SIGTERM, _interrupt)
        stream = _stream(args.out)
        results = run_all(cases, jobs=args.jobs, log=lambda s: print(s, flush=True),
                          sink=stream)  # fmt: skip
        seconds = time.monotonic() - started
    print()
    print(table(results))
    defects = [r for r in results if r.tally.defects]
    for result in defects:
        print(f"\n{result.name}   (replay: python -m benchmarks.sweep --only {result.name})")
        for note in result.notes[:8]:
            print(f"  {note}")
        for line in result.commands:
            print(f"  $ {line}")
    summary = asdict(total(r.tally for r in results))
    print(f"\n{len(results)} cases in {seconds:.0f} s (load {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after); duplicates {summary['duplicates']}, lost "
          f"{summary['lost']}, false sent {summary['false_sent']}")  # fmt: skip
    if args.out is not None:
        report = {"command": command, "seconds": round(seconds, 1),
                  "load": {"before": load_before, "after": os.getloadavg()},
                  "cpus": os.cpu_count(), "totals": summary,
                  "families": {k: asdict(v) for k, v in by_family(results).items()},
                  "defects": [r.as_dict() for r in defects],
                  "cases": [r.as_dict() for r in results]}  # fmt: skip
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(f"report -> {args.out}")
    return 1 if defects else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stream(out: Path | None) -> Callable[[CaseResult], None]:
    """Each case's result as one JSON line in OUT.cases.jsonl as it ends (a sweep stopped
    early still has its counts)."""
    if out is None:
        return lambda result: None
    path = out.with_suffix(".cases.jsonl")
    path.write_text("", encoding="utf-8")
    lock = threading.Lock()

    def write(result: CaseResult) -> None:
        with lock, path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(result.as_dict()) + "\n")

    return write


if __name__ == "__main__":
    sys.exit(main())
