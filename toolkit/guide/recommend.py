"""Which AWS service and interface should send this mail? A plain, dated decision function.

Why this exists: AWS's old advice ("Pinpoint SendMessages for one syntax across channels, SMTP
for third-party applications, SES for large transactional volume, receiving, configuration sets
and sending authorization") is still sound, but Pinpoint closed to new customers on 2025-05-20
and reached end of support on 2026-10-30. The guide keeps the advice, places it on the
calendar, and every answer carries its reasons, each with a dated fact and source
(:mod:`toolkit.facts`).

Usage::

    from datetime import date
    from toolkit.guide import Profile, recommend
    rec = recommend(Profile(channels={"email", "sms"}, monthly_volume=2_000_000),
                    today=date(2026, 11, 26))
    rec.summary          # 'SES API v2 for email + AWS End User Messaging for SMS'
    rec.reasons[0].text, rec.reasons[0].fact.source
    rec.cost.to_frame(); rec.time; feature_table()

The notebook UI is :func:`show` (ipywidgets, imported lazily); the CLI is :func:`guide_cli`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import facts
from toolkit.errors import ConfigurationError
from toolkit.facts import Fact
from toolkit.guide.pricing import CostEstimate, CostInputs, estimate_cost

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.targets import Quota

CHANNELS: tuple[str, ...] = ("email", "sms", "push", "voice")
_CHANNEL_LABEL = {"email": "email", "sms": "SMS", "push": "push", "voice": "voice"}
SECONDS_PER_DAY = 86_400


class Interface(enum.StrEnum):
    """The service + interface the guide can recommend."""

    SES_API = "SES API v2"
    SES_SMTP = "SES SMTP"
    PINPOINT = "Pinpoint SendMessages (legacy)"
    EUM = "AWS End User Messaging"

    @property
    def service(self) -> str:
        """The AWS service behind the interface."""
        return {
            Interface.SES_API: "Amazon SES",
            Interface.SES_SMTP: "Amazon SES",
            Interface.PINPOINT: "Amazon Pinpoint",
            Interface.EUM: "AWS End User Messaging",
        }[self]


class PinpointPhase(enum.StrEnum):
    """Where ``today`` falls relative to Pinpoint's two dates."""

    OPEN = "open"  # before 2025-05-20: anyone may adopt Pinpoint
    EXISTING_ONLY = "existing-only"  # 2025-05-20 ≤ today < 2026-10-30
    ENDED = "ended"  # from 2026-10-30 (end-of-support day included: never recommend it then)


def pinpoint_phase(today: dt.date) -> PinpointPhase:
    """Pinpoint's lifecycle phase on ``today``."""
    if today < facts.PINPOINT_NO_NEW_CUSTOMERS.value:
        return PinpointPhase.OPEN
    if today < facts.PINPOINT_END_OF_SUPPORT.value:
        return PinpointPhase.EXISTING_ONLY
    return PinpointPhase.ENDED


@dataclass(frozen=True, slots=True)
class Profile:
    """What the sender needs. Defaults: email only, SDK available, nothing special."""

    channels: frozenset[str] = frozenset({"email"})
    third_party: bool = False  # a third-party app, or a language without an AWS SDK: SMTP
    monthly_volume: int = 0  # recipients per month
    peak_rate: float = 0.0  # recipients per second at peak
    receive: bool = False  # must receive email
    config_sets: bool = False  # configuration sets / event publishing
    sending_authorization: bool = False  # send for identities owned by another account
    dedicated_ips: bool = False
    tenants: bool = False  # tenant isolation
    templates: bool = False
    attachments: bool = False
    endpoint_ids: bool = False  # address recipients by Pinpoint endpoint or user IDs
    existing_pinpoint: bool = False  # Pinpoint account created before 2025-05-20
    # Inputs of the estimates (not of the choice).
    messages: int | None = None  # one send to time; default: monthly_volume
    max_send_rate: float | None = None  # GetAccount.SendQuota.MaxSendRate (recipients/s)
    max_24_hour_send: float | None = None  # GetAccount.SendQuota.Max24HourSend (-1 unlimited)
    attachments_gb: float = 0.0  # GB of attachments per month
    dedicated_ip_count: int = 1  # used when dedicated_ips
    tenant_count: int = 0  # used when tenants

    def __post_init__(self) -> None:
        chans = self.channels
        raw = [chans] if isinstance(chans, str) else list(chans)
        channels = frozenset(c.strip().lower() for c in raw if c.strip())
        unknown = channels - set(CHANNELS)
        if unknown:
            raise ConfigurationError(
                f"unknown channel(s) {sorted(unknown)}; choose from {', '.join(CHANNELS)}"
            )
        if not channels:
            raise ConfigurationError("choose at least one channel")
        object.__setattr__(self, "channels", channels)
        for name in (
            "monthly_volume",
            "peak_rate",
            "attachments_gb",
            "dedicated_ip_count",
            "tenant_count",
        ):
            if getattr(self, name) < 0:
                raise ConfigurationError(f"{name} must not be negative")
        if self.messages is not None and self.messages < 0:
            raise ConfigurationError("messages must not be negative")
        if self.max_send_rate is not None and self.max_send_rate <= 0:
            raise ConfigurationError("max_send_rate must be positive")

    def with_quota(self, quota: Quota) -> Profile:
        """A copy with the account's quota (e.g. from a transport's ``quota()``)."""
        return replace(
            self, max_send_rate=quota.max_send_rate, max_24_hour_send=quota.max_24_hour_send
        )


@dataclass(frozen=True, slots=True)
class Reason:
    """One ranked reason (or warning): a sentence and the dated fact it rests on."""

    rule: str
    text: str
    fact: Fact[Any]
    weight: int = 50

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "text": self.text,
            "source": self.fact.source,
            "checked": self.fact.checked.isoformat(),
            "fact_note": self.fact.note,
        }


