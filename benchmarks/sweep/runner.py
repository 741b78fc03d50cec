"""Running sweep cases (two at a time by default: the machines this runs on have two cores)
and putting their counts together per family."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.sweep.cases import Case
from benchmarks.sweep.ground import Tally, count, total
from benchmarks.sweep.world import World


@dataclass
class CaseResult:
    """One case's counts, the lines that explain them and what it ran (its reproduction)."""

    family: str
    name: str
    tally: Tally
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"family": self.family, "name": self.name, "counts": asdict(self.tally),
                "notes": self.notes, "commands": self.commands,
                "seconds": round(self.seconds, 2)}  # fmt: skip


def run_case(case: Case, keep: bool = False) -> CaseResult:
    """Play one case in a fresh directory; an exception of the harness itself is counted."""
    root = Path(tempfile.mkdtemp(prefix="sweep-"))
    world = World(root)
    started = time.monotonic()
    try:
        tally, notes = count(case.act(world, random.Random(case.seed)))
    except Exception as exc:
        tally = Tally(cases=1, harness=1)
        last = traceback.format_exception(exc)[-3:]
        notes = [f"harness: {type(exc).__name__}: {exc}", *(s.strip() for s in last)]
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return CaseResult(case.family, case.name, tally, notes, world.commands,
                      time.monotonic() - started)  # fmt: skip


def run_all(cases: Sequence[Case], jobs: int = 2, log: Callable[[str], None] = lambda s: None,
            sink: Callable[[CaseResult], None] = lambda r: None) -> list[CaseResult]:  # fmt: skip
    """Every case, ``jobs`` at a time; ``sink`` gets each result as it ends. Ctrl-C (or
    SIGTERM, which main turns into it) lets the running cases end and returns those done."""
    done: list[CaseResult] = []

    def one(case: Case) -> CaseResult:
        result = run_case(case)
        done.append(result)
        sink(result)
        mark = "ok" if not result.tally.defects else f"DEFECT {result.notes[:1]}"
        log(f"[{len(done)}/{len(cases)}] {case.name} {result.seconds:.1f}s {mark}")
        return result

    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = [pool.submit(one, case) for case in cases if not case.alone]
    try:
        for future in futures:
            future.result()
        for case in cases:
            if case.alone:
                one(case)
    except KeyboardInterrupt:
        log(f"stopped: {len(done)} of {len(cases)} cases done; counting those")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return list(done)


def by_family(results: Sequence[CaseResult]) -> dict[str, Tally]:
    families: dict[str, list[Tally]] = {}
    for result in results:
        families.setdefault(result.family, []).append(result.tally)
    return {name: total(tallies) for name, tallies in families.items()}


COLUMNS = (("cases", "cases"), ("dups", "duplicates"), ("lost", "lost"),
           ("false-sent", "false_sent"), ("status", "status_errors"),
           ("expect", "expectations"), ("harness", "harness"),
           ("unknown+delivered", "unknown_delivered"),
           ("unknown-delivered", "unknown_not_delivered"))  # fmt: skip


def table(results: Sequence[CaseResult]) -> str:
    """The per-family table and the totals, as Markdown."""
    rows = [*by_family(results).items(), ("total", total(r.tally for r in results))]
    head = "| family | " + " | ".join(label for label, _ in COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(COLUMNS)
    body = [f"| {name} | " + " | ".join(str(getattr(t, attr)) for _, attr in COLUMNS) + " |"
            for name, t in rows]  # fmt: skip
    return "\n".join([head, rule, *body])
