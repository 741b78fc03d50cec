"""The original Pinpoint request and its SES migration deliver the same mail (sandbox)."""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from toolkit.guide.migrate import migrate_send_messages
from toolkit.sandbox.server import Sandbox

SENDER = "sender@example.com"


@pytest.fixture
def sandbox():
    with Sandbox(smtp=False) as sb:
        yield sb


def _parts(row) -> tuple[str | None, str | None, str | None]:
    """(subject, text, html) of a stored message, whatever form the mailbox kept."""
    if row.content_kind == "json":
        data = json.loads(row.content)
        if isinstance(data.get("Subject"), dict):  # an SES Simple message, stored as sent
            body = data.get("Body") or {}
            return (
                data["Subject"]["Data"],
                (body.get("Text") or {}).get("Data"),
                (body.get("Html") or {}).get("Data"),
            )
        return data.get("Subject"), data.get("Text"), data.get("Html")  # rendered template
    msg = email.message_from_bytes(row.content, policy=email.policy.default)
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    return (
        str(msg["Subject"]),
        text.get_content().strip() if text else None,
        html.get_content().strip() if html else None,
    )


def delivered(sb: Sandbox) -> tuple[dict, dict]:
    """Messages per recipient: (via Pinpoint, via SES), each {recipient: [(subj, text, html)]}."""
    frame = sb.mailbox.messages(content=True)
    pinpoint: dict[str, list] = {}
    ses: dict[str, list] = {}
    for row in frame.itertuples():
        target = pinpoint if row.interface == "pinpoint" else ses
        for rcpt in row.recipients:
            target.setdefault(rcpt, []).append(_parts(row))
    return pinpoint, ses


def send_both(sb: Sandbox, kwargs: dict) -> tuple[dict, dict, object]:
    pinpoint = sb.client("pinpoint")
    result = pinpoint.send_messages(**kwargs)["MessageResponse"]["Result"]
    assert {r["DeliveryStatus"] for r in result.values()} == {"SUCCESSFUL"}
    migration = migrate_send_messages(kwargs)
    responses = migration.run(sb.client("sesv2"))
    for call, response in zip(migration.calls, responses, strict=True):
        if call.operation == "send_bulk_email":
            assert {e["Status"] for e in response["BulkEmailEntryResults"]} == {"SUCCESS"}
        elif call.operation == "send_email":
            assert response["MessageId"]
    via_pinpoint, via_ses = delivered(sb)
    return via_pinpoint, via_ses, migration


def simple(subject, text, html):
    return {
        "Subject": {"Charset": "UTF-8", "Data": subject},
        "HtmlPart": {"Charset": "UTF-8", "Data": html},
        "TextPart": {"Charset": "UTF-8", "Data": text},
    }


def test_inline_substitutions_same_mail(sandbox):
    addresses = {
        f"user{i}@example.org": {"ChannelType": "EMAIL", "Substitutions": {"name": [f"U{i}"]}}
        for i in range(60)  # > 50: two SendBulkEmail calls
    }
    addresses["user7@example.org"]["Substitutions"]["team"] = ["Dev"]
    kwargs = {
        "ApplicationId": sandbox.info()["pinpoint_app_id"],
        "MessageRequest": {
            "Addresses": addresses,
            "MessageConfiguration": {
                "EmailMessage": {
                    "FromAddress": SENDER,
                    "SimpleEmail": simple(
                        "Hi {{name}}",
                        "Hello {{name}} from {{team}}",
                        "<p>Hello {{name}} from {{team}}</p>",
                    ),
                    "Substitutions": {"team": ["Ops"]},
                }
            },
        },
    }
    via_pinpoint, via_ses, migration = send_both(sandbox, kwargs)
    assert [c.api_name for c in migration.calls] == [
        "CreateEmailTemplate",
        "SendBulkEmail",
        "SendBulkEmail",
    ]
    assert via_pinpoint == via_ses
    assert set(via_ses) == set(addresses)
    assert via_ses["user7@example.org"] == [
        ("Hi U7", "Hello U7 from Dev", "<p>Hello U7 from Dev</p>")
    ]
    assert via_ses["user8@example.org"] == [
        ("Hi U8", "Hello U8 from Ops", "<p>Hello U8 from Ops</p>")
    ]


def test_simple_without_substitutions_same_mail(sandbox):
    kwargs = {
        "ApplicationId": sandbox.info()["pinpoint_app_id"],
        "MessageRequest": {
            "Addresses": {a: {"ChannelType": "EMAIL"} for a in ("a@example.org", "b@example.org")},
            "MessageConfiguration": {
                "EmailMessage": {
                    "FromAddress": SENDER,
                    "ReplyToAddresses": ["help@example.com"],
                    "SimpleEmail": simple("Receipt", "Thanks", "<b>Thanks</b>"),
                }
            },
        },
    }
    via_pinpoint, via_ses, migration = send_both(sandbox, kwargs)
    assert [c.api_name for c in migration.calls] == ["SendEmail", "SendEmail"]
    assert (
        via_pinpoint
        == via_ses
        == {
            "a@example.org": [("Receipt", "Thanks", "<b>Thanks</b>")],
            "b@example.org": [("Receipt", "Thanks", "<b>Thanks</b>")],
        }
    )


def test_raw_email_same_mail(sandbox):
    mime = (
        f"From: {SENDER}\r\nTo: a@example.org\r\nSubject: Raw one\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Raw body\r\n"
    ).encode()
    kwargs = {
        "ApplicationId": sandbox.info()["pinpoint_app_id"],
        "MessageRequest": {
            "Addresses": {"a@example.org": {"ChannelType": "EMAIL"}},
            "MessageConfiguration": {
                "EmailMessage": {"FromAddress": SENDER, "RawEmail": {"Data": mime}}
            },
        },
    }
    via_pinpoint, via_ses, migration = send_both(sandbox, kwargs)
    assert [c.api_name for c in migration.calls] == ["SendEmail"]
    assert via_pinpoint == via_ses == {"a@example.org": [("Raw one", "Raw body", None)]}


def test_stored_template_same_mail(sandbox):
    name = "welcome"
    sandbox.client("pinpoint").create_email_template(
        TemplateName=name,
        EmailTemplateRequest={
            "Subject": "Welcome {{name}}",
            "TextPart": "Hi {{name}}",
            "HtmlPart": "<p>Hi {{name}}</p>",
        },
    )
    kwargs = {
        "ApplicationId": sandbox.info()["pinpoint_app_id"],
        "MessageRequest": {
            "Addresses": {
                "a@example.org": {"ChannelType": "EMAIL", "Substitutions": {"name": ["Ann"]}},
                "b@example.org": {"ChannelType": "EMAIL", "Substitutions": {"name": ["Bob"]}},
            },
            "MessageConfiguration": {"EmailMessage": {"FromAddress": SENDER}},
            "TemplateConfiguration": {"EmailTemplate": {"Name": name}},
        },
    }
    migration = migrate_send_messages(kwargs)
    assert migration.prerequisites  # the user creates the same-named SES template first
    sandbox.client("sesv2").create_email_template(
        TemplateName=name,
        TemplateContent={
            "Subject": "Welcome {{name}}",
            "Text": "Hi {{name}}",
            "Html": "<p>Hi {{name}}</p>",
        },
    )
    via_pinpoint, via_ses, _ = send_both(sandbox, kwargs)
    assert (
        via_pinpoint
        == via_ses
        == {
            "a@example.org": [("Welcome Ann", "Hi Ann", "<p>Hi Ann</p>")],
            "b@example.org": [("Welcome Bob", "Hi Bob", "<p>Hi Bob</p>")],
        }
    )