@dataclass(frozen=True, slots=True)
class Choice:
    """An interface for some channels."""

    interface: Interface
    channels: tuple[str, ...]

    @property
    def service(self) -> str:
        """The AWS service."""
        return self.interface.service

    @property
    def legacy(self) -> bool:
        """True for Pinpoint, which has ended (or is ending) for email."""
        return self.interface is Interface.PINPOINT

    @property
    def label(self) -> str:
        """E.g. 'SES API v2 for email'."""
        return f"{self.interface.value} for " + " + ".join(_CHANNEL_LABEL[c] for c in self.channels)


# --- Throughput and time -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Throughput:
    """Measured messages per second, per transport (or scenario) label."""

    rates: tuple[tuple[str, float], ...]
    source: str = ""

    @property
    def as_dict(self) -> dict[str, float]:
        """The rates as a dict."""
        return dict(self.rates)

    @classmethod
    def coerce(cls, measured: Any) -> Throughput | None:
        """Accept a Throughput, a results DataFrame, a benchmark JSON path or {label: rate}."""
        if measured is None or isinstance(measured, Throughput):
            return measured
        if isinstance(measured, (str, Mapping)) or hasattr(measured, "__fspath__"):
            return cls.from_benchmarks(measured)
        if hasattr(measured, "columns"):
            return cls.from_results(measured)
        raise ConfigurationError(f"cannot read throughput from {type(measured).__name__}")

    @classmethod
    def from_mapping(cls, rates: Mapping[str, float], source: str = "dict") -> Throughput:
        """From ``{transport: msgs_per_s}``; non-positive rates are dropped."""
        clean = tuple(
            (str(k), float(v)) for k, v in rates.items() if isinstance(v, (int, float)) and v > 0
        )
        return cls(clean, source)

    @classmethod
    def from_results(cls, frame: pd.DataFrame, source: str = "last run") -> Throughput:
        """From a results DataFrame: sent messages / (max finished_at − min started_at).

        Grouped by the ``transport`` column when present. Only rows with status ``sent``
        count when a ``status`` column exists (skipped and invalid rows took no time).
        """
        import pandas as pd

        missing = {"started_at", "finished_at"} - set(frame.columns)
        if missing:
            raise ConfigurationError(f"results frame lacks column(s) {sorted(missing)}")
        data = frame
        if "status" in data.columns:
            data = data[data["status"].astype(str) == "sent"]
        groups: Iterable[tuple[Any, pd.DataFrame]]
        if "transport" in data.columns:
            groups = data.groupby("transport", sort=True)
        else:
            groups = [("run", data)]
        rates: dict[str, float] = {}
        for label, group in groups:
            start, end = group["started_at"].min(), group["finished_at"].max()
            if pd.isna(start) or pd.isna(end):
                continue
            span = end - start
            seconds = span.total_seconds() if hasattr(span, "total_seconds") else float(span)
            if seconds > 0:
                rates[str(label)] = len(group) / seconds
        return cls.from_mapping(rates, source)

    @classmethod
    def from_benchmarks(cls, data: str | Path | Mapping[str, Any]) -> Throughput:
        """From benchmark results: a JSON file path, its parsed dict, or ``{label: rate}``.

        Any mapping holding ``messages_per_s`` counts, labelled by its ``transport``,
        ``scenario`` or ``name`` field, else its key; the best rate per label wins.
        """
        source = "dict"
        if isinstance(data, (str, Path)):
            path = Path(data)
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigurationError(f"cannot read benchmark results {path}: {exc}") from exc
            source = str(path)
        if not isinstance(data, Mapping):
            raise ConfigurationError("benchmark results must be a JSON object")
        rates: dict[str, float] = {}

        def visit(node: Any, key: str) -> None:
            if isinstance(node, Mapping):
                rate = node.get("messages_per_s")
                if isinstance(rate, (int, float)) and rate > 0:
                    label = str(
                        node.get("transport") or node.get("scenario") or node.get("name") or key
                    )
                    rates[label] = max(rates.get(label, 0.0), float(rate))
                for k, v in node.items():
                    visit(v, str(k))
            elif isinstance(node, list):
                for item in node:
                    visit(item, key)

        if data and all(isinstance(v, (int, float)) for v in data.values()):
            return cls.from_mapping(data, source)
        visit(data, "benchmark")
        return cls.from_mapping(rates, source)


def seconds_to_send(
    messages: int, max_send_rate: float, max_24_hour_send: float | None = None
) -> float:
    """Seconds to send ``messages`` recipients at ``max_send_rate`` under a rolling daily quota.

    With a daily quota Q < messages, a full window of Q is sent per 24 h and the last partial
    window at the rate: ``(ceil(n/Q) − 1) · 86 400 + rest / rate`` (never less than n / rate).
    ``None`` or a negative quota means unlimited (SES reports −1).
    """
    if messages <= 0:
        return 0.0
    if max_send_rate <= 0:
        raise ConfigurationError("max_send_rate must be positive")
    at_rate = messages / max_send_rate
    if max_24_hour_send is None or max_24_hour_send < 0 or messages <= max_24_hour_send:
        return at_rate
    if max_24_hour_send == 0:
        return math.inf
    waits = math.ceil(messages / max_24_hour_send) - 1
    rest = messages - waits * max_24_hour_send
    return max(at_rate, waits * SECONDS_PER_DAY + rest / max_send_rate)


def format_duration(seconds: float) -> str:
    """'2 d 3 h', '4 h 05 min', '12 min 30 s', '3.2 s'."""
    if math.isinf(seconds):
        return "never (daily quota is 0)"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {sec:02d} s"


