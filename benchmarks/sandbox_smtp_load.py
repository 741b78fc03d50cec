"""Load test of the sandbox SMTP server: STARTTLS + AUTH + mailbox writes, N messages, then stop.

The client is the fastest plain-Python shape measured in shared/BASELINES.md (c5): smtplib, one
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
import email.policy
import json
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
    server: str
    message_bytes: int
    cpu_count: int
    python: str


def _new_server(cert: SelfSignedCertificate) -> tuple[SmtpServer, Mailbox]:
    mailbox = Mailbox()
    policy = Policy(max_send_rate=1e9)  # measure the server, not the throttle
    server = SmtpServer(policy, mailbox, username=USERNAME, password=PASSWORD, certificate=cert)
    return server.start(), mailbox


def _serve_in_child(cert_pem: bytes, key_pem: bytes, conn: Connection) -> None:
    server, mailbox = _new_server(SelfSignedCertificate(cert_pem=cert_pem, key_pem=key_pem))
    conn.send(server.port)
    conn.recv()  # wait for "stop"
    server.stop()
    conn.send(mailbox.count())
    mailbox.close()


def _client(
    port: int, ctx: ssl.SSLContext, count: int, payload: bytes, errors: list[str],
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


def run(messages: int, connections: int, in_process: bool) -> Result:
    cert = SelfSignedCertificate.generate()
    payload = build_message()
    child: mp.process.BaseProcess | None = None
    if in_process:
        server, mailbox = _new_server(cert)
        port = server.port
        assert port is not None
    else:
        ctx_mp = mp.get_context("spawn")
        parent_conn, child_conn = ctx_mp.Pipe()
        child = ctx_mp.Process(
            target=_serve_in_child, args=(cert.cert_pem, cert.key_pem, child_conn), daemon=True
        )
        child.start()
        port = parent_conn.recv()
    client_ctx = cert.client_context()
    errors: list[str] = []
    per_conn = [messages // connections + (1 if i < messages % connections else 0)
                for i in range(connections)]
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
    if in_process:
        server.stop()
        stored = mailbox.count()
        mailbox.close()
    else:
        assert child is not None
        parent_conn.send("stop")
        stored = parent_conn.recv()
        child.join(timeout=10)
    return Result(
        messages=messages,
        connections=connections,
        seconds=round(seconds, 3),
        msgs_per_s=round(messages / seconds, 1),
        stored=stored,
        errors=len(errors),
        server="in-process" if in_process else "child process",
        message_bytes=len(payload),
        cpu_count=os.cpu_count() or 0,
        python=platform.python_version(),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=20_000)
    parser.add_argument("-c", "--connections", type=int, default=8)
    parser.add_argument("--in-process", action="store_true", help="server in this process")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = run(args.messages, args.connections, args.in_process)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(
            f"{result.msgs_per_s:,.0f} msgs/s  ({result.messages} messages, "
            f"{result.connections} connections, STARTTLS+AUTH, server {result.server}, "
            f"{result.seconds:.2f} s, stored {result.stored}, errors {result.errors})"
        )
    return 0 if result.stored == result.messages and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
