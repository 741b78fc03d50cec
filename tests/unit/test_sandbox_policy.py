"""The sandbox's policy, faults, rendering, validation and mailbox, without any network.

Time is a fake clock: no test sleeps.
"""

from __future__ import annotations

import botocore.session
import pytest

from toolkit.sandbox.faults import FaultAction, Faults
from toolkit.sandbox.mailbox import Mailbox, new_message_id
from toolkit.sandbox.policy import (
    Decision,
    Policy,
    Reason,
    is_simulator,
    simulator_events,
)
from toolkit.sandbox.rendering import render
from toolkit.sandbox.validation import OperationValidator, ValidationError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SENDER = "sender@example.com"


def policy(**kwargs: object) -> tuple[Policy, FakeClock]:
    clock = FakeClock()
    return Policy(clock=clock, **kwargs), clock  # type: ignore[arg-type]


# -- identities ------------------------------------------------------------------------------


def test_default_identities_verify_address_and_domain() -> None:
    p, _ = policy()
    assert p.is_verified("sender@example.com")
    assert p.is_verified("anyone@EXAMPLE.com")  # the domain is verified
    assert p.is_verified("Sender Name <news@example.com>")
    assert not p.is_verified("x@example.org")
    assert p.identities() == {"sender@example.com": "EMAIL_ADDRESS", "example.com": "DOMAIN"}


def test_unverified_sender_is_rejected_with_ses_text() -> None:
    p, _ = policy(region="eu-west-1")
    admission = p.admit("ses-api", "Bob <bob@elsewhere.org>", ["a@example.org"], 100)
    assert admission.rejected and admission.reason is Reason.UNVERIFIED_SENDER
    assert admission.error_code == "MessageRejected" and admission.http_status == 400
    assert admission.message == (
        "Email address is not verified. The following identities failed the check in region "
        "EU-WEST-1: Bob <bob@elsewhere.org>"  # as given, display name included (as SES)
    )
    assert admission.smtp_reply.startswith("554 Message rejected: Email address is not verified")


def test_identities_can_be_added_and_removed() -> None:
    p, _ = policy()
    assert p.verify_identity("ops@corp.test") == "EMAIL_ADDRESS"
    assert p.verify_identity("corp.test") == "DOMAIN"
    assert p.admit("smtp", "ops@corp.test", ["a@b.test"]).ok
    assert p.remove_identity("corp.test") and p.remove_identity("ops@corp.test")
    assert not p.remove_identity("corp.test")
    assert p.admit("smtp", "ops@corp.test", ["a@b.test"]).rejected


# -- message shape ---------------------------------------------------------------------------


def test_too_many_recipients_and_too_large() -> None:
    p, _ = policy()
    many = [f"r{i}@example.org" for i in range(51)]
    assert p.admit("smtp", SENDER, many).reason is Reason.TOO_MANY_RECIPIENTS
    assert p.admit("smtp", SENDER, many[:50]).ok
    big = p.admit("smtp", SENDER, ["a@example.org"], 40 * 1024 * 1024 + 1)
    assert big.reason is Reason.TOO_LARGE and big.smtp_reply.startswith("552")
    assert p.admit("smtp", SENDER, []).reason is Reason.NO_RECIPIENTS


def test_sending_paused() -> None:
    p, _ = policy()
    p.sending_enabled = False
    admission = p.admit("ses-api", SENDER, ["a@example.org"])
    assert admission.rejected and admission.error_code == "SendingPausedException"


# -- rate ------------------------------------------------------------------------------------


