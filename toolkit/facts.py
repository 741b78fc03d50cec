"""Dated facts the toolkit depends on, each with its source and the date it was checked.

Keep every date, limit and price the code relies on here, in one place, so that a change at
AWS is a one-line change with a new source and date. Where the sandbox models a behaviour AWS
does not document, the entry says "modelled, not documented" and what it was modelled on.

Rules for an entry: the source is AWS's own English page (docs.aws.amazon.com,
aws.amazon.com, an AWS-owned repository) wherever one exists; otherwise ``provenance`` says
what it is instead (``third-party``, ``field-report``, or ``toolkit`` for the toolkit's own
choice) and the guide says so next to the reason. ``checked`` is the day the source was
actually read, and no fact may go unread for longer than :data:`REVIEW_PERIOD`:
``python -m toolkit.facts --check-stale`` fails listing the stale ones (``.ci/run`` runs it; the
tests do not read the clock, so a user's test run never fails because time passed), and the
guide shows every fact's age next to its source.

Why one module of this size: it is a register, not logic. Keeping every dated fact in one
file is what makes a review possible (one place to re-read, one date per entry), and splitting
it by topic would scatter the review across files that transports, the sandbox and the guide
all import.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")

Provenance = Literal["aws", "third-party", "field-report", "toolkit"]
PROVENANCE_LABEL: dict[str, str] = {
    "aws": "AWS",
    "third-party": "third-party copy, not AWS's page",
    "field-report": "field report, not AWS",
    "toolkit": "the toolkit's own choice",
}

#: Every fact is re-read at least this often; ``python -m toolkit.facts --check-stale`` fails
#: past it.
REVIEW_PERIOD = dt.timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Fact(Generic[T]):
    """A value with where it comes from, when that was read, and what kind of source it is."""

    value: T
    source: str
    checked: dt.date
    note: str = ""
    provenance: Provenance = "aws"

    def age(self, today: dt.date | None = None) -> int:
        """Days since the source was read, as of ``today`` (default: now)."""
        return ((today or dt.date.today()) - self.checked).days

    @property
    def from_aws(self) -> bool:
        """True when the source is AWS's own page."""
        return self.provenance == "aws"


def all_facts() -> dict[str, Fact[Any]]:
    """Every fact of this module by name (for reviews and tests)."""
    return {name: value for name, value in globals().items() if isinstance(value, Fact)}


def overdue(today: dt.date | None = None) -> dict[str, Fact[Any]]:
    """Facts whose source was last read more than :data:`REVIEW_PERIOD` before ``today``."""
    day = today or dt.date.today()
    return {n: f for n, f in all_facts().items() if day - f.checked > REVIEW_PERIOD}


PINPOINT_END_OF_SUPPORT: Fact[dt.date] = Fact(
    dt.date(2026, 10, 30),
    "https://docs.aws.amazon.com/pinpoint/",
    dt.date(2026, 11, 30),
    "'On October 30, 2026, AWS will end support for Amazon Pinpoint' (the notice on every "
    "Pinpoint page; details: https://docs.aws.amazon.com/pinpoint/latest/userguide/"
    "migrate.html). AWS points email users to SES.",
)
PINPOINT_NO_NEW_CUSTOMERS: Fact[dt.date] = Fact(
    dt.date(2025, 5, 20),
    "https://docs.aws.amazon.com/pinpoint/latest/userguide/migrate.html",
    dt.date(2026, 11, 26),
)
SES_MAX_RECIPIENTS_PER_MESSAGE: Fact[int] = Fact(
    50, "https://docs.aws.amazon.com/ses/latest/dg/quotas.html", dt.date(2026, 11, 26)
)
SES_MAX_MESSAGE_BYTES: Fact[int] = Fact(
    40 * 1024 * 1024,
    "https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
    dt.date(2026, 11, 26),
    "40 MB with the SES v2 API or SMTP, after base64 encoding (10 MB with the v1 API).",
)
SES_BULK_MAX_ENTRIES: Fact[int] = Fact(
    50,
    "https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
    dt.date(2026, 11, 30),
    "'Maximum number of recipients for each templated email: 50 destinations'; the number per "
    "call may also be limited by the account's maximum sending rate. (The SendBulkEmail "
    "reference states no maximum for BulkEmailEntries.)",
)
PINPOINT_MAX_ADDRESSES_PER_CALL: Fact[int] = Fact(
    100,
    "https://docs.aws.amazon.com/pinpoint/latest/apireference/apps-application-id-messages.html",
    dt.date(2026, 11, 26),
)
PINPOINT_MAX_PAYLOAD_BYTES: Fact[int] = Fact(
    7 * 1024 * 1024,
    "https://docs.aws.amazon.com/pinpoint/latest/developerguide/quotas.html",
    dt.date(2026, 11, 26),
    "Maximum invocation payload (request plus response).",
)


# --- Decision guide (toolkit.guide): service availability -------------------------------------
# The dates above are the two boundaries of the guide: before PINPOINT_NO_NEW_CUSTOMERS anyone
# could adopt Pinpoint; until PINPOINT_END_OF_SUPPORT only accounts created before that date;
# from PINPOINT_END_OF_SUPPORT on, Pinpoint email is gone.

_CHECKED = dt.date(2026, 11, 26)  # read by the guide's author
_REVIEWED = dt.date(2026, 11, 30)  # re-read in the source review (English AWS pages)

PINPOINT_EMAIL_NOT_CONTINUED: Fact[tuple[str, ...]] = Fact(
    ("sms", "voice", "push", "otp", "phone number validate"),
    "https://aws.amazon.com/pinpoint/getting-started",
    _REVIEWED,
    "APIs for SMS, voice, mobile push, OTP and phone number validate are not impacted by the "
    "end of support and are served by AWS End User Messaging; email is not on the list.",
)
PINPOINT_CHANNELS_RENAMED_EUM: Fact[str] = Fact(
    "AWS End User Messaging",
    "https://docs.aws.amazon.com/sms-voice/latest/userguide/what-is-service.html",
    _REVIEWED,
    "'The SMS, MMS, and voice (text to speech) features of Amazon Pinpoint are now called AWS "
    "End User Messaging'; mobile push is served there too (the notice on every Pinpoint page).",
)
PINPOINT_V1_SMS_PUSH_SUPPORTED: Fact[bool] = Fact(
    True,
    "https://aws.amazon.com/blogs/messaging-and-targeting/"
    "aws-end-user-messaging-sms-and-voice-v2-api-a-migration-guide-from-v1/",
    _REVIEWED,
    "Push and SMS through the Pinpoint v1 SendMessages API remain supported; moving SMS to the "
    "End User Messaging SMS/Voice v2 SendTextMessage API is optional.",
)
AWS_ENGAGEMENT_DESTINATIONS: Fact[tuple[str, ...]] = Fact(
    (
        "Amazon Connect outbound campaigns",
        "Amazon Connect Customer Profiles",
        "Amazon Kinesis Data Streams or Amazon Data Firehose",
    ),
    "https://docs.amplify.aws/react/build-a-backend/add-aws-services/pinpoint-migration/",
    _REVIEWED,
    "AWS's destinations for Pinpoint's endpoints, segments, campaigns, journeys and analytics "
    "(AWS Amplify's Pinpoint migration guide, updated 2026-07-29).",
)
PINPOINT_ADVICE_SES_FOR_TRANSACTIONAL: Fact[str] = Fact(
    "Amazon SES",
    "https://docs.aws.amazon.com/pinpoint/latest/developerguide/send-messages-email.html",
    _CHECKED,
    "The Pinpoint developer guide advised Amazon SES (API or SMTP) for large volumes of "
    "transactional email such as purchase confirmations and password resets.",
)
PINPOINT_ONE_SYNTAX_ACROSS_CHANNELS: Fact[tuple[str, ...]] = Fact(
    ("email", "sms", "push", "voice"),
    "https://docs.aws.amazon.com/pinpoint/latest/developerguide/send-messages-email.html",
    _CHECKED,
    "Only Pinpoint offered one SendMessages syntax across email, SMS, push and voice (its email "
    "part ended on 2026-10-30).",
)
PINPOINT_ENDPOINT_AND_USER_IDS: Fact[int] = Fact(
    100,
    "https://docs.aws.amazon.com/pinpoint/latest/developerguide/send-messages-email.html",
    _CHECKED,
    "Pinpoint could address email to endpoint IDs (Endpoints map) and to user IDs "
    "(SendUsersMessages, up to 100 users per request); SES has no equivalent.",
)
PINPOINT_SENDMESSAGES_LACKS: Fact[tuple[str, ...]] = Fact(
    ("cc/bcc", "configuration sets", "dedicated IP pools", "message tags"),
    "https://github.com/awsdocs/amazon-pinpoint-developer-guide/blob/"
    "4d9445d56d2f3b2f4598fb1f70ba7b5d7d0a2956/doc-source/send-messages-email.md",
    _CHECKED,
    "Archived Pinpoint docs: only the Pinpoint Email API (a twin of SES v2), not SendMessages, "
    "offered CC/BCC, configuration sets, dedicated IP pools and message tags.",
)
PINPOINT_EMAIL_MESSAGE_FIELDS: Fact[tuple[str, ...]] = Fact(
    (
        "FromAddress",
        "SimpleEmail",
        "RawEmail",
        "Body",
        "ReplyToAddresses",
        "FeedbackForwardingAddress",
        "Substitutions",
    ),
    "https://docs.aws.amazon.com/sdk-for-sap-abap/v1/api/latest/ppt/model/"
    "_AWS1_CL_PPTEMAILMESSAGE.html",
    _REVIEWED,
    "Every field of Pinpoint's EmailMessage; there is no sending-authorization ARN or "
    "configuration-set field.",
)
PINPOINT_EMAIL_MAX_MESSAGE_BYTES: Fact[int] = Fact(
    10 * 1024 * 1024,
    "https://github.com/awsdocs/amazon-pinpoint-developer-guide/blob/"
    "504aa628c73ee1171abcec70924bbcdcb3a318d7/doc-source/quotas.md",
    _CHECKED,
    "Pinpoint email: 10 MB per message including attachments, 50 recipients per message.",
)
PINPOINT_TEMPLATES: Fact[str] = Fact(
    "TemplateConfiguration.EmailTemplate {Name, Version}",
    "https://github.com/awsdocs/aws-doc-sdk-examples/blob/main/python/example_code/pinpoint/"
    "pinpoint_send_templated_email_message.py",
    _CHECKED,
    "Pinpoint SendMessages could use stored (versioned) email templates.",
)
PINPOINT_DEDICATED_IPS_SHARED: Fact[bool] = Fact(
    True,
    "https://docs.aws.amazon.com/pinpoint/latest/userguide/"
    "channels-email-deliverability-dashboard-ip-address.html",
    _CHECKED,
    "Pinpoint email ran on SES infrastructure; its dedicated IPs were shared with the SES account.",
)
PINPOINT_SMTP_IS_SES_SMTP: Fact[str] = Fact(
    "email-smtp.{region}.amazonaws.com",
    "https://github.com/awsdocs/aws-doc-sdk-examples/blob/main/python/example_code/pinpoint/"
    "pinpoint_send_email_smtp.py",
    _CHECKED,
    "Pinpoint's 'SMTP interface' was the SES SMTP endpoint.",
)