@dataclass(frozen=True, slots=True)
class TimeEstimate:
    """How long one send of ``messages`` takes at the quota and at measured rates."""

    messages: int
    max_send_rate: float
    max_24_hour_send: float | None
    quota_assumed: bool  # True when the sandbox quota was assumed (account quota not given)
    at_quota_s: float
    at_headroom_s: float  # pacing below the max rate, as field reports advise
    measured: tuple[tuple[str, float, float], ...] = ()  # (label, msgs/s, seconds)
    measured_source: str = ""
    quota_fact: Fact[Any] = facts.SES_QUOTA_COUNTS_RECIPIENTS

    @property
    def limited_by(self) -> str:
        """'rate' or 'daily quota'."""
        if self.max_24_hour_send is not None and 0 <= self.max_24_hour_send < self.messages:
            return "daily quota"
        return "rate"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "messages": self.messages,
            "max_send_rate": self.max_send_rate,
            "max_24_hour_send": self.max_24_hour_send,
            "quota_assumed": self.quota_assumed,
            "limited_by": self.limited_by,
            "at_quota_s": None if math.isinf(self.at_quota_s) else self.at_quota_s,
            "at_headroom_s": None if math.isinf(self.at_headroom_s) else self.at_headroom_s,
            "measured": [
                {"label": k, "messages_per_s": r, "seconds": s} for k, r, s in self.measured
            ],
            "measured_source": self.measured_source,
            "source": self.quota_fact.source,
        }


def estimate_time(profile: Profile, measured: Throughput | None = None) -> TimeEstimate:
    """Time for ``profile.messages`` (default: the monthly volume) at the quota and measured."""
    n = profile.monthly_volume if profile.messages is None else profile.messages
    assumed = profile.max_send_rate is None
    rate = facts.SES_SANDBOX_MAX_SEND_RATE.value if assumed else float(profile.max_send_rate or 0)
    daily: float | None = profile.max_24_hour_send
    if assumed and daily is None:
        daily = float(facts.SES_SANDBOX_MAX_24_HOUR_SEND.value)
    headroom = facts.SES_RATE_HEADROOM.value
    rows = tuple((label, r, n / r) for label, r in (measured.rates if measured else ()))
    return TimeEstimate(
        messages=n,
        max_send_rate=rate,
        max_24_hour_send=daily,
        quota_assumed=assumed,
        at_quota_s=seconds_to_send(n, rate, daily),
        at_headroom_s=seconds_to_send(n, rate * headroom, daily),
        measured=rows,
        measured_source=measured.source if measured else "",
    )


# --- The recommendation --------------------------------------------------------------------------


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

    @property
    def choices(self) -> tuple[Choice, ...]:
        """Primary then secondary."""
        return (self.primary, *self.secondary)

    @property
    def summary(self) -> str:
        """E.g. 'SES API v2 for email + AWS End User Messaging for SMS'."""
        return " + ".join(c.label for c in self.choices)

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
        }

    def to_text(self) -> str:
        """A readable answer with reasons and sources."""
        lines = [f"Recommendation ({self.today.isoformat()}): {self.summary}"]
        if self.alternative:
            lines.append("Migrate to: " + " + ".join(c.label for c in self.alternative))
        lines.append("Why:")
        for i, r in enumerate(self.reasons, 1):
            lines.append(f" {i}. {r.text}")
            lines.append(f"    source: {r.fact.source} (checked {r.fact.checked.isoformat()})")
        if self.warnings:
            lines.append("Warnings:")
            for w in self.warnings:
                lines.append(f" ! {w.text}")
                lines.append(f"    source: {w.fact.source} (checked {w.fact.checked.isoformat()})")
        volume = self.cost.inputs.monthly_volume
        if not volume and not self.time.messages:
            # "$0.00" and "0.0 s" for nothing to send would read as answers; say what is missing.
            lines.append(
                "Cost and time: no volume given (monthly_volume=..., on the command line"
                " --monthly-volume N)."
            )
            return "\n".join(lines)
        lines.append(
            f"Monthly cost for {volume:,} emails (cheapest available: {self.cost.cheapest.plan}):"
        )
        for p in self.cost.plans:
            flag = "" if p.available else " (not available)"
            lines.append(
                f"   {p.plan:<22} ${p.monthly_usd:>12,.2f}{flag}"
                + (f"  {p.note}" if p.note else "")
            )
        for note in self.cost.notes:
            lines.append(f"   note: {note}")
        t = self.time
        quota = f"{t.max_send_rate:g}/s" + (
            f", {t.max_24_hour_send:,.0f}/24 h" if t.max_24_hour_send not in (None, -1) else ""
        )
        assumed = " (sandbox quota assumed; read GetAccount)" if t.quota_assumed else ""
        lines.append(
            f"Time for {t.messages:,} messages at the quota ({quota}){assumed}: "
            f"{format_duration(t.at_quota_s)}; with headroom: "
            f"{format_duration(t.at_headroom_s)} (limited by {t.limited_by})"
        )
        for label, rate, seconds in t.measured:
            lines.append(
                f"   measured {label}: {rate:,.1f} msg/s → {format_duration(seconds)}"
                f" ({t.measured_source})"
            )
        return "\n".join(lines)


@dataclass
class _Collector:
    """Gathers reasons and warnings while the rules run (local to one call)."""

    reasons: list[Reason] = field(default_factory=list)
    warnings: list[Reason] = field(default_factory=list)

    def why(self, rule: str, text: str, fact: Fact[Any], weight: int) -> None:
        self.reasons.append(Reason(rule, text, fact, weight))

    def warn(self, rule: str, text: str, fact: Fact[Any], weight: int = 50) -> None:
        self.warnings.append(Reason(rule, text, fact, weight))


