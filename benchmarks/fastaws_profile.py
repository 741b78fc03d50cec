"""Where boto3's time goes on the SES v2 API path, and what FastClient saves (issue 3).

Runs, back to back in one process and against one server:

  a  boto3 ``send_email``, sequential, one call per recipient (the AWS sample's shape; baseline)
  b  FastClient ``send_email``, sequential
  c  FastClient ``send_email`` from 2 and 4 threads sharing one client
  d  ``send_bulk_email`` with 50 entries per call (boto3, then FastClient)
  e  Pinpoint ``send_messages`` with 100 addresses per call (boto3, then FastClient)

Servers: ``stub`` is a minimal asyncio keep-alive HTTP server answering canned JSON (about
0.1 ms per request, so the client is what is measured); ``sandbox`` is the toolkit's embedded
sandbox (model validation, policy, mailbox). ``--where inproc`` runs the server on a thread of
this process, as a notebook does; ``subproc`` runs it in a child process; ``both`` does both.

Numbers: recipients/s (wall), and CPU per recipient: ``client`` is the CPU of the sending
threads only (``time.thread_time``), ``process`` is all of this process (with an in-process
server it includes the server), ``server`` is the child's CPU (subproc) or process − client
(inproc). ``CPU ceiling/s`` is the rate the measured CPU alone allows (the in-process GIL, or
the busier of two processes on two cores): on a busy machine wall rates fall and this does
not, so compare ratios within one run. ``--profile`` prints cProfile's top functions (CPU
time) for boto3 and FastClient; ``--end-to-end`` also times ``toolkit.send`` (whole ``ses``,
``ses-bulk`` and ``pinpoint`` paths) against the in-process sandbox with either client.

Usage::

    .venv/bin/python benchmarks/fastaws_profile.py --server stub --where subproc -n 3000
    .venv/bin/python benchmarks/fastaws_profile.py --server sandbox --where both
    .venv/bin/python benchmarks/fastaws_profile.py --server stub --profile
    .venv/bin/python benchmarks/fastaws_profile.py --server sandbox --where inproc --end-to-end
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.credentials import Credentials

from toolkit.aws.client import make_client

BODY_TEXT = "Hello {name}, this is a transactional message. " * 40  # about 2 KB, like BASELINES
REGION = "us-east-1"
SIMULATOR = "success@simulator.amazonses.com"
BULK_N = 50
PINPOINT_N = 100

# -- the asyncio stub ------------------------------------------------------------------------------


def _stub_answer(target: str, body: bytes) -> bytes:
    if target == "/v2/email/outbound-bulk-emails":
        n = body.count(b'"Destination"')
        doc: dict[str, Any] = {
            "BulkEmailEntryResults": [
                {"Status": "SUCCESS", "MessageId": f"0100-bulk-{i}"} for i in range(n)
            ]
        }
    elif target.endswith("/messages"):
        # SendMessages' output payload is the MessageResponse itself.
        addresses = json.loads(body)["Addresses"]
        doc = {
            "ApplicationId": "app",
            "RequestId": "r",
            "Result": {
                a: {"DeliveryStatus": "SUCCESSFUL", "StatusCode": 200, "MessageId": f"p{i}"}
                for i, a in enumerate(addresses)
            },
        }
    else:
        doc = {"MessageId": "0100018c-stub-000000"}
    payload = json.dumps(doc).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: stub\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
    )


async def _stub_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            first, _, rest = head.partition(b"\r\n")
            target = first.split(b" ")[1].decode()
            length = 0
            for line in rest.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            writer.write(_stub_answer(target, body))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


class StubServer:
    """The asyncio stub on an event loop of its own, on a daemon thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(_stub_conn, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


# -- targets -----------------------------------------------------------------------------------


@dataclass
class Target:
    """Where to send: URL, credentials, sender, Pinpoint app; how to read server CPU."""

    url: str
    access_key: str
    secret_key: str
    sender: str
    app_id: str
    template: str
    server_pid: int | None = None  # a child process, whose CPU we can read


def _serve_child(kind: str) -> None:
    """Child-process mode: start the server, print its info as JSON, run until stdin closes."""
    if kind == "stub":
        stub = StubServer()
        info = {
            "url": stub.url,
            "ak": "AKIDSTUB",
            "sk": "stub",
            "sender": "a@example.com",
            "app": "app",
            "template": "t",
        }
    else:
        sandbox = _start_sandbox()
        info = _sandbox_info(sandbox)
    print(json.dumps(info), flush=True)
    sys.stdin.read()


def _start_sandbox() -> Any:
    from toolkit.sandbox import Sandbox

    # rate: the benchmark measures the HTTP path, not the sandbox's pacing of it.
    return Sandbox(smtp=False, rate=1e9).start()


def _sandbox_info(sandbox: Any) -> dict[str, str]:
    from toolkit.sandbox.server import DEFAULT_APP_ID, DEFAULT_SENDER

    client = sandbox.client("sesv2")
    with contextlib.suppress(Exception):
        client.create_email_template(
            TemplateName="bench",
            TemplateContent={"Subject": "Hi {{name}}", "Text": BODY_TEXT},
        )
    return {
        "url": sandbox.endpoint_url,
        "ak": sandbox.access_key_id,
        "sk": sandbox.secret_access_key,
        "sender": DEFAULT_SENDER,
        "app": DEFAULT_APP_ID,
        "template": "bench",
    }


@contextlib.contextmanager
def target(kind: str, where: str) -> Iterator[Target]:
    """A running server of ``kind`` ('stub'/'sandbox'), in this process or a child."""
    if where == "subproc":
        child = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            info = json.loads(child.stdout.readline())
            yield Target(
                info["url"],
                info["ak"],
                info["sk"],
                info["sender"],
                info["app"],
                info["template"],
                server_pid=child.pid,
            )
        finally:
            assert child.stdin is not None
            child.stdin.close()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()  # our own child, by its handle
        return
    if kind == "stub":
        stub = StubServer()
        try:
            yield Target(stub.url, "AKIDSTUB", "stub", "a@example.com", "app", "t")
        finally:
            stub.stop()
        return
    sandbox = _start_sandbox()
    try:
        info = _sandbox_info(sandbox)
        yield Target(
            info["url"], info["ak"], info["sk"], info["sender"], info["app"], info["template"]
        )
    finally:
        sandbox.stop()


# -- calls -------------------------------------------------------------------------------------


def _boto3(t: Target, service: str, workers: int = 1) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=t.url,
        aws_access_key_id=t.access_key,
        aws_secret_access_key=t.secret_key,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=workers + 2
        ),
    )