def test_rate_counts_recipients_in_an_exact_one_second_window() -> None:
    p, clock = policy(max_send_rate=5)
    assert p.admit("ses-api", SENDER, ["a@x.org", "b@x.org", "c@x.org"]).ok  # t=0: 3
    clock.now += 0.5
    assert p.admit("ses-api", SENDER, ["d@x.org", "e@x.org"]).ok  # t=0.5: 5 in window
    throttled = p.admit("ses-api", SENDER, ["f@x.org"])
    assert throttled.throttled and throttled.reason is Reason.RATE
    assert throttled.http_status == 429 and throttled.error_code == "TooManyRequestsException"
    assert throttled.message == "Maximum sending rate exceeded."
    assert throttled.smtp_reply == "454 Throttling failure: Maximum sending rate exceeded."
    clock.now += 0.4999  # t=0.9999: the first 3 are still inside the window
    assert p.admit("ses-api", SENDER, ["f@x.org"]).throttled
    clock.now += 0.0002  # t=1.0001: the first 3 left the window
    assert p.admit("ses-api", SENDER, ["f@x.org", "g@x.org", "h@x.org"]).ok
    assert p.admit("ses-api", SENDER, ["i@x.org"]).throttled


def test_rate_never_admits_more_than_r_in_any_window() -> None:
    p, clock = policy(max_send_rate=10)
    admitted: list[float] = []
    for step in range(2000):
        clock.now = 1000.0 + step * 0.013
        if p.admit("smtp", SENDER, ["a@x.org"]).ok:
            admitted.append(clock.now)
    for i, start in enumerate(admitted):
        inside = [t for t in admitted[i:] if t < start + 1.0]
        assert len(inside) <= 10
    assert len(admitted) > 200  # and it does admit at about the rate


def test_throttled_messages_do_not_count() -> None:
    p, _clock = policy(max_send_rate=2, max_24_hour_send=10)
    assert p.admit("smtp", SENDER, ["a@x.org", "b@x.org"]).ok
    assert p.admit("smtp", SENDER, ["c@x.org"]).throttled
    assert p.quota().sent_last_24_hours == 2


# -- daily quota -----------------------------------------------------------------------------


def test_daily_quota_rolls_over_24_hours() -> None:
    p, clock = policy(max_24_hour_send=3)
    for name in "abc":
        assert p.admit("smtp", SENDER, [f"{name}@x.org"]).ok
        clock.now += 10
    over = p.admit("smtp", SENDER, ["d@x.org"])
    assert over.throttled and over.reason is Reason.DAILY
    assert over.message == "Daily message quota exceeded."
    assert over.smtp_reply == "454 Throttling failure: Daily message quota exceeded."
    quota = p.quota()
    assert (quota.max_24_hour_send, quota.sent_last_24_hours) == (3, 3)
    clock.now = 1000.0 + 86_400 + 1  # the first send left the 24 h window
    assert p.quota().sent_last_24_hours == 2
    assert p.admit("smtp", SENDER, ["d@x.org"]).ok


def test_simulator_counts_against_rate_but_not_daily_quota() -> None:
    p, clock = policy(max_send_rate=2, max_24_hour_send=1)
    assert p.admit("smtp", SENDER, ["success@simulator.amazonses.com"]).ok
    assert p.admit("smtp", SENDER, ["bounce+x@simulator.amazonses.com"]).ok
    assert p.admit("smtp", SENDER, ["ooto@simulator.amazonses.com"]).reason is Reason.RATE
    assert p.quota().sent_last_24_hours == 0
    clock.now += 2
    assert p.admit("smtp", SENDER, ["real@x.org"]).ok
    assert p.admit("smtp", SENDER, ["real2@x.org"]).reason is Reason.DAILY
    assert p.admit("smtp", SENDER, ["complaint@simulator.amazonses.com"]).ok


def test_unlimited_daily_quota_still_reports_sent() -> None:
    p, _ = policy()
    assert p.admit("smtp", SENDER, ["a@x.org", "b@x.org"]).ok
    quota = p.quota()
    assert quota.max_24_hour_send == -1 and quota.sent_last_24_hours == 2
    p.reset_counters()
    assert p.quota().sent_last_24_hours == 0


# -- sandbox account -------------------------------------------------------------------------


def test_sandbox_account_allows_only_verified_recipients_and_simulator() -> None:
    p, _ = policy(sandbox_account=True)
    assert p.admit("smtp", SENDER, ["colleague@example.com"]).ok  # domain verified
    assert p.admit("smtp", SENDER, ["success@simulator.amazonses.com"]).ok
    refused = p.admit("smtp", SENDER, ["ok@example.com", "stranger@gmail.test"])
    assert refused.rejected and refused.reason is Reason.UNVERIFIED_RECIPIENT
    assert refused.message.endswith("region US-EAST-1: stranger@gmail.test")


