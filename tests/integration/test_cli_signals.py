"""Issue 16 (H3, H4) on the command line: a signal never costs the results file nor the line
that says where it is, whatever moment it lands (the final write, a stalled first connection,
the ``--out`` probe).

The write-time cases run ``toolkit.cli.main`` in this process and send the signal to this
process at the exact moment (inside pandas' write, just after the rename), so the moment is
certain; the stalled server needs a real process and real Ctrl-Cs, as a user presses them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.helpers import run_cli
from toolkit.results_io import read_results
from toolkit.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
OK = "success@simulator.amazonses.com"


@pytest.fixture(autouse=True)
def _signal_handlers() -> Iterator[None]:
    """The CLI ignores further signals after an interruption: give pytest its own back."""
    held = (signal.SIGINT, signal.SIGTERM)
    saved = {number: signal.getsignal(number) for number in held}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.fixture
def box(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sandbox.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", sandbox.secret_access_key)
    return sandbox


def _people(tmp_path: Path, n: int = 6) -> Path:
    path = tmp_path / "people.csv"
    emails = [f"success+{i}@simulator.amazonses.com" for i in range(n - 1)] + ["bad@"]
    pd.DataFrame({"email": emails}).to_csv(path, index=False)
    return path


def _send_args(source: Path, out: Path, *extra: str) -> list[str]:
    return ["send", str(source), "--via", "ses", "--from", "sender@example.com",
            "--subject", "Hi", "--text", "x", "--no-progress", "--out", str(out),
            *extra]  # fmt: skip


@pytest.mark.parametrize("moment", ["during", "after-rename"])
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_at_the_final_write_keeps_the_results_and_the_last_line_names_them(
    capsys: pytest.CaptureFixture[str], box: Sandbox, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, signum: int, status: int, moment: str,
) -> None:  # fmt: skip
    source, out = _people(tmp_path), tmp_path / "o.csv"
    fired: list[str] = []

    def fire() -> None:
        if not fired:
            fired.append(moment)
            os.kill(os.getpid(), signum)

    if moment == "during":  # inside the write of the temporary file, before the rename
        to_csv = pd.DataFrame.to_csv

        def writing(self: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
            fire()
            return to_csv(self, *args, **kwargs)

        monkeypatch.setattr(pd.DataFrame, "to_csv", writing)
    else:
        replace = os.replace

        def renamed(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            replace(src, dst, *args, **kwargs)
            if Path(dst) == out:
                fire()

        monkeypatch.setattr(os, "replace", renamed)
    code, lines = run_cli(capsys, *_send_args(source, out, "--endpoint-url", box.endpoint_url,
                                              "--region", box.region))  # fmt: skip
    assert fired, "the write was never reached"
    assert code == status, lines
    assert lines[-1].startswith("toolkit: interrupted; every row's status ("), lines
    assert lines[-1].endswith(f"-> {out}"), lines
    results = read_results(out)
    assert len(results) == 6
    assert results["status"].value_counts().to_dict() == {"sent": 5, "invalid": 1}
    assert box.mailbox.count() == 5
    assert not list(tmp_path.glob(".o.csv.*")), "a temporary file was left behind"


class _SilentSmtp:
    """A server on 127.0.0.1 that accepts connections and never sends its greeting."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connected = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)
            self.connected.set()

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


@pytest.mark.slow
def test_ctrl_c_twice_at_a_stalled_smtp_greeting_writes_every_row_and_says_where(
    tmp_path: Path,
) -> None:
    source, out = _people(tmp_path, 8), tmp_path / "o.csv"
    server = _SilentSmtp()
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit", *_send_args(source, out),
         "--via", "smtp", "--smtp-host", "127.0.0.1", "--smtp-port", str(server.port),
         "--smtp-tls", "none", "--timeout", "30", "--ledger", str(tmp_path / "l.sqlite")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert server.connected.wait(60), "the send never connected"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        time.sleep(0.015)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - signalled
    finally:
        server.close()
        if proc.poll() is None:
            proc.kill()
    lines = err.strip().splitlines()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert took < 10, f"{took:.1f} s after Ctrl-C"
    assert lines[-1].startswith("toolkit: interrupted; every row's status so far ("), lines
    assert lines[-1].endswith(f"-> {out}"), lines
    results = read_results(out)
    assert len(results) == 8
    assert results["status"].value_counts().to_dict() == {"skipped": 7, "invalid": 1}
    assert results.loc[results["status"].eq("skipped"), "error_code"].eq("Cancelled").all()
    assert results["row_key"].tolist() == [str(i) for i in range(8)]


def test_a_signal_during_the_out_probe_leaves_no_check_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, out = _people(tmp_path), tmp_path / "o.csv"
    opened = os.open
    fired: list[str] = []

    def opening(path: Any, *args: Any, **kwargs: Any) -> int:
        descriptor = opened(path, *args, **kwargs)
        if str(path).endswith(".check") and not fired:
            fired.append(str(path))
            os.kill(os.getpid(), signal.SIGINT)  # the probe exists, its name not yet known
            time.sleep(0.01)
        return descriptor

    monkeypatch.setattr(os, "open", opening)
    code, lines = run_cli(capsys, *_send_args(source, out))
    assert fired, "the probe was never made"
    assert code == 130, lines
    assert not list(tmp_path.glob(".o.csv.*")), "the probe was left behind"
    assert not out.exists()