def _fast(t: Target, service: str, workers: int = 1) -> Any:
    return make_client(
        service,
        region=REGION,
        endpoint_url=t.url,
        credentials=Credentials(t.access_key, t.secret_key),
        max_connections=workers + 2,
    )


def _send_email_call(client: Any, t: Target) -> Callable[[int], int]:
    def call(i: int) -> int:
        client.send_email(
            FromEmailAddress=t.sender,
            Destination={"ToAddresses": [SIMULATOR]},
            Content={
                "Simple": {"Subject": {"Data": f"Order {i}"}, "Body": {"Text": {"Data": BODY_TEXT}}}
            },
        )
        return 1

    return call


def _bulk_call(client: Any, t: Target) -> Callable[[int], int]:
    def call(i: int) -> int:
        answer = client.send_bulk_email(
            FromEmailAddress=t.sender,
            DefaultContent={
                "Template": {"TemplateName": t.template, "TemplateData": '{"name": "friend"}'}
            },
            BulkEmailEntries=[
                {
                    "Destination": {"ToAddresses": [f"success+{i}-{k}@simulator.amazonses.com"]},
                    "ReplacementEmailContent": {
                        "ReplacementTemplate": {"ReplacementTemplateData": f'{{"name": "r{k}"}}'}
                    },
                }
                for k in range(BULK_N)
            ],
        )
        return sum(r.get("Status") == "SUCCESS" for r in answer["BulkEmailEntryResults"])

    return call


def _pinpoint_call(client: Any, t: Target) -> Callable[[int], int]:
    def call(i: int) -> int:
        answer = client.send_messages(
            ApplicationId=t.app_id,
            MessageRequest={
                "Addresses": {
                    f"success+{i}-{k}@simulator.amazonses.com": {"ChannelType": "EMAIL"}
                    for k in range(PINPOINT_N)
                },
                "MessageConfiguration": {
                    "EmailMessage": {
                        "FromAddress": t.sender,
                        "SimpleEmail": {
                            "Subject": {"Data": "Order"},
                            "TextPart": {"Data": BODY_TEXT},
                        },
                    }
                },
            },
        )
        result = answer["MessageResponse"]["Result"]
        return sum(r.get("DeliveryStatus") == "SUCCESSFUL" for r in result.values())

    return call


# -- measuring ---------------------------------------------------------------------------------


