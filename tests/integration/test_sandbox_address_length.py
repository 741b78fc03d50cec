"""A mailbox over 320 characters is refused as SES refuses it, on every interface of the
sandbox and by pre-flight, with one rule (``toolkit.compose.addresses.length_problem``); a
local part over 64 characters is accepted, as at SES (``toolkit.facts.SES_ADDRESS_MAX_LENGTH``).

Before issue 16's second sweep the sandbox accepted a 321-character address everywhere, and
pre-flight let through a recipient name that SES refuses once encoded.
"""

from __future__ import annotations

import smtplib
from typing import Any

import pandas as pd
import pytest
from botocore.config import Config

from tests.helpers import send_hi
from toolkit.errors import ConfigurationError
from toolkit.sandbox import Sandbox

SENDER = "sender@example.com"
SIMPLE = {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}}
NO_RETRIES = Config(retries={"total_max_attempts": 1})
LONG = "a" * 309 + "@example.org"  # 321 characters
FITS = "a" * 308 + "@example.org"  # 320
LOCAL_65 = "b" * 65 + "@example.org"
NAME_80 = "\u5c71" * 80  # 240 UTF-8 bytes: 320 characters of base64 once encoded


def too_long(mailbox: str) -> str:
    return f"Address length is more than 320 characters long: '{mailbox}'."


def ses(sandbox: Sandbox) -> Any:
    return sandbox.client("sesv2", config=NO_RETRIES)


def send(client: Any, to: str, **kwargs: Any) -> Any:
    return client.send_email(
        FromEmailAddress=SENDER, Destination={"ToAddresses": [to]}, Content=SIMPLE, **kwargs
    )


def test_the_api_refuses_a_321_character_address_and_takes_a_long_local_part(
    sandbox: Sandbox,
) -> None:
    client = ses(sandbox)
    assert len(LONG) == 321
    with pytest.raises(client.exceptions.BadRequestException) as refused:
        send(client, LONG)
    assert refused.value.response["Error"]["Message"] == too_long(LONG)
    named = "N" * 310 + " <a@example.org>"
    with pytest.raises(client.exceptions.BadRequestException) as refused:
        send(client, named)
    assert refused.value.response["Error"]["Message"] == too_long(named)
    assert sandbox.mailbox.count() == 0
    assert send(client, FITS)["MessageId"]
    assert send(client, LOCAL_65)["MessageId"]  # SES accepts it; pre-flight does not


def test_raw_mime_headers_are_measured_per_mailbox(sandbox: Sandbox) -> None:
    client = ses(sandbox)

    def raw(headers: str) -> Any:
        data = f"From: {SENDER}\r\n{headers}Subject: s\r\n\r\nhi\r\n".encode()
        return client.send_email(
            FromEmailAddress=SENDER,
            Destination={"ToAddresses": ["a@example.org"]},
            Content={"Raw": {"Data": data}},
        )

    for header in ("To", "Cc", "Bcc", "Reply-To"):
        with pytest.raises(client.exceptions.BadRequestException) as refused:
            raw(f"To: {LONG}\r\n" if header == "To" else f"To: a@x.org\r\n{header}: {LONG}\r\n")
        assert refused.value.response["Error"]["Message"] == too_long(LONG)
    # Two long mailboxes in one header are measured one by one.
    assert raw(f"To: {FITS},\r\n {FITS}\r\n")["MessageId"]
    assert sandbox.mailbox.count() == 1


def test_a_long_bulk_entry_fails_alone(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    client.create_email_template(TemplateName="t", TemplateContent={"Subject": "s", "Text": "t"})
    answer = client.send_bulk_email(
        FromEmailAddress=SENDER,
        DefaultContent={"Template": {"TemplateName": "t", "TemplateData": "{}"}},
        BulkEmailEntries=[
            {"Destination": {"ToAddresses": ["good@example.org"]}},
            {"Destination": {"ToAddresses": [LONG]}},
        ],
    )["BulkEmailEntryResults"]
    assert answer[0]["Status"] == "SUCCESS"
    assert answer[1] == {"Status": "INVALID_PARAMETER", "Error": too_long(LONG)}


def test_pinpoint_fails_the_long_address_permanently(sandbox: Sandbox) -> None:
    client = sandbox.client("pinpoint", config=NO_RETRIES)
    result = client.send_messages(
        ApplicationId=sandbox.pinpoint_app_id,
        MessageRequest={
            "Addresses": {LONG: {"ChannelType": "EMAIL"}, LOCAL_65: {"ChannelType": "EMAIL"}},
            "MessageConfiguration": {
                "EmailMessage": {
                    "FromAddress": SENDER,
                    "SimpleEmail": {"Subject": {"Data": "s"}, "TextPart": {"Data": "t"}},
                }
            },
        },
    )["MessageResponse"]["Result"]
    assert result[LONG]["DeliveryStatus"] == "PERMANENT_FAILURE"
    assert result[LONG]["StatusMessage"] == too_long(LONG)
    assert result[LOCAL_65]["DeliveryStatus"] == "SUCCESSFUL"


def test_smtp_refuses_a_long_envelope_at_the_command_and_a_long_header_at_data(
    sandbox: Sandbox,
) -> None:
    assert sandbox.smtp_port is not None
    client = smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10)
    client.starttls(context=sandbox.certificate.client_context())
    client.login(sandbox.smtp_username, sandbox.smtp_password)
    try:
        assert client.mail(LONG) == (501, b"Invalid MAIL FROM address provided")
        assert client.mail(SENDER) == (250, b"Ok")
        assert client.rcpt(LONG) == (501, b"Invalid RCPT TO address provided")
        assert client.rcpt(LOCAL_65) == (250, b"Ok")
        name = "=?utf-8?b?" + "5bGx" * 80 + "?="  # 80 encoded CJK characters
        data = f"From: {SENDER}\r\nTo: {name} <{LOCAL_65}>\r\nSubject: s\r\n\r\nhi\r\n"
        code, reply = client.data(data.encode())
        assert (code, reply.decode()) == (
            554,
            "Transaction failed: " + too_long(f"{name} <{LOCAL_65}>"),
        )
    finally:
        client.quit()
    assert sandbox.mailbox.count() == 0


def test_create_email_identity_refuses_a_long_address(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    with pytest.raises(client.exceptions.BadRequestException):
        client.create_email_identity(EmailIdentity=LONG)
    assert client.create_email_identity(EmailIdentity=FITS)["VerifiedForSendingStatus"] is False


@pytest.mark.parametrize("via", ["ses", "ses-bulk", "smtp"])
def test_preflight_holds_a_recipient_name_ses_would_refuse_encoded(
    sandbox: Sandbox, via: str
) -> None:
    frame = pd.DataFrame({"email": ["a@example.org", "b@example.org"], "name": [NAME_80, "Ada"]})
    results = send_hi(frame, via, target=sandbox, to="email", name_column="name")
    assert results["status"].tolist() == ["invalid", "sent"]
    assert (
        results["error_message"]
        .iloc[0]
        .startswith("Address length is more than 320 characters long: '=?utf-8?b?")
    )
    assert sandbox.mailbox.count() == 1


def test_preflight_refuses_a_sender_ses_would_refuse(sandbox: Sandbox) -> None:
    frame = pd.DataFrame({"email": ["a@example.org"]})
    with pytest.raises(ConfigurationError) as refused:
        send_hi(frame, target=sandbox, to="email", sender=NAME_80 + f" <{SENDER}>")
    assert "Address length is more than 320 characters long" in str(refused.value)
    assert sandbox.mailbox.count() == 0
