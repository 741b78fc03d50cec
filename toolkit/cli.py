"""python -m toolkit — send email from a CSV/Parquet file, serve the sandbox, measure, decide.

Commands:
  demo      start the sandbox, send data/'s sample recipients through every transport,
            print a summary per transport (the README's main job)
  send      send a CSV/Parquet file through ses, ses-bulk, pinpoint or smtp
  sandbox   serve the embedded SES/Pinpoint/SMTP sandbox until interrupted
  mailbox   print what a sandbox started with --state received
  report    summarize a results file, write figures
  guide     Pinpoint or SES, API or SMTP? The decision guide, with sources

Exit status: 0 when the command did its job (for send: every row reached a final status,
even if some failed); 2 with a one-line reason on configuration errors.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.transports.registry import TRANSPORTS, names

EXIT_CONFIG = 2


def _via_help() -> str:
    """The transports, one line each, from the registry."""
    return "; ".join(f"{k.name}: {k.call}" for k in TRANSPORTS.values())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "report":
        from toolkit.measure.cli import report_cli

        return _guarded(lambda: report_cli(args[1:]))
    if args and args[0] == "guide":
        from toolkit.guide import guide_cli

        return _guarded(lambda: guide_cli(args[1:]))
    parser = _parser()
    ns = parser.parse_args(args)
    if not getattr(ns, "command", None):
        parser.print_help()
        return EXIT_CONFIG
    return _guarded(lambda: ns.handler(ns))


def _guarded(run: Any) -> int:
    """Turn configuration errors into one line on stderr and exit status 2."""
    try:
        return int(run() or 0)
    except ToolkitError as exc:
        print(f"toolkit: error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("toolkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m toolkit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="send the sample recipients through every transport")
    demo.add_argument("--data", type=Path, default=None, help="recipients CSV (default: data/)")
    demo.add_argument("--rows", type=int, default=None, help="use only the first N rows")
    demo.add_argument(
        "--via",
        choices=names(),
        action="append",
        help="only these transports (repeat the option for several)",
    )
    demo.add_argument("--rate", type=float, default=1000.0, help="sandbox MaxSendRate")
    demo.set_defaults(handler=_cmd_demo)

    send = sub.add_parser("send", help="send a CSV or Parquet file")
    send.add_argument("file", type=Path)
    send.add_argument("--via", choices=names(), required=True, help=_via_help())
    send.add_argument("--from", dest="sender", required=True, help="From address")
    content = send.add_argument_group("content")
    content.add_argument("--subject", help="subject template, {{column}} placeholders")
    content.add_argument("--text", type=Path, help="text body template file")
    content.add_argument("--html", type=Path, help="HTML body template file")
    content.add_argument("--template", help="name of a stored SES/Pinpoint template")
    send.add_argument("--to-column", default="email")
    send.add_argument("--key-column", default=None, help="stable row key (default: row index)")
    where = send.add_argument_group("where to send")
    where.add_argument("--sandbox", action="store_true", help="start an embedded sandbox (default)")
    where.add_argument("--region")
    where.add_argument("--profile")
    where.add_argument("--endpoint-url")
    where.add_argument("--pinpoint-app-id")
    where.add_argument("--smtp-host")
    where.add_argument("--smtp-port", type=int, default=587)
    where.add_argument("--smtp-user")
    where.add_argument("--smtp-password-env", metavar="VAR", help="env var holding the password")
    where.add_argument("--smtp-tls", choices=("starttls", "implicit", "none"), default="starttls")
    where.add_argument("--smtp-no-verify", action="store_true", help="skip certificate checks")
    engine = send.add_argument_group("engine")
    engine.add_argument("--rate", type=float, help="recipients per second (default: quota)")
    engine.add_argument("--workers", type=int, default=8)
    engine.add_argument("--ledger", type=Path, help="SQLite journal; makes the run resumable")
    engine.add_argument("--resume", action="store_true", help="continue an existing ledger")
    engine.add_argument("--retry-unknown", action="store_true", help="resend 'unknown' rows")
    engine.add_argument("--dry-run", action="store_true", help="check and render; send nothing")
    engine.add_argument("--limit", type=int, help="send at most N rows")
    engine.add_argument("--no-progress", action="store_true")
    send.add_argument("--out", type=Path, required=True, help="results CSV")
    send.set_defaults(handler=_cmd_send)

    box = sub.add_parser("sandbox", help="serve the local SES/Pinpoint/SMTP sandbox")
    box.add_argument("--api-port", type=int, default=0, help="HTTP API port (0: any free port)")
    box.add_argument("--smtp-port", type=int, default=0, help="SMTP port (0: any free port)")
    box.add_argument("--rate", type=float, default=1000.0, help="MaxSendRate, recipients/s")
    box.add_argument("--daily-quota", type=int, default=-1, help="Max24HourSend (-1: none)")
    box.add_argument(
        "--state", type=Path, help="directory that keeps the mailbox (read it with: mailbox)"
    )
    box.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
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
    box.add_argument("--seed", type=int, help="makes the injected faults reproducible")
    box.add_argument("--sandbox-account", action="store_true", help="verified recipients only")
    box.set_defaults(handler=_cmd_sandbox)

    mailbox = sub.add_parser("mailbox", help="print what a sandbox received")
    mailbox.add_argument(
        "--state", type=Path, required=True, help="the sandbox's --state directory"
    )
    mailbox.add_argument("--events", action="store_true", help="print events, not messages")
    mailbox.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="CSV, or JSON lines"
    )
    mailbox.set_defaults(handler=_cmd_mailbox)

    sub.add_parser("report", help="summarize a results file (see: report --help)")
    sub.add_parser("guide", help="Pinpoint or SES? (see: guide --help)")
    return parser


# --- sandbox / mailbox -------------------------------------------------------------------


def _cmd_sandbox(ns: argparse.Namespace) -> int:
    from toolkit.sandbox import Sandbox

    sandbox = Sandbox(
        api_port=ns.api_port,
        smtp_port=ns.smtp_port,
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
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with sandbox:
        print(json.dumps(sandbox.info()), flush=True)
        stop.wait()
    return 0


def _cmd_mailbox(ns: argparse.Namespace) -> int:
    from toolkit.errors import ConfigurationError
    from toolkit.sandbox.mailbox import Mailbox

    try:
        mailbox = Mailbox.open(ns.state)
    except FileNotFoundError as exc:
        raise ConfigurationError(str(exc)) from exc
    try:
        frame = mailbox.events() if ns.events else mailbox.messages()
    finally:
        mailbox.close()
    if ns.format == "json":
        sys.stdout.write(frame.to_json(orient="records", lines=True, date_format="iso"))
    else:
        frame.to_csv(sys.stdout, index=False)
    return 0


# --- send ------------------------------------------------------------------------------


def _read_frame(path: Path) -> Any:
    import pandas as pd

    from toolkit.errors import ConfigurationError

    if not path.exists():
        raise ConfigurationError(f"cannot read {path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc


def _read_text(path: Path | None) -> str | None:
    from toolkit.errors import ConfigurationError

    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read template {path}: {exc.strerror}") from exc


def _target_from_args(ns: argparse.Namespace) -> Any:
    """None (embedded sandbox), an AwsTarget or an SmtpTarget, from the flags."""
    from toolkit.errors import ConfigurationError
    from toolkit.targets import AwsTarget, SmtpTarget

    if ns.via == "smtp" and ns.smtp_host:
        password = None
        if ns.smtp_password_env:
            password = os.environ.get(ns.smtp_password_env)
            if password is None:
                raise ConfigurationError(f"environment variable {ns.smtp_password_env} is not set")
        return SmtpTarget(
            host=ns.smtp_host,
            port=ns.smtp_port,
            username=ns.smtp_user,
            password=password,
            tls=ns.smtp_tls,
            verify=not ns.smtp_no_verify,
        )
    if ns.via != "smtp" and (ns.region or ns.profile or ns.endpoint_url):
        return AwsTarget(
            region=ns.region,
            profile=ns.profile,
            endpoint_url=ns.endpoint_url,
            pinpoint_app_id=ns.pinpoint_app_id,
        )
    if ns.via == "smtp" and (ns.region or ns.profile or ns.endpoint_url):
        raise ConfigurationError(
            "--via smtp needs --smtp-host (and --smtp-user/--smtp-password-env)"
        )
    return None


def _cmd_send(ns: argparse.Namespace) -> int:
    from toolkit.api import send
    from toolkit.errors import ConfigurationError

    if ns.ledger and ns.ledger.exists() and not ns.resume:
        raise ConfigurationError(f"ledger {ns.ledger} exists: pass --resume to continue it")
    if ns.resume and not ns.ledger:
        raise ConfigurationError("--resume needs --ledger PATH")
    if ns.template and (ns.subject or ns.text or ns.html):
        raise ConfigurationError("give either --template or --subject/--text/--html, not both")
    if not ns.template and not ns.subject:
        raise ConfigurationError("give --subject (with --text/--html) or --template")
    frame = _read_frame(ns.file)
    results = send(
        frame,
        via=ns.via,
        target=_target_from_args(ns),
        sender=ns.sender,
        to=ns.to_column,
        key=ns.key_column,
        subject=ns.subject,
        text=_read_text(ns.text),
        html=_read_text(ns.html),
        template=ns.template,
        rate=ns.rate,
        workers=ns.workers,
        ledger=ns.ledger,
        retry_unknown=ns.retry_unknown,
        dry_run=ns.dry_run,
        limit=ns.limit,
        progress=not ns.no_progress,
    )
    results.to_csv(ns.out, index_label="input_index")
    counts = results["status"].value_counts()
    print(" ".join(f"{status}={n}" for status, n in counts.items()), f"-> {ns.out}")
    return 0


# --- demo ------------------------------------------------------------------------------


def _cmd_demo(ns: argparse.Namespace) -> int:
    from toolkit.demo import run_demo

    return run_demo(data=ns.data, rows=ns.rows, vias=ns.via or list(names()), rate=ns.rate)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
