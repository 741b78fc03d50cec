"""The feature table: what each interface offers, as of a date (Pinpoint's rows end)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit import facts
from toolkit.facts import Fact

if TYPE_CHECKING:
    import pandas as pd


from toolkit.guide.profile import PinpointPhase, pinpoint_phase


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
    eos = facts.PINPOINT_END_OF_SUPPORT.value.isoformat()
    closed = facts.PINPOINT_NO_NEW_CUSTOMERS.value.isoformat()
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
    plan_era = today >= facts.SES_PLANS_INTRODUCED.value
    essentials = facts.SES_PLAN_ESSENTIALS.value.tiers[0][1] * 1000
    alacarte = facts.SES_PRICE_OUTBOUND_PER_1000.value
    price = (
        f"${essentials:.2f} on Essentials (a new account's default); ${alacarte:.2f} à la carte"
        if plan_era
        else f"${alacarte:.2f} à la carte"
    )
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
        "inbound gateway (Mail Manager)": (
            F("✔ Mail Manager or receipt rules (account feature)", facts.SES_MAIL_MANAGER),
            F("✔ Mail Manager or receipt rules (account feature)", facts.SES_MAIL_MANAGER),
            F("✘", facts.SES_RECEIVING),
        ),
        "events to EventBridge": (
            F("✔ configuration set destination", facts.SES_EVENTBRIDGE_DESTINATION),
            F("✔ via X-SES-CONFIGURATION-SET", facts.SES_EVENTBRIDGE_DESTINATION),
            F("✘ (no configuration sets)", facts.PINPOINT_SENDMESSAGES_LACKS),
        ),
        "multi-Region (global endpoint, deterministic DKIM)": (
            F("✔ EndpointId on SendEmail / SendBulkEmail", facts.SES_GLOBAL_ENDPOINTS),
            F("? not verified", facts.SES_GLOBAL_ENDPOINTS),
            F("✘", facts.PINPOINT_EMAIL_MESSAGE_FIELDS),
        ),
        "tenant suppression lists": (
            F("✔ SuppressionScope TENANT", facts.SES_TENANT_SUPPRESSION),
            F("? not verified", facts.SES_TENANT_SUPPRESSION),
            F("✘", facts.PINPOINT_EMAIL_MESSAGE_FIELDS),
        ),
        "one-click unsubscribe (list management)": (
            F("✔ SendEmail ListManagementOptions (not SendBulkEmail)", facts.SES_LIST_MANAGEMENT),
            F("? not verified", facts.SES_LIST_MANAGEMENT),
            F("✘ (no such field)", facts.PINPOINT_EMAIL_MESSAGE_FIELDS),
        ),
        "recipient validation": (
            F("✔ validation API; Auto Validation (account)", facts.SES_RECIPIENT_VALIDATION),
            F("✔ Auto Validation (account)", facts.SES_RECIPIENT_VALIDATION),
            F("✘ (email not validated)", facts.PINPOINT_EMAIL_NOT_CONTINUED),
        ),
        "deliverability insights": (
            F("✔ Virtual Deliverability Manager", facts.SES_VDM),
            F("✔ Virtual Deliverability Manager", facts.SES_VDM),
            F(
                "◐ Deliverability dashboard (paid)"
                if phase is not PinpointPhase.ENDED
                else "✘ ended; VDM in SES",
                facts.SES_VDM,
            ),
        ),
        "price per 1,000 emails": (
            F(price, facts.SES_NEW_ACCOUNT_PLAN if plan_era else facts.SES_PRICE_OUTBOUND_PER_1000),
            F(price, facts.SES_NEW_ACCOUNT_PLAN if plan_era else facts.SES_PRICE_OUTBOUND_PER_1000),
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
