"""Pinpoint SendMessages (email) → SES API v2 request mapping."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from toolkit.errors import ConfigurationError
from toolkit.guide.migrate import Migration, SesCall, migrate_send_messages

APP = "5a9d1b0c0ffee0000000000000000001"
SES_MODEL = botocore.session.get_session().get_service_model("sesv2")
PINPOINT_MODEL = botocore.session.get_session().get_service_model("pinpoint")


def simple(subject="Hi", text="Hello", html="<p>Hello</p>"):
    return {
        "Subject": {"Charset": "UTF-8", "Data": subject},
        "HtmlPart": {"Charset": "UTF-8", "Data": html},
        "TextPart": {"Charset": "UTF-8", "Data": text},
    }


def request(addresses, email=None, **extra):
    mr = {
        "Addresses": addresses,
        "MessageConfiguration": {
            "EmailMessage": email
            if email is not None
            else {"FromAddress": "sender@example.com", "SimpleEmail": simple()}
        },
    }
    mr.update(extra)
    return {"ApplicationId": APP, "MessageRequest": mr}


def emails(*addrs, **cfg):
    return {a: {"ChannelType": "EMAIL", **cfg} for a in addrs}


def assert_valid(call: SesCall) -> None:
    """The kwargs pass botocore's own validation for the operation."""
    op = SES_MODEL.operation_model(call.api_name)
    report = ParamValidator().validate(call.kwargs, op.input_shape)
    assert not report.has_errors(), report.generate_report()


def assert_valid_pinpoint(req) -> None:
    op = PINPOINT_MODEL.operation_model("SendMessages")
    report = ParamValidator().validate(req, op.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_simple_without_substitutions_is_one_send_email_per_address():
    req = request(emails("a@example.org", "b@example.org"))
    assert_valid_pinpoint(req)
    m = migrate_send_messages(req)
    assert [c.operation for c in m.calls] == ["send_email", "send_email"]
    assert [c.api_name for c in m.calls] == ["SendEmail", "SendEmail"]
    first = m.calls[0].kwargs
    assert first == {
        "FromEmailAddress": "sender@example.com",
        "Destination": {"ToAddresses": ["a@example.org"]},
        "Content": {
            "Simple": {
                "Subject": {"Data": "Hi", "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": "Hello", "Charset": "UTF-8"},
                    "Html": {"Data": "<p>Hello</p>", "Charset": "UTF-8"},
                },
            }
        },
    }
    assert m.recipients == ("a@example.org", "b@example.org")
    for call in m.calls:
        assert_valid(call)


def test_reply_to_feedback_and_configuration_set():
    email = {
        "FromAddress": "sender@example.com",
        "SimpleEmail": simple(),
        "ReplyToAddresses": ["help@example.com"],
        "FeedbackForwardingAddress": "bounces@example.com",
    }
    m = migrate_send_messages(request(emails("a@example.org"), email), configuration_set="events")
    kw = m.calls[0].kwargs
    assert kw["ReplyToAddresses"] == ["help@example.com"]
    assert kw["FeedbackForwardingEmailAddress"] == "bounces@example.com"
    assert kw["ConfigurationSetName"] == "events"
    assert any("FeedbackForwardingEmailAddress" in n for n in m.notes)
    assert_valid(m.calls[0])


def test_simple_headers_are_kept():
    s = simple()
    s["Headers"] = [{"Name": "X-Campaign", "Value": "nov"}]
    m = migrate_send_messages(
        request(emails("a@example.org"), {"FromAddress": "s@example.com", "SimpleEmail": s})
    )
    assert m.calls[0].kwargs["Content"]["Simple"]["Headers"] == [
        {"Name": "X-Campaign", "Value": "nov"}
    ]
    assert_valid(m.calls[0])


