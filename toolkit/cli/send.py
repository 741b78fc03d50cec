"""``python -m toolkit send``: send a CSV or Parquet file and write one result row per input row."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from toolkit.transports.registry import TRANSPORTS, names


def _via_help() -> str:
    """The transports, one line each, from the registry."""
    return "; ".join(f"{k.name}: {k.call}" for k in TRANSPORTS.values())


_EXAMPLE = """examples:
  python -m toolkit send data/recipients.csv --via ses --from "Shop <sender@example.com>" \\
      --subject "Your order {{order_id}}" --text @data/templates/order_confirmation.txt \\
      --keep order_id --out results.csv
  python -m toolkit send customers.parquet --via ses-bulk --from sender@example.com \\
      --to-column mail --subject "Hello {{name}}" --text "Hi {{name}}, thanks!" --dry-run \\
      --out preview.csv

--subject, --text and --html take the text itself, with {{column}} placeholders; start the
value with @ to read it from a file instead (--html @mail.html). Without --region, --profile
or --smtp-host the send goes to an embedded local sandbox (nothing leaves this machine).
"""


def add_parser(sub: Any) -> None:
    send = sub.add_parser(
        "send",
        help="send one email per row of a CSV or Parquet file",
        description="Send one email per row of a CSV or Parquet file and write one result "
        "row per input row.",
        epilog=_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    send.add_argument(
        "file", type=Path, help="recipients, one row per email (.csv, or .parquet/.pq)"
    )
    send.add_argument(
        "--via", choices=names(), required=True, metavar="TRANSPORT",
        help=f"how to send, e.g. --via ses. {_via_help()}",
    )  # fmt: skip
    send.add_argument(
        "--from", dest="sender", required=True, metavar="ADDRESS",
        help='the From address (a verified identity), e.g. --from "Shop <sender@example.com>"',
    )  # fmt: skip
    content = send.add_argument_group(
        "content ({{column}} placeholders are filled from each row; @FILE reads a file)"
    )
    content.add_argument(
        "--subject", metavar="TEXT", help='subject line, e.g. --subject "Order {{order_id}}"'
    )
    content.add_argument(
        "--text", metavar="TEXT|@FILE",
        help='plain-text body: the text itself (--text "Hi {{first_name}}") or @ and a file '
        "(--text @body.txt)",
    )  # fmt: skip
    content.add_argument(
        "--html", metavar="HTML|@FILE",
        help='HTML body: the HTML itself (--html "<p>Hi {{first_name}}</p>") or @ and a file '
        "(--html @body.html)",
    )  # fmt: skip
    content.add_argument(
        "--template", metavar="NAME",
        help="instead of --subject/--text/--html: a template stored in SES (or Pinpoint), "
        "e.g. --template order-confirmation",
    )  # fmt: skip
    columns = send.add_argument_group("columns")
    columns.add_argument(
        "--to-column", default="email", metavar="COLUMN",
        help="the column with each row's address (default: email), e.g. --to-column mail",
    )  # fmt: skip
    columns.add_argument(
        "--key-column", default=None, metavar="COLUMN",
        help="a column with a stable id per row, used by the ledger to recognise rows "
        "(default: the row number), e.g. --key-column order_id",
    )  # fmt: skip
    columns.add_argument(
        "--keep", default=None, metavar="COLUMNS",
        help="input columns to copy into the results, comma-separated, e.g. --keep "
        "order_id,first_name",
    )  # fmt: skip
    where = send.add_argument_group("where to send (default: an embedded local sandbox)")
    where.add_argument(
        "--sandbox", action="store_true",
        help="send to an embedded local sandbox (the default when no AWS or SMTP option is "
        "given)",
    )  # fmt: skip
    where.add_argument("--region", help="AWS Region of your SES account, e.g. --region eu-west-1")
    where.add_argument(
        "--profile",
        help="AWS profile from ~/.aws/config to take credentials from, e.g. --profile prod",
    )
    where.add_argument(
        "--endpoint-url", metavar="URL",
        help="a different SES/Pinpoint endpoint, e.g. a sandbox served by 'python -m toolkit "
        "sandbox': --endpoint-url http://127.0.0.1:8025",
    )  # fmt: skip
    where.add_argument(
        "--pinpoint-app-id", metavar="ID",
        help="Pinpoint application (project) id, for --via pinpoint on AWS",
    )  # fmt: skip
    where.add_argument(
        "--smtp-host", metavar="HOST",
        help="SMTP server for --via smtp, e.g. --smtp-host email-smtp.eu-west-1.amazonaws.com",
    )  # fmt: skip
    where.add_argument(
        "--smtp-port", type=int, default=587, metavar="PORT", help="SMTP port (default: 587)"
    )
    where.add_argument("--smtp-user", metavar="USER", help="SMTP user name (SES: SMTP credentials)")
    where.add_argument(
        "--smtp-password-env", metavar="VAR",
        help="the environment variable holding the SMTP password, e.g. --smtp-password-env "
        "SMTP_PASSWORD (never the password itself)",
    )  # fmt: skip
    where.add_argument(
        "--smtp-tls", choices=("starttls", "implicit", "none"), default="starttls",
        help="STARTTLS on a plain port (default), implicit TLS (port 465), or none",
    )  # fmt: skip
    where.add_argument(
        "--smtp-no-verify", action="store_true",
        help="do not check the server's certificate (test servers only)",
    )  # fmt: skip
    engine = send.add_argument_group("sending")
    engine.add_argument(
        "--rate", type=float, metavar="PER_SECOND",
        help="recipients per second, e.g. --rate 14 (default: the account's quota when the "
        "API reports it)",
    )  # fmt: skip
    engine.add_argument(
        "--workers", type=int, default=8, metavar="N",
        help="requests in flight at once (default: 8)",
    )  # fmt: skip
    engine.add_argument(
        "--ledger", type=Path, metavar="PATH",
        help="SQLite journal of every row; makes the run resumable, e.g. --ledger run.sqlite",
    )  # fmt: skip
    engine.add_argument(
        "--resume", action="store_true",
        help="continue the run in an existing --ledger (rows already final are not resent)",
    )  # fmt: skip
    engine.add_argument(
        "--retry-unknown", action="store_true",
        help="also resend rows whose fate is unknown (they may arrive twice)",
    )  # fmt: skip
    engine.add_argument(
        "--dry-run", action="store_true", help="check and render every row; send nothing"
    )
    engine.add_argument(
        "--limit", type=int, metavar="N", help="send at most N rows, e.g. --limit 10"
    )
    engine.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    send.add_argument(
        "--out", type=Path, required=True, metavar="PATH",
        help="where to write the results, one row per input row: .csv (with "
        "NAME.summary.json beside it) or .parquet, e.g. --out results.csv",
    )  # fmt: skip
    send.set_defaults(handler=run)


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


def _read_text(value: str | None, flag: str = "--text") -> str | None:
    """The text of --subject/--text/--html: the value itself, or a file's content for @PATH.

    A value that is the name of an existing file (without the @) is refused rather than sent
    as the body: that is almost always a forgotten @.
    """
    from toolkit.errors import ConfigurationError

    if value is None:
        return None
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read {flag} file {path}: {exc.strerror}") from exc
    if "\n" not in value and len(value) < 4096 and Path(value).is_file():
        raise ConfigurationError(
            f"{flag} {value} names a file: write {flag} @{value} to send its content"
        )
    return value


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


def run(ns: argparse.Namespace) -> int:
    from toolkit.api import send
    from toolkit.errors import ConfigurationError
    from toolkit.results import write_results

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
        subject=_read_text(ns.subject, "--subject"),
        text=_read_text(ns.text, "--text"),
        html=_read_text(ns.html, "--html"),
        keep=[c.strip() for c in ns.keep.split(",") if c.strip()] if ns.keep else None,
        template=ns.template,
        rate=ns.rate,
        workers=ns.workers,
        ledger=ns.ledger,
        retry_unknown=ns.retry_unknown,
        dry_run=ns.dry_run,
        limit=ns.limit,
        progress=not ns.no_progress,
    )
    write_results(results, ns.out)
    counts = results["status"].value_counts()
    print(" ".join(f"{status}={n}" for status, n in counts.items()), f"-> {ns.out}")
    return 0
