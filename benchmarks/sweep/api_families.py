"""Sweep families played through the Python API, as a notebook does: ``toolkit.send`` after
edits of the frame (H1), against a sandbox injecting throttling, 5xx and dropped connections,
``send_in_background`` cancelled at chosen moments and twice on one ledger (H2), endpoints
answering what SES never does (H7, on the API and the CLI), and ``send_partitioned`` on a
small LocalCluster."""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd

from benchmarks.sweep.cases import VIAS, Case, name_of, write_frame
from benchmarks.sweep.edits import EDITS
from benchmarks.sweep.endpoints import ANSWERS, canned_http
from benchmarks.sweep.ground import Observation
from benchmarks.sweep.world import SENDER, World, emails, observe, read_results

MESSAGE: dict[str, Any] = {"sender": SENDER, "subject": "Hi {{name}}", "text": "x",
                           "progress": False}  # fmt: skip


def _frame(addresses: list[str]) -> pd.DataFrame:
    """The frame of ``addresses``; each row's name follows its address, so a moved row keeps
    its content."""
    return pd.DataFrame({"email": addresses, "name": [name_of(a) for a in addresses]})


def _send(world: World, frame: pd.DataFrame, via: str, **options: Any) -> pd.DataFrame | None:
    """``toolkit.send``; an error that carries the results gives them, others are noted."""
    from toolkit.api import send

    world.commands.append(f"toolkit.send(frame, {via!r}, target=sandbox, "
                          + ", ".join(f"{k}={v!r}" for k, v in options.items()) + ")")  # fmt: skip
    try:
        return send(frame, via, target=world.sandbox, **{**MESSAGE, **options})
    except Exception as exc:
        results = getattr(exc, "results", None)
        world.commands[-1] += f"  # raised {type(exc).__name__}: {exc}"
        if results is None:
            world.expect(False, f"send raised {type(exc).__name__} without results: {exc}")
        return results


# -- H1 on the API -----------------------------------------------------------------------------


def _api_reexport(world: World, rng: random.Random, *, via: str, edit: str,
                  partial: bool) -> Observation:  # fmt: skip
    ledger = world.root / "l.sqlite"
    base = emails(16)
    with world.serving():
        first = _send(world, _frame(base), via, ledger=ledger,
                      **({"limit": rng.randint(3, 12)} if partial else {}))  # fmt: skip
        world.expect(first is not None, "the first send gave no results")
        edited = EDITS[edit](base, rng)
        world.commands.append(f"# the frame edited ({edit}): email = {edited}")
        final = _send(world, _frame(edited), via, ledger=ledger)
        return observe(world, edited, final)


def api_reexport_cases() -> Iterator[Case]:
    seed = 1000
    for via in VIAS:
        for edit in EDITS:
            for partial in (False, True):
                seed += 1
                act = functools.partial(_api_reexport, via=via, edit=edit, partial=partial)
                name = f"api-reexport/{via}/{edit}/{'partial' if partial else 'full'}/s{seed}"
                yield Case("H1 reexport (api)", name, act, seed)


# -- faults: throttling, 5xx, dropped connections ----------------------------------------------

FAULTS: dict[str, dict[str, float]] = {
    "throttle": {"throttle_rate": 0.2},
    "5xx": {"error_rate": 0.2},
    "drop": {"drop_rate": 0.1},
    "mixed": {"throttle_rate": 0.1, "error_rate": 0.1, "drop_rate": 0.05, "latency_ms": 5},
    "partial": {"partial_failure_rate": 0.2},
}