def _d(fact: Fact[dt.date]) -> str:
    return fact.value.isoformat()


def _ses_needs(p: Profile) -> list[str]:
    """Needs that Pinpoint SendMessages never met (they decide for SES whatever the date)."""
    needs = [
        ("receive", "receiving email"),
        ("config_sets", "configuration sets"),
        ("sending_authorization", "sending authorization"),
        ("tenants", "tenant isolation"),
        ("dedicated_ips", "dedicated IP pools"),
    ]
    return [label for name, label in needs if getattr(p, name)]


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
    throughput = Throughput.coerce(measured)
    p = profile
    phase = pinpoint_phase(today)
    c = _Collector()
    email = "email" in p.channels
    others = tuple(ch for ch in CHANNELS if ch in p.channels and ch != "email")
    large = p.monthly_volume >= facts.LARGE_VOLUME_PER_MONTH.value
    pinpoint_usable = phase is PinpointPhase.OPEN or (
        phase is PinpointPhase.EXISTING_ONLY and p.existing_pinpoint
    )
    pinpoint_signal = bool(others) or p.endpoint_ids
    ses_needs = _ses_needs(p)
    alternative: tuple[Choice, ...] = ()
    secondary: tuple[Choice, ...] = ()

    if not email:
        primary = Choice(Interface.EUM, others)
        _rules_no_email(c, p, phase, others)
    elif pinpoint_usable and pinpoint_signal and not ses_needs and not p.third_party and not large:
        primary = Choice(Interface.PINPOINT, ("email", *others))
        ses = Choice(Interface.SES_API, ("email",))
        alternative = (ses, Choice(Interface.EUM, others)) if others else (ses,)
        _rules_pinpoint(c, p, phase, today, others)
    else:
        primary = Choice(Interface.SES_SMTP if p.third_party else Interface.SES_API, ("email",))
        if others:
            secondary = (Choice(Interface.EUM, others),)
        _rules_ses(c, p, phase, others, ses_needs, large, pinpoint_usable, pinpoint_signal)

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
    if email:
        _rules_cost_and_rate(c, p, cost, time, legacy=primary.legacy)
    reasons = tuple(sorted(c.reasons, key=lambda r: -r.weight))
    warnings = tuple(sorted(c.warnings, key=lambda r: -r.weight))
    return Recommendation(
        primary, secondary, reasons, warnings, cost, time, today, phase, p, alternative
    )


def _rules_no_email(
    c: _Collector, p: Profile, phase: PinpointPhase, others: tuple[str, ...]
) -> None:
    names = ", ".join(_CHANNEL_LABEL[ch] for ch in others)
    c.why(
        "eum-channels",
        f"No email: send {names} through AWS End User Messaging, the new name of "
        "Pinpoint's SMS, push and voice channels, which continue to be served.",
        facts.PINPOINT_CHANNELS_RENAMED_EUM,
        100,
    )
    if p.existing_pinpoint:
        c.why(
            "pinpoint-v1-sms-push",
            "Existing Pinpoint v1 SendMessages calls for SMS and push keep working; moving SMS "
            "to the SMS/Voice v2 SendTextMessage API is optional.",
            facts.PINPOINT_V1_SMS_PUSH_SUPPORTED,
            90,
        )
    if p.endpoint_ids and phase is PinpointPhase.ENDED:
        c.warn(
            "endpoints-ended",
            "Pinpoint endpoints, segments and user IDs are no longer accessible after "
            f"{_d(facts.PINPOINT_END_OF_SUPPORT)}; AWS points to Amazon Connect Customer "
            "Profiles and outbound campaigns.",
            facts.AWS_ENGAGEMENT_DESTINATIONS,
            80,
        )
    email_only = [
        n
        for n in (
            "receive",
            "config_sets",
            "sending_authorization",
            "dedicated_ips",
            "tenants",
            "templates",
            "attachments",
            "third_party",
        )
        if getattr(p, n)
    ]
    if email_only:
        c.warn(
            "email-needs-ignored",
            f"Email needs ({', '.join(email_only)}) were ignored: email is not among the channels.",
            facts.PINPOINT_EMAIL_NOT_CONTINUED,
            10,
        )


def _rules_pinpoint(
    c: _Collector, p: Profile, phase: PinpointPhase, today: dt.date, others: tuple[str, ...]
) -> None:
    eos = facts.PINPOINT_END_OF_SUPPORT.value
    if others:
        c.why(
            "pinpoint-one-syntax",
            "AWS's advice: Pinpoint SendMessages sends email, "
            + ", ".join(_CHANNEL_LABEL[ch] for ch in others)
            + " with one request syntax; no other AWS API did.",
            facts.PINPOINT_ONE_SYNTAX_ACROSS_CHANNELS,
            90,
        )
    if p.endpoint_ids:
        c.why(
            "pinpoint-endpoints",
            "Only Pinpoint addresses email to endpoint IDs or user IDs (SendUsersMessages); "
            "SES needs email addresses.",
            facts.PINPOINT_ENDPOINT_AND_USER_IDS,
            85,
        )
    if phase is PinpointPhase.EXISTING_ONLY:
        c.why(
            "pinpoint-existing-account",
            "Your Pinpoint account predates "
            f"{_d(facts.PINPOINT_NO_NEW_CUSTOMERS)}, so it may still use Pinpoint until "
            f"{eos.isoformat()}.",
            facts.PINPOINT_NO_NEW_CUSTOMERS,
            80,
        )
    else:
        c.warn(
            "pinpoint-closing",
            f"Pinpoint stops accepting new customers on {_d(facts.PINPOINT_NO_NEW_CUSTOMERS)}"
            f" and ends on {eos.isoformat()} (as known on "
            f"{facts.PINPOINT_END_OF_SUPPORT.checked.isoformat()}): build on SES for email "
            "if you can.",
            facts.PINPOINT_NO_NEW_CUSTOMERS,
            90,
        )
    days = (eos - today).days
    c.warn(
        "pinpoint-migrate",
        f"Legacy: Pinpoint email ends on {eos.isoformat()} ({days} days after "
        f"{today.isoformat()}). Plan the move of email to SES API v2 (toolkit.guide.migrate "
        "converts SendMessages requests) and of SMS/push/voice to End User Messaging.",
        facts.PINPOINT_END_OF_SUPPORT,
        100,
    )
    if p.templates:
        c.why(
            "pinpoint-templates",
            "Pinpoint SendMessages uses stored, versioned email templates "
            "(TemplateConfiguration); SES templates are their migration target.",
            facts.PINPOINT_TEMPLATES,
            40,
        )
    if p.attachments:
        c.warn(
            "pinpoint-attachments",
            "SendMessages carries attachments only inside RawEmail (raw MIME), at most 10 MB "
            "per message (SES API v2: 40 MB).",
            facts.PINPOINT_EMAIL_MAX_MESSAGE_BYTES,
            40,
        )


