"""Sweep families played through ``python -m toolkit send`` subprocesses, as a user types them:
re-exported files (H1), changed content (M2), Ctrl-C / SIGTERM / SIGKILL at chosen moments
(H3, H4, M9), flags of another transport, unverified senders and stored templates (H5, H6,
M1), input formats (L), full disks (M3, M4) and stalled SMTP servers (M7)."""

from __future__ import annotations

import functools
import random
import signal
import subprocess
from collections.abc import Iterator

import pandas as pd

from benchmarks.sweep.cases import VIAS, Case, no_pinpoint_warning, write_frame
from benchmarks.sweep.edits import EDITS
from benchmarks.sweep.endpoints import STALL_AT, stalling_smtp
from benchmarks.sweep.ground import Observation
from benchmarks.sweep.world import (
    SENDER,
    Interrupt,
    World,
    emails,
    ledger_sent,
    observe,
    read_results,
    temp_results_appear,
)

# -- H1: resume after re-exporting the file ----------------------------------------------------


def _reexport(world: World, rng: random.Random, *, via: str, edit: str, partial: bool,
              key: bool) -> Observation:  # fmt: skip
    source, out, ledger = world.root / "people.csv", world.root / "o.csv", world.root / "l.sqlite"
    base = emails(12)
    keyed = ["--key-column", "id"] if key else []
    with world.serving():
        write_frame(source, base, id=[f"k{a}" for a in base]) if key else write_frame(source, base)
        first = world.cli(*world.send_args(source, out, via, *keyed, ledger=ledger),
                          *(["--limit", rng.randint(3, 9)] if partial else []))  # fmt: skip
        world.expect(first.code == 0, f"first run exit {first.code}: {first.lines[-1:]}")
        edited = EDITS[edit](base, rng)
        world.commands.append(f"# the file re-exported ({edit}): email = {edited}")
        if key:
            write_frame(source, edited, id=[f"k{a.casefold()}" for a in edited])
        else:
            write_frame(source, edited)
        again = world.cli(*world.send_args(source, out, via, *keyed, "--resume", ledger=ledger))
        world.expect(again.code == 0, f"resume exit {again.code}: {again.lines[-1:]}")
        return observe(world, edited, read_results(out))


def reexport_cases() -> Iterator[Case]:
    seed = 0
    for via in VIAS:
        for edit in EDITS:
            for partial in (False, True):
                seed += 1
                key = edit in ("shuffle", "insert-top") and partial
                act = functools.partial(_reexport, via=via, edit=edit, partial=partial, key=key)
                name = f"reexport/{via}/{edit}/{'partial' if partial else 'full'}/s{seed}"
                yield Case("H1 reexport (cli)", name, act, seed)


# -- M2: resume with other content -------------------------------------------------------------

CHANGES = {
    "text": ["--text", "version two"],
    "html": ["--html", "<p>version two</p>"],
    "subject": ["--subject", "Hello again"],
}


def _content(world: World, rng: random.Random, *, via: str, change: str, resend: bool,
             partial: bool) -> Observation:  # fmt: skip
    source, out, ledger = world.root / "people.csv", world.root / "o.csv", world.root / "l.sqlite"
    base = emails(10)
    with world.serving():
        write_frame(source, base)
        limit = ["--limit", rng.randint(3, 7)] if partial else []
        first = world.cli(*world.send_args(source, out, via, *limit, ledger=ledger))
        world.expect(first.code == 0, f"first run exit {first.code}: {first.lines[-1:]}")
        flags = ["--resume", *CHANGES[change], *(["--resend-changed"] if resend else [])]
        again = world.cli(*world.send_args(source, out, via, *flags, ledger=ledger))
        world.expect(again.code == 0, f"resume exit {again.code}: {again.lines[-1:]}")
        results = read_results(out)
        if results is not None and not resend:
            changed = results["error_code"].eq("ContentChanged").sum()
            counts = results["status"].value_counts().to_dict()
            world.expect(results["status"].eq("sent").sum() + changed == len(base),
                         f"resume without --resend-changed: {counts}")  # fmt: skip
        return observe(world, base, results, allowed=2 if resend else 1)


