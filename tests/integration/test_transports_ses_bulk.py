"""The SES v2 SendBulkEmail transport against the embedded sandbox on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from toolkit.compose.message import Message, Template
from toolkit.errors import ProviderConfigurationError
from toolkit.results import Verdict
from toolkit.sandbox import Sandbox
from toolkit.sandbox.target import aws_target_for
from toolkit.transports.registry import make_transport
from toolkit.transports.ses_bulk import stored_template_name

SENDER = "sender@example.com"
TEMPLATE = Template(
    subject="Order {{order}}",
    text="Hi {{name}}, order {{order}} shipped.",
    placeholders=("name", "order"),
)


def message(i: int, to: str | None = None, template: Template = TEMPLATE, **kw: Any) -> Message:
    values: dict[str, Any] = {
        "row_key": str(i),
        "position": i,
        "sender": SENDER,
        "to": (to or f"user{i}@example.org",),
        "template": template,
        "template_data": {"name": f"Ana {i}", "order": str(1000 + i)},
    }
    values.update(kw)
    return Message(**values)


def bulk(sandbox: Sandbox, **options: Any) -> Any:
    return make_transport("ses-bulk", aws_target_for(sandbox), workers=2, **options)


def test_per_entry_failures_inside_a_200_answer(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(partial_failure_rate=0.3, seed=5)
    batch = [message(i) for i in range(40)]
    with bulk(sandbox) as transport:
        replies = transport.send(batch)
    verdicts = [r.verdict for r in replies]
    assert set(verdicts) == {Verdict.ACCEPTED, Verdict.TRANSIENT}
    assert {r.code for r in replies if r.verdict is Verdict.TRANSIENT} == {"TRANSIENT_FAILURE"}
    accepted = {r.message_id for r in replies if r.verdict is Verdict.ACCEPTED}
    assert set(sandbox.mailbox.messages("ses-bulk")["message_id"]) == accepted


def test_unverified_recipients_are_rejected_per_entry(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(sandbox_account=True, rate=1000)  # about recipients, not the 1/s rate
    batch = [
        message(0, to="success@simulator.amazonses.com"),
        message(1, to="x@example.net"),
        message(2, to="bounce@simulator.amazonses.com"),
    ]
    with bulk(sandbox) as transport:
        replies = transport.send(batch)
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED, Verdict.REJECTED, Verdict.ACCEPTED]
    assert replies[1].code == "MESSAGE_REJECTED"
    assert "bounce" in set(sandbox.mailbox.events(replies[2].message_id)["event"])


def test_throttling_per_entry_and_daily_quota(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(rate=3)
    with bulk(sandbox) as transport:
        replies = transport.send([message(i) for i in range(6)])
    throttled = [r for r in replies if r.verdict is Verdict.THROTTLED]
    assert throttled and {r.code for r in throttled} == {"ACCOUNT_THROTTLED"}
    assert replies[0].verdict is Verdict.ACCEPTED

    daily = make_sandbox(daily_quota=2)
    with bulk(daily) as transport:
        replies = transport.send([message(i) for i in range(3)])
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED] * 2 + [Verdict.DAILY_QUOTA]
    assert replies[2].code == "DailyQuotaExceeded"


def test_stored_templates(sandbox: Sandbox) -> None:
    client = sandbox.client("sesv2")
    client.create_email_template(
        TemplateName="welcome",
        TemplateContent={"Subject": "Welcome {{name}}", "Text": "Hello {{name}}"},
    )
    with bulk(sandbox) as transport:
        reply = transport.send([message(0, template=Template(name="welcome"))])[0]
    assert sandbox.mailbox.message(reply.message_id)["subject"] == "Welcome Ana 0"

    with bulk(sandbox, inline_templates=False) as transport:
        replies = transport.send([message(1), message(2)])
    assert {r.verdict for r in replies} == {Verdict.ACCEPTED}
    stored = client.get_email_template(TemplateName=stored_template_name(TEMPLATE))
    assert stored["TemplateContent"]["Subject"] == TEMPLATE.subject
    with bulk(sandbox, inline_templates=False) as transport:  # already exists: reused
        assert transport.send([message(3)])[0].verdict is Verdict.ACCEPTED


def test_missing_stored_template_raises(sandbox: Sandbox) -> None:
    with bulk(sandbox) as transport, pytest.raises(ProviderConfigurationError):
        transport.send([message(0, template=Template(name="no-such-template"))])
