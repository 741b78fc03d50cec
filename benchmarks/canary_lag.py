"""What the circuit breaker's canary costs when delivery events arrive late, as at AWS.

The breaker lets the first 200 recipients go only as fast as their fates come back (at most
50 unknown at a time), so a bad list stops before it harms the account. At the sandbox events
are readable at once; at AWS they come seconds later through SNS or SQS. This sends the same
rows with the breaker off and on against a sandbox whose events lag by 0, 2 and 5 s (the
sandbox's ``event_lag_ms``), and prints the wall time of each.

Usage::

    .venv/bin/python -m benchmarks.canary_lag                  # 1,000 rows at 100/s, 50 ms away
    .venv/bin/python -m benchmarks.canary_lag --rows 400 --lags 0 1
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

__all__ = ["main"]


def _timed(rows: int, rate: float, lag_s: float, breaker: bool) -> tuple[float, int]:
    import toolkit
    from toolkit.sandbox import Sandbox

    df = pd.DataFrame({"email": [f"success+{i}@simulator.amazonses.com" for i in range(rows)]})
    with Sandbox(rate=rate, latency_ms=50, event_lag_ms=lag_s * 1000) as box:
        started = time.monotonic()
        out = toolkit.send(df, via="ses", target=box, sender="sender@example.com", subject="Hi",
                           text="Hello", breaker=breaker, progress=False)  # fmt: skip
        return time.monotonic() - started, int((out["status"] == "sent").sum())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.canary_lag", description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="the account's rate")
    parser.add_argument("--lags", type=float, nargs="+", default=[0.0, 2.0, 5.0], help="s")
    args = parser.parse_args(argv)
    print(f"{args.rows} rows at {args.rate:g}/s, 50 ms away; wall seconds")
    print(f"{'event lag s':>11} {'breaker off':>12} {'breaker on':>11} {'canary cost':>12}")
    for lag in args.lags:
        (off, sent_off), (on, sent_on) = (
            _timed(args.rows, args.rate, lag, b) for b in (False, True)
        )
        assert sent_off == sent_on == args.rows, (sent_off, sent_on)
        print(f"{lag:>11g} {off:>12.1f} {on:>11.1f} {on - off:>+12.1f}")


if __name__ == "__main__":
    main()
