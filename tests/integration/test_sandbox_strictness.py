"""The sandbox is as strict as SES where it used to be more lenient (issue 10's nine points).

Each test here would have failed against the sandbox before: it accepted what SES refuses, or
answered in other words. The rules and their sources are in ``toolkit/facts.py``; the SMTP
reply lines are also checked line by line in ``test_sandbox_smtp.py``.
"""

from __future__ import annotations

import base64
import json
import re
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from botocore.config import Config

from tests.helpers import send_hi, sigv4_headers
from toolkit.errors import ProviderConfigurationError
from toolkit.sandbox import Sandbox
from toolkit.sandbox.policy import Policy

SENDER = "sender@example.com"
SIMPLE = {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}}
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def ses(sandbox: Sandbox, **kwargs: Any) -> Any:
    return sandbox.client("sesv2", config=NO_RETRIES, **kwargs)


def send(client: Any, sender: str = SENDER, to: str = "a@example.org", **kwargs: Any) -> Any:
    return client.send_email(
        FromEmailAddress=sender, Destination={"ToAddresses": [to]}, Content=SIMPLE, **kwargs
    )


def smtp_client(sandbox: Sandbox) -> smtplib.SMTP:
    assert sandbox.smtp_port is not None
    client = smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10)
    client.starttls(context=sandbox.certificate.client_context())
    client.login(sandbox.smtp_username, sandbox.smtp_password)
    return client


# -- 1. identities created through the API start unverified ---------------------------------


