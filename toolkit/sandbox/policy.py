"""The one SES-like sending policy shared by the sandbox's HTTP API and SMTP server.

Both interfaces ask the same :class:`Policy` before accepting a message, so a rate limit, a
daily quota or an unverified sender looks the same whether the toolkit talks SES v2, Pinpoint
or SMTP — as it does at AWS, where they all draw on one account's quota.

What it models (the limits and their sources are in :mod:`toolkit.facts`):

* identities: addresses and domains, each ``PENDING`` until verified (those given at start-up,
  by default ``sender@example.com`` and ``example.com``, are verified); a sender may send when
  its address, the address without its ``+label``, its domain or a parent domain is verified;
  local parts compare case-sensitively, domains case-insensitively, as at SES; a pending
  address fails after 24 h, a pending domain after 72 h;
* ``MaxSendRate`` counted in *recipients* over an exact sliding one-second window (never more
  than R recipients admitted in any 1 s window), except that a message with more recipients
  than R is admitted once the window is empty and then blocks sending for count/R seconds
  (the short burst SES allows, modelled on AWS's own example; see ``SES_BURST_MODEL`` in
  :mod:`toolkit.facts`);
* ``Max24HourSend`` (-1 = unlimited) over a rolling 24 h window, reported as ``SentLast24Hours``;
* the sandbox-account mode: only verified recipients and the mailbox simulator;
* the mailbox simulator (``success``/``bounce``/``ooto``/``complaint``/``suppressionlist``
  ``@simulator.amazonses.com``, ``+label`` allowed): it counts against the rate but not
  against the daily quota; :func:`simulator_events` says what each recipient produces;
* per-message checks: at most 50 recipients, at most 40 MB (one answer at every size:
  ``BadRequestException`` "Message length is more than 41943040 bytes long: 'n'.").

Usage (what an interface does per message)::

    admission = policy.admit("smtp", sender, recipients, size_bytes)
    if admission.ok:
        message_id = mailbox.add(interface="smtp", sender=sender, recipients=recipients, ...)
        reply = f"250 Ok {message_id}"
    else:
        reply = admission.smtp_reply          # e.g. "454 Throttling failure: ..."
        # HTTP: admission.error_code / admission.message / admission.http_status

:class:`Policy` is thread-safe (one lock); ``admit`` costs a few microseconds.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from toolkit.errors import ConfigurationError
from toolkit.facts import SES_MAX_MESSAGE_BYTES, SES_MAX_RECIPIENTS_PER_MESSAGE
from toolkit.sandbox.identities import (
    FAILED,
    PENDING,
    SUCCESS,
    Identity,
    IdentityStore,
    bare_address,
    identity_key,
    identity_kind,
)

__all__ = [
    "FAILED",
    "PENDING",
    "SUCCESS",
    "Admission",
    "Decision",
    "Identity",
    "Policy",
    "Reason",
    "bare_address",
    "identity_key",
    "identity_kind",
    "is_simulator",
    "simulator_events",
    "too_large_message",
]

SIMULATOR_DOMAIN = "simulator.amazonses.com"
MAX_RECIPIENTS = SES_MAX_RECIPIENTS_PER_MESSAGE.value  # 50, To + Cc + Bcc
MAX_MESSAGE_BYTES = SES_MAX_MESSAGE_BYTES.value  # 40 MB (SES v2 API and SMTP)
DEFAULT_IDENTITIES = ("sender@example.com", "example.com")
_DAY = 86_400.0


class Decision(enum.Enum):
    """The three ways a policy can answer."""

    ACCEPTED = "accepted"
    THROTTLED = "throttled"
    REJECTED = "rejected"


class Reason(enum.Enum):
    """Why a message was not accepted (``NONE`` when it was)."""

    NONE = "none"
    RATE = "rate"  # MaxSendRate exceeded in the last second
    DAILY = "daily"  # Max24HourSend exceeded
    UNVERIFIED_SENDER = "unverified_sender"
    UNVERIFIED_RECIPIENT = "unverified_recipient"  # sandbox-account mode only
    TOO_MANY_RECIPIENTS = "too_many_recipients"  # > 50
    TOO_LARGE = "too_large"  # > 40 MB
    NO_RECIPIENTS = "no_recipients"
    SENDING_PAUSED = "sending_paused"  # SendingEnabled is false


@dataclass(frozen=True, slots=True)
class Admission:
    """The policy's answer for one message, with the words each interface should use.

    ``error_code`` / ``http_status`` / ``message`` are the SES v2 error (botocore raises the
    modeled exception from them); ``smtp_reply`` is the full SES SMTP reply line.
    """

    decision: Decision
    reason: Reason = Reason.NONE
    message: str = ""
    error_code: str = ""
    http_status: int = 200
    smtp_reply: str = "250 Ok"

    @property
    def ok(self) -> bool:
        """True when the message may be accepted (and has been counted against the quota)."""
        return self.decision is Decision.ACCEPTED

    @property
    def throttled(self) -> bool:
        """True for rate or daily-quota throttling (retry later)."""
        return self.decision is Decision.THROTTLED

    @property
    def rejected(self) -> bool:
        """True for a permanent refusal (fix the message or the account first)."""
        return self.decision is Decision.REJECTED


ACCEPTED = Admission(Decision.ACCEPTED)

RATE_MESSAGE = "Maximum sending rate exceeded."
DAILY_MESSAGE = "Daily message quota exceeded."
TOO_LARGE_REPLY = "552 Message is too long."


def too_large_message(size: int) -> str:
    """SES's words for a message over 40 MB (the v1 API's, with the v2 limit)."""
    return f"Message length is more than {MAX_MESSAGE_BYTES} bytes long: '{size}'."


def _throttled(reason: Reason, message: str) -> Admission:
    return Admission(
        Decision.THROTTLED,
        reason,
        message,
        "TooManyRequestsException",
        429,
        f"454 Throttling failure: {message}",
    )


_RATE = _throttled(Reason.RATE, RATE_MESSAGE)
_DAILY = _throttled(Reason.DAILY, DAILY_MESSAGE)


def _rejected(
    reason: Reason,
    message: str,
    smtp_code: int = 554,
    code: str = "MessageRejected",
    status: int = 400,
) -> Admission:
    return Admission(
        Decision.REJECTED, reason, message, code, status, f"{smtp_code} Message rejected: {message}"
    )


@dataclass(frozen=True, slots=True)
class SimulatedEvent:
    """One event the mailbox records for one recipient (delivery, bounce, complaint, ...)."""

    kind: str  # "delivery" | "bounce" | "complaint" | "auto-reply"
    detail: str


_DELIVERY = SimulatedEvent("delivery", "250 2.6.0 Message received")
_SIMULATOR_EVENTS: dict[str, tuple[SimulatedEvent, ...]] = {
    "success": (_DELIVERY,),
    "bounce": (SimulatedEvent("bounce", "Permanent/General: smtp; 550 5.1.1 user unknown"),),
    "ooto": (_DELIVERY, SimulatedEvent("auto-reply", "RFC 3834 auto-reply: out of the office")),
    "complaint": (_DELIVERY, SimulatedEvent("complaint", "RFC 5965 feedback: abuse")),
    "suppressionlist": (
        SimulatedEvent(
            "bounce",
            "Permanent/OnAccountSuppressionList: Amazon SES has suppressed sending to this "
            "address because it is on the account-level suppression list.",
        ),
    ),
}
_NORMAL_EVENTS = (_DELIVERY,)


def is_simulator(address: str) -> bool:
    """True for any address at the SES mailbox simulator domain."""
    return bare_address(address).lower().endswith("@" + SIMULATOR_DOMAIN)


def simulator_events(recipient: str) -> tuple[SimulatedEvent, ...]:
    """The events one accepted recipient produces (a plain delivery unless it is a simulator
    address; ``bounce+label@simulator.amazonses.com`` behaves like ``bounce@``)."""
    if not is_simulator(recipient):
        return _NORMAL_EVENTS
    local = bare_address(recipient).rpartition("@")[0].split("+", 1)[0].lower()
    return _SIMULATOR_EVENTS.get(local, _NORMAL_EVENTS)


class _Window:
    """Recipients admitted over a sliding window, exact to the clock's resolution.

    Entries are ``[time, count]``; entries with the same bucket key are merged so that the
    24 h window keeps at most one entry per second.
    """

    __slots__ = ("_bucket", "_entries", "_span", "_total")

    def __init__(self, span: float, bucket: float = 0.0) -> None:
        self._entries: deque[list[float]] = deque()
        self._span = span
        self._bucket = bucket
        self._total = 0

    def total(self, now: float) -> int:
        entries = self._entries
        cutoff = now - self._span
        while entries and entries[0][0] <= cutoff:
            self._total -= int(entries.popleft()[1])
        return self._total

    def add(self, now: float, count: int) -> None:
        entries = self._entries
        if self._bucket:
            key = now - (now % self._bucket)
            if entries and entries[-1][0] == key:
                entries[-1][1] += count
            else:
                entries.append([key, count])
        else:
            entries.append([now, count])
        self._total += count

    def clear(self) -> None:
        self._entries.clear()
        self._total = 0


@dataclass(frozen=True, slots=True)
class SendQuota:
    """A snapshot of the account's quota, as SES ``GetAccount.SendQuota`` reports it."""

    max_24_hour_send: float
    max_send_rate: float
    sent_last_24_hours: float


