"""Retry decisions: which answers to try again, and how long to wait first.

Modelled on botocore's ``retries.standard``: a :class:`RetryPolicy` is a *checker* (may this
attempt be retried?) plus a *backoff* (how long to wait). Checkers compose:

* :class:`MaxAttemptsChecker`  – stop after ``max_attempts`` attempts (the first one counts);
* :class:`VerdictChecker`      – retry only the given verdicts (THROTTLED and TRANSIENT by
  default; UNKNOWN only when the user asks, because the message may already have gone;
  REJECTED and DAILY_QUOTA never: a used-up 24-hour quota will not clear for hours);
* :class:`AndChecker` / :class:`OrChecker`.

:class:`ExponentialBackoff` uses *full jitter* (``random() * min(cap, base * 2**(n-1))``);
throttling backs off from a longer base (1 s) than transient errors (0.05 s), as the AWS SDKs'
standard mode does.

Layering: boto3 clients retry on their own; transports create clients with
``retries={"max_attempts": 1}`` so that every retry is this module's (and counted in
``Outcome.attempts``).

Usage::

    policy = RetryPolicy.standard(max_attempts=5)
    ctx = AttemptContext(attempt_number=1, verdict=Verdict.THROTTLED)
    if policy.should_retry(ctx):
        clock.sleep(policy.delay(ctx))
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from toolkit.results import Verdict


@dataclass(frozen=True, slots=True)
class AttemptContext:
    """A read-only view of one finished attempt of one message."""

    attempt_number: int  # 1 for the first request
    verdict: Verdict
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None


class RetryChecker(Protocol):
    def is_retryable(self, context: AttemptContext) -> bool: ...


@dataclass(frozen=True, slots=True)
class MaxAttemptsChecker:
    """Allow another attempt while fewer than ``max_attempts`` were made."""

    max_attempts: int

    def is_retryable(self, context: AttemptContext) -> bool:
        return context.attempt_number < self.max_attempts


@dataclass(frozen=True, slots=True)
class VerdictChecker:
    """Allow a retry for the listed verdicts only."""

    verdicts: frozenset[Verdict]

    def is_retryable(self, context: AttemptContext) -> bool:
        return context.verdict in self.verdicts


class AndChecker:
    """Retry only when every checker agrees."""

    def __init__(self, checkers: Iterable[RetryChecker]) -> None:
        self.checkers = tuple(checkers)

    def is_retryable(self, context: AttemptContext) -> bool:
        return all(c.is_retryable(context) for c in self.checkers)


class OrChecker:
    """Retry when any checker agrees."""

    def __init__(self, checkers: Iterable[RetryChecker]) -> None:
        self.checkers = tuple(checkers)

    def is_retryable(self, context: AttemptContext) -> bool:
        return any(c.is_retryable(context) for c in self.checkers)


class ExponentialBackoff:
    """Full-jitter exponential backoff: ``random() * min(cap, base * 2**(attempt - 1))``."""

    def __init__(
        self, base: float, cap: float = 20.0, random: Callable[[], float] = _random.random
    ) -> None:
        if base <= 0 or cap <= 0:
            raise ValueError("base and cap must be positive")
        self.base = base
        self.cap = cap
        self._random = random

    def ceiling(self, attempt_number: int) -> float:
        """The largest delay this attempt can draw."""
        exponent = min(max(attempt_number - 1, 0), 62)
        return min(self.cap, self.base * (2**exponent))

    def delay(self, attempt_number: int) -> float:
        return self._random() * self.ceiling(attempt_number)


# The AWS SDKs' standard retry mode (default since 2026-11-10): 1,000 ms base delay for
# throttling errors, 50 ms for transient ones.
# https://aws.amazon.com/blogs/developer/updated-default-retry-behavior-for-aws-sdks-and-tools/
THROTTLING_BASE = 1.0
TRANSIENT_BASE = 0.05


class RetryPolicy:
    """A checker plus a backoff per verdict; see the module docstring."""

    def __init__(
        self,
        checker: RetryChecker,
        backoff: ExponentialBackoff,
        throttling_backoff: ExponentialBackoff | None = None,
    ) -> None:
        self.checker = checker
        self.backoff = backoff
        self.throttling_backoff = throttling_backoff or backoff

    @classmethod
    def standard(
        cls,
        max_attempts: int = 5,
        *,
        retry_unknown: bool = False,
        random: Callable[[], float] = _random.random,
        cap: float = 20.0,
    ) -> RetryPolicy:
        """THROTTLED and TRANSIENT (and UNKNOWN when asked), at most ``max_attempts`` tries."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        verdicts = {Verdict.THROTTLED, Verdict.TRANSIENT}
        if retry_unknown:
            verdicts.add(Verdict.UNKNOWN)
        checker = AndChecker(
            [MaxAttemptsChecker(max_attempts), VerdictChecker(frozenset(verdicts))]
        )
        return cls(
            checker,
            ExponentialBackoff(TRANSIENT_BASE, cap, random),
            ExponentialBackoff(THROTTLING_BASE, cap, random),
        )

    def should_retry(self, context: AttemptContext) -> bool:
        return self.checker.is_retryable(context)

    def delay(self, context: AttemptContext) -> float:
        """Seconds to wait before the next attempt (a provider's retry-after wins)."""
        if context.retry_after is not None and context.retry_after >= 0:
            return context.retry_after
        backoff = self.throttling_backoff if context.verdict is Verdict.THROTTLED else self.backoff
        return backoff.delay(context.attempt_number)
