"""Payload shapes and answer mapping of the API transports, checked by botocore's Stubber
(which validates every request against the service model), plus the SMTP wire helpers."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from toolkit.compose.message import Attachment, ContentMode, Message, Template
from toolkit.errors import ConfigurationError, ProviderConfigurationError
from toolkit.results import Verdict
from toolkit.targets import AwsTarget, SmtpTarget, is_loopback_host
from toolkit.transports.base import Transport
from toolkit.transports.pinpoint import (
    PinpointEndOfSupportWarning,
    PinpointTransport,
    split_unique_addresses,
)
from toolkit.transports.registry import make_transport, names, transport_kind
from toolkit.transports.ses import SesTransport, build_send_email_params
from toolkit.transports.ses_bulk import SesBulkTransport, build_bulk_entry, stored_template_name
from toolkit.transports.smtp import dot_stuff, parse_message_id

SENDER = "Shop <sender@example.com>"
TEMPLATE = Template(
    subject="Hi {{name}}", text="Hello {{name}}", html="<p>{{name}}</p>", placeholders=("name",)
)


def _client(service: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )


@pytest.fixture
def ses() -> Iterator[tuple[Any, Stubber]]:
    client = _client("sesv2")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def pinpoint() -> Iterator[tuple[Any, Stubber]]:
    client = _client("pinpoint")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _msg(i: int = 0, **kw: Any) -> Message:
    values: dict[str, Any] = {
        "row_key": str(i),
        "position": i,
        "sender": SENDER,
        "to": (f"user{i}@example.org",),
        "subject": f"Subject {i}",
        "text": "text",
        "template": TEMPLATE,
        "template_data": {"name": f"N{i}"},
    }
    values.update(kw)
    return Message(**values)


# -- SES SendEmail ---------------------------------------------------------------------------


def test_send_email_simple_payload_has_full_envelope() -> None:
    msg = _msg(
        cc=("c@example.org",),
        bcc=("b@example.org",),
        reply_to=("r@example.org",),
        html="<p>h</p>",
        headers=(("X-Row", "0"),),
        tags=(("campaign", "c1"),),
        configuration_set="cs",
    )
    params = build_send_email_params(msg)
    assert params["Destination"] == {
        "ToAddresses": ["user0@example.org"],
        "CcAddresses": ["c@example.org"],
        "BccAddresses": ["b@example.org"],
    }
    simple = params["Content"]["Simple"]
    assert simple["Subject"]["Data"] == "Subject 0"
    assert simple["Body"]["Text"]["Data"] == "text"
    assert simple["Body"]["Html"]["Data"] == "<p>h</p>"
    assert simple["Headers"] == [{"Name": "X-Row", "Value": "0"}]
    assert params["ReplyToAddresses"] == ["r@example.org"]
    assert params["EmailTags"] == [{"Name": "campaign", "Value": "c1"}]
    assert params["ConfigurationSetName"] == "cs"


def test_send_email_uses_raw_when_there_are_attachments() -> None:
    msg = _msg(raw=b"From: a\r\n\r\nbody\r\n", attachments=(Attachment("a.txt", b"x"),))
    params = build_send_email_params(msg)
    assert params["Content"] == {"Raw": {"Data": b"From: a\r\n\r\nbody\r\n"}}


def test_ses_transport_replies_in_order(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    stub.add_response("send_email", {"MessageId": "m-0"}, build_send_email_params(_msg(0)))
    stub.add_client_error("send_email", "MessageRejected", "virus", 400)
    stub.add_client_error(
        "send_email", "TooManyRequestsException", "Maximum sending rate exceeded.", 429
    )
    stub.add_client_error(
        "send_email", "TooManyRequestsException", "Daily message quota exceeded.", 429
    )
    stub.add_client_error("send_email", "InternalServerError", "oops", 500)
    replies = SesTransport(client).send([_msg(i) for i in range(5)])
    assert [r.verdict for r in replies] == [
        Verdict.ACCEPTED,
        Verdict.REJECTED,
        Verdict.THROTTLED,
        Verdict.DAILY_QUOTA,
        Verdict.TRANSIENT,
    ]
    assert replies[0].message_id == "m-0"
    assert replies[3].code == "DailyQuotaExceeded"
    assert all(r.started_at <= r.finished_at for r in replies)


@pytest.mark.parametrize(
    "code",
    [
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "AccountSuspendedException",
        "SendingPausedException",
    ],
)
def test_ses_account_faults_raise(ses: tuple[Any, Stubber], code: str) -> None:
    client, stub = ses
    stub.add_client_error("send_email", code, "no", 403)
    with pytest.raises(ProviderConfigurationError) as info:
        SesTransport(client).send([_msg()])
    assert info.value.code == code
    assert info.value.transport == "ses"


def test_aws_target_quota_reads_get_account(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    stub.add_response(
        "get_account",
        {"SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 10.0}},
    )
    quota = AwsTarget(client=client).quota(transport_kind("ses"))
    assert quota is not None
    assert (quota.max_send_rate, quota.max_24_hour_send, quota.remaining_24_hours) == (
        14.0,
        50000.0,
        49990.0,
    )


def test_aws_target_quota_is_none_when_get_account_is_denied(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    stub.add_client_error("get_account", "AccessDeniedException", "no", 403)
    assert AwsTarget(client=client).quota(transport_kind("ses-bulk")) is None


def test_aws_target_quota_refuses_credentials_that_do_not_work(
    ses: tuple[Any, Stubber],
) -> None:
    client, stub = ses
    stub.add_client_error("get_account", "UnrecognizedClientException", "bad token", 403)
    with pytest.raises(ProviderConfigurationError) as info:
        AwsTarget(client=client).quota(transport_kind("ses"))
    assert info.value.code == "UnrecognizedClientException"


def test_aws_target_has_no_quota_for_pinpoint() -> None:
    assert AwsTarget(region="eu-west-1").quota(transport_kind("pinpoint")) is None


def test_smtp_target_quota_is_the_rate_it_was_given() -> None:
    kind = transport_kind("smtp")
    assert SmtpTarget("127.0.0.1", 2525).quota(kind) is None
    quota = SmtpTarget("127.0.0.1", 2525, rate=14, daily_quota=200).quota(kind)
    assert quota is not None and (quota.max_send_rate, quota.remaining_24_hours) == (14, 200)
    with pytest.raises(ConfigurationError):
        SmtpTarget("127.0.0.1", 2525, rate=float("nan"))


# -- SES SendBulkEmail -----------------------------------------------------------------------


def test_bulk_entry_carries_row_data_as_json() -> None:
    entry = build_bulk_entry(_msg(3, cc=("c@example.org",)))
    data = entry["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
    assert json.loads(data) == {"name": "N3"}
    assert entry["Destination"]["CcAddresses"] == ["c@example.org"]


def test_bulk_one_call_with_inline_template_and_per_entry_statuses(
    ses: tuple[Any, Stubber],
) -> None:
    client, stub = ses
    batch = [_msg(i) for i in range(4)]
    expected = {
        "FromEmailAddress": SENDER,
        "DefaultContent": {
            "Template": {
                "TemplateContent": {
                    "Subject": "Hi {{name}}",
                    "Text": "Hello {{name}}",
                    "Html": "<p>{{name}}</p>",
                },
                "TemplateData": "{}",
            }
        },
        "BulkEmailEntries": [build_bulk_entry(m) for m in batch],
    }
    stub.add_response(
        "send_bulk_email",
        {
            "BulkEmailEntryResults": [
                {"Status": "SUCCESS", "MessageId": "id-0"},
                {"Status": "ACCOUNT_THROTTLED", "Error": "Maximum sending rate exceeded."},
                {"Status": "TRANSIENT_FAILURE", "Error": "try again"},
                {"Status": "MESSAGE_REJECTED", "Error": "virus"},
            ]
        },
        expected,
    )
    replies = SesBulkTransport(client).send(batch)
    assert [r.verdict for r in replies] == [
        Verdict.ACCEPTED,
        Verdict.THROTTLED,
        Verdict.TRANSIENT,
        Verdict.REJECTED,
    ]
    assert replies[0].message_id == "id-0"
    assert replies[3].code == "MESSAGE_REJECTED"


def test_bulk_stored_template_by_name(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    named = Template(name="welcome")
    stub.add_response(
        "send_bulk_email",
        {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "m-1"}]},
        {
            "FromEmailAddress": SENDER,
            "DefaultContent": {"Template": {"TemplateName": "welcome", "TemplateData": "{}"}},
            "BulkEmailEntries": ANY,
        },
    )
    assert SesBulkTransport(client).send([_msg(template=named)])[0].verdict is Verdict.ACCEPTED


def test_bulk_stores_inline_template_once_when_asked(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    name = stored_template_name(TEMPLATE)
    assert name.startswith("toolkit-") and len(name) == len("toolkit-") + 16
    stub.add_client_error("create_email_template", "AlreadyExistsException", "exists", 400)
    for _ in range(2):
        stub.add_response(
            "send_bulk_email",
            {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "m-1"}]},
            {
                "FromEmailAddress": SENDER,
                "DefaultContent": {"Template": {"TemplateName": name, "TemplateData": "{}"}},
                "BulkEmailEntries": ANY,
            },
        )
    transport = SesBulkTransport(client, inline_templates=False)
    transport.send([_msg(0)])
    transport.send([_msg(1)])


def test_throttled_template_creation_is_retried_not_fatal(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    stub.add_client_error("create_email_template", "TooManyRequestsException", "slow", 429)
    stub.add_response("create_email_template", {})
    stub.add_response(
        "send_bulk_email", {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "m-1"}]}
    )
    transport = SesBulkTransport(client, inline_templates=False)
    assert transport.send([_msg(0)])[0].verdict is Verdict.THROTTLED
    assert transport.send([_msg(0)])[0].verdict is Verdict.ACCEPTED


def test_refused_template_creation_is_fatal(pinpoint: tuple[Any, Stubber]) -> None:
    client, stub = pinpoint
    stub.add_client_error("create_email_template", "ForbiddenException", "no", 403)
    with pytest.raises(ProviderConfigurationError):
        _pinpoint(client).send([_msg(0)])


def test_bulk_splits_by_sender_and_keeps_order(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    batch = [_msg(0), _msg(1, sender="other@example.com"), _msg(2)]
    stub.add_response(
        "send_bulk_email",
        {
            "BulkEmailEntryResults": [
                {"Status": "SUCCESS", "MessageId": "a"},
                {"Status": "SUCCESS", "MessageId": "c"},
            ]
        },
        {"FromEmailAddress": SENDER, "DefaultContent": ANY, "BulkEmailEntries": ANY},
    )
    stub.add_response(
        "send_bulk_email",
        {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "b"}]},
        {"FromEmailAddress": "other@example.com", "DefaultContent": ANY, "BulkEmailEntries": ANY},
    )
    replies = SesBulkTransport(client).send(batch)
    assert [r.message_id for r in replies] == ["a", "b", "c"]


def test_bulk_result_count_mismatch_is_unknown(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    stub.add_response(
        "send_bulk_email", {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "m-1"}]}
    )
    replies = SesBulkTransport(client).send([_msg(0), _msg(1)])
    assert [r.verdict for r in replies] == [Verdict.UNKNOWN, Verdict.UNKNOWN]
    assert replies[0].code == "ResponseMismatch"


def test_bulk_account_status_raises(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    stub.add_response(
        "send_bulk_email",
        {"BulkEmailEntryResults": [{"Status": "ACCOUNT_SUSPENDED", "Error": "suspended"}]},
    )
    with pytest.raises(ProviderConfigurationError):
        SesBulkTransport(client).send([_msg(0)])


def test_bulk_whole_call_throttled(ses: tuple[Any, Stubber]) -> None:
    client, stub = ses
    stub.add_client_error("send_bulk_email", "TooManyRequestsException", "slow", 429)
    replies = SesBulkTransport(client).send([_msg(0), _msg(1)])
    assert [r.verdict for r in replies] == [Verdict.THROTTLED] * 2


# -- Pinpoint SendMessages -------------------------------------------------------------------


def _pinpoint(client: Any) -> PinpointTransport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PinpointEndOfSupportWarning)
        return PinpointTransport(client, application_id="app1")


def test_pinpoint_payload_and_statuses(pinpoint: tuple[Any, Stubber]) -> None:
    client, stub = pinpoint
    batch = [_msg(i, template=Template(name="welcome")) for i in range(3)]
    stub.add_response(
        "send_messages",
        {
            "MessageResponse": {
                "ApplicationId": "app1",
                "Result": {
                    "user0@example.org": {
                        "DeliveryStatus": "SUCCESSFUL",
                        "StatusCode": 200,
                        "MessageId": "p0",
                    },
                    "user1@example.org": {"DeliveryStatus": "THROTTLED", "StatusCode": 429},
                    "user2@example.org": {
                        "DeliveryStatus": "PERMANENT_FAILURE",
                        "StatusCode": 400,
                        "StatusMessage": "bad",
                    },
                },
            }
        },
        {
            "ApplicationId": "app1",
            "MessageRequest": {
                "Addresses": {
                    f"user{i}@example.org": {
                        "ChannelType": "EMAIL",
                        "Substitutions": {"name": [f"N{i}"]},
                    }
                    for i in range(3)
                },
                "MessageConfiguration": {"EmailMessage": {"FromAddress": SENDER}},
                "TemplateConfiguration": {"EmailTemplate": {"Name": "welcome"}},
            },
        },
    )
    replies = _pinpoint(client).send(batch)
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED, Verdict.THROTTLED, Verdict.REJECTED]
    assert replies[0].message_id == "p0"


def test_pinpoint_creates_template_once_and_tolerates_existing(
    pinpoint: tuple[Any, Stubber],
) -> None:
    client, stub = pinpoint
    name = stored_template_name(TEMPLATE)
    stub.add_client_error(
        "create_email_template",
        "BadRequestException",
        "Template already exists",
        400,
        expected_params={
            "TemplateName": name,
            "EmailTemplateRequest": {
                "Subject": "Hi {{name}}",
                "TextPart": "Hello {{name}}",
                "HtmlPart": "<p>{{name}}</p>",
            },
        },
    )
    for i in range(2):
        stub.add_response(
            "send_messages",
            {
                "MessageResponse": {
                    "ApplicationId": "app1",
                    "Result": {
                        f"user{i}@example.org": {"DeliveryStatus": "SUCCESSFUL", "StatusCode": 200}
                    },
                }
            },
        )
    transport = _pinpoint(client)
    transport.send([_msg(0)])
    transport.send([_msg(1)])


def test_pinpoint_duplicate_address_goes_in_a_second_call(pinpoint: tuple[Any, Stubber]) -> None:
    client, stub = pinpoint
    named = Template(name="t")
    batch = [
        _msg(0, template=named),
        _msg(1, template=named),
        _msg(2, template=named, to=("USER0@example.org",)),
    ]
    assert split_unique_addresses([0, 1, 2], batch) == [[0, 1], [2]]
    stub.add_response(
        "send_messages",
        {
            "MessageResponse": {
                "ApplicationId": "app1",
                "Result": {
                    "user0@example.org": {
                        "DeliveryStatus": "SUCCESSFUL",
                        "StatusCode": 200,
                        "MessageId": "a",
                    },
                    "user1@example.org": {
                        "DeliveryStatus": "SUCCESSFUL",
                        "StatusCode": 200,
                        "MessageId": "b",
                    },
                },
            }
        },
    )
    stub.add_response(
        "send_messages",
        {
            "MessageResponse": {
                "ApplicationId": "app1",
                "Result": {
                    "user0@example.org": {
                        "DeliveryStatus": "SUCCESSFUL",
                        "StatusCode": 200,
                        "MessageId": "c",
                    },
                },
            }
        },
    )
    replies = _pinpoint(client).send(batch)
    assert [r.message_id for r in replies] == ["a", "b", "c"]


@pytest.mark.parametrize("code", ["NotFoundException", "ForbiddenException"])
def test_pinpoint_missing_app_raises(pinpoint: tuple[Any, Stubber], code: str) -> None:
    client, stub = pinpoint
    stub.add_client_error("send_messages", code, "no such app", 404)
    with pytest.raises(ProviderConfigurationError):
        _pinpoint(client).send([_msg(0, template=Template(name="t"))])


def test_pinpoint_multi_recipient_message_is_rejected_without_a_call(
    pinpoint: tuple[Any, Stubber],
) -> None:
    client, _ = pinpoint
    replies = _pinpoint(client).send([_msg(0, cc=("c@example.org",))])
    assert replies[0].verdict is Verdict.REJECTED


def test_pinpoint_warns_once_per_instance(pinpoint: tuple[Any, Stubber]) -> None:
    client, _ = pinpoint
    with pytest.warns(PinpointEndOfSupportWarning, match="2026-10-30") as record:
        transport = PinpointTransport(client, application_id="app1")
        transport.send([])
        transport.send([])
    assert len(record) == 1


def test_pinpoint_needs_an_app_id() -> None:
    with pytest.raises(ConfigurationError):
        PinpointTransport(_client("pinpoint"), application_id=None)


# -- the factory and targets -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("via", "max_batch", "mode"),
    [
        ("ses", 1, ContentMode.FIELDS),
        ("ses-bulk", 50, ContentMode.TEMPLATE),
        ("pinpoint", 100, ContentMode.TEMPLATE),
        ("smtp", 1, ContentMode.RAW),
    ],
)
def test_make_transport(via: str, max_batch: int, mode: ContentMode) -> None:
    assert via in names()
    assert transport_kind(via).max_batch == max_batch
    target: Any = (
        SmtpTarget("127.0.0.1", 2525)
        if via == "smtp"
        else AwsTarget(
            region="eu-west-1", access_key_id="AKID", secret_access_key="s", pinpoint_app_id="app1"
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PinpointEndOfSupportWarning)
        transport = make_transport(via, target, workers=4)
    assert isinstance(transport, Transport)
    assert (transport.name, transport.max_batch, transport.content_mode) == (via, max_batch, mode)


def test_make_transport_rejects_wrong_target_and_via() -> None:
    with pytest.raises(ConfigurationError):
        make_transport("smtp", AwsTarget(region="eu-west-1"), workers=1)
    with pytest.raises(ConfigurationError):
        make_transport("sms", AwsTarget(region="eu-west-1"), workers=1)


def test_aws_clients_never_retry_and_fit_the_workers() -> None:
    target = AwsTarget(region="eu-west-1", access_key_id="AKID", secret_access_key="s")
    client = target.make_client("sesv2", workers=16)
    config = client.meta.config
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.max_pool_connections == 18
    assert (config.connect_timeout, config.read_timeout) == (5.0, 30.0)


def test_secrets_stay_out_of_reprs() -> None:
    aws = AwsTarget(region="eu-west-1", access_key_id="AKID", secret_access_key="TOPSECRET")
    smtp = SmtpTarget.from_aws_credentials("eu-west-1", "AKID", "TOPSECRET")
    assert "TOPSECRET" not in repr(aws)
    assert smtp.password and smtp.password not in repr(smtp)
    assert smtp.host == "email-smtp.eu-west-1.amazonaws.com"


def test_tls_verification_is_on_except_loopback_or_when_asked() -> None:
    import ssl

    assert SmtpTarget("email-smtp.eu-west-1.amazonaws.com").ssl_context().verify_mode is (
        ssl.CERT_REQUIRED
    )
    assert SmtpTarget("127.0.0.1").ssl_context().verify_mode is ssl.CERT_NONE
    assert SmtpTarget("mail.example.com", verify=False).ssl_context().verify_mode is (ssl.CERT_NONE)
    assert SmtpTarget("x", tls="none").ssl_context() is None
    assert is_loopback_host("::1") and not is_loopback_host("example.com")


# -- SMTP wire helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "wire"),
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\r\nb", b"a\r\nb\r\n.\r\n"),
        (b".a\r\n.b\r\nc.\r\n", b"..a\r\n..b\r\nc.\r\n.\r\n"),
        (b"a\nb\n.c\n", b"a\r\nb\r\n..c\r\n.\r\n"),
    ],
)
def test_dot_stuff(raw: bytes, wire: bytes) -> None:
    assert dot_stuff(raw) == wire


@pytest.mark.parametrize(
    ("reply", "message_id"),
    [
        ("Ok 0100018c-abc-000000", "0100018c-abc-000000"),
        ("Ok <id@x>", "id@x"),
        ("2.0.0 queued as ABC", "2.0.0 queued as ABC"),
    ],
)
def test_parse_message_id(reply: str, message_id: str) -> None:
    assert parse_message_id(reply) == message_id


def test_display_names_reach_ses_as_rfc2047_words() -> None:
    import email.header

    from toolkit.transports.ses import build_send_email_params

    msg = Message(
        row_key="1",
        position=0,
        sender="Café Shop <sender@example.com>",
        to=("zoe@example.org",),
        subject="s",
        text="t",
        extra={"to_name": "Zoë Łukasz"},
    )
    params = build_send_email_params(msg)
    (to,) = params["Destination"]["ToAddresses"]
    assert to.isascii() and to.endswith(" <zoe@example.org>")
    name = str(email.header.make_header(email.header.decode_header(to.rsplit(" <", 1)[0])))
    assert name == "Zoë Łukasz"
    assert params["FromEmailAddress"].isascii()
    assert params["FromEmailAddress"].endswith(" <sender@example.com>")


def test_bare_addresses_stay_bare() -> None:
    from toolkit.transports.ses import build_send_email_params

    msg = Message(row_key="1", position=0, sender="sender@example.com", to=("a@example.org",))
    params = build_send_email_params(msg)
    assert params["FromEmailAddress"] == "sender@example.com"
    assert params["Destination"]["ToAddresses"] == ["a@example.org"]
