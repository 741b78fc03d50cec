"""Amazon Pinpoint ``SendMessages`` (email channel): up to 100 addresses per call. Legacy.

AWS ended support for Amazon Pinpoint on 2026-10-30 (:data:`toolkit.facts.PINPOINT_END_OF_SUPPORT`)
and points email senders to SES. This transport stays for accounts and tests that still use it:
each instance warns once with :class:`PinpointEndOfSupportWarning`, and a Pinpoint refusal of the
application itself (NotFound, Forbidden, MethodNotAllowed) is a configuration fault
(:class:`~toolkit.errors.ProviderConfigurationError`), not something to retry.

Each message goes to one address (``Message.to[0]``; SendMessages has no Cc/Bcc), with its row's
values as per-address ``Substitutions`` into one shared email template: a stored one
(``Template.name``) or one created once per transport as ``toolkit-<sha256[:16]>``.
``Addresses`` is a map, so an address that appears twice in a batch is sent in a second call.
Each address's ``DeliveryStatus`` becomes its message's Reply.

Usage::

    transport = PinpointTransport(client, application_id="a1b2...")
    replies = transport.send(messages)
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from toolkit.compose.message import ContentMode, Message, Template
from toolkit.errors import ConfigurationError, ProviderConfigurationError
from toolkit.facts import (
    PINPOINT_END_OF_SUPPORT,
    PINPOINT_MAX_ADDRESSES_PER_CALL,
    PINPOINT_MAX_PAYLOAD_BYTES,
)
from toolkit.results import Reply, Verdict
from toolkit.transports.aws import (
    AWS_CALL_ERRORS,
    AwsApiTransport,
    SetupFailed,
    message_template,
    stored_template_name,
)
from toolkit.transports.classify import classify_aws_exception, classify_pinpoint_status

if TYPE_CHECKING:
    from typing import Self

    from toolkit.targets import AwsTarget

__all__ = [
    "PinpointEndOfSupportWarning",
    "PinpointTransport",
    "build_address_configuration",
    "split_unique_addresses",
]

_EMAIL = "EMAIL"
# One reply for a message Pinpoint cannot address (SendMessages has no Cc/Bcc).
_SINGLE_RECIPIENT_CODE = "PinpointSingleRecipient"


class PinpointEndOfSupportWarning(UserWarning):
    """Amazon Pinpoint reached end of support; use SES (``via="ses"`` or ``"ses-bulk"``)."""


def end_of_support_text(today: dt.date | None = None) -> str:
    """The warning's text, dated and sourced."""
    fact = PINPOINT_END_OF_SUPPORT
    today = today or dt.date.today()
    tense = "reached" if today >= fact.value else "reaches"
    return (
        f"Amazon Pinpoint {tense} end of support on {fact.value.isoformat()} "
        f"({fact.source}); AWS points email senders to Amazon SES: use via='ses' or "
        "via='ses-bulk'."
    )


def build_address_configuration(msg: Message) -> dict[str, Any]:
    """``AddressConfiguration`` for one message: the EMAIL channel and its substitutions."""
    data = msg.template_data
    config: dict[str, Any] = {"ChannelType": _EMAIL}
    if data:
        config["Substitutions"] = {key: [value] for key, value in data.items()}
    return config


def split_unique_addresses(positions: Sequence[int], batch: Sequence[Message]) -> list[list[int]]:
    """Split positions into calls in which each address (case-insensitive) appears once."""
    calls: list[list[int]] = []
    seen: list[set[str]] = []
    for i in positions:
        address = batch[i].to[0].lower()
        for call, addresses in zip(calls, seen, strict=True):
            if address not in addresses:
                call.append(i)
                addresses.add(address)
                break
        else:
            calls.append([i])
            seen.append({address})
    return calls