# --- Decision guide: SES features --------------------------------------------------------------

SES_RECEIVING: Fact[bool] = Fact(
    True,
    "https://docs.aws.amazon.com/ses/latest/dg/receiving-email-action.html",
    _REVIEWED,
    "Only SES receives inbound email: receipt rule actions deliver to an S3 bucket, publish to "
    "SNS or invoke Lambda.",
)
SES_CONFIGURATION_SETS: Fact[str] = Fact(
    "ConfigurationSetName / X-SES-CONFIGURATION-SET",
    "https://docs.aws.amazon.com/ses/latest/dg/event-publishing-send-email.html",
    _CHECKED,
    "Configuration sets publish send events (CloudWatch, Firehose, SNS…) and pick IP pools; the "
    "API takes ConfigurationSetName, SMTP the X-SES-CONFIGURATION-SET header.",
)
SES_SENDING_AUTHORIZATION: Fact[str] = Fact(
    "FromEmailAddressIdentityArn / X-SES-SOURCE-ARN",
    "https://docs.aws.amazon.com/ses/latest/dg/sending-authorization-delegate-sender-tasks-email.html",
    _CHECKED,
    "A delegate sender passes the owner's identity ARNs (API *IdentityArn parameters, or "
    "X-SES-*-ARN headers over SMTP); both accounts must be out of the sandbox.",
)
SES_TEMPLATES: Fact[str] = Fact(
    "SendEmail Template / SendBulkEmail",
    "https://docs.aws.amazon.com/ses/latest/dg/send-personalized-email-api.html",
    _CHECKED,
    "SES templates (stored or inline) are used through the API's SendEmail and SendBulkEmail; "
    "SMTP sends finished MIME, so templates are rendered by the application (inference).",
)
SES_TENANTS: Fact[str] = Fact(
    "TenantName",
    "https://docs.aws.amazon.com/ses/latest/dg/tenants.html",
    _REVIEWED,
    "Tenants isolate identities, configuration sets, templates and reputation, so one tenant's "
    "bounces do not pause the account; sends name the tenant with the TenantName API parameter.",
)
SES_DEDICATED_IPS: Fact[tuple[str, ...]] = Fact(
    ("standard", "managed"),
    "https://docs.aws.amazon.com/ses/latest/dg/dedicated-ip.html",
    _CHECKED,
    "SES dedicated IPs are standard (you warm up and manage pools) or managed (SES warms up "
    "and scales); AWS recommends shared IPs unless volume is large and predictable.",
)
SES_SEND_EMAIL_CONTENT: Fact[tuple[str, ...]] = Fact(
    ("Simple", "Raw", "Template"),
    "https://docs.aws.amazon.com/goto/WebAPI/sesv2-2019-09-27/SendEmail",
    _CHECKED,
    "SendEmail content: Simple (with Attachments), Raw MIME, or Template (with TemplateData).",
)
SES_BULK_NEEDS_TEMPLATE: Fact[str] = Fact(
    "DefaultContent.Template",
    "https://docs.aws.amazon.com/goto/WebAPI/sesv2-2019-09-27/SendBulkEmail",
    _CHECKED,
    "SendBulkEmail requires a template; entries carry only replacement data, headers and "
    "tags, so per-recipient attachments need one SendEmail per recipient (inference from the "
    "field list; botocore 1.44's model lets DefaultContent.Template carry attachments shared "
    "by every entry).",
)
SES_SMTP_INTERFACE: Fact[str] = Fact(
    "email-smtp.{region}.amazonaws.com:587",
    "https://docs.aws.amazon.com/ses/latest/dg/smtp-connect.html",
    _CHECKED,
    "SES's SMTP interface (STARTTLS on 25/587/2587, TLS wrapper on 465/2465) works from any "
    "application or language that speaks SMTP, without an AWS SDK.",
)
SES_SMTP_NO_SDK_RETRIES: Fact[str] = Fact(
    "retry 4xx after 5 s, 10 s, 30 s, then 20 min",
    "https://github.com/awsdocs/amazon-ses-developer-guide/blob/"
    "1b656cebb4c5a70e305bc1980c469c79208f4275/doc-source/troubleshoot-smtp.md",
    _CHECKED,
    "The SDKs' automatic retries apply to HTTPS only; an SMTP client must retry 4xx itself.",
)
SES_SANDBOX_MAX_SEND_RATE: Fact[float] = Fact(
    1.0,
    "https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
    _REVIEWED,
    "Sandbox accounts: 1 recipient per second.",
)
SES_SANDBOX_MAX_24_HOUR_SEND: Fact[int] = Fact(
    200,
    "https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
    _REVIEWED,
    "Sandbox accounts: 200 recipients per rolling 24 hours.",
)
SES_QUOTA_COUNTS_RECIPIENTS: Fact[str] = Fact(
    "recipients",
    "https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
    _REVIEWED,
    "Sending quotas count recipients, not messages; the 24 h quota is a rolling window; the "
    "production quota is per account and Region and is read from GetAccount.SendQuota.",
)
SES_RATE_HEADROOM: Fact[float] = Fact(
    0.7,
    "https://github.com/hackclub/hcb/pull/11734",
    _REVIEWED,
    "Not an AWS figure. AWS says SES may accept less than MaxSendRate and allows only short "
    "bursts above it (https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html), "
    "but gives no margin. A field report (hcb, 2025) still met 'Maximum sending rate exceeded' "
    "at 14/s and lowered to 10/s; 0.7 is that ratio. django-ses uses 0.5.",
    "field-report",
)
BATCH_COUNT_MOMENT: Fact[str] = Fact(
    "a call of many recipients is counted against MaxSendRate inside its round trip",
    "https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html ; "
    "https://github.com/django-ses/django-ses/issues/59",
    dt.date(2026, 12, 6),
    "Modelled, not documented. AWS documents no moment at which SendBulkEmail's entries or "
    "Pinpoint SendMessages' addresses count against the rate, only that limits are counted in "
    "recipients and that a call with more recipients than the rate left goes through while any "
    "quota is left (AWS's blog, quoted in the django-ses issue). The toolkit assumes the "
    "provider counts a call's recipients after the request arrived and before its answer "
    "leaves, as for one message, and credits its pacer at most 0.9 of the shortest round trip "
    "less 10 ms (toolkit.delivery.concurrency): the margin covers counting during the "
    "provider's own work. The sandbox counts each recipient as it processes the call, after "
    "its latency; at 50 and 150 ms it throttled none of the calls so paced (issue 17).",
    "toolkit",
)
PINPOINT_EMAIL_MESSAGES_PER_SECOND: Fact[str] = Fact(
    "GetEmailChannel's EmailChannelResponse.MessagesPerSecond",
    "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/pinpoint/"
    "aws.sdk.kotlin.services.pinpoint.model/-email-channel-response/messages-per-second.html",
    dt.date(2026, 12, 6),
    "'The maximum number of emails that can be sent through the channel each second.' Pinpoint "
    "has no GetAccount; when no rate is given, the toolkit paces a Pinpoint run at this figure.",
)
SES_SENDING_RATE_MAY_BE_LOWER: Fact[str] = Fact(
    "SES may accept less than MaxSendRate; short bursts above it, not sustained",
    "https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html",
    _REVIEWED,
    "'You can exceed this quota for short bursts, but not for sustained periods of time. … The "
    "rate at which Amazon SES accepts your messages can be less than the maximum send rate for "
    "your account.' Read your quota with GetAccount (aws sesv2 get-account) or on the SES "
    "console's Account dashboard.",
)
LARGE_VOLUME_PER_MONTH: Fact[int] = Fact(
    1_000_000,
    "https://docs.aws.amazon.com/pinpoint/latest/developerguide/send-messages-email.html",
    _CHECKED,
    "(inference) AWS advised SES for 'large volumes' of transactional email without a number; "
    "this threshold is the toolkit's own, for the guide's wording and the dedicated-IP warning.",
    "toolkit",
)