def content_cases() -> Iterator[Case]:
    seed = 100
    for via in VIAS:
        for change in CHANGES:
            for resend in (False, True):
                for partial in (False, True):
                    if partial and change == "html":
                        continue
                    seed += 1
                    act = functools.partial(_content, via=via, change=change, resend=resend,
                                            partial=partial)  # fmt: skip
                    name = (f"content/{via}/{change}/{'resend' if resend else 'keep'}/"
                            f"{'partial' if partial else 'full'}/s{seed}")  # fmt: skip
                    yield Case("M2 changed content (cli)", name, act, seed)


# -- H3, H4, M9: interruptions -----------------------------------------------------------------

PLANS: dict[str, tuple[str, tuple[tuple[str, float], ...]]] = {
    # name: (moment, ((signal, delay before it), ...))
    "int": ("row", (("int", 0.0),)),
    "int-twice": ("row", (("int", 0.0), ("int", -1.0))),  # -1: 10-20 ms, drawn per case
    "term": ("row", (("term", 0.0),)),
    "int-at-write": ("write", (("int", 0.0),)),
    "term-at-write": ("write", (("term", 0.0),)),
    "int-at-check": ("check", (("int", 0.0),)),
    "kill": ("row", (("kill", 0.0),)),
    "kill-retry-unknown": ("row", (("kill", 0.0),)),
}
EXIT = {"int": 130, "term": 143, "kill": -signal.SIGKILL}
SIGNUMS = {"int": signal.SIGINT, "term": signal.SIGTERM, "kill": signal.SIGKILL}
N_INTERRUPT = 60