def _server_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    name: str
    calls: int
    recipients: int
    ok: int
    wall: float
    client_cpu: float
    process_cpu: float
    server_cpu: float | None

    def cells(self) -> list[str]:
        per = 1e6 / self.recipients
        server = (
            self.server_cpu if self.server_cpu is not None else self.process_cpu - self.client_cpu
        )
        return [
            self.name,
            f"{self.recipients}",
            f"{self.ok}",
            f"{self.recipients / self.wall:,.0f}",
            f"{self.client_cpu * per:,.0f}",
            f"{self.process_cpu * per:,.0f}",
            f"{server * per:,.0f}",
            f"{self.ceiling():,.0f}",
        ]

    def ceiling(self) -> float:
        """Recipients/s the CPU alone allows on 2 cores: the GIL serialises one process's
        threads (client and an in-process server), so the slower process sets the pace."""
        if self.server_cpu is None:  # in process: everything shares one GIL
            busy = self.process_cpu
        else:
            busy = max(self.process_cpu, self.server_cpu)
        return self.recipients / busy if busy > 0 else float("inf")


def measure(
    name: str,
    call: Callable[[int], int],
    calls: int,
    per_call: int,
    threads: int,
    t: Target,
    warmup: int,
) -> Row:
    """Run ``calls`` calls (after ``warmup``) from ``threads`` threads; time and CPU them."""
    for i in range(warmup):
        call(-1 - i)
    client_cpu = [0.0] * threads
    ok = [0] * threads
    barrier = threading.Barrier(threads + 1)

    def worker(w: int) -> None:
        barrier.wait()
        start = time.thread_time()
        good = 0
        for i in range(w, calls, threads):
            good += call(i)
        client_cpu[w] = time.thread_time() - start
        ok[w] = good

    workers = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for th in workers:
        th.start()
    s0 = _server_cpu(t.server_pid)
    p0 = time.process_time()
    w0 = time.perf_counter()
    barrier.wait()
    for th in workers:
        th.join()
    wall = time.perf_counter() - w0
    process = time.process_time() - p0
    server = _server_cpu(t.server_pid) - s0 if t.server_pid else None
    return Row(name, calls, calls * per_call, sum(ok), wall, sum(client_cpu), process, server)


