"""Turn a Pinpoint ``SendMessages`` email request into the equivalent SES API v2 calls.

Why: Pinpoint email ended on 2026-10-30 (toolkit.facts.PINPOINT_END_OF_SUPPORT). Code built on
AWS's Pinpoint samples holds ``pinpoint.send_messages(ApplicationId=..., MessageRequest=...)``
dicts; this module maps one such dict onto SES v2 requests you can issue as they are, and says
what has no SES equivalent.

Mapping:
- Addresses + Substitutions, or a stored Pinpoint template → ``SendBulkEmail`` (≤ 50 entries
  per call). A stored template becomes the same-named SES template (you create it: listed in
  ``prerequisites``); inline SimpleEmail with ``{{vars}}`` becomes a ``CreateEmailTemplate``
  call issued first.
- SimpleEmail without substitutions → one ``SendEmail`` per address (Simple content);
  RawEmail → one ``SendEmail`` per address (Raw content).
- FromAddress → FromEmailAddress, ReplyToAddresses → ReplyToAddresses,
  FeedbackForwardingAddress → FeedbackForwardingEmailAddress.

Usage::

    from toolkit.guide.migrate import migrate_send_messages
    m = migrate_send_messages(pinpoint_kwargs)
    for call in m.calls:
        getattr(ses, call.operation)(**call.kwargs)      # or m.run(ses)
    print(m.notes); print(m.code())
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit import facts
from toolkit.errors import ConfigurationError

_PLACEHOLDER = re.compile(r"\{\{\s*[^{}]+?\s*\}\}")
_API_NAMES = {
    "send_email": "SendEmail",
    "send_bulk_email": "SendBulkEmail",
    "create_email_template": "CreateEmailTemplate",
}


@dataclass(frozen=True, slots=True)
class SesCall:
    """One SES v2 request: ``getattr(sesv2_client, operation)(**kwargs)``."""

    operation: str  # boto3 method name, e.g. "send_bulk_email"
    kwargs: dict[str, Any] = field(hash=False)
    recipients: tuple[str, ...] = ()

    @property
    def api_name(self) -> str:
        """The AWS operation name, e.g. 'SendBulkEmail'."""
        return _API_NAMES.get(self.operation, self.operation)

    def call(self, client: Any) -> Any:
        """Issue the request with a boto3 ``sesv2`` client."""
        return getattr(client, self.operation)(**self.kwargs)


@dataclass(frozen=True, slots=True)
class Migration:
    """The SES calls equivalent to one Pinpoint request, in the order to issue them."""

    calls: tuple[SesCall, ...]
    notes: tuple[str, ...] = ()  # what changed or has no SES equivalent
    prerequisites: tuple[str, ...] = ()  # what you must set up in SES first
    skipped: tuple[str, ...] = ()  # addresses not migrated (non-EMAIL channels)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Every email recipient covered by the calls, in request order."""
        return tuple(r for c in self.calls for r in c.recipients)

    def run(self, client: Any) -> list[Any]:
        """Issue every call in order; an existing template of the same name is kept.

        The inline-template name is derived from the content hash, so an existing template
        with that name has the same content.
        """
        responses: list[Any] = []
        for call in self.calls:
            try:
                responses.append(call.call(client))
            except Exception as exc:  # botocore ClientError, without importing botocore here
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if call.operation == "create_email_template" and code == "AlreadyExistsException":
                    responses.append({"AlreadyExists": call.kwargs["TemplateName"]})
                    continue
                raise
        return responses

    def code(self, client_name: str = "ses") -> str:
        """Python source issuing the same calls (for pasting into the migrated program)."""
        lines = ["import boto3", "", f'{client_name} = boto3.client("sesv2")']
        for note in self.prerequisites:
            lines.append(f"# before: {note}")
        for call in self.calls:
            args = ",\n".join(f"    {k}={_literal(v, 1)}" for k, v in call.kwargs.items())
            lines.append(f"{client_name}.{call.operation}(\n{args},\n)")
        return "\n".join(lines) + "\n"


def _literal(value: Any, depth: int) -> str:
    """A Python literal, one item per line, strings never split (pprint breaks long strings
    into adjacent pieces such as '{"name": ' '"Ana"}', which read as a mistake)."""
    pad, inner = "    " * depth, "    " * (depth + 1)
    if isinstance(value, Mapping) and value:
        items = ",\n".join(f"{inner}{k!r}: {_literal(v, depth + 1)}" for k, v in value.items())
        return "{\n" + items + ",\n" + pad + "}"
    if isinstance(value, list | tuple) and value:
        flat = repr(list(value))
        if len(flat) <= 60 and not any(isinstance(v, Mapping | list | tuple) for v in value):
            return flat  # a short list of addresses reads best on one line
        items = ",\n".join(inner + _literal(v, depth + 1) for v in value)
        return "[\n" + items + ",\n" + pad + "]"
    return repr(list(value) if isinstance(value, tuple) else value)


