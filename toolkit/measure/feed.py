"""Event feeds a running send can follow: new delivery events since the last look.

A feed has one method, ``poll() -> events frame`` (:data:`toolkit.measure.events.EVENT_COLUMNS`),
returning only what arrived since the previous call; it never blocks for long. The circuit
breaker (:mod:`toolkit.delivery.breaker`) follows one during a send.

* :class:`SandboxFeed` reads the embedded sandbox's mailbox (in this process, or another
  process's with ``Mailbox.open(state_dir)``), from the moment the feed was made.
* :class:`SqsFeed` reads an SQS queue that SES feeds (configuration-set event destination →
  SNS → SQS, or EventBridge → SQS). It does not delete what it reads unless asked, so the
  same notifications can later be joined onto the results; messages come back after their
  visibility timeout, and the breaker drops the repeats.

Usage::

    feed = SandboxFeed(sandbox)                       # or SqsFeed(queue_url)
    new_events = feed.poll()
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import pandas as pd

from toolkit.measure.events import EVENT_COLUMNS, events_from_sandbox, events_from_sqs

__all__ = ["EventFeed", "SandboxFeed", "SqsFeed"]


class EventFeed(Protocol):
    """Where a running send's delivery events come from."""

    def poll(self) -> pd.DataFrame:
        """Events that arrived since the previous call (an events frame; may be empty)."""
        ...


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})


class SandboxFeed:
    """New events in a sandbox's mailbox (``Sandbox``, ``Mailbox``), from ``since`` on
    (default: now, so an earlier run's events are not this run's). With ``tags``, each event
    carries its message's SES tags (what resolves ``unknown`` rows; the breaker, polling
    often, does without)."""

    def __init__(self, source: Any, since: float | None = None, *, tags: bool = False) -> None:
        self._mailbox = getattr(source, "mailbox", source)
        self._tags = tags
        self._since = pd.Timestamp(time.time() if since is None else since, unit="s", tz="UTC")
        # From now: skip what is already there without reading it (earlier runs' events).
        counted = getattr(self._mailbox, "event_count", None)
        self._seen = int(counted()) if since is None and callable(counted) else 0
        self._lock = threading.Lock()

    def poll(self) -> pd.DataFrame:
        with self._lock:
            fresh = self._mailbox.events(start=self._seen)
            self._seen += len(fresh)
        if fresh.empty:
            return _empty()
        # The tags of just these messages: they name the run and row that resolve `unknown`
        # (the breaker's frequent polls do without them).
        tagged = getattr(self._mailbox, "tags", None) if self._tags else None
        tags = tagged(message_ids=fresh["message_id"].unique()) if callable(tagged) else None
        frame = events_from_sandbox(fresh.reset_index(drop=True), tags)
        return frame[frame["event_time"] >= self._since].reset_index(drop=True)


class SqsFeed:
    """SES notifications from an SQS queue: up to ``max_messages`` per poll, no long wait."""

    def __init__(
        self,
        queue_url: str,
        *,
        client: Any = None,
        max_messages: int = 100,
        delete: bool = False,
        visibility_timeout: int = 300,
    ) -> None:
        self.queue_url = queue_url
        self._client = client
        self._max = max_messages
        self._delete = delete
        self._visibility = visibility_timeout

    def poll(self) -> pd.DataFrame:
        return events_from_sqs(
            self.queue_url,
            client=self._client,
            max_messages=self._max,
            wait_seconds=0,
            delete=self._delete,
            visibility_timeout=self._visibility,
        )
