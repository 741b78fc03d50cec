"""SES API v2 operations of the sandbox: sending, account, identities and templates.

Each handler takes the validated parameters (botocore member names) and the request's body
size, and returns the JSON answer, or raises :class:`~toolkit.sandbox.http_api.ApiError`
with the status and exception name SES uses. Every send goes through the shared
:class:`~toolkit.sandbox.policy.Policy` and, when accepted, into the mailbox.

Supported: SendEmail (Simple, Raw, Template by name or inline), SendBulkEmail, GetAccount,
Create/Get/List/DeleteEmailIdentity, Create/Get/Update/Delete/ListEmailTemplates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.utils import getaddresses
from typing import Any

from toolkit.facts import SES_BULK_MAX_ENTRIES
from toolkit.sandbox.content import (
    decode_base64,
    raise_fault,
    raw_headers,
    render_parts,
    rendering_failures,
)
from toolkit.sandbox.http_api import ApiError
from toolkit.sandbox.policy import Admission, Reason, bare_address
from toolkit.sandbox.state import SandboxState

BULK_MAX_ENTRIES = SES_BULK_MAX_ENTRIES.value
_MISSING_DATA = "Attribute(s) missing from the template data: "


def _raise_for(admission: Admission) -> None:
    raise ApiError(admission.http_status, admission.error_code, admission.message)


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


def _recipients(destination: dict[str, Any] | None) -> list[str]:
    """The bare addresses of a Destination (SES accepts ``Name <addr>`` entries)."""
    if not destination:
        return []
    return [
        bare_address(address)
        for key in ("ToAddresses", "CcAddresses", "BccAddresses")
        for address in destination.get(key, ())
    ]


class SesV2Api:
    """The SES v2 handlers bound to one sandbox's state.

    Each public method handles the operation of the same name (``send_email`` is SendEmail):
    it takes the validated parameters and the request body's size, and returns the answer.
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def handlers(self) -> dict[str, Callable[[dict[str, Any], int], Any]]:
        """Operation name -> handler, for :meth:`Router.add_service`."""
        return {
            "SendEmail": self.send_email,
            "SendBulkEmail": self.send_bulk_email,
            "GetAccount": self.get_account,
            "CreateEmailIdentity": self.create_email_identity,
            "GetEmailIdentity": self.get_email_identity,
            "ListEmailIdentities": self.list_email_identities,
            "DeleteEmailIdentity": self.delete_email_identity,
            "CreateEmailTemplate": self.create_email_template,
            "GetEmailTemplate": self.get_email_template,
            "UpdateEmailTemplate": self.update_email_template,
            "DeleteEmailTemplate": self.delete_email_template,
            "ListEmailTemplates": self.list_email_templates,
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
        stored = self.state.ses_templates.get(name)
        if stored is None:
            raise ApiError(404, "NotFoundException", f"Template {name} does not exist.")
        return stored["TemplateContent"]

    def send_email(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        content = params["Content"]
        kinds = [k for k in ("Simple", "Raw", "Template") if content.get(k) is not None]
        if len(kinds) != 1:
            raise ApiError(
                400,
                "BadRequestException",
                "Content must contain exactly one of Simple, Raw or Template.",
            )
        recipients = _recipients(params.get("Destination"))
        sender = params.get("FromEmailAddress")
        subject: str | None
        events = None
        kind = kinds[0]
        if kind == "Simple":
            simple = content["Simple"]
            subject = simple["Subject"]["Data"]
            stored: bytes | str = json.dumps(simple)
            content_kind = "json"
        elif kind == "Raw":
            raw = decode_base64(content["Raw"]["Data"], "Content.Raw.Data")
            headers = raw_headers(raw)
            subject = headers.get("Subject")
            if sender is None:
                sender = headers.get("From")
            if not recipients:
                recipients = [
                    address
                    for _, address in getaddresses(
                        headers.get_all("To", [])
                        + headers.get_all("Cc", [])
                        + headers.get_all("Bcc", [])
                    )
                    if address
                ]
            stored = raw
            content_kind = "mime"
            # SES's 40 MB limit counts the base64 form (what arrived); the mailbox keeps the
            # MIME size.
            size = len(content["Raw"]["Data"])
        else:
            template = content["Template"]
            body = self._template(template)
            data = _template_data(template.get("TemplateData"), "TemplateData")
            rendered, missing = _render_content(body, data)
            subject = rendered.get("Subject")
            stored = json.dumps(rendered)
            content_kind = "json"
            events = rendering_failures(recipients, missing, _MISSING_DATA)
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
        results: list[dict[str, Any]] = []
        entry_size = max(1, size // max(1, len(entries)))
        for index, entry in enumerate(entries):
            recipients = _recipients(entry.get("Destination"))
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
                events=rendering_failures(recipients, missing, _MISSING_DATA),
            )
            results.append({"Status": "SUCCESS", "MessageId": message_id})
        return {"BulkEmailEntryResults": results}

    # -- account -----------------------------------------------------------------------------

    def get_account(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        policy = self.state.policy
        quota = policy.quota()
        return {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": "HEALTHY",
            "ProductionAccessEnabled": not policy.sandbox_account,
            "SendQuota": {
                "Max24HourSend": quota.max_24_hour_send,
                "MaxSendRate": quota.max_send_rate,
                "SentLast24Hours": quota.sent_last_24_hours,
            },
            "SendingEnabled": policy.sending_enabled,
            "SuppressionAttributes": {"SuppressedReasons": []},
        }

    # -- identities --------------------------------------------------------------------------

    def create_email_identity(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["EmailIdentity"]
        policy = self.state.policy
        if policy.identity_type(name) is not None:
            raise ApiError(400, "AlreadyExistsException", f"Email identity {name} already exist.")
        kind = policy.verify_identity(name)
        self.state.save("identities")
        return {
            "IdentityType": kind,
            "VerifiedForSendingStatus": True,
            "DkimAttributes": _dkim(kind),
        }

    def get_email_identity(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["EmailIdentity"]
        kind = self.state.policy.identity_type(name)
        if kind is None:
            raise ApiError(404, "NotFoundException", f"Email identity {name} does not exist.")
        return {
            "IdentityType": kind,
            "FeedbackForwardingStatus": True,
            "VerifiedForSendingStatus": True,
            "VerificationStatus": "SUCCESS",
            "DkimAttributes": _dkim(kind),
            "Tags": [],
        }

    def list_email_identities(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        names = sorted(self.state.policy.identities().items())
        items = [
            {
                "IdentityType": kind,
                "IdentityName": name,
                "SendingEnabled": True,
                "VerificationStatus": "SUCCESS",
            }
            for name, kind in names
        ]
        return _page(items, "EmailIdentities", params, default_size=100)

    def delete_email_identity(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["EmailIdentity"]
        if not self.state.policy.remove_identity(name):
            raise ApiError(404, "NotFoundException", f"Email identity {name} does not exist.")
        self.state.save("identities")
        return {}

    # -- templates ---------------------------------------------------------------------------

    def create_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        with self.state.lock:
            if name in self.state.ses_templates:
                raise ApiError(400, "AlreadyExistsException", f"Template {name} already exists.")
            self.state.ses_templates[name] = {
                "TemplateContent": params["TemplateContent"],
                "CreatedTimestamp": time.time(),
            }
            self.state.save("ses_templates")
        return {}

    def _stored_template(self, name: str) -> dict[str, Any]:
        stored = self.state.ses_templates.get(name)
        if stored is None:
            raise ApiError(404, "NotFoundException", f"Template {name} does not exist.")
        return stored

    def get_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        stored = self._stored_template(name)
        return {"TemplateName": name, "TemplateContent": stored["TemplateContent"]}

    def update_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        with self.state.lock:
            self._stored_template(name)["TemplateContent"] = params["TemplateContent"]
            self.state.save("ses_templates")
        return {}

    def delete_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        with self.state.lock:
            self._stored_template(name)
            del self.state.ses_templates[name]
            self.state.save("ses_templates")
        return {}

    def list_email_templates(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        items = [
            {"TemplateName": name, "CreatedTimestamp": stored.get("CreatedTimestamp", 0)}
            for name, stored in sorted(self.state.ses_templates.items())
        ]
        return _page(items, "TemplatesMetadata", params, default_size=10)


def _render_content(
    content: dict[str, Any], data: dict[str, Any]
) -> tuple[dict[str, str], list[str]]:
    """Render a template's Subject/Text/Html with ``data``."""
    return render_parts({part: content.get(part) for part in ("Subject", "Text", "Html")}, data)


def _dkim(kind: str) -> dict[str, Any]:
    return {
        "SigningEnabled": kind == "DOMAIN",
        "Status": "SUCCESS" if kind == "DOMAIN" else "NOT_STARTED",
        "Tokens": [],
        "SigningAttributesOrigin": "AWS_SES",
    }


def _page(
    items: list[dict[str, Any]], key: str, params: dict[str, Any], *, default_size: int
) -> dict[str, Any]:
    """Offset pagination with an opaque-enough NextToken."""
    try:
        start = int(params.get("NextToken") or 0)
    except ValueError:
        raise ApiError(400, "BadRequestException", "Invalid NextToken.") from None
    page_size = int(params.get("PageSize") or default_size)
    chunk = items[start : start + page_size]
    answer: dict[str, Any] = {key: chunk}
    if start + page_size < len(items):
        answer["NextToken"] = str(start + page_size)
    return answer
