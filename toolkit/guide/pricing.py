"""Monthly cost estimates from dated prices (toolkit.facts), for the decision guide.

Why a module of its own: prices change more often than the decision rules, and every figure
must point at the dated price it came from.

Usage::

    from toolkit.guide.pricing import CostInputs, estimate_cost
    est = estimate_cost(CostInputs(monthly_volume=2_000_000), today=date(2026, 11, 26))
    est.cheapest.plan, est.to_frame()
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit import facts
from toolkit.facts import Fact, PlanPrice

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True, slots=True)
class CostInputs:
    """What the bill depends on (one month)."""

    monthly_volume: int = 0  # recipients (SES bills per recipient)
    attachments_gb: float = 0.0  # GB of attachments sent per month
    dedicated_ips: int = 0  # dedicated IPs wanted
    tenants: int = 0  # SES tenants wanted
    endpoints: int = 0  # Pinpoint endpoints targeted per month (historical estimate only)


@dataclass(frozen=True, slots=True)
class CostLine:
    """One item of a plan's bill, with the price it was computed from."""

    item: str
    usd: float
    fact: Fact[Any]


def _per_unit(item: str, quantity: float, price: Fact[float]) -> CostLine:
    """``quantity`` times a unit price, citing that price."""
    return CostLine(item, quantity * price.value, price)


@dataclass(frozen=True, slots=True)
class PlanCost:
    """The estimated monthly bill under one plan."""

    plan: str
    lines: tuple[CostLine, ...]
    available: bool = True
    historical: bool = False
    note: str = ""
    api_value: str = ""  # PutAccountPricingAttributes Plan ("" for Pinpoint)

    @property
    def monthly_usd(self) -> float:
        """Total of the lines."""
        return round(sum(line.usd for line in self.lines), 2)


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Every plan's bill for the same inputs; ``cheapest`` among those available today."""

    inputs: CostInputs
    plans: tuple[PlanCost, ...]
    today: dt.date
    notes: tuple[str, ...] = field(default=())

    @property
    def cheapest(self) -> PlanCost:
        """The cheapest SES plan that can be chosen on ``today`` (ties: the first listed)."""
        usable = [p for p in self.plans if p.available and not p.historical]
        return min(usable, key=lambda p: p.monthly_usd)

    @property
    def new_account_plan(self) -> PlanCost:
        """The plan a new SES account is on by default on ``today``: Essentials once the plans
        exist (:data:`facts.SES_NEW_ACCOUNT_PLAN`), à la carte before."""
        plan_era = self.today >= facts.SES_PLANS_INTRODUCED.value
        api_value = facts.SES_NEW_ACCOUNT_PLAN.value if plan_era else "NONE"
        by_api = {p.api_value: p for p in self.plans if p.api_value}
        return by_api.get(api_value, self.plans[0])

    def to_frame(self) -> pd.DataFrame:
        """One row per plan: total, availability and the breakdown with its sources."""
        import pandas as pd

        rows = [
            {
                "plan": p.plan,
                "monthly_usd": p.monthly_usd,
                "available": p.available,
                "historical": p.historical,
                "cheapest": p is self.cheapest,
                "new_account_default": p is self.new_account_plan,
                "breakdown": "; ".join(f"{ln.item} ${ln.usd:,.2f}" for ln in p.lines),
                "sources": " ".join(sorted({ln.fact.source for ln in p.lines})),
                "note": p.note,
            }
            for p in self.plans
        ]
        return pd.DataFrame(rows).set_index("plan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "inputs": {
                "monthly_volume": self.inputs.monthly_volume,
                "attachments_gb": self.inputs.attachments_gb,
                "dedicated_ips": self.inputs.dedicated_ips,
                "tenants": self.inputs.tenants,
            },
            "cheapest": self.cheapest.plan,
            "new_account_plan": self.new_account_plan.plan,
            "new_account_plan_source": facts.SES_NEW_ACCOUNT_PLAN.source,
            "plans": [
                {
                    "plan": p.plan,
                    "monthly_usd": p.monthly_usd,
                    "available": p.available,
                    "historical": p.historical,
                    "note": p.note,
                    "lines": [
                        {
                            "item": ln.item,
                            "usd": round(ln.usd, 4),
                            "source": ln.fact.source,
                            "checked": ln.fact.checked.isoformat(),
                        }
                        for ln in p.lines
                    ],
                }
                for p in self.plans
            ],
            "notes": list(self.notes),
        }


def tiered_cost(volume: int, tiers: tuple[tuple[int | None, float], ...]) -> float:
    """Graduated tiers: each band's emails at that band's price (``None`` = no upper bound)."""
    total, lower = 0.0, 0
    for upper, price in tiers:
        band = volume - lower if upper is None else max(0, min(volume, upper) - lower)
        total += band * price
        if upper is None or volume <= upper:
            break
        lower = upper
    return total


