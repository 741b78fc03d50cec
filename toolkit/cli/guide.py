"""``python -m toolkit guide``: the decision guide on the command line (text or JSON)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any

from toolkit.cli.parser import OneLineParser
from toolkit.errors import ConfigurationError
from toolkit.guide.export import to_markdown
from toolkit.guide.features import feature_table_records
from toolkit.guide.profile import Profile
from toolkit.guide.recommend import recommend
from toolkit.guide.timing import Throughput
from toolkit.results_io import read_results


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
        "--multi-region": "keep sending when a Region fails (SES global endpoints)",
        "--marketing": "mail people subscribe to (newsletters, offers): one-click unsubscribe",
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
        "--max-24-hour-send",
        "--max-24h-send",
        dest="max_24h_send",
        type=float,
        default=None,
        help="your account's Max24HourSend, recipients per rolling 24 h (-1 = unlimited); "
        "with --monthly-volume the guide checks that a month's mail fits",
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
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--markdown", action="store_true", help="print Markdown, to share")
    ap.add_argument(
        "--save",
        metavar="FILE",
        default=None,
        help="also write the answer to FILE: Markdown for .md, JSON for .json, else text",
    )
    return ap


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
            multi_region=args.multi_region,
            marketing=args.marketing,
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
            run = Throughput.from_results(read_results(args.results), source=args.results)
            measured = (
                run
                if measured is None
                else Throughput(measured.rates + run.rates, f"{measured.source}; {run.source}")
            )
        rec = recommend(profile, today=args.date, measured=measured)
        if args.save:
            saved = rec.save(args.save)
            print(f"saved the answer to {saved}", file=sys.stderr)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.markdown:
        print(to_markdown(rec, features=args.features), file=out)
    elif args.json:
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