def run(kind: str, where: str, n: int, threads: list[int], bulk: bool, warmup: int) -> list[Row]:
    rows: list[Row] = []
    with target(kind, where) as t:
        b, f = _boto3(t, "sesv2", max(threads)), _fast(t, "sesv2", max(threads))
        rows.append(
            measure(
                "a boto3 send_email sequential (baseline)",
                _send_email_call(b, t),
                n,
                1,
                1,
                t,
                warmup,
            )
        )
        rows.append(
            measure("b fast send_email sequential", _send_email_call(f, t), n, 1, 1, t, warmup)
        )
        for k in threads:
            rows.append(
                measure(
                    f"c fast send_email {k} threads", _send_email_call(f, t), n, 1, k, t, warmup
                )
            )
        if bulk:
            m = max(20, n // BULK_N)
            rows.append(
                measure(f"d boto3 send_bulk_email x{BULK_N}", _bulk_call(b, t), m, BULK_N, 1, t, 5)
            )
            rows.append(
                measure(f"d fast send_bulk_email x{BULK_N}", _bulk_call(f, t), m, BULK_N, 1, t, 5)
            )
            rows.append(
                measure(
                    f"d fast send_bulk_email x{BULK_N} 2 threads",
                    _bulk_call(f, t),
                    m,
                    BULK_N,
                    2,
                    t,
                    5,
                )
            )
            bp, fp = _boto3(t, "pinpoint"), _fast(t, "pinpoint")
            m = max(10, n // PINPOINT_N)
            rows.append(
                measure(
                    f"e boto3 pinpoint send_messages x{PINPOINT_N}",
                    _pinpoint_call(bp, t),
                    m,
                    PINPOINT_N,
                    1,
                    t,
                    3,
                )
            )
            rows.append(
                measure(
                    f"e fast pinpoint send_messages x{PINPOINT_N}",
                    _pinpoint_call(fp, t),
                    m,
                    PINPOINT_N,
                    1,
                    t,
                    3,
                )
            )
            fp.close()
        f.close()
    return rows


def end_to_end(n: int, workers: int) -> None:
    """``toolkit.send`` on an n-row frame through the in-process sandbox, boto3 vs FastClient.

    This is the whole ``ses`` path a notebook runs (compose, engine, ledger, transport,
    client, sandbox), so it shows what the client saving is worth in context.
    """
    import pandas as pd

    import toolkit
    from toolkit.targets import AwsTarget

    frame = pd.DataFrame(
        {
            "email": [f"success+{i}@simulator.amazonses.com" for i in range(n)],
            "name": [f"n{i}" for i in range(n)],
        }
    )
    sandbox = _start_sandbox()
    info = _sandbox_info(sandbox)
    print(
        f"\n## toolkit.send end to end, sandbox in process, {n} rows, {time.strftime('%H:%M:%S')}\n"
    )
    print("| via | workers | client | rows/s | process CPU µs/row | statuses |")
    print("|---|---|---|---|---|---|")
    try:
        for via, w in (("ses", 1), ("ses", workers), ("ses-bulk", 2), ("pinpoint", 2)):
            for fast in (False, True):
                target = AwsTarget(
                    region=sandbox.region,
                    endpoint_url=info["url"],
                    access_key_id=info["ak"],
                    secret_access_key=info["sk"],
                    fast=fast,
                    pinpoint_app_id=info["app"],
                )
                w0, p0 = time.perf_counter(), time.process_time()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # Pinpoint's end-of-support notice
                    result = toolkit.send(
                        frame,
                        via=via,
                        target=target,
                        sender=info["sender"],
                        workers=w,
                        subject="Order {{name}}",
                        text=BODY_TEXT.replace("{name}", "{{name}}"),
                        progress=False,
                        allow_duplicates=True,
                        # Pinpoint has no GetAccount quota, so without a rate the engine
                        # starts adaptive pacing slowly; the sandbox allows 1e9/s anyway.
                        rate=1e6,
                    )
                wall, cpu = time.perf_counter() - w0, time.process_time() - p0
                counts = result["status"].astype(str).value_counts().to_dict()
                print(
                    f"| {via} | {w} | {'FastClient' if fast else 'boto3'} | {n / wall:,.0f} "
                    f"| {cpu / n * 1e6:,.0f} | {counts} |",
                    flush=True,
                )
    finally:
        sandbox.stop()


def profile(kind: str, n: int) -> None:
    """cProfile top functions (cumulative and own time) for boto3 and FastClient send_email."""
    with target(kind, "subproc") as t:
        for label, client in (("boto3", _boto3(t, "sesv2")), ("FastClient", _fast(t, "sesv2"))):
            call = _send_email_call(client, t)
            for i in range(200):
                call(i)
            prof = cProfile.Profile(time.process_time)  # CPU, so waiting on the server is 0
            prof.enable()
            for i in range(n):
                call(i)
            prof.disable()
            out = io.StringIO()
            stats = pstats.Stats(prof, stream=out)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(15)
            print(f"===== {label}: {n} send_email calls, CPU-time profile =====")
            print(out.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["stub", "sandbox"], default="stub")
    parser.add_argument("--where", choices=["inproc", "subproc", "both"], default="both")
    parser.add_argument("-n", type=int, default=3000, help="send_email calls per scenario")
    parser.add_argument("--threads", default="2,4")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--no-bulk", action="store_true", help="skip scenarios d and e")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--end-to-end", action="store_true", help="also time toolkit.send via the sandbox"
    )
    parser.add_argument("--e2e-only", action="store_true", help="only the toolkit.send rows")
    parser.add_argument("--serve", choices=["stub", "sandbox"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve_child(args.serve)
        return
    if args.profile:
        profile(args.server, args.n)
        return
    threads = [int(x) for x in args.threads.split(",") if x]
    header = [
        "scenario",
        "recipients",
        "accepted",
        "recipients/s",
        "client CPU µs/rcpt",
        "process CPU µs/rcpt",
        "server CPU µs/rcpt",
        "CPU ceiling/s",
    ]
    wheres = ["inproc", "subproc"] if args.where == "both" else [args.where]
    for where in [] if args.e2e_only else wheres:
        rows = run(args.server, where, args.n, threads, not args.no_bulk, args.warmup)
        base = rows[0].recipients / rows[0].wall
        print(f"\n## server={args.server} ({where}), n={args.n}, {time.strftime('%H:%M:%S')}\n")
        print("| " + " | ".join([*header, "× baseline"]) + " |")
        print("|" + "---|" * (len(header) + 1))
        for row in rows:
            ratio = row.recipients / row.wall / base
            print("| " + " | ".join([*row.cells(), f"{ratio:.1f}"]) + " |")
        sys.stdout.flush()
    if args.end_to_end or args.e2e_only:
        end_to_end(args.n, max(threads))


if __name__ == "__main__":
    main()
