"""``python -m toolkit guide``: the decision guide on the command line (text or JSON)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from toolkit.errors import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd


from toolkit.cli.parser import OneLineParser
from toolkit.guide.features import feature_table_records
from toolkit.guide.profile import Profile
from toolkit.guide.recommend import recommend
from toolkit.guide.timing import Throughput


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def build_parser(prog: str = "python -m toolkit guide") -> argparse.ArgumentParser:
    """The ``guide`` argument parser (flags mirror :class:`Profile`)."""
    ap = OneLineParser(
        prog=prog,
        description="Which AWS service/interface to send with, and why (dated facts with sources).",
        epilog="example: python -m toolkit guide --channels email,sms --monthly-volume 2000000 "
        "--max-send-rate 14",
    )
    ap.add_argument(
        "--channels", default="email", help="comma-separated: email,sms,push,voice (default: email)"
    )
    flags = {
        "--third-party": "a third-party application or a language without an AWS SDK (SMTP)",
        "--receive": "you must receive email",
        "--config-sets": "configuration sets / event publishing",
        "--sending-authorization": "send for identities owned by another account",
        "--dedicated-ips": "dedicated IP addresses",
        "--tenants": "tenant isolation",
        "--templates": "message templates",
        "--attachments": "attachments",
        "--endpoint-ids": "address recipients by Pinpoint endpoint or user IDs",
        "--existing-pinpoint": "the account used Pinpoint before 2025-05-20",
    }
    for flag, text in flags.items():
        ap.add_argument(flag, action="store_true", help=text)
    ap.add_argument("--monthly-volume", type=int, default=0, help="recipients per month")
    ap.add_argument("--peak-rate", type=float, default=0.0, help="recipients per second at peak")
    ap.add_argument(
        "--messages",
        type=int,
        default=None,
        help="size of one send to time (default: the monthly volume)",
    )
    ap.add_argument(
        "--max-send-rate",
        type=float,
        default=None,
        help="your account's MaxSendRate, e.g. --max-send-rate 14 (aws sesv2 get-account; "
        "without it no time is estimated)",
    )
    ap.add_argument(
        "--max-24h-send", type=float, default=None, help="account Max24HourSend (-1 = unlimited)"
    )
    ap.add_argument("--attachments-gb", type=float, default=0.0, help="GB of attachments/month")
    ap.add_argument(
        "--dedicated-ip-count", type=int, default=1, help="with --dedicated-ips: how many"
    )
    ap.add_argument("--tenant-count", type=int, default=0, help="with --tenants: how many")
    ap.add_argument("--date", type=_date, default=None, help="answer as of YYYY-MM-DD")
    ap.add_argument(
        "--benchmarks",
        default=None,
        help="benchmark results JSON (e.g. benchmarks/results/latest.json)",
    )
    ap.add_argument(
        "--results",
        default=None,
        help="a results file (.csv or .parquet) of your last run, for throughput",
    )
    ap.add_argument("--features", action="store_true", help="also print the feature table")
    ap.add_argument("--json", action="store_true", help="print JSON")
    return ap


def _read_results(path: str) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read results {path}: {exc}") from exc


def guide_cli(argv: Sequence[str] | None = None, *, out: Any = None) -> int:
    """Run the guide from the command line; returns the exit status (0 ok, 2 usage error)."""

    out = out or sys.stdout
    try:
        args = build_parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help or a usage error: argparse already printed it
        return int(exc.code or 0)
    try:
        profile = Profile(
            channels=frozenset(args.channels.split(",")),
            third_party=args.third_party,
            monthly_volume=args.monthly_volume,
            peak_rate=args.peak_rate,
            receive=args.receive,
            config_sets=args.config_sets,
            sending_authorization=args.sending_authorization,
            dedicated_ips=args.dedicated_ips,
            tenants=args.tenants,
            templates=args.templates,
            attachments=args.attachments,
            endpoint_ids=args.endpoint_ids,
            existing_pinpoint=args.existing_pinpoint,
            messages=args.messages,
            max_send_rate=args.max_send_rate,
            max_24_hour_send=args.max_24h_send,
            attachments_gb=args.attachments_gb,
            dedicated_ip_count=args.dedicated_ip_count,
            tenant_count=args.tenant_count,
        )
        measured: Throughput | None = None
        if args.benchmarks:
            measured = Throughput.from_benchmarks(args.benchmarks)
        if args.results:
            run = Throughput.from_results(_read_results(args.results), source=args.results)
            measured = (
                run
                if measured is None
                else Throughput(measured.rates + run.rates, f"{measured.source}; {run.source}")
            )
        rec = recommend(profile, today=args.date, measured=measured)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        data = rec.to_dict()
        if args.features:
            data["features"] = feature_table_records(rec.today)
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    else:
        print(rec.to_text(), file=out)
        if args.features:
            print("\nFeatures:", file=out)
            print(rec.feature_table().map(str).to_string(), file=out)
    return 0
