"""An SMTP server that stops answering after RCPT (issue 16 M7).

Before: every row waited ``timeout`` seconds per attempt (30 s x 5 attempts each, 310 s for 10
rows) with no way to bound it. Now the transport gives up after
``SmtpTarget.max_timeouts_in_row`` timeouts in a row: the run stops with one clear line, and
rows not sent stay pending for a resume; ``--timeout`` sets the timeout from the CLI.
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from toolkit.api import send
from toolkit.cli import send as send_command
from toolkit.cli.common import target_from_args
from toolkit.errors import ConfigurationError, ProviderConfigurationError
from toolkit.targets import SmtpTarget


class _Stalls(socketserver.StreamRequestHandler):
    """Greets, answers EHLO/MAIL/RCPT, then never answers DATA."""

    def handle(self) -> None:
        self.wfile.write(b"220 stall.test ESMTP\r\n")
        stop: threading.Event = self.server.stop  # type: ignore[attr-defined]
        while not stop.is_set():
            line = self.rfile.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250-stall.test\r\n250 8BITMIME\r\n")
            elif verb in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self.wfile.write(b"250 Ok\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 Bye\r\n")
                return
            else:  # DATA: stall until the client gives up
                stop.wait(10)
                return


@pytest.fixture
def stalling_server() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Stalls)
    server.daemon_threads = True
    server.stop = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[:2]
    finally:
        server.stop.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


def test_a_stalled_server_stops_the_run_after_n_timeouts(
    stalling_server: tuple[str, int], tmp_path: Path
) -> None:
    host, port = stalling_server
    target = SmtpTarget(host, port, tls="none", timeout=0.3, max_timeouts_in_row=3)
    frame = pd.DataFrame({"email": [f"user{i}@example.org" for i in range(10)]})
    started = time.monotonic()
    with pytest.raises(ProviderConfigurationError) as info:
        send(frame, "smtp", target=target, sender="shop@example.com", subject="Hi", text="x",
             workers=1, progress=False, ledger=tmp_path / "run.sqlite")  # fmt: skip
    elapsed = time.monotonic() - started
    assert info.value.code == "SMTPTimeout"
    assert "3 times in a row" in str(info.value) and "--timeout" in str(info.value)
    assert "\n" not in str(info.value)
    # Old code: 10 rows x 5 attempts x 0.3 s = 15 s at least; now ~3 timeouts + backoff.
    assert elapsed < 8, elapsed
    results = getattr(info.value, "results", None)
    if results is not None:
        assert "sent" not in set(results["status"])
        assert "rejected" not in set(results["status"])


def test_max_timeouts_in_row_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="max_timeouts_in_row"):
        SmtpTarget("smtp.example.com", max_timeouts_in_row=0)


def _ns(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    send_command.add_parser(parser.add_subparsers())
    common = ["--from", "a@example.com", "--subject", "s", "--out", "o.csv"]
    return parser.parse_args(["send", "in.csv", *flags, *common])


def test_the_timeout_flag_reaches_both_targets() -> None:
    smtp = ["--via", "smtp", "--smtp-host", "smtp.example.com", "--timeout"]
    target = target_from_args(_ns(*smtp, "7"))
    assert isinstance(target, SmtpTarget) and target.timeout == 7
    aws = target_from_args(_ns("--via", "ses", "--region", "eu-west-1", "--timeout", "9"))
    assert aws.read_timeout == 9
    with pytest.raises(ConfigurationError, match="--timeout"):
        target_from_args(_ns(*smtp, "-1"))


def test_a_socket_timeout_is_recognised_through_smtplib() -> None:
    from toolkit.transports.smtp import _timed_out

    try:
        try:
            raise TimeoutError("timed out")
        except OSError as inner:
            raise ConnectionError("Connection unexpectedly closed: timed out") from inner
    except ConnectionError as exc:
        assert _timed_out(exc)
    assert not _timed_out(ConnectionRefusedError())
    assert socket.timeout is TimeoutError
