"""Amazon SES API v2 ``SendEmail``: one message per call.

Content: ``Simple`` (SES assembles the MIME message from subject, text, html and headers), or
``Raw`` when the message has attachments (compose then fills ``Message.raw`` with the complete
MIME message). Per-message errors become :class:`Reply` objects; account-wide faults raise
:class:`~toolkit.errors.ProviderConfigurationError` (see :mod:`toolkit.transports.classify`).

Also home of :class:`AwsApiTransport`, the small base the SES bulk and Pinpoint transports share
(one client for all worker threads, error mapping, ``GetAccount`` quota).

Usage::

    transport = SesTransport(AwsTarget(region="eu-west-1").make_client("sesv2", workers=8))
    replies = transport.send([message])
"""

from __future__ import annotations

import email.utils
import functools
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from toolkit.compose.message import ContentMode, Message
from toolkit.errors import ProviderConfigurationError
from toolkit.facts import SES_MAX_MESSAGE_BYTES
from toolkit.transports.base import BaseTransport, Quota, Reply, Verdict
from toolkit.transports.classify import Classified, classify_aws_exception

__all__ = [
    "AWS_CALL_ERRORS",
    "AwsApiTransport",
    "SesTransport",
    "SetupFailed",
    "build_destination",
    "build_send_email_params",
    "name_values",
]

_log = logging.getLogger(__name__)

# What a boto3(-compatible) call can raise for reasons outside our own code.
AWS_CALL_ERRORS: tuple[type[BaseException], ...] = (ClientError, BotoCoreError, OSError)

_UTF8 = "UTF-8"
_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


@functools.lru_cache(maxsize=1024)
def encode_mailbox(value: str, name: str | None = None) -> str:
    """``Name <addr>`` as SES's API wants it: a non-ASCII display name as an RFC 2047 word.

    ``value`` is a bare address or ``Name <addr>``; ``name``, when given, is the display
    name for a bare address (compose's ``extra["to_name"]``). Cached: senders repeat.
    """
    display, address = email.utils.parseaddr(value)
    display = name or display
    if not display or not address:
        return value
    return email.utils.formataddr((display, address), charset=_UTF8)


def build_destination(msg: Message) -> dict[str, list[str]]:
    """SES ``Destination`` with the full envelope (To, Cc and Bcc), To with its display name."""
    to_name = msg.extra.get("to_name") if msg.extra else None
    if isinstance(to_name, str) and to_name and len(msg.to) == 1:
        destination = {"ToAddresses": [encode_mailbox(msg.to[0], to_name)]}
    else:
        destination = {"ToAddresses": list(msg.to)}
    if msg.cc:
        destination["CcAddresses"] = list(msg.cc)
    if msg.bcc:
        destination["BccAddresses"] = list(msg.bcc)
    return destination