class PinpointTransport(AwsApiTransport):
    """Pinpoint ``SendMessages`` to email addresses, through one shared template.

    Args:
        client: a Pinpoint client (see :class:`~toolkit.transports.aws.AwsApiTransport`).
        application_id: the Pinpoint project id (``AwsTarget.pinpoint_app_id``).
        extra_params: keys added to every ``MessageRequest`` (e.g. ``TraceId``, ``Context``).
    """

    name = "pinpoint"
    max_batch = PINPOINT_MAX_ADDRESSES_PER_CALL.value
    content_mode = ContentMode.TEMPLATE
    max_message_bytes = PINPOINT_MAX_PAYLOAD_BYTES.value
    service = "pinpoint"

    def __init__(
        self,
        client: Any,
        *,
        application_id: str | None,
        extra_params: Mapping[str, Any] | None = None,
        owns_client: bool = False,
    ) -> None:
        if not application_id:
            raise ConfigurationError(
                "Pinpoint needs an application (project) id: --pinpoint-app-id ID on the "
                "command line, AwsTarget(pinpoint_app_id=...) in Python"
            )
        super().__init__(client, extra_params=extra_params, owns_client=owns_client)
        self.application_id = application_id
        self._configs: dict[tuple[str, tuple[str, ...], Template], dict[str, Any]] = {}
        warnings.warn(end_of_support_text(), PinpointEndOfSupportWarning, stacklevel=2)

    @classmethod
    def from_target(cls, target: AwsTarget, *, workers: int = 1, **options: Any) -> Self:
        """A transport for ``target``'s Pinpoint application (``pinpoint_app_id``)."""
        options.setdefault("application_id", target.pinpoint_app_id)
        return super().from_target(target, workers=workers, **options)

    def send(self, batch: Sequence[Message]) -> list[Reply]:
        """One call per group of up to 100 distinct addresses; one Reply per message."""
        replies: list[Reply | None] = [None] * len(batch)
        groups: dict[tuple[str, tuple[str, ...], Template], list[int]] = {}
        for i, msg in enumerate(batch):
            if len(msg.to) != 1 or msg.cc or msg.bcc:
                now = time.time()
                replies[i] = Reply(
                    Verdict.REJECTED,
                    now,
                    now,
                    code=_SINGLE_RECIPIENT_CODE,
                    message="Pinpoint SendMessages sends each message to one address (no Cc/Bcc)",
                )
                continue
            groups.setdefault((msg.sender, msg.reply_to, message_template(msg)), []).append(i)
        for key, positions in groups.items():
            for start in range(0, len(positions), self.max_batch):
                chunk = positions[start : start + self.max_batch]
                for call in split_unique_addresses(chunk, batch):
                    for i, reply in zip(call, self._call(key, call, batch), strict=True):
                        replies[i] = reply
        return [r for r in replies if r is not None]

    def _call(
        self,
        key: tuple[str, tuple[str, ...], Template],
        call: list[int],
        batch: Sequence[Message],
    ) -> list[Reply]:
        try:
            shared = self._shared(key)
        except SetupFailed as failed:
            now = time.time()
            return self._fail(len(call), failed.classified, now, now)
        addresses = [batch[i].to[0] for i in call]
        request = dict(shared)
        request["Addresses"] = {
            address: build_address_configuration(batch[i])
            for address, i in zip(addresses, call, strict=True)
        }
        started = time.time()
        try:
            response = self._client.send_messages(
                ApplicationId=self.application_id, MessageRequest=request
            )
        except AWS_CALL_ERRORS as exc:
            finished = time.time()
            return self._fail(len(call), self._classify(exc, key[0]), started, finished)
        finished = time.time()
        self._check_answer(response)
        results: Mapping[str, Any] = (response.get("MessageResponse") or {}).get("Result") or {}
        if len(results) != len(call):
            return self._mismatch(len(call), len(results), started, finished)
        folded = None
        any_accepted = any(r.get("DeliveryStatus") == "SUCCESSFUL" for r in results.values())
        replies = []
        for address in addresses:
            result = results.get(address)
            if result is None:
                if folded is None:  # Pinpoint may answer with a normalized key
                    folded = {k.lower(): v for k, v in results.items()}
                result = folded.get(address.lower())
                if result is None:
                    return self._mismatch(len(call), len(results), started, finished)
            status = result.get("DeliveryStatus", "")
            if status == "SUCCESSFUL" or not status:  # no status: cannot tell
                replies.append(self.accepted(result.get("MessageId"), started, finished))
                continue
            classified = classify_pinpoint_status(status, result.get("StatusMessage") or "")
            if not any_accepted:
                self.check_sender_refusal(classified.message, key[0])
            if classified.is_configuration and not any_accepted:
                raise ProviderConfigurationError(classified.code, classified.message, self.name)
            replies.append(classified.reply(started, finished, default=Verdict.REJECTED))
        return replies

    def _shared(self, key: tuple[str, tuple[str, ...], Template]) -> dict[str, Any]:
        """The parts of the MessageRequest every call of this group shares (built once)."""
        return self._built_once(self._configs, key, self._build_shared)

    def _build_shared(self, key: tuple[str, tuple[str, ...], Template]) -> dict[str, Any]:
        sender, reply_to, template = key
        email: dict[str, Any] = {"FromAddress": sender}
        if reply_to:
            email["ReplyToAddresses"] = list(reply_to)
        return {
            "MessageConfiguration": {"EmailMessage": email},
            "TemplateConfiguration": {
                "EmailTemplate": {"Name": template.name or self._store(template)}
            },
            **self._extra,
        }

    def _get_stored_template(self, name: str) -> Template:
        """Pinpoint ``GetEmailTemplate``."""
        response = self._client.get_email_template(TemplateName=name)
        found = response.get("EmailTemplateResponse") or {}
        return Template(subject=found.get("Subject") or "", text=found.get("TextPart"),
                        html=found.get("HtmlPart"), name=name)  # fmt: skip

    def _store(self, template: Template) -> str:
        """Create the email template once (an existing one with this name is reused)."""
        name = stored_template_name(template)
        request: dict[str, Any] = {"Subject": template.subject}
        if template.text is not None:
            request["TextPart"] = template.text
        if template.html is not None:
            request["HtmlPart"] = template.html
        try:
            self._client.create_email_template(TemplateName=name, EmailTemplateRequest=request)
        except AWS_CALL_ERRORS as exc:
            classified = classify_aws_exception(self.service, exc)
            if "exist" not in classified.message.lower() and classified.code not in (
                "AlreadyExistsException",
                "ConflictException",
            ):
                raise self._setup_error(f"cannot create Pinpoint template {name}", exc) from exc
        return name
