"""Threads or asyncio for 1,000 requests in flight? CPU per request and memory, measured.

Issue 17 asks to choose the mechanism that keeps many requests in flight (a 500/s account
150 ms away needs ~100; Pinpoint or bulk at higher rates, or a slow Region, more) by measuring,
not by taste. This runs the same SES ``SendEmail`` call two ways against one delayed server:

* ``threads``: N threads share one :class:`toolkit.aws.client.FastClient` (what the engine
  does: one blocking request per thread, pooled keep-alive sockets);
* ``asyncio``: N coroutines on one event loop; each request is built and signed by the same
  ``FastClient.build_request`` (so serialising and signing cost the same) and written and read
  on an asyncio stream, the shape an asyncio core would have.

The server is a minimal asyncio HTTP stub in a child process that answers every request
``--delay`` seconds after it arrived (the provider's latency), so N in flight make about
N ÷ delay requests per second. Each mode runs in a fresh child process; it reports requests
per second, the process's CPU per request (user + system), and its RSS growth from just before
the N workers start to the peak while they run.

Usage::

    .venv/bin/python -m benchmarks.inflight                     # N = 1000, 1 s delay, 8 s each
    .venv/bin/python -m benchmarks.inflight -n 200 --delay 0.15 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any

from benchmarks.fastaws_profile import BODY_TEXT, REGION, SIMULATOR, _stub_answer

__all__ = ["main"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


# -- the delayed stub (child process) ------------------------------------------------------------


async def _delayed_conn(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
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
            await asyncio.sleep(delay)
            writer.write(_stub_answer(target, body))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


async def _serve(delay: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: _delayed_conn(r, w, delay), "127.0.0.1", 0, backlog=4096
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    server.close()


# -- the two clients (each in a child process) --------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 1e6


class _PeakRss:
    """Samples this process's RSS every 10 ms on a thread (the peak is what a user pays)."""

    def __init__(self) -> None:
        self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss_mb())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _rss_mb())


def _client(port: int, n: int) -> Any:
    from botocore.credentials import Credentials

    from toolkit.aws.client import make_client

    return make_client(
        "sesv2",
        region=REGION,
        endpoint_url=f"http://127.0.0.1:{port}",
        credentials=Credentials("AKIDSTUB", "stub"),
        max_connections=n + 2,
    )


def _params(i: int) -> dict[str, Any]:
    return {
        "FromEmailAddress": "a@example.com",
        "Destination": {"ToAddresses": [SIMULATOR]},
        "Content": {
            "Simple": {"Subject": {"Data": f"Order {i}"}, "Body": {"Text": {"Data": BODY_TEXT}}}
        },
    }


def _run_threads(port: int, n: int, seconds: float) -> dict[str, float]:
    client = _client(port, n)
    client.send_email(**_params(0))  # warm: the operation is compiled on first use
    counts = [0] * n
    start_gate = threading.Barrier(n + 1)
    stop_at = [0.0]

    def worker(w: int) -> None:
        start_gate.wait()
        done = 0
        while time.monotonic() < stop_at[0]:
            client.send_email(**_params(done))
            done += 1
        counts[w] = done

    rss0 = _rss_mb()
    peak = _PeakRss()
    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(n)]
    for t in threads:
        t.start()
    cpu0, t0 = time.process_time(), time.monotonic()
    stop_at[0] = t0 + seconds
    start_gate.wait()
    for t in threads:
        t.join()
    wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    return _figures(sum(counts), wall, cpu, peak.stop() - rss0)


def _run_asyncio(port: int, n: int, seconds: float) -> dict[str, float]:
    client = _client(port, n)
    client.build_request("send_email", _params(0))  # warm, as above

    async def worker(stop_at: float) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        done = 0
        while time.monotonic() < stop_at:
            req = client.build_request("send_email", _params(done))
            head = "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
            writer.write(
                f"{req.method} {req.target} HTTP/1.1\r\nHost: {req.host}\r\n{head}"
                f"Content-Length: {len(req.body)}\r\n\r\n".encode("latin-1")
                + req.body
            )
            status_and_headers = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in status_and_headers.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            answer = json.loads(await reader.readexactly(length))
            if not status_and_headers.startswith(b"HTTP/1.1 200") or "MessageId" not in answer:
                raise RuntimeError(f"unexpected answer: {status_and_headers[:40]!r}")
            done += 1
        writer.close()
        return done

    async def everyone() -> tuple[int, float, float, float]:
        rss0 = _rss_mb()
        peak = _PeakRss()
        cpu0, t0 = time.process_time(), time.monotonic()
        counts = await asyncio.gather(*(worker(t0 + seconds) for _ in range(n)))
        wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
        return sum(counts), wall, cpu, peak.stop() - rss0

    total, wall, cpu, growth = asyncio.run(everyone())
    return _figures(total, wall, cpu, growth)


def _figures(requests: int, wall: float, cpu: float, rss_growth: float) -> dict[str, float]:
    return {
        "requests": requests,
        "per_s": round(requests / wall, 1),
        "cpu_us_per_request": round(cpu / max(requests, 1) * 1e6, 1),
        "rss_growth_mb": round(rss_growth, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


# -- the parent -----------------------------------------------------------------------------------


def _child(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.inflight", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inflight", description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="requests in flight (default 1000)")
    parser.add_argument("--delay", type=float, default=1.0, help="server answer time, s")
    parser.add_argument("--seconds", type=float, default=8.0, help="timed part per mode")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--serve", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["threads", "asyncio"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return
    if args.mode is not None:
        run = _run_threads if args.mode == "threads" else _run_asyncio
        print(json.dumps(run(args.port, args.n, args.seconds)), flush=True)
        return

    server = _child(["--serve", str(args.delay)])
    assert server.stdout is not None and server.stdin is not None
    port = int(server.stdout.readline())
    results: dict[str, dict[str, float]] = {}
    try:
        for mode in ("threads", "asyncio"):
            child = _child(["--mode", mode, "--port", str(port), "-n", str(args.n),
                            "--seconds", str(args.seconds)])  # fmt: skip
            out, _ = child.communicate(timeout=args.seconds * 10 + 60)
            results[mode] = json.loads(out.strip().splitlines()[-1])
    finally:
        server.stdin.close()
        server.wait(10)
    if args.json:
        print(json.dumps({"n": args.n, "delay_s": args.delay, "modes": results}))
        return
    ideal = args.n / args.delay
    print(f"{args.n} requests in flight, server answers after {args.delay} s "
          f"(ideal {ideal:,.0f} requests/s); load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'mode':<8} {'req/s':>8} {'CPU µs/req':>11} {'RSS growth MB':>14} {'peak RSS MB':>12}")
    for mode, r in results.items():
        print(f"{mode:<8} {r['per_s']:>8,.0f} {r['cpu_us_per_request']:>11,.0f} "
              f"{r['rss_growth_mb']:>14,.1f} {r['peak_rss_mb']:>12,.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
