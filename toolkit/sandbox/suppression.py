"""The sandbox account's suppression list, kept as SES keeps its account-level list.

One :class:`AccountSuppression` per sandbox: entries put by the API
(``PutSuppressedDestination``) or added by SES itself when a message hard-bounces or draws a
complaint and that reason is in the account's ``SuppressedReasons`` (default BOUNCE and
COMPLAINT, as for every account since 2019-11-25; ``SES_SUPPRESSION_DEFAULT_REASONS``).
Entries stay until deleted. A send is suppressed only for an entry whose reason is among the
reasons in force: the account's, or those of the configuration set the send names when the set
has ``SuppressionOptions`` (``SES_SUPPRESSION_REASONS_IN_FORCE``). Addresses match
case-insensitively on the bare address (``SES_SUPPRESSION_ADDRESS_MATCH``: AWS documents no
rule; matching more is never more lenient).

Usage::

    suppression = AccountSuppression()
    suppression.put("Dead@Example.org", "BOUNCE")
    suppression.get("dead@example.org")          # SuppressedDestination(...)
    suppression.entries(reasons=["BOUNCE"])      # newest first
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from toolkit.facts import SES_SUPPRESSION_DEFAULT_REASONS
from toolkit.sandbox.identities import bare_address

__all__ = ["REASONS", "AccountSuppression", "SuppressedDestination", "suppression_key"]

REASONS = ("BOUNCE", "COMPLAINT")


def suppression_key(address: str) -> str:
    """How the list compares addresses: the bare address, stripped, lower case."""
    return bare_address(address).strip().lower()


@dataclass(frozen=True, slots=True)
class SuppressedDestination:
    """One entry, as ``GetSuppressedDestination`` describes it."""

    email_address: str
    reason: str
    last_update_time: float  # unix seconds
    message_id: str = ""
    feedback_id: str = ""

    def summary(self) -> dict[str, Any]:
        """The ``SuppressedDestinationSummary`` of ListSuppressedDestinations."""
        return {
            "EmailAddress": self.email_address,
            "Reason": self.reason,
            "LastUpdateTime": self.last_update_time,
        }

    def detail(self) -> dict[str, Any]:
        """The ``SuppressedDestination`` of GetSuppressedDestination."""
        answer = self.summary()
        attributes = {
            key: value
            for key, value in (("MessageId", self.message_id), ("FeedbackId", self.feedback_id))
            if value
        }
        if attributes:
            answer["Attributes"] = attributes
        return answer


class AccountSuppression:
    """The account-level suppression list and its ``SuppressedReasons``; thread-safe.

    Args:
        reasons: the account's SuppressedReasons (which feedback adds an address by itself).
        clock: unix seconds (``LastUpdateTime``); tests pass a fake one.
        on_change: called after every change (the sandbox persists the list from it).
    """

    def __init__(
        self,
        reasons: Iterable[str] = SES_SUPPRESSION_DEFAULT_REASONS.value,
        *,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._reasons = _checked_reasons(reasons)
        self._entries: dict[str, SuppressedDestination] = {}
        self._clock = clock
        self._lock = threading.Lock()
        self.on_change = on_change

    # -- settings ----------------------------------------------------------------------------

    @property
    def reasons(self) -> tuple[str, ...]:
        """The account's SuppressedReasons, in SES's order."""
        return self._reasons

    def set_reasons(self, reasons: Iterable[str]) -> None:
        """PutAccountSuppressionAttributes (ValueError names an unknown reason)."""
        self._reasons = _checked_reasons(reasons)
        self._changed()

    # -- entries ----------------------------------------------------------------------------

    def put(
        self, address: str, reason: str, *, message_id: str = "", feedback_id: str = ""
    ) -> SuppressedDestination:
        """Add or update one address (PutSuppressedDestination, or SES's own feedback)."""
        if reason not in REASONS:
            raise ValueError(f"unknown suppression reason {reason!r}")
        entry = SuppressedDestination(
            bare_address(address).strip(), reason, self._clock(), message_id, feedback_id
        )
        with self._lock:
            self._entries[suppression_key(address)] = entry
        self._changed()
        return entry

    def feedback(
        self,
        address: str,
        reason: str,
        message_id: str,
        feedback_id: str,
        reasons: Iterable[str] | None = None,
    ) -> bool:
        """SES adds an address after a hard bounce / complaint when ``reason`` is one of the
        reasons in force (``reasons``, default the account's); returns whether it did."""
        if reason not in (self._reasons if reasons is None else reasons):
            return False
        self.put(address, reason, message_id=message_id, feedback_id=feedback_id)
        return True

    def get(self, address: str) -> SuppressedDestination | None:
        """The entry for ``address`` (any case), or None."""
        with self._lock:
            return self._entries.get(suppression_key(address))

    def listed(self, address: str, reasons: Iterable[str] | None = None) -> bool:
        """Whether a send to ``address`` is suppressed: on the list for one of the reasons in
        force (``reasons``, default the account's); free while the list is empty (the hot
        path of every accepted message)."""
        if not self._entries:  # unlocked peek: a put racing with a send may go either way
            return False
        entry = self.get(address)
        return entry is not None and entry.reason in (self._reasons if reasons is None else reasons)

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and self.get(address) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def delete(self, address: str) -> bool:
        """Remove one address; False when it was not on the list."""
        with self._lock:
            removed = self._entries.pop(suppression_key(address), None)
        if removed is not None:
            self._changed()
        return removed is not None

    def entries(
        self,
        *,
        reasons: Iterable[str] | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> list[SuppressedDestination]:
        """Entries newest first, filtered as ListSuppressedDestinations filters them
        (``start``/``end`` bound LastUpdateTime, both inclusive)."""
        wanted = set(reasons) if reasons else None
        with self._lock:
            found = list(self._entries.values())
        found = [
            e
            for e in found
            if (wanted is None or e.reason in wanted)
            and (start is None or e.last_update_time >= start)
            and (end is None or e.last_update_time <= end)
        ]
        found.sort(key=lambda e: (-e.last_update_time, e.email_address))
        return found

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """What the sandbox stores in its state table."""
        with self._lock:
            entries = [asdict(e) for e in self._entries.values()]
        return {"reasons": list(self._reasons), "entries": entries}

    def load_json(self, stored: dict[str, Any]) -> None:
        """Restore :meth:`to_json`'s form (after a restart on the same state directory)."""
        with self._lock:
            self._reasons = _checked_reasons(stored.get("reasons", ()))
            self._entries = {
                suppression_key(e["email_address"]): SuppressedDestination(**e)
                for e in stored.get("entries", ())
            }

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def _checked_reasons(reasons: Iterable[str]) -> tuple[str, ...]:
    given = set(reasons)
    unknown = given - set(REASONS)
    if unknown:
        raise ValueError(f"unknown suppression reason(s): {', '.join(sorted(unknown))}")
    return tuple(r for r in REASONS if r in given)