def _ses_plan(
    fact: Fact[PlanPrice], inputs: CostInputs, today: dt.date, *, plan_era: bool
) -> PlanCost:
    plan = fact.value
    is_alacarte = plan.api_value == "NONE"
    lines: list[CostLine] = []
    if plan.monthly_fee_usd:
        lines.append(CostLine("monthly fee", plan.monthly_fee_usd, fact))
    price_fact = facts.SES_PRICE_OUTBOUND_PER_1000 if is_alacarte else fact
    sending = tiered_cost(inputs.monthly_volume, plan.tiers)
    lines.append(CostLine(f"{inputs.monthly_volume:,} emails", sending, price_fact))
    # Add-ons are priced à la carte; whether the plans bill them the same way is not verified,
    # except for what a plan says it includes.
    if inputs.attachments_gb:
        lines.append(
            _per_unit(
                f"{inputs.attachments_gb:g} GB attachments",
                inputs.attachments_gb,
                facts.SES_PRICE_ATTACHMENT_PER_GB,
            )
        )
    if inputs.dedicated_ips and "managed dedicated IPs" not in plan.includes:
        lines.append(
            _per_unit(
                f"{inputs.dedicated_ips} dedicated IP(s)",
                inputs.dedicated_ips,
                facts.SES_PRICE_DEDICATED_IP_MONTH,
            )
        )
    if inputs.tenants:
        included = (
            facts.SES_PLAN_ENTERPRISE_TENANTS.value if "1,000 tenants" in plan.includes else 0
        )
        billable = max(0, inputs.tenants - included)
        if billable:
            lines.append(_per_unit(f"{billable} tenant(s)", billable, facts.SES_PRICE_TENANT_MONTH))
    available = is_alacarte or plan_era
    note = "" if available else (f"plans start {facts.SES_PLANS_INTRODUCED.value.isoformat()}")
    if plan_era and plan.api_value == facts.SES_NEW_ACCOUNT_PLAN.value:
        note = "a new account's default plan"
    elif plan_era and is_alacarte:
        note = "not a new account's default: choose it with PutAccountPricingAttributes Plan NONE"
    if plan.includes:
        note = "; ".join(filter(None, [note, "includes " + ", ".join(plan.includes)]))
    return PlanCost(
        plan.name, tuple(lines), available=available, note=note, api_value=plan.api_value
    )


def _pinpoint(inputs: CostInputs, today: dt.date) -> PlanCost:
    lines = [
        _per_unit(
            f"{inputs.monthly_volume:,} emails",
            inputs.monthly_volume,
            facts.PINPOINT_PRICE_EMAIL,
        )
    ]
    free, per_endpoint = facts.PINPOINT_PRICE_TARGETED_AUDIENCE.value
    if inputs.endpoints > free:
        lines.append(
            CostLine(
                f"{inputs.endpoints - free:,} targeted endpoints",
                (inputs.endpoints - free) * per_endpoint,
                facts.PINPOINT_PRICE_TARGETED_AUDIENCE,
            )
        )
    if inputs.dedicated_ips:
        lines.append(
            _per_unit(
                f"{inputs.dedicated_ips} dedicated IP(s)",
                inputs.dedicated_ips,
                facts.PINPOINT_PRICE_DEDICATED_IP_MONTH,
            )
        )
    ended = today >= facts.PINPOINT_END_OF_SUPPORT.value
    note = (
        f"historical: Pinpoint ended {facts.PINPOINT_END_OF_SUPPORT.value.isoformat()}"
        if ended
        else "historical prices; Pinpoint is closed to new customers since "
        f"{facts.PINPOINT_NO_NEW_CUSTOMERS.value.isoformat()}"
    )
    return PlanCost(
        "Pinpoint (historical)", tuple(lines), available=not ended, historical=True, note=note
    )


def estimate_cost(inputs: CostInputs, *, today: dt.date) -> CostEstimate:
    """Monthly cost under à la carte, each 2026 plan, and (historical) Pinpoint.

    Plans before their introduction date are listed but marked unavailable, so the answer for
    a past ``today`` is what one could have chosen then.
    """
    plan_era = today >= facts.SES_PLANS_INTRODUCED.value
    ses_plans = (
        facts.SES_PLAN_ALACARTE,
        facts.SES_PLAN_ESSENTIALS,
        facts.SES_PLAN_PRO,
        facts.SES_PLAN_ENTERPRISE,
    )
    plans = (
        *(_ses_plan(f, inputs, today, plan_era=plan_era) for f in ses_plans),
        _pinpoint(inputs, today),
    )
    notes: tuple[str, ...] = (
        "Prices are USD, us-east-1. " + facts.SES_PRICES_NOTE,
        "Plan tiers are taken as graduated; add-ons (attachments, dedicated IPs, tenants) are "
        "priced à la carte on every plan unless the plan includes them (not verified).",
    )
    if plan_era:
        notes += (
            "A new SES account starts on the Essentials plan (since the plans began, "
            f"{facts.SES_PLANS_INTRODUCED.value.isoformat()}); accounts that have sent since "
            "2025-06-01 stay à la carte. Another plan is chosen per account and Region with "
            "'aws sesv2 put-account-pricing-attributes --plan NONE|ESSENTIALS|PRO|ENTERPRISE'; "
            "'aws sesv2 get-account' shows the current one (third-party reading of AWS's "
            "plans page).",
        )
    return CostEstimate(inputs, plans, today, notes)
