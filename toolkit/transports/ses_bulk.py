"""Amazon SES API v2 ``SendBulkEmail``: up to 50 messages per call, rendered by SES.

One template is shared by the whole call (``DefaultContent.Template``) and each entry carries
its row's values as ``ReplacementTemplateData`` (JSON). The template is either a stored one
(``Template.name`` -> ``TemplateName``) or, by default, sent inline (``TemplateContent``), which
botocore's SES v2 model supports for SendBulkEmail and which leaves nothing behind in the
account (SES keeps at most 10,000 stored templates per Region). With ``inline_templates=False``
an inline template is stored once per transport as ``toolkit-<sha256[:16]>`` instead. A stored
template given by name is read once with ``GetEmailTemplate`` before planning
(:meth:`~toolkit.transports.aws.AwsApiTransport.stored_template`), so pre-flight can keep CR/LF
out of the columns its subject uses.

Per-entry statuses (``BulkEmailEntryResults``) become one Reply per message; messages of one
batch with a different sender, reply-to, configuration set or template go in separate calls.

Usage::

    transport = SesBulkTransport(client)
    replies = transport.send(messages)   # messages[i].template / .template_data
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from toolkit.compose.message import ContentMode, Message, Template
from toolkit.errors import ProviderConfigurationError
from toolkit.facts import SES_BULK_MAX_ENTRIES, SES_MAX_MESSAGE_BYTES
from toolkit.results import Reply, Verdict
from toolkit.transports.aws import (
    AWS_CALL_ERRORS,
    AwsApiTransport,
    SetupFailed,
    build_destination,
    message_template,
    name_values,
    stored_template_name,
    template_content,
)
from toolkit.transports.classify import classify_ses_bulk_status

__all__ = [
    "SesBulkTransport",
    "build_bulk_entry",
    "build_default_content",
    "message_template",
    "stored_template_name",
]

_EMPTY_JSON = "{}"


def build_default_content(template: Template, *, stored_name: str | None = None) -> dict[str, Any]:
    """``DefaultContent`` for one call: by name, or inline (no I/O)."""
    name = template.name or stored_name
    if name:
        spec: dict[str, Any] = {"TemplateName": name}
    else:
        spec = {"TemplateContent": template_content(template)}
    spec["TemplateData"] = _EMPTY_JSON
    return {"Template": spec}


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data if isinstance(data, dict) else dict(data), ensure_ascii=False)


def build_bulk_entry(msg: Message) -> dict[str, Any]:
    """One ``BulkEmailEntry``: the message's envelope and its row's template data."""
    data = msg.template_data
    entry: dict[str, Any] = {
        "Destination": build_destination(msg),
        "ReplacementEmailContent": {
            "ReplacementTemplate": {"ReplacementTemplateData": _json(data) if data else _EMPTY_JSON}
        },
    }
    if msg.headers:
        entry["ReplacementHeaders"] = name_values(msg.headers)
    if msg.tags:
        entry["ReplacementTags"] = name_values(msg.tags)
    return entry


_GroupKey = tuple[str, tuple[str, ...], str | None, Template]


def _group(batch: Sequence[Message]) -> list[tuple[_GroupKey, list[int]]]:
    """Positions of the batch split by what must be shared within one call (order kept)."""
    groups: dict[_GroupKey, list[int]] = {}
    for i, msg in enumerate(batch):
        key = (msg.sender, msg.reply_to, msg.configuration_set, message_template(msg))
        groups.setdefault(key, []).append(i)
    return list(groups.items())


class SesBulkTransport(AwsApiTransport):
    """SES v2 ``SendBulkEmail`` with up to 50 entries per call.

    Args:
        client: an SES v2 client (see :class:`~toolkit.transports.aws.AwsApiTransport`).
        extra_params: top-level parameters added to every call.
        inline_templates: send templates inline (default) or store them once per transport.
    """

    name = "ses-bulk"
    max_batch = SES_BULK_MAX_ENTRIES.value
    content_mode = ContentMode.TEMPLATE
    max_message_bytes = SES_MAX_MESSAGE_BYTES.value
    service = "sesv2"

    def __init__(
        self,
        client: Any,
        *,
        extra_params: Mapping[str, Any] | None = None,
        inline_templates: bool = True,
        owns_client: bool = False,
    ) -> None:
        super().__init__(client, extra_params=extra_params, owns_client=owns_client)
        self._inline = inline_templates
        self._content: dict[Template, dict[str, Any]] = {}

    def send(self, batch: Sequence[Message]) -> list[Reply]:
        """One call per group of up to 50 messages; one Reply per message, in order."""
        replies: list[Reply | None] = [None] * len(batch)
        for (sender, reply_to, config_set, template), positions in _group(batch):
            for start in range(0, len(positions), self.max_batch):
                chunk = positions[start : start + self.max_batch]
                started = time.time()
                try:
                    content = self._default_content(template)
                except SetupFailed as failed:
                    for i, reply in zip(
                        chunk,
                        self._fail(len(chunk), failed.classified, started, time.time()),
                        strict=True,
                    ):
                        replies[i] = reply
                    continue
                params: dict[str, Any] = {
                    "FromEmailAddress": sender,
                    "DefaultContent": content,
                    "BulkEmailEntries": [build_bulk_entry(batch[i]) for i in chunk],
                }
                if reply_to:
                    params["ReplyToAddresses"] = list(reply_to)
                if config_set:
                    params["ConfigurationSetName"] = config_set
                if self._extra:
                    params.update(self._extra)
                for i, reply in zip(chunk, self._call(params, len(chunk), sender), strict=True):
                    replies[i] = reply
        return [r for r in replies if r is not None]

    def _call(self, params: dict[str, Any], count: int, sender: str) -> list[Reply]:
        started = time.time()
        try:
            response = self._client.send_bulk_email(**params)
        except AWS_CALL_ERRORS as exc:
            finished = time.time()
            return self._fail(count, self._classify(exc, sender), started, finished)
        finished = time.time()
        self._check_answer(response)
        results = response.get("BulkEmailEntryResults") or []
        if len(results) != count:
            return self._mismatch(count, len(results), started, finished)
        any_accepted = any(r.get("Status") == "SUCCESS" for r in results)
        replies = []
        for result in results:
            status = result.get("Status", "")
            if status == "SUCCESS" or not status:  # no status: cannot tell (unknown)
                replies.append(self.accepted(result.get("MessageId"), started, finished))
                continue
            classified = classify_ses_bulk_status(status, result.get("Error") or "")
            if not any_accepted:
                self.check_sender_refusal(classified.message, sender)
            if classified.is_configuration and not any_accepted:
                raise ProviderConfigurationError(classified.code, classified.message, self.name)
            # An account-wide status next to accepted entries (not seen in practice): keep
            # the accepted ones' replies and refuse only this entry.
            replies.append(classified.reply(started, finished, default=Verdict.REJECTED))
        return replies

    def _default_content(self, template: Template) -> dict[str, Any]:
        """Built once per template (and stored at SES first, when not inline)."""
        return self._built_once(self._content, template, self._build_default_content)

    def _build_default_content(self, template: Template) -> dict[str, Any]:
        stored = None
        if not self._inline and not template.name:
            stored = self._store(template)
        return build_default_content(template, stored_name=stored)

    def _get_stored_template(self, name: str) -> Template:
        """SES v2 ``GetEmailTemplate``."""
        content = self._client.get_email_template(TemplateName=name).get("TemplateContent") or {}
        return Template(subject=content.get("Subject") or "", text=content.get("Text"),
                        html=content.get("Html"), name=name)  # fmt: skip

    def _store(self, template: Template) -> str:
        name = stored_template_name(template)
        try:
            self._client.create_email_template(
                TemplateName=name, TemplateContent=template_content(template)
            )
        except AWS_CALL_ERRORS as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code != "AlreadyExistsException":
                raise self._setup_error(f"cannot store template {name}", exc) from exc
        return name
