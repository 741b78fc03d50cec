"""What the AWS API transports share: one client for all threads, error mapping, payload parts.

:class:`AwsApiTransport` is the base of the SES (``ses``, ``ses-bulk``) and Pinpoint transports:
it holds one boto3-compatible client that every worker thread shares, builds one-time setup
(a stored template) exactly once, and turns a call's exception into a verdict with
:mod:`toolkit.transports.classify`, raising for faults that concern the whole account. The
payload helpers here are the parts two of them build the same way (SES ``Destination``,
``Name``/``Value`` lists, the content-addressed name of a stored template).

Usage::

    class MyTransport(AwsApiTransport):
        service = "sesv2"
        def send(self, batch): ...
    transport = MyTransport.from_target(AwsTarget(region="eu-west-1"), workers=8)
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from toolkit.compose.message import Message, Template
from toolkit.errors import ProviderConfigurationError
from toolkit.results import Reply, Verdict
from toolkit.transports.base import BaseTransport
from toolkit.transports.classify import (
    NON_AWS_CODE,
    REDIRECT_CODE,
    UNVERIFIED_SENDER_CODE,
    Classified,
    classify_aws_exception,
    non_aws_answer,
    unverified_sender,
)

if TYPE_CHECKING:
    from typing import Self

    from toolkit.targets import AwsTarget

__all__ = [
    "AWS_CALL_ERRORS",
    "AwsApiTransport",
    "SetupFailed",
    "build_destination",
    "encode_mailbox",
    "message_template",
    "name_values",
    "stored_template_name",
    "template_content",
]

# What a boto3(-compatible) call can raise for reasons outside our own code.
AWS_CALL_ERRORS: tuple[type[BaseException], ...] = (ClientError, BotoCoreError, OSError)

log = logging.getLogger(__name__)

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


def message_template(msg: Message) -> Template:
    """The message's template, or one made of its rendered fields when it has none."""
    if msg.template is not None:
        return msg.template
    return Template(subject=msg.subject, text=msg.text, html=msg.html)


def stored_template_name(template: Template) -> str:
    """``toolkit-`` + the first 16 hex digits of the SHA-256 of the template's parts."""
    digest = hashlib.sha256()
    for part in (template.subject, template.text or "", template.html or ""):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return "toolkit-" + digest.hexdigest()[:16]


def template_content(template: Template) -> dict[str, str]:
    """SES ``EmailTemplateContent`` for an inline template."""
    content = {"Subject": template.subject}
    if template.text is not None:
        content["Text"] = template.text
    if template.html is not None:
        content["Html"] = template.html
    return content


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
        self._stored: dict[str, tuple[Template | None]] = {}

    @classmethod
    def from_target(cls, target: AwsTarget, *, workers: int = 1, **options: Any) -> Self:
        """A transport with its own client for ``target``, shared by ``workers`` threads."""
        options.setdefault("owns_client", target.client is None)
        return cls(target.make_client(cls.service, workers=workers), **options)

    def _built_once(self, cache: dict[_K, _V], key: _K, build: Callable[[_K], _V]) -> _V:
        """``cache[key]``, built by one thread only (a build may call the provider once)."""
        value = cache.get(key)  # lock-free on the hot path once built
        if value is None:
            with self._setup_lock:
                value = cache.get(key)
                if value is None:
                    value = cache[key] = build(key)
        return value

    def stored_template(self, name: str) -> Template | None:
        """The provider's stored template ``name`` (GetEmailTemplate, read once), so that
        pre-flight knows which columns reach the Subject header.

        None when it cannot be read now (the IAM policy may allow sending but not reading
        templates; the provider is busy): pre-flight then checks every templated column. A
        template that does not exist, or credentials that do not work, raise
        ProviderConfigurationError before anything is sent.
        """
        return self._built_once(self._stored, name, self._read_stored)[0]

    def _read_stored(self, name: str) -> tuple[Template | None]:
        try:
            return (self._get_stored_template(name),)
        except AWS_CALL_ERRORS as exc:
            classified = classify_aws_exception(self.service, exc)
            if classified.is_configuration and "AccessDenied" not in classified.code:
                raise ProviderConfigurationError(
                    classified.code, f"template {name!r}: {classified.message}", self.name
                ) from exc
            log.warning("cannot read template %r (%s); checking every templated column "
                        "for header safety", name, classified.code)  # fmt: skip
            return (None,)

    def _get_stored_template(self, name: str) -> Template:  # pragma: no cover - per provider
        raise NotImplementedError

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
            classified.code, f"{what}: {self._where(classified)}", self.name
        )

    def _classify(self, exc: BaseException, sender: str = "") -> Classified:
        """Classify a call's exception; raise for whole-batch configuration faults (an
        unverified ``sender`` among them: every later message would be refused too)."""
        classified = classify_aws_exception(self.service, exc)
        if classified.is_configuration:
            raise ProviderConfigurationError(
                classified.code, self._where(classified), self.name
            ) from exc
        self.check_sender_refusal(classified.message, sender)
        return classified

    def check_sender_refusal(self, text: str, sender: str) -> None:
        """Raise when ``text`` refuses the run's sender identity (not one recipient)."""
        if sender and unverified_sender(text, sender):
            raise ProviderConfigurationError(
                UNVERIFIED_SENDER_CODE,
                f"{text} (verify the sender's address or domain in this Region, or send "
                "from a verified identity; nothing was sent)",
                self.name,
            )

    def _where(self, classified: Classified) -> str:
        """The message, naming the endpoint when the answer came from somewhere else."""
        if classified.code in (NON_AWS_CODE, REDIRECT_CODE):
            return f"{classified.message} (endpoint {self._endpoint()})"
        return classified.message

    def _endpoint(self) -> str:
        meta = getattr(self._client, "meta", None)
        return str(getattr(meta, "endpoint_url", "") or "?")

    def _check_answer(self, response: Mapping[str, Any]) -> None:
        """Raise when a 2xx answer is an HTML/non-AWS page (a proxy, a captive portal)."""
        foreign = non_aws_answer(response)
        if foreign is not None:
            raise ProviderConfigurationError(
                NON_AWS_CODE,
                f"the endpoint {self._endpoint()} answered {foreign}: check the endpoint "
                "URL and any proxy (rows of this call are unknown)",
                self.name,
            )

    @staticmethod
    def accepted(message_id: Any, started: float, finished: float) -> Reply:
        """``ACCEPTED`` only with a MessageId: an answer without one (``{}``, null, cut
        short) may or may not have been acted on, so it is UNKNOWN, never ``sent``."""
        if isinstance(message_id, str) and message_id:
            return Reply(Verdict.ACCEPTED, started, finished, message_id=message_id)
        return Reply(
            Verdict.UNKNOWN,
            started,
            finished,
            code="NoMessageId",
            message="the provider answered success without a MessageId",
        )

    @staticmethod
    def _fail(count: int, classified: Classified, started: float, finished: float) -> list[Reply]:
        return [classified.reply(started, finished)] * count

    @staticmethod
    def _mismatch(count: int, got: int, started: float, finished: float) -> list[Reply]:
        """The provider answered with the wrong number of results: we cannot tell which
        messages went, so every message of the call is UNKNOWN (never silently resent)."""
        text = f"expected {count} results, the provider returned {got}"
        return [
            Reply(Verdict.UNKNOWN, started, finished, code="ResponseMismatch", message=text)
        ] * count
