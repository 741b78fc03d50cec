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


def add_parser(sub: Any) -> None:
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


def run(ns: argparse.Namespace) -> int:
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
