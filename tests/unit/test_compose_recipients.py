"""Recipient checks from issue 16's L-items: a 65-character local part, and the same
recipients in another order within a cell."""

from __future__ import annotations

import pandas as pd

from toolkit.compose import ComposeSpec, plan
from toolkit.compose.addresses import AddressProblem, AddressValidator
from toolkit.compose.message import ContentMode
from toolkit.results import Status

SPEC = ComposeSpec(sender="shop@example.com", subject="Hi", text="x")


def _outcomes(emails: list[str]) -> dict[int, tuple[Status, str]]:
    p = plan(pd.DataFrame({"email": emails}), SPEC, mode=ContentMode.RAW,
             max_message_bytes=10**7, transport="t")  # fmt: skip
    return {row: (o.status, o.error_code or "") for row, o in p.preflight.items()}


def test_a_65_character_local_part_is_an_invalid_row() -> None:
    long = "a" * 65 + "@example.com"
    problem = AddressValidator().normalize(long)
    assert isinstance(problem, AddressProblem) and "65 characters" in problem.message
    assert AddressValidator().normalize("a" * 64 + "@example.com") == "a" * 64 + "@example.com"
    outcomes = _outcomes([long, "a" * 64 + "@example.com", f"ok@example.org,{long}"])
    assert outcomes == {
        0: (Status.INVALID, "InvalidAddress"),
        2: (Status.INVALID, "InvalidAddress"),
    }


def test_the_same_recipients_in_another_order_are_a_duplicate() -> None:
    outcomes = _outcomes([
        "b@example.org,a@example.org",
        "a@EXAMPLE.org; b@example.org",  # same set: order, separator and domain case differ
        "A@example.org,b@example.org",  # SES would send it (local parts are case-sensitive),
        "a@example.org",  # but it is the same inbox in practice: skipped, and said so
    ])  # fmt: skip
    assert outcomes == {1: (Status.SKIPPED, "DuplicateRecipient"),
                        2: (Status.SKIPPED, "DuplicateRecipient")}  # fmt: skip