# --- Decision guide: capacity (toolkit.guide.capacity) -----------------------------------------

_READ_DEC = dt.date(2026, 12, 6)  # read for the capacity check and the newer SES features
# AWS's archived developer-guide repository (older wording than the live pages, which could not
# be read here): the quota-increase, dedicated-IP and warm-up pages come from it.
_SES_DG_REPO = (
    "https://github.com/awsdocs/amazon-ses-developer-guide/blob/"
    "1b656cebb4c5a70e305bc1980c469c79208f4275/doc-source/"
)

DAYS_PER_MONTH: Fact[int] = Fact(
    30,
    "https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas.html",
    _READ_DEC,
    "The toolkit's own: a month's mail must go out within 30 days (the shortest month but "
    "one), each day at most the rolling 24-hour quota and 86,400 s at the max send rate.",
    "toolkit",
)
SES_QUOTA_INCREASE: Fact[str] = Fact(
    "Service Quotas console: Amazon Simple Email Service (SES), Sending quota / Sending rate",
    f"{_SES_DG_REPO}manage-sending-quotas-request-increase.md",
    _READ_DEC,
    "AWS's developer guide (archived awsdocs copy of manage-sending-quotas-request-increase"
    ".html, older wording): "
    "request a higher 'Sending quota' (per 24 hours) or 'Sending rate' in the Service Quotas "
    "console (Region picker, AWS services, Amazon Simple Email Service (SES)), or in a Support "
    "Center case 'Service limit increase' / 'SES Service Limits'; 'Only request the amount that "
    "you think you'll need'; answered within up to 24 hours. SES may raise quotas on its own "
    "when 'your daily email volume should regularly approach the daily maximum'.",
)
SES_DEDICATED_IPS_ADVICE: Fact[str] = Fact(
    "shared IPs unless large volumes on a regular and predictable basis",
    f"{_SES_DG_REPO}dedicated-ip.md",
    _READ_DEC,
    "'If you don't plan to send large volumes of email on a regular and predictable basis, we "
    "recommend that you use shared IP addresses'; for each ISP 'you should send several "
    "hundred emails within a 24-hour period at least once per month'. AWS gives no number for "
    "'large'; the guide's mark is LARGE_VOLUME_PER_MONTH (its own).",
)
SES_DEDICATED_IP_WARMUP: Fact[int] = Fact(
    45,
    f"{_SES_DG_REPO}dedicated-ip-warming.md",
    _READ_DEC,
    "Days of SES's automatic warm-up of a new standard dedicated IP ('steadily increases over "
    "45 days independently from your sending volume'); providers take 'around two weeks' to "
    "'up to six weeks'; afterwards 'send around 1,000 emails every day to each email provider' "
    "per dedicated IP. Managed dedicated IPs are warmed and scaled by SES (DedicatedIp "
    "WarmupStatus NOT_APPLICABLE).",
)
SES_DEDICATED_IP_DAILY_PER_PROVIDER: Fact[int] = Fact(
    1000,
    f"{_SES_DG_REPO}dedicated-ip-warming.md",
    _READ_DEC,
    "After warm-up, 'send around 1,000 emails every day to each email provider that you want "
    "to maintain a positive reputation with', on each dedicated IP.",
)

# --- Decision guide: newer SES features (only where they change the answer) ---------------------

SES_MAIL_MANAGER: Fact[str] = Fact(
    "Mail Manager: ingress endpoints, traffic policies, rule sets, archiving, relays",
    "https://docs.aws.amazon.com/sesmailmanager/latest/APIReference/Welcome.html",
    _READ_DEC,
    "'Mail Manager is a set of Amazon SES email gateway features designed to help you "
    "strengthen your organization's email infrastructure, simplify email workflow management, "
    "and streamline email compliance control' (API reference published 2025-09-27). It is "
    "the newer inbound path beside receipt rules, billed per message processed.",
)
SES_EVENTBRIDGE_DESTINATION: Fact[str] = Fact(
    "EventDestination.EventBridgeDestination (default event bus only)",
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
    "aws-properties-ses-configurationseteventdestination-eventbridgedestination.html",
    _READ_DEC,
    "A configuration set can publish sending events (sends, deliveries, bounces, complaints, "
    "opens, clicks…) to Amazon EventBridge; 'Only the default bus is supported'.",
)
SES_DETERMINISTIC_EASY_DKIM: Fact[str] = Fact(
    "DkimSigningAttributes.DomainSigningAttributesOrigin = AWS_SES_<REGION>",
    "https://github.com/boto/botocore/blob/develop/botocore/data/sesv2/2019-09-27/service-2.json",
    _READ_DEC,
    "CreateEmailIdentity can replicate a parent identity's Easy DKIM signing attributes from "
    "another Region, 'using Deterministic Easy-DKIM (DEED)', so the same DKIM DNS records "
    "serve the identity in both Regions (botocore 1.44.18's SES v2 model).",
)
SES_GLOBAL_ENDPOINTS: Fact[str] = Fact(
    "CreateMultiRegionEndpoint (global endpoint): traffic divided between two Regions",
    "https://github.com/boto/botocore/blob/develop/botocore/data/sesv2/2019-09-27/service-2.json",
    _READ_DEC,
    "'Creates a multi-region endpoint (global-endpoint)… sending traffic is divided between "
    "the two'; sends name it with EndpointId (SendEmail, SendBulkEmail). The Enterprise plan "
    "includes global endpoint sending (third-party reading of the plans, see "
    "SES_PLAN_ENTERPRISE).",
)
SES_RECIPIENT_VALIDATION: Fact[str] = Fact(
    "GetEmailAddressInsights (API validation) and account-level Auto Validation",
    "https://docs.aws.amazon.com/ses/latest/dg/email-validation-api.html",
    _READ_DEC,
    "API validation checks syntax, DNS records, mailbox existence, role and disposable "
    "addresses 'at the point of collection' and answers HIGH/MEDIUM/LOW verdicts; the account "
    "can also suppress sends to addresses below a confidence threshold (SuppressionValidation"
    "Attributes.ConditionThreshold). À la carte $0.01 per validation; Pro includes 2,500 and "
    "Enterprise 5,000 a month (third-party reading of the price list, see SES_PRICES_NOTE).",
)
SES_TENANT_SUPPRESSION: Fact[str] = Fact(
    "PutTenantSuppressionAttributes SuppressionScope TENANT | ACCOUNT",
    "https://docs.aws.amazon.com/ses/latest/APIReference-V2/"
    "API_PutTenantSuppressionAttributes.html",
    _READ_DEC,
    "'When you set the suppression scope to TENANT, Amazon SES maintains a separate "
    "suppression list for the tenant'; without a scope a tenant uses the account's list. "
    "Announced 2026-07-07 (AWS Messaging blog 'isolate-email-suppression-per-tenant-with-"
    "amazon-ses', dated by a third-party changelog); tenants themselves 2025-11-26.",
)
SES_LIST_MANAGEMENT: Fact[str] = Fact(
    "ListManagementOptions {ContactListName, TopicName} on SendEmail (not SendBulkEmail)",
    "https://docs.aws.amazon.com/ses/latest/dg/sending-email-list-management.html",
    _READ_DEC,
    "SES list management keeps a contact list with topics ('Only one contact list is allowed "
    "per AWS account', 20 topics); with ListManagementOptions SES adds the unsubscribe link "
    "and one-click unsubscribe headers and bounces sends to unsubscribed contacts. The SES v2 "
    "model has ListManagementOptions on SendEmail but not on SendBulkEmail (botocore 1.44.18).",
)
SES_VDM: Fact[str] = Fact(
    "Virtual Deliverability Manager (GetAccount VdmAttributes; PutAccountVdmAttributes)",
    "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_DashboardAttributes.html",
    _READ_DEC,
    "Virtual Deliverability Manager (VDM): SES's dashboard of engagement metrics and its "
    "'Guardian' (optimized shared delivery), set per account and per configuration set. "
    "Pinpoint's email had the Deliverability dashboard (reputation, inbox placement tests; "
    "PutDeliverabilityDashboardOption, a paid monthly subscription, still in the SES v2 API). "
    "AWS's Pinpoint migrate page names VDM as the destination of 'email deliverability "
    "dashboard' (read through a third party's summary of that page, 2026-08-13: "
    "api-evangelist/amazon-pinpoint lifecycle; AWS's page itself was not readable here). "
    "Essentials includes VDM "
    "queries, Pro the VDM subscription (third-party reading, see SES_PLAN_PRO). VDM was "
    "announced 2022-11-02 (AWS What's New, dated by a third-party changelog).",
)

