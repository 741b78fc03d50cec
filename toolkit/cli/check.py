"""``python -m toolkit check``: before a real send, check the account and the path.

Prints :func:`toolkit.checks.check`'s checklist (one line per check, the fix under each
failure) and exits 0 only when every check passed, 3 otherwise (2, as every command, for a
configuration error such as an unreadable file). The target flags are ``send``'s: none checks
an embedded sandbox; ``--region``/``--profile``/``--endpoint-url`` an AWS account (or a running
sandbox); ``--smtp-host`` and its companions an SMTP server, with the account too when an AWS
flag is also given.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from toolkit.cli.common import add_where_arguments, read_frame, target_from_args
from toolkit.transports.registry import names, over_smtp

EXIT_FAILED = 3
"""A check failed (1 stays "a bug", as for every command)."""


def add_parser(sub: Any) -> None:
    check = sub.add_parser(
        "check",
        help="before a real send: check the account and the path",
        description="Check the account and the path before a real send; exit 0 only when "
        "every check passes. Example: python -m toolkit check data/recipients.csv --via ses "
        '--from "Shop <sender@example.com>" --region eu-west-1',
    )
    check.add_argument(
        "file", type=Path, nargs="?",
        help="the CSV/Parquet you will send (optional: checks the quota left and the "
        "template's columns against it), e.g. data/recipients.csv",
    )  # fmt: skip
    check.add_argument(
        "--via", choices=names(), default="ses", metavar="TRANSPORT",
        help="the transport you will send with (default: ses), e.g. --via smtp",
    )  # fmt: skip
    check.add_argument(
        "--from", dest="sender", metavar="ADDRESS",
        help='the From address to check, e.g. --from "Shop <sender@example.com>"',
    )  # fmt: skip
    check.add_argument(
        "--template", metavar="NAME",
        help="a stored SES/Pinpoint template the send would use, e.g. --template order",
    )  # fmt: skip
    check.add_argument(
        "--configuration-set", metavar="NAME",
        help="the SES configuration set the send would name, e.g. --configuration-set main",
    )  # fmt: skip
    add_where_arguments(check)
    check.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    from toolkit.checks import check
    from toolkit.targets import AwsTarget

    target = (
        target_from_args(ns, account_too=True) if not over_smtp(ns.via) or ns.smtp_host else None
    )
    account = None
    if over_smtp(ns.via) and (ns.region or ns.profile or ns.endpoint_url):
        account = AwsTarget(region=ns.region, profile=ns.profile, endpoint_url=ns.endpoint_url)
    report = check(
        ns.via,
        target=target,
        sender=ns.sender,
        template=ns.template,
        configuration_set=ns.configuration_set,
        data=read_frame(ns.file) if ns.file else None,
        account=account,
    )
    print(report)
    return 0 if report.ok else EXIT_FAILED
