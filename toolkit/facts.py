"""Dated facts the toolkit depends on, each with its source (see shared/FACTS.md).

Keep every date, limit and price the code relies on here, in one place, so that a change at
AWS is a one-line change with a new source and date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """A value with where it comes from and when it was checked."""

    value: T
    source: str
    checked: dt.date
    note: str = ""


PINPOINT_END_OF_SUPPORT: Fact[dt.date] = Fact(
    dt.date(2026, 10, 30),
    "https://docs.aws.amazon.com/pinpoint/latest/userguide/migrate.html",
    dt.date(2026, 11, 26),
    "After this date Amazon Pinpoint can no longer be used; AWS points email users to SES.",
)
PINPOINT_NO_NEW_CUSTOMERS: Fact[dt.date] = Fact(
    dt.date(2025, 5, 20),
    "https://docs.aws.amazon.com/pinpoint/latest/userguide/migrate.html",
    dt.date(2026, 11, 26),
)
SES_MAX_RECIPIENTS_PER_MESSAGE: Fact[int] = Fact(
    50, "https://docs.aws.amazon.com/ses/latest/dg/quotas.html", dt.date(2026, 11, 26)
)
SES_MAX_MESSAGE_BYTES: Fact[int] = Fact(
    40 * 1024 * 1024,
    "https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
    dt.date(2026, 11, 26),
    "40 MB with the SES v2 API or SMTP, after base64 encoding (10 MB with the v1 API).",
)
SES_BULK_MAX_ENTRIES: Fact[int] = Fact(
    50,
    "https://docs.aws.amazon.com/goto/WebAPI/sesv2-2019-09-27/SendBulkEmail",
    dt.date(2026, 11, 26),
)
PINPOINT_MAX_ADDRESSES_PER_CALL: Fact[int] = Fact(
    100,
    "https://docs.aws.amazon.com/pinpoint/latest/apireference/apps-application-id-messages.html",
    dt.date(2026, 11, 26),
)
PINPOINT_MAX_PAYLOAD_BYTES: Fact[int] = Fact(
    7 * 1024 * 1024,
    "https://docs.aws.amazon.com/pinpoint/latest/developerguide/quotas.html",
    dt.date(2026, 11, 26),
    "Maximum invocation payload (request plus response).",
)
