"""Small helpers the integration tests share."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from tests.fakes import FakeClock
from toolkit.api import send
from toolkit.delivery.config import EngineConfig

SENDER = "sender@example.com"
HI: dict[str, Any] = {"sender": SENDER, "subject": "Hi", "text": "x"}
"""A plain message from the sandbox's verified sender, as keyword arguments."""


def send_hi(df: pd.DataFrame, via: str = "ses", **options: Any) -> pd.DataFrame:
    """``toolkit.send`` with a plain "Hi" message from the sandbox's verified sender and no
    progress bar; ``options`` add to or override any of that."""
    values: dict[str, Any] = {**HI, "progress": False}
    values.update(options)
    return send(df, via, **values)


def fake_time(**settings: Any) -> EngineConfig:
    """An :class:`EngineConfig` (``settings`` as its fields) on a :class:`FakeClock`: the
    engine's backoff and pacing waits advance the fake clock at once, so a test of retries
    never sleeps through them. Pass it as ``send(..., config=fake_time(max_attempts=10))``.
    Not for tests that measure the pace itself against a real server's clock."""
    return EngineConfig(clock=FakeClock(), **settings)


def freeze_botocore_clock(monkeypatch: Any, when: dt.datetime) -> None:
    """Make botocore sign at ``when`` (1.44 reads ``get_current_datetime``, older versions
    ``datetime.datetime.utcnow``), so a signature can be compared with another client's."""
    import botocore.auth

    if hasattr(botocore.auth, "get_current_datetime"):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: when)
        return

    class _Frozen(dt.datetime):
        @classmethod
        def utcnow(cls) -> dt.datetime:  # type: ignore[override]
            return when

    monkeypatch.setattr(botocore.auth.datetime, "datetime", _Frozen)


def sigv4_headers(
    sandbox: Any,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    host: str,
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """``Authorization`` and ``X-Amz-Date`` for a hand-made request to a sandbox, signed by
    botocore with the sandbox's keys (the sandbox checks signatures as AWS does); ``headers``
    are the other headers the request will carry (they are signed too)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    service = "mobiletargeting" if target.startswith("/v1/") else "ses"
    request = AWSRequest(
        method=method, url=f"http://{host}{target}", data=body, headers=dict(headers or {})
    )
    credentials = Credentials(sandbox.access_key_id, sandbox.secret_access_key)
    SigV4Auth(credentials, service, sandbox.region).add_auth(request)
    return {name: str(request.headers[name]) for name in ("Authorization", "X-Amz-Date")}


def run_cli(capsys: Any, *args: Any) -> tuple[int, list[str]]:
    """``python -m toolkit ARGS`` in this process: (exit status, stderr's non-empty lines);
    a traceback on stderr fails the test (every way out is one line)."""
    from toolkit.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return code, [line for line in err.splitlines() if line.strip()]


@contextlib.contextmanager
def serve_sandbox(state: Path, *flags: str) -> Iterator[dict[str, Any]]:
    """``python -m toolkit sandbox --state STATE FLAGS`` in its own process: the JSON line it
    printed (plus ``state``), until the block ends (SIGTERM, then a clean exit)."""
    import json
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "sandbox", "--state", str(state), *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
    )  # fmt: skip
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line, proc.stderr.read() if proc.stderr else "no output"
        info = json.loads(line)
        info["state"] = str(state)
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def kill_when(child: Any, ready: Any, *, within: float = 60.0, freeze_first: float = 0.0) -> None:
    """SIGKILL ``child`` (a Popen) as soon as ``ready()`` is true; it must still be running.

    ``freeze_first``: SIGSTOP it first and wait that long, so the requests already at the
    server are accepted and answered into a process that can no longer journal the answers
    (a crash after the provider accepted: what events resolve), whatever the moment."""
    import signal
    import time

    try:
        deadline = time.monotonic() + within
        while not ready():
            assert child.poll() is None, "the child finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        if freeze_first > 0:
            child.send_signal(signal.SIGSTOP)
            time.sleep(freeze_first)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