def test_inline_substitutions_become_template_and_bulk():
    email = {
        "FromAddress": "sender@example.com",
        "SimpleEmail": simple(
            "Hi {{name}}", "Hello {{name}} from {{team}}", "<p>Hello {{name}}</p>"
        ),
        "Substitutions": {"team": ["Ops"]},
    }
    addrs = {
        "a@example.org": {"ChannelType": "EMAIL", "Substitutions": {"name": ["Ann"]}},
        "b@example.org": {
            "ChannelType": "EMAIL",
            "Substitutions": {"name": ["Bob"], "team": ["Dev"]},
        },
    }
    req = request(addrs, email)
    assert_valid_pinpoint(req)
    m = migrate_send_messages(req)
    assert [c.operation for c in m.calls] == ["create_email_template", "send_bulk_email"]
    create, bulk = m.calls
    name = create.kwargs["TemplateName"]
    assert name.startswith("pinpoint-migrated-")
    assert create.kwargs["TemplateContent"] == {
        "Subject": "Hi {{name}}",
        "Text": "Hello {{name}} from {{team}}",
        "Html": "<p>Hello {{name}}</p>",
    }
    assert bulk.kwargs["DefaultContent"]["Template"] == {
        "TemplateName": name,
        "TemplateData": json.dumps({"team": "Ops"}),
    }
    data = [
        json.loads(e["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"])
        for e in bulk.kwargs["BulkEmailEntries"]
    ]
    assert data == [{"team": "Ops", "name": "Ann"}, {"team": "Dev", "name": "Bob"}]
    assert [e["Destination"] for e in bulk.kwargs["BulkEmailEntries"]] == [
        {"ToAddresses": ["a@example.org"]},
        {"ToAddresses": ["b@example.org"]},
    ]
    assert bulk.recipients == ("a@example.org", "b@example.org")
    assert create.recipients == ()
    for call in m.calls:
        assert_valid(call)
    # same content → same template name (so re-running the migration reuses it)
    assert migrate_send_messages(req).calls[0].kwargs["TemplateName"] == name
    assert (
        migrate_send_messages(req, template_name="welcome")
        .calls[1]
        .kwargs["DefaultContent"]["Template"]["TemplateName"]
        == "welcome"
    )


def test_bulk_is_split_into_calls_of_fifty():
    addrs = {
        f"u{i}@example.org": {"ChannelType": "EMAIL", "Substitutions": {"n": [str(i)]}}
        for i in range(100)
    }
    req = request(addrs, {"FromAddress": "s@example.com", "SimpleEmail": simple("{{n}}")})
    m = migrate_send_messages(req)
    sizes = [len(c.kwargs["BulkEmailEntries"]) for c in m.calls[1:]]
    assert sizes == [50, 50]
    assert m.recipients == tuple(addrs)


def test_prefer_bulk_without_substitutions():
    m = migrate_send_messages(request(emails("a@example.org")), prefer_bulk=True)
    assert [c.operation for c in m.calls] == ["create_email_template", "send_bulk_email"]


