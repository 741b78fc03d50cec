"""Addresses not to send to, from every list that knows one, checked in pre-flight.

A message to an address on SES's account-level suppression list is accepted and then dropped
(a bounce the sender never sees unless it follows events); an address that unsubscribed or
bounced in an earlier run should not be tried at all. :class:`SuppressionList` gathers:

* the account's list (``ListSuppressedDestinations``, paged, at most one request per second:
  ``SES_SUPPRESSION_LIST_PAGE``), through any boto3-shaped ``sesv2`` client, only the entries
  whose reason SES applies to the send (:func:`reasons_in_force`: the configuration set's
  SuppressedReasons when it has its own, else the account's), since SES sends to the others;
* a file of the user's (CSV or Parquet, e.g. an unsubscribe export);
* the hard bounces and complaints the toolkit recorded from earlier runs
  (:mod:`toolkit.measure.history`).

Pre-flight marks a row whose To address is on any of them ``skipped`` with error code
``Suppressed`` and a message naming the list. Addresses compare as the account list does in
the sandbox: bare address, case-insensitive (``SES_SUPPRESSION_ADDRESS_MATCH``). The list is
read once, when it is built (cached for the run). Nothing here writes to the account list:
:func:`suppress_at_account` is the one explicit call that does.

Usage::

    stop = SuppressionList().load_account(boto3.client("sesv2")).load_file("unsubscribed.csv")
    spec = ComposeSpec(..., suppression=stop)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.errors import ConfigurationError
from toolkit.facts import SES_SUPPRESSION_LIST_PAGE

__all__ = [
    "SUPPRESSED",
    "SuppressionList",
    "reasons_in_force",
    "suppress_at_account",
    "suppressed_rows",
    "suppression_key",
]

SUPPRESSED = "Suppressed"  # the error_code of a row skipped because of a list
_MAX_PAGE = SES_SUPPRESSION_LIST_PAGE.value[1]
_ADDRESS_COLUMNS = ("email", "email_address", "emailaddress", "address", "recipient", "to")


def suppression_key(address: str) -> str:
    """How lists compare addresses: the bare address, stripped, lower case."""
    text = str(address).strip()
    if "<" in text:
        text = parseaddr(text)[1] or text
    return text.strip().lower()


class SuppressionList:
    """Addresses not to send to, each with the list that named it (the first one wins)."""

    def __init__(self) -> None:
        self._entries: dict[str, str] = {}  # key -> "which list said so"

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and suppression_key(address) in self._entries

    def __repr__(self) -> str:
        return f"SuppressionList({len(self)} addresses)"

    def source(self, address: str) -> str | None:
        """Which list holds ``address`` (any case), or None."""
        return self._entries.get(suppression_key(address))

    def copy(self) -> SuppressionList:
        """A new list with the same entries (a send adds the account's list to its copy)."""
        twin = SuppressionList()
        twin._entries = dict(self._entries)
        return twin

    def add(self, addresses: Iterable[str], source: str) -> SuppressionList:
        """Add addresses with the name of the list they come from; returns self."""
        entries = self._entries
        for address in addresses:
            if isinstance(address, str) and address.strip():
                entries.setdefault(suppression_key(address), source)
        return self

    def lookup(self, keys: pd.Series) -> pd.Series:
        """For already-keyed addresses (:func:`suppression_key`), the list's name or NaN."""
        return keys.map(self._entries)

    # -- sources -------------------------------------------------------------------------

    def load_account(
        self,
        client: Any,
        *,
        reasons: Iterable[str] | None = None,
        min_interval: float = 1.0,
        page_size: int = _MAX_PAGE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> SuppressionList:
        """Read the account-level list through a ``sesv2`` client, page by page, no faster
        than one request per ``min_interval`` seconds (SES's management calls are rate-limited
        per account, and a send is using the same account). ``reasons`` keeps only entries
        listed for those reasons (None: every entry; empty: none, SES suppresses nothing)."""
        params: dict[str, Any] = {"PageSize": page_size}
        if reasons is not None:
            wanted = list(reasons)
            if not wanted:
                return self
            params["Reasons"] = wanted
        last = None
        while True:
            if last is not None:
                wait = min_interval - (clock() - last)
                if wait > 0:
                    sleep(wait)
            last = clock()
            page = client.list_suppressed_destinations(**params)
            for entry in page.get("SuppressedDestinationSummaries", ()):
                reason = str(entry.get("Reason", "")).lower() or "listed"
                self.add([entry["EmailAddress"]], f"the account's suppression list ({reason})")
            token = page.get("NextToken")
            if not token:
                return self
            params["NextToken"] = token

    def load_file(self, path: str | os.PathLike[str], column: str | None = None) -> SuppressionList:
        """Read addresses from a CSV or Parquet file (e.g. an unsubscribe export).

        ``column`` names the address column; by default one called email/address/recipient
        (any case), or the file's only column.
        """
        file = Path(path)
        try:
            if file.suffix.lower() in (".parquet", ".pq"):
                frame = pd.read_parquet(file)
            else:
                frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        except FileNotFoundError:
            raise ConfigurationError(f"suppression file {file} does not exist") from None
        except (OSError, ValueError, ImportError) as exc:
            raise ConfigurationError(f"cannot read suppression file {file}: {exc}") from None
        chosen = column if column is not None else _address_column(frame, file)
        if chosen not in frame.columns:
            raise ConfigurationError(f"suppression file {file} has no column {chosen!r}")
        values = frame[chosen].dropna().astype(str).tolist()
        if column is None and "@" in str(chosen):  # a file without a header row
            values.append(str(chosen))
        return self.add(values, f"the suppression file {file.name}")

    def load_history(self, path: str | os.PathLike[str]) -> SuppressionList:
        """Read the hard bounces and complaints recorded from earlier runs."""
        from toolkit.measure.history import FeedbackHistory

        for address, reason, at, _message_id in FeedbackHistory(path).entries():
            when = pd.Timestamp(at, unit="s", tz="UTC").strftime("%Y-%m-%d")
            what = "complained" if reason == "COMPLAINT" else "hard-bounced"
            self.add([address], f"an earlier run ({what} {when})")
        return self

    @classmethod
    def build(
        cls,
        *,
        client: Any = None,
        file: str | os.PathLike[str] | None = None,
        history: str | os.PathLike[str] | None = None,
    ) -> SuppressionList:
        """The lists a send names, read once (what ``suppression_file=`` and friends build)."""
        found = cls()
        if client is not None:
            found.load_account(client)
        if file is not None:
            found.load_file(file)
        if history is not None:
            found.load_history(history)
        return found


def reasons_in_force(client: Any, configuration_set: str | None = None) -> list[str] | None:
    """The SuppressedReasons SES applies to a send (``SES_SUPPRESSION_REASONS_IN_FORCE``): the
    configuration set's when it has SuppressionOptions, else the account's (GetAccount).

    None when the credentials may not read them (AccessDenied) or the account does not say:
    then every entry counts, as skipping an address SES would send to costs one row while
    sending to one it drops costs a bounce.
    """
    try:
        if configuration_set:
            found = client.get_configuration_set(ConfigurationSetName=configuration_set)
            options = found.get("SuppressionOptions")
            if options is not None:
                return list(options.get("SuppressedReasons") or ())
        attributes = client.get_account().get("SuppressionAttributes")
    except Exception as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if "AccessDenied" in code:
            return None
        raise
    if attributes is None or "SuppressedReasons" not in attributes:
        return None
    return list(attributes["SuppressedReasons"] or ())


def suppressed_rows(
    to_text: pd.Series, overrides: dict[int, str], rows: np.ndarray, stop: SuppressionList
) -> list[tuple[int, str, str]]:
    """``(row, address, list)`` for each of ``rows`` (positions) whose To holds an address on
    ``stop``. ``to_text`` is the To column as text, ``overrides`` pre-flight's normalized
    cells by position (bare addresses joined by commas)."""
    if not len(stop) or not len(rows):
        return []
    cells = np.array(to_text.iloc[rows].tolist(), dtype=object)
    if overrides:  # rows is ascending (positions from np.flatnonzero)
        changed = np.fromiter(overrides, dtype=np.int64, count=len(overrides))
        at = np.minimum(np.searchsorted(rows, changed), len(rows) - 1)
        hit = rows[at] == changed
        for k, row in zip(at[hit].tolist(), changed[hit].tolist(), strict=True):
            cells[k] = overrides[row]
    keys = pd.Series(cells, dtype=object).fillna("").astype(str).str.strip().str.lower()
    found: list[tuple[int, str, str]] = []
    single = ~keys.str.contains(r"[,<]", regex=True)
    hits = stop.lookup(keys.where(single))
    for k in np.flatnonzero(hits.notna().to_numpy()).tolist():
        found.append((int(rows[k]), str(cells[k]).strip(), str(hits.iat[k])))
    for k in np.flatnonzero(~single.to_numpy()).tolist():
        for address in str(cells[k]).split(","):
            listed = stop.source(address)
            if listed is not None:
                found.append((int(rows[k]), suppression_key(address), listed))
                break
    found.sort()
    return found


def suppress_at_account(client: Any, addresses: Iterable[str], reason: str = "BOUNCE") -> int:
    """Put addresses on the account-level suppression list (PutSuppressedDestination, one
    request per address). The explicit step that writes back: nothing else in the toolkit
    does. Returns how many were put."""
    if reason not in ("BOUNCE", "COMPLAINT"):
        raise ConfigurationError(f"reason must be BOUNCE or COMPLAINT, not {reason!r}")
    count = 0
    for address in dict.fromkeys(suppression_key(a) for a in addresses if str(a).strip()):
        client.put_suppressed_destination(EmailAddress=address, Reason=reason)
        count += 1
    return count


def _address_column(frame: pd.DataFrame, file: Path) -> str:
    by_name = {str(c).strip().lower(): c for c in frame.columns}
    for name in _ADDRESS_COLUMNS:
        if name in by_name:
            return str(by_name[name])
    if len(frame.columns) == 1:
        return str(frame.columns[0])
    raise ConfigurationError(
        f"suppression file {file} has several columns and none called email/address: "
        "name the address column"
    )
