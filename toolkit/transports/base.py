"""The transport protocol: turn a batch of messages into provider calls and answers.

A transport knows one provider's wire format and nothing else: it does not pace, retry or
persist (the engine does), and it does not decide its quota (its target does). In the spirit
of Django's email backends and httpx's transports.

Contract:

* ``send(batch)`` returns exactly one :class:`~toolkit.results.Reply` per message, in order.
* A problem with one message or recipient is a ``Reply`` (``REJECTED``, ``THROTTLED``,
  ``DAILY_QUOTA``, ``TRANSIENT``, ``UNKNOWN``), never an exception.
* A fault that concerns every message (bad credentials, account suspended, unknown
  application or template) raises :class:`toolkit.errors.ProviderConfigurationError`.
* ``send`` is called from several worker threads at once; a transport keeps whatever
  per-thread state it needs (one SMTP connection per worker, one shared HTTP client).
* ``max_batch`` messages at most per ``send``; ``content_mode`` says which parts of a
  :class:`~toolkit.compose.message.Message` it reads; ``max_message_bytes`` is its size limit.
* Optional: ``ready()``, called by a worker before the pacer admits its next batch, to do
  setup that must not count against the pace (SMTP opens a connection there);
  ``max_concurrency``, the most threads worth running (the engine's cap otherwise);
  ``expected_answer_s``, seconds a message is expected to take before any was answered (SMTP
  measures its round trip while connecting), so the first workers are sized for the distance.
* Optional, for a transaction of several round trips of which the provider counts only the
  last (SMTP): ``prepare(message) -> Prepared`` runs everything before the content and
  returns; the engine's pacer admits the message, then ``Prepared.commit()`` sends the
  content and returns the replies, so the pacer's reservation spans only the round trip in
  which the provider counts. ``Prepared.replies`` is set when the provider already answered
  (a refusal before the content: no pacer slot is taken); ``Prepared.abandon()`` voids the
  transaction without sending the content (nothing is delivered), when admission did not
  come within ``Prepared.hold_s`` seconds (the provider's idle timeout comes after) or the
  run stops.

Usage::

    with SesTransport(client) as transport:
        replies = transport.send(messages)
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, runtime_checkable

from toolkit.compose.message import ContentMode, Message
from toolkit.results import Reply, Verdict

__all__ = ["BaseTransport", "Prepared", "Reply", "Transport", "TwoPhase", "Verdict"]


@runtime_checkable
class Transport(Protocol):
    """What the engine needs from a transport."""

    name: str
    max_batch: int
    content_mode: ContentMode
    max_message_bytes: int

    def open(self) -> None: ...

    def send(self, batch: Sequence[Message]) -> list[Reply]: ...

    def close(self) -> None: ...


class Prepared(Protocol):
    """A transaction prepared up to its content (see the module docstring)."""

    replies: list[Reply] | None
    """Set when the provider answered before the content (then nothing is left to do)."""
    hold_s: float
    """Seconds it may wait for ``commit`` before the provider could time it out."""

    def commit(self) -> list[Reply]: ...

    def abandon(self) -> None: ...


@runtime_checkable
class TwoPhase(Protocol):
    """A transport whose messages can be prepared before the pacer admits them."""

    def prepare(self, message: Message) -> Prepared: ...


class BaseTransport:
    """Supplies the lifecycle: ``open``/``close`` and the context manager."""

    name: str = "base"
    max_batch: int = 1
    content_mode: ContentMode = ContentMode.FIELDS
    max_message_bytes: int = 40 * 1024 * 1024
    path_estimate: object | None = None
    """Kept here by the engine, not read by the transport: what the last run through these
    connections measured of the distance (``toolkit.delivery.concurrency.PathEstimate``), so
    the next run (a Dask worker's next partition) starts sized and credited."""

    def open(self) -> None:
        """Prepare connections; called once before the first ``send``."""

    def close(self) -> None:
        """Release connections; safe to call more than once."""

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