def _interrupt(world: World, rng: random.Random, *, via: str, plan: str) -> Observation:
    source, out, ledger = world.root / "people.csv", world.root / "o.csv", world.root / "l.sqlite"
    base = emails(N_INTERRUPT)
    moment, steps = PLANS[plan]
    signals = tuple((rng.uniform(0.010, 0.020) if delay < 0 else delay, SIGNUMS[name])
                    for name, delay in steps)  # fmt: skip
    at_row = rng.randint(1, N_INTERRUPT * 2 // 3)
    trigger = (temp_results_appear(out, check=moment == "check") if moment != "row"
               else lambda: ledger_sent(ledger) >= at_row)  # fmt: skip
    with world.serving():
        write_frame(source, base)
        args = world.send_args(source, out, via, "--rate", 40, ledger=ledger)
        run = world.cli(*args, interrupt=Interrupt(trigger, signals))
        when = {
            "write": "the results' temporary file appears",
            "check": "the --out probe (.check) appears",
        }.get(moment, f"{at_row} rows are sent")
        reached = "" if run.interrupted else " (not reached: the run ended first)"
        world.commands[-1] += f"   # {plan} after {when}{reached}"
        if run.interrupted:
            code = EXIT[steps[0][0]]
            world.expect(run.code == code, f"{plan}: exit {run.code}, not {code}: {run.lines[-1:]}")
            if moment == "check":  # before anything was planned: nothing to write, no litter
                litter = [p.name for p in world.root.glob(f".{out.name}.*")]
                world.expect(not litter, f"{plan}: left behind {litter}")
            elif steps[0][0] != "kill":
                results = read_results(out)
                world.expect(results is not None and len(results) == len(base),
                             f"{plan}: no complete results after the interruption")  # fmt: skip
                said = [line for line in run.lines if line.startswith("toolkit: interrupted")]
                world.expect(bool(said) and str(out) in said[-1],
                             f"{plan}: no line names the results: {run.lines[-2:]}")  # fmt: skip
        else:
            world.expect(run.code == 0, f"{plan}: uninterrupted run exit {run.code}")
        again = world.cli(*args, "--resume")
        world.expect(again.code == 0, f"resume exit {again.code}: {again.lines[-1:]}")
        resent: dict[str, int] = {}
        if plan == "kill-retry-unknown":
            results = read_results(out)
            if results is not None:
                resent = {r.casefold(): 1 for r in results.loc[results["status"].eq("unknown"),
                                                                "recipient"]}  # fmt: skip
            last = world.cli(*args, "--resume", "--retry-unknown")
            world.expect(last.code == 0, f"--retry-unknown exit {last.code}: {last.lines[-1:]}")
        obs = observe(world, base, read_results(out))
        obs.resent = resent
        return obs


def interrupt_cases(repeats: int = 3) -> Iterator[Case]:
    seed = 200
    for via in VIAS:
        for plan in PLANS:
            for _ in range(repeats if PLANS[plan][0] == "row" else 1):
                seed += 1
                act = functools.partial(_interrupt, via=via, plan=plan)
                yield Case("H3/H4/M9 interrupt (cli)", f"interrupt/{via}/{plan}/s{seed}", act,
                           seed)  # fmt: skip


# -- H5, H6, M1: refused before sending ------------------------------------------------------

OTHER_FLAGS = {
    "ses": ["--smtp-host", "mail.example.com"],
    "ses-bulk": ["--smtp-user", "u"],
    "pinpoint": ["--smtp-tls", "none"],
    "smtp": ["--pinpoint-app-id", "abc"],
}


def _refused(world: World, rng: random.Random, *, via: str, what: str) -> Observation:
    source, out, ledger = world.root / "people.csv", world.root / "o.csv", world.root / "l.sqlite"
    base = emails(6)
    with world.serving() as sandbox:
        write_frame(source, base)
        args = world.send_args(source, out, via, ledger=ledger)
        if what == "other-flag":
            args += OTHER_FLAGS[via]
        elif what == "unverified-sender":
            args[args.index("--from") + 1] = "nobody@unverified.example.net"
        elif what == "template-missing-column":
            sandbox.client().create_email_template(
                TemplateName="order",
                TemplateContent={"Subject": "Order {{order_id}}", "Text": "{{order_id}}"},
            )
            if via == "pinpoint":
                sandbox.client("pinpoint").create_email_template(
                    TemplateName="order", EmailTemplateRequest={
                        "Subject": "Order {{order_id}}", "TextPart": "{{order_id}}"})  # fmt: skip
            at = args.index("--subject")
            del args[at : at + 4]
            args += ["--template", "order"]
        run = world.cli(*args)
        lines = no_pinpoint_warning(run.lines)
        world.expect(run.code == 2, f"{what}: exit {run.code}, not 2: {lines[-2:]}")
        world.expect(len(lines) == 1, f"{what}: {len(lines)} lines on stderr, not one: {lines[:3]}")
        results = read_results(out)
        if results is not None:
            final = results["status"].isin(["sent", "rejected"]).sum()
            world.expect(final == 0, f"{what}: {final} rows final (sent/rejected) in the results")
        return observe(world, base, results)


def refused_cases() -> Iterator[Case]:
    seed = 400
    for via in VIAS:
        for what in ("other-flag", "unverified-sender", "template-missing-column"):
            if what == "template-missing-column" and via == "smtp":
                continue  # SMTP has no stored templates
            seed += 1
            act = functools.partial(_refused, via=via, what=what)
            yield Case("H5/H6/M1 refused (cli)", f"refused/{via}/{what}/s{seed}", act, seed)


# -- L: input files --------------------------------------------------------------------------


def _write_input(world: World, kind: str, base: list[str]) -> tuple[str, list[str], list[str]]:
    """Write ``base`` as a user's file of this kind: (file name, addresses per row, extra
    flags)."""
    frame = pd.DataFrame({"email": base, "name": [f"N{i}" for i in range(len(base))]})
    root = world.root
    if kind in ("csv", "semicolon", "tsv", "utf16", "latin1"):
        sep = {"semicolon": ";", "tsv": "\t"}.get(kind, ",")
        name = "people.tsv" if kind == "tsv" else "people.csv"
        encoding = {"utf16": "utf-16", "latin1": "latin-1"}.get(kind, "utf-8")
        if kind == "latin1":
            frame["name"] = [f"Jos\u00e9 {i}" for i in range(len(base))]
        frame.to_csv(root / name, sep=sep, index=False, encoding=encoding)
        return name, base, []
    if kind == "parquet":
        frame.to_parquet(root / "people.parquet", index=False)
        return "people.parquet", base, []
    if kind == "jsonl":
        frame.to_json(root / "people.jsonl", orient="records", lines=True)
        return "people.jsonl", base, []
    if kind == "ragged":
        lines = ["email,name"] + [f"{a},N{i}" for i, a in enumerate(base)]
        lines[2] += ",extra,cells"
        lines[3] = lines[3].split(",")[0]
        (root / "people.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return "people.csv", base, []
    if kind == "triple-braces":
        frame.to_csv(root / "people.csv", index=False)
        return "people.csv", base, ["--subject", "Hi {{{name}}}"]
    if kind == "long-local-part":
        rows = [*base, "x" * 65 + "@example.org"]
        frame = pd.DataFrame({"email": rows, "name": [f"N{i}" for i in range(len(rows))]})
        frame.to_csv(root / "people.csv", index=False)
        return "people.csv", rows, []
    if kind == "formula-cells":
        cells = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "ok", "=1+1"]
        frame["name"] = cells[: len(base)]
        frame.to_csv(root / "people.csv", index=False)
        return "people.csv", base, ["--keep", "name"]
    raise ValueError(kind)


INPUTS = ("csv", "semicolon", "tsv", "utf16", "latin1", "parquet", "jsonl", "ragged",
          "triple-braces", "long-local-part", "formula-cells")  # fmt: skip


def _inputs(world: World, rng: random.Random, *, via: str, kind: str) -> Observation:
    out, ledger = world.root / "o.csv", world.root / "l.sqlite"
    with world.serving():
        name, rows, extra = _write_input(world, kind, emails(6))
        run = world.cli(*world.send_args(world.root / name, out, via, ledger=ledger), *extra)
        results = read_results(out)
        if kind == "ragged":  # refused as a whole, or each odd row refused: never mis-sent
            world.expect(run.code in (0, 2), f"ragged: exit {run.code}: {run.lines[-1:]}")
        else:
            world.expect(run.code == 0, f"{kind}: exit {run.code}: {run.lines[-1:]}")
        if results is not None and kind == "long-local-part":
            world.expect(results["status"].iloc[-1] == "invalid",
                         f"a 65-character local part is {results['status'].iloc[-1]}")  # fmt: skip
        if results is not None and kind == "formula-cells":
            raw = out.read_text(encoding="utf-8")
            world.expect("\n0,0,sent" not in raw or ",=HYPERLINK" not in raw,
                         "a formula cell is written unescaped to the results CSV")  # fmt: skip
        return observe(world, rows, results)


def input_cases() -> Iterator[Case]:
    seed = 500
    for via in ("ses", "smtp"):
        for kind in INPUTS:
            seed += 1
            act = functools.partial(_inputs, via=via, kind=kind)
            yield Case("L input files (cli)", f"inputs/{via}/{kind}/s{seed}", act, seed)


# -- M7: an SMTP server that stops answering ----------------------------------------------------


def _stall(world: World, rng: random.Random, *, at: str, timeout: float,
           ctrl_c: bool = False) -> Observation:  # fmt: skip
    """A stalled server: bounded by --timeout; or (``ctrl_c``, H4) Ctrl-C twice 10-20 ms
    apart while it stalls, under a long --timeout: exit 130 and the results written."""
    source, out, ledger = world.root / "people.csv", world.root / "o.csv", world.root / "l.sqlite"
    base = emails(8)
    write_frame(source, base)
    with stalling_smtp(at) as (port, connected):
        args = ["send", source, "--via", "smtp", "--from", SENDER, "--subject", "Hi", "--text",
                "x", "--no-progress", "--out", out, "--ledger", ledger, "--smtp-host",
                "127.0.0.1", "--smtp-port", port, "--smtp-tls", "none", "--timeout", timeout,
                "--workers", 2]  # fmt: skip
        if not ctrl_c:
            run = world.cli(*args, timeout=60)
        else:
            wait = rng.uniform(0.1, 1.0)
            gap = rng.uniform(0.010, 0.020)
            plan = Interrupt(connected.is_set, ((wait, signal.SIGINT), (gap, signal.SIGINT)))
            run = world.cli(*args, interrupt=plan, timeout=60)
            world.commands[-1] += (f"   # Ctrl-C twice {gap * 1000:.0f} ms apart, {wait:.1f} s "
                                   "after it connected")  # fmt: skip
    if ctrl_c:
        world.expect(run.code == 130, f"Ctrl-C twice at a stall ({at}): exit {run.code}")
        drain = _drain_seconds(run.lines)
        world.expect(run.after_signal < drain + 5,
                     f"Ctrl-C twice at a stall ({at}): exit {run.after_signal:.1f} s after the "
                     f"signal (its line promised at most {drain:g} s)")  # fmt: skip
        results = read_results(out)
        promised = any("status is written to" in line for line in run.lines)
        world.expect(not promised or (results is not None and len(results) == len(base)),
                     f"Ctrl-C twice at a stall ({at}): stderr said every row's status would be "
                     f"written to {out.name}; it was not: {run.lines[-1:]}")  # fmt: skip
        return observe(world, base, results)
    bound = 3 * 2 * timeout * 5 + 10  # a few timeouts per worker with backoff, plus start-up
    world.expect(run.code == 2, f"stall at {at}: exit {run.code}: {run.lines[-1:]}")
    world.expect(run.seconds < bound, f"stall at {at}: {run.seconds:.1f} s, over {bound:.0f} s")
    return observe(world, base, read_results(out))


def _drain_seconds(lines: list[str]) -> float:
    """The bound the CLI's "stopping: requests in flight finish (at most N s)" line gave."""
    import re

    for line in lines:
        found = re.search(r"at most ([0-9.]+) s\)", line)
        if found:
            return float(found.group(1))
    return 0.0


def stall_cases() -> Iterator[Case]:
    seed = 600
    for at in STALL_AT:
        for timeout in (0.3, 0.7):
            seed += 1
            act = functools.partial(_stall, at=at, timeout=timeout)
            yield Case("M7 stalled SMTP (cli)", f"stall/{at}/{timeout}/s{seed}", act, seed)
        seed += 1
        act = functools.partial(_stall, at=at, timeout=30.0, ctrl_c=True)
        yield Case("M7 stalled SMTP (cli)", f"stall/{at}/ctrl-c-twice/s{seed}", act, seed)


# -- M3, M4: full disks ------------------------------------------------------------------------


def small_disk_works(where: str = "/tmp") -> bool:
    """A private tmpfs mount (``unshare -rm``) is possible here."""
    import shutil

    if shutil.which("unshare") is None:
        return False
    mount = f"mount -t tmpfs -o size=64k tmpfs {where}"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", mount], capture_output=True, timeout=30)
    return probe.returncode == 0


def _disk(world: World, rng: random.Random, *, via: str, what: str) -> Observation:
    """The ledger (M4) or the results (M3) on a 256 kB tmpfs; then a resume as a user would
    run it, with the ledger copied off the full disk and the results written elsewhere."""
    import shlex
    import sys

    n = 300
    source, out = world.root / "people.csv", world.root / "o.csv"
    small, kept = world.root / "small", world.root / "kept"
    small.mkdir()
    kept.mkdir()
    base = emails(n)
    with world.serving():
        write_frame(source, base)
        ledger = small / "l.sqlite" if what == "ledger" else world.root / "l.sqlite"
        first_out = out if what == "ledger" else small / "o.csv"
        args = [*world.send_args(source, first_out, via, ledger=ledger)]
        command = " ".join(shlex.quote(str(a)) for a in [sys.executable, "-m", "toolkit", *args])
        fill = "" if what == "ledger" else f"(head -c 250k /dev/zero > {small}/filler); "
        script = (f"mount -t tmpfs -o size=256k tmpfs {small} && {fill}{command}; rc=$?; "
                  f"cp -a {small}/. {kept}/; exit $rc")  # fmt: skip
        run = world.cli_shell(script)
        world.expect(run.code in (0, 2), f"disk full ({what}): exit {run.code}: {run.lines[-1:]}")
        resume_ledger = kept / "l.sqlite" if what == "ledger" else ledger
        again = world.cli(*world.send_args(source, out, via, "--resume", ledger=resume_ledger))
        world.expect(again.code == 0, f"resume exit {again.code}: {again.lines[-1:]}")
        return observe(world, base, read_results(out))


def disk_cases() -> Iterator[Case]:
    seed = 700
    for via in VIAS:
        for what in ("ledger", "results"):
            seed += 1
            act = functools.partial(_disk, via=via, what=what)
            yield Case("M3/M4 full disk (cli)", f"disk/{via}/{what}/s{seed}", act, seed)