# -- simulator -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kinds"),
    [
        ("someone@example.org", ["delivery"]),
        ("success@simulator.amazonses.com", ["delivery"]),
        ("bounce@simulator.amazonses.com", ["bounce"]),
        ("bounce+label-1@simulator.amazonses.com", ["bounce"]),
        ("ooto@simulator.amazonses.com", ["delivery", "auto-reply"]),
        ("complaint+x@Simulator.AmazonSES.com", ["delivery", "complaint"]),
        ("suppressionlist@simulator.amazonses.com", ["bounce"]),
    ],
)
def test_simulator_events(address: str, kinds: list[str]) -> None:
    assert [event.kind for event in simulator_events(address)] == kinds


def test_simulator_bounce_details() -> None:
    assert "5.1.1" in simulator_events("bounce@simulator.amazonses.com")[0].detail
    assert (
        "suppression list" in simulator_events("suppressionlist@simulator.amazonses.com")[0].detail
    )
    assert is_simulator("Name <ooto+a@simulator.amazonses.com>")
    assert not is_simulator("ooto@simulator.amazonses.com.evil.test")


# -- faults ----------------------------------------------------------------------------------


def test_faults_are_reproducible_for_a_seed() -> None:
    def sequence(seed: int) -> list[object]:
        faults = Faults(
            throttle_rate=0.2, error_rate=0.1, drop_rate=0.1, partial_failure_rate=0.3, seed=seed
        )
        return [(faults.draw(), faults.recipient_fails()) for _ in range(200)]

    assert sequence(7) == sequence(7)
    assert sequence(7) != sequence(8)
    actions = [action for action, _ in sequence(7)]
    assert {FaultAction.THROTTLE, FaultAction.ERROR, FaultAction.DROP, FaultAction.NONE} == set(
        actions
    )
    share = actions.count(FaultAction.THROTTLE) / len(actions)
    assert 0.1 < share < 0.3


def test_no_faults_by_default_and_bad_rates_refused() -> None:
    faults = Faults()
    assert not faults.active and faults.draw() is FaultAction.NONE
    assert not faults.recipient_fails() and faults.latency_s == 0.0
    assert Faults(latency_ms=25).latency_s == 0.025
    with pytest.raises(ValueError):
        Faults(throttle_rate=1.5)
    with pytest.raises(ValueError):
        Faults(throttle_rate=0.6, error_rate=0.6)


# -- rendering -------------------------------------------------------------------------------


def test_render_placeholders() -> None:
    assert render("Hi {{name}}, {{ order.id }}!", {"name": "Ada", "order": {"id": 7}}) == (
        "Hi Ada, 7!",
        [],
    )
    assert render("Hi {{name}} {{missing}}", {"name": "Ada"}) == ("Hi Ada ", ["missing"])
    assert render(None, {}) == (None, [])
    assert render("no braces", {}) == ("no braces", [])


# -- validation ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def send_email_validator() -> OperationValidator:
    model = botocore.session.get_session().get_service_model("sesv2")
    return OperationValidator(model.operation_model("SendEmail"))


def test_validator_accepts_a_good_request(send_email_validator: OperationValidator) -> None:
    body = {
        "FromEmailAddress": SENDER,
        "Destination": {"ToAddresses": ["a@x.org"]},
        "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}},
        "EmailTags": [{"Name": "n", "Value": "v"}],
    }
    assert send_email_validator.params(body)["FromEmailAddress"] == SENDER


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing required member Content"),
        ({"Content": {"Simple": {"Body": {}}}}, "Missing required member Content.Simple.Subject"),
        ({"Content": {}, "Bogus": 1}, "Unknown member Bogus"),
        (
            {"Content": {"Simple": {"Subject": {"Data": 5}, "Body": {}}}},
            "Invalid type for member Content.Simple.Subject.Data: expected string, got integer",
        ),
        (
            {"Content": {}, "Destination": {"ToAddresses": "a@x.org"}},
            "Invalid type for member Destination.ToAddresses: expected list, got string",
        ),
        ({"Content": {"Raw": {"Data": 12}}}, "Content.Raw.Data: expected base64 string"),
        ([], "expected object"),
    ],
)
def test_validator_names_the_member(
    send_email_validator: OperationValidator, body: object, message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace(".", r"\.").replace("[", r"\[")):
        send_email_validator.params(body)