def _rules_ses(
    c: _Collector,
    p: Profile,
    phase: PinpointPhase,
    others: tuple[str, ...],
    ses_needs: Sequence[str],
    large: bool,
    pinpoint_usable: bool,
    pinpoint_signal: bool,
) -> None:
    eos = _d(facts.PINPOINT_END_OF_SUPPORT)
    if phase is PinpointPhase.ENDED:
        c.why(
            "pinpoint-ended",
            f"Amazon Pinpoint reached end of support on {eos}: email through Pinpoint is no "
            "longer available, so email means Amazon SES.",
            facts.PINPOINT_END_OF_SUPPORT,
            100,
        )
        c.why(
            "email-not-in-eum",
            "Email is not among the Pinpoint APIs that AWS End User Messaging continues "
            "(SMS, voice, push, OTP, phone number validate).",
            facts.PINPOINT_EMAIL_NOT_CONTINUED,
            95,
        )
        if p.existing_pinpoint:
            c.warn(
                "pinpoint-email-gone",
                f"Your Pinpoint email sending stopped working on {eos}: convert SendMessages "
                "requests with toolkit.guide.migrate.migrate_send_messages.",
                facts.PINPOINT_END_OF_SUPPORT,
                100,
            )
    elif phase is PinpointPhase.EXISTING_ONLY and not p.existing_pinpoint:
        c.why(
            "pinpoint-closed",
            f"Pinpoint stopped accepting new customers on "
            f"{_d(facts.PINPOINT_NO_NEW_CUSTOMERS)}: a newer account can send email only "
            "with Amazon SES.",
            facts.PINPOINT_NO_NEW_CUSTOMERS,
            100,
        )
    elif phase is PinpointPhase.EXISTING_ONLY:
        c.warn(
            "pinpoint-migrate",
            f"Your Pinpoint account still sends until {eos}; move any Pinpoint email to SES "
            "before then (toolkit.guide.migrate converts SendMessages requests).",
            facts.PINPOINT_END_OF_SUPPORT,
            90,
        )
    if pinpoint_usable and pinpoint_signal:
        if p.third_party:
            why = "your application needs SMTP"
        elif ses_needs:
            why = "you need " + ", ".join(ses_needs) + ", which SendMessages lacks"
        else:
            why = "the volume is large"
        c.why(
            "ses-over-pinpoint",
            f"Pinpoint SendMessages could still serve here, but {why}.",
            facts.PINPOINT_SENDMESSAGES_LACKS,
            88,
        )
    c.why(
        "ses-transactional",
        "Amazon SES is AWS's service for transactional email"
        + (f" and suits large volumes ({p.monthly_volume:,}/month)" if large else "")
        + "; even the Pinpoint guide advised SES for it.",
        facts.PINPOINT_ADVICE_SES_FOR_TRANSACTIONAL,
        65 if large else 30,
    )
    if p.third_party:
        c.why(
            "smtp-third-party",
            "A third-party application or a language without an AWS SDK speaks SMTP: use the "
            "SES SMTP interface (TLS, ports 587/465, SMTP credentials per Region).",
            facts.SES_SMTP_INTERFACE,
            92,
        )
        c.warn(
            "smtp-retries",
            "SDK retries do not apply to SMTP: the application must retry 4xx replies "
            "itself (5 s, 10 s, 30 s, then 20 min).",
            facts.SES_SMTP_NO_SDK_RETRIES,
            40,
        )
    else:
        c.why(
            "api-sdk",
            "With an AWS SDK, SES API v2 gives SendEmail and SendBulkEmail (50 destinations "
            "per call), stored templates and the SDK's automatic retries.",
            facts.SES_BULK_MAX_ENTRIES,
            35,
        )
    if p.receive:
        c.why(
            "receive",
            "Receiving email: only SES receives inbound mail (receipt rules to S3, SNS or Lambda).",
            facts.SES_RECEIVING,
            85,
        )
    if p.config_sets:
        c.why(
            "config-sets",
            "Configuration sets and event publishing are SES features ("
            + (
                "X-SES-CONFIGURATION-SET header over SMTP"
                if p.third_party
                else "ConfigurationSetName on each send"
            )
            + "); Pinpoint SendMessages never had them.",
            facts.SES_CONFIGURATION_SETS,
            80,
        )
    if p.sending_authorization:
        c.why(
            "sending-authorization",
            "Sending authorization (sending for another account's identity) is an SES "
            "feature: "
            + (
                "X-SES-SOURCE-ARN / X-SES-FROM-ARN headers over SMTP."
                if p.third_party
                else "the *IdentityArn parameters of SendEmail."
            ),
            facts.SES_SENDING_AUTHORIZATION,
            80,
        )
    if p.tenants:
        c.why(
            "tenants",
            "Tenant isolation (own identities, configuration sets and reputation per tenant) "
            "is an SES feature.",
            facts.SES_TENANTS,
            75,
        )
        if p.third_party:
            c.warn(
                "tenants-api",
                "Sends name their tenant with the TenantName API parameter; check that your "
                "SMTP path can set the tenant, or send through the API.",
                facts.SES_TENANTS,
                60,
            )
    if p.dedicated_ips:
        c.why(
            "dedicated-ips",
            "SES offers standard and managed dedicated IPs, selected per configuration set.",
            facts.SES_DEDICATED_IPS,
            60,
        )
        if not large:
            c.warn(
                "dedicated-ips-volume",
                "AWS recommends shared IPs unless your volume is large and predictable; "
                f"{p.monthly_volume:,}/month is below the guide's 'large' mark "
                f"({facts.LARGE_VOLUME_PER_MONTH.value:,}).",
                facts.SES_DEDICATED_IPS,
                55,
            )
    if p.templates:
        if p.third_party:
            c.warn(
                "templates-smtp",
                "SES templates are used through the API (SendEmail/SendBulkEmail); over SMTP "
                "the application renders each message itself.",
                facts.SES_TEMPLATES,
                60,
            )
        else:
            c.why(
                "templates",
                "SES stored or inline templates work with SendEmail and SendBulkEmail.",
                facts.SES_TEMPLATES,
                45,
            )
    if p.attachments:
        c.why(
            "attachments",
            "Attachments: SES API v2 Simple content takes Attachments (or Raw MIME), SMTP "
            "sends MIME; up to 40 MB per message.",
            facts.SES_MAX_MESSAGE_BYTES,
            40,
        )
        if not p.third_party:
            c.warn(
                "bulk-no-attachments",
                "SendBulkEmail entries cannot carry their own attachments: per-recipient "
                "attachments go one SendEmail per recipient.",
                facts.SES_BULK_NEEDS_TEMPLATE,
                45,
            )
    if others:
        names = ", ".join(_CHANNEL_LABEL[ch] for ch in others)
        c.why(
            "channels-split",
            f"SES sends only email; send {names} through AWS End User Messaging "
            "(Pinpoint's renamed SMS, push and voice channels).",
            facts.PINPOINT_CHANNELS_RENAMED_EUM,
            70,
        )
        if not pinpoint_usable:
            c.warn(
                "one-syntax-gone",
                "One request syntax across email and other channels (Pinpoint SendMessages) "
                "is not available; for multi-channel orchestration AWS points to Amazon "
                "Connect outbound campaigns.",
                facts.AWS_ENGAGEMENT_DESTINATIONS,
                50,
            )
    if p.endpoint_ids:
        c.warn(
            "endpoint-ids",
            "SES has no endpoint or user IDs: resolve them to email addresses yourself "
            "(e.g. a DataFrame column). Pinpoint endpoints end with Pinpoint; AWS points to "
            "Amazon Connect Customer Profiles.",
            facts.PINPOINT_ENDPOINT_AND_USER_IDS,
            70,
        )


