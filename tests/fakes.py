"""Test doubles shared by the unit tests (kept out of the package: nothing here ships)."""

from __future__ import annotations

import threading


class FakeClock:
    """A clock for tests: ``sleep`` advances time instantly; thread-safe.

    ``sleeps`` records every requested sleep so tests can assert on backoff delays.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        """Move time forward without recording a sleep."""
        with self._lock:
            self._now += seconds
