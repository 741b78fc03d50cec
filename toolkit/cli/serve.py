"""``python -m toolkit sandbox`` serves the embedded sandbox; ``mailbox`` prints what it got."""

from __future__ import annotations

import argparse
import gc
import json
import signal
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    box = sub.add_parser("sandbox", help="serve the local SES/Pinpoint/SMTP sandbox")
    box.add_argument("--api-port", type=int, default=0, help="HTTP API port (0: any free port)")
    box.add_argument("--smtp-port", type=int, default=0, help="SMTP port (0: any free port)")
    box.add_argument(
        "--smtp-tls-port",
        type=int,
        default=0,
        help="implicit-TLS SMTP port, as SES's 465 (0: any free port; -1: none)",
    )
    box.add_argument(
        "--rate", type=float, help="MaxSendRate, recipients/s (1000; 1 with --sandbox-account)"
    )
    box.add_argument(
        "--daily-quota",
        type=int,
        help="Max24HourSend (-1: none, the default; 200 with --sandbox-account)",
    )
    box.add_argument(
        "--state", type=Path, help="directory that keeps the mailbox (read it with: mailbox)"
    )
    box.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    box.add_argument(
        "--event-lag-ms",
        type=float,
        default=0.0,
        help="delivery events become readable this long after the send (SES's take seconds)",
    )
    box.add_argument(
        "--throttle-rate", type=float, default=0.0, metavar="P", help="P(throttling) per request"
    )
    box.add_argument("--error-rate", type=float, default=0.0, metavar="P", help="P(5xx / 451)")
    box.add_argument(
        "--drop-rate", type=float, default=0.0, metavar="P", help="P(connection dropped)"
    )
    box.add_argument(
        "--partial-failure-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="P(transient failure) per recipient inside bulk answers",
    )
    box.add_argument(
        "--bounce-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="P(hard bounce) per ordinary (non-simulator) recipient; feeds the account's "
        "reputation and suppression list",
    )
    box.add_argument(
        "--complaint-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="P(complaint after delivery) per ordinary recipient",
    )
    box.add_argument(
        "--dead-mailbox",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="an address that always hard-bounces (repeatable)",
    )
    box.add_argument(
        "--seed", type=int, help="makes the injected faults, bounces and complaints reproducible"
    )
    box.add_argument(
        "--sandbox-account",
        action="store_true",
        help="an account in SES's sandbox: verified recipients only, 1/s, 200 per 24 h",
    )
    box.add_argument(
        "--verified",
        action="append",
        metavar="IDENTITY",
        help="an address or domain verified from the start (repeatable; default: "
        "sender@example.com and example.com); others start pending, as at SES",
    )
    box.add_argument(
        "--pinpoint-ended",
        action="store_true",
        help="answer Pinpoint email as AWS does after its end of support (403)",
    )
    box.set_defaults(handler=run_sandbox)

    mailbox = sub.add_parser("mailbox", help="print what a sandbox received")
    mailbox.add_argument(
        "--state", type=Path, required=True, help="the sandbox's --state directory"
    )
    mailbox.add_argument("--events", action="store_true", help="print events, not messages")
    mailbox.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="CSV, or JSON lines"
    )
    mailbox.set_defaults(handler=run_mailbox)


def run_sandbox(ns: argparse.Namespace) -> int:
    from toolkit.errors import ConfigurationError
    from toolkit.sandbox import Sandbox

    try:  # a bad setting (a negative rate, a port out of range, a --state that is a file)
        sandbox = Sandbox(
            api_port=ns.api_port,
            smtp_port=ns.smtp_port,
            smtp_tls_port=None if ns.smtp_tls_port < 0 else ns.smtp_tls_port,
            rate=ns.rate,
            daily_quota=ns.daily_quota,
            state_dir=ns.state,
            latency_ms=ns.latency_ms,
            throttle_rate=ns.throttle_rate,
            error_rate=ns.error_rate,
            drop_rate=ns.drop_rate,
            partial_failure_rate=ns.partial_failure_rate,
            seed=ns.seed,
            sandbox_account=ns.sandbox_account,
            pinpoint_ended=ns.pinpoint_ended,
            bounce_rate=ns.bounce_rate,
            event_lag_ms=ns.event_lag_ms,
            complaint_rate=ns.complaint_rate,
            dead_mailboxes=ns.dead_mailbox,
            **({"verified": ns.verified} if ns.verified else {}),
        ).start()
    except (ValueError, OverflowError, OSError) as exc:
        raise ConfigurationError(f"cannot start the sandbox: {exc}") from exc
    # A process that only serves from now on: what start-up built (models, validators, the
    # TLS context) joins the collector's permanent generation, so that a full collection
    # walks only the requests' own objects. Unfrozen, one took up to 65 ms in a bulk run,
    # and every answer due meanwhile came that much later than --latency-ms.
    gc.freeze()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    served = _write_info(sandbox.info(), ns.state)
    try:
        print(json.dumps(sandbox.info()), flush=True)
        stop.wait()
    finally:
        if served is not None:
            served.unlink(missing_ok=True)
        sandbox.stop()
    return 0


def _write_info(info: dict[str, Any], state: Path | None) -> Path | None:
    """With --state, leave the address and keys in STATE for 'send --sandbox STATE' (readable
    by this user only: it holds the sandbox's secret key)."""
    import os

    from toolkit.cli.common import SERVED_INFO

    if state is None:
        return None
    path = state / SERVED_INFO
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(info, handle)
    return path


def run_mailbox(ns: argparse.Namespace) -> int:
    from toolkit.errors import ConfigurationError
    from toolkit.sandbox.mailbox import Mailbox

    try:
        mailbox = Mailbox.open(ns.state)
    except FileNotFoundError as exc:
        raise ConfigurationError(str(exc)) from exc
    try:
        frame = mailbox.events() if ns.events else mailbox.messages()
    except sqlite3.DatabaseError as exc:  # a file that is not a mailbox
        raise ConfigurationError(
            f"--state {ns.state} holds no sandbox mailbox ({exc}); give the directory a "
            "sandbox was started with (--state)"
        ) from exc
    finally:
        mailbox.close()
    if ns.format == "json":
        sys.stdout.write(frame.to_json(orient="records", lines=True, date_format="iso"))
    else:
        frame.to_csv(sys.stdout, index=False)
    return 0
