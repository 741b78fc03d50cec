"""Pinpoint operations of the sandbox: apps, the email channel, email templates, SendMessages.

Pinpoint email ended at AWS on 2026-10-30 (see toolkit.facts). By default the sandbox emulates
it as it was, so the legacy Pinpoint transport can be exercised and compared, and says so in
every message it stores (the mailbox's ``detail`` column: :data:`LEGACY_NOTE`). With
``pinpoint_ended`` it answers email SendMessages and the email channel and template operations
with 403 ``ForbiddenException`` (:data:`ENDED_MESSAGE`; AWS documents no answer, so this one is
the sandbox's choice, ``PINPOINT_EMAIL_ENDED_ANSWER`` in toolkit.facts).

SendMessages answers per address, inside a 200 response, with ``DeliveryStatus`` (SUCCESSFUL,
THROTTLED, TEMPORARY_FAILURE, PERMANENT_FAILURE), ``StatusCode`` and ``MessageId``, after
checking the address's syntax (PERMANENT_FAILURE 400 with SES's message) and asking the shared
policy once per address. Request-level faults answer 429 / 500 or drop the connection.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

from toolkit.facts import (
    PINPOINT_EMAIL_ENDED_ANSWER,
    PINPOINT_END_OF_SUPPORT,
    PINPOINT_MAX_ADDRESSES_PER_CALL,
)
from toolkit.sandbox.content import (
    check_raw,
    decode_base64,
    long_line_bounces,
    raise_fault,
    raw_headers,
    render_parts,
    rendering_failures,
)
from toolkit.sandbox.http_api import ApiError
from toolkit.sandbox.mailbox import random_uuid
from toolkit.sandbox.policy import Reason, bare_address
from toolkit.sandbox.ses_checks import address_problem
from toolkit.sandbox.state import SandboxState

MAX_ADDRESSES = PINPOINT_MAX_ADDRESSES_PER_CALL.value
LEGACY_NOTE = (
    "legacy emulation: Amazon Pinpoint email ended at AWS on "
    f"{PINPOINT_END_OF_SUPPORT.value.isoformat()}; use SES (via='ses' or 'ses-bulk')"
)
ENDED_MESSAGE = PINPOINT_EMAIL_ENDED_ANSWER.value.split(": ", 1)[1]
_EMAIL_OPERATIONS = (
    "UpdateEmailChannel",
    "GetEmailChannel",
    "CreateEmailTemplate",
    "GetEmailTemplate",
    "UpdateEmailTemplate",
    "DeleteEmailTemplate",
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _not_found(what: str) -> ApiError:
    return ApiError(404, "NotFoundException", f"Resource not found: {what}")


def _substitutions(*layers: dict[str, Any] | None) -> dict[str, str]:
    """Merge Pinpoint substitution maps, later layers winning; list values are joined."""
    merged: dict[str, str] = {}
    for layer in layers:
        if not layer:
            continue
        for key, value in layer.items():
            if isinstance(value, list):
                merged[key] = ", ".join(str(v) for v in value)
            else:
                merged[key] = str(value)
    return merged


class PinpointApi:
    """The Pinpoint handlers bound to one sandbox's state.

    Each handler method serves the operation of the same name (``send_messages`` is
    SendMessages): it takes the validated parameters and the request body's size, and returns
    the answer; ``create_application`` and ``set_email_channel`` are for the sandbox itself.
    """

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def handlers(self) -> dict[str, Callable[[dict[str, Any], int], Any]]:
        """Operation name -> handler, for :meth:`Router.add_service`."""
        handlers = self._handlers()
        if self.state.pinpoint_ended:
            for name in _EMAIL_OPERATIONS:
                handlers[name] = _ended
        return handlers

    def _handlers(self) -> dict[str, Callable[[dict[str, Any], int], Any]]:
        return {
            "CreateApp": self.create_app,
            "GetApp": self.get_app,
            "GetApps": self.get_apps,
            "DeleteApp": self.delete_app,
            "UpdateEmailChannel": self.update_email_channel,
            "GetEmailChannel": self.get_email_channel,
            "SendMessages": self.send_messages,
            "CreateEmailTemplate": self.create_email_template,
            "GetEmailTemplate": self.get_email_template,
            "UpdateEmailTemplate": self.update_email_template,
            "DeleteEmailTemplate": self.delete_email_template,
        }

    # -- apps -------------------------------------------------------------------------------

    def create_application(self, name: str, app_id: str | None = None) -> dict[str, Any]:
        """Create an app directly (the sandbox's default app); returns ApplicationResponse."""
        app_id = app_id or uuid.uuid4().hex
        app = {
            "Arn": self.state.arn("mobiletargeting", f"apps/{app_id}"),
            "Id": app_id,
            "Name": name,
            "tags": {},
            "CreationDate": _now(),
        }
        with self.state.lock:
            self.state.pinpoint_apps[app_id] = app
            self.state.save("pinpoint_apps")
        return app

    def _app(self, app_id: str) -> dict[str, Any]:
        app = self.state.pinpoint_apps.get(app_id)
        if app is None:
            raise _not_found(f"application {app_id}")
        return app

    def create_app(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        request = params["CreateApplicationRequest"]
        app = self.create_application(request["Name"])
        if request.get("tags"):
            app["tags"] = request["tags"]
            self.state.save("pinpoint_apps")
        return app

    def get_app(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        return self._app(params["ApplicationId"])

    def get_apps(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        return {"Item": list(self.state.pinpoint_apps.values())}

    def delete_app(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        app_id = params["ApplicationId"]
        with self.state.lock:
            app = self._app(app_id)
            del self.state.pinpoint_apps[app_id]
            self.state.pinpoint_channels.pop(app_id, None)
            self.state.save("pinpoint_apps")
            self.state.save("pinpoint_channels")
        return app

    # -- email channel ----------------------------------------------------------------------

    def set_email_channel(self, app_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an app's email channel; returns EmailChannelResponse."""
        self._app(app_id)
        policy = self.state.policy
        if not policy.is_verified(request["FromAddress"]):
            raise ApiError(
                400,
                "BadRequestException",
                f"Email address {request['FromAddress']} is not verified.",
            )
        now = _now()
        with self.state.lock:
            previous = self.state.pinpoint_channels.get(app_id)
            channel = {
                "ApplicationId": app_id,
                "ConfigurationSet": request.get("ConfigurationSet"),
                "CreationDate": previous["CreationDate"] if previous else now,
                "Enabled": request.get("Enabled", True),
                "FromAddress": request["FromAddress"],
                "HasCredential": False,
                "Id": "email",
                "Identity": request["Identity"],
                "IsArchived": False,
                "LastModifiedDate": now,
                "MessagesPerSecond": int(policy.max_send_rate),
                "Platform": "EMAIL",
                "RoleArn": request.get("RoleArn"),
                "Version": (previous["Version"] + 1) if previous else 1,
            }
            channel = {k: v for k, v in channel.items() if v is not None}
            self.state.pinpoint_channels[app_id] = channel
            self.state.save("pinpoint_channels")
        return channel

    def update_email_channel(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        return self.set_email_channel(params["ApplicationId"], params["EmailChannelRequest"])

    def get_email_channel(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        app_id = params["ApplicationId"]
        self._app(app_id)
        channel = self.state.pinpoint_channels.get(app_id)
        if channel is None:
            raise _not_found(f"email channel of application {app_id}")
        # The rate in force now, not the one when the channel was made: a sandbox restarted
        # on its state with another --rate polices the new one.
        return {**channel, "MessagesPerSecond": int(self.state.policy.max_send_rate)}

    # -- templates --------------------------------------------------------------------------

    def create_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        arn = self.state.arn("mobiletargeting", f"templates/{name}/EMAIL")
        with self.state.lock:
            if name in self.state.pinpoint_templates:
                raise ApiError(400, "BadRequestException", "Template already exists")
            now = _now()
            self.state.pinpoint_templates[name] = {
                **params["EmailTemplateRequest"],
                "TemplateName": name,
                "TemplateType": "EMAIL",
                "Arn": arn,
                "CreationDate": now,
                "LastModifiedDate": now,
                "Version": "1",
            }
            self.state.save("pinpoint_templates")
        return {"Arn": arn, "Message": "Created", "RequestID": random_uuid()}

    def _template(self, name: str) -> dict[str, Any]:
        template = self.state.pinpoint_templates.get(name)
        if template is None:
            raise _not_found(f"template {name}")
        return template

    def get_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        return self._template(params["TemplateName"])

    def update_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        with self.state.lock:
            template = self._template(name)
            template.update(params["EmailTemplateRequest"])
            template["LastModifiedDate"] = _now()
            if params.get("CreateNewVersion"):
                template["Version"] = str(int(template["Version"]) + 1)
            self.state.save("pinpoint_templates")
        return {"Message": "Accepted", "RequestID": random_uuid()}

    def delete_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        with self.state.lock:
            self._template(name)
            del self.state.pinpoint_templates[name]
            self.state.save("pinpoint_templates")
        return {"Message": "Accepted", "RequestID": random_uuid()}

    # -- sending ----------------------------------------------------------------------------

    def send_messages(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        app_id = params["ApplicationId"]
        self._app(app_id)
        request = params["MessageRequest"]
        addresses: dict[str, Any] = request.get("Addresses") or {}
        if request.get("Endpoints"):
            raise ApiError(
                400,
                "BadRequestException",
                "The embedded sandbox supports Addresses only, not Endpoints.",
            )
        if not addresses:
            raise ApiError(400, "BadRequestException", "Addresses must not be empty.")
        if len(addresses) > MAX_ADDRESSES:
            raise ApiError(
                400,
                "BadRequestException",
                f"The maximum number of addresses per request is {MAX_ADDRESSES}.",
            )
        if self.state.pinpoint_ended and any(
            (config or {}).get("ChannelType", "EMAIL") == "EMAIL" for config in addresses.values()
        ):
            _ended(params, size)
        email = ((request.get("MessageConfiguration") or {}).get("EmailMessage")) or {}
        channel = self.state.pinpoint_channels.get(app_id)
        sender = email.get("FromAddress") or (channel or {}).get("FromAddress")
        if not sender:
            raise ApiError(
                400,
                "BadRequestException",
                "No FromAddress: set EmailMessage.FromAddress or the email channel.",
            )
        template_ref = ((request.get("TemplateConfiguration") or {}).get("EmailTemplate")) or {}
        template = self._template(template_ref["Name"]) if template_ref.get("Name") else None
        raw: bytes | None = None
        if template is None:
            if email.get("RawEmail") and email["RawEmail"].get("Data") is not None:
                raw = decode_base64(email["RawEmail"]["Data"], "RawEmail.Data")
                check_raw(raw, has_sender=True, has_recipients=True)
            elif not email.get("SimpleEmail"):
                raise ApiError(
                    400,
                    "BadRequestException",
                    "EmailMessage needs SimpleEmail or RawEmail, or use a template.",
                )
        self._inject()
        # Loop invariants: the raw message's subject and the request-wide substitutions.
        raw_subject = raw_headers(raw).get("Subject") if raw is not None else None
        shared = _substitutions(
            json.loads(template["DefaultSubstitutions"])
            if template and template.get("DefaultSubstitutions")
            else None,
            email.get("Substitutions"),
        )
        channel_enabled = channel is None or channel.get("Enabled", True)
        policy = self.state.policy
        faults = self.state.faults
        mailbox = self.state.mailbox
        per_address_size = max(1, size // len(addresses))
        results: dict[str, dict[str, Any]] = {}
        for address, config in addresses.items():
            config = config or {}
            if config.get("ChannelType", "EMAIL") != "EMAIL":
                results[address] = _result(
                    "PERMANENT_FAILURE", 400, "The embedded sandbox supports only EMAIL."
                )
                continue
            if not channel_enabled:
                results[address] = _result(
                    "PERMANENT_FAILURE", 400, "The email channel is disabled."
                )
                continue
            if faults.recipient_fails():
                results[address] = _result(
                    "TEMPORARY_FAILURE", 500, "Temporary failure (injected by the sandbox)."
                )
                continue
            problem = address_problem(address)
            if problem is not None:
                results[address] = _result("PERMANENT_FAILURE", 400, problem)
                continue
            admission = policy.admit("pinpoint", sender, [address], per_address_size)
            if not admission.ok:
                if admission.throttled:
                    results[address] = _result("THROTTLED", 429, admission.message)
                else:
                    status = 400 if admission.reason is not Reason.TOO_LARGE else 413
                    results[address] = _result("PERMANENT_FAILURE", status, admission.message)
                continue
            events = None
            if raw is not None:
                subject = raw_subject
                content: bytes | str = raw
                kind = "mime"
                events = long_line_bounces(raw, [address])
            else:
                data = _substitutions(shared, config.get("Substitutions"))
                rendered, missing = _render_email(template, email.get("SimpleEmail"), data)
                if config.get("TitleOverride"):
                    rendered["Subject"] = config["TitleOverride"]
                if config.get("BodyOverride"):
                    rendered["Text"] = config["BodyOverride"]
                subject = rendered.get("Subject")
                content = json.dumps(rendered)
                kind = "json"
                events = rendering_failures([address], missing, "Attribute(s) missing: ")
            message_id = mailbox.add(
                interface="pinpoint",
                sender=bare_address(sender),
                recipients=[address],
                subject=subject,
                content=content,
                content_kind=kind,
                size=per_address_size,
                detail=f"{app_id}; {LEGACY_NOTE}",
                events=events,
            )
            results[address] = {
                "DeliveryStatus": "SUCCESSFUL",
                "StatusCode": 200,
                "MessageId": message_id,
                "StatusMessage": f"250 Ok {message_id}",
            }
        return {"ApplicationId": app_id, "RequestId": random_uuid(), "Result": results}

    def _inject(self) -> None:
        raise_fault(
            self.state.faults,
            throttle_message="Too many requests",
            error_message="Internal server error (injected by the sandbox).",
        )


def _ended(params: dict[str, Any], size: int) -> dict[str, Any]:
    """Pinpoint email after its end of support, as the sandbox answers it (see the docstring)."""
    raise ApiError(403, "ForbiddenException", ENDED_MESSAGE)


def _result(status: str, code: int, message: str) -> dict[str, Any]:
    return {"DeliveryStatus": status, "StatusCode": code, "StatusMessage": message}


def _render_email(
    template: dict[str, Any] | None, simple: dict[str, Any] | None, data: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """Subject/Text/Html from a stored template or SimpleEmail, with substitutions."""
    if template is not None:
        parts = {
            "Subject": template.get("Subject"),
            "Text": template.get("TextPart"),
            "Html": template.get("HtmlPart"),
        }
    else:
        simple = simple or {}
        parts = {
            "Subject": (simple.get("Subject") or {}).get("Data"),
            "Text": (simple.get("TextPart") or {}).get("Data"),
            "Html": (simple.get("HtmlPart") or {}).get("Data"),
        }
        if not data:  # no substitutions asked for: braces in plain text stay as they are
            return {k: v for k, v in parts.items() if v is not None}, []
    return render_parts(parts, data)