def _rules_cost_and_rate(
    c: _Collector, p: Profile, cost: CostEstimate, time: TimeEstimate, *, legacy: bool
) -> None:
    cheapest = cost.cheapest
    if p.monthly_volume:
        plan_fact = next(
            (ln.fact for ln in cheapest.lines if ln.item.endswith("emails")),
            facts.SES_PRICE_OUTBOUND_PER_1000,
        )
        text = (
            f"Cheapest SES plan for {p.monthly_volume:,} emails/month: {cheapest.plan}, "
            f"about ${cheapest.monthly_usd:,.2f}/month."
        )
        if legacy:
            pinpoint = next(pl for pl in cost.plans if pl.historical)
            text += f" Pinpoint (historical price): about ${pinpoint.monthly_usd:,.2f}/month."
        c.why("cost", text, plan_fact, 20)
    if time.quota_assumed:
        c.warn(
            "quota-unknown",
            "Account quota not given: estimates assume the SES sandbox (1/s, 200 per 24 h). "
            "Read GetAccount.SendQuota (production quotas vary per account).",
            facts.SES_SANDBOX_MAX_SEND_RATE,
            30,
        )
    else:
        limit = round(time.max_send_rate * facts.SES_RATE_HEADROOM.value, 9)
        if p.peak_rate > limit:
            c.warn(
                "peak-over-quota",
                f"Peak {p.peak_rate:g}/s is above {limit:g}/s (max send rate "
                f"{time.max_send_rate:g}/s with headroom): request a quota increase or "
                "queue the peak.",
                facts.SES_RATE_HEADROOM,
                70,
            )
        daily = p.max_24_hour_send
        if daily is not None and daily >= 0 and p.monthly_volume > 30 * daily:
            c.warn(
                "volume-over-daily-quota",
                f"{p.monthly_volume:,}/month exceeds 30 × the 24-hour quota ({daily:,.0f}): "
                "request an increase.",
                facts.SES_QUOTA_COUNTS_RECIPIENTS,
                65,
            )


# --- Feature table -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeatureCell:
    """One cell of the feature table: a short verdict and the fact behind it."""

    text: str
    fact: Fact[Any]

    def __str__(self) -> str:
        return self.text


