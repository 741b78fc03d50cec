"""What happens to each accepted recipient: simulator, suppression list, bounce, complaint.

The mailbox asks :meth:`Feedback.events` for the events of every message it records (unless
the interface already decided them, e.g. a rendering failure). In SES's order:

* mailbox-simulator addresses produce their documented events and count toward nothing;
* an address on the account's suppression list for a reason in force (the account's
  SuppressedReasons, or the configuration set's when it has SuppressionOptions) is not sent:
  one bounce, ``Permanent/OnAccountSuppressionList`` with SES's words; it does not count toward the
  bounce rate (it does count toward the daily quota, which the policy already counted);
* any other recipient hard-bounces with probability ``bounce_rate`` (always, when it is one of
  ``dead_mailboxes``), or is delivered and then complains with probability
  ``complaint_rate``; these feed the account's :class:`~.reputation.Reputation`, and a hard
  bounce or complaint joins the suppression list when its reason is in SuppressedReasons.

Draws come from one ``random.Random`` seeded from the sandbox's seed, under a lock.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable, Sequence

from toolkit.errors import ConfigurationError
from toolkit.sandbox.mailbox import random_uuid
from toolkit.sandbox.policy import is_simulator, simulator_events
from toolkit.sandbox.reputation import Reputation
from toolkit.sandbox.suppression import AccountSuppression, suppression_key

__all__ = ["HARD_BOUNCE", "SUPPRESSED_BOUNCE", "Feedback"]

SUPPRESSED_BOUNCE = (
    "Permanent/OnAccountSuppressionList: Amazon SES did not send the message to this address "
    "because it is on the suppression list for your account."
)
HARD_BOUNCE = "Permanent/General: smtp; 550 5.1.1 user unknown"
COMPLAINT = "RFC 5965 feedback: abuse"
DELIVERY = "250 2.6.0 Message received"

Event = tuple[str, str, str]  # (recipient, event, detail)


def _rate(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ConfigurationError(f"the sandbox's {name} must be between 0 and 1, not {value!r}")
    return float(value)


class Feedback:
    """Per-recipient outcomes of accepted messages (see the module docstring).

    Args:
        suppression: the account's suppression list.
        reputation: the account's rates and status.
        bounce_rate, complaint_rate: probabilities per ordinary recipient (sum at most 1).
        dead_mailboxes: addresses that always hard-bounce.
        seed: same seed and same sequence of recipients → same outcomes.
    """

    def __init__(
        self,
        suppression: AccountSuppression,
        reputation: Reputation,
        *,
        bounce_rate: float = 0.0,
        complaint_rate: float = 0.0,
        dead_mailboxes: Iterable[str] = (),
        seed: int | None = None,
    ) -> None:
        self.bounce_rate = _rate("bounce rate", bounce_rate)
        self.complaint_rate = _rate("complaint rate", complaint_rate)
        if self.bounce_rate + self.complaint_rate > 1.0:
            raise ConfigurationError("the sandbox's bounce rate + complaint rate must not exceed 1")
        self.suppression = suppression
        self.reputation = reputation
        self.dead_mailboxes = frozenset(suppression_key(a) for a in dead_mailboxes)
        self._random = random.Random(None if seed is None else f"feedback-{seed}")
        self._lock = threading.Lock()

    def events(
        self,
        interface: str,
        message_id: str,
        recipients: Sequence[str],
        reasons: Sequence[str] | None = None,
    ) -> list[Event]:
        """The events of one accepted message, one or more per recipient; ``reasons`` are the
        SuppressedReasons of the configuration set the send named, when it has its own."""
        del interface  # the list applies to every way of sending through the account
        out: list[Event] = []
        outcomes: list[str] = []  # for the reputation: one per eligible recipient
        listed = self.suppression.listed  # no lock, no parsing while the list is empty
        for recipient in recipients:
            if is_simulator(recipient):
                out.extend((recipient, e.kind, e.detail) for e in simulator_events(recipient))
            elif listed(recipient, reasons):
                out.append((recipient, "bounce", SUPPRESSED_BOUNCE))
            else:
                kind = self._draw(recipient)
                outcomes.append(kind)
                if kind == "bounce":
                    self.suppression.feedback(
                        recipient, "BOUNCE", message_id, _feedback_id(), reasons
                    )
                    out.append((recipient, "bounce", HARD_BOUNCE))
                elif kind == "complaint":
                    self.suppression.feedback(
                        recipient, "COMPLAINT", message_id, _feedback_id(), reasons
                    )
                    out.append((recipient, "delivery", DELIVERY))
                    out.append((recipient, "complaint", COMPLAINT))
                else:
                    out.append((recipient, "delivery", DELIVERY))
        if outcomes:
            self.reputation.record_many(outcomes)
        return out

    def _draw(self, recipient: str) -> str:
        if self.dead_mailboxes and suppression_key(recipient) in self.dead_mailboxes:
            return "bounce"
        if not (self.bounce_rate or self.complaint_rate):
            return "delivery"
        with self._lock:
            u = self._random.random()
        if u < self.bounce_rate:
            return "bounce"
        if u < self.bounce_rate + self.complaint_rate:
            return "complaint"
        return "delivery"


def _feedback_id() -> str:
    """A FeedbackId shaped like SES's (``0100`` + hex, a UUID, ``-000000``)."""
    return f"0100{random_uuid().replace('-', '')[:12]}-{random_uuid()}-000000"