def name_values(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """SES's ``[{"Name": ..., "Value": ...}]`` form of headers and tags."""
    return [{"Name": name, "Value": value} for name, value in pairs]


def build_send_email_params(
    msg: Message, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The keyword arguments of ``sesv2.send_email`` for one message (no I/O).

    ``Raw`` when ``msg.raw`` is set and the message has attachments (or no text/html parts);
    otherwise ``Simple``. ``extra`` adds or overrides top-level parameters (an escape hatch,
    e.g. ``ListManagementOptions``).
    """
    params: dict[str, Any] = {
        "FromEmailAddress": encode_mailbox(msg.sender),
        "Destination": build_destination(msg),
    }
    if msg.raw is not None and (msg.attachments or (msg.text is None and msg.html is None)):
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
        if msg.attachments:
            # Only when compose did not fill raw: SES v2 Simple content takes attachments too.
            simple["Attachments"] = [
                {"RawContent": a.content, "FileName": a.filename, "ContentType": a.content_type}
                for a in msg.attachments
            ]
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


class SetupFailed(Exception):
    """A one-time setup call (storing a template) failed for a reason worth retrying later;
    the messages that needed it get this classification as their reply."""

    def __init__(self, classified: Classified) -> None:
        super().__init__(classified.message)
        self.classified = classified


class AwsApiTransport(BaseTransport):
    """Shared by the AWS API transports: one thread-safe client, error mapping, quota.

    Args:
        client: a boto3 client (or a compatible one) for ``service``, made without SDK retries
            (:meth:`toolkit.targets.AwsTarget.make_client`); shared by every worker thread.
        extra_params: top-level API parameters added to every send call.
        owns_client: close the client (and its pooled connections) in :meth:`close`; set by
            :func:`toolkit.transports.make_transport` for clients it made, never for a client
            the caller passed in.
    """

    service: ClassVar[str] = "sesv2"

    def __init__(
        self,
        client: Any,
        *,
        extra_params: Mapping[str, Any] | None = None,
        owns_client: bool = False,
    ) -> None:
        self._client = client
        self._extra = dict(extra_params or {})
        self._owns_client = owns_client
        self._setup_lock = threading.Lock()

    def _built_once(self, cache: dict[_K, _V], key: _K, build: Callable[[_K], _V]) -> _V:
        """``cache[key]``, built by one thread only (a build may call the provider once)."""
        value = cache.get(key)  # lock-free on the hot path once built
        if value is None:
            with self._setup_lock:
                value = cache.get(key)
                if value is None:
                    value = cache[key] = build(key)
        return value

    def close(self) -> None:
        """Close the client's connections when this transport made it."""
        if self._owns_client and hasattr(self._client, "close"):
            self._client.close()

    @property
    def client(self) -> Any:
        """The client every worker thread shares."""
        return self._client

    def _setup_error(self, what: str, exc: BaseException) -> Exception:
        """The exception to raise when a setup call failed: configuration, or retry later."""
        classified = classify_aws_exception(self.service, exc)
        if classified.verdict in (Verdict.THROTTLED, Verdict.TRANSIENT, Verdict.UNKNOWN):
            return SetupFailed(classified)
        return ProviderConfigurationError(
            classified.code, f"{what}: {classified.message}", self.name
        )

    def _classify(self, exc: BaseException) -> Classified:
        """Classify a call's exception; raise for whole-batch configuration faults."""
        classified = classify_aws_exception(self.service, exc)
        if classified.is_configuration:
            raise ProviderConfigurationError(
                classified.code, classified.message, self.name
            ) from exc
        return classified

    @staticmethod
    def _fail(
        count: int, classified: Classified, started: float, finished: float
    ) -> list[Reply]:
        return [classified.reply(started, finished)] * count

    @staticmethod
    def _mismatch(count: int, got: int, started: float, finished: float) -> list[Reply]:
        """The provider answered with the wrong number of results: we cannot tell which
        messages went, so every message of the call is UNKNOWN (never silently resent)."""
        text = f"expected {count} results, the provider returned {got}"
        return [Reply(Verdict.UNKNOWN, started, finished, code="ResponseMismatch", message=text)
                ] * count

    def _ses_quota(self) -> Quota | None:
        """SES v2 ``GetAccount.SendQuota``; None when it cannot be read.

        Never raises for provider errors: many IAM policies allow sending but not
        ``ses:GetAccount``, and the engine can pace adaptively without a quota.
        """
        try:
            account = self._client.get_account()
        except AWS_CALL_ERRORS as exc:
            classified = classify_aws_exception("sesv2", exc)
            _log.warning("GetAccount failed (%s); pacing without a known quota", classified.code)
            return None
        quota = account.get("SendQuota") or {}
        if "MaxSendRate" not in quota:
            return None
        return Quota(
            max_send_rate=float(quota["MaxSendRate"]),
            max_24_hour_send=float(quota.get("Max24HourSend", -1)),
            sent_last_24_hours=float(quota.get("SentLast24Hours", 0.0)),
        )


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
            return self._classify(exc).reply(started, finished)
        return Reply(Verdict.ACCEPTED, started, time.time(), message_id=response.get("MessageId"))

    def quota(self) -> Quota | None:
        """The account's ``GetAccount.SendQuota`` (None when it cannot be read)."""
        return self._ses_quota()