class Policy(IdentityStore):
    """Verified identities, send rate, daily quota and sandbox-account rules for one region.

    The identity methods (``add_identity``, ``verify_identity``, ``is_verified`` …) are
    :class:`~toolkit.sandbox.identities.IdentityStore`'s.

    Args:
        max_send_rate: recipients per second admitted in any one-second window.
        max_24_hour_send: recipients per rolling 24 h (simulator excluded); -1 = unlimited.
        sandbox_account: like an SES account still in the sandbox: recipients must be verified
            identities or simulator addresses.
        region: named in SES's "not verified" message.
        identities: initially verified addresses/domains (default: ``sender@example.com`` and
            ``example.com``).
        clock: monotonic seconds; unit tests pass a fake one.
    """

    def __init__(
        self,
        *,
        max_send_rate: float = 1000.0,
        max_24_hour_send: float = -1,
        sandbox_account: bool = False,
        region: str = "us-east-1",
        identities: Iterable[str] = DEFAULT_IDENTITIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (isinstance(max_send_rate, int | float) and math.isfinite(max_send_rate)
                and max_send_rate > 0):  # fmt: skip
            raise ConfigurationError(
                f"the sandbox's rate must be a number > 0, not {max_send_rate!r}"
            )
        if not (isinstance(max_24_hour_send, int | float) and math.isfinite(max_24_hour_send)
                and (max_24_hour_send >= 0 or max_24_hour_send == -1)):  # fmt: skip
            raise ConfigurationError(
                f"the sandbox's daily quota must be ≥ 0 or -1 (unlimited), not {max_24_hour_send!r}"
            )
        self.max_send_rate = float(max_send_rate)
        self.max_24_hour_send = float(max_24_hour_send)
        self.sandbox_account = sandbox_account
        self.sending_enabled = True
        self.region = region
        self._clock = clock
        self._lock = threading.Lock()
        super().__init__(identities)
        self._second = _Window(1.0)
        self._day = _Window(_DAY, bucket=1.0)
        self._blocked_until = 0.0  # after a burst above MaxSendRate

    # -- quota ------------------------------------------------------------------------------

    def quota(self) -> SendQuota:
        """What ``GetAccount`` reports now."""
        with self._lock:
            sent = self._day.total(self._clock())
        return SendQuota(self.max_24_hour_send, self.max_send_rate, float(sent))

    def reset_counters(self) -> None:
        """Forget every admitted recipient (tests and benchmarks between runs)."""
        with self._lock:
            self._second.clear()
            self._day.clear()
            self._blocked_until = 0.0

    # -- the check --------------------------------------------------------------------------

    def admit(
        self,
        interface: str,
        sender: str,
        recipients: Sequence[str],
        size_bytes: int = 0,
    ) -> Admission:
        """Decide one message; when accepted, its recipients are counted against the quota.

        ``interface`` ('ses-api', 'ses-bulk', 'pinpoint', 'smtp', ...) is informational today.
        Checks run in SES's order: message shape (recipients, size), identities, then quota.
        """
        del interface
        count = len(recipients)
        if count == 0:
            return _rejected(
                Reason.NO_RECIPIENTS, "Missing final '@domain'", 554, "BadRequestException"
            )
        if count > MAX_RECIPIENTS:
            return _rejected(
                Reason.TOO_MANY_RECIPIENTS,
                f"Recipient count exceeds {MAX_RECIPIENTS}.",
                554,
            )
        if size_bytes > MAX_MESSAGE_BYTES:
            return Admission(
                Decision.REJECTED,
                Reason.TOO_LARGE,
                too_large_message(size_bytes),
                "BadRequestException",
                400,
                TOO_LARGE_REPLY,
            )
        if not self.sending_enabled:
            return _rejected(
                Reason.SENDING_PAUSED,
                "Sending is paused for this account.",
                554,
                "SendingPausedException",
            )
        if not self.is_verified(sender):
            return _rejected(Reason.UNVERIFIED_SENDER, self._unverified_message([sender.strip()]))
        if self.sandbox_account:
            bad = [
                r.strip()
                for r in recipients
                if not (is_simulator(r) or self.is_verified(r, labels=False))
            ]
            if bad:
                return _rejected(Reason.UNVERIFIED_RECIPIENT, self._unverified_message(bad))
        billable = count - sum(1 for r in recipients if is_simulator(r))
        with self._lock:
            now = self._clock()
            if (
                billable
                and self.max_24_hour_send >= 0
                and (self._day.total(now) + billable > self.max_24_hour_send)
            ):
                return _DAILY
            if now < self._blocked_until:
                return _RATE
            in_window = self._second.total(now)
            if in_window + count > self.max_send_rate:
                if count <= self.max_send_rate or in_window:
                    return _RATE
                # More recipients than the rate, on an idle account: SES lets the burst through
                # and then refuses sends until the account has caught up (count / rate s).
                self._blocked_until = now + count / self.max_send_rate
            self._second.add(now, count)
            if billable:
                self._day.add(now, billable)
        return ACCEPTED

    def check_sender(self, sender: str) -> Admission:
        """Only the sender check of :meth:`admit` (nothing is counted): for bulk calls,
        where an unverified sender fails the whole request rather than each entry."""
        if self.is_verified(sender):
            return ACCEPTED
        return _rejected(Reason.UNVERIFIED_SENDER, self._unverified_message([sender.strip()]))

    def _unverified_message(self, identities: Sequence[str]) -> str:
        return (
            "Email address is not verified. The following identities failed the check in "
            f"region {self.region.upper()}: {', '.join(identities)}"
        )
