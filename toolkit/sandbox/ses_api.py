"""SES API v2 operations of the sandbox: sending and the account (resources: ses_resources).

Each handler takes the validated parameters (botocore member names) and the request's body
size, and returns the JSON answer, or raises :class:`~toolkit.sandbox.http_api.ApiError`
with the status and exception name SES uses. Every send goes through the shared
:class:`~toolkit.sandbox.policy.Policy` and, when accepted, into the mailbox.

Supported: SendEmail (Simple, Raw, Template by name or inline), SendBulkEmail, GetAccount, and
from :mod:`toolkit.sandbox.ses_resources` Create/Get/List/DeleteEmailIdentity,
Create/Get/Update/Delete/ListEmailTemplates, Create/Get/List/DeleteConfigurationSet and
PutConfigurationSetSuppressionOptions, and from
:mod:`toolkit.sandbox.ses_suppression` Put/Get/List/DeleteSuppressedDestination and
PutAccountSuppressionAttributes. GetAccount reports the account's SuppressedReasons and its
EnforcementStatus (:mod:`toolkit.sandbox.reputation`); a send's EmailTags are kept with the
message and copied into its events, as SES does.

What SES checks before it accepts a message, checked here too (sources in
:mod:`toolkit.facts`): every address's syntax (one bad address refuses the whole message,
``BadRequestException``; in a bulk call only its entry), a raw message's header block, a
configuration set that exists, the request rules the model does not carry
(:mod:`toolkit.sandbox.ses_limits`), and then the shared policy (verified sender, quota). Identities
created here start ``PENDING`` and cannot send until verified: an address gets SES's
verification mail in the mailbox, with a link the sandbox serves
(``/sandbox/confirm-verification``); a domain is confirmed through that link with one of its
DKIM tokens, or with :meth:`toolkit.sandbox.Sandbox.verify_identity`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.utils import getaddresses
from typing import Any

from toolkit.facts import SES_BULK_MAX_ENTRIES
from toolkit.sandbox.content import (
    check_addresses,
    check_raw,
    decode_base64,
    long_line_bounces,
    raise_fault,
    raw_headers,
    render_parts,
    rendering_failures,
)
from toolkit.sandbox.http_api import ApiError
from toolkit.sandbox.policy import (
    MAX_MESSAGE_BYTES,
    Admission,
    Reason,
    bare_address,
    too_large_message,
)
from toolkit.sandbox.ses_checks import address_problem
from toolkit.sandbox.ses_limits import send_problem
from toolkit.sandbox.ses_resources import SesResources
from toolkit.sandbox.ses_suppression import SesSuppressionApi
from toolkit.sandbox.state import SandboxState

BULK_MAX_ENTRIES = SES_BULK_MAX_ENTRIES.value


def _raise_for(admission: Admission) -> None:
    raise ApiError(admission.http_status, admission.error_code, admission.message)


def _refuse(problem: str | None) -> None:
    if problem is not None:
        raise ApiError(400, "BadRequestException", problem)


def _bulk_status(admission: Admission) -> str:
    reason = admission.reason
    if reason is Reason.RATE:
        return "ACCOUNT_THROTTLED"
    if reason is Reason.DAILY:
        return "ACCOUNT_DAILY_QUOTA_EXCEEDED"
    if reason is Reason.SENDING_PAUSED:
        return "ACCOUNT_SENDING_PAUSED"
    if reason in (Reason.TOO_MANY_RECIPIENTS, Reason.NO_RECIPIENTS):
        return "INVALID_PARAMETER"
    return "MESSAGE_REJECTED"


def _tags(given: list[dict[str, str]] | None, header: str | None = None) -> list[tuple[str, str]]:
    """A message's SES tags: ``EmailTags`` and a raw message's ``X-SES-MESSAGE-TAGS`` header
    (``name=value, name=value``), as SES copies them into the message's events."""
    found = [(t["Name"], t["Value"]) for t in given or ()]
    for part in (header or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            found.append((name.strip(), value.strip()))
    return found


def _template_data(text: str | None, member: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise ApiError(400, "BadRequestException", f"{member} is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "BadRequestException", f"{member} must be a JSON object.")
    return data


_DESTINATION_KEYS = ("ToAddresses", "CcAddresses", "BccAddresses")


def _given(destination: dict[str, Any] | None) -> list[str]:
    """A Destination's addresses as given (``Name <addr>`` entries included)."""
    if not destination:
        return []
    return [address for key in _DESTINATION_KEYS for address in destination.get(key) or ()]


def _recipients(destination: dict[str, Any] | None) -> list[str]:
    """The bare addresses of a Destination (SES accepts ``Name <addr>`` entries)."""
    return [bare_address(address) for address in _given(destination)]


def _addresses(params: dict[str, Any], destination: dict[str, Any] | None) -> list[str]:
    """Every address a send request names, as given: SES checks each one's syntax."""
    found = [params["FromEmailAddress"]] if params.get("FromEmailAddress") else []
    return found + list(params.get("ReplyToAddresses") or ()) + _given(destination)


class SesV2Api:
    """The SES v2 handlers bound to one sandbox's state.

    Each public method handles the operation of the same name (``send_email`` is SendEmail):
    it takes the validated parameters and the request body's size, and returns the answer.
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.resources = SesResources(state)

    def handlers(self) -> dict[str, Callable[[dict[str, Any], int], Any]]:
        """Operation name -> handler, for :meth:`Router.add_service`."""
        return {
            "SendEmail": self.send_email,
            "SendBulkEmail": self.send_bulk_email,
            "GetAccount": self.get_account,
            **self.resources.handlers(),
            **SesSuppressionApi(self.state).handlers(),
        }

    # -- faults ------------------------------------------------------------------------------

    def _inject(self) -> None:
        raise_fault(
            self.state.faults,
            throttle_message="Maximum sending rate exceeded.",
            error_message="Internal failure (injected by the sandbox).",
        )

    # -- sending -----------------------------------------------------------------------------

    def _template(self, template: dict[str, Any]) -> dict[str, Any]:
        """The template's content: inline TemplateContent or a stored one by name/ARN."""
        content = template.get("TemplateContent")
        if content is not None:
            return content
        name = (
            template.get("TemplateName") or (template.get("TemplateArn") or "").rpartition("/")[2]
        )
        if not name:
            raise ApiError(
                400,
                "BadRequestException",
                "Template requires TemplateName, TemplateArn or TemplateContent.",
            )
        return self.resources.stored_template(name)["TemplateContent"]

    def send_email(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        content = params["Content"]
        kinds = [k for k in ("Simple", "Raw", "Template") if content.get(k) is not None]
        if len(kinds) != 1:
            raise ApiError(
                400,
                "BadRequestException",
                "Content must contain exactly one of Simple, Raw or Template.",
            )
        destination = params.get("Destination")
        recipients = _recipients(destination)
        sender = params.get("FromEmailAddress")
        check_addresses(_addresses(params, destination))
        _refuse(send_problem(params))
        self.resources.check_configuration_set(params)
        subject: str | None
        events = None
        raw_tags = None
        kind = kinds[0]
        if kind == "Simple":
            simple = content["Simple"]
            subject = simple["Subject"]["Data"]
            stored: bytes | str = json.dumps(simple)
            content_kind = "json"
        elif kind == "Raw":
            raw = decode_base64(content["Raw"]["Data"], "Content.Raw.Data")
            # SES's 40 MB limit counts the base64 form (what arrived); the mailbox keeps the
            # MIME size. Too large is refused before the content is looked at.
            size = len(content["Raw"]["Data"])
            self._check_size(size)
            check_raw(raw, has_sender=bool(sender), has_recipients=bool(recipients))
            headers = raw_headers(raw)
            subject = headers.get("Subject")
            raw_tags = headers.get("X-SES-MESSAGE-TAGS")
            if sender is None:
                sender = headers.get("From")
                check_addresses([sender] if sender else [])
            if not recipients:
                found = headers.get_all("To", []) + headers.get_all("Cc", [])
                found += headers.get_all("Bcc", [])
                recipients = [address for _, address in getaddresses(found) if address]
                check_addresses(recipients)
            stored = raw
            content_kind = "mime"
            events = long_line_bounces(raw, recipients)
        else:
            template = content["Template"]
            body = self._template(template)
            data = _template_data(template.get("TemplateData"), "TemplateData")
            rendered, missing = _render_content(body, data)
            subject = rendered.get("Subject")
            stored = json.dumps(rendered)
            content_kind = "json"
            events = rendering_failures(recipients, missing)
        if not sender:
            raise ApiError(400, "BadRequestException", "Missing required member FromEmailAddress")
        if not recipients:
            raise ApiError(400, "BadRequestException", "Missing final '@domain'")
        self._inject()
        admission = self.state.policy.admit("ses-api", sender, recipients, size)
        if not admission.ok:
            _raise_for(admission)
        if content_kind == "mime":
            size = len(stored)
        message_id = self.state.mailbox.add(
            interface="ses-api",
            sender=bare_address(sender),
            recipients=recipients,
            subject=subject,
            content=stored,
            content_kind=content_kind,
            size=size,
            events=events,
            tags=_tags(params.get("EmailTags"), raw_tags),
            suppressed_reasons=self.resources.suppressed_reasons(params),
        )
        return {"MessageId": message_id}

    def send_bulk_email(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        entries = params["BulkEmailEntries"]
        if len(entries) > BULK_MAX_ENTRIES:
            raise ApiError(
                400,
                "BadRequestException",
                f"BulkEmailEntries must contain at most {BULK_MAX_ENTRIES} entries.",
            )
        sender = params.get("FromEmailAddress")
        if not sender:
            raise ApiError(400, "BadRequestException", "Missing required member FromEmailAddress")
        check_addresses(_addresses(params, None))
        _refuse(send_problem(params))
        self.resources.check_configuration_set(params)
        default = params["DefaultContent"].get("Template")
        if default is None:
            raise ApiError(
                400, "BadRequestException", "DefaultContent.Template is required for SendBulkEmail."
            )
        body = self._template(default)
        default_data = _template_data(default.get("TemplateData"), "TemplateData")
        policy = self.state.policy
        sender_check = policy.check_sender(sender)
        if not sender_check.ok:
            _raise_for(sender_check)
        self._inject()
        faults = self.state.faults
        mailbox = self.state.mailbox
        reasons = self.resources.suppressed_reasons(params)
        results: list[dict[str, Any]] = []
        entry_size = max(1, size // max(1, len(entries)))
        for index, entry in enumerate(entries):
            given = _given(entry.get("Destination"))
            recipients = [bare_address(address) for address in given]
            replacement = (entry.get("ReplacementEmailContent") or {}).get(
                "ReplacementTemplate"
            ) or {}
            data = dict(default_data)
            data.update(
                _template_data(
                    replacement.get("ReplacementTemplateData"),
                    f"BulkEmailEntries[{index}].ReplacementTemplateData",
                )
            )
            if faults.recipient_fails():
                results.append(
                    {
                        "Status": "TRANSIENT_FAILURE",
                        "Error": "Transient failure (injected by the sandbox).",
                    }
                )
                continue
            if not recipients:
                results.append({"Status": "INVALID_PARAMETER", "Error": "No recipients."})
                continue
            problem = next(filter(None, map(address_problem, given)), None)
            if problem is not None:
                results.append({"Status": "INVALID_PARAMETER", "Error": problem})
                continue
            admission = policy.admit("ses-bulk", sender, recipients, entry_size)
            if not admission.ok:
                results.append({"Status": _bulk_status(admission), "Error": admission.message})
                continue
            rendered, missing = _render_content(body, data)
            message_id = mailbox.add(
                interface="ses-bulk",
                sender=bare_address(sender),
                recipients=recipients,
                subject=rendered.get("Subject"),
                content=json.dumps(rendered),
                content_kind="json",
                size=entry_size,
                events=rendering_failures(recipients, missing),
                tags=_tags(entry.get("ReplacementTags") or params.get("DefaultEmailTags")),
                suppressed_reasons=reasons,
            )
            results.append({"Status": "SUCCESS", "MessageId": message_id})
        return {"BulkEmailEntryResults": results}

    # -- account -----------------------------------------------------------------------------

    def get_account(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        policy = self.state.policy
        quota = policy.quota()
        return {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": self.state.reputation.status,
            "ProductionAccessEnabled": not policy.sandbox_account,
            "SendQuota": {
                "Max24HourSend": quota.max_24_hour_send,
                "MaxSendRate": quota.max_send_rate,
                "SentLast24Hours": quota.sent_last_24_hours,
            },
            "SendingEnabled": policy.sending_enabled,
            "SuppressionAttributes": {"SuppressedReasons": list(self.state.suppression.reasons)},
        }

    # -- size --------------------------------------------------------------------------------

    def _check_size(self, size: int) -> None:
        """SES's one over-size answer (the policy gives it too; raw content is measured first)."""
        if size > MAX_MESSAGE_BYTES:
            raise ApiError(400, "BadRequestException", too_large_message(size))


def _render_content(
    content: dict[str, Any], data: dict[str, Any]
) -> tuple[dict[str, str], list[str]]:
    """Render a template's Subject/Text/Html with ``data``."""
    return render_parts({part: content.get(part) for part in ("Subject", "Text", "Html")}, data)