# --- Decision guide: prices (USD, us-east-1) ---------------------------------------------------
# No copy of AWS's own pricing pages (https://aws.amazon.com/ses/pricing/,
# https://aws.amazon.com/pinpoint/pricing/) or of the Price List offer file
# (https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonSES/current/us-east-1/index.json)
# could be read for this review. The prices below are a third party's reading of them (API
# Evangelist, files dated 2026-08-13; SES from the Price List published 2026-07-22T17:20:54Z,
# version 20260722172054; Pinpoint from its pricing page), read here on _PRICES_READ. They are
# marked third-party and the guide says so. To replace them: read the offer file, record its
# publicationDate, and cite it.

_PRICES_READ = dt.date(2026, 11, 30)
_SES_PLANS_SOURCE = (
    "https://github.com/api-evangelist/amazon-ses/blob/0d21edc28a7f74b74aad220cc9795fcf6f4d38f1/"
    "plans/amazon-ses-plans-pricing.yml"
)
_PINPOINT_PRICES_SOURCE = (
    "https://github.com/api-evangelist/amazon-pinpoint/blob/"
    "7f4ea46fa68f2d295050f438ed9816f325f80bd8/plans/amazon-pinpoint-plans-pricing.yml"
)
SES_PRICES_NOTE = (
    "Third party's reading (2026-08-13) of the AWS Price List for AmazonSES us-east-1 "
    "published 2026-07-22; not checked against https://aws.amazon.com/ses/pricing/."
)
PINPOINT_PRICES_NOTE = (
    "Third party's reading (2026-08-13) of https://aws.amazon.com/pinpoint/pricing/; "
    "not checked against AWS's page."
)


@dataclass(frozen=True, slots=True)
class PlanPrice:
    """An SES pricing plan: a monthly fee plus graduated per-email tiers.

    ``tiers`` is ``((upper_bound_emails_or_None, usd_per_email), ...)`` in ascending order;
    ``None`` means "and above".
    """

    name: str
    api_value: str  # PutAccountPricingAttributes Plan
    monthly_fee_usd: float
    tiers: tuple[tuple[int | None, float], ...]
    includes: tuple[str, ...] = ()


SES_PRICE_OUTBOUND_PER_1000: Fact[float] = Fact(
    0.10,
    _SES_PLANS_SOURCE,
    _PRICES_READ,
    "À la carte outbound: $0.0001 per recipient. " + SES_PRICES_NOTE,
    "third-party",
)
SES_PRICE_ATTACHMENT_PER_GB: Fact[float] = Fact(
    0.12,
    _SES_PLANS_SOURCE,
    _PRICES_READ,
    "À la carte: attachments $0.12 per GB sent. " + SES_PRICES_NOTE,
    "third-party",
)
SES_PRICE_DEDICATED_IP_MONTH: Fact[float] = Fact(
    24.95,
    _SES_PLANS_SOURCE,
    _PRICES_READ,
    "À la carte: standard dedicated IP per month. " + SES_PRICES_NOTE,
    "third-party",
)
SES_PRICE_TENANT_MONTH: Fact[float] = Fact(
    0.005,
    _SES_PLANS_SOURCE,
    _PRICES_READ,
    "À la carte: $0.005 per tenant per month. " + SES_PRICES_NOTE,
    "third-party",
)
SES_PRICE_INBOUND_PER_EMAIL: Fact[float] = Fact(
    0.0001,
    _SES_PLANS_SOURCE,
    _PRICES_READ,
    "À la carte inbound: $0.0001 per email plus $0.00009 per 256 KB chunk. " + SES_PRICES_NOTE,
    "third-party",
)
SES_PLANS_INTRODUCED: Fact[dt.date] = Fact(
    dt.date(2026, 7, 20),
    "https://github.com/aws/aws-sdk-java-v2/blob/10a965d820483e0881600cf3210c61a0fc3e9967/"
    "CHANGELOG.md",
    _REVIEWED,
    "AWS SDK for Java 2.48.4 (2026-07-20): 'Amazon SES introduces three new Pricing Plans "
    "(Essentials, Pro, Enterprise)' with the PutAccountPricingAttributes API; Plan=NONE keeps "
    "per-feature (à la carte) billing. A third party dates the plans 2026-07-21.",
)
SES_PLAN_ALACARTE: Fact[PlanPrice] = Fact(
    PlanPrice("À la carte", "NONE", 0.0, ((None, 0.0001),)),
    "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_PutAccountPricingAttributes.html",
    _CHECKED,
    "Plan NONE = per-feature billing at the à la carte rates above (the rate itself: see "
    "SES_PRICE_OUTBOUND_PER_1000, a third-party copy).",
)
SES_PLAN_ESSENTIALS: Fact[PlanPrice] = Fact(
    PlanPrice(
        "Essentials",
        "ESSENTIALS",
        0.0,
        ((10_000_000, 0.00016), (100_000_000, 0.00014), (None, 0.00011)),
    ),
    _SES_PLANS_SOURCE,
    _PRICES_READ,
    "No monthly fee; default for new accounts. Tiers assumed graduated. " + SES_PRICES_NOTE,
    "third-party",
)
SES_PLAN_PRO: Fact[PlanPrice] = Fact(
    PlanPrice(
        "Pro",
        "PRO",
        105.0,
        ((10_000_000, 0.00022), (100_000_000, 0.00017), (None, 0.00012)),
        ("managed dedicated IPs", "Virtual Deliverability Manager", "inbox placement tests"),
    ),
    _SES_PLANS_SOURCE,
    _PRICES_READ,
    "$105/month (the Price List meters it hourly: USE1-Pro-Plan-Hours); includes managed "
    "dedicated IPs, VDM and inbox placement tests. " + SES_PRICES_NOTE,
    "third-party",
)
SES_PLAN_ENTERPRISE: Fact[PlanPrice] = Fact(
    PlanPrice(
        "Enterprise",
        "ENTERPRISE",
        500.0,
        ((10_000_000, 0.00023), (100_000_000, 0.00018), (None, 0.00013)),
        ("multi-region global endpoints", "1,000 tenants"),
    ),
    _SES_PLANS_SOURCE,
    _PRICES_READ,
    "$500/month (metered hourly: USE1-Enterprise-Plan-Hours); includes multi-region global "
    "endpoints and 1,000 tenants. " + SES_PRICES_NOTE,
    "third-party",
)
SES_PLAN_ENTERPRISE_TENANTS: Fact[int] = Fact(
    1000,
    _SES_PLANS_SOURCE,
    _PRICES_READ,
    "Tenants included in the Enterprise plan. " + SES_PRICES_NOTE,
    "third-party",
)
SES_NEW_ACCOUNT_PLAN: Fact[str] = Fact(
    "ESSENTIALS",
    _SES_PLANS_SOURCE,
    _READ_DEC,
    "Essentials is the default plan 'for all new SES accounts from 2026-07-21, and returning "
    "customers who have not sent since 2025-06-01'; à la carte (Plan NONE) stays the default "
    "for accounts that sent on or after 2025-06-01 and can be chosen with "
    "PutAccountPricingAttributes ('Existing senders stay on a-la-carte pricing and can switch "
    "at any time'; a first move off a default-assigned Essentials plan takes "
    "effect at once, other downgrades at the next monthly cycle); plans are per account and "
    "Region. The free tier of 3,000 messages a month is withdrawn for new customers, replaced "
    "by AWS Free Tier credits. AWS's own pages were not readable here; "
    "GetAccount.PricingAttributes.CurrentPlan tells an account its plan. " + SES_PRICES_NOTE,
    "third-party",
)
PINPOINT_PRICE_EMAIL: Fact[float] = Fact(
    0.0001,
    _PINPOINT_PRICES_SOURCE,
    _PRICES_READ,
    "Historical: $1.00 per 10,000 emails; only for accounts predating 2025-05-20, ended "
    "2026-10-30. " + PINPOINT_PRICES_NOTE,
    "third-party",
)
PINPOINT_PRICE_TARGETED_AUDIENCE: Fact[tuple[int, float]] = Fact(
    (5000, 0.0012),
    _PINPOINT_PRICES_SOURCE,
    _PRICES_READ,
    "Historical: Monthly Targeted Audience, first 5,000 endpoints free, then $0.0012 each. "
    + PINPOINT_PRICES_NOTE,
    "third-party",
)
PINPOINT_PRICE_DEDICATED_IP_MONTH: Fact[float] = Fact(
    24.95,
    _PINPOINT_PRICES_SOURCE,
    _PRICES_READ,
    "Historical: dedicated IP per month. " + PINPOINT_PRICES_NOTE,
    "third-party",
)

