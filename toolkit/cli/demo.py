"""``python -m toolkit demo``: the README's main job (see :mod:`toolkit.demo`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from toolkit.transports.registry import names


def add_parser(sub: Any) -> None:
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
    demo.set_defaults(handler=run)


def run(ns: argparse.Namespace) -> int:
    from toolkit.demo import run_demo

    return run_demo(data=ns.data, rows=ns.rows, vias=ns.via or list(names()), rate=ns.rate)
