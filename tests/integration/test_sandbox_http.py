"""The sandbox's HTTP API driven by plain boto3 clients: every supported operation.

Throttling, faults and bad input are in test_sandbox_http_faults.py and
test_sandbox_http_robustness.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from toolkit.sandbox import Sandbox

SENDER = "sender@example.com"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
SIMPLE = {"Simple": {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hi there"}}}}


def ses(sandbox: Sandbox) -> Any:
    return sandbox.client("sesv2", config=NO_RETRY)


def pinpoint(sandbox: Sandbox) -> Any:
    return sandbox.client("pinpoint", config=NO_RETRY)


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return error.value.response["Error"]["Code"]


# -- SendEmail -------------------------------------------------------------------------------


def test_send_email_simple(sandbox: Sandbox) -> None:
    answer = ses(sandbox).send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["a@example.org"], "CcAddresses": ["b@example.org"]},
        Content=SIMPLE,
        EmailTags=[{"Name": "campaign", "Value": "test"}],
    )
    message_id = answer["MessageId"]
    assert message_id.startswith("0100") and message_id.endswith("-000000")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    messages = sandbox.mailbox.messages(content=True)
    assert len(messages) == 1
    row = messages.iloc[0]
    assert row["message_id"] == message_id and row["interface"] == "ses-api"
    assert row["recipients"] == ["a@example.org", "b@example.org"]
    assert row["subject"] == "Hello" and row["content_kind"] == "json"
    assert json.loads(row["content"])["Body"]["Text"]["Data"] == "Hi there"
    assert list(sandbox.mailbox.events()["event"]) == ["delivery", "delivery"]


def test_send_email_raw_takes_recipients_from_headers(sandbox: Sandbox) -> None:
    mime = EmailMessage()
    mime["From"] = "Sender <sender@example.com>"
    mime["To"] = "one@example.org, Two <two@example.org>"
    mime["Subject"] = "Raw subject"
    mime.set_content("raw body")
    raw = mime.as_bytes()
    client = ses(sandbox)
    first = client.send_email(Content={"Raw": {"Data": raw}})
    second = client.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["three@example.org"]},
        Content={"Raw": {"Data": raw}},
    )
    one = sandbox.mailbox.message(first["MessageId"])
    two = sandbox.mailbox.message(second["MessageId"])
    assert one is not None and two is not None
    assert one["recipients"] == ["one@example.org", "two@example.org"]
    assert one["sender"] == "sender@example.com" and one["subject"] == "Raw subject"
    assert one["content"] == raw and one["content_kind"] == "mime" and one["size"] == len(raw)
    assert two["recipients"] == ["three@example.org"]


def test_send_email_with_stored_and_inline_templates(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    client.create_email_template(
        TemplateName="welcome",
        TemplateContent={
            "Subject": "Hi {{name}}",
            "Text": "Order {{order.id}}",
            "Html": "<p>{{name}}</p>",
        },
    )
    stored = client.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["a@example.org"]},
        Content={
            "Template": {
                "TemplateName": "welcome",
                "TemplateData": json.dumps({"name": "Ada", "order": {"id": 7}}),
            }
        },
    )
    inline = client.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["b@example.org"]},
        Content={
            "Template": {
                "TemplateContent": {"Subject": "Yo {{who}}", "Text": "x"},
                "TemplateData": '{"who": "Bob"}',
            }
        },
    )
    missing = client.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["c@example.org"]},
        Content={"Template": {"TemplateName": "welcome", "TemplateData": "{}"}},
    )
    first = sandbox.mailbox.message(stored["MessageId"])
    assert first is not None and first["subject"] == "Hi Ada"
    assert json.loads(first["content"]) == {
        "Subject": "Hi Ada",
        "Text": "Order 7",
        "Html": "<p>Ada</p>",
    }
    second = sandbox.mailbox.message(inline["MessageId"])
    assert second is not None and second["subject"] == "Yo Bob"
    events = sandbox.mailbox.events(missing["MessageId"])
    assert list(events["event"]) == ["rendering-failure"]  # accepted, then fails to render
    assert "name" in events.iloc[0]["detail"]
    with pytest.raises(ClientError) as error:
        client.send_email(
            FromEmailAddress=SENDER,
            Destination={"ToAddresses": ["a@example.org"]},
            Content={"Template": {"TemplateName": "nope", "TemplateData": "{}"}},
        )
    assert code(error) == "NotFoundException"
    with pytest.raises(client.exceptions.BadRequestException):
        client.send_email(
            FromEmailAddress=SENDER,
            Destination={"ToAddresses": ["a@example.org"]},
            Content={"Template": {"TemplateName": "welcome", "TemplateData": "{not json"}},
        )


def test_send_email_unverified_sender_is_message_rejected(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    with pytest.raises(client.exceptions.MessageRejected) as error:
        client.send_email(
            FromEmailAddress="who@nowhere.test",
            Destination={"ToAddresses": ["a@example.org"]},
            Content=SIMPLE,
        )
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.value.response["Error"]["Message"] == (
        "Email address is not verified. The following identities failed the check in region "
        "US-EAST-1: who@nowhere.test"
    )
    assert sandbox.mailbox.count() == 0


def test_sandbox_account_refuses_unverified_recipients(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(sandbox_account=True, smtp=False)
    client = ses(sandbox)
    assert client.get_account()["ProductionAccessEnabled"] is False
    client.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["success@simulator.amazonses.com"]},
        Content=SIMPLE,
    )
    with pytest.raises(client.exceptions.MessageRejected) as error:
        client.send_email(
            FromEmailAddress=SENDER,
            Destination={"ToAddresses": ["stranger@gmail.test"]},
            Content=SIMPLE,
        )
    assert "stranger@gmail.test" in error.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("local", "kinds"),
    [
        ("success", ["delivery"]),
        ("bounce", ["bounce"]),
        ("ooto", ["delivery", "auto-reply"]),
        ("complaint", ["delivery", "complaint"]),
        ("suppressionlist", ["bounce"]),
        ("bounce+label7", ["bounce"]),
    ],
)
def test_mailbox_simulator_events(sandbox: Sandbox, local: str, kinds: list[str]) -> None:
    answer = ses(sandbox).send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": [f"{local}@simulator.amazonses.com"]},
        Content=SIMPLE,
    )
    assert list(sandbox.mailbox.events(answer["MessageId"])["event"]) == kinds


# -- SendBulkEmail ---------------------------------------------------------------------------


def test_send_bulk_email(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    entries = [
        {
            "Destination": {"ToAddresses": [f"r{i}@example.org"]},
            "ReplacementEmailContent": {
                "ReplacementTemplate": {"ReplacementTemplateData": json.dumps({"name": f"N{i}"})}
            },
        }
        for i in range(3)
    ]
    entries.append({"Destination": {"ToAddresses": ["bounce@simulator.amazonses.com"]}})
    answer = client.send_bulk_email(
        FromEmailAddress=SENDER,
        DefaultContent={
            "Template": {
                "TemplateContent": {"Subject": "Hi {{name}}", "Text": "from {{team}}"},
                "TemplateData": json.dumps({"name": "default", "team": "ops"}),
            }
        },
        BulkEmailEntries=entries,
    )
    results = answer["BulkEmailEntryResults"]
    assert [r["Status"] for r in results] == ["SUCCESS"] * 4
    messages = sandbox.mailbox.messages("ses-bulk")
    assert list(messages["subject"]) == ["Hi N0", "Hi N1", "Hi N2", "Hi default"]
    assert list(messages["message_id"]) == [r["MessageId"] for r in results]
    assert sandbox.mailbox.events(results[3]["MessageId"]).iloc[0]["event"] == "bounce"


def test_send_bulk_email_limits(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    default = {"Template": {"TemplateContent": {"Subject": "s", "Text": "t"}}}
    entry = {"Destination": {"ToAddresses": ["a@example.org"]}}
    with pytest.raises(client.exceptions.BadRequestException, match="at most 50"):
        client.send_bulk_email(
            FromEmailAddress=SENDER, DefaultContent=default, BulkEmailEntries=[entry] * 51
        )
    with pytest.raises(client.exceptions.MessageRejected):
        client.send_bulk_email(
            FromEmailAddress="x@nowhere.test", DefaultContent=default, BulkEmailEntries=[entry]
        )
    with pytest.raises(client.exceptions.NotFoundException):
        client.send_bulk_email(
            FromEmailAddress=SENDER,
            DefaultContent={"Template": {"TemplateName": "missing"}},
            BulkEmailEntries=[entry],
        )
    assert sandbox.mailbox.count() == 0


# -- account, identities, templates ----------------------------------------------------------


def test_get_account(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(rate=14, daily_quota=50_000, smtp=False)
    client = ses(sandbox)
    client.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["a@example.org", "b@example.org"]},
        Content=SIMPLE,
    )
    account = client.get_account()
    assert account["SendQuota"] == {
        "Max24HourSend": 50_000.0,
        "MaxSendRate": 14.0,
        "SentLast24Hours": 2.0,
    }
    assert account["ProductionAccessEnabled"] is True
    assert account["SendingEnabled"] is True
    assert account["EnforcementStatus"] == "HEALTHY"


def test_email_identities(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    created = client.create_email_identity(EmailIdentity="news@corp.test")
    assert created["IdentityType"] == "EMAIL_ADDRESS" and not created["VerifiedForSendingStatus"]
    assert client.create_email_identity(EmailIdentity="corp.test")["IdentityType"] == "DOMAIN"
    with pytest.raises(client.exceptions.AlreadyExistsException):
        client.create_email_identity(EmailIdentity="corp.test")
    got = client.get_email_identity(EmailIdentity="news@corp.test")
    assert got["VerificationStatus"] == "PENDING" and got["IdentityType"] == "EMAIL_ADDRESS"
    sandbox.verify_identity("news@corp.test")  # what following the mailed link does
    got = client.get_email_identity(EmailIdentity="news@corp.test")
    assert got["VerificationStatus"] == "SUCCESS" and got["VerifiedForSendingStatus"]
    names = [i["IdentityName"] for i in client.list_email_identities()["EmailIdentities"]]
    assert names == ["corp.test", "example.com", "news@corp.test", "sender@example.com"]
    page = client.list_email_identities(PageSize=3)
    rest = client.list_email_identities(PageSize=3, NextToken=page["NextToken"])
    assert len(page["EmailIdentities"]) == 3 and len(rest["EmailIdentities"]) == 1
    assert "NextToken" not in rest
    client.send_email(
        FromEmailAddress="news@corp.test",
        Destination={"ToAddresses": ["a@example.org"]},
        Content=SIMPLE,
    )
    client.delete_email_identity(EmailIdentity="news@corp.test")
    client.delete_email_identity(EmailIdentity="corp.test")
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_email_identity(EmailIdentity="news@corp.test")
    with pytest.raises(client.exceptions.NotFoundException):
        client.delete_email_identity(EmailIdentity="news@corp.test")
    with pytest.raises(client.exceptions.MessageRejected):
        client.send_email(
            FromEmailAddress="news@corp.test",
            Destination={"ToAddresses": ["a@example.org"]},
            Content=SIMPLE,
        )


def test_email_templates(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    content = {"Subject": "S {{a}}", "Text": "T", "Html": "<b>H</b>"}
    client.create_email_template(TemplateName="t1", TemplateContent=content)
    with pytest.raises(client.exceptions.AlreadyExistsException):
        client.create_email_template(TemplateName="t1", TemplateContent=content)
    got = client.get_email_template(TemplateName="t1")
    assert got["TemplateName"] == "t1" and got["TemplateContent"] == content
    client.update_email_template(TemplateName="t1", TemplateContent={"Subject": "New"})
    assert client.get_email_template(TemplateName="t1")["TemplateContent"] == {"Subject": "New"}
    listed = client.list_email_templates()["TemplatesMetadata"]
    assert [t["TemplateName"] for t in listed] == ["t1"]
    assert listed[0]["CreatedTimestamp"].year >= 2024
    client.delete_email_template(TemplateName="t1")
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_email_template(TemplateName="t1")
    with pytest.raises(client.exceptions.NotFoundException):
        client.delete_email_template(TemplateName="t1")


def test_unsupported_operation_says_so(sandbox: Sandbox) -> None:
    with pytest.raises(ClientError) as error:
        ses(sandbox).get_deliverability_dashboard_options()
    assert code(error) == "NotImplementedException"
    assert "does not support" in error.value.response["Error"]["Message"]
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    with pytest.raises(ClientError) as error:
        pinpoint(sandbox).get_sms_channel(ApplicationId="x")
    assert code(error) == "NotImplementedException"


# -- Pinpoint --------------------------------------------------------------------------------


def test_pinpoint_apps_and_email_channel(sandbox: Sandbox) -> None:
    client = pinpoint(sandbox)
    app = client.create_app(CreateApplicationRequest={"Name": "shop", "tags": {"k": "v"}})
    app_id = app["ApplicationResponse"]["Id"]
    assert app["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert client.get_app(ApplicationId=app_id)["ApplicationResponse"]["Name"] == "shop"
    ids = {a["Id"] for a in client.get_apps()["ApplicationsResponse"]["Item"]}
    assert {app_id, sandbox.pinpoint_app_id} <= ids
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_email_channel(ApplicationId=app_id)
    channel = client.update_email_channel(
        ApplicationId=app_id,
        EmailChannelRequest={
            "FromAddress": SENDER,
            "Identity": "arn:aws:ses:::identity/x",
            "Enabled": True,
        },
    )["EmailChannelResponse"]
    assert channel["FromAddress"] == SENDER and channel["Enabled"] is True
    assert client.get_email_channel(ApplicationId=app_id)["EmailChannelResponse"]["Version"] == 1
    with pytest.raises(client.exceptions.BadRequestException):
        client.update_email_channel(
            ApplicationId=app_id,
            EmailChannelRequest={"FromAddress": "x@nowhere.test", "Identity": "arn"},
        )
    deleted = client.delete_app(ApplicationId=app_id)["ApplicationResponse"]
    assert deleted["Id"] == app_id
    with pytest.raises(client.exceptions.NotFoundException) as error:
        client.get_app(ApplicationId=app_id)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert sandbox.info()["pinpoint_app_id"] == sandbox.pinpoint_app_id


def test_pinpoint_send_messages_simple_with_substitutions(sandbox: Sandbox) -> None:
    client = pinpoint(sandbox)
    answer = client.send_messages(
        ApplicationId=sandbox.pinpoint_app_id,
        MessageRequest={
            "Addresses": {
                "a@example.org": {"ChannelType": "EMAIL", "Substitutions": {"name": ["Ada"]}},
                "b@example.org": {"ChannelType": "EMAIL"},
                "complaint@simulator.amazonses.com": {"ChannelType": "EMAIL"},
            },
            "MessageConfiguration": {
                "EmailMessage": {
                    "FromAddress": SENDER,
                    "Substitutions": {"name": ["friend"]},
                    "SimpleEmail": {
                        "Subject": {"Data": "Hi {{name}}"},
                        "TextPart": {"Data": "Hello {{name}}"},
                    },
                }
            },
        },
    )["MessageResponse"]
    result = answer["Result"]
    assert answer["ApplicationId"] == sandbox.pinpoint_app_id
    assert {r["DeliveryStatus"] for r in result.values()} == {"SUCCESSFUL"}
    assert {r["StatusCode"] for r in result.values()} == {200}
    subjects = {
        m["recipients"][0]: m["subject"] for _, m in sandbox.mailbox.messages("pinpoint").iterrows()
    }
    assert subjects["a@example.org"] == "Hi Ada" and subjects["b@example.org"] == "Hi friend"
    complaint = result["complaint@simulator.amazonses.com"]["MessageId"]
    assert list(sandbox.mailbox.events(complaint)["event"]) == ["delivery", "complaint"]


def test_pinpoint_templates_and_templated_send(sandbox: Sandbox) -> None:
    client = pinpoint(sandbox)
    created = client.create_email_template(
        TemplateName="receipt",
        EmailTemplateRequest={
            "Subject": "Receipt {{id}}",
            "TextPart": "Thanks {{name}}",
            "DefaultSubstitutions": json.dumps({"name": "customer"}),
        },
    )["CreateTemplateMessageBody"]
    assert created["Arn"].endswith("templates/receipt/EMAIL")
    with pytest.raises(client.exceptions.BadRequestException):
        client.create_email_template(TemplateName="receipt", EmailTemplateRequest={"Subject": "x"})
    got = client.get_email_template(TemplateName="receipt")["EmailTemplateResponse"]
    assert got["Subject"] == "Receipt {{id}}" and got["TemplateType"] == "EMAIL"
    answer = client.send_messages(
        ApplicationId=sandbox.pinpoint_app_id,
        MessageRequest={
            "Addresses": {
                "a@example.org": {
                    "ChannelType": "EMAIL",
                    "Substitutions": {"id": ["1"], "name": ["Ada"]},
                },
                "b@example.org": {"ChannelType": "EMAIL", "Substitutions": {"id": ["2"]}},
            },
            "MessageConfiguration": {"EmailMessage": {}},
            "TemplateConfiguration": {"EmailTemplate": {"Name": "receipt"}},
        },
    )["MessageResponse"]["Result"]
    one = sandbox.mailbox.message(answer["a@example.org"]["MessageId"])
    two = sandbox.mailbox.message(answer["b@example.org"]["MessageId"])
    assert one is not None and two is not None
    assert json.loads(one["content"]) == {"Subject": "Receipt 1", "Text": "Thanks Ada"}
    assert json.loads(two["content"])["Text"] == "Thanks customer"
    assert one["sender"] == SENDER  # from the default app's email channel
    client.delete_email_template(TemplateName="receipt")
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_email_template(TemplateName="receipt")


def test_pinpoint_raw_email_and_per_address_failures(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(sandbox_account=True, smtp=False)
    client = pinpoint(sandbox)
    raw = b"From: sender@example.com\r\nSubject: Raw pp\r\n\r\nbody\r\n"
    result = client.send_messages(
        ApplicationId=sandbox.pinpoint_app_id,
        MessageRequest={
            "Addresses": {
                "ok@example.com": {"ChannelType": "EMAIL"},
                "stranger@gmail.test": {"ChannelType": "EMAIL"},
            },
            "MessageConfiguration": {"EmailMessage": {"RawEmail": {"Data": raw}}},
        },
    )["MessageResponse"]["Result"]
    assert result["ok@example.com"]["DeliveryStatus"] == "SUCCESSFUL"
    refused = result["stranger@gmail.test"]
    assert refused["DeliveryStatus"] == "PERMANENT_FAILURE" and refused["StatusCode"] == 400
    assert "not verified" in refused["StatusMessage"]
    stored = sandbox.mailbox.message(result["ok@example.com"]["MessageId"])
    assert stored is not None and stored["content"] == raw and stored["subject"] == "Raw pp"


def test_pinpoint_limits_and_missing_app(sandbox: Sandbox) -> None:
    client = pinpoint(sandbox)
    simple = {
        "EmailMessage": {"SimpleEmail": {"Subject": {"Data": "s"}, "TextPart": {"Data": "t"}}}
    }
    many = {f"r{i}@example.org": {"ChannelType": "EMAIL"} for i in range(101)}
    with pytest.raises(client.exceptions.BadRequestException, match="100"):
        client.send_messages(
            ApplicationId=sandbox.pinpoint_app_id,
            MessageRequest={"Addresses": many, "MessageConfiguration": simple},
        )
    with pytest.raises(client.exceptions.NotFoundException):
        client.send_messages(
            ApplicationId="0" * 32,
            MessageRequest={"Addresses": {"a@example.org": {}}, "MessageConfiguration": simple},
        )
    assert sandbox.mailbox.count() == 0


def test_api_and_smtp_share_one_rate(make_sandbox: Callable[..., Sandbox]) -> None:
    import smtplib

    sandbox = make_sandbox(rate=2)
    ses(sandbox).send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["a@example.org", "b@example.org"]},
        Content=SIMPLE,
    )
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=sandbox.certificate.client_context())
        smtp.login(sandbox.smtp_username, sandbox.smtp_password)
        with pytest.raises(smtplib.SMTPDataError) as error:
            smtp.sendmail(SENDER, ["c@example.org"], b"Subject: x\r\n\r\nbody\r\n")
    assert error.value.smtp_code == 454
    assert sandbox.mailbox.count() == 1


def test_sandbox_lifecycle() -> None:
    from toolkit.errors import SandboxError

    sandbox = Sandbox(smtp=False)
    with pytest.raises(SandboxError):
        _ = sandbox.endpoint_url
    with sandbox:
        assert sandbox.start() is sandbox  # idempotent
        assert sandbox.endpoint_url.startswith("http://127.0.0.1:")
        assert sandbox.smtp_port is None and sandbox.certificate is None
        assert sandbox.info()["smtp_password"] is None
        assert ses(sandbox).get_account()["SendingEnabled"] is True
    sandbox.stop()  # idempotent
    assert not sandbox.running


def test_two_sandboxes_cannot_serve_one_state_directory(tmp_path: Path) -> None:
    """Issue 16 L11: they would mix their mailboxes; the second is one SandboxError, and the
    directory is free again once the first stops."""
    from toolkit.errors import SandboxError

    with Sandbox(state_dir=tmp_path), pytest.raises(SandboxError, match="another sandbox is"):
        Sandbox(state_dir=tmp_path).start()
    with Sandbox(state_dir=tmp_path) as again:
        assert again.endpoint_url.startswith("http://127.0.0.1")