# Addresses and raw MIME (toolkit.compose.addresses, toolkit.compose.mime).
SES_ASCII_LOCAL_PART: Fact[str] = Fact(
    "SES does not support SMTPUTF8 (RFC 6531): the local part must be 7-bit ASCII; a non-ASCII "
    "domain must be sent as Punycode; a non-ASCII display name as MIME encoded-words.",
    "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_Destination.html",
    dt.date(2026, 11, 30),
)
SES_RAW_MAX_LINE: Fact[int] = Fact(
    1000,
    "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_EmailContent.html",
    dt.date(2026, 11, 26),
    "Raw content: no text line longer than 1,000 characters (RFC 5322 allows 998 + CRLF).",
)


# --- How strict SES is: what the sandbox (toolkit.sandbox) models ---------------------------
# Sources were read 2026-11-26 from stored copies; [3P] = a field report, not AWS's own word.

_SES_DG = "https://docs.aws.amazon.com/ses/latest/dg/"
_SESV2_MODEL = (
    "https://github.com/boto/botocore/blob/develop/botocore/data/sesv2/2019-09-27/service-2.json"
)

SES_NEW_IDENTITY_PENDING: Fact[str] = Fact(
    "PENDING",
    f"{_SESV2_MODEL} (CreateEmailIdentity); https://github.com/getmoto/moto/issues/9771 [3P]",
    _CHECKED,
    "An identity created through the API cannot send until verified: CreateEmailIdentity "
    "answers VerifiedForSendingStatus false (an address: only IdentityType and that flag); "
    "GetEmailIdentity reports VerificationStatus PENDING; a new domain gets three DKIM tokens "
    "with Status PENDING. An address under a verified domain can send while its own status is "
    "still PENDING (terraform-provider-aws #41634 [3P]).",
)
SES_VERIFICATION_EMAIL: Fact[tuple[str, str]] = Fact(
    (
        "no-reply-aws@amazon.com",
        "Amazon Web Services – Email Address Verification Request in region {region_name}",
    ),
    f"{_SES_DG}creating-identities.html",
    _CHECKED,
    "Verifying an address sends this mail; the address is verified when its link is followed. "
    "The sandbox puts the mail in its mailbox (interface 'verification') with a local link; "
    "a domain, verified at AWS by DNS records, is confirmed with one of its DKIM tokens "
    "(modelled, not documented: the sandbox has no DNS).",
)
SES_VERIFICATION_LINK_EXPIRY: Fact[dt.timedelta] = Fact(
    dt.timedelta(hours=24),
    f"{_SES_DG}creating-identities.html",
    _CHECKED,
    "The link expires after 24 hours; the status then becomes Failed (v1 "
    "GetIdentityVerificationAttributes documentation).",
)
SES_DOMAIN_VERIFICATION_WINDOW: Fact[dt.timedelta] = Fact(
    dt.timedelta(hours=72),
    f"{_SESV2_MODEL} (DkimAttributes.Tokens)",
    _CHECKED,
    "SES looks for a domain's DKIM records for up to 72 hours.",
)
SES_IDENTITY_MATCHING: Fact[str] = Fact(
    "local part case-sensitive; domain case-insensitive; +label and subdomains covered",
    f"{_SES_DG}creating-identities.html",
    _CHECKED,
    "Verifying sender@EXAMPLE.com does not verify sender@example.com; a verified "
    "sender@example.com may send as sender+label@example.com; a verified domain covers its "
    "subdomains. The sandbox applies the +label rule to senders only.",
)
SES_UNVERIFIED_MESSAGE: Fact[str] = Fact(
    "Email address is not verified. The following identities failed the check in region "
    "{REGION}: {identities}",
    f"{_SES_DG}troubleshoot-error-messages.html ; https://github.com/mettle/sendportal/issues/94",
    _CHECKED,
    "API: 400 MessageRejected; SMTP: 554 Message rejected: ... The region is upper case and "
    "each identity is echoed as given, display name included ([3P] sendportal #94).",
)
SES_ADDRESS_SYNTAX: Fact[str] = Fact(
    "400 BadRequestException (v2) with JavaMail InternetAddress's messages",
    "https://github.com/awsdocs/aws-doc-sdk-examples/pull/5191 ; "
    "https://github.com/cloud-custodian/cloud-custodian/issues/885 [3P] ; "
    "https://github.com/brave/accounts/issues/35 [3P] ; "
    "https://github.com/openstax/accounts/issues/253 [3P] ; "
    "https://github.com/hcengineering/platform/issues/7864 [3P]",
    _CHECKED,
    "One malformed To/Cc/Bcc/Reply-To/From address rejects the whole message (v1 SendEmail "
    'documentation). Messages seen: "Illegal address", "Missing final \'@domain\'", '
    '"Missing domain", "Local address contains illegal character", "Local address '
    'contains control or whitespace" (also for non-ASCII, stackoverflow 38808009), '
    '"Domain contains illegal character"; an empty address "Invalid email address ." '
    "(aws-ses-v2-local #44 [3P]). Modelled, not documented: the v2 code for every message "
    "(BadRequestException, as v1's InvalidParameterValue maps to it), and SendBulkEmail "
    "answering a bad entry with INVALID_PARAMETER while the others are sent.",
)
SES_ADDRESS_MAX_LENGTH: Fact[int] = Fact(
    320,
    "https://github.com/mautic/mautic/issues/7732 [3P] ; "
    "https://github.com/steedos/workflow/issues/1614 [3P] ; "
    "https://github.com/alphagov/notifications-utils/pull/630 [3P]",
    dt.date(2026, 12, 6),
    "SES refuses a mailbox longer than 320 characters as written, display name and RFC 2047 "
    "encoding included: \"Address length is more than 320 characters long: '<mailbox>'.\" "
    "(SMTP: 554 Transaction failed: ... at the end of DATA; reports from 2018-19 say "
    '"bytes"). A local part over 64 characters is accepted (alphagov #630: \'we are able to '
    "send to email addresses with a local part exceeding 64 characters after all'); pre-flight "
    "refuses it anyway, as receivers may (RFC 5321 4.5.3.1.1). Modelled, not documented: the "
    "v2 code (BadRequestException), SMTP's 501 for an envelope address over the limit, "
    "Pinpoint's PERMANENT_FAILURE and CreateEmailIdentity's refusal for one.",
    provenance="field-report",
)
SES_RENDERING_FAILURE: Fact[str] = Fact(
    "Attribute '{name}' is not present in the rendering data.",
    f"{_SES_DG}event-publishing-retrieving-sns-contents.html (Rendering Failure object) ; "
    "https://repost.aws/knowledge-center/ses-sendtemplatedemail-delivery-failure",
    dt.date(2026, 12, 6),
    "A templated send (SendEmail with Content.Template, SendBulkEmail) whose data lacks a "
    "variable the template uses is accepted with a MessageId and never delivered: SES "
    "publishes a 'Rendering Failure' event (failure.errorMessage as above, "
    "failure.templateName) to the configuration set's event destinations. Extra variables do "
    "not fail. Modelled, not documented: one event per recipient naming the first missing "
    "attribute (Subject, then Text, then Html).",
)
SES_SMTP_ADDRESS_REPLIES: Fact[tuple[str, str]] = Fact(
    ("501 Invalid MAIL FROM address provided", "501 Invalid RCPT TO address provided"),
    "https://github.com/sugaya0204/blog (summary-of-SES-relay-for-non-RFC-compliant-email-"
    "addresses) [3P]",
    _CHECKED,
    "SES SMTP answers a malformed envelope address (MAIL FROM:<> included) at the command.",
    provenance="field-report",
)
SES_RAW_HEADER_CHECKS: Fact[tuple[str, ...]] = Fact(
    (
        "Illegal header '{line}'.",
        "Empty header names are illegal.",
        "Duplicate header '{name}'.",
        "Missing required header 'From'.",
        "Missing required header 'To'.",
        "Empty required header 'To'.",
    ),
    f"{_SESV2_MODEL} (RawMessage.Data) ; {_SES_DG}header-fields.html ; "
    "https://github.com/jmhobbs/Swiftmailer-Transport--AWS-SES/issues/13 [3P] ; "
    "https://github.com/aws/aws-sdk-php/issues/1459 ; "
    "https://github.com/arithmetric/aws-lambda-ses-forwarder/issues/11 [3P] ; "
    "https://github.com/aws/aws-sdk-php/issues/68 ; "
    "https://github.com/daniel-zahariev/php-aws-ses/issues/41 [3P]",
    _CHECKED,
    "A raw message needs a header block separated from the body by a blank line; the headers "
    "on AWS's single-occurrence list may appear once; From is required only when the request "
    "names no sender (v2 accepted a raw message without From when FromEmailAddress was given: "
    "soto #469 [3P]). SMTP answers 554 Transaction failed: <message>. Modelled, not "
    "documented: v2's code (BadRequestException) and the 68 characters of an illegal line "
    "quoted (as long as the quote in the field report).",
)
SES_RAW_LONG_LINES: Fact[str] = Fact(
    "accepted, then bounced by the receiving server",
    f"{_SESV2_MODEL} (RawMessage.Data: no line over 1,000 characters) ; "
    "https://github.com/andris9/mimelib/issues/39 [3P] ; "
    "https://github.com/jstedfast/MimeKit/issues/381 [3P]",
    _CHECKED,
    "AWS documents the 1,000-character limit but no send-time refusal was found: field "
    "reports show the message accepted and bouncing later ('552 message line is too long'). "
    "The sandbox accepts it and records a bounce for every recipient (modelled).",
)
SES_OVERSIZE_ANSWER: Fact[str] = Fact(
    "400 BadRequestException: Message length is more than 41943040 bytes long: '{n}'.",
    "https://github.com/aws/aws-sdk-go-v2/issues/1774 ; "
    "https://docs.aws.amazon.com/ses/latest/dg/quotas.html",
    _CHECKED,
    "The v1 API answers InvalidParameterValue 'Message length is more than 10485760 bytes "
    "long: ...' (the SDK issue); v2's 40 MB answer is modelled on it, not documented. The "
    "sandbox gives this one answer at every size (a body too large to read is measured by its "
    "Content-Length). SMTP: '552 Message is too long.' at the end of DATA, with no SIZE in EHLO "
    "(troubleshoot-smtp; 2023-2026 transcripts advertise none).",
)
SES_BURST_MODEL: Fact[str] = Fact(
    "a message above MaxSendRate is admitted on an idle account, then sending waits count/rate s",
    f"{_SES_DG}manage-sending-quotas.html ; https://aws.amazon.com/blogs/messaging-and-targeting/"
    "what-happens-when-you-reach-your-sending-limits/ (quoted in "
    "https://github.com/django-ses/django-ses/issues/59)",
    _CHECKED,
    "AWS: 'You can exceed this quota for short bursts, but not for sustained periods'; its blog: "
    "at 1 message per second a message to five recipients is accepted, then five seconds of "
    "errors. No window or burst size is published, so the sandbox keeps its exact one-second "
    "window and allows only that documented burst (modelled): never more lenient on average.",
)
SES_DAILY_QUOTA_LAST_MESSAGE: Fact[str] = Fact(
    "refused when it would exceed Max24HourSend",
    f"{_SES_DG}manage-sending-quotas.html",
    _CHECKED,
    "AWS says both 'accepted as long as the total sent is less than the quota' and 'if sending "
    "a message would exceed the daily maximum, your call is rejected'; the sandbox takes the "
    "stricter reading (an unresolved contradiction).",
)
SES_LIST_ROUTES: Fact[tuple[str, ...]] = Fact(
    (
        "GET /v2/email/identities",
        "POST /v2/email/list-identities",
        "GET /v2/email/configuration-sets",
        "POST /v2/email/list-configuration-sets",
    ),
    "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_ListEmailIdentities.html ; "
    "https://github.com/boto/botocore/commit/9931e97",
    _CHECKED,
    "botocore 1.43.105 moved these two list operations to POST routes; clients from before "
    "still send GET. AWS states no change, so both forms must work (inference); the sandbox "
    "serves both whatever botocore is installed.",
)
SES_CONFIGURATION_SET_MISSING: Fact[str] = Fact(
    "404 NotFoundException: Configuration set {name} does not exist.",
    f"{_SESV2_MODEL} (SendEmail errors) ; https://github.com/mettle/sendportal/issues/75 [3P]",
    _CHECKED,
    "Sending through a configuration set that does not exist fails (v1: "
    "ConfigurationSetDoesNotExist). v2's answer is modelled on SendEmail's declared "
    "NotFoundException, not documented.",
)
AWS_SIGNATURE_ERRORS: Fact[tuple[str, ...]] = Fact(
    (
        "403 MissingAuthenticationTokenException",
        "403 UnrecognizedClientException: The security token included in the request is invalid.",
        "403 SignatureDoesNotMatch: The request signature we calculated does not match ...",
        "403 InvalidSignatureException: Signature expired: ...",
    ),
    "https://github.com/django-ses/django-ses/issues/283 [3P] ; "
    "https://github.com/aws/aws-sdk/issues/467 ; "
    "https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html",
    _CHECKED,
    "SES v2 answers an unknown access key with UnrecognizedClientException (django-ses #283) "
    "and a wrong secret with the signature-mismatch message; a request signed more than 15 "
    "minutes from the server's clock is refused (RequestExpired in the common errors). The "
    "v2 codes for the last two are modelled on SES v1 and the JSON services, not documented.",
    provenance="field-report",
)
PINPOINT_EMAIL_ENDED_ANSWER: Fact[str] = Fact(
    "403 ForbiddenException: Amazon Pinpoint email is no longer available "
    "(end of support 2026-10-30).",
    "https://docs.aws.amazon.com/pinpoint/latest/userguide/migrate.html",
    _CHECKED,
    "Invented: AWS documents the end of Pinpoint email but not the answer afterwards. The "
    "sandbox's --pinpoint-ended switch answers email SendMessages and the email channel and "
    "template operations this way (ForbiddenException is a declared Pinpoint error). Without "
    "the switch the sandbox emulates legacy Pinpoint email and says so in every mailbox record.",
)
SES_SMTP_TRANSCRIPT: Fact[tuple[str, ...]] = Fact(
    (
        "250-8BITMIME",
        "250-STARTTLS",
        "250-AUTH PLAIN LOGIN",
        "250 Ok",
        "235 Authentication successful.",
        "250 Ok <message-id>",
        "451 4.4.2 Timeout waiting for data from client.",
        "530 Must issue a STARTTLS command first",
    ),
    "https://github.com/jstedfast/MailKit/issues/1581 [3P] ; "
    "https://github.com/knadh/listmonk/issues/81 [3P] ; "
    f"{_SES_DG}troubleshoot-smtp.html",
    _CHECKED,
    "SES's EHLO before TLS already lists AUTH PLAIN LOGIN (and no SIZE); MAIL and RCPT answer "
    "'250 Ok'; AUTH before STARTTLS answers 530 (swaks #15 [3P]).",
    provenance="field-report",
)
SES_SMTP_MESSAGES_PER_CONNECTION: Fact[int] = Fact(
    350,
    "https://repost.aws/questions/QUw5qK9rBFSKqXvW5a-nAteg/amazon-ses-smtp-error-response-421-"
    "connection-closed-by-server-maximum-message-count-per-session-reached",
    dt.date(2026, 12, 6),
    "'421 Connection closed by server. Maximum message count per session reached.' after 350 "
    "messages on one connection (reported on re:Post from 2024-11-19; not in AWS's documents). "
    "The SMTP target reconnects after 300 by default, before SES closes the session.",
    provenance="field-report",
)
SES_SMTP_CONNECTIONS_UNPUBLISHED: Fact[None] = Fact(
    None,
    "https://docs.aws.amazon.com/ses/latest/dg/troubleshoot-throughput-problems.html",
    dt.date(2026, 12, 6),
    "AWS publishes no limit on concurrent SMTP connections (quotas.html lists only the send "
    "rate, the 24-hour quota and message size; 50 recipients per message) and advises "
    "several connections or threads to raise throughput, each one waiting a round trip per "
    "call. The toolkit opens one per sending thread, at most MAX_WORKERS (256) per process.",
)
SES_SMTP_IDLE_TIMEOUT: Fact[float] = Fact(
    10.0,
    f"{_SES_DG}send-email-smtp-client-command-line.html",
    _CHECKED,
    "'The connection automatically closes after about 10 seconds of inactivity.'",
)
SES_SMTP_COUNTS_AT_END_OF_DATA: Fact[str] = Fact(
    "the message counts against MaxSendRate at the end of DATA",
    "https://github.com/knadh/listmonk/issues/1624 [3P] ; "
    "https://github.com/skaut/SRS/issues/1027 [3P] ; "
    f"{_SES_DG}troubleshoot-smtp.html",
    dt.date(2026, 12, 6),
    "Modelled: AWS does not say when an SMTP message is counted. SES answers MAIL and every "
    "RCPT '250 Ok' and gives its verdicts (454 throttling, 554 unverified, 554 recipient "
    "count) after the final '.'; a message whose '.' never came is not sent (RFC 5321 "
    "4.1.1.4). The sandbox counts there, and the SMTP transport takes its pacer slot only "
    "for that last round trip (MAIL, RCPT and DATA go before the pacer admits it).",
    provenance="field-report",
)
SES_SMTP_IDLE_IN_DATA: Fact[str] = Fact(
    "451 4.4.2 Timeout waiting for data from client.",
    "https://github.com/knadh/listmonk/issues/1624 [3P] ; "
    "https://github.com/knadh/listmonk/issues/81 [3P] ; "
    "https://github.com/juhasev/laravel-ses/pull/15 [3P]",
    dt.date(2026, 12, 6),
    "The ~10 s idle timeout (SES_SMTP_IDLE_TIMEOUT) also runs while SES waits for the "
    "content after '354' (its reply names 'data from client'); modelled at the same 10 s. A "
    "transaction prepared up to 354 waits at most half of it for the pacer, then the "
    "connection is closed without the final '.': RFC 5321 4.1.1.4 (rfc-editor.org/rfc/rfc5321) "
    "acts on mail data only after '<CRLF>.<CRLF>', so nothing is delivered.",
    provenance="field-report",
)