def feature_table(today: dt.date | None = None) -> pd.DataFrame:
    """SES API v2, SES SMTP and Pinpoint SendMessages side by side; each cell a FeatureCell."""
    import pandas as pd

    today = today or dt.date.today()
    phase = pinpoint_phase(today)
    F = FeatureCell  # a short alias for the table below
    eos, closed = _d(facts.PINPOINT_END_OF_SUPPORT), _d(facts.PINPOINT_NO_NEW_CUSTOMERS)
    pp_new = {
        PinpointPhase.OPEN: f"✔ until {closed}",
        PinpointPhase.EXISTING_ONLY: f"✘ since {closed}",
        PinpointPhase.ENDED: "✘ ended",
    }[phase]
    pp_email = {
        PinpointPhase.OPEN: f"✔ until {eos}",
        PinpointPhase.EXISTING_ONLY: f"◐ existing accounts until {eos}",
        PinpointPhase.ENDED: f"✘ ended {eos}",
    }[phase]
    rows: dict[str, tuple[FeatureCell, FeatureCell, FeatureCell]] = {
        "open to new customers": (
            F("✔", facts.PINPOINT_ADVICE_SES_FOR_TRANSACTIONAL),
            F("✔", facts.SES_SMTP_INTERFACE),
            F(pp_new, facts.PINPOINT_NO_NEW_CUSTOMERS),
        ),
        "sends email today": (
            F("✔", facts.PINPOINT_ADVICE_SES_FOR_TRANSACTIONAL),
            F("✔", facts.SES_SMTP_INTERFACE),
            F(pp_email, facts.PINPOINT_END_OF_SUPPORT),
        ),
        "needs an AWS SDK": (
            F("yes (HTTPS API)", facts.SES_SEND_EMAIL_CONTENT),
            F("no: any SMTP client", facts.SES_SMTP_INTERFACE),
            F("yes (HTTPS API)", facts.PINPOINT_MAX_ADDRESSES_PER_CALL),
        ),
        "recipients per call": (
            F("1 message (50 recipients); SendBulkEmail 50 entries", facts.SES_BULK_MAX_ENTRIES),
            F("50 recipients per message", facts.SES_MAX_RECIPIENTS_PER_MESSAGE),
            F("100 addresses", facts.PINPOINT_MAX_ADDRESSES_PER_CALL),
        ),
        "max message size": (
            F("40 MB", facts.SES_MAX_MESSAGE_BYTES),
            F("40 MB", facts.SES_MAX_MESSAGE_BYTES),
            F("10 MB", facts.PINPOINT_EMAIL_MAX_MESSAGE_BYTES),
        ),
        "receive email": (
            F("✔ (account feature)", facts.SES_RECEIVING),
            F("✔ (account feature)", facts.SES_RECEIVING),
            F("✘", facts.SES_RECEIVING),
        ),
        "configuration sets / events": (
            F("✔ ConfigurationSetName", facts.SES_CONFIGURATION_SETS),
            F("✔ X-SES-CONFIGURATION-SET", facts.SES_CONFIGURATION_SETS),
            F("✘", facts.PINPOINT_SENDMESSAGES_LACKS),
        ),
        "sending authorization": (
            F("✔ *IdentityArn", facts.SES_SENDING_AUTHORIZATION),
            F("✔ X-SES-*-ARN headers", facts.SES_SENDING_AUTHORIZATION),
            F("✘ (no such field)", facts.PINPOINT_EMAIL_MESSAGE_FIELDS),
        ),
        "dedicated IPs": (
            F("✔ standard/managed, pools", facts.SES_DEDICATED_IPS),
            F("✔ via configuration set", facts.SES_DEDICATED_IPS),
            F("◐ shared with SES, no pool choice", facts.PINPOINT_SENDMESSAGES_LACKS),
        ),
        "tenant isolation": (
            F("✔ TenantName", facts.SES_TENANTS),
            F("? not verified", facts.SES_TENANTS),
            F("✘", facts.PINPOINT_EMAIL_MESSAGE_FIELDS),
        ),
        "templates": (
            F("✔ stored or inline", facts.SES_TEMPLATES),
            F("✘ render in the app", facts.SES_TEMPLATES),
            F("✔ stored, versioned", facts.PINPOINT_TEMPLATES),
        ),
        "attachments": (
            F("✔ Simple Attachments or Raw", facts.SES_SEND_EMAIL_CONTENT),
            F("✔ MIME", facts.SES_SMTP_INTERFACE),
            F("◐ RawEmail only", facts.PINPOINT_EMAIL_MESSAGE_FIELDS),
        ),
        "endpoint / user IDs as recipients": (
            F("✘", facts.PINPOINT_ENDPOINT_AND_USER_IDS),
            F("✘", facts.PINPOINT_ENDPOINT_AND_USER_IDS),
            F(
                "✔" if phase is not PinpointPhase.ENDED else "✘ ended",
                facts.PINPOINT_ENDPOINT_AND_USER_IDS,
            ),
        ),
        "one syntax for email, SMS, push, voice": (
            F("✘ email only", facts.PINPOINT_ONE_SYNTAX_ACROSS_CHANNELS),
            F("✘ email only", facts.PINPOINT_ONE_SYNTAX_ACROSS_CHANNELS),
            F(
                "✔" if phase is not PinpointPhase.ENDED else "✘ email ended; SMS/push via EUM",
                facts.PINPOINT_ONE_SYNTAX_ACROSS_CHANNELS,
            ),
        ),
        "automatic retries": (
            F("✔ SDK retries", facts.SES_SMTP_NO_SDK_RETRIES),
            F("✘ app retries 4xx", facts.SES_SMTP_NO_SDK_RETRIES),
            F(
                "◐ SDK retries the call, not per-address failures",
                facts.PINPOINT_MAX_ADDRESSES_PER_CALL,
            ),
        ),
        "price per 1,000 emails": (
            F("$0.10 à la carte (plans: see cost)", facts.SES_PRICE_OUTBOUND_PER_1000),
            F("$0.10 à la carte (plans: see cost)", facts.SES_PRICE_OUTBOUND_PER_1000),
            F("$0.10 (historical)", facts.PINPOINT_PRICE_EMAIL),
        ),
    }
    frame = pd.DataFrame.from_dict(
        rows, orient="index", columns=["SES API v2", "SES SMTP", "Pinpoint SendMessages"]
    )
    frame.index.name = "feature"
    return frame


