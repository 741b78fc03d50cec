"""What to compose: how the columns of a frame map onto a message, and the problem codes.

:class:`ComposeSpec` is the whole description of the message side of a send (the engine side
is :class:`toolkit.delivery.config.EngineConfig`). The problem codes are the ``error_code`` of
rows that pre-flight refuses (status ``invalid``, or ``skipped`` for duplicates); they are
the one vocabulary of "why this row was not sent", shared by pre-flight and rendering.

Usage::

    spec = ComposeSpec(to="email", name_column="first_name", sender="Shop <shop@example.com>",
                       subject="Order {{order_id}}", text="Hi {{first_name}}")
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.compose.message import Attachment

__all__ = [
    "ATTACHMENT_NOT_FOUND",
    "DUPLICATE_RECIPIENT",
    "HEADER_INJECTION",
    "INVALID_ADDRESS",
    "INVALID_VALUE",
    "MISSING_VALUE",
    "NON_ASCII_LOCAL_PART",
    "TOO_LARGE",
    "TOO_MANY_RECIPIENTS",
    "ComposeSpec",
]

INVALID_ADDRESS = "InvalidAddress"  # not an address email-validator (and SES) accepts
NON_ASCII_LOCAL_PART = "NonAsciiLocalPart"  # SES takes no SMTPUTF8 mailboxes
MISSING_VALUE = "MissingValue"  # an empty cell where a value is needed
HEADER_INJECTION = "HeaderInjection"  # CR/LF or another control character bound for a header
INVALID_VALUE = "InvalidValue"  # a value that cannot be sent as it is (too long, not text)
TOO_MANY_RECIPIENTS = "TooManyRecipients"  # more than 50 in To + Cc + Bcc
TOO_LARGE = "TooLarge"  # over the transport's message size limit
ATTACHMENT_NOT_FOUND = "AttachmentNotFound"  # the attachment file cannot be read
DUPLICATE_RECIPIENT = "DuplicateRecipient"  # same recipients and content as an earlier row


@dataclass(frozen=True)
class ComposeSpec:
    """How the columns of a frame map onto a message.

    Attributes:
        to / cc / bcc / reply_to: columns of addresses (several per cell: comma-separated).
        sender / sender_column: the From address (``"Shop <shop@example.com>"``), or a
            column holding it per row.
        name_column: a column with the recipient's display name (To, when one address).
        subject / text / html: ``{{column}}`` templates rendered per row (HTML values are
            escaped); a subject alone sends an empty text body.
        template_name / template_columns: a template stored at the provider, and the columns
            its data comes from (default: every column).
        attachments: attached to every message; attachment_column: a column of file paths.
        configuration_set, tags, headers: passed with every message.
        key_column: a column with a stable row key for the ledger (default: the index).
        allow_duplicates: send rows with the same recipients and content more than once.
    """

    to: str = "email"
    cc: str | None = None
    bcc: str | None = None
    reply_to: str | None = None
    sender: str | None = None
    sender_column: str | None = None
    name_column: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    template_name: str | None = None
    template_columns: tuple[str, ...] | None = None
    attachments: tuple[Attachment, ...] = ()
    attachment_column: str | None = None
    configuration_set: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    key_column: str | None = None
    allow_duplicates: bool = False