# -- reputation and the account-level suppression list (read 2026-12-06) ---------------------

_REPUTATION_READ = dt.date(2026, 12, 6)
_SES_REVIEW_KC = (
    "https://aws.amazon.com/premiumsupport/knowledge-center/ses-resolve-account-review-pause/"
)
_SES_SUPPRESSION_KC = (
    "https://aws.amazon.com/premiumsupport/knowledge-center/ses-suppression-list-sending-quota/"
)

SES_BOUNCE_RATE_REVIEW: Fact[float] = Fact(
    0.05,
    "https://docs.aws.amazon.com/ses/latest/dg/reputationdashboard-messages.html",
    _REPUTATION_READ,
    "AWS's words, in its review notices (quoted in field reports): 'We recommend that you "
    "maintain a bounce rate below 5%. If your bounce rate exceeds 10%, we might pause'. The "
    "exact point at which an account goes under review is not published: the sandbox's "
    "EnforcementStatus turns PROBATION at 5 % (modelled).",
)
SES_BOUNCE_RATE_PAUSE: Fact[float] = Fact(
    0.10,
    _SES_REVIEW_KC,
    _REPUTATION_READ,
    "AWS's words: issues that might cause a sending pause include 'A bounce rate of 10% or "
    "greater'. AWS 'might' pause; the sandbox always does (SHUTDOWN, modelled: stricter).",
)
SES_COMPLAINT_RATE_REVIEW: Fact[float] = Fact(
    0.001,
    "https://docs.aws.amazon.com/ses/latest/dg/reputationdashboard-messages.html",
    _REPUTATION_READ,
    "AWS's reputation-metrics page: complaint rate review at 0.1 % (as read through "
    "blog.sendops.dev's runbook, which notes a re:Post article saying 0.01 %; the Developer "
    "Guide's 0.1 % is used). The sandbox turns PROBATION at 0.1 % (modelled).",
)
SES_COMPLAINT_RATE_PAUSE: Fact[float] = Fact(
    0.005,
    _SES_REVIEW_KC,
    _REPUTATION_READ,
    "AWS's words: 'A complaint rate of 0.5% or greater' may cause a sending pause. The sandbox "
    "always pauses there (SHUTDOWN, modelled).",
)
SES_REPUTATION_VOLUME: Fact[tuple[int, int]] = Fact(
    (10_000, 200),
    "https://aws.amazon.com/blogs/ses/announcing-the-reputation-dashboard/",
    _REPUTATION_READ,
    "AWS computes the rates over 'a representative volume of email', not a fixed period, and "
    "publishes neither its size nor a minimum. Modelled: the sandbox measures over the last "
    "10,000 eligible recipients and changes EnforcementStatus only once 200 have been sent.",
)
SES_REPUTATION_EXCLUDES: Fact[tuple[str, ...]] = Fact(
    ("mailbox simulator", "account-level suppression list"),
    _SES_SUPPRESSION_KC,
    _REPUTATION_READ,
    "AWS's words: 'Amazon SES doesn't count bounces from email addresses on your account-level "
    "suppression list toward your account's bounce rate' (they do count toward the daily "
    "quota); messages to the mailbox simulator count toward neither (simulator page).",
)
SES_SUPPRESSION_DEFAULT_REASONS: Fact[tuple[str, ...]] = Fact(
    ("BOUNCE", "COMPLAINT"),
    "https://docs.aws.amazon.com/ses/latest/dg/sending-email-suppression-list.html",
    _REPUTATION_READ,
    "AWS's words: accounts that started using SES after 2019-11-25 use the account-level "
    "suppression list by default for both bounces and complaints; the sandbox's GetAccount "
    "starts with both.",
)
SES_SUPPRESSION_BEHAVIOUR: Fact[str] = Fact(
    "accepted with a MessageId, not sent, a Permanent/OnAccountSuppressionList bounce",
    "https://docs.aws.amazon.com/ses/latest/dg/sending-email-suppression-list.html",
    _REPUTATION_READ,
    "AWS's words: 'If you try to send a message to an address in the account-level "
    "suppression list, Amazon SES accepts the message but does not send it'; the bounce "
    "reads 'Amazon SES did not send the message to this address because it is on the "
    "suppression list for your account.' Hard bounces (and complaints) add the address when "
    "the reason is in SuppressedReasons; entries stay until DeleteSuppressedDestination.",
)
SES_SUPPRESSION_ADDRESS_MATCH: Fact[str] = Fact(
    "case-insensitive on the whole address (bare address, display name dropped)",
    "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_PutSuppressedDestination.html",
    _REPUTATION_READ,
    "AWS documents no case rule for the suppression list (identities compare the local part "
    "case-sensitively). The toolkit matches suppression entries case-insensitively, local part "
    "included: a false match skips a row, a missed one risks a bounce (the toolkit's choice; "
    "the sandbox does the same, so it is never more lenient).",
    provenance="toolkit",
)
SES_SUPPRESSION_REASONS_IN_FORCE: Fact[str] = Fact(
    "a send is suppressed only when the entry's reason is among the SuppressedReasons in force",
    "https://docs.aws.amazon.com/ses/latest/dg/sending-email-suppression-list.html",
    _REPUTATION_READ,
    "AWS's words: a message to an address on the list 'that has a suppression reason that "
    "matches the same suppression reason chosen for your account-level suppression settings' "
    "is accepted but not sent; 'if they don't match, then SES will send it'. The sandbox and "
    "the toolkit's pre-flight apply the account's reasons, or the configuration set's.",
)
SES_CONFIGURATION_SET_SUPPRESSION: Fact[str] = Fact(
    "a configuration set's SuppressionOptions.SuppressedReasons replace the account's for "
    "sends through that set; [] turns suppression off for them",
    "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_PutConfigurationSetSuppressionOptions.html",
    _REPUTATION_READ,
    "CreateConfigurationSet and PutConfigurationSetSuppressionOptions take SuppressionOptions "
    "(SuppressedReasons BOUNCE | COMPLAINT; GetConfigurationSet returns them); the "
    "SuppressionOptions reference says the set's scope 'overrides the tenant or account "
    "suppression scope for emails sent using this configuration set' (API_SuppressionOptions). "
    "That an empty list means no suppression through the set, and that an override once set "
    "stays (the API has no call to remove it), are modelled, not documented.",
)
SES_SUPPRESSION_LIST_PAGE: Fact[tuple[int, int]] = Fact(
    (100, 1000),
    "https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_ListSuppressedDestinations.html",
    _REPUTATION_READ,
    "ListSuppressedDestinations pages with NextToken; the sandbox's default page of 100 and "
    "maximum of 1000 are modelled (AWS's reference gives no default), and the toolkit reads "
    "the list at 1 request per second (the toolkit's pace for management calls, below any "
    "published SES API rate).",
    provenance="toolkit",
)
BREAKER_DEFAULTS: Fact[tuple[float, float, int]] = Fact(
    (0.04, 0.0008, 50),
    "https://docs.aws.amazon.com/ses/latest/dg/reputationdashboard-messages.html",
    _REPUTATION_READ,
    "The toolkit's circuit breaker trips at 4 % hard bounces or 0.08 % complaints over the "
    "run's last recipients whose fate is known, once 50 are known: below SES's review levels "
    "(5 % / 0.1 %) so that a run stops before it could put the account under review. With "
    "fewer than 1,250 known fates a single complaint already exceeds 0.08 %.",
    provenance="toolkit",
)

