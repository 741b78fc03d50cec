"""A templated message whose data lacks a variable: SES accepts it (a MessageId) and never
delivers it, publishing a Rendering Failure event (``toolkit.facts.SES_RENDERING_FAILURE``).
The sandbox does the same in SES's words, the events reader keeps SES's reason, and a row
whose answer was lost is resolved as ``rejected`` from that event, not as ``sent``."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from botocore.config import Config

from toolkit.compose.tags import ROW_TAG, RUN_TAG, row_tag_value
from toolkit.measure.events import (
    events_from_notifications,
    events_from_sandbox,
    join_events,
    parse_ses_notification,
)
from toolkit.measure.resolve import RENDERING_FAILURE_CODE, resolve_unknown
from toolkit.sandbox import Sandbox

SENDER = "sender@example.com"
REASON = "Attribute 'name' is not present in the rendering data."


def ses(sandbox: Sandbox) -> Any:
    client = sandbox.client("sesv2", config=Config(retries={"total_max_attempts": 1}))
    client.create_email_template(
        TemplateName="welcome",
        TemplateContent={"Subject": "Hi {{name}}", "Text": "Order {{order}}"},
    )
    return client


def tags(key: str) -> list[dict[str, str]]:
    return [{"Name": RUN_TAG, "Value": "run-1"}, {"Name": ROW_TAG, "Value": row_tag_value(key)}]


def test_send_email_is_accepted_and_fails_to_render_in_ses_words(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    answer = client.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["a@example.org"]},
        Content={"Template": {"TemplateName": "welcome", "TemplateData": '{"order": 7}'}},
    )
    assert answer["MessageId"]
    events = sandbox.mailbox.events(answer["MessageId"])
    assert events[["recipient", "event", "detail"]].values.tolist() == [
        ["a@example.org", "rendering-failure", REASON]
    ]


def test_a_bulk_entry_without_its_variable_fails_to_render_alone(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    results = client.send_bulk_email(
        FromEmailAddress=SENDER,
        DefaultContent={"Template": {"TemplateName": "welcome", "TemplateData": '{"order": 1}'}},
        BulkEmailEntries=[
            {
                "Destination": {"ToAddresses": ["a@example.org"]},
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {"ReplacementTemplateData": '{"name": "Ada"}'}
                },
            },
            {"Destination": {"ToAddresses": ["b@example.org"]}},
        ],
    )["BulkEmailEntryResults"]
    assert [r["Status"] for r in results] == ["SUCCESS", "SUCCESS"]
    first, second = (sandbox.mailbox.events(r["MessageId"]) for r in results)
    assert first["event"].tolist() == ["delivery"]
    assert second[["event", "detail"]].values.tolist() == [["rendering-failure", REASON]]


def _notification(kind: str, extra: dict[str, Any]) -> str:
    mail = {
        "timestamp": "2026-12-06T10:00:00.000Z",
        "messageId": "m-1",
        "destination": ["a@example.org"],
        "tags": {RUN_TAG: ["run-1"], ROW_TAG: [row_tag_value("k1")]},
    }
    return json.dumps({"eventType": kind, "mail": mail, **extra})


RENDERING = _notification(
    "Rendering Failure", {"failure": {"errorMessage": REASON, "templateName": "welcome"}}
)


def test_the_events_reader_keeps_ses_reason() -> None:
    [record] = parse_ses_notification(RENDERING)
    assert record["event"] == "rendering_failure"
    assert record["recipient"] == "a@example.org"
    assert record["detail"] == REASON
    assert record["event_time"] == "2026-12-06T10:00:00.000Z"


def _lost(*keys: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_key": list(keys),
            "status": ["unknown"] * len(keys),
            "message_id": [None] * len(keys),
            "error_code": ["NoAnswer"] * len(keys),
            "error_message": [""] * len(keys),
        }
    )


def test_a_lost_answer_with_a_rendering_failure_is_rejected_not_sent(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    for key, data in (("k1", '{"order": 7}'), ("k2", '{"name": "Ada", "order": 8}')):
        client.send_email(
            FromEmailAddress=SENDER,
            Destination={"ToAddresses": [f"{key}@example.org"]},
            Content={"Template": {"TemplateName": "welcome", "TemplateData": data}},
            EmailTags=tags(key),
        )
    events = events_from_sandbox(sandbox)
    resolved = resolve_unknown(_lost("k1", "k2"), events, run_tag="run-1")
    assert resolved["status"].tolist() == ["rejected", "sent"]
    assert resolved["error_code"].iloc[0] == RENDERING_FAILURE_CODE
    assert REASON in resolved["error_message"].iloc[0]
    joined = join_events(resolved.assign(message_id=events["message_id"].tolist()), events)
    assert joined["event"].tolist() == ["rendering_failure", "delivery"]


def test_a_send_event_before_the_rendering_failure_does_not_make_it_sent() -> None:
    send_event = _notification("Send", {"send": {}})
    events = events_from_notifications([send_event, RENDERING])
    resolved = resolve_unknown(_lost("k1"), events, run_tag="run-1")
    assert resolved["status"].tolist() == ["rejected"]
    assert resolved["message_id"].tolist() == ["m-1"]