def _faults_run(world: World, rng: random.Random, *, via: str, fault: str, retry: bool,
                seed: int) -> Observation:  # fmt: skip
    ledger = world.root / "l.sqlite"
    base = emails(30)
    with world.serving(seed=seed, **FAULTS[fault]):
        first = _send(world, _frame(base), via, ledger=ledger, max_attempts=3)
        world.expect(first is not None, "the first send gave no results")
        final = _send(world, _frame(base), via, ledger=ledger, max_attempts=3)
        resent: dict[str, int] = {}
        if retry and final is not None:
            resent = {r.casefold(): 1 for r in final.loc[final["status"].eq("unknown"),
                                                         "recipient"]}  # fmt: skip
            final = _send(world, _frame(base), via, ledger=ledger, retry_unknown=True)
        obs = observe(world, base, final)
        obs.resent = resent
        return obs


def fault_cases(seeds: int = 2) -> Iterator[Case]:
    seed = 1100
    for via in VIAS:
        for fault in FAULTS:
            if fault == "partial" and via not in ("ses-bulk", "pinpoint"):
                continue
            for n in range(seeds):
                seed += 1
                retry = n == 1
                act = functools.partial(_faults_run, via=via, fault=fault, retry=retry, seed=seed)
                name = f"faults/{via}/{fault}/{'retry-unknown' if retry else 'resume'}/s{seed}"
                yield Case("faults (api)", name, act, seed)


# -- H2 and cancel: send_in_background ---------------------------------------------------------


def _background(world: World, rng: random.Random, *, via: str, what: str) -> Observation:
    from toolkit.api import send_in_background
    from toolkit.errors import ConfigurationError

    ledger = world.root / "l.sqlite"
    # the second send needs up to a second under load to reach the ledger: give it 3 s
    base = emails(80 if what == "second-handle" else 40)
    at = rng.randint(1, 10 if what == "second-handle" else 25)
    with world.serving(rate=20):
        options = {**MESSAGE, "target": world.sandbox, "ledger": ledger, "workers": 4}
        world.commands.append(f"h = toolkit.send_in_background(frame, {via!r}, ledger=..., "
                              f"workers=4)  # rate 20/s; {what} after {at} sent")  # fmt: skip
        handle = send_in_background(_frame(base), via, **options)
        deadline = time.monotonic() + 30
        while handle.counts.get("sent", 0) < at and not handle.done():
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
        if what == "second-handle" and handle.done():
            world.commands.append("# the first send ended first: nothing to refuse")
        elif what == "second-handle":
            second = send_in_background(_frame(base), via, **options)
            try:
                second.wait(timeout=60)
                world.expect(False, "a second send on the same ledger was not refused")
            except ConfigurationError as exc:
                world.expect("in use by another send" in str(exc), f"refused with: {exc}")
        else:
            handle.cancel()
            if what == "cancel-twice":
                time.sleep(rng.uniform(0.01, 0.02))
                handle.cancel()
        try:
            handle.wait(timeout=60)
        except Exception as exc:
            world.expect(False, f"the first handle raised {type(exc).__name__}: {exc}")
        final = _send(world, _frame(base), via, ledger=ledger)
        return observe(world, base, final)


def background_cases(repeats: int = 3) -> Iterator[Case]:
    seed = 1200
    for via in VIAS:
        for what in ("cancel", "cancel-twice", "second-handle"):
            for _ in range(repeats):
                seed += 1
                act = functools.partial(_background, via=via, what=what)
                yield Case("H2 background (api)", f"background/{via}/{what}/s{seed}", act, seed)


# -- H7: answers that are not SES's ------------------------------------------------------------