def test_multi_value_substitution_is_a_list_with_a_note():
    email = {
        "FromAddress": "s@example.com",
        "SimpleEmail": simple("{{items}}"),
        "Substitutions": {"items": ["x", "y"]},
    }
    m = migrate_send_messages(request(emails("a@example.org"), email))
    entry = m.calls[1].kwargs["BulkEmailEntries"][0]
    data = json.loads(
        entry["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
    )
    assert data == {"items": ["x", "y"]}
    assert any("2 values" in n for n in m.notes)


def test_charset_other_than_utf8_is_noted_for_templates():
    s = simple("{{a}}")
    s["Subject"]["Charset"] = "ISO-8859-1"
    email = {"FromAddress": "s@example.com", "SimpleEmail": s, "Substitutions": {"a": ["1"]}}
    m = migrate_send_messages(request(emails("a@example.org"), email))
    assert any("ISO-8859-1" in n for n in m.notes)


def test_stored_template_maps_to_same_named_ses_template():
    email = {"FromAddress": "sender@example.com"}
    addrs = {"a@example.org": {"ChannelType": "EMAIL", "Substitutions": {"name": ["Ann"]}}}
    req = request(
        addrs, email, TemplateConfiguration={"EmailTemplate": {"Name": "welcome", "Version": "3"}}
    )
    assert_valid_pinpoint(req)
    m = migrate_send_messages(req)
    assert [c.operation for c in m.calls] == ["send_bulk_email"]
    assert m.calls[0].kwargs["DefaultContent"]["Template"]["TemplateName"] == "welcome"
    assert any("'welcome'" in p and "CreateEmailTemplate" in p for p in m.prerequisites)
    assert any("not versioned" in n for n in m.notes)
    assert_valid(m.calls[0])


def test_stored_template_wins_over_inline_content():
    req = request(
        emails("a@example.org"),
        {"FromAddress": "s@example.com", "SimpleEmail": simple()},
        TemplateConfiguration={"EmailTemplate": {"Name": "t"}},
    )
    m = migrate_send_messages(req)
    assert [c.operation for c in m.calls] == ["send_bulk_email"]
    assert any("inline content was dropped" in n for n in m.notes)


def test_raw_email_is_send_email_raw_per_address():
    mime = b"From: s@example.com\r\nTo: a@example.org\r\nSubject: Raw\r\n\r\nBody\r\n"
    email = {
        "FromAddress": "s@example.com",
        "RawEmail": {"Data": mime},
        "Substitutions": {"x": ["1"]},
    }
    req = request(emails("a@example.org", "b@example.org"), email)
    assert_valid_pinpoint(req)
    m = migrate_send_messages(req)
    assert [c.operation for c in m.calls] == ["send_email", "send_email"]
    assert m.calls[1].kwargs["Content"] == {"Raw": {"Data": mime}}
    assert m.calls[1].kwargs["Destination"] == {"ToAddresses": ["b@example.org"]}
    assert any("do not apply to RawEmail" in n for n in m.notes)
    for call in m.calls:
        assert_valid(call)


def test_raw_email_needs_no_from_address():
    m = migrate_send_messages(request(emails("a@example.org"), {"RawEmail": {"Data": b"x"}}))
    assert "FromEmailAddress" not in m.calls[0].kwargs


def test_body_only_becomes_text_part_with_empty_subject():
    m = migrate_send_messages(
        request(emails("a@example.org"), {"FromAddress": "s@example.com", "Body": "plain"})
    )
    content = m.calls[0].kwargs["Content"]["Simple"]
    assert content == {"Subject": {"Data": ""}, "Body": {"Text": {"Data": "plain"}}}
    assert any("empty subject" in n for n in m.notes)
    assert_valid(m.calls[0])


def test_non_email_addresses_endpoints_and_other_channels_are_noted():
    addrs = {**emails("a@example.org"), "+15550100": {"ChannelType": "SMS"}}
    req = request(addrs, None, Endpoints={"ep-1": {}}, Context={"k": "v"}, TraceId="t")
    req["MessageRequest"]["MessageConfiguration"]["SMSMessage"] = {"Body": "hi"}
    req["MessageRequest"]["TemplateConfiguration"] = {"SMSTemplate": {"Name": "s"}}
    req["MessageRequest"]["Addresses"]["a@example.org"]["TitleOverride"] = "T"
    m = migrate_send_messages(req)
    assert m.skipped == ("+15550100",)
    assert m.recipients == ("a@example.org",)
    text = " ".join(m.notes)
    for fragment in (
        "non-EMAIL",
        "End User Messaging",
        "Endpoints",
        "Context",
        "TraceId",
        "SMSMessage",
        "SMSTemplate",
        "TitleOverride",
    ):
        assert fragment in text


def test_placeholders_without_substitutions_are_noted():
    m = migrate_send_messages(
        request(
            emails("a@example.org"),
            {"FromAddress": "s@example.com", "SimpleEmail": simple("Hi {{name}}")},
        )
    )
    assert m.calls[0].operation == "send_email"
    assert any("placeholders" in n for n in m.notes)


def test_missing_from_address_uses_default_or_fails():
    req = request(emails("a@example.org"), {"SimpleEmail": simple()})
    with pytest.raises(ConfigurationError, match="from_address"):
        migrate_send_messages(req)
    m = migrate_send_messages(req, from_address="chan@example.com")
    assert m.calls[0].kwargs["FromEmailAddress"] == "chan@example.com"


@pytest.mark.parametrize(
    "req",
    [
        {"ApplicationId": APP},
        request(emails("a@example.org"), {"FromAddress": "s@example.com"}),
        request(
            emails("a@example.org"),
            {"FromAddress": "s@example.com", "SimpleEmail": {"Subject": {"Data": "x"}}},
        ),
        request(
            emails("a@example.org"),
            {"FromAddress": "s@example.com", "SimpleEmail": {"Subject": "not a part"}},
        ),
        request(emails("a@example.org"), {"FromAddress": "s@example.com", "RawEmail": {}}),
        request(
            emails("a@example.org"),
            {"FromAddress": "s@example.com"},
            TemplateConfiguration={"EmailTemplate": {}},
        ),
        request(
            emails("a@example.org"),
            {
                "FromAddress": "s@example.com",
                "SimpleEmail": simple(),
                "Substitutions": ["not", "a", "map"],
            },
        ),
    ],
)
def test_unmappable_requests_raise_configuration_error(req):
    with pytest.raises(ConfigurationError):
        migrate_send_messages(req)


def test_no_email_addresses_gives_no_calls():
    m = migrate_send_messages(request({"+1555": {"ChannelType": "SMS"}}))
    assert m.calls == () and "No EMAIL addresses" in " ".join(m.notes)


class RecordingClient:
    """A stand-in boto3 client that records calls (the real one is used in integration)."""

    def __init__(self, exists: bool = False) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.exists = exists

    def create_email_template(self, **kw):
        self.calls.append(("create_email_template", kw))
        if self.exists:
            err = Exception("exists")
            err.response = {"Error": {"Code": "AlreadyExistsException"}}
            raise err
        return {}

    def send_bulk_email(self, **kw):
        self.calls.append(("send_bulk_email", kw))
        return {"BulkEmailEntryResults": []}


def test_run_issues_calls_in_order_and_tolerates_existing_template():
    email = {
        "FromAddress": "s@example.com",
        "SimpleEmail": simple("{{a}}"),
        "Substitutions": {"a": ["1"]},
    }
    m = migrate_send_messages(request(emails("a@example.org"), email))
    client = RecordingClient(exists=True)
    responses = m.run(client)
    assert [op for op, _ in client.calls] == ["create_email_template", "send_bulk_email"]
    assert responses[0] == {"AlreadyExists": m.calls[0].kwargs["TemplateName"]}


def test_run_reraises_other_errors():
    class Failing:
        def send_email(self, **kw):
            raise RuntimeError("boom")

    m = migrate_send_messages(request(emails("a@example.org")))
    with pytest.raises(RuntimeError):
        m.run(Failing())


def test_code_hint_is_python():
    m = migrate_send_messages(request(emails("a@example.org")))
    code = m.code()
    assert code.startswith("import boto3")
    assert "ses.send_email(\n    FromEmailAddress=" in code
    compile(code, "<hint>", "exec")
    assert isinstance(m, Migration)


def test_code_hint_keeps_every_string_whole_and_equal_to_the_call():
    import ast

    long_name = {"name": ["Ana " * 40]}  # pprint used to split such strings into pieces
    addresses = emails("a@example.org", "b@example.org", Substitutions=long_name)
    m = migrate_send_messages(request(addresses))
    code = m.code()
    calls = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call) and n.keywords]
    assert len(calls) == len(m.calls)
    for node, call in zip(calls, m.calls, strict=True):
        assert {k.arg: ast.literal_eval(k.value) for k in node.keywords} == call.kwargs
    assert "' '" not in code  # no adjacent string pieces
