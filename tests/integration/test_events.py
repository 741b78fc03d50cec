"""Delivery events joined onto results: from the sandbox's mailbox and from SES notifications
read off a real SQS API (moto's server on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pandas as pd
import pytest

from tests.helpers import send_hi
from toolkit.measure.events import (
    EVENT_COLUMNS,
    JOINED_COLUMNS,
    events_from_notifications,
    events_from_sandbox,
    events_from_sqs,
    join_events,
    parse_ses_notification,
)
from toolkit.sandbox.mailbox import Mailbox

SIM = "simulator.amazonses.com"


def _results(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """(row_key, recipient, message_id) -> a minimal results frame."""
    return pd.DataFrame(
        {
            "row_key": [r[0] for r in rows],
            "status": ["sent" if r[2] else "failed" for r in rows],
            "recipient": [r[1] for r in rows],
            "message_id": [r[2] for r in rows],
        },
        index=pd.Index([10 + i for i in range(len(rows))], name="input_index"),
    )


def test_join_with_sandbox_mailbox_events() -> None:
    with Mailbox() as mailbox:
        names = [
            "ana@example.org",
            f"bounce@{SIM}",
            f"complaint@{SIM}",
            f"ooto@{SIM}",
            f"suppressionlist@{SIM}",
        ]
        ids = [
            mailbox.add(
                interface="ses-api",
                sender="sender@example.com",
                recipients=[r],
                subject="s",
                content=b"x",
            )
            for r in names
        ]
        # one SMTP message to two recipients: each row must get its own recipient's event
        shared = mailbox.add(
            interface="smtp",
            sender="sender@example.com",
            recipients=["bo@example.org", f"bounce+x@{SIM}"],
            subject="s",
            content=b"y",
        )
        events = events_from_sandbox(mailbox)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert str(events["event_time"].dtype) == "datetime64[ns, UTC]"

    results = _results(
        [(str(i), r, m) for i, (r, m) in enumerate(zip(names, ids, strict=True))]
        + [
            ("5", "bo@example.org", shared),
            ("6", f"bounce+x@{SIM}", shared),
            ("7", "never@example.org", None),
            ("8", "late@example.org", "not-yet-known"),
        ]
    )
    joined = join_events(results, events)
    assert joined.index.equals(results.index)
    assert set(JOINED_COLUMNS) <= set(joined.columns)
    by_key = joined.set_index("row_key")
    assert by_key.loc["0", "event"] == "delivery"
    assert by_key.loc["1", "event"] == "bounce"
    assert by_key.loc["1", "bounce_type"] == "Permanent"
    assert by_key.loc["1", "bounce_subtype"] == "General"
    assert by_key.loc["2", "event"] == "complaint"  # complaint outranks its delivery
    assert by_key.loc["2", "event_types"] == "complaint,delivery"
    assert by_key.loc["2", "feedback_type"] == "abuse"
    assert by_key.loc["3", "event"] == "delivery"  # the auto-reply is informational
    assert by_key.loc["3", "event_count"] == 2
    assert by_key.loc["4", "bounce_subtype"] == "OnAccountSuppressionList"
    assert by_key.loc["5", "event"] == "delivery"
    assert by_key.loc["6", "event"] == "bounce"
    assert by_key.loc["7", "event_count"] == 0 and pd.isna(by_key.loc["7", "event"])
    assert by_key.loc["8", "event_count"] == 0 and pd.isna(by_key.loc["8", "event_time"])


def test_join_without_any_events() -> None:
    results = _results([("0", "a@example.org", "m0")])
    joined = join_events(results, events_from_notifications([]))
    assert joined["event_count"].tolist() == [0]
    assert pd.isna(joined["event"].iloc[0])


# --------------------------------------------------------------------------- SES notifications

MAIL = {
    "timestamp": "2026-11-26T10:00:00.000Z",
    "source": "sender@example.com",
    "messageId": "0100-abc",
    "destination": ["ana@example.org", "bo@example.org"],
}


def _bounce(message_id: str = "0100-abc") -> dict:
    return {
        "notificationType": "Bounce",
        "mail": MAIL | {"messageId": message_id},
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "bo@example.org",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2026-11-26T10:00:02.000Z",
            "feedbackId": "f1",
        },
    }


def _delivery(message_id: str = "0100-abc") -> dict:
    return {
        "eventType": "Delivery",  # configuration-set event publishing flavour
        "mail": MAIL | {"messageId": message_id},
        "delivery": {
            "timestamp": "2026-11-26T10:00:01.000Z",
            "recipients": ["ana@example.org", "bo@example.org"],
            "smtpResponse": "250 2.6.0 Message received",
            "processingTimeMillis": 900,
        },
    }


def _complaint(message_id: str = "0100-abc") -> dict:
    return {
        "notificationType": "Complaint",
        "mail": MAIL | {"messageId": message_id},
        "complaint": {
            "complainedRecipients": [{"emailAddress": "ana@example.org"}],
            "timestamp": "2026-11-26T10:05:00.000Z",
            "complaintFeedbackType": "abuse",
            "feedbackId": "f2",
        },
    }


def _sns(notification: dict) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "sns-1",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
            "Message": json.dumps(notification),
            "Timestamp": "2026-11-26T10:00:03.000Z",
        }
    )


def test_parse_notification_shapes() -> None:
    records = parse_ses_notification(_sns(_bounce()))
    assert len(records) == 1
    assert records[0]["recipient"] == "bo@example.org"
    assert records[0]["bounce_type"] == "Permanent"
    assert records[0]["detail"].startswith("smtp; 550")
    assert [r["recipient"] for r in parse_ses_notification(json.dumps(_delivery()))] == [
        "ana@example.org",
        "bo@example.org",
    ]
    delay = {
        "eventType": "DeliveryDelay",
        "mail": MAIL,
        "deliveryDelay": {
            "delayType": "MailboxFull",
            "timestamp": "2026-11-26T10:00:09Z",
            "delayedRecipients": [{"emailAddress": "ana@example.org"}],
        },
    }
    assert parse_ses_notification(delay)[0]["event"] == "delivery_delay"
    confirmation = json.dumps(
        {"Type": "SubscriptionConfirmation", "Message": "confirm", "TopicArn": "arn"}
    )
    assert parse_ses_notification(confirmation) == []
    assert parse_ses_notification("not json") == []
    assert parse_ses_notification(json.dumps({"hello": "world"})) == []


@pytest.fixture(scope="module")
def sqs_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def sqs(sqs_endpoint: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import boto3

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    return boto3.client("sqs", region_name="us-east-1", endpoint_url=sqs_endpoint)


def test_events_from_sqs_via_sns_envelopes_and_raw_delivery(sqs) -> None:  # type: ignore[no-untyped-def]
    url = sqs.create_queue(QueueName="ses-events-envelope")["QueueUrl"]
    bodies = [
        _sns(_delivery("m-1")),
        _sns(_bounce("m-1")),
        json.dumps(_complaint("m-2")),  # raw message delivery: the bare SES notification
        json.dumps({"Type": "SubscriptionConfirmation", "Message": "x", "TopicArn": "t"}),
        "garbage",
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)

    events = events_from_sqs(url, client=sqs, max_messages=50, wait_seconds=0, delete=True)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert sorted(events["event"]) == ["bounce", "complaint", "delivery", "delivery"]
    assert set(events["source"]) == {"sqs"}
    assert events["event_time"].notna().all()

    results = _results(
        [
            ("a", "ana@example.org", "m-1"),
            ("b", "bo@example.org", "m-1"),
            ("c", "ana@example.org", "m-2"),
            ("d", "cy@example.org", "m-3"),
        ]
    )
    joined = join_events(results, events).set_index("row_key")
    assert joined.loc["a", "event"] == "delivery"
    assert joined.loc["b", "event"] == "bounce" and joined.loc["b", "bounce_type"] == "Permanent"
    assert joined.loc["b", "event_types"] == "bounce,delivery"
    assert joined.loc["c", "event"] == "complaint" and joined.loc["c", "feedback_type"] == "abuse"
    assert joined.loc["d", "event_count"] == 0
    assert joined.loc["b", "event_time"] == pd.Timestamp("2026-11-26T10:00:02Z")

    # parsed messages were deleted; the confirmation and the junk stay for their owner
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    left = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    total = int(left["ApproximateNumberOfMessages"]) + int(
        left["ApproximateNumberOfMessagesNotVisible"]
    )
    assert total == 2


def test_events_from_sqs_is_bounded(sqs) -> None:  # type: ignore[no-untyped-def]
    url = sqs.create_queue(QueueName="ses-events-bounded")["QueueUrl"]
    for i in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=_sns(_delivery(f"m-{i}")))
    events = events_from_sqs(url, client=sqs, max_messages=12, wait_seconds=0)
    assert events["message_id"].nunique() == 12  # stopped after 12 messages, deleted nothing


def test_send_then_join_sandbox_events() -> None:
    """The whole loop: send through the sandbox, read its events, join them onto the results."""
    from toolkit.sandbox import Sandbox

    frame = pd.DataFrame(
        {"email": [f"success@{SIM}", f"bounce@{SIM}", f"complaint@{SIM}", "not-an-address"]},
        index=pd.Index(["r1", "r2", "r3", "r4"], name="customer"),
    )
    with Sandbox(rate=100) as sandbox:
        results = send_hi(frame, via="ses", target=sandbox, subject="Hello", text="Hi", workers=2)
        joined = join_events(results, events_from_sandbox(sandbox))
    assert joined.index.equals(frame.index)
    assert joined.loc["r1", "event"] == "delivery"
    assert joined.loc["r2", "event"] == "bounce"
    assert joined.loc["r2", "bounce_type"] == "Permanent"
    assert joined.loc["r3", "event"] == "complaint"
    assert joined.loc["r4", "status"] == "invalid" and joined.loc["r4", "event_count"] == 0
