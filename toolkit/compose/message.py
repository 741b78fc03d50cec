"""One composed outbound message per input row: what the engine hands to a transport.

``compose`` builds these from a DataFrame; transports turn them into provider calls. A
message carries everything any transport may need, filled according to the transport's
:class:`ContentMode`:

* ``FIELDS``   – ``subject``/``text``/``html`` rendered for this row (SES v2 Simple content);
  with attachments compose also fills ``raw``, and the transport sends that instead.
* ``RAW``      – ``raw`` holds the complete MIME message as bytes (SMTP).
* ``TEMPLATE`` – ``template`` (shared by every row) plus ``template_data`` for this row;
  the provider renders (SES SendBulkEmail, Pinpoint SendMessages).

Usage::

    msg = Message(row_key="42", position=42, sender="shop@example.com",
                  to=("ana@example.org",), subject="Your order", text="Hi Ana")
    msg.recipients  # ('ana@example.org',)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class ContentMode(enum.Enum):
    """Which parts of a :class:`Message` a transport reads (and compose must fill)."""

    FIELDS = "fields"
    RAW = "raw"
    TEMPLATE = "template"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Template:
    """Subject/text/html with ``{{column}}`` placeholders, or a stored provider template.

    One instance is shared by every message of a run (never copied per row). ``name`` is set
    when the provider already stores the template (SES ``CreateEmailTemplate``, Pinpoint
    email template); then the parts may be empty.
    """

    subject: str = ""
    text: str | None = None
    html: str | None = None
    name: str | None = None
    placeholders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    """A message for one input row, already checked by pre-flight.

    Addresses are normalized bare addresses (``local@domain``, IDN domains in ASCII/punycode);
    ``sender`` may carry a display name (``"Shop <shop@example.com>"``).
    """

    row_key: str
    position: int
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    subject: str = ""
    text: str | None = None
    html: str | None = None
    raw: bytes | None = None
    template: Template | None = None
    template_data: Mapping[str, str] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[Attachment, ...] = ()
    configuration_set: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every envelope recipient: To, then Cc, then Bcc."""
        return self.to + self.cc + self.bcc

    @property
    def envelope_sender(self) -> str:
        """The bare address of ``sender`` (what SMTP's MAIL FROM and SES's quota see)."""
        start = self.sender.rfind("<")
        if start != -1 and self.sender.endswith(">"):
            return self.sender[start + 1 : -1]
        return self.sender
