"""Load test of the sandbox's SES v2 HTTP API against moto_server, on the same requests.

What is measured: SES v2 ``SendEmail`` (Simple content, ~1 KB, one recipient) requests per
second, including the sandbox's model validation, policy check and mailbox write.

* ``raw``: ``--procs`` client processes (default 2), each with ``--conns`` keep-alive
  ``http.client`` connections (default 1, one thread each), sending a request signed once with
  the server's keys (the sandbox checks SigV4 signatures, as AWS does; moto does not; a
  signature stays valid for 15 minutes, so the same bytes are sent again) and parsing each
  answer with ``http.client.HTTPResponse``. This is the server's
  throughput as far as a cheap client can drive it; ``srv us/req`` is the server process's
  CPU per request (psutil), the figure least disturbed by other load on the machine.
* ``boto3``: one sequential boto3 client in one process (a real client's view; boto3's own
  CPU per request is the limit).

Both servers run in their own process: the sandbox (``Sandbox(smtp=False)`` with a rate high
enough never to throttle) and ``moto_server`` (Werkzeug; its log goes to a file so a full pipe
cannot stall it). Every request must answer 200; the sandbox's mailbox count is checked
at the end. Servers are stopped by their own PIDs.

Usage::

    .venv/bin/python benchmarks/sandbox_http_load.py                # 20,000 raw, 2,000 moto
    .venv/bin/python benchmarks/sandbox_http_load.py -n 5000 --moto-n 1000 --json out.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any

SENDER = "sender@example.com"
PATH = "/v2/email/outbound-emails"
BODY = json.dumps(
    {
        "FromEmailAddress": SENDER,
        "Destination": {"ToAddresses": ["recipient@example.org"]},
        "Content": {
            "Simple": {
                "Subject": {"Data": "Your order has shipped"},
                "Body": {
                    "Text": {"Data": "Hello,\n\n" + "Your parcel is on its way. " * 30},
                },
            }
        },
    }
).encode()
MOTO_KEYS = ("AKIDBENCH", "bench")  # moto accepts any keys


def _signed_request(port: int, keys: tuple[str, str]) -> bytes:
    """The SendEmail request, signed by botocore with ``keys``, as bytes on the wire."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    host = f"127.0.0.1:{port}"
    request = AWSRequest(
        method="POST",
        url=f"http://{host}{PATH}",
        data=BODY,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials(*keys), "ses", "us-east-1").add_auth(request)
    return (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n"
        f"Content-Type: application/json\r\nAuthorization: {request.headers['Authorization']}\r\n"
        f"X-Amz-Date: {request.headers['X-Amz-Date']}\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY


# -- servers --------------------------------------------------------------------------------


def _serve_sandbox() -> None:
    """Child process: run a sandbox, print its info, answer 'count' until stdin closes."""
    from toolkit.sandbox import Sandbox

    with Sandbox(smtp=False, rate=1e9) as sandbox:
        print(json.dumps(sandbox.info()), flush=True)
        for line in sys.stdin:
            if line.strip() == "count":
                print(sandbox.mailbox.count(), flush=True)


class SandboxChild:
    """The sandbox in a child process (its own GIL, like moto_server)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.info = json.loads(self.proc.stdout.readline())
        self.port = int(self.info["endpoint_url"].rsplit(":", 1)[1])

    def count(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoChild:
    """moto_server in a child process, output to a file, stopped by its PID."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)  # noqa: SIM115
        exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
        self.proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            self.close()
            raise RuntimeError("moto_server did not start")
        import boto3

        boto3.client(
            "sesv2",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id="AKIDBENCH",
            aws_secret_access_key="bench",
        ).create_email_identity(EmailIdentity=SENDER)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


# -- clients --------------------------------------------------------------------------------


def _raw_worker(
    port: int, count: int, start: Any, out: Any, conns: int = 1, keys: tuple[str, str] = MOTO_KEYS
) -> None:
    """``conns`` keep-alive connections (one thread each), ``count`` requests in all."""
    if conns > 1:
        import queue
        import threading

        inner: queue.Queue[tuple[int, float, float]] = queue.Queue()
        threads = [
            threading.Thread(target=_raw_worker, args=(port, count // conns, start, inner, 1, keys))
            for _ in range(conns)
        ]
        for thread in threads:
            thread.start()
        results = [inner.get() for _ in threads]
        for thread in threads:
            thread.join()
        out.put(
            (sum(r[0] for r in results), min(r[1] for r in results), max(r[2] for r in results))
        )
        return
    # The request is signed once, as a pre-signed request would be, and written with
    # http.client's connection; the answer is parsed by http.client's HTTPResponse.
    request = _signed_request(port, keys)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()  # sets TCP_NODELAY; reconnects by itself when a server closes
    start.wait()
    ok = 0
    began = time.perf_counter()
    for _ in range(count):
        connection.send(request)
        response = http.client.HTTPResponse(connection.sock, method="POST")  # type: ignore[arg-type]
        response.begin()
        response.read()
        ok += response.status == 200
        if response.will_close:  # moto_server answers "Connection: close"
            connection.close()
    out.put((ok, began, time.perf_counter()))
    connection.close()


def _cpu_seconds(pid: int | None) -> float:
    """User+system CPU of a server process (all threads), 0.0 without psutil."""
    if pid is None:
        return 0.0
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a test dependency
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def raw_load(
    port: int,
    total: int,
    procs: int,
    server_pid: int | None = None,
    conns: int = 1,
    keys: tuple[str, str] = MOTO_KEYS,
) -> dict[str, Any]:
    """``procs`` processes × ``conns`` keep-alive connections; requests/s over the run."""
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    per = total // procs // conns * conns
    workers = [
        ctx.Process(target=_raw_worker, args=(port, per, start, out, conns, keys))
        for _ in range(procs)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let every child import and connect before the clock starts
    cpu_before = _cpu_seconds(server_pid)
    start.set()
    results = [out.get(timeout=600) for _ in workers]
    server_cpu = _cpu_seconds(server_pid) - cpu_before
    for worker in workers:
        worker.join()
    ok = sum(r[0] for r in results)
    seconds = max(r[2] for r in results) - min(r[1] for r in results)
    return {
        "requests": per * procs,
        "ok": ok,
        "seconds": seconds,
        "per_s": per * procs / seconds,
        "server_cpu_us_per_req": server_cpu / (per * procs) * 1e6,
    }


def boto3_load(endpoint: str, total: int, keys: tuple[str, str] = MOTO_KEYS) -> dict[str, Any]:
    """One sequential boto3 client (after 100 warm-up calls)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "sesv2",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=Config(retries={"total_max_attempts": 1}),
    )
    params = json.loads(BODY)

    def once() -> None:
        client.send_email(**params)

    for _ in range(100):
        once()
    began = time.perf_counter()
    for _ in range(total):
        once()
    seconds = time.perf_counter() - began
    return {"requests": total, "ok": total, "seconds": seconds, "per_s": total / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="raw requests to the sandbox")
    parser.add_argument("--moto-n", type=int, default=2_000, help="raw requests to moto")
    parser.add_argument("--boto3-n", type=int, default=2_000, help="boto3 requests per server")
    parser.add_argument("--procs", type=int, default=2, help="client processes for raw load")
    parser.add_argument("--conns", type=int, default=1, help="connections per client process")
    parser.add_argument("--no-moto", action="store_true", help="skip moto_server")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve_sandbox()
        return 0

    rows: dict[str, dict[str, Any]] = {}
    sandbox = SandboxChild()
    try:
        keys = (sandbox.info["access_key_id"], sandbox.info["secret_access_key"])
        rows["sandbox.raw"] = raw_load(
            sandbox.port, args.n, args.procs, sandbox.proc.pid, args.conns, keys
        )
        rows["sandbox.boto3"] = boto3_load(sandbox.info["endpoint_url"], args.boto3_n, keys)
        stored = sandbox.count()
    finally:
        sandbox.close()
    expected = rows["sandbox.raw"]["requests"] + rows["sandbox.boto3"]["requests"] + 100
    if not args.no_moto:
        moto = MotoChild()
        try:
            rows["moto.raw"] = raw_load(
                moto.port, args.moto_n, args.procs, moto.proc.pid, args.conns
            )
            rows["moto.boto3"] = boto3_load(f"http://127.0.0.1:{moto.port}", args.boto3_n // 4)
        finally:
            moto.close()

    print(f"{'run':<16}{'requests':>10}{'ok':>10}{'seconds':>10}{'req/s':>10}{'srv us/req':>12}")
    for name, row in rows.items():
        cpu = row.get("server_cpu_us_per_req")
        print(
            f"{name:<16}{row['requests']:>10}{row['ok']:>10}{row['seconds']:>10.2f}"
            f"{row['per_s']:>10.0f}{'' if cpu is None else f'{cpu:.0f}':>12}"
        )
    print(f"sandbox mailbox: {stored} stored (expected {expected})")
    summary: dict[str, Any] = {
        "host": platform.node(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "procs": args.procs,
        "conns_per_proc": args.conns,
        "rows": rows,
        "stored": stored,
        "expected_stored": expected,
    }
    if "moto.raw" in rows:
        summary["ratio_raw"] = rows["sandbox.raw"]["per_s"] / rows["moto.raw"]["per_s"]
        summary["ratio_boto3"] = rows["sandbox.boto3"]["per_s"] / rows["moto.boto3"]["per_s"]
        print(f"sandbox/moto: raw {summary['ratio_raw']:.1f}x, boto3 {summary['ratio_boto3']:.1f}x")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)
    failed = any(row["ok"] != row["requests"] for row in rows.values()) or stored != expected
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
