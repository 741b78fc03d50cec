"""An in-memory transport for tests and benchmarks: a handler decides each message's reply.

After httpx's ``MockTransport(handler)``: the handler gets one :class:`Message` and returns a
:class:`Reply`, a bare :class:`Verdict` (filled in with timestamps and an id), or ``None``
(accepted). It may raise :class:`toolkit.errors.ProviderConfigurationError` to refuse the
whole batch. Accepted messages go to the *instance's* ``outbox`` (no module globals), and
every call is recorded in ``calls`` (row keys per batch) so tests can check re-batching.

Usage::

    transport = RecordingTransport(lambda m: Verdict.THROTTLED if m.position % 7 == 0 else None,
                                   max_batch=50)
    replies = transport.send(messages)
    transport.outbox        # accepted messages, in order of acceptance
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence

from toolkit.compose.message import ContentMode, Message
from toolkit.results import Reply, Verdict
from toolkit.transports.base import BaseTransport

Handler = Callable[[Message], Reply | Verdict | None]


class RecordingTransport(BaseTransport):
    """A thread-safe fake provider; see the module docstring."""

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        name: str = "memory",
        max_batch: int = 1,
        content_mode: ContentMode = ContentMode.FIELDS,
        max_message_bytes: int = 40 * 1024 * 1024,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.handler = handler
        self.name = name
        self.max_batch = max_batch
        self.content_mode = content_mode
        self.max_message_bytes = max_message_bytes
        self.latency = latency
        self._sleep = sleep
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.outbox: list[Message] = []
        self.calls: list[tuple[str, ...]] = []
        self.opened = 0
        self.closed = 0

    def open(self) -> None:
        self.opened += 1

    def close(self) -> None:
        self.closed += 1

    def send(self, batch: Sequence[Message]) -> list[Reply]:
        started = time.time()
        with self._lock:
            self.calls.append(tuple(m.row_key for m in batch))
        if self.latency:
            self._sleep(self.latency)
        replies: list[Reply] = []
        accepted: list[Message] = []
        for message in batch:
            answer = self.handler(message) if self.handler is not None else None
            if answer is None:
                answer = Verdict.ACCEPTED
            if isinstance(answer, Verdict):
                message_id = None
                if answer is Verdict.ACCEPTED:
                    message_id = f"mem-{next(self._ids)}"
                answer = Reply(
                    answer,
                    started,
                    time.time(),
                    message_id=message_id,
                    code=None if answer is Verdict.ACCEPTED else answer.name.title(),
                )
            if answer.verdict is Verdict.ACCEPTED:
                accepted.append(message)
            replies.append(answer)
        with self._lock:
            self.outbox.extend(accepted)
        return replies
