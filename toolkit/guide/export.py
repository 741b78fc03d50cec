"""The guide's answer as Markdown, to share: a ticket, a design document, a chat message.

Why a module of its own: the answer is rendered four ways (plain text, JSON, the HTML card and
this); Markdown keeps the links and the tables that plain text loses, and needs none of the
card's styling. ``Recommendation.to_markdown()`` calls :func:`to_markdown`; the widget's
"Markdown" button and ``python -m toolkit guide --markdown`` print the same text.

Usage::

    from toolkit.guide import Profile, recommend
    print(recommend(Profile(monthly_volume=200_000)).to_markdown())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from toolkit import facts
from toolkit.facts import Fact
from toolkit.guide.capacity import CapacityStatus
from toolkit.guide.timing import format_duration, known_limits

if TYPE_CHECKING:
    from toolkit.guide.recommend import Recommendation

__all__ = ["to_markdown"]


def to_markdown(rec: Recommendation, *, features: bool = False) -> str:
    """The whole answer: question, recommendation, capacity, reasons, warnings, cost, time
    (and the feature table when ``features``), every claim linked to its dated source."""
    lines = [
        f"# Pinpoint or SES? The guide's answer ({rec.today.isoformat()})",
        "",
        f"**Recommendation: {_md(rec.summary)}**",
    ]
    if rec.alternative:
        lines.append(f"Migrate to: **{_md(' + '.join(c.label for c in rec.alternative))}**")
    if rec.pinpoint_badge:
        lines.append(f"_{_md(rec.pinpoint_badge[0])}_")
    lines += ["", f"Asked: {_md(_question(rec))}."]
    cap = rec.capacity
    if cap is not None and cap.status is not CapacityStatus.UNKNOWN:
        mark = {CapacityStatus.OVER: "⛔", CapacityStatus.TIGHT: "⚠️"}.get(cap.status, "✅")
        lines += ["", "## Capacity", "", f"{mark} **{_md(cap.headline())}**"]
        if cap.ask():
            lines += ["", f"{_md(cap.ask())} {_link(facts.SES_QUOTA_INCREASE)}"]
    lines += ["", "## Why", ""]
    lines += [f"{i}. {_md(r.text)} {_link(r.fact)}" for i, r in enumerate(rec.reasons, 1)]
    shown = [w for w in rec.warnings if not w.rule.startswith("capacity-")]
    if shown:
        lines += ["", "## Watch out", ""]
        lines += [f"- {_md(w.text)} {_link(w.fact)}" for w in shown]
    if "email" in rec.profile.channels:
        lines += _cost(rec) + _time(rec)
    if features:
        lines += ["", "## What each interface offers", "", _feature_table(rec)]
    lines += [
        "",
        "---",
        "_Made by `python -m toolkit guide` (toolkit.guide). Sources are dated as read; "
        "marked ones are not AWS's own pages._",
    ]
    return "\n".join(lines)


def _question(rec: Recommendation) -> str:
    p = rec.profile
    parts = [" + ".join(c for c in ("email", "sms", "push", "voice") if c in p.channels)]
    if p.monthly_volume:
        parts.append(f"{p.monthly_volume:,} emails a month")
    if p.max_send_rate is not None:
        parts.append(f"max send rate {p.max_send_rate:g}/s")
    if p.max_24_hour_send is not None:
        daily = "unlimited" if p.max_24_hour_send < 0 else f"{p.max_24_hour_send:,.0f}"
        parts.append(f"24-hour quota {daily}")
    needs = [
        label
        for name, label in (
            ("third_party", "SMTP (third-party app)"),
            ("receive", "receiving"),
            ("config_sets", "configuration sets"),
            ("sending_authorization", "sending authorization"),
            ("dedicated_ips", f"{p.dedicated_ip_count} dedicated IP(s)"),
            ("tenants", f"{p.tenant_count} tenant(s)"),
            ("templates", "templates"),
            ("attachments", "attachments"),
            ("endpoint_ids", "endpoint/user IDs"),
            ("existing_pinpoint", "an existing Pinpoint account"),
            ("multi_region", "multi-Region sending"),
            ("marketing", "subscribed mail (unsubscribe)"),
        )
        if getattr(p, name)
    ]
    if needs:
        parts.append("needs: " + ", ".join(needs))
    return "; ".join(parts)


def _cost(rec: Recommendation) -> list[str]:
    volume = rec.cost.inputs.monthly_volume
    if not volume:
        return ["", "## Cost per month", "", "No volume given."]
    rows = [
        "| plan | USD/month | note |",
        "|---|---:|---|",
        *(
            f"| {'**' + p.plan + '**' if p is rec.cost.cheapest else p.plan}"
            f"{'' if p.available else ' (not available)'} | {p.monthly_usd:,.2f} | "
            f"{_md(p.note)} |"
            for p in rec.cost.plans
        ),
    ]
    sources = {ln.fact.source: ln.fact for p in rec.cost.plans for ln in p.lines}
    return [
        "",
        f"## Cost per month ({volume:,} emails)",
        "",
        f"Cheapest available: **{rec.cost.cheapest.plan}**; a new account starts on "
        f"**{rec.cost.new_account_plan.plan}** {_link(facts.SES_NEW_ACCOUNT_PLAN)}.",
        "",
        *rows,
        "",
        *(f"- {_md(n)}" for n in rec.cost.notes),
        "",
        "Sources: " + " · ".join(_link(f) for f in sources.values()),
    ]


def _time(rec: Recommendation) -> list[str]:
    t = rec.time
    if not t.messages:
        return []
    out = ["", "## Time to send", ""]
    if t.at_quota_s is None or t.max_send_rate is None:
        out.append(f"Not estimated: your sending quota is not given. {_md(known_limits())}")
    else:
        headroom = facts.SES_RATE_HEADROOM.value
        out.append(
            f"{t.messages:,} emails at your quota ({t.max_send_rate:g}/s): "
            f"**{_duration(t.at_quota_s)}**; paced at {headroom:.0%} of it (a field report's "
            f"margin, not AWS's): {_duration(t.at_headroom_s)}. Limited by the "
            f"{t.limited_by}. {_link(t.quota_fact)}"
        )
    for m in t.measured:
        with_quota = (
            f", with your quota {_duration(m.with_quota_s)}" if m.with_quota_s is not None else ""
        )
        out.append(
            f"- measured {_md(m.label)}: {m.rate:,.1f} msg/s → {_duration(m.alone_s)}{with_quota}"
        )
    if t.measured:
        out.append(f"- (measured in {_md(t.measured_source)})")
    return out


def _feature_table(rec: Recommendation) -> str:
    table = rec.feature_table()
    head = "| feature | " + " | ".join(table.columns) + " |"
    rule = "|---" * (len(table.columns) + 1) + "|"
    rows = [
        f"| {_md(str(feature))} | "
        + " | ".join(f"{_md(c.text)} {_link(c.fact)}" for c in row)
        + " |"
        for feature, row in table.iterrows()
    ]
    return "\n".join([head, rule, *rows])


def _link(fact: Fact[Any]) -> str:
    parts = urlparse(fact.source)
    label = parts.netloc or fact.source
    kind = "" if fact.from_aws else f", {facts.PROVENANCE_LABEL[fact.provenance]}"
    return f"([{label}]({fact.source}), checked {fact.checked.isoformat()}{kind})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return format_duration(seconds)


def _md(text: str) -> str:
    """Escape what Markdown would read as markup (tables, emphasis, and $ for MathJax)."""
    for ch in ("\\", "|", "*", "_", "`", "$"):
        text = text.replace(ch, "\\" + ch)
    return text
