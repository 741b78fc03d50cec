"""Retry policy: what is retried, full-jitter bounds, daily quota."""

from __future__ import annotations

import random

import pytest

from toolkit.delivery.retry import (
    AttemptContext,
    ExponentialBackoff,
    MaxAttemptsChecker,
    OrChecker,
    RetryPolicy,
    VerdictChecker,
)
from toolkit.results import Verdict


def ctx(
    n: int,
    verdict: Verdict,
    code: str | None = None,
    message: str | None = None,
    retry_after: float | None = None,
) -> AttemptContext:
    return AttemptContext(n, verdict, code, message, retry_after)


def test_retries_throttled_and_transient_only() -> None:
    policy = RetryPolicy.standard(5)
    assert policy.should_retry(ctx(1, Verdict.THROTTLED))
    assert policy.should_retry(ctx(1, Verdict.TRANSIENT))
    assert not policy.should_retry(ctx(1, Verdict.UNKNOWN))
    assert not policy.should_retry(ctx(1, Verdict.REJECTED))
    assert not policy.should_retry(ctx(1, Verdict.ACCEPTED))


def test_unknown_retried_only_when_asked() -> None:
    assert RetryPolicy.standard(5, retry_unknown=True).should_retry(ctx(1, Verdict.UNKNOWN))
    assert not RetryPolicy.standard(5, retry_unknown=True).should_retry(ctx(1, Verdict.REJECTED))


def test_max_attempts_counts_the_first_request() -> None:
    policy = RetryPolicy.standard(3)
    assert policy.should_retry(ctx(2, Verdict.TRANSIENT))
    assert not policy.should_retry(ctx(3, Verdict.TRANSIENT))
    assert not RetryPolicy.standard(1).should_retry(ctx(1, Verdict.THROTTLED))


def test_daily_quota_is_never_retried() -> None:
    """classify names the 24-hour quota; the policy only has to leave the verdict alone."""
    policy = RetryPolicy.standard(5, retry_unknown=True)
    assert not policy.should_retry(ctx(1, Verdict.DAILY_QUOTA, "DailyQuotaExceeded"))


def test_full_jitter_bounds() -> None:
    rng = random.Random(7)
    backoff = ExponentialBackoff(0.1, cap=2.0, random=rng.random)
    for attempt in range(1, 10):
        ceiling = min(2.0, 0.1 * 2 ** (attempt - 1))
        assert backoff.ceiling(attempt) == pytest.approx(ceiling)
        draws = [backoff.delay(attempt) for _ in range(300)]
        assert all(0.0 <= d <= ceiling for d in draws)
        # full jitter: draws spread over the whole range, not clustered near the ceiling
        assert min(draws) < ceiling * 0.1
        assert max(draws) > ceiling * 0.9


def test_jitter_uses_the_injected_random() -> None:
    assert ExponentialBackoff(1.0, random=lambda: 0.5).delay(3) == 2.0
    assert ExponentialBackoff(1.0, random=lambda: 0.0).delay(3) == 0.0


def test_throttling_backs_off_longer_than_transient() -> None:
    policy = RetryPolicy.standard(5, random=lambda: 1.0)
    assert policy.delay(ctx(1, Verdict.THROTTLED)) == 1.0
    assert policy.delay(ctx(1, Verdict.TRANSIENT)) == pytest.approx(0.05)
    assert policy.delay(ctx(4, Verdict.THROTTLED)) == 8.0


def test_retry_after_wins() -> None:
    policy = RetryPolicy.standard(5, random=lambda: 1.0)
    assert policy.delay(ctx(1, Verdict.THROTTLED, retry_after=3.0)) == 3.0


def test_checkers_compose() -> None:
    checker = OrChecker([VerdictChecker(frozenset({Verdict.UNKNOWN})), MaxAttemptsChecker(2)])
    assert checker.is_retryable(ctx(5, Verdict.UNKNOWN))
    assert checker.is_retryable(ctx(1, Verdict.REJECTED))
    assert not checker.is_retryable(ctx(2, Verdict.REJECTED))


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        RetryPolicy.standard(0)
    with pytest.raises(ValueError):
        ExponentialBackoff(0)