def _substitutions(raw: Any, where: str, notes: list[str]) -> dict[str, Any]:
    """Pinpoint substitutions are {name: [values]}; SES TemplateData is {name: value}."""
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where} Substitutions must be a mapping")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, (list, tuple)):
            if len(value) == 1:
                out[key] = value[0]
            else:
                out[key] = list(value)
                notes.append(
                    f"{where} substitution {key!r} has {len(value)} values; it is "
                    "passed to SES as a JSON list (iterate it with {{#each}})."
                )
        else:
            out[key] = value
    return out


def _part(simple: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    part = simple.get(name)
    if part is None:
        return None
    if not isinstance(part, Mapping) or "Data" not in part:
        raise ConfigurationError(f"SimpleEmail.{name} must be {{'Charset': ..., 'Data': ...}}")
    return part


def _ses_content(part: Mapping[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {"Data": part["Data"]}
    if part.get("Charset"):
        content["Charset"] = part["Charset"]
    return content


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def migrate_send_messages(
    request: Mapping[str, Any],
    *,
    from_address: str | None = None,
    template_name: str | None = None,
    configuration_set: str | None = None,
    prefer_bulk: bool = False,
) -> Migration:
    """Map Pinpoint ``send_messages`` kwargs (email) onto SES v2 calls.

    ``from_address`` stands in for the Pinpoint email channel's default FromAddress when the
    request has none. ``template_name`` names the template created for inline content with
    substitutions (default: ``pinpoint-migrated-<content hash>``). ``prefer_bulk`` sends
    SimpleEmail without substitutions through a template + SendBulkEmail too (fewer calls).
    Raises ConfigurationError when the request cannot be mapped (no email content, no sender).
    """
    mr = request.get("MessageRequest")
    if not isinstance(mr, Mapping):
        raise ConfigurationError("request has no MessageRequest (pass the send_messages kwargs)")
    notes: list[str] = []
    prereq: list[str] = []
    skipped: list[str] = []

    addresses: list[tuple[str, Mapping[str, Any]]] = []
    for address, cfg in (mr.get("Addresses") or {}).items():
        cfg = cfg or {}
        channel = str(cfg.get("ChannelType", "EMAIL")).upper()
        if channel != "EMAIL":
            skipped.append(address)
            continue
        addresses.append((address, cfg))
        for key in ("BodyOverride", "TitleOverride", "Context", "RawContent"):
            if cfg.get(key):
                notes.append(
                    f"Addresses[{address!r}].{key} has no SES equivalent here and was not migrated."
                )
    if skipped:
        notes.append(
            f"{len(skipped)} non-EMAIL address(es) skipped: SMS, push and voice go "
            f"through {facts.PINPOINT_CHANNELS_RENAMED_EUM.value} "
            f"({facts.PINPOINT_CHANNELS_RENAMED_EUM.source})."
        )
    if mr.get("Endpoints"):
        notes.append(
            "Endpoints (Pinpoint endpoint IDs) have no SES equivalent: resolve each "
            "endpoint to its email address and add it to Addresses "
            f"({facts.PINPOINT_ENDPOINT_AND_USER_IDS.source})."
        )
    if mr.get("Context"):
        notes.append(
            "MessageRequest.Context has no SES equivalent; EmailTags "
            "(Name/Value) are the closest, for event publishing."
        )
    if mr.get("TraceId"):
        notes.append("TraceId has no SES equivalent.")

    mc = mr.get("MessageConfiguration") or {}
    for key in mc:
        if key != "EmailMessage":
            notes.append(f"MessageConfiguration.{key} is not email and was not migrated.")
    em: Mapping[str, Any] = mc.get("EmailMessage") or {}
    tc = mr.get("TemplateConfiguration") or {}
    for key in tc:
        if key != "EmailTemplate":
            notes.append(f"TemplateConfiguration.{key} is not email and was not migrated.")
    stored = tc.get("EmailTemplate")

    common: dict[str, Any] = {}
    sender = em.get("FromAddress") or from_address
    if sender:
        common["FromEmailAddress"] = sender
    if em.get("ReplyToAddresses"):
        common["ReplyToAddresses"] = list(em["ReplyToAddresses"])
    if em.get("FeedbackForwardingAddress"):
        common["FeedbackForwardingEmailAddress"] = em["FeedbackForwardingAddress"]
        notes.append("FeedbackForwardingAddress → FeedbackForwardingEmailAddress.")
    if configuration_set:
        common["ConfigurationSetName"] = configuration_set

    defaults = _substitutions(em.get("Substitutions"), "EmailMessage", notes)
    per_address = [
        (a, _substitutions(cfg.get("Substitutions"), f"Addresses[{a!r}]", notes))
        for a, cfg in addresses
    ]
    has_subs = bool(defaults) or any(s for _, s in per_address)
    raw = em.get("RawEmail")
    simple = em.get("SimpleEmail")
    if simple is None and em.get("Body") and not raw:
        simple = {"Subject": {"Data": ""}, "TextPart": {"Data": em["Body"]}}
        notes.append(
            "EmailMessage.Body became the text part, with an empty subject "
            "(Pinpoint's Body has none); set a Subject before sending."
        )

    if not addresses:
        notes.append("No EMAIL addresses: nothing to send.")
        return Migration((), tuple(notes), tuple(prereq), tuple(skipped))
    if not sender and not raw:
        raise ConfigurationError(
            "the request has no EmailMessage.FromAddress (Pinpoint used the email channel's "
            "default); pass from_address="
        )

    calls: list[SesCall] = []
    if stored:
        name = stored.get("Name")
        if not name:
            raise ConfigurationError("TemplateConfiguration.EmailTemplate has no Name")
        prereq.append(
            f"create an SES email template named {name!r} with the content of the "
            "Pinpoint template (CreateEmailTemplate); Pinpoint endpoint variables "
            "such as {{Attributes.X}} or {{User.UserAttributes.X}} must become plain "
            "{{X}} filled from Substitutions."
        )
        if stored.get("Version"):
            notes.append(
                f"Template version {stored['Version']!r}: SES templates are not "
                "versioned; the SES template holds one content."
            )
        if simple or raw:
            notes.append(
                "The request had both a template and inline content; Pinpoint used the "
                "template, so the inline content was dropped."
            )
        calls += _bulk_calls(name, common, defaults, per_address)
    elif raw:
        if has_subs:
            notes.append("Substitutions do not apply to RawEmail and were dropped.")
        data = raw.get("Data") if isinstance(raw, Mapping) else None
        if not data:
            raise ConfigurationError("RawEmail has no Data")
        for address, _ in per_address:
            calls.append(
                SesCall(
                    "send_email",
                    {
                        **common,
                        "Destination": {"ToAddresses": [address]},
                        "Content": {"Raw": {"Data": data}},
                    },
                    (address,),
                )
            )
        notes.append(
            "RawEmail → SendEmail Raw per address; the MIME headers (To, Subject) are "
            "sent unchanged, as Pinpoint did."
        )
    elif simple:
        subject = _part(simple, "Subject")
        text, html = _part(simple, "TextPart"), _part(simple, "HtmlPart")
        headers = list(simple.get("Headers") or [])
        if has_subs or prefer_bulk:
            content = {"Subject": subject["Data"] if subject else ""}
            if text:
                content["Text"] = text["Data"]
            if html:
                content["Html"] = html["Data"]
            charsets = {p.get("Charset") for p in (subject, text, html) if p and p.get("Charset")}
            if charsets - {"UTF-8", "utf-8"}:
                notes.append(
                    f"Charset {sorted(c for c in charsets if c)} dropped: SES templates are UTF-8."
                )
            name = (
                template_name
                or "pinpoint-migrated-"
                + hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]
            )
            calls.append(
                SesCall("create_email_template", {"TemplateName": name, "TemplateContent": content})
            )
            notes.append(
                f"Inline SimpleEmail with substitutions → SES template {name!r} "
                "(CreateEmailTemplate first) + SendBulkEmail."
            )
            calls += _bulk_calls(name, common, defaults, per_address, headers)
        else:
            if not subject or not (text or html):
                raise ConfigurationError("SimpleEmail needs a Subject and a TextPart or HtmlPart")
            body: dict[str, Any] = {}
            if text:
                body["Text"] = _ses_content(text)
            if html:
                body["Html"] = _ses_content(html)
            message: dict[str, Any] = {"Subject": _ses_content(subject), "Body": body}
            if headers:
                message["Headers"] = headers
            if any(_PLACEHOLDER.search(str(p["Data"])) for p in (subject, text, html) if p):
                notes.append(
                    "The content has {{placeholders}} but no substitutions; they are "
                    "sent as they are."
                )
            for address, _ in per_address:
                calls.append(
                    SesCall(
                        "send_email",
                        {
                            **common,
                            "Destination": {"ToAddresses": [address]},
                            "Content": {"Simple": message},
                        },
                        (address,),
                    )
                )
    else:
        raise ConfigurationError(
            "EmailMessage has no SimpleEmail, RawEmail or Body, and there is no EmailTemplate"
        )
    return Migration(tuple(calls), tuple(notes), tuple(prereq), tuple(skipped))


def _bulk_calls(
    name: str,
    common: Mapping[str, Any],
    defaults: Mapping[str, Any],
    per_address: Sequence[tuple[str, Mapping[str, Any]]],
    headers: Sequence[Any] = (),
) -> list[SesCall]:
    """SendBulkEmail calls of at most 50 entries; each entry carries its merged data."""
    template: dict[str, Any] = {"TemplateName": name, "TemplateData": json.dumps(dict(defaults))}
    if headers:
        template["Headers"] = list(headers)
    calls = []
    for chunk in _chunks(per_address, facts.SES_BULK_MAX_ENTRIES.value):
        entries = [
            {
                "Destination": {"ToAddresses": [address]},
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {
                        "ReplacementTemplateData": json.dumps({**defaults, **subs})
                    }
                },
            }
            for address, subs in chunk
        ]
        calls.append(
            SesCall(
                "send_bulk_email",
                {
                    **common,
                    "DefaultContent": {"Template": dict(template)},
                    "BulkEmailEntries": entries,
                },
                tuple(a for a, _ in chunk),
            )
        )
    return calls
