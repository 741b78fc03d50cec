"""What the guide is asked about: the sender's profile, the interfaces, and the answer's parts.

:class:`Profile` is the question (channels, volume, needs); :class:`Interface` the ways to send;
:class:`Reason` one dated, sourced reason; :class:`Choice` one recommended interface.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from toolkit import facts
from toolkit.errors import ConfigurationError
from toolkit.facts import Fact

if TYPE_CHECKING:
    from toolkit.targets import Quota

CHANNELS: tuple[str, ...] = ("email", "sms", "push", "voice")
CHANNEL_LABEL = {"email": "email", "sms": "SMS", "push": "push", "voice": "voice"}
SECONDS_PER_DAY = 86_400


class Interface(enum.StrEnum):
    """The service + interface the guide can recommend."""

    SES_API = "SES API v2"
    SES_SMTP = "SES SMTP"
    PINPOINT = "Pinpoint SendMessages (legacy)"
    EUM = "AWS End User Messaging"

    @property
    def service(self) -> str:
        """The AWS service behind the interface."""
        return {
            Interface.SES_API: "Amazon SES",
            Interface.SES_SMTP: "Amazon SES",
            Interface.PINPOINT: "Amazon Pinpoint",
            Interface.EUM: "AWS End User Messaging",
        }[self]


class PinpointPhase(enum.StrEnum):
    """Where ``today`` falls relative to Pinpoint's two dates."""

    OPEN = "open"  # before 2025-05-20: anyone may adopt Pinpoint
    EXISTING_ONLY = "existing-only"  # 2025-05-20 ≤ today < 2026-10-30
    ENDED = "ended"  # from 2026-10-30 (end-of-support day included: never recommend it then)


def pinpoint_phase(today: dt.date) -> PinpointPhase:
    """Pinpoint's lifecycle phase on ``today``."""
    if today < facts.PINPOINT_NO_NEW_CUSTOMERS.value:
        return PinpointPhase.OPEN
    if today < facts.PINPOINT_END_OF_SUPPORT.value:
        return PinpointPhase.EXISTING_ONLY
    return PinpointPhase.ENDED


@dataclass(frozen=True, slots=True)
class Profile:
    """What the sender needs. Defaults: email only, SDK available, nothing special."""

    channels: frozenset[str] = frozenset({"email"})
    third_party: bool = False  # a third-party app, or a language without an AWS SDK: SMTP
    monthly_volume: int = 0  # recipients per month
    peak_rate: float = 0.0  # recipients per second at peak
    receive: bool = False  # must receive email
    config_sets: bool = False  # configuration sets / event publishing
    sending_authorization: bool = False  # send for identities owned by another account
    dedicated_ips: bool = False
    tenants: bool = False  # tenant isolation
    templates: bool = False
    attachments: bool = False
    endpoint_ids: bool = False  # address recipients by Pinpoint endpoint or user IDs
    existing_pinpoint: bool = False  # Pinpoint account created before 2025-05-20
    multi_region: bool = False  # keep sending when a Region fails (SES global endpoints)
    marketing: bool = False  # mail people subscribe to (newsletters, offers): unsubscribe
    # Inputs of the estimates (not of the choice).
    messages: int | None = None  # one send to time; default: monthly_volume
    max_send_rate: float | None = None  # GetAccount.SendQuota.MaxSendRate (recipients/s)
    max_24_hour_send: float | None = None  # GetAccount.SendQuota.Max24HourSend (-1 unlimited)
    attachments_gb: float = 0.0  # GB of attachments per month
    dedicated_ip_count: int = 1  # used when dedicated_ips
    tenant_count: int = 0  # used when tenants

    def __post_init__(self) -> None:
        chans = self.channels
        raw = [chans] if isinstance(chans, str) else list(chans)
        channels = frozenset(c.strip().lower() for c in raw if c.strip())
        unknown = channels - set(CHANNELS)
        if unknown:
            raise ConfigurationError(
                f"unknown channel(s) {sorted(unknown)}; choose from {', '.join(CHANNELS)}"
            )
        if not channels:
            raise ConfigurationError("choose at least one channel")
        object.__setattr__(self, "channels", channels)
        for name in (
            "monthly_volume",
            "peak_rate",
            "attachments_gb",
            "dedicated_ip_count",
            "tenant_count",
        ):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"{name} must not be negative")
        if self.messages is not None and self.messages < 0:
            raise ConfigurationError("messages must not be negative")
        if self.max_send_rate is not None and self.max_send_rate <= 0:
            raise ConfigurationError("max_send_rate must be positive")

    def with_quota(self, quota: Quota) -> Profile:
        """A copy with the account's quota (e.g. from a transport's ``quota()``)."""
        return replace(
            self, max_send_rate=quota.max_send_rate, max_24_hour_send=quota.max_24_hour_send
        )


@dataclass(frozen=True, slots=True)
class Reason:
    """One ranked reason (or warning): a sentence and the dated fact it rests on."""

    rule: str
    text: str
    fact: Fact[Any]
    weight: int = 50

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "text": self.text,
            "source": self.fact.source,
            "checked": self.fact.checked.isoformat(),
            "fact_note": self.fact.note,
        }


@dataclass(frozen=True, slots=True)
class Choice:
    """An interface for some channels."""

    interface: Interface
    channels: tuple[str, ...]

    @property
    def service(self) -> str:
        """The AWS service."""
        return self.interface.service

    @property
    def legacy(self) -> bool:
        """True for Pinpoint, which has ended (or is ending) for email."""
        return self.interface is Interface.PINPOINT

    @property
    def label(self) -> str:
        """E.g. 'SES API v2 for email'."""
        return f"{self.interface.value} for " + " + ".join(CHANNEL_LABEL[c] for c in self.channels)
