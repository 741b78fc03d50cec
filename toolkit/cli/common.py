"""What the ``send`` and ``check`` commands share: where to send, and reading the input file.

The "where to send" flags choose the target exactly as :func:`toolkit.send` does: none means an
embedded local sandbox; ``--region``/``--profile``/``--endpoint-url`` an AWS account (or a
sandbox served by ``python -m toolkit sandbox``); ``--smtp-host`` and its companions an SMTP
server. A setting refused by the target is reported with the flag that set it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from toolkit.transports.registry import over_smtp, through_pinpoint

__all__ = ["add_where_arguments", "named_flags", "read_frame", "target_from_args"]


def add_where_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the "where to send" group (the target flags) to a command's parser."""
    where = parser.add_argument_group("where to send (default: an embedded local sandbox)")
    where.add_argument(
        "--sandbox", nargs="?", const=True, default=None, metavar="STATE_DIR",
        help="alone: an embedded local sandbox (the default when no AWS or SMTP option is "
        "given); with the --state directory of a running 'python -m toolkit sandbox "
        "--state DIR': that sandbox (its address and keys are read from DIR)",
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
        "--smtp-port", type=int, default=None, metavar="PORT", help="SMTP port (default: 587)"
    )
    where.add_argument("--smtp-user", metavar="USER", help="SMTP user name (SES: SMTP credentials)")
    where.add_argument(
        "--smtp-password-env", metavar="VAR",
        help="the environment variable holding the SMTP password, e.g. --smtp-password-env "
        "SMTP_PASSWORD (never the password itself)",
    )  # fmt: skip
    where.add_argument(
        "--smtp-tls", choices=("starttls", "implicit", "none"), default=None,
        help="STARTTLS on a plain port (default), implicit TLS (port 465), or none",
    )  # fmt: skip
    where.add_argument(
        "--smtp-no-verify", action="store_true",
        help="do not check the server's certificate (test servers only)",
    )  # fmt: skip


def read_frame(path: Path) -> Any:
    """The input file as a DataFrame: CSV/TSV (cells as text, ``"00123"`` stays text), Excel,
    Parquet or JSON lines (:func:`toolkit.compose.inputs.read_table`)."""
    from toolkit.compose.inputs import read_table

    return read_table(path)