def feature_table_records(today: dt.date | None = None) -> list[dict[str, Any]]:
    """The feature table as JSON-ready records (text + source per cell)."""
    table = feature_table(today)
    return [
        {
            "feature": feature,
            **{
                col: {
                    "text": cell.text,
                    "source": cell.fact.source,
                    "checked": cell.fact.checked.isoformat(),
                }
                for col, cell in row.items()
            },
        }
        for feature, row in table.iterrows()
    ]


# --- Notebook UI (lazy) and CLI ------------------------------------------------------------------


def show(**initial: Any) -> Any:
    """Render the interactive guide (ipywidgets); see :func:`toolkit.guide.ui.show`."""
    from toolkit.guide.ui import show as _show

    return _show(**initial)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def build_parser(prog: str = "python -m toolkit guide") -> argparse.ArgumentParser:
    """The ``guide`` argument parser (flags mirror :class:`Profile`)."""
    ap = argparse.ArgumentParser(
        prog=prog,
        description="Which AWS service/interface to send with, and why (dated facts with sources).",
    )
    ap.add_argument(
        "--channels", default="email", help="comma-separated: email,sms,push,voice (default: email)"
    )
    flags = {
        "--third-party": "a third-party application or a language without an AWS SDK (SMTP)",
        "--receive": "you must receive email",
        "--config-sets": "configuration sets / event publishing",
        "--sending-authorization": "send for identities owned by another account",
        "--dedicated-ips": "dedicated IP addresses",
        "--tenants": "tenant isolation",
        "--templates": "message templates",
        "--attachments": "attachments",
        "--endpoint-ids": "address recipients by Pinpoint endpoint or user IDs",
        "--existing-pinpoint": "the account used Pinpoint before 2025-05-20",
    }
    for flag, text in flags.items():
        ap.add_argument(flag, action="store_true", help=text)
    ap.add_argument("--monthly-volume", type=int, default=0, help="recipients per month")
    ap.add_argument("--peak-rate", type=float, default=0.0, help="recipients per second at peak")
    ap.add_argument(
        "--messages",
        type=int,
        default=None,
        help="size of one send to time (default: the monthly volume)",
    )
    ap.add_argument(
        "--max-send-rate",
        type=float,
        default=None,
        help="account MaxSendRate (default: sandbox 1/s)",
    )
    ap.add_argument(
        "--max-24h-send", type=float, default=None, help="account Max24HourSend (-1 = unlimited)"
    )
    ap.add_argument("--attachments-gb", type=float, default=0.0, help="GB of attachments/month")
    ap.add_argument("--dedicated-ip-count", type=int, default=1)
    ap.add_argument("--tenant-count", type=int, default=0)
    ap.add_argument("--date", type=_date, default=None, help="answer as of YYYY-MM-DD")
    ap.add_argument(
        "--benchmarks",
        default=None,
        help="benchmark results JSON (e.g. benchmarks/results/latest.json)",
    )
    ap.add_argument(
        "--results",
        default=None,
        help="a results file (.csv or .parquet) of your last run, for throughput",
    )
    ap.add_argument("--features", action="store_true", help="also print the feature table")
    ap.add_argument("--json", action="store_true", help="print JSON")
    return ap


def _read_results(path: str) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read results {path}: {exc}") from exc


def guide_cli(argv: Sequence[str] | None = None, *, out: Any = None) -> int:
    """Run the guide from the command line; returns the exit status (0 ok, 2 usage error)."""
    import sys

    out = out or sys.stdout
    try:
        args = build_parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help or a usage error: argparse already printed it
        return int(exc.code or 0)
    try:
        profile = Profile(
            channels=frozenset(args.channels.split(",")),
            third_party=args.third_party,
            monthly_volume=args.monthly_volume,
            peak_rate=args.peak_rate,
            receive=args.receive,
            config_sets=args.config_sets,
            sending_authorization=args.sending_authorization,
            dedicated_ips=args.dedicated_ips,
            tenants=args.tenants,
            templates=args.templates,
            attachments=args.attachments,
            endpoint_ids=args.endpoint_ids,
            existing_pinpoint=args.existing_pinpoint,
            messages=args.messages,
            max_send_rate=args.max_send_rate,
            max_24_hour_send=args.max_24h_send,
            attachments_gb=args.attachments_gb,
            dedicated_ip_count=args.dedicated_ip_count,
            tenant_count=args.tenant_count,
        )
        measured: Throughput | None = None
        if args.benchmarks:
            measured = Throughput.from_benchmarks(args.benchmarks)
        if args.results:
            run = Throughput.from_results(_read_results(args.results), source=args.results)
            measured = (
                run
                if measured is None
                else Throughput(measured.rates + run.rates, f"{measured.source}; {run.source}")
            )
        rec = recommend(profile, today=args.date, measured=measured)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        data = rec.to_dict()
        if args.features:
            data["features"] = feature_table_records(rec.today)
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
    else:
        print(rec.to_text(), file=out)
        if args.features:
            print("\nFeatures:", file=out)
            print(rec.feature_table().map(str).to_string(), file=out)
    return 0
