"""Which AWS service and interface should send this mail? A plain, dated decision function.

Why this exists: AWS's old advice ("Pinpoint SendMessages for one syntax across channels, SMTP
for third-party applications, SES for large transactional volume, receiving, configuration sets
and sending authorization") is still sound, but Pinpoint closed to new customers on 2025-05-20
and reached end of support on 2026-10-30. The guide keeps the advice, places it on the
calendar, and every answer carries its reasons, each with a dated fact and source
(:mod:`toolkit.facts`). The rules themselves are in :mod:`.rules`.

Usage::

    from datetime import date
    from toolkit.guide import Profile, recommend
    rec = recommend(Profile(channels={"email", "sms"}, monthly_volume=2_000_000),
                    today=date(2026, 11, 26))
    rec.summary          # 'SES API v2 for email + AWS End User Messaging for SMS'
    rec.reasons[0].text, rec.reasons[0].fact.source
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import facts
from toolkit.errors import ConfigurationError
from toolkit.guide.capacity import Capacity, check_capacity
from toolkit.guide.pricing import CostEstimate, CostInputs, estimate_cost

if TYPE_CHECKING:
    import pandas as pd


from toolkit.guide.features import feature_table
from toolkit.guide.profile import (
    CHANNELS,
    Choice,
    Interface,
    PinpointPhase,
    Profile,
    Reason,
    pinpoint_phase,
)
from toolkit.guide.rules import (
    Collector,
    rules_cost_and_rate,
    rules_no_email,
    rules_pinpoint,
    rules_ses,
    ses_needs,
)
from toolkit.guide.timing import (
    Throughput,
    TimeEstimate,
    estimate_time,
    format_duration,
    known_limits,
)
from toolkit.transports.registry import through_pinpoint


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The answer: a primary choice, secondary choices, ranked reasons, warnings, estimates."""

    primary: Choice
    secondary: tuple[Choice, ...]
    reasons: tuple[Reason, ...]
    warnings: tuple[Reason, ...]
    cost: CostEstimate
    time: TimeEstimate
    today: dt.date
    phase: PinpointPhase
    profile: Profile
    alternative: tuple[Choice, ...] = ()  # the migration target when primary is legacy
    capacity: Capacity | None = None  # the month's volume against the quota (email only)

    @property
    def choices(self) -> tuple[Choice, ...]:
        """Primary then secondary."""
        return (self.primary, *self.secondary)

    @property
    def summary(self) -> str:
        """E.g. 'SES API v2 for email + AWS End User Messaging for SMS'."""
        return " + ".join(c.label for c in self.choices)

    @property
    def pinpoint_badge(self) -> tuple[str, str] | None:
        """(text, tone) of the Pinpoint notice for ``today``, or None before 2025-05-20.

        Tone: "ended" from the end of support, "closing" while only existing accounts may
        use it. The guide shows it whatever was asked (it is a Pinpoint-or-SES guide); SES is
        named only when email is among the channels.
        """
        eos = facts.PINPOINT_END_OF_SUPPORT.value.isoformat()
        to = (
            "SES / End User Messaging" if "email" in self.profile.channels else "End User Messaging"
        )
        if self.phase is PinpointPhase.ENDED:
            return f"Pinpoint: ended {eos} → {to}", "ended"
        if self.phase is PinpointPhase.EXISTING_ONLY:
            closed = facts.PINPOINT_NO_NEW_CUSTOMERS.value.isoformat()
            return f"Pinpoint: closed to new customers {closed}, ends {eos} → {to}", "closing"
        return None

    def _repr_html_(self) -> str:
        """A compact answer card in a notebook (see :mod:`.card`)."""
        from toolkit.guide.card import render_card

        return render_card(self, compact=True)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """The readable answer, not the dataclass fields, where a notebook shows plain text."""
        printer.text(self.to_text())

    @property
    def rules(self) -> tuple[str, ...]:
        """Rule ids of the reasons, in rank order (handy in tests)."""
        return tuple(r.rule for r in self.reasons)

    @property
    def warning_rules(self) -> tuple[str, ...]:
        """Rule ids of the warnings."""
        return tuple(w.rule for w in self.warnings)

    def feature_table(self) -> pd.DataFrame:
        """The SES API / SES SMTP / Pinpoint feature table as of ``today``."""
        return feature_table(self.today)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``guide --json`` prints)."""
        return {
            "today": self.today.isoformat(),
            "pinpoint_phase": self.phase.value,
            "summary": self.summary,
            "choices": [
                {
                    "service": c.service,
                    "interface": c.interface.value,
                    "channels": list(c.channels),
                    "legacy": c.legacy,
                }
                for c in self.choices
            ],
            "alternative": [
                {"service": c.service, "interface": c.interface.value, "channels": list(c.channels)}
                for c in self.alternative
            ],
            "reasons": [dict(r.to_dict(), rank=i) for i, r in enumerate(self.reasons, 1)],
            "warnings": [w.to_dict() for w in self.warnings],
            "cost": self.cost.to_dict(),
            "time": self.time.to_dict(),
            "capacity": self.capacity.to_dict() if self.capacity is not None else None,
            "profile": _profile_dict(self.profile),
        }

    def to_json(self) -> str:
        """The answer as indented JSON, to save or share (what ``guide --json`` prints)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_markdown(self) -> str:
        """The answer as Markdown, to paste into a ticket or a document (see :mod:`.export`)."""
        from toolkit.guide.export import to_markdown

        return to_markdown(self)

    def save(self, path: str | Path) -> Path:
        """Write the answer to ``path``: Markdown for .md, JSON for .json, else plain text.

        Returns the path written; an unwritable path raises ConfigurationError.
        """
        target = Path(path).expanduser()
        suffix = target.suffix.lower()
        text = (
            self.to_markdown()
            if suffix in (".md", ".markdown")
            else self.to_json()
            if suffix == ".json"
            else self.to_text()
        )
        try:
            target.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot write the answer to {target}: {exc}") from exc
        return target

    def to_text(self) -> str:
        """A readable answer with reasons and sources."""
        lines = [f"Recommendation ({self.today.isoformat()}): {self.summary}"]
        if self.alternative:
            lines.append("Migrate to: " + " + ".join(c.label for c in self.alternative))
        if self.pinpoint_badge:
            lines.append(f"[{self.pinpoint_badge[0]}]")
        lines.append("Why:")
        for i, r in enumerate(self.reasons, 1):
            lines.append(f" {i}. {r.text}")
            lines.append(f"    source: {_cited(r.fact)}")
        if self.warnings:
            lines.append("Watch out:")
            for w in self.warnings:
                lines.append(f" ! {w.text}")
                lines.append(f"    source: {_cited(w.fact)}")
        if "email" not in self.profile.channels:
            return "\n".join(lines)  # cost and time are SES's: nothing to say without email
        volume = self.cost.inputs.monthly_volume
        if not volume and not self.time.messages:
            # "$0.00" and "0.0 s" for nothing to send would read as answers; say what is missing.
            lines.append(
                "Cost and time: no volume given (monthly_volume=..., on the command line"
                " --monthly-volume N)."
            )
            return "\n".join(lines)
        if volume:
            lines.append(
                f"Monthly cost for {volume:,} emails (cheapest available: "
                f"{self.cost.cheapest.plan}):"
            )
            for p in self.cost.plans:
                flag = "" if p.available else " (not available)"
                lines.append(
                    f"   {p.plan:<22} ${p.monthly_usd:>12,.2f}{flag}"
                    + (f"  {p.note}" if p.note else "")
                )
            for note in self.cost.notes:
                lines.append(f"   note: {note}")
        lines.extend(_time_lines(self.time))
        if self.capacity is not None and self.capacity.headline():
            lines.append(f"Capacity: {self.capacity.headline()}")
            if self.capacity.ask():
                lines.append(f"   {self.capacity.ask()}")
        return "\n".join(lines)