# Which flag sets a setting, for messages that name the setting (``region 'x' is not ...``).
_FLAGS = {
    "endpoint_url": "--endpoint-url", "region": "--region", "profile": "--profile",
    "pinpoint_app_id": "--pinpoint-app-id", "host": "--smtp-host", "port": "--smtp-port",
    "rate": "--rate", "workers": "--workers", "limit": "--limit", "timeout": "--timeout",
    "read_timeout": "--timeout",
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


def target_from_args(ns: argparse.Namespace, *, account_too: bool = False) -> Any:
    """None (embedded sandbox), an AwsTarget or an SmtpTarget, from the flags.

    ``account_too``: AWS flags beside --via smtp name the account to check as well (``check``);
    elsewhere a flag of another transport is refused in one line.
    """
    with named_flags():
        return _target(ns, account_too)


def _timeout(ns: argparse.Namespace, name: str) -> dict[str, Any]:
    """``{name: --timeout}`` when the command has the flag and it was given."""
    value = getattr(ns, "timeout", None)
    return {} if value is None else {name: value}


_AWS_FLAGS = ("region", "profile", "endpoint_url")
_SMTP_FLAGS = ("smtp_host", "smtp_port", "smtp_user", "smtp_password_env", "smtp_tls",
               "smtp_no_verify")  # fmt: skip


def _given(ns: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The flags among ``names`` that the command line set."""
    return ["--" + n.replace("_", "-") for n in names if getattr(ns, n, None) not in (None, False)]


def _check_flags_fit(ns: argparse.Namespace, account_too: bool) -> None:
    """A flag of another transport is a mistake to say, not to ignore (one line)."""
    from toolkit.errors import ConfigurationError

    smtp, aws = _given(ns, _SMTP_FLAGS), _given(ns, _AWS_FLAGS)
    if not over_smtp(ns.via) and smtp:
        raise ConfigurationError(
            f"{smtp[0]} is for --via smtp; --via {ns.via} sends through the AWS API "
            "(--region/--profile/--endpoint-url say where)"
        )
    if over_smtp(ns.via) and aws and not account_too:
        raise ConfigurationError(
            f"{aws[0]} is for the AWS API; --via smtp needs --smtp-host (and "
            "--smtp-user/--smtp-password-env)"
        )
    if ns.pinpoint_app_id and not through_pinpoint(ns.via):
        raise ConfigurationError(f"--pinpoint-app-id is for --via pinpoint, not --via {ns.via}")
    if ns.sandbox is not None and (smtp or aws):
        raise ConfigurationError(f"--sandbox sends to a local sandbox: drop {(smtp + aws)[0]}")


def _target(ns: argparse.Namespace, account_too: bool) -> Any:
    from toolkit.errors import ConfigurationError
    from toolkit.targets import AwsTarget, SmtpTarget

    _check_flags_fit(ns, account_too)
    if isinstance(ns.sandbox, str):
        return served_sandbox(Path(ns.sandbox), ns.via)
    if over_smtp(ns.via) and ns.smtp_host:
        password = None
        if ns.smtp_password_env:
            password = os.environ.get(ns.smtp_password_env)
            if password is None:
                raise ConfigurationError(f"environment variable {ns.smtp_password_env} is not set")
        return SmtpTarget(
            host=ns.smtp_host,
            port=ns.smtp_port or 587,
            username=ns.smtp_user,
            password=password,
            tls=ns.smtp_tls or "starttls",
            verify=not ns.smtp_no_verify,
            **_timeout(ns, "timeout"),
        )
    if not over_smtp(ns.via) and (ns.region or ns.profile or ns.endpoint_url):
        return AwsTarget(
            region=ns.region,
            profile=ns.profile,
            endpoint_url=ns.endpoint_url,
            pinpoint_app_id=ns.pinpoint_app_id,
            **_timeout(ns, "read_timeout"),
        )
    return None


SERVED_INFO = "sandbox.json"
"""The file a sandbox served with ``--state DIR`` writes there: its address and keys."""


def served_sandbox(state: Path, via: str) -> Any:
    """The target of a sandbox served by ``python -m toolkit sandbox --state STATE``."""
    import json

    from toolkit.errors import ConfigurationError
    from toolkit.targets import AwsTarget, SmtpTarget

    try:
        info = json.loads((state / SERVED_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"--sandbox {state}: no sandbox is serving from there; start one with "
            f"'python -m toolkit sandbox --state {state}'"
        ) from exc
    endpoint: AwsTarget | SmtpTarget
    if over_smtp(via):
        endpoint = SmtpTarget(
            host=info["smtp_host"], port=info["smtp_port"], username=info["smtp_username"],
            password=info["smtp_password"], tls="starttls",
            ca_pem=Path(info["smtp_cafile"]).read_text(encoding="ascii"),
        )  # fmt: skip
    else:
        endpoint = AwsTarget(
            region=info["region"], endpoint_url=info["endpoint_url"],
            access_key_id=info["access_key_id"], secret_access_key=info["secret_access_key"],
            pinpoint_app_id=info.get("pinpoint_app_id"),
        )  # fmt: skip
    return ServedSandbox(endpoint, state)


@dataclasses.dataclass(frozen=True)
class ServedSandbox:
    """A sandbox another process serves: where to send, and its mailbox (read-only), so a
    send can follow its delivery events (the reputation guard) as with an embedded one."""

    endpoint: Any
    state: Path

    @property
    def description(self) -> str:
        return f"local sandbox served from {self.state} (nothing leaves this machine)"

    @functools.cached_property
    def mailbox(self) -> Any:
        from toolkit.sandbox.mailbox import Mailbox

        return Mailbox.open(self.state)

    def resolve(self, kind: Any) -> Any:
        return self.endpoint

    def quota(self, kind: Any) -> Any:
        return self.endpoint.quota(kind)