def test_a_new_address_is_pending_until_its_mailed_link_is_followed(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    created = client.create_email_identity(EmailIdentity="news@corp.test")
    assert created["VerifiedForSendingStatus"] is False
    assert "DkimAttributes" not in created  # an address: only the type and the flag
    assert client.get_email_identity(EmailIdentity="news@corp.test")["VerificationStatus"] == (
        "PENDING"
    )
    with pytest.raises(client.exceptions.MessageRejected) as refused:
        send(client, sender="News <news@corp.test>")
    assert refused.value.response["Error"]["Message"] == (
        "Email address is not verified. The following identities failed the check in region "
        "US-EAST-1: News <news@corp.test>"
    )
    # SES's verification mail is in the mailbox, from AWS, with a link to follow.
    mails = sandbox.mailbox.messages("verification", content=True)
    assert mails["sender"].tolist() == ["no-reply-aws@amazon.com"]
    assert mails["recipients"].tolist() == [["news@corp.test"]]
    assert mails["subject"].iloc[0] == (
        "Amazon Web Services – Email Address Verification Request in region US East (N. Virginia)"
    )
    link = re.search(rb"http://\S+", mails["content"].iloc[0])
    assert link is not None
    assert mails["detail"].iloc[0] == link.group(0).decode()  # listed by `toolkit mailbox`
    with urllib.request.urlopen(link.group(0).decode(), timeout=10) as answer:
        assert "successfully verified" in json.loads(answer.read())["message"]
    got = client.get_email_identity(EmailIdentity="news@corp.test")
    assert (got["VerificationStatus"], got["VerifiedForSendingStatus"]) == ("SUCCESS", True)
    assert send(client, sender="news+offers@corp.test")["MessageId"]  # a +label is covered


def test_a_link_with_a_wrong_token_verifies_nothing(sandbox: Sandbox) -> None:
    ses(sandbox).create_email_identity(EmailIdentity="news@corp.test")
    url = (
        f"{sandbox.endpoint_url}/sandbox/confirm-verification"
        "?Identity.IdentityName=news%40corp.test&Token=guessed"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 400
    assert not sandbox.policy.is_verified("news@corp.test")


def test_a_new_domain_is_pending_with_dkim_tokens(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    created = client.create_email_identity(EmailIdentity="corp.test")
    dkim = created["DkimAttributes"]
    assert created["VerifiedForSendingStatus"] is False
    assert dkim["Status"] == "PENDING" and len(dkim["Tokens"]) == 3
    with pytest.raises(client.exceptions.MessageRejected):
        send(client, sender="ops@corp.test")
    sandbox.verify_identity("corp.test")  # where the DNS records would be published
    got = client.get_email_identity(EmailIdentity="corp.test")
    assert got["DkimAttributes"]["Status"] == "SUCCESS" and got["VerifiedForSendingStatus"]
    assert send(client, sender="ops@mail.corp.test")["MessageId"]  # subdomains too


def test_identities_given_at_start_up_stay_verified(make_sandbox: Callable[..., Sandbox]) -> None:
    default = make_sandbox(smtp=False)
    assert send(ses(default))["MessageId"]  # sender@example.com, and example.com
    own = make_sandbox(smtp=False, verified=["ops@corp.test"])
    assert send(ses(own), sender="ops@corp.test")["MessageId"]
    with pytest.raises(ses(own).exceptions.MessageRejected):
        send(ses(own))  # sender@example.com is not verified there


def test_local_parts_are_case_sensitive_and_pending_links_expire() -> None:
    policy = Policy(identities=["Ops@corp.test"])
    assert policy.is_verified("Ops@CORP.test")  # the domain is case-insensitive
    assert not policy.is_verified("ops@corp.test")  # the local part is not
    record = policy.add_identity("late@corp.test")
    assert record.current_status(now=record.created + 23 * 3600) == "PENDING"
    assert record.current_status(now=record.created + 25 * 3600) == "FAILED"


# -- 2. malformed addresses are refused, on the API and on SMTP ------------------------------


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("not-an-address", "Missing final '@domain'"),
        ("a..b@example.org", "Local address contains dot-dot"),
        ("Doe, John <j@example.org>", "Illegal address"),
        ("a@example..org", "Domain contains dot-dot"),
        ("a@", "Missing domain"),
    ],
)
def test_malformed_recipients_are_400_on_the_api(
    sandbox: Sandbox, address: str, message: str
) -> None:
    client = ses(sandbox)
    with pytest.raises(client.exceptions.BadRequestException) as refused:
        send(client, to=address)
    assert refused.value.response["Error"]["Message"] == message
    assert sandbox.mailbox.count() == 0


def test_odd_but_valid_addresses_are_accepted(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    for address in ('"a..b"@example.org', '"John Doe" <j.d+x@example.org>', "x@[192.0.2.1]"):
        assert send(client, to=address)["MessageId"]


def test_a_malformed_bulk_entry_fails_alone(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    client.create_email_template(TemplateName="t", TemplateContent={"Subject": "s", "Text": "t"})
    answer = client.send_bulk_email(
        FromEmailAddress=SENDER,
        DefaultContent={"Template": {"TemplateName": "t", "TemplateData": "{}"}},
        BulkEmailEntries=[
            {"Destination": {"ToAddresses": ["good@example.org"]}},
            {"Destination": {"ToAddresses": ["not-an-address"]}},
        ],
    )["BulkEmailEntryResults"]
    assert answer[0]["Status"] == "SUCCESS"
    assert answer[1] == {"Status": "INVALID_PARAMETER", "Error": "Missing final '@domain'"}


def test_malformed_envelope_addresses_are_501_on_smtp(sandbox: Sandbox) -> None:
    client = smtp_client(sandbox)
    try:
        assert client.mail("<>") == (501, b"Invalid MAIL FROM address provided")
        assert client.mail(SENDER) == (250, b"Ok")
        assert client.rcpt("not-an-address") == (501, b"Invalid RCPT TO address provided")
        assert client.rcpt("good@example.org") == (250, b"Ok")
    finally:
        client.quit()


# -- 3. raw MIME is checked as SES checks it ---------------------------------------------------


def _raw(client: Any, data: bytes, **kwargs: Any) -> Any:
    return client.send_email(Content={"Raw": {"Data": data}}, **kwargs)


def test_raw_without_a_header_block_is_refused(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    body = b"x" * 1500 + b"\r\n"
    with pytest.raises(client.exceptions.BadRequestException) as refused:
        _raw(client, body, FromEmailAddress=SENDER, Destination={"ToAddresses": ["a@x.org"]})
    assert refused.value.response["Error"]["Message"] == f"Illegal header '{'x' * 68}'."
    assert sandbox.mailbox.count() == 0


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (b"From: sender@example.com\r\nTo: a@x.org\r\n\r\nhi\r\n", {}, None),
        (b"To: a@x.org\r\n\r\nhi\r\n", {}, "Missing required header 'From'."),
        (b"To: a@x.org\r\n\r\nhi\r\n", {"FromEmailAddress": SENDER}, None),
        (b"From: sender@example.com\r\n\r\nhi\r\n", {}, "Missing required header 'To'."),
        (b"From: sender@example.com\r\nTo: \r\n\r\nhi\r\n", {}, "Empty required header 'To'."),
        (
            b"From: sender@example.com\r\nTo: a@x.org\r\nSubject: a\r\nSubject: b\r\n\r\nhi\r\n",
            {},
            "Duplicate header 'Subject'.",
        ),
        (
            b"From: sender@example.com\r\n: x\r\nTo: a@x.org\r\n\r\n",
            {},
            "Empty header names are illegal.",
        ),
    ],
)
def test_raw_headers(
    sandbox: Sandbox, data: bytes, kwargs: dict[str, Any], message: str | None
) -> None:
    client = ses(sandbox)
    if message is None:
        assert _raw(client, data, **kwargs)["MessageId"]
        return
    with pytest.raises(client.exceptions.BadRequestException) as refused:
        _raw(client, data, **kwargs)
    assert refused.value.response["Error"]["Message"] == message


def test_an_over_long_line_is_accepted_and_bounces(sandbox: Sandbox) -> None:
    """As at SES: no refusal at send time, a bounce from the receiving server later."""
    client = ses(sandbox)
    data = b"From: sender@example.com\r\nTo: a@x.org\r\n\r\n" + b"y" * 1200 + b"\r\n"
    message_id = _raw(client, data)["MessageId"]
    events = sandbox.mailbox.events(message_id)
    assert events["event"].tolist() == ["bounce"]
    assert "line is too long" in events["detail"].iloc[0]


def test_smtp_data_without_headers_is_554(sandbox: Sandbox) -> None:
    client = smtp_client(sandbox)
    try:
        client.mail(SENDER)
        client.rcpt("a@example.org")
        code, reply = client.data(b"x" * 1500 + b"\r\n")
    finally:
        client.quit()
    assert (code, reply) == (554, f"Transaction failed: Illegal header '{'x' * 68}'.".encode())


# -- 4. a short burst above MaxSendRate, as SES allows ----------------------------------------


def test_a_message_with_more_recipients_than_the_rate_is_sent_once_then_waits(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(rate=14, smtp=False)
    client = ses(sandbox)
    many = [f"r{i}@example.org" for i in range(20)]
    answer = client.send_email(
        FromEmailAddress=SENDER, Destination={"BccAddresses": many}, Content=SIMPLE
    )
    assert answer["MessageId"]
    with pytest.raises(client.exceptions.TooManyRequestsException):
        send(client)  # the account is paying the burst back (20/14 s)


def test_the_burst_is_paid_back_before_the_next_send() -> None:
    clock = [100.0]
    policy = Policy(max_send_rate=1, clock=lambda: clock[0])
    assert policy.admit("ses-api", SENDER, ["a@x.org", "b@x.org", "c@x.org"]).ok
    clock[0] += 2.9
    assert policy.admit("ses-api", SENDER, ["d@x.org"]).throttled
    clock[0] += 0.2  # 3.1 s after a 3-recipient message at 1/s
    assert policy.admit("ses-api", SENDER, ["d@x.org"]).ok
    assert policy.admit("ses-api", SENDER, ["e@x.org", "f@x.org"]).throttled  # window not empty


# -- 5. the list operations answer on both routes ---------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v2/email/identities", "EmailIdentities"),
        ("/v2/email/configuration-sets", "ConfigurationSets"),
    ],
)
def test_list_operations_answer_the_get_route_of_older_clients(
    sandbox: Sandbox, path: str, key: str
) -> None:
    ses(sandbox).create_configuration_set(ConfigurationSetName="events")
    target = f"{path}?PageSize=1"
    host = f"127.0.0.1:{sandbox.api_port}"
    request = urllib.request.Request(
        f"{sandbox.endpoint_url}{target}", headers=sigv4_headers(sandbox, "GET", target, host=host)
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        page = json.loads(answer.read())
    assert len(page[key]) == 1


def test_list_operations_answer_the_post_route_too(sandbox: Sandbox) -> None:
    client = ses(sandbox)  # botocore 1.44 sends POST /v2/email/list-*
    client.create_configuration_set(ConfigurationSetName="events")
    assert client.list_configuration_sets()["ConfigurationSets"] == ["events"]
    names = [i["IdentityName"] for i in client.list_email_identities()["EmailIdentities"]]
    assert names == ["example.com", SENDER]


def test_a_send_through_a_missing_configuration_set_is_refused(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    with pytest.raises(client.exceptions.NotFoundException):
        send(client, ConfigurationSetName="events")
    client.create_configuration_set(ConfigurationSetName="events")
    assert send(client, ConfigurationSetName="events")["MessageId"]


# -- 6. one over-size answer at every size -----------------------------------------------------


def test_an_over_size_message_gets_ses_answer(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    data = b"From: sender@example.com\r\nTo: a@x.org\r\n\r\n" + b"z" * (31 * 1024 * 1024)
    with pytest.raises(client.exceptions.BadRequestException) as refused:
        _raw(client, data)
    size = len(base64.b64encode(data))
    assert refused.value.response["Error"]["Message"] == (
        f"Message length is more than 41943040 bytes long: '{size}'."
    )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- 7. an account in SES's sandbox: 1 per second, 200 per 24 hours ---------------------------


def test_sandbox_account_quota_is_ses_sandbox_quota(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(sandbox_account=True, smtp=False)
    account = ses(sandbox).get_account()
    assert account["ProductionAccessEnabled"] is False
    assert account["SendQuota"] == {
        "Max24HourSend": 200.0,
        "MaxSendRate": 1.0,
        "SentLast24Hours": 0.0,
    }
    explicit = make_sandbox(sandbox_account=True, smtp=False, rate=5, daily_quota=1000)
    assert ses(explicit).get_account()["SendQuota"]["MaxSendRate"] == 5.0


# -- 8. Pinpoint: legacy emulation says so; ended answers as AWS after its end of support -----


def test_pinpoint_messages_are_marked_legacy_emulation(sandbox: Sandbox) -> None:
    frame = pd.DataFrame({"email": ["a@example.org"]})
    with pytest.warns(UserWarning, match="end of support"):
        results = send_hi(frame, "pinpoint", target=sandbox)
    assert results["status"].tolist() == ["sent"]
    detail = sandbox.mailbox.messages("pinpoint")["detail"].iloc[0]
    assert "legacy emulation" in detail and "2026-10-30" in detail


def test_pinpoint_ended_answers_403(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(pinpoint_ended=True, smtp=False)
    client = sandbox.client("pinpoint", config=NO_RETRIES)
    with pytest.raises(client.exceptions.ForbiddenException) as refused:
        client.send_messages(
            ApplicationId=sandbox.pinpoint_app_id,
            MessageRequest={
                "Addresses": {"a@example.org": {"ChannelType": "EMAIL"}},
                "MessageConfiguration": {
                    "EmailMessage": {"SimpleEmail": {"Subject": {"Data": "s"}}}
                },
            },
        )
    assert "no longer available" in refused.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ForbiddenException):
        client.get_email_channel(ApplicationId=sandbox.pinpoint_app_id)
    frame = pd.DataFrame({"email": ["a@example.org", "b@example.org"]})
    # A refusal of the whole account is a configuration error: nothing is sent, no row failed.
    with (
        pytest.warns(UserWarning, match="end of support"),
        pytest.raises(ProviderConfigurationError) as info,
    ):
        send_hi(frame, "pinpoint", target=sandbox)
    assert info.value.code == "ForbiddenException"
    assert getattr(info.value, "results", None) is None
    assert sandbox.mailbox.count() == 0


# -- 9. SMTP replies as SES's transcripts show them ------------------------------------------


def test_smtp_transcript_matches_ses(sandbox: Sandbox) -> None:
    assert sandbox.smtp_port is not None
    client = smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10)
    try:
        code, lines = client.ehlo()
        assert lines.split(b"\n")[1:] == [b"8BITMIME", b"STARTTLS", b"AUTH PLAIN LOGIN", b"Ok"]
        client.starttls(context=sandbox.certificate.client_context())
        code, lines = client.ehlo()
        assert lines.split(b"\n")[1:] == [b"8BITMIME", b"AUTH PLAIN LOGIN", b"Ok"]
        client.user, client.password = sandbox.smtp_username, sandbox.smtp_password
        assert client.auth("PLAIN", client.auth_plain) == (235, b"Authentication successful.")
        assert client.mail(SENDER) == (250, b"Ok")
        assert client.rcpt("a@example.org") == (250, b"Ok")
        code, reply = client.data(b"Subject: t\r\n\r\nhi\r\n")
        assert code == 250 and re.fullmatch(rb"Ok 0100[0-9a-f]{12}-[0-9a-f-]{36}-000000", reply)
    finally:
        client.quit()


# -- and the API checks signatures, as AWS does -------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"aws_secret_access_key": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"aws_access_key_id": "AKIAOTHERACCOUNT"}, "UnrecognizedClientException"),
        ({"aws_session_token": "FwoGZXIvYXdzEBk"}, "UnrecognizedClientException"),
        ({"region_name": "eu-west-1"}, "SignatureDoesNotMatch"),
    ],
)
def test_requests_signed_with_other_keys_are_403(
    sandbox: Sandbox, kwargs: dict[str, str], code: str
) -> None:
    client = ses(sandbox, **kwargs)
    with pytest.raises(client.exceptions.ClientError) as refused:
        client.get_account()
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_signature_older_than_15_minutes_is_expired(sandbox: Sandbox) -> None:
    from toolkit.sandbox.signatures import SignatureCheck

    keys = (sandbox.access_key_id, sandbox.secret_access_key, sandbox.region)
    host = "127.0.0.1:1"
    signed = sigv4_headers(sandbox, "GET", "/v2/email/account", host=host)
    headers = {name.lower(): value for name, value in signed.items()} | {"host": host}
    assert SignatureCheck(*keys)("GET", "/v2/email/account", headers, b"") is None
    later = SignatureCheck(*keys, clock=lambda: time.time() + 20 * 60)
    refusal = later("GET", "/v2/email/account", headers, b"")
    assert refusal is not None
    assert refusal[:2] == (403, "InvalidSignatureException")
    assert refusal[2].startswith("Signature expired: ")


def test_toolkit_send_with_wrong_keys_stops_before_sending(sandbox: Sandbox) -> None:
    from toolkit.errors import ProviderConfigurationError
    from toolkit.sandbox.target import aws_target_for

    target = aws_target_for(sandbox, secret_access_key="not-the-secret")
    with pytest.raises(ProviderConfigurationError, match="SignatureDoesNotMatch"):
        send_hi(pd.DataFrame({"email": ["a@example.org"]}), "ses", target=target)
    assert sandbox.mailbox.count() == 0
