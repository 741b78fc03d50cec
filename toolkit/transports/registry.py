"""The one list of transports: the ``via`` names, what each calls, and how its quota is found.

Everything that offers a choice of transport reads it from here: :func:`toolkit.send`, the
CLI's ``--via`` choices and help, the demo, and the README's table (a test compares them).
Code elsewhere asks a kind what it is (``over_smtp``, ``through_pinpoint``, ``ses_v2_api``)
and never compares ``via`` with a name nor keeps a list of names (``tests/test_architecture.py``
holds both).
A transport's capabilities (``max_batch``, ``content_mode``, ``max_message_bytes``) are
attributes of its class, read through :meth:`TransportKind.transport_class`, so they too are
stated once.

Usage::

    kind = transport_kind("ses-bulk")
    transport = kind.create(AwsTarget(region="eu-west-1"), workers=8)
    names()                      # ('ses', 'ses-bulk', 'pinpoint', 'smtp')
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from toolkit.errors import ConfigurationError

if TYPE_CHECKING:
    from toolkit.targets import Target
    from toolkit.transports.base import Transport

__all__ = [
    "TRANSPORTS",
    "TransportKind",
    "make_transport",
    "names",
    "over_smtp",
    "ses_v2_api",
    "through_pinpoint",
    "transport_kind",
]


@dataclass(frozen=True)
class TransportKind:
    """One way to send: its ``via`` name, the call it makes, where and how fast it may send.

    Attributes:
        name: the ``via`` value.
        call: the provider call, as a person would name it.
        endpoint: ``"aws"`` (needs an AwsTarget) or ``"smtp"`` (needs an SmtpTarget).
        account_quota: the SES account quota applies and the target can read it
            (``GetAccount``); otherwise the target says what it knows (``rate=``).
        channel_quota: the rate is the Pinpoint email channel's ``MessagesPerSecond``
            (``GetEmailChannel``).
        quota_source: how its quota is found, in words (help text and README).
        legacy: kept for existing users only (Pinpoint reached end of support).
        implementation: ``"module:Class"`` of the transport (imported on first use).
    """

    name: str
    call: str
    endpoint: Literal["aws", "smtp"]
    account_quota: bool
    quota_source: str
    implementation: str
    legacy: bool = False
    channel_quota: bool = False

    def transport_class(self) -> Any:
        """The transport class (imported now: it pulls in botocore or smtplib)."""
        module, _, cls = self.implementation.partition(":")
        return getattr(importlib.import_module(module), cls)

    @property
    def over_smtp(self) -> bool:
        """Sends over SMTP (to an SmtpTarget), not through an AWS API."""
        return self.endpoint == "smtp"

    @property
    def through_pinpoint(self) -> bool:
        """Sends through Amazon Pinpoint (its application id, its templates, its end of
        support) rather than SES."""
        return self.name == "pinpoint"

    @property
    def bulk_template_data(self) -> bool:
        """Sends each destination's template data to SES's SendBulkEmail, whose size SES
        limits (262,144 characters per destination)."""
        return self.name == "ses-bulk"

    @property
    def ses_v2_api(self) -> bool:
        """Sends through the SES v2 API, so headers and tags travel as its ``Headers`` and
        ``EmailTags`` members, which SES checks against its maxima (Pinpoint and SMTP carry
        them otherwise)."""
        return self.endpoint == "aws" and not self.through_pinpoint

    @property
    def max_batch(self) -> int:
        """Messages (SMTP, SES) or recipients (bulk, Pinpoint) per provider call."""
        return int(self.transport_class().max_batch)

    def create(self, target: Target, *, workers: int | None = 1, **options: Any) -> Transport:
        """The transport pointed at ``target``, ready for ``workers`` threads (not opened).

        ``workers=None`` (the engine sizes its threads from latency) readies it for the most
        the engine may run, :data:`~toolkit.delivery.config.MAX_WORKERS` (HTTP connections
        are opened on demand, so a large pool costs nothing until used). ``options`` go to
        the transport's constructor (``extra_params``, ``inline_templates``, ...); an
        unknown one raises TypeError.
        """
        if workers is None:
            from toolkit.delivery.config import MAX_WORKERS

            workers = MAX_WORKERS
        endpoint = target.resolve(self)
        return self.transport_class().from_target(endpoint, workers=workers, **options)


_KINDS = (
    TransportKind(
        name="ses",
        call="SES API v2 SendEmail, one message per call",
        endpoint="aws",
        account_quota=True,
        quota_source="GetAccount (MaxSendRate, Max24HourSend)",
        implementation="toolkit.transports.ses:SesTransport",
    ),
    TransportKind(
        name="ses-bulk",
        call="SES API v2 SendBulkEmail, 50 recipients per call, one template",
        endpoint="aws",
        account_quota=True,
        quota_source="GetAccount (MaxSendRate, Max24HourSend)",
        implementation="toolkit.transports.ses_bulk:SesBulkTransport",
    ),
    TransportKind(
        name="pinpoint",
        call="Pinpoint SendMessages, 100 addresses per call (legacy: ended 2026-10-30)",
        endpoint="aws",
        account_quota=False,
        quota_source="GetEmailChannel (MessagesPerSecond), or rate=",
        implementation="toolkit.transports.pinpoint:PinpointTransport",
        legacy=True,
        channel_quota=True,
    ),
    TransportKind(
        name="smtp",
        call="SMTP (SES's endpoint or any server), pooled STARTTLS connections",
        endpoint="smtp",
        account_quota=False,
        quota_source="none: SmtpTarget(rate=...) or rate= (adapts to 454 replies without it)",
        implementation="toolkit.transports.smtp:SmtpTransport",
    ),
)

TRANSPORTS: MappingProxyType[str, TransportKind] = MappingProxyType({k.name: k for k in _KINDS})


def names() -> tuple[str, ...]:
    """Every ``via`` name, in the order they are offered."""
    return tuple(TRANSPORTS)


def transport_kind(via: str) -> TransportKind:
    """The kind named ``via``; ConfigurationError naming the choices otherwise."""
    kind = TRANSPORTS.get(via) if isinstance(via, str) else None
    if kind is None:
        raise ConfigurationError(f"via must be one of {', '.join(TRANSPORTS)}; got {via!r}")
    return kind


def over_smtp(via: str) -> bool:
    """``via`` names a transport that sends over SMTP (False for a name that is none)."""
    kind = TRANSPORTS.get(via) if isinstance(via, str) else None
    return kind is not None and kind.over_smtp


def bulk_template_data(via: str) -> bool:
    """``via`` sends per-destination template data to SES SendBulkEmail (False for a name
    that is none)."""
    kind = TRANSPORTS.get(via) if isinstance(via, str) else None
    return kind is not None and kind.bulk_template_data


def ses_v2_api(via: str) -> bool:
    """``via`` sends through the SES v2 API (False for a name that is none)."""
    kind = TRANSPORTS.get(via) if isinstance(via, str) else None
    return kind is not None and kind.ses_v2_api


def through_pinpoint(via: str) -> bool:
    """``via`` names a transport that sends through Pinpoint (False for a name that is none)."""
    kind = TRANSPORTS.get(via) if isinstance(via, str) else None
    return kind is not None and kind.through_pinpoint


def make_transport(
    via: str, target: Target, *, workers: int | None = 1, **options: Any
) -> Transport:
    """``transport_kind(via).create(target, ...)``: the transport for ``via`` at ``target``."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ConfigurationError(f"workers must be a whole number ≥ 1, not {workers!r}")
    return transport_kind(via).create(target, workers=workers, **options)
