"""What the ``send`` and ``check`` commands share: where to send, and reading the input file.

The "where to send" flags choose the target exactly as :func:`toolkit.send` does: none means an
embedded local sandbox; ``--region``/``--profile``/``--endpoint-url`` an AWS account (or a
sandbox served by ``python -m toolkit sandbox``); ``--smtp-host`` and its companions an SMTP
server. A setting refused by the target is reported with the flag that set it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["add_where_arguments", "named_flags", "read_frame", "target_from_args"]


def add_where_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the "where to send" group (the target flags) to a command's parser."""
    where = parser.add_argument_group("where to send (default: an embedded local sandbox)")
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


def read_frame(path: Path) -> Any:
    """The input file as a DataFrame: Parquet, or CSV read as text (``"00123"`` stays text)."""
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


# Which flag sets a setting, for messages that name the setting (``region 'x' is not ...``).
_FLAGS = {
    "endpoint_url": "--endpoint-url", "region": "--region", "profile": "--profile",
    "pinpoint_app_id": "--pinpoint-app-id", "host": "--smtp-host", "port": "--smtp-port",
    "rate": "--rate", "workers": "--workers", "limit": "--limit",
}  # fmt: skip


@contextlib.contextmanager
def named_flags() -> Iterator[None]:
    """Re-raise a ConfigurationError about a setting with the flag that sets it in front."""
    from toolkit.errors import ConfigurationError

    try:
        yield
    except ConfigurationError as exc:
        flag = _FLAGS.get(str(exc).split(" ", 1)[0])
        if flag is None:
            raise
        raise ConfigurationError(f"{flag}: {exc}") from exc


def target_from_args(ns: argparse.Namespace) -> Any:
    """None (embedded sandbox), an AwsTarget or an SmtpTarget, from the flags."""
    with named_flags():
        return _target(ns)


def _target(ns: argparse.Namespace) -> Any:
    from toolkit.errors import ConfigurationError
    from toolkit.targets import AwsTarget, SmtpTarget
    from toolkit.transports.registry import over_smtp

    if over_smtp(ns.via) and ns.smtp_host:
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
    if not over_smtp(ns.via) and (ns.region or ns.profile or ns.endpoint_url):
        return AwsTarget(
            region=ns.region,
            profile=ns.profile,
            endpoint_url=ns.endpoint_url,
            pinpoint_app_id=ns.pinpoint_app_id,
        )
    if over_smtp(ns.via) and (ns.region or ns.profile or ns.endpoint_url):
        raise ConfigurationError(
            "--via smtp needs --smtp-host (and --smtp-user/--smtp-password-env)"
        )
    return None
