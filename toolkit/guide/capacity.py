"""Does a month's mail fit the account's quota? Days needed, the rate needed, what to ask for.

Why a module of its own: the time estimate (:mod:`.timing`) answers "how long does this send
take"; a month's volume that needs 41 days at the quota is a different answer, "it does not
fit", and it needs its own numbers: the sustained rate and 24-hour quota that would make it fit,
and how to ask AWS for them (:data:`toolkit.facts.SES_QUOTA_INCREASE`).

Usage::

    from toolkit.guide.capacity import check_capacity
    cap = check_capacity(50_000_000, max_send_rate=14)
    cap.status, cap.days_needed, cap.ask_rate     # 'does not fit', 41.3..., 28
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from toolkit import facts
from toolkit.guide.profile import SECONDS_PER_DAY
from toolkit.guide.timing import format_duration, seconds_to_send

__all__ = ["Capacity", "CapacityStatus", "check_capacity"]


class CapacityStatus(enum.StrEnum):
    """How a month's volume compares with what the quota sends in a month."""

    UNKNOWN = "unknown"  # no quota given: nothing to compare
    FITS = "fits"
    TIGHT = "tight"  # fits at the quota, not at the pacing margin the toolkit uses
    OVER = "does not fit"


@dataclass(frozen=True, slots=True)
class Capacity:
    """A month's volume against the rolling 24-hour quota and the max send rate.

    ``needed_rate`` is the sustained rate that sends the month in :data:`facts.DAYS_PER_MONTH`
    days around the clock; ``ask_rate`` is that rate at the pacing margin
    (:data:`facts.SES_RATE_HEADROOM`), rounded up: what to request when the month does not fit.
    """

    monthly_volume: int
    max_send_rate: float | None
    max_24_hour_send: float | None  # None: not given; negative: unlimited (SES reports -1)
    days: int
    headroom: float

    @property
    def quota_known(self) -> bool:
        """True when either limit was given."""
        return self.max_send_rate is not None or self.daily_limited

    @property
    def daily_limited(self) -> bool:
        """True when a finite 24-hour quota was given."""
        return self.max_24_hour_send is not None and self.max_24_hour_send >= 0

    @property
    def seconds_needed(self) -> float | None:
        """Seconds to send the month at the quota (None without a quota)."""
        n = self.monthly_volume
        if self.max_send_rate is not None:
            return seconds_to_send(n, self.max_send_rate, self.max_24_hour_send)
        if self.daily_limited:
            assert self.max_24_hour_send is not None
            if self.max_24_hour_send == 0:
                return math.inf
            # days of quota the month uses (the rate, unknown, would time the last window)
            return n / self.max_24_hour_send * SECONDS_PER_DAY
        return None

    @property
    def days_needed(self) -> float | None:
        """Days to send the month at the quota."""
        s = self.seconds_needed
        return None if s is None else s / SECONDS_PER_DAY

    @property
    def seconds_at_margin(self) -> float | None:
        """Seconds at the pacing margin (the rate times the headroom), when the rate is known."""
        if self.max_send_rate is None:
            return None
        return seconds_to_send(
            self.monthly_volume, self.max_send_rate * self.headroom, self.max_24_hour_send
        )

    @property
    def status(self) -> CapacityStatus:
        """Fits, tight, does not fit, or unknown."""
        s = self.seconds_needed
        if s is None or not self.monthly_volume:
            return CapacityStatus.UNKNOWN
        month = self.days * SECONDS_PER_DAY
        if s > month:
            return CapacityStatus.OVER
        margin = self.seconds_at_margin
        if margin is not None and margin > month:
            return CapacityStatus.TIGHT
        return CapacityStatus.FITS

    @property
    def limited_by(self) -> str:
        """'daily quota' when the 24-hour quota holds the month back more than the rate."""
        per_day_rate = (
            self.max_send_rate * SECONDS_PER_DAY if self.max_send_rate is not None else math.inf
        )
        per_day_quota = (
            float(self.max_24_hour_send)
            if self.daily_limited and self.max_24_hour_send is not None
            else math.inf
        )
        return "daily quota" if per_day_quota < per_day_rate else "rate"

    @property
    def needed_rate(self) -> float:
        """Messages per second that send the month in ``days`` days, around the clock."""
        return self.monthly_volume / (self.days * SECONDS_PER_DAY)

    @property
    def needed_daily(self) -> int:
        """Recipients per 24 hours that send the month in ``days`` days."""
        return math.ceil(self.monthly_volume / self.days)

    @property
    def ask_rate(self) -> int:
        """The max send rate to request: the needed rate at the pacing margin, rounded up."""
        return max(1, math.ceil(round(self.needed_rate / self.headroom, 9)))

    @property
    def ask_daily(self) -> int:
        """The 24-hour quota to request: the needed daily volume, rounded up to a thousand."""
        return max(1000, math.ceil(self.needed_daily / 1000) * 1000)

    @property
    def rate_short(self) -> bool:
        """True when the max send rate (given) is below :attr:`ask_rate`."""
        return self.max_send_rate is not None and self.max_send_rate < self.ask_rate

    @property
    def daily_short(self) -> bool:
        """True when the 24-hour quota (given) is below :attr:`needed_daily`."""
        return (
            self.daily_limited
            and self.max_24_hour_send is not None
            and self.max_24_hour_send < self.needed_daily
        )

    def headline(self) -> str:
        """One sentence: the verdict in days (empty when unknown)."""
        status = self.status
        if status is CapacityStatus.UNKNOWN:
            return ""
        need = _days(self.seconds_needed)
        quota = self.quota_label()
        if status is CapacityStatus.OVER:
            return (
                f"Does not fit: {self.monthly_volume:,} emails a month need {need} at your "
                f"quota ({quota}); a month is {self.days} days."
            )
        if status is CapacityStatus.TIGHT:
            return (
                f"Tight: {self.monthly_volume:,} emails a month take {need} at your quota "
                f"({quota}), {_days(self.seconds_at_margin)} paced at "
                f"{self.headroom:.0%} of it, more than the {self.days} days of a month."
            )
        return (
            f"Fits: {self.monthly_volume:,} emails a month take {need} of the month's "
            f"{self.days} days at your quota ({quota})."
        )

    def ask(self) -> str:
        """What to request and how (empty when the month fits)."""
        if self.status not in (CapacityStatus.OVER, CapacityStatus.TIGHT):
            return ""
        wants = []
        if self.rate_short or self.max_send_rate is None:
            wants.append(f"a max send rate of {self.ask_rate:,}/s")
        if self.daily_short or self.max_24_hour_send is None:
            wants.append(f"a 24-hour quota of {self.ask_daily:,}")
        if not wants:  # short only at the margin's rounding: ask for both, plainly
            wants = [f"a max send rate of {self.ask_rate:,}/s", f"a 24-hour quota of "
                     f"{self.ask_daily:,}"]  # fmt: skip
        return (
            f"The month needs {self.needed_rate:,.1f}/s around the clock "
            f"({self.needed_daily:,} per 24 h); at the {self.headroom:.0%} pacing margin ask "
            f"for {' and '.join(wants)}. How: in the Service Quotas console, Amazon Simple "
            "Email Service (SES), request 'Sending rate' and 'Sending quota' for your Region "
            "(or open a Support Center case, Service limit increase, SES Service Limits); AWS "
            "answers within 24 hours and asks to request only what you need."
        )

    def quota_label(self) -> str:
        """E.g. '14/s, 50,000 per 24 h'."""
        parts = []
        if self.max_send_rate is not None:
            parts.append(f"{self.max_send_rate:g}/s")
        if self.daily_limited and self.max_24_hour_send is not None:
            parts.append(f"{self.max_24_hour_send:,.0f} per 24 h")
        return ", ".join(parts) or "not given"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``capacity`` in ``guide --json``)."""
        seconds = self.seconds_needed
        return {
            "status": self.status.value,
            "fits": None
            if self.status is CapacityStatus.UNKNOWN
            else self.status is not CapacityStatus.OVER,
            "monthly_volume": self.monthly_volume,
            "days_in_month": self.days,
            "days_needed": None if seconds is None or math.isinf(seconds) else seconds / 86400,
            "limited_by": self.limited_by if self.quota_known else "unknown quota",
            "needed_rate_per_s": self.needed_rate,
            "needed_per_24h": self.needed_daily,
            "ask_max_send_rate": self.ask_rate,
            "ask_max_24_hour_send": self.ask_daily,
            "headline": self.headline(),
            "ask": self.ask(),
            "how_to_ask": facts.SES_QUOTA_INCREASE.value,
            "source": facts.SES_QUOTA_INCREASE.source,
        }


def check_capacity(
    monthly_volume: int,
    max_send_rate: float | None = None,
    max_24_hour_send: float | None = None,
) -> Capacity:
    """The month's volume against the quota (see :class:`Capacity`)."""
    return Capacity(
        monthly_volume=monthly_volume,
        max_send_rate=max_send_rate,
        max_24_hour_send=max_24_hour_send,
        days=facts.DAYS_PER_MONTH.value,
        headroom=facts.SES_RATE_HEADROOM.value,
    )


def _days(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if math.isinf(seconds):
        return "forever (the 24-hour quota is 0)"
    return format_duration(seconds)