# -- mailbox ---------------------------------------------------------------------------------


def test_message_ids_look_like_ses() -> None:
    message_id = new_message_id(1_700_000_000.0)
    assert message_id.startswith("0100018bcfe56800-") and message_id.endswith("-000000")
    assert len(message_id) == 16 + 1 + 36 + 7


def test_mailbox_records_messages_and_events() -> None:
    with Mailbox() as mailbox:
        first = mailbox.add(
            interface="smtp",
            sender=SENDER,
            recipients=["a@x.org", "ooto+1@simulator.amazonses.com"],
            subject="Hi",
            content=b"Subject: Hi\r\n\r\nbody",
        )
        mailbox.add(
            interface="ses-api",
            sender=SENDER,
            recipients=["b@x.org"],
            subject=None,
            content='{"x": 1}',
            content_kind="json",
            events=[("b@x.org", "rendering-failure", "missing: name")],
        )
        assert mailbox.count() == 2 and mailbox.count("smtp") == 1
        messages = mailbox.messages()
        assert next(iter(messages["message_id"])) == first
        assert messages.loc[0, "recipients"] == ["a@x.org", "ooto+1@simulator.amazonses.com"]
        assert messages.loc[0, "size"] == len(b"Subject: Hi\r\n\r\nbody")
        assert "content" not in messages.columns
        assert mailbox.messages(content=True).loc[1, "content"] == b'{"x": 1}'
        events = mailbox.events()
        assert list(events["event"]) == ["delivery", "delivery", "auto-reply", "rendering-failure"]
        assert list(mailbox.events(first)["recipient"]) == [
            "a@x.org",
            "ooto+1@simulator.amazonses.com",
            "ooto+1@simulator.amazonses.com",
        ]
        record = mailbox.message(first)
        assert record is not None and record["subject"] == "Hi"
        mailbox.clear()
        assert mailbox.count() == 0 and mailbox.events().empty


def test_mailbox_in_a_directory_is_durable_and_readable_elsewhere(tmp_path) -> None:
    mailbox = Mailbox.in_dir(tmp_path)
    mailbox.add(interface="smtp", sender=SENDER, recipients=["a@x.org"], subject="s", content=b"x")
    mailbox.put_state("templates", {"t": 1})
    mailbox.flush()  # the flusher thread would do this within 50 ms
    reader = Mailbox.open(tmp_path)
    try:
        assert reader.count() == 1
        assert reader.get_state("templates") == {"t": 1}
        with pytest.raises(PermissionError):
            reader.add(
                interface="smtp", sender=SENDER, recipients=["a@x.org"], subject="s", content=b"x"
            )
    finally:
        reader.close()
    mailbox.close()
    again = Mailbox.in_dir(tmp_path)
    assert again.count() == 1
    again.close()
    with pytest.raises(FileNotFoundError):
        Mailbox.open(tmp_path / "nowhere")


def test_sealed_mailbox_stays_readable() -> None:
    mailbox = Mailbox()
    mailbox.add(interface="smtp", sender=SENDER, recipients=["a@x.org"], subject="s", content=b"x")
    mailbox.seal()
    assert mailbox.count() == 1
    with pytest.raises(PermissionError):
        mailbox.add(
            interface="smtp", sender=SENDER, recipients=["a@x.org"], subject="s", content=b"x"
        )
    mailbox.close()


def test_decision_enum_is_stable() -> None:
    assert {d.value for d in Decision} == {"accepted", "throttled", "rejected"}
