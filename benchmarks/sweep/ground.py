"""Counting a case from ground truth: the sandbox's mailbox against the final results.

The mailbox holds what the provider accepted, whatever the toolkit believed; the results are
what the user is told. A case is clean when the two agree:

* duplicates: copies of a message the mailbox holds for one address beyond what the case
  allowed (one, unless it asked for a resend: ``--resend-changed``, ``retry_unknown``);
* lost: an address of the final frame the mailbox delivered to, whose rows in the final
  results show neither ``sent`` nor ``unknown`` (the honest "may have gone") nor ``skipped``
  naming the delivered message's id (``ContentChanged`` names it in ``error_message``); or
  delivered rows and no results at all;
* false sent: a row reported ``sent`` without a message id, or with an id the mailbox never
  accepted for that address;
* status errors: the results do not hold exactly one final status per input row.

Addresses are compared case-folded, as the toolkit finds duplicate recipients.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

FINAL = frozenset({"sent", "rejected", "failed", "unknown", "invalid", "skipped"})


@dataclass
class Observation:
    """What one case left behind, for :func:`count`.

    ``addresses`` is the final frame's address per row (in row order); ``results`` the final
    results (None: no results were written); ``delivered`` one ``(message_id, recipients)``
    per message the provider accepted; ``allowed`` how many copies an address may get;
    ``problems`` the case's other promises that did not hold (exit status, refusals).
    Addresses in ``resent`` may get that many copies more.
    """

    addresses: Sequence[str]
    results: pd.DataFrame | None
    delivered: Sequence[tuple[str, Sequence[str]]]
    allowed: int = 1
    problems: list[str] = field(default_factory=list)
    resent: dict[str, int] = field(default_factory=dict)
    """Addresses the case asked to send again (``retry_unknown``): extra copies allowed."""


@dataclass
class Tally:
    """Counts over cases; the first five are defects, the last two only describe."""

    cases: int = 0
    duplicates: int = 0
    lost: int = 0
    false_sent: int = 0
    status_errors: int = 0
    expectations: int = 0
    harness: int = 0
    unknown_delivered: int = 0
    unknown_not_delivered: int = 0

    def add(self, other: Tally) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    @property
    def defects(self) -> int:
        return (self.duplicates + self.lost + self.false_sent + self.status_errors
                + self.expectations + self.harness)  # fmt: skip


def _fold(address: Any) -> str:
    return str(address).strip().casefold()


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def count(obs: Observation) -> tuple[Tally, list[str]]:
    """One case's :class:`Tally` and a line per defect found (for the report)."""
    tally, notes = Tally(cases=1), []
    copies: Counter[str] = Counter()
    ids_of: defaultdict[str, set[str]] = defaultdict(set)
    for message_id, recipients in obs.delivered:
        for recipient in recipients:
            copies[_fold(recipient)] += 1
            ids_of[_fold(recipient)].add(str(message_id))
    for address, n in sorted(copies.items()):
        allowed = obs.allowed + obs.resent.get(address, 0)
        if n > allowed:
            tally.duplicates += n - allowed
            notes.append(f"duplicate: {address} received {n} messages (allowed {allowed})")

    wanted = [_fold(a) for a in obs.addresses]
    if obs.results is None:
        lost = sorted({a for a in wanted if copies[a]})
        tally.lost += len(lost)
        notes += [f"lost: {a} was delivered and no results were written" for a in lost]
        tally.expectations += len(obs.problems)
        notes += [f"expectation: {p}" for p in obs.problems]
        return tally, notes

    results = obs.results.reset_index(drop=True)
    statuses = [_text(s) for s in results.get("status", pd.Series([None] * len(results)))]
    bad = [i for i, s in enumerate(statuses) if s not in FINAL]
    if len(results) != len(wanted) or bad:
        tally.status_errors += abs(len(results) - len(wanted)) + len(bad)
        notes.append(f"status: {len(results)} result rows for {len(wanted)} input rows, "
                     f"{len(bad)} without a final status")  # fmt: skip
    if "input_index" in results and len(results):
        positions = Counter(int(i) for i in results["input_index"])
        twice = sum(n - 1 for n in positions.values() if n > 1)
        if twice:
            tally.status_errors += twice
            notes.append(f"status: {twice} input rows appear more than once in the results")

    recipients = [_fold(r) for r in results.get("recipient", pd.Series([""] * len(results)))]
    message_ids = [_text(m) for m in results.get("message_id", pd.Series([""] * len(results)))]
    errors = [_text(m) for m in results.get("error_message", pd.Series([""] * len(results)))]
    rows_of: defaultdict[str, list[int]] = defaultdict(list)
    for i, address in enumerate(recipients):
        rows_of[address].append(i)
    for i, (status, address, message_id) in enumerate(
        zip(statuses, recipients, message_ids, strict=True)
    ):
        if status == "sent" and (not message_id or message_id not in ids_of[address]):
            tally.false_sent += 1
            why = "no message_id" if not message_id else f"{message_id} never accepted for it"
            notes.append(f"false sent: row {i} ({address}) is 'sent' with {why}")
        if status == "unknown":
            if copies[address]:
                tally.unknown_delivered += 1
            else:
                tally.unknown_not_delivered += 1
    for address in sorted({a for a in wanted if copies[a]}):
        shown = [(statuses[i], message_ids[i] or errors[i]) for i in rows_of.get(address, [])]
        if not any(s in ("sent", "unknown")
                   or (s == "skipped" and any(i in m for i in ids_of[address]))
                   for s, m in shown):  # fmt: skip
            tally.lost += 1
            notes.append(f"lost: {address} was delivered; the results show {shown or 'no row'}")
    tally.expectations += len(obs.problems)
    notes += [f"expectation: {p}" for p in obs.problems]
    return tally, notes


def delivered_from(messages: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """``(message_id, recipients)`` per row of ``Mailbox.messages()``."""
    if messages.empty:
        return []
    return [(str(m), list(r)) for m, r in zip(messages["message_id"], messages["recipients"],
                                              strict=True)]  # fmt: skip


def total(tallies: Iterable[Tally]) -> Tally:
    result = Tally()
    for tally in tallies:
        result.add(tally)
    return result
