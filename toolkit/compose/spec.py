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

import numbers
import os
from dataclasses import dataclass, fields

from toolkit.compose.columns import clean_text
from toolkit.compose.message import Attachment
from toolkit.compose.suppression import SUPPRESSED, SuppressionList
from toolkit.compose.tags import valid_tag_value
from toolkit.errors import ConfigurationError

__all__ = [
    "ATTACHMENT_NOT_ALLOWED",
    "ATTACHMENT_NOT_FOUND",
    "DUPLICATE_RECIPIENT",
    "HEADER_INJECTION",
    "INVALID_ADDRESS",
    "INVALID_VALUE",
    "MISSING_VALUE",
    "NON_ASCII_LOCAL_PART",
    "SUPPRESSED",
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
ATTACHMENT_NOT_ALLOWED = "AttachmentNotAllowed"  # the path leads outside attachment_dir
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
        attachments: attached to every message; attachment_column: a column of file paths,
            read only under ``attachment_dir`` (default: the working directory when the plan
            is made): a path leading anywhere else (``..``, an absolute path, a symbolic link)
            makes its row ``invalid`` — the frame may come from someone else.
        configuration_set, tags, headers: passed with every message.
        key_column: a column with a stable row key for the ledger (default: the index).
        allow_duplicates: send rows with the same recipients and content more than once.
        suppression: addresses not to send to (the account's list, a file, earlier runs'
            bounces; :class:`~toolkit.compose.suppression.SuppressionList`): a row whose To
            holds one ends ``skipped`` with code ``Suppressed`` and the list's name.
        run_tag: tag every message with this run (``toolkit-run``) and its row key
            (``toolkit-row``), so its provider events can resolve an ``unknown`` row
            (:mod:`toolkit.compose.tags`); letters, digits, ``_`` and ``-`` only.
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
    attachment_dir: str | os.PathLike[str] | None = None
    suppression: SuppressionList | None = None
    run_tag: str | None = None

    def __post_init__(self) -> None:
        """Check every field's type up front (ConfigurationError), and make column names text.

        A column may be named by any scalar label (``to=0`` for a frame read without a
        header); it is kept as text (lone surrogates replaced), as
        :func:`toolkit.compose.frame.conform` names the frame's columns.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name in _COLUMN_FIELDS:
                object.__setattr__(self, f.name, _column_name(f.name, value))
            elif f.name in _TEXT_FIELDS:
                if not isinstance(value, str):
                    raise ConfigurationError(
                        f"{f.name} must be text (str), not {type(value).__name__}"
                    )
                if clean_text(value) != value:
                    raise ConfigurationError(
                        f"{f.name} is not valid Unicode (it holds a lone surrogate, often the "
                        "trace of a file decoded with errors='surrogateescape')"
                    )
        if self.template_columns is not None:
            if isinstance(self.template_columns, str) or not _iterable(self.template_columns):
                raise ConfigurationError("template_columns must be a list of column names")
            columns = tuple(_column_name("template_columns", c) for c in self.template_columns)
            object.__setattr__(self, "template_columns", columns)
        for name in ("tags", "headers"):
            pairs = getattr(self, name)
            if not isinstance(pairs, tuple | list) or not all(
                isinstance(p, tuple | list) and len(p) == 2 and all(isinstance(x, str) for x in p)
                for p in pairs
            ):
                raise ConfigurationError(f"{name} must be (name, value) pairs of text")
            object.__setattr__(self, name, tuple((str(k), str(v)) for k, v in pairs))
        if not isinstance(self.attachments, tuple | list) or not all(
            isinstance(a, Attachment) for a in self.attachments
        ):
            raise ConfigurationError("attachments must be a tuple of Attachment objects")
        object.__setattr__(self, "attachments", tuple(self.attachments))
        if not isinstance(self.allow_duplicates, bool):
            raise ConfigurationError("allow_duplicates must be True or False")
        if self.suppression is not None and not isinstance(self.suppression, SuppressionList):
            raise ConfigurationError("suppression must be a SuppressionList (or None)")
        if self.run_tag is not None and not (
            isinstance(self.run_tag, str) and valid_tag_value(self.run_tag)
        ):
            raise ConfigurationError(
                f"run_tag must be 1-256 letters, digits, _ or - (an SES tag), not {self.run_tag!r}"
            )
        directory = self.attachment_dir
        if directory is not None and not isinstance(directory, str | os.PathLike):
            raise ConfigurationError("attachment_dir must be a directory path")


_COLUMN_FIELDS = frozenset(
    ["to", "cc", "bcc", "reply_to", "sender_column", "name_column", "attachment_column",
     "key_column"]
)  # fmt: skip
_TEXT_FIELDS = frozenset(
    ["sender", "subject", "text", "html", "template_name", "configuration_set"]
)


def _iterable(value: object) -> bool:
    try:
        iter(value)  # type: ignore[call-overload]
    except TypeError:
        return False
    return True


def _column_name(setting: str, value: object) -> str:
    """A column reference as text: a string as is, a number or other scalar label as str()."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return str(value)
    raise ConfigurationError(
        f"{setting} must name one column (a string), not {type(value).__name__} {value!r:.60}"
    )
