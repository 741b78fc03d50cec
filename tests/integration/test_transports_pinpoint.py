"""The (legacy) Pinpoint SendMessages transport against the embedded sandbox on loopback."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from toolkit.compose.message import Message, Template
from toolkit.errors import ProviderConfigurationError
from toolkit.results import Verdict
from toolkit.sandbox import Sandbox
from toolkit.sandbox.target import aws_target_for
from toolkit.transports.pinpoint import PinpointEndOfSupportWarning
from toolkit.transports.registry import make_transport
from toolkit.transports.ses_bulk import stored_template_name

SENDER = "sender@example.com"
TEMPLATE = Template(subject="Hi {{name}}", text="Hello {{name}}", placeholders=("name",))


def message(i: int, to: str | None = None, **kw: Any) -> Message:
    values: dict[str, Any] = {
        "row_key": str(i),
        "position": i,
        "sender": SENDER,
        "to": (to or f"user{i}@example.org",),
        "template": TEMPLATE,
        "template_data": {"name": f"N{i}"},
    }
    values.update(kw)
    return Message(**values)


def pinpoint(sandbox: Sandbox, **target: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PinpointEndOfSupportWarning)
        return make_transport("pinpoint", aws_target_for(sandbox, **target), workers=2)


def test_warns_once_about_end_of_support(sandbox: Sandbox) -> None:
    with pytest.warns(PinpointEndOfSupportWarning, match="end of support") as record:
        transport = make_transport("pinpoint", aws_target_for(sandbox), workers=1)
        with transport:
            transport.send([message(0)])
            transport.send([message(1)])
    assert len([w for w in record if w.category is PinpointEndOfSupportWarning]) == 1


def test_same_address_twice_is_sent_twice(sandbox: Sandbox) -> None:
    batch = [message(0, to="dup@example.org"), message(1), message(2, to="dup@example.org")]
    with pinpoint(sandbox) as transport:
        replies = transport.send(batch)
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED] * 3
    subjects = sandbox.mailbox.messages("pinpoint").set_index("message_id")["subject"]
    assert subjects[replies[0].message_id] == "Hi N0"
    assert subjects[replies[2].message_id] == "Hi N2"


def test_per_address_statuses(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(partial_failure_rate=0.3, seed=3)
    with pinpoint(sandbox) as transport:
        replies = transport.send([message(i) for i in range(30)])
    assert {r.verdict for r in replies} == {Verdict.ACCEPTED, Verdict.TRANSIENT}
    assert {r.code for r in replies if r.verdict is Verdict.TRANSIENT} == {"TEMPORARY_FAILURE"}
    accepted = {r.message_id for r in replies if r.verdict is Verdict.ACCEPTED}
    assert set(sandbox.mailbox.messages("pinpoint")["message_id"]) == accepted

    strict = make_sandbox(sandbox_account=True, rate=1000)  # about recipients, not the 1/s rate
    with pinpoint(strict) as transport:
        replies = transport.send(
            [
                message(0, to="success@simulator.amazonses.com"),
                message(1, to="stranger@example.net"),
            ]
        )
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED, Verdict.REJECTED]
    assert replies[1].code == "PERMANENT_FAILURE"


def test_throttling(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(rate=2)
    with pinpoint(sandbox) as transport:
        replies = transport.send([message(i) for i in range(5)])
    throttled = [r for r in replies if r.verdict is Verdict.THROTTLED]
    assert throttled and {r.code for r in throttled} == {"THROTTLED"}
    with pinpoint(make_sandbox(throttle_rate=1.0, seed=1)) as transport:
        assert {r.verdict for r in transport.send([message(0), message(1)])} == {Verdict.THROTTLED}


def test_unknown_application_raises(sandbox: Sandbox) -> None:
    with (
        pinpoint(sandbox, pinpoint_app_id="0" * 32) as transport,
        pytest.raises(ProviderConfigurationError) as info,
    ):
        transport.send([message(0, template=Template(name="any"))])
    assert info.value.code == "NotFoundException"


def test_stored_template_is_created_once_and_reused(sandbox: Sandbox) -> None:
    with pinpoint(sandbox) as first:
        first.send([message(0)])
    with pinpoint(sandbox) as second:  # the template already exists at the provider
        reply = second.send([message(1)])[0]
    assert reply.verdict is Verdict.ACCEPTED
    stored = sandbox.client("pinpoint").get_email_template(
        TemplateName=stored_template_name(TEMPLATE)
    )
    assert stored["EmailTemplateResponse"]["Subject"] == TEMPLATE.subject


def test_the_rate_is_the_email_channels_messages_per_second(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """Pinpoint has no GetAccount: its rate is GetEmailChannel's MessagesPerSecond, so a run
    with no rate= paces at it instead of adapting from a guess (issue 17)."""
    from toolkit import send
    from toolkit.transports.registry import TRANSPORTS

    sandbox = make_sandbox(rate=40)
    target = aws_target_for(sandbox)
    quota = target.quota(TRANSPORTS["pinpoint"])
    assert quota is not None
    assert quota.max_send_rate == 40 and quota.remaining_24_hours is None
    assert aws_target_for(sandbox, pinpoint_app_id=None).quota(TRANSPORTS["pinpoint"]) is None
    assert aws_target_for(sandbox, pinpoint_app_id="0" * 32).quota(TRANSPORTS["pinpoint"]) is None

    frame = pd.DataFrame({"email": [f"success+{i}@simulator.amazonses.com" for i in range(60)]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PinpointEndOfSupportWarning)
        results = send(frame, via="pinpoint", target=target, sender=SENDER, subject="Hi",
                       text="Hello", progress=False)  # fmt: skip
    assert (results["status"] == "sent").all()
    assert (results["attempts"] == 1).all()  # paced at 40/s from the start: no throttle
    summary = results.attrs["summary"]
    assert summary["rate"] == 40 and summary["max_send_rate"] == 40