def _cited(fact: facts.Fact[Any]) -> str:
    kind = "" if fact.from_aws else f"; {facts.PROVENANCE_LABEL[fact.provenance]}"
    return f"{fact.source} (checked {fact.checked.isoformat()}{kind})"


def _time_lines(t: TimeEstimate) -> list[str]:
    if not t.messages:
        return []
    if t.at_quota_s is None or t.max_send_rate is None:
        lines = [f"Time for {t.messages:,} messages: not estimated, your quota is not given.",
                 f"   {known_limits()}"]  # fmt: skip
    else:
        quota = f"{t.max_send_rate:g}/s" + (
            f", {t.max_24_hour_send:,.0f}/24 h"
            if t.max_24_hour_send is not None and t.max_24_hour_send >= 0
            else ""
        )
        lines = [
            f"Time for {t.messages:,} messages at your quota ({quota}): "
            f"{format_duration(t.at_quota_s)}; paced at "
            f"{facts.SES_RATE_HEADROOM.value:.0%} of it (a field report's margin): "
            f"{format_duration(t.at_headroom_s or 0.0)} (limited by {t.limited_by})"
        ]
    if t.measured:
        lines.append(f"   the toolkit's measured speed ({t.measured_source}):")
    for m in t.measured:
        with_quota = (
            f"; with your quota {format_duration(m.with_quota_s)}"
            if m.with_quota_s is not None
            else ""
        )
        lines.append(
            f"   measured {m.label}: {m.rate:,.1f} msg/s → {format_duration(m.alone_s)} at that "
            f"speed{with_quota}"
        )
    return lines


