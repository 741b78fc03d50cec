"""Load test of the sandbox SMTP server: STARTTLS + AUTH + mailbox writes, N messages, then stop.

The client is the fastest plain-Python shape we measured for this: smtplib, one
thread per connection, each connection opened once (EHLO, STARTTLS, EHLO, AUTH) and reused, and
one pre-built ~2 KB message sent as bytes. The server runs in a child process by default (as a
separate sandbox process would, and as the baselines measured aiosmtpd), or in this process with
``--in-process`` (as in a notebook, where client and server share one GIL).

Every message must be accepted (``250 Ok <id>``) and stored: the script checks the mailbox count
at the end and exits non-zero otherwise.

Usage::

    .venv/bin/python benchmarks/sandbox_smtp_load.py                 # 20,000 msgs, 8 connections
    .venv/bin/python benchmarks/sandbox_smtp_load.py -n 5000 -c 8 --in-process
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import json
import logging
import multiprocessing as mp
import os
import platform
import smtplib
import ssl
import sys
import threading
import time
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from multiprocessing.connection import Connection

from aiosmtpd.smtp import SMTP, Envelope, Session

from toolkit.sandbox.mailbox import Mailbox
from toolkit.sandbox.policy import Policy
from toolkit.sandbox.smtp import SmtpServer
from toolkit.sandbox.tls import SelfSignedCertificate

USERNAME = "bench-user"
PASSWORD = "bench-password"  # loopback benchmark credentials, not a secret
SENDER = "sender@example.com"


def build_message(size: int = 2048) -> bytes:
    """One ~2 KB message, serialised once (the client cost is not what is measured)."""
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = "recipient@example.org"
    msg["Subject"] = "Load test"
    line = "The quick brown fox jumps over the lazy dog.\n"
    msg.set_content(line * max(1, (size - 120) // (len(line) + 1)))
    return msg.as_bytes(policy=email.policy.SMTP)  # CRLF line ends, as on the wire


@dataclass
class Result:
    messages: int
    connections: int
    seconds: float
    msgs_per_s: float
    stored: int
    errors: int
    server_cpu_us_per_msg: float | None
    server: str
    mailbox: str
    message_bytes: int
    cpu_count: int
    python: str


class _Accept:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 OK"


class _StockAiosmtpd(SmtpServer):
    """The reference: stock aiosmtpd with the same TLS and AUTH, accepting everything and
    storing nothing. Measured back to back with the sandbox, the ratio is what to compare
    across machines (absolute numbers drift by 20 % or more between runs)."""

    def _protocol(self, loop: asyncio.AbstractEventLoop, *, implicit_tls: bool) -> SMTP:
        return SMTP(
            _Accept(),
            loop=loop,
            hostname="localhost",
            tls_context=self._server_ssl,
            require_starttls=True,
            auth_required=True,
            authenticator=self._credentials,
        )


def _new_server(
    cert: SelfSignedCertificate, mailbox_dir: str | None, reference: bool = False
) -> tuple[SmtpServer, Mailbox]:
    mailbox = Mailbox.in_dir(mailbox_dir) if mailbox_dir else Mailbox()
    policy = Policy(max_send_rate=1e9)  # measure the server, not the throttle
    kind = _StockAiosmtpd if reference else SmtpServer
    server = kind(policy, mailbox, username=USERNAME, password=PASSWORD, certificate=cert)
    return server.start(), mailbox


def _serve_in_child(
    cert_pem: bytes, key_pem: bytes, mailbox_dir: str | None, reference: bool, conn: Connection
) -> None:
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    cert = SelfSignedCertificate(cert_pem=cert_pem, key_pem=key_pem)
    server, mailbox = _new_server(cert, mailbox_dir, reference)
    conn.send(server.port)
    cpu_start = time.process_time()  # all threads of this process: loop, mailbox flusher
    conn.recv()  # wait for "stop"
    cpu = time.process_time() - cpu_start
    server.stop()
    conn.send((mailbox.count(), cpu))
    mailbox.close()


def _client(
    port: int,
    ctx: ssl.SSLContext,
    count: int,
    payload: bytes,
    errors: list[str],
    start: threading.Barrier,
) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.starttls(context=ctx)
        client.login(USERNAME, PASSWORD)
        start.wait()
        for i in range(count):
            try:
                client.sendmail(SENDER, [f"r{i}@example.org"], payload)
            except smtplib.SMTPException as exc:  # a refusal is a result, not a crash
                errors.append(repr(exc))


def run(
    messages: int,
    connections: int,
    in_process: bool,
    mailbox_dir: str | None = None,
    reference: bool = False,
) -> Result:
    cert = SelfSignedCertificate.generate()
    payload = build_message()
    child: mp.process.BaseProcess | None = None
    if in_process:
        server, mailbox = _new_server(cert, mailbox_dir, reference)
        port = server.port
        assert port is not None
    else:
        ctx_mp = mp.get_context("spawn")
        parent_conn, child_conn = ctx_mp.Pipe()
        child = ctx_mp.Process(
            target=_serve_in_child,
            args=(cert.cert_pem, cert.key_pem, mailbox_dir, reference, child_conn),
            daemon=True,
        )
        child.start()
        port = parent_conn.recv()
    client_ctx = cert.client_context()
    errors: list[str] = []
    per_conn = [
        messages // connections + (1 if i < messages % connections else 0)
        for i in range(connections)
    ]
    barrier = threading.Barrier(connections + 1)
    threads = [
        threading.Thread(target=_client, args=(port, client_ctx, n, payload, errors, barrier))
        for n in per_conn
    ]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    server_cpu = None
    if in_process:
        server.stop()
        stored = mailbox.count()
        mailbox.close()
    else:
        assert child is not None
        parent_conn.send("stop")
        stored, server_cpu = parent_conn.recv()
        child.join(timeout=10)
    return Result(
        messages=messages,
        connections=connections,
        seconds=round(seconds, 3),
        msgs_per_s=round(messages / seconds, 1),
        stored=messages if reference else stored,
        server_cpu_us_per_msg=None if server_cpu is None else round(server_cpu / messages * 1e6),
        errors=len(errors),
        server=("stock aiosmtpd, " if reference else "sandbox, ")
        + ("in-process" if in_process else "child process"),
        mailbox="none" if reference else "SQLite file (WAL)" if mailbox_dir else "SQLite in memory",
        message_bytes=len(payload),
        cpu_count=os.cpu_count() or 0,
        python=platform.python_version(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=20_000)
    parser.add_argument("-c", "--connections", type=int, default=8)
    parser.add_argument("--in-process", action="store_true", help="server in this process")
    parser.add_argument(
        "--mailbox-dir", help="keep the mailbox in this folder (a SQLite file) instead of memory"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run stock aiosmtpd (same TLS+AUTH, no policy, no mailbox) and print the ratio",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    # Stock aiosmtpd logs a deprecation warning on every AUTH; keep the output to the numbers.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    results = [run(args.messages, args.connections, args.in_process, args.mailbox_dir)]
    if args.compare:
        results.append(run(args.messages, args.connections, args.in_process, reference=True))
    for result in results:
        if args.json:
            print(json.dumps(asdict(result)))
        else:
            print(
                f"{result.msgs_per_s:,.0f} msgs/s  ({result.messages} messages, "
                f"{result.connections} connections, STARTTLS+AUTH, server {result.server}, "
                f"mailbox {result.mailbox}, {result.message_bytes} B/msg, "
                f"{result.seconds:.2f} s, stored {result.stored}, errors {result.errors}"
                + (
                    f", server CPU {result.server_cpu_us_per_msg} µs/msg)"
                    if result.server_cpu_us_per_msg is not None
                    else ")"
                )
            )
    if args.compare and not args.json:
        ratio = results[0].msgs_per_s / results[1].msgs_per_s
        print(f"sandbox / stock aiosmtpd: {ratio:.2f}")
    ok = all(r.stored == r.messages and not r.errors for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
