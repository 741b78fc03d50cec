"""The transport protocol: turn a batch of messages into provider calls and answers.

A transport knows one provider's wire format and nothing else: it does not pace, retry or
persist (the engine does). In the spirit of Django's email backends and httpx's transports.

Contract:

* ``send(batch)`` returns exactly one :class:`Reply` per message, in order.
* A problem with one message or recipient is a ``Reply`` (``REJECTED``, ``THROTTLED``,
  ``TRANSIENT``, ``UNKNOWN``), never an exception.
* A fault that concerns every message (bad credentials, account suspended, unknown
  application or template) raises :class:`toolkit.errors.ProviderConfigurationError`.
* ``send`` is called from several worker threads at once; a transport keeps whatever
  per-thread state it needs (one SMTP connection per worker, one shared boto3 client).

Usage::

    with SesTransport(client) as transport:
        replies = transport.send(messages)
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, runtime_checkable

from toolkit.compose.message import ContentMode, Message


class Verdict(enum.Enum):
    """What one provider answer means for one message; the engine maps it to a status."""

    ACCEPTED = "accepted"  # provider took it; message_id set -> sent
    REJECTED = "rejected"  # permanent, for this message/recipient -> rejected
    THROTTLED = "throttled"  # rate or quota; retry after backing off, and slow down
    TRANSIENT = "transient"  # retry with backoff (5xx, connection refused before sending)
    UNKNOWN = "unknown"  # the request left but no answer came: never resent automatically


@dataclass(frozen=True, slots=True)
class Reply:
    """The provider's answer for one message of a batch."""

    verdict: Verdict
    started_at: float
    finished_at: float
    message_id: str | None = None
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Quota:
    """An account's sending limits, counted in recipients (SES ``GetAccount.SendQuota``)."""

    max_send_rate: float
    max_24_hour_send: float  # -1 means unlimited
    sent_last_24_hours: float = 0.0

    @property
    def remaining_24_hours(self) -> float | None:
        """Recipients left in the rolling 24 h window, or None when unlimited."""
        if self.max_24_hour_send < 0:
            return None
        return max(0.0, self.max_24_hour_send - self.sent_last_24_hours)


@runtime_checkable
class Transport(Protocol):
    """What the engine needs from a transport."""

    name: str
    max_batch: int
    content_mode: ContentMode
    max_message_bytes: int

    def open(self) -> None: ...

    def send(self, batch: Sequence[Message]) -> list[Reply]: ...

    def quota(self) -> Quota | None: ...

    def close(self) -> None: ...


class BaseTransport:
    """Supplies the lifecycle (``open``/``close``/context manager) and ``quota() -> None``."""

    name: str = "base"
    max_batch: int = 1
    content_mode: ContentMode = ContentMode.FIELDS
    max_message_bytes: int = 40 * 1024 * 1024

    def open(self) -> None:
        """Prepare connections; called once before the first ``send``."""

    def close(self) -> None:
        """Release connections; safe to call more than once."""

    def quota(self) -> Quota | None:
        """The account's limits when the provider can tell them, else None."""
        return None

    def send(self, batch: Sequence[Message]) -> list[Reply]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self) -> BaseTransport:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
