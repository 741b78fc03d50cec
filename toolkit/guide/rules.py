"""The guide's rules: each adds dated, sourced reasons and warnings to a :class:`Collector`.

One function per situation (no email; Pinpoint still usable and fitting; SES; cost and rate),
called by :func:`toolkit.guide.recommend.recommend`. Rule ids (``eum-channels``,
``pinpoint-*``, ``smtp-third-party``, ``api-sdk``, …) are what the tests check.

Why one module of this size: the rules are read as one decision, top to bottom, and share the
collector and the facts they cite; split by topic, the order in which reasons appear (which
the answer depends on) would be spread over files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit import facts
from toolkit.facts import Fact
from toolkit.guide.capacity import Capacity, CapacityStatus
from toolkit.guide.pricing import CostEstimate
from toolkit.guide.profile import (
    CHANNEL_LABEL,
    PinpointPhase,
    Profile,
    Reason,
)
from toolkit.guide.timing import TimeEstimate, known_limits


@dataclass
class Collector:
    """Gathers reasons and warnings while the rules run (local to one call)."""

    reasons: list[Reason] = field(default_factory=list)
    warnings: list[Reason] = field(default_factory=list)

    def why(self, rule: str, text: str, fact: Fact[Any], weight: int) -> None:
        self.reasons.append(Reason(rule, text, fact, weight))

    def warn(self, rule: str, text: str, fact: Fact[Any], weight: int = 50) -> None:
        self.warnings.append(Reason(rule, text, fact, weight))


def _d(fact: Fact[dt.date]) -> str:
    return fact.value.isoformat()


def ses_needs(p: Profile) -> list[str]:
    """Needs that Pinpoint SendMessages never met (they decide for SES whatever the date)."""
    needs = [
        ("receive", "receiving email"),
        ("config_sets", "configuration sets"),
        ("sending_authorization", "sending authorization"),
        ("tenants", "tenant isolation"),
        ("dedicated_ips", "dedicated IP pools"),
        ("multi_region", "multi-Region sending"),
    ]
    return [label for name, label in needs if getattr(p, name)]


def rules_no_email(c: Collector, p: Profile, phase: PinpointPhase, others: tuple[str, ...]) -> None:
    names = ", ".join(CHANNEL_LABEL[ch] for ch in others)
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
            "multi_region",
            "marketing",
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


def rules_pinpoint(
    c: Collector, p: Profile, phase: PinpointPhase, today: dt.date, others: tuple[str, ...]
) -> None:
    eos = facts.PINPOINT_END_OF_SUPPORT.value
    if others:
        c.why(
            "pinpoint-one-syntax",
            "AWS's advice: Pinpoint SendMessages sends email, "
            + ", ".join(CHANNEL_LABEL[ch] for ch in others)
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


def rules_ses(
    c: Collector,
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
    warmup = facts.SES_DEDICATED_IP_WARMUP.value
    per_provider = facts.SES_DEDICATED_IP_DAILY_PER_PROVIDER.value
    if p.dedicated_ips:
        c.why(
            "dedicated-ips",
            "SES offers standard and managed dedicated IPs, selected per configuration set.",
            facts.SES_DEDICATED_IPS,
            60,
        )
        c.warn(
            "dedicated-ips-warmup",
            f"A new standard dedicated IP is warmed up by SES over {warmup} days: order it "
            f"{warmup} days before the volume moves to it, then keep about {per_provider:,} "
            "emails a day to each mailbox provider on each IP (managed dedicated IPs warm up "
            "and scale themselves).",
            facts.SES_DEDICATED_IP_WARMUP,
            58,
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
        per_ip = p.monthly_volume / facts.DAYS_PER_MONTH.value / max(p.dedicated_ip_count, 1)
        if large and per_ip < per_provider:  # below "large", dedicated-ips-volume says it
            c.warn(
                "dedicated-ips-too-many",
                f"About {per_ip:,.0f} emails a day per dedicated IP ({p.dedicated_ip_count} "
                f"IPs): below the ~{per_provider:,} a day to each provider AWS advises keeping "
                "up after warm-up. Fewer IPs, or shared IPs.",
                facts.SES_DEDICATED_IP_DAILY_PER_PROVIDER,
                56,
            )
    elif large:
        c.warn(
            "dedicated-ips-advice",
            f"{p.monthly_volume:,} emails a month is above the guide's large-volume mark "
            f"({facts.LARGE_VOLUME_PER_MONTH.value:,}; AWS names no number): AWS advises "
            "dedicated IPs only for large volumes sent on a regular, predictable basis, else "
            "shared IPs. A standard IP takes SES's "
            f"{warmup}-day automatic warm-up, then about {per_provider:,} emails a day to each "
            "provider; managed dedicated IPs warm and scale themselves (included in Pro).",
            facts.SES_DEDICATED_IPS_ADVICE,
            48,
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
        names = ", ".join(CHANNEL_LABEL[ch] for ch in others)
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
    rules_newer_features(c, p, large)


def rules_newer_features(c: Collector, p: Profile, large: bool) -> None:
    """The newer SES features, each only where it changes the answer for this profile."""
    if p.receive:
        c.why(
            "mail-manager",
            "For inbound mail that needs filtering, archiving or relaying, SES Mail Manager "
            "(ingress endpoints, rule sets, archives) is the newer path beside receipt rules; "
            "it is billed per message processed.",
            facts.SES_MAIL_MANAGER,
            50,
        )
    if p.config_sets:
        c.why(
            "eventbridge-events",
            "Sending events (deliveries, bounces, complaints, opens, clicks) can go straight to "
            "Amazon EventBridge from the configuration set (the default event bus only), "
            "besides SNS, Firehose and CloudWatch.",
            facts.SES_EVENTBRIDGE_DESTINATION,
            45,
        )
    if p.tenants:
        c.why(
            "tenant-suppression",
            "Each tenant can keep its own suppression list (SuppressionScope TENANT), so one "
            "tenant's bounces and complaints do not suppress addresses for the others.",
            facts.SES_TENANT_SUPPRESSION,
            55,
        )
    if p.multi_region:
        c.why(
            "global-endpoints",
            "Multi-Region sending: an SES global endpoint (multi-Region endpoint) divides "
            "sending between two Regions, named on each send with EndpointId; the Enterprise "
            "plan includes it.",
            facts.SES_GLOBAL_ENDPOINTS,
            78,
        )
        c.why(
            "deterministic-dkim",
            "Deterministic Easy DKIM replicates a domain's DKIM signing from its first Region "
            "(DomainSigningAttributesOrigin AWS_SES_<REGION>), so one set of DNS records "
            "serves both Regions of the endpoint.",
            facts.SES_DETERMINISTIC_EASY_DKIM,
            60,
        )
        if p.third_party:
            c.warn(
                "global-endpoints-smtp",
                "Global endpoints are chosen with the API's EndpointId; whether the SMTP "
                "interface can use one is not verified here: check before relying on it.",
                facts.SES_GLOBAL_ENDPOINTS,
                60,
            )
    if p.marketing:
        c.why(
            "list-management",
            "Mail people subscribe to needs an unsubscribe: SES list management "
            "(ListManagementOptions with a contact list and topic) adds the unsubscribe link "
            "and one-click unsubscribe headers and stops sends to contacts who left.",
            facts.SES_LIST_MANAGEMENT,
            70,
        )
        if not p.third_party:
            c.warn(
                "bulk-no-list-management",
                "SendBulkEmail takes no ListManagementOptions: with SES list management, send "
                "one SendEmail per recipient (or set the unsubscribe headers yourself).",
                facts.SES_LIST_MANAGEMENT,
                55,
            )
    if large:
        c.warn(
            "recipient-validation",
            "Validate addresses where they are collected (SES email validation API, or Auto "
            "Validation's confidence threshold), not before every send: at about $0.01 per "
            f"validation à la carte, checking all {p.monthly_volume:,} a month would cost "
            f"${p.monthly_volume * 0.01:,.0f}, far more than sending them.",
            facts.SES_RECIPIENT_VALIDATION,
            35,
        )
    if p.existing_pinpoint or p.dedicated_ips or large:
        c.why(
            "vdm",
            "Deliverability: SES Virtual Deliverability Manager takes the place of the "
            "Deliverability dashboard Pinpoint email used (Essentials includes VDM queries, "
            "Pro the subscription).",
            facts.SES_VDM,
            30,
        )


def rules_cost_and_rate(
    c: Collector,
    p: Profile,
    cost: CostEstimate,
    time: TimeEstimate,
    *,
    legacy: bool,
    capacity: Capacity | None = None,
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
        if not plan_fact.from_aws:
            text += (
                " Prices from a third-party copy of the AWS Price List, not AWS's own page: "
                "confirm on aws.amazon.com/ses/pricing."
            )
        c.why("cost", text, plan_fact, 20)
        default = cost.new_account_plan
        if default is not cheapest and not cheapest.historical:
            c.why(
                "new-account-plan",
                f"A new SES account starts on the {default.plan} plan (about "
                f"${default.monthly_usd:,.2f}/month here); to be billed {cheapest.plan} "
                f"instead, run 'aws sesv2 put-account-pricing-attributes --plan "
                f"{cheapest.api_value}' (per Region; 'aws sesv2 get-account' shows the plan).",
                facts.SES_NEW_ACCOUNT_PLAN,
                19,
            )
    cap = capacity
    if cap is not None and cap.status is CapacityStatus.OVER:
        c.warn("capacity-over", f"{cap.headline()} {cap.ask()}", facts.SES_QUOTA_INCREASE, 97)
    elif cap is not None and cap.status is CapacityStatus.TIGHT:
        c.warn("capacity-tight", f"{cap.headline()} {cap.ask()}", facts.SES_QUOTA_INCREASE, 75)
    if not time.quota_known:
        c.warn(
            "quota-unknown",
            "Your sending quota is not given, so no time is estimated. " + known_limits(),
            facts.SES_SANDBOX_MAX_SEND_RATE,
            30,
        )
        return
    assert time.max_send_rate is not None
    headroom = facts.SES_RATE_HEADROOM.value
    limit = round(time.max_send_rate * headroom, 9)
    if p.peak_rate > limit:
        c.warn(
            "peak-over-quota",
            f"Peak {p.peak_rate:g}/s is above {limit:g}/s, {headroom:.0%} of your max send rate "
            f"{time.max_send_rate:g}/s. AWS: SES may accept less than the max rate and only "
            f"short bursts above it; the {headroom:.0%} margin is a field report, not an AWS "
            "figure. Request a quota increase or queue the peak.",
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
