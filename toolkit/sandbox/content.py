"""What the SES and Pinpoint handlers both do to a message: decode it, check it, render it,
fault it.

One place for the parts both APIs share, so that a raw message, an address, a template
placeholder or an injected fault is handled the same way whichever interface it came through;
only the wording of the answers (which each service phrases its own way) is passed in.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from toolkit.facts import SES_RENDERING_FAILURE
from toolkit.sandbox.faults import FaultAction, Faults
from toolkit.sandbox.http_api import ApiError, DropConnection
from toolkit.sandbox.rendering import render
from toolkit.sandbox.ses_checks import address_problem, long_line, raw_problem

# The bounce a receiving server gives a line over 1,000 octets (SES accepts the message).
LONG_LINE_BOUNCE = (
    "Permanent/General: smtp; 552 5.3.4 Message line is too long "
    "(a line is over 1,000 octets with its CRLF)"
)

_HEADER_PARSER = BytesHeaderParser(policy=compat32)


def decode_base64(data: str | bytes, member: str) -> bytes:
    """A raw message's bytes; a 400 naming ``member`` when it is not base64."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "BadRequestException", f"{member} is not valid base64.") from None


def raw_headers(raw: bytes) -> Message:
    """The header block of a MIME message (the body, possibly megabytes, is not parsed)."""
    return _HEADER_PARSER.parsebytes(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")


def render_parts(
    parts: Mapping[str, str | None], data: Mapping[str, Any]
) -> tuple[dict[str, str], list[str]]:
    """Render each present part (Subject/Text/Html); returns them and the missing names."""
    rendered: dict[str, str] = {}
    missing: list[str] = []
    for key, text in parts.items():
        value, absent = render(text, data)
        if value is not None:
            rendered[key] = value
        missing.extend(absent)
    return rendered, missing


def rendering_failures(
    recipients: Iterable[str], missing: list[str], prefix: str | None = None
) -> list[tuple[str, str, str]] | None:
    """Mailbox events for a message that failed to render (None, the default events, if not).

    At SES such a message is accepted (a MessageId) and then never delivered: a Rendering
    Failure event whose ``failure.errorMessage`` names the first attribute missing, in SES's
    words (:data:`toolkit.facts.SES_RENDERING_FAILURE`). ``prefix`` gives another service's
    wording instead, followed by every missing name.
    """
    if not missing:
        return None
    if prefix is None:
        detail = SES_RENDERING_FAILURE.value.format(name=missing[0])
    else:
        detail = prefix + ", ".join(sorted(set(missing)))
    return [(recipient, "rendering-failure", detail) for recipient in recipients]


def raise_fault(faults: Faults, *, throttle_message: str, error_message: str) -> None:
    """Draw this request's fault and raise it as the service's answer (or drop the line)."""
    action = faults.draw()
    if action is FaultAction.NONE:
        return
    if action is FaultAction.THROTTLE:
        raise ApiError(429, "TooManyRequestsException", throttle_message)
    if action is FaultAction.ERROR:
        raise ApiError(500, "InternalServerErrorException", error_message)
    raise DropConnection


def check_addresses(addresses: Iterable[str]) -> None:
    """Refuse the request, as SES does, when any address is malformed (400 with its message)."""
    for address in addresses:
        problem = address_problem(address)
        if problem is not None:
            raise ApiError(400, "BadRequestException", problem)


def check_raw(raw: bytes, *, has_sender: bool, has_recipients: bool) -> None:
    """Refuse a raw MIME message SES would refuse at send time (400 with SES's message)."""
    problem = raw_problem(raw, has_sender=has_sender, has_recipients=has_recipients)
    if problem is not None:
        raise ApiError(400, "BadRequestException", problem)


def long_line_bounces(raw: bytes, recipients: Sequence[str]) -> list[tuple[str, str, str]] | None:
    """Mailbox events for a message with an over-long line: a bounce per recipient (None, the
    default events, when every line fits)."""
    if not long_line(raw):
        return None
    return [(recipient, "bounce", LONG_LINE_BOUNCE) for recipient in recipients]