# --- SES v2 request maxima (the sandbox and pre-flight enforce them) --------------------------
# Read 2026-12-06 in the SES v2 API reference and in botocore 1.44.18's sesv2 model (the model
# AWS generates the SDKs from: the same shapes, with the limits the reference prints).

_MAXIMA_READ = dt.date(2026, 12, 6)
_SESV2_REF = "https://docs.aws.amazon.com/ses/latest/APIReference-V2/"

SES_MAX_CUSTOM_HEADERS: Fact[int] = Fact(
    15,
    f"{_SESV2_REF}API_Message.html ; {_SESV2_MODEL} (MessageHeaderList)",
    _MAXIMA_READ,
    "Simple and Template content (and SendBulkEmail's ReplacementHeaders) carry at most 15 "
    "Headers ('Can contain no more than 15 headers in one message').",
)
SES_HEADER_NAME_MAX: Fact[int] = Fact(
    126,
    f"{_SESV2_REF}API_MessageHeader.html",
    _MAXIMA_READ,
    "A custom header name: 1-126 printable ASCII characters (33-126) except ':' "
    "(pattern ^[!-9;-@A-~]+$).",
)
SES_HEADER_VALUE_MAX: Fact[tuple[int, int]] = Fact(
    (995, 996),
    f"{_SESV2_MODEL} (MessageHeaderValue, botocore 1.44.18) ; {_SESV2_REF}API_MessageHeader.html",
    _MAXIMA_READ,
    "A custom header value: 1-995 printable ASCII characters (pattern [ -~]*), and name plus "
    "value at most 996 characters (the model's current text). Older copies of the reference "
    "(and Pinpoint's MessageHeader) say 870: the model botocore ships is the newer word.",
)
_SES_WRITES_ITSELF = (
    "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Message-ID", "Date", "Sender",
    "Return-Path", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
)  # fmt: skip
SES_RESERVED_CUSTOM_HEADERS: Fact[tuple[str, ...]] = Fact(
    _SES_WRITES_ITSELF,
    f"{_SESV2_REF}API_Message.html ; {_SES_DG}header-fields.html",
    _MAXIMA_READ,
    "Modelled, not documented: for Simple and Template content SES writes these headers "
    "itself from the request (sender, destination, subject, its own Message-ID and Date), so "
    "the sandbox refuses them as custom Headers (400 BadRequestException); the conformance "
    "pass of issue 16 saw SES refuse From, To, Subject and Message-ID. Raw content may carry "
    "them (once each: SES_RAW_HEADER_CHECKS).",
    "toolkit",
)
SES_TAG_RULE: Fact[tuple[str, int]] = Fact(
    ("[A-Za-z0-9_-]", 256),
    f"{_SESV2_REF}API_MessageTag.html",
    _MAXIMA_READ,
    "EmailTags (and DefaultEmailTags, ReplacementTags) names and values: only ASCII letters, "
    "digits, '_' and '-', at most 256 characters each. The refusal's words (400 "
    "BadRequestException 'Invalid tag name ...') are modelled on SES v1's "
    "InvalidParameterValue, not documented for v2.",
)
SES_TEMPLATE_DATA_MAX_BYTES: Fact[int] = Fact(
    262_144,
    f"{_SESV2_REF}API_Template.html ; {_SESV2_MODEL} (EmailTemplateData)",
    _MAXIMA_READ,
    "TemplateData and each bulk entry's ReplacementTemplateData: at most 262,144 characters "
    "of JSON (the model's max counts characters; so does the toolkit).",
)
SES_CONFIGURATION_SET_NAME: Fact[tuple[str, int]] = Fact(
    ("[A-Za-z0-9_-]", 64),
    "https://docs.aws.amazon.com/ses/latest/APIReference/API_ConfigurationSet.html ; "
    f"{_SESV2_REF}API_CreateConfigurationSet.html",
    _MAXIMA_READ,
    "A configuration set name: only letters, digits, '_' and '-', 64 characters or fewer "
    "(v2: 'up to 64 alphanumeric characters, including letters, numbers, hyphens (-) and "
    "underscores (_) only'). The answer's words are modelled.",
)
SES_ATTACHMENT_FILENAME_MAX: Fact[int] = Fact(
    255,
    f"{_SESV2_REF}API_Attachment.html ; {_SESV2_MODEL} (AttachmentFileName)",
    _MAXIMA_READ,
    "An attachment's FileName: at most 255 characters (Simple and Template content). The "
    "toolkit sends attachments as Raw MIME, where no such field exists; pre-flight still holds "
    "names to 255 so that a message is valid through every SES interface.",
)
SES_INVALID_IDENTITY: Fact[tuple[str, str]] = Fact(
    (
        "400 BadRequestException: Invalid email address {name}.",
        "400 BadRequestException: Invalid domain name {name}.",
    ),
    f"https://github.com/Optum/dce/issues/143 [3P] ; {_SESV2_REF}API_CreateEmailIdentity.html",
    _MAXIMA_READ,
    "SES v1 VerifyEmailIdentity answers a malformed address 'InvalidParameterValue: Invalid "
    "email address ...' (400); v2's CreateEmailIdentity declares BadRequestException for "
    "invalid input. Nothing is created, so a retry with the fixed name succeeds. The domain "
    "wording is modelled on the address's.",
    "field-report",
)
SES_SMTP_TOO_MANY_RECIPIENTS: Fact[str] = Fact(
    "554 Transaction failed: Recipient count exceeds 50.",
    "https://github.com/skaut/SRS/issues/1027 [3P] ; "
    "https://github.com/thewca/worldcubeassociation.org/issues/9467 [3P] ; "
    f"{_SES_DG}quotas.html",
    _MAXIMA_READ,
    "SES SMTP accepts every RCPT and refuses the whole message at the end of DATA ('SMTP "
    "server did not accept . with error: 554 Transaction failed: Recipient count exceeds "
    "50.'): nothing is delivered, so a client cannot take a partial delivery for success.",
    "field-report",
)
SES_SMTP_PORTS: Fact[tuple[tuple[int, ...], tuple[int, ...]]] = Fact(
    ((25, 587, 2587), (465, 2465)),
    f"{_SES_DG}smtp-connect.html",
    _MAXIMA_READ,
    "STARTTLS on 25, 587 and 2587; TLS Wrapper (implicit TLS) on 465 and 2465.",
)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m toolkit.facts [--check-stale] [--today YYYY-MM-DD]``: every fact with its
    age; with ``--check-stale``, exit status 1 and the list of facts past the review period.

    A command rather than a default test: a test that reads the clock would start failing on
    a user's machine 90 days after a release, for a reason that is ours to act on.
    """
    parser = argparse.ArgumentParser(
        prog="python -m toolkit.facts", description="The dated facts and how old each is."
    )
    parser.add_argument(
        "--check-stale",
        action="store_true",
        help=f"exit 1 when a fact was read more than {REVIEW_PERIOD.days} days ago",
    )
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, default=None, help="as of this day (YYYY-MM-DD)"
    )
    args = parser.parse_args(argv)
    today = args.today or dt.date.today()
    stale = overdue(today)
    if not args.check_stale:
        for name, fact in sorted(all_facts().items(), key=lambda item: item[1].checked):
            mark = "  STALE" if name in stale else ""
            print(f"{fact.age(today):>5} days  {name}  (checked {fact.checked}){mark}")
        return 0
    if not stale:
        oldest = max(fact.age(today) for fact in all_facts().values())
        print(f"all {len(all_facts())} facts read within {REVIEW_PERIOD.days} days "
              f"(oldest: {oldest} days)")  # fmt: skip
        return 0
    print(
        f"{len(stale)} facts not read for more than {REVIEW_PERIOD.days} days; read each source "
        "again and update its value, source and checked date in toolkit/facts.py:",
        file=sys.stderr,
    )
    for name, fact in sorted(stale.items()):
        print(f"  {name}: checked {fact.checked} ({fact.age(today)} days ago) {fact.source}",
              file=sys.stderr)  # fmt: skip
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