def _foreign(world: World, rng: random.Random, *, via: str, answer: str, cli: bool) -> Observation:
    from toolkit.targets import AwsTarget

    base = emails(5)
    with canned_http(answer) as url:
        if cli:
            source, out = write_frame(world.root / "p.csv", base), world.root / "o.csv"
            app = ["--pinpoint-app-id", "app1"] if via == "pinpoint" else []
            run = world.cli("send", source, "--via", via, "--from", SENDER, "--subject", "Hi",
                            "--text", "x", "--no-progress", "--out", out, "--endpoint-url", url,
                            "--region", "us-east-1", "--ledger", world.root / "l.sqlite", *app,
                            env_keys=True)  # fmt: skip
            world.expect(run.code in (0, 2), f"{answer}: exit {run.code}: {run.lines[-1:]}")
            return observe(world, base, read_results(out))
        target = AwsTarget(region="us-east-1", endpoint_url=url, access_key_id="AKIDEXAMPLE",
                           secret_access_key="secret", pinpoint_app_id="app1")  # fmt: skip
        world.sandbox = None
        from toolkit.api import send

        world.commands.append(f"toolkit.send(frame, {via!r}, target=<endpoint answering {answer}>)")
        try:
            with _quiet():
                results = send(_frame(base), via, target=target, **MESSAGE)
        except Exception as exc:
            results = getattr(exc, "results", None)
        return observe(world, base, results)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def foreign_cases() -> Iterator[Case]:
    seed = 1300
    for via in ("ses", "ses-bulk", "pinpoint"):
        for answer in ANSWERS:
            for cli in (False, True):
                seed += 1
                act = functools.partial(_foreign, via=via, answer=answer, cli=cli)
                name = f"foreign/{'cli' if cli else 'api'}/{via}/{answer}/s{seed}"
                yield Case("H7 foreign answers", name, act, seed)


# -- Dask: send_partitioned on a LocalCluster --------------------------------------------------


def _partitioned(world: World, rng: random.Random, *, via: str, edit: str,
                 client: Any) -> Observation:  # fmt: skip
    """Twice on one out/ledger directory; partitions of 10 rows, so an extended frame only
    adds partitions (ledgers are per partition: a row that moves partition is a new row)."""
    import dask.dataframe as dd

    from toolkit import send_partitioned
    from toolkit.transports.registry import transport_kind

    out = world.root / "out"
    base = emails(160 if edit == "kill-worker" else 40)
    with world.serving():
        target = world.sandbox.resolve(transport_kind(via))
        rate = 40 if edit == "kill-worker" else 200
        options = {**MESSAGE, "target": target, "rate": rate, "client": client, "out": out}
        world.commands.append(f"toolkit.send_partitioned(frame, {via!r}, ...)  # twice, {edit}")
        chunk = 40 if edit == "kill-worker" else 10
        first = dd.from_pandas(_frame(base), chunksize=chunk)
        if edit == "kill-worker":
            _kill_a_worker_while(world, client, lambda: send_partitioned(first, via, **options),
                                 after=rng.randint(5, 60))  # fmt: skip
        else:
            send_partitioned(first, via, **options)
        edited = EDITS["same" if edit == "kill-worker" else edit](base, rng)
        again = send_partitioned(dd.from_pandas(_frame(edited), chunksize=chunk), via, **options)
        results = again.results.compute().sort_index()
        return observe(world, edited, results)


def _kill_a_worker_while(world: World, client: Any, call: Any, after: int) -> None:
    """SIGKILL one Dask worker process once ``after`` messages were accepted, while ``call``
    runs on a thread (its nanny starts a new one; Dask runs the lost tasks again)."""
    import os
    import signal
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except Exception as exc:  # a partition whose worker died may end in error
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while world.sandbox.mailbox.count() < after and thread.is_alive():
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    world.commands.append(f"# SIGKILL worker pid {victim} after {after} messages accepted")
    thread.join(timeout=120)
    if errors:
        world.commands.append(f"# the first call raised {type(errors[0]).__name__}: {errors[0]}")


def partitioned_cases(client: Any) -> Iterator[Case]:
    seed = 1400
    for via in ("ses", "ses-bulk", "smtp"):
        for edit in ("same", "extend", "kill-worker"):
            seed += 1
            act = functools.partial(_partitioned, via=via, edit=edit, client=client)
            yield Case("dask send_partitioned (api)", f"dask/{via}/{edit}/s{seed}", act, seed,
                       alone=True)  # fmt: skip
