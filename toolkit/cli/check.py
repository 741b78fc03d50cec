"""``python -m toolkit check``: before a real send, check the account and the path.

Prints :func:`toolkit.checks.check`'s checklist (one line per check, the fix under each
failure) and exits 0 only when every check passed, 1 otherwise (2, as every command, for a
configuration error such as an unreadable file). The target flags are ``send``'s: none checks
an embedded sandbox; ``--region``/``--profile``/``--endpoint-url`` an AWS account (or a running
sandbox); ``--smtp-host`` and its companions an SMTP server, with the account too when an AWS
flag is also given.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from toolkit.transports.registry import names

EXIT_FAILED = 1


def add_parser(sub: Any) -> None:
    check = sub.add_parser("check", help="before a real send: check the account and the path")
    check.add_argument("file", type=Path, nargs="?", help="the CSV/Parquet to send (optional)")
    check.add_argument("--via", choices=names(), default="ses", help="the transport (ses)")
    check.add_argument("--from", dest="sender", help="the From address to check")
    check.add_argument("--template", help="a stored SES/Pinpoint template the send would use")
    check.add_argument("--configuration-set", help="the SES configuration set it would name")
    where = check.add_argument_group("where (as for send; none: an embedded sandbox)")
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
    check.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    from toolkit.checks import check
    from toolkit.cli.send import _read_frame, _target_from_args
    from toolkit.targets import AwsTarget

    target = _target_from_args(ns) if ns.via != "smtp" or ns.smtp_host else None
    account = None
    if ns.via == "smtp" and (ns.region or ns.profile or ns.endpoint_url):
        account = AwsTarget(region=ns.region, profile=ns.profile, endpoint_url=ns.endpoint_url)
    report = check(
        ns.via,
        target=target,
        sender=ns.sender,
        template=ns.template,
        configuration_set=ns.configuration_set,
        data=_read_frame(ns.file) if ns.file else None,
        account=account,
    )
    print(report)
    return 0 if report.ok else EXIT_FAILED