def recommend(
    profile: Profile,
    *,
    today: dt.date | None = None,
    measured: Throughput | pd.DataFrame | Mapping[str, Any] | str | Path | None = None,
) -> Recommendation:
    """Recommend a service and interface for ``profile`` as of ``today`` (default: now).

    Rules, in the order they are applied (rule ids in brackets, see the tests):
    no email → End User Messaging [eum-channels]; Pinpoint SendMessages only while usable
    (before 2025-05-20 for anyone, until 2026-10-30 for existing accounts), only for
    multi-channel or endpoint/user-ID addressing, and only without SES-only needs or a
    third-party/SMTP need [pinpoint-*]; otherwise SES SMTP for third-party applications
    [smtp-third-party] else SES API v2 [api-sdk], with one reason per need.
    ``measured`` may also be a results DataFrame, a benchmark JSON path or {label: msgs/s}.
    """
    today = today or dt.date.today()
    p = profile
    phase = pinpoint_phase(today)
    throughput = Throughput.coerce(measured)
    if throughput is not None and phase is PinpointPhase.ENDED:  # no longer a way to send email
        rates = tuple((k, v) for k, v in throughput.rates if not through_pinpoint(k))
        throughput = Throughput(rates, throughput.source)
    c = Collector()
    email = "email" in p.channels
    others = tuple(ch for ch in CHANNELS if ch in p.channels and ch != "email")
    large = p.monthly_volume >= facts.LARGE_VOLUME_PER_MONTH.value
    pinpoint_usable = phase is PinpointPhase.OPEN or (
        phase is PinpointPhase.EXISTING_ONLY and p.existing_pinpoint
    )
    pinpoint_signal = bool(others) or p.endpoint_ids
    needs = ses_needs(p)
    alternative: tuple[Choice, ...] = ()
    secondary: tuple[Choice, ...] = ()

    if not email:
        primary = Choice(Interface.EUM, others)
        rules_no_email(c, p, phase, others)
    elif pinpoint_usable and pinpoint_signal and not needs and not p.third_party and not large:
        primary = Choice(Interface.PINPOINT, ("email", *others))
        ses = Choice(Interface.SES_API, ("email",))
        alternative = (ses, Choice(Interface.EUM, others)) if others else (ses,)
        rules_pinpoint(c, p, phase, today, others)
    else:
        primary = Choice(Interface.SES_SMTP if p.third_party else Interface.SES_API, ("email",))
        if others:
            secondary = (Choice(Interface.EUM, others),)
        rules_ses(c, p, phase, others, needs, large, pinpoint_usable, pinpoint_signal)

    cost = estimate_cost(
        CostInputs(
            monthly_volume=p.monthly_volume if email else 0,
            attachments_gb=p.attachments_gb if p.attachments else 0.0,
            dedicated_ips=p.dedicated_ip_count if p.dedicated_ips else 0,
            tenants=p.tenant_count if p.tenants else 0,
        ),
        today=today,
    )
    time = estimate_time(p, throughput)
    capacity = (
        check_capacity(p.monthly_volume, p.max_send_rate, p.max_24_hour_send) if email else None
    )
    if email:
        rules_cost_and_rate(c, p, cost, time, legacy=primary.legacy, capacity=capacity)
    reasons = tuple(sorted(c.reasons, key=lambda r: -r.weight))
    warnings = tuple(sorted(c.warnings, key=lambda r: -r.weight))
    return Recommendation(
        primary, secondary, reasons, warnings, cost, time, today, phase, p, alternative, capacity
    )


def _profile_dict(p: Profile) -> dict[str, Any]:
    """The question, JSON-ready (so a shared answer says what was asked)."""
    data: dict[str, Any] = {f.name: getattr(p, f.name) for f in fields(p)}
    data["channels"] = [c for c in CHANNELS if c in p.channels]
    return data
