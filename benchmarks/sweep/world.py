"""What a sweep case acts on: its own directory, its own sandbox, the CLI as a user runs it.

Each case gets a fresh directory and (when it sends to one) a fresh embedded sandbox serving
from ``DIR/state`` on 127.0.0.1, with ``sandbox.json`` written there as ``python -m toolkit
sandbox --state DIR`` writes it, so the CLI reaches it with ``--sandbox DIR/state`` for every
transport (SMTP included, its certificate checked). The CLI runs as a subprocess with real
signals, sent at moments the case chooses (after the k-th row is journaled as sent, when the
results' temporary file appears, ...).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.sweep.ground import Observation, delivered_from

ROOT = Path(__file__).resolve().parents[2]
SENDER = "sender@example.com"
CLI_TIMEOUT_S = 90.0


def emails(n: int, prefix: str = "user") -> list[str]:
    return [f"{prefix}{i}@example.org" for i in range(n)]


@dataclass(frozen=True)
class Interrupt:
    """Signals for a CLI run: when ``trigger`` is true (polled), wait each delay and send
    each signal in turn (SIGINT twice 15 ms apart is ``((0.0, SIGINT), (0.015, SIGINT))``)."""

    trigger: Callable[[], bool]
    signals: tuple[tuple[float, int], ...]


@dataclass
class Run:
    """One CLI run: exit status (negative: killed by that signal), stderr lines, seconds,
    and whether the interruption found its moment."""

    code: int
    lines: list[str]
    seconds: float
    interrupted: bool = False
    after_signal: float = 0.0  # seconds from the first signal to the exit


@dataclass
class World:
    """One case's directory, sandbox and record of what it ran (for the reproduction)."""

    root: Path
    commands: list[str] = field(default_factory=list)
    sandbox: Any = None
    problems: list[str] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.root / "state"

    @contextlib.contextmanager
    def serving(self, **kwargs: Any) -> Iterator[Any]:
        """An embedded sandbox (``Sandbox(**kwargs)``) serving from ``self.state``."""
        from toolkit.sandbox import Sandbox

        self.state.mkdir(parents=True, exist_ok=True)
        sandbox = Sandbox(state_dir=self.state, **kwargs).start()
        path = self.state / "sandbox.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(sandbox.info(), handle)
        self.sandbox = sandbox
        settings = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        self.commands.append(f"# Sandbox({settings}) serving from {self.state} (--sandbox)")
        try:
            yield sandbox
        finally:
            sandbox.stop()

    def delivered(self) -> list[tuple[str, list[str]]]:
        if self.sandbox is None:
            return []
        return delivered_from(self.sandbox.mailbox.messages())

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)

    # -- the CLI ---------------------------------------------------------------------------

    def cli(self, *args: Any, interrupt: Interrupt | None = None, env_keys: bool = False,
            timeout: float = CLI_TIMEOUT_S) -> Run:  # fmt: skip
        """``python -m toolkit ARGS`` in a subprocess (interrupted as ``interrupt`` says;
        ``env_keys``: with example AWS keys in the environment, for an endpoint that is not
        the sandbox)."""
        argv = [sys.executable, "-m", "toolkit", *map(str, args)]
        self.commands.append("python -m toolkit " + " ".join(map(_quote, argv[3:])))
        keys = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example"}
        return self._spawn(argv, interrupt, timeout, keys if env_keys else {})

    def cli_shell(self, script: str, timeout: float = CLI_TIMEOUT_S) -> Run:
        """``script`` in a private mount namespace (``unshare -rm sh -c``), for a small disk."""
        self.commands.append(f"unshare -rm sh -c {_quote(script)}")
        return self._spawn(["unshare", "-rm", "sh", "-c", script], None, timeout)

    def _spawn(self, argv: list[str], interrupt: Interrupt | None, timeout: float,
               extra_env: dict[str, str] | None = None) -> Run:  # fmt: skip
        env = {**os.environ, **(extra_env or {}),
               "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}  # fmt: skip
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, cwd=self.root, env=env)  # fmt: skip
        interrupted, err, signalled = False, "", 0.0
        try:
            if interrupt is not None:
                interrupted = _interrupt(proc, interrupt, started + timeout)
                signalled = time.monotonic()
            _, err = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lines = [line for line in err.splitlines() if line.strip()]
        self.expect("Traceback" not in err, f"a traceback on stderr: {lines[-1:]}")
        ended = time.monotonic()
        after = ended - signalled if interrupted else 0.0
        return Run(proc.returncode, lines, ended - started, interrupted, after)

    def send_args(self, source: Path, out: Path, via: str, *extra: Any,
                  ledger: Path | None = None) -> list[Any]:  # fmt: skip
        """``send SOURCE --via VIA`` to this case's sandbox, plain text, no progress bar."""
        args: list[Any] = ["send", source, "--via", via, "--from", SENDER, "--subject", "Hi",
                           "--text", "x", "--no-progress", "--out", out]  # fmt: skip
        if self.sandbox is not None:
            args += ["--sandbox", self.state]
        if ledger is not None:
            args += ["--ledger", ledger]
        return [*args, *extra]


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _interrupt(proc: subprocess.Popen[str], plan: Interrupt, deadline: float) -> bool:
    while not plan.trigger():
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    for delay, signum in plan.signals:
        if delay:
            time.sleep(delay)
        if proc.poll() is not None:
            return False
        proc.send_signal(signum)
    return True


def ledger_sent(path: Path, status: str = "sent") -> int:
    """Rows the ledger holds with this status (any status: ``""``; 0 while it cannot be
    read)."""
    if not path.exists():
        return 0
    where = "WHERE status=?" if status else "WHERE ?=''"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True,
                                                timeout=0.05)) as db:  # fmt: skip
            return int(db.execute(f"SELECT COUNT(*) FROM rows {where}", (status,)).fetchone()[0])
    except sqlite3.Error:
        return 0


def temp_results_appear(out: Path, check: bool = False) -> Callable[[], bool]:
    """True once the atomic writer's temporary file for ``out`` exists (``check``: the
    probe the CLI writes first to see that ``out`` can be written, ``.OUT.*.check``)."""

    def seen() -> bool:
        names = [p.name for p in out.parent.glob(f".{out.name}.*")]
        return any(name.endswith(".check") == check for name in names)

    return seen


def read_results(out: Path) -> pd.DataFrame | None:
    """The results file as the user would open it (None when there is none)."""
    if not out.exists():
        return None
    if out.suffix == ".parquet":
        return pd.read_parquet(out)
    return pd.read_csv(out, dtype=str, keep_default_na=False)


def observe(world: World, addresses: Sequence[str], results: pd.DataFrame | None,
            allowed: int = 1) -> Observation:  # fmt: skip
    return Observation(list(addresses), results, world.delivered(), allowed, world.problems)


SIGNALS = {"int": signal.SIGINT, "term": signal.SIGTERM, "kill": signal.SIGKILL}
