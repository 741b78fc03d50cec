"""``send --dry-run --preview N`` prints N whole messages and the plan (cli/plan.py)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from toolkit.cli import send as send_command
from toolkit.cli.plan import print_plan
from toolkit.notebook import read_table
from toolkit.options import SendKeywords, SendOptions

DATA = Path(__file__).resolve().parents[2] / "data"


def test_the_preview_flag_parses() -> None:
    parser = argparse.ArgumentParser()
    send_command.add_parser(parser.add_subparsers())
    base = ["send", "f.csv", "--via", "ses", "--from", "s@example.com", "--out", "r.csv"]
    ns = parser.parse_args([*base,
                            "--dry-run", "--preview", "3"])  # fmt: skip
    assert ns.preview == 3 and ns.dry_run
    assert parser.parse_args(base).preview == 0


def test_print_plan_prints_whole_messages_then_the_plan() -> None:
    out = io.StringIO()
    frame = read_table(DATA / "shopify_customers_export.csv")
    keywords = SendKeywords(sender="Shop <sender@example.com>", to="Email", rate=14,
                            subject="Hi {{First Name}}",
                            text="Hello {{First Name}},\n" + "-" * 120)  # fmt: skip
    print_plan(frame, SendOptions.from_keywords("ses", keywords), rows=3, file=out)
    text = out.getvalue()
    assert text.count("=== message ") == 3 and "-" * 120 in text
    assert "34 of 36 rows will be sent via ses: about 2 s at 14 recipients/s" in text
    assert "column 'Email' (To) is empty" in text and "repeated address" in text
