"""Amazon SES API v2 ``SendEmail``: one message per call.

Content: ``Simple`` (SES assembles the MIME message from subject, text, html and headers), or
``Raw`` when compose filled ``Message.raw`` with the complete MIME message (it does for
attachments). Per-message errors become :class:`Reply` objects; account-wide faults raise
:class:`~toolkit.errors.ProviderConfigurationError` (see :mod:`toolkit.transports.classify`).

Usage::

    transport = SesTransport(AwsTarget(region="eu-west-1").make_client("sesv2", workers=8))
    replies = transport.send([message])
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from toolkit.compose.message import ContentMode, Message
from toolkit.facts import SES_MAX_MESSAGE_BYTES
from toolkit.results import Reply
from toolkit.transports.aws import (
    AWS_CALL_ERRORS,
    AwsApiTransport,
    build_destination,
    encode_mailbox,
    name_values,
)

__all__ = ["SesTransport", "build_send_email_params"]

_UTF8 = "UTF-8"


def build_send_email_params(msg: Message, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keyword arguments of ``sesv2.send_email`` for one message (no I/O).

    ``Raw`` when compose built the complete MIME message (``msg.raw``: it does so for
    attachments), otherwise ``Simple``: the decision is compose's, made once per run.
    ``extra`` adds or overrides top-level parameters (an escape hatch, e.g.
    ``ListManagementOptions``).
    """
    params: dict[str, Any] = {
        "FromEmailAddress": encode_mailbox(msg.sender),
        "Destination": build_destination(msg),
    }
    if msg.raw is not None:
        params["Content"] = {"Raw": {"Data": msg.raw}}
    else:
        body: dict[str, Any] = {}
        if msg.text is not None:
            body["Text"] = {"Data": msg.text, "Charset": _UTF8}
        if msg.html is not None:
            body["Html"] = {"Data": msg.html, "Charset": _UTF8}
        simple: dict[str, Any] = {"Subject": {"Data": msg.subject, "Charset": _UTF8}, "Body": body}
        if msg.headers:
            simple["Headers"] = name_values(msg.headers)
        params["Content"] = {"Simple": simple}
    if msg.reply_to:
        params["ReplyToAddresses"] = list(msg.reply_to)
    if msg.configuration_set:
        params["ConfigurationSetName"] = msg.configuration_set
    if msg.tags:
        params["EmailTags"] = name_values(msg.tags)
    if extra:
        params.update(extra)
    return params


class SesTransport(AwsApiTransport):
    """SES v2 ``SendEmail``: one call per message (AWS advises one recipient set per call)."""

    name = "ses"
    max_batch = 1
    content_mode = ContentMode.FIELDS
    max_message_bytes = SES_MAX_MESSAGE_BYTES.value
    service = "sesv2"

    def send(self, batch: Sequence[Message]) -> list[Reply]:
        """One ``SendEmail`` per message, in order; see the module docstring for errors."""
        return [self._send_one(msg) for msg in batch]

    def _send_one(self, msg: Message) -> Reply:
        params = build_send_email_params(msg, self._extra)
        started = time.time()
        try:
            response = self._client.send_email(**params)
        except AWS_CALL_ERRORS as exc:
            finished = time.time()
            return self._classify(exc, msg.sender).reply(started, finished)
        finished = time.time()
        self._check_answer(response)
        return self.accepted(response.get("MessageId"), started, finished)
