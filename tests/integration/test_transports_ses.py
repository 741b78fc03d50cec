"""The SES v2 SendEmail transport against the embedded sandbox on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from toolkit.compose.message import Attachment, Message
from toolkit.errors import ProviderConfigurationError
from toolkit.results import Verdict
from toolkit.sandbox import Sandbox
from toolkit.sandbox.target import aws_target_for
from toolkit.targets import AwsTarget
from toolkit.transports.registry import make_transport, transport_kind

SENDER = "Shop <sender@example.com>"
RAW = (
    b"From: sender@example.com\r\nTo: a@example.org\r\nSubject: With file\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
)


def message(i: int, to: str | None = None, **kw: Any) -> Message:
    values: dict[str, Any] = {
        "row_key": str(i),
        "position": i,
        "sender": SENDER,
        "to": (to or f"user{i}@example.org",),
        "subject": f"Order {i}",
        "text": f"Hi {i}",
    }
    values.update(kw)
    return Message(**values)


def ses(sandbox: Sandbox, workers: int = 1, **target: Any) -> Any:
    return make_transport("ses", aws_target_for(sandbox, **target), workers=workers)


def test_the_full_envelope_goes_in_destination(sandbox: Sandbox) -> None:
    batch = [message(i, cc=("cc@example.org",), bcc=("bcc@example.org",)) for i in range(5)]
    with ses(sandbox) as transport:
        replies = [transport.send([m])[0] for m in batch]
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED] * 5
    frame = sandbox.mailbox.messages("ses-api")
    assert list(frame["recipients"].iloc[0]) == [
        "user0@example.org",
        "cc@example.org",
        "bcc@example.org",
    ]
    assert list(frame["subject"]) == [f"Order {i}" for i in range(5)]


def test_attachments_go_as_raw(sandbox: Sandbox) -> None:
    msg = message(0, raw=RAW, attachments=(Attachment("a.txt", b"x"),))
    with ses(sandbox) as transport:
        reply = transport.send([msg])[0]
    assert reply.verdict is Verdict.ACCEPTED
    assert sandbox.mailbox.message(reply.message_id)["subject"] == "With file"


def test_mailbox_simulator_addresses(sandbox: Sandbox) -> None:
    batch = [
        message(i, to=f"{kind}@simulator.amazonses.com")
        for i, kind in enumerate(["success", "bounce", "complaint"])
    ]
    with ses(sandbox) as transport:
        replies = transport.send(batch)
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED] * 3
    events = sandbox.mailbox.events(replies[1].message_id)
    assert "bounce" in set(events["event"])


def test_unverified_sender_stops_unverified_recipient_is_rejected(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    # Issue 16 M1: an unverified sender refuses the whole account (a configuration error at
    # the first answer, nothing final); in SES's sandbox an unverified recipient refuses
    # only its own message.
    sandbox = make_sandbox(sandbox_account=True, rate=1000)  # about recipients, not the 1/s rate
    with ses(sandbox) as transport:
        with pytest.raises(ProviderConfigurationError) as info:
            transport.send([message(0, sender="nobody@unverified.test")])
        assert info.value.code == "SenderNotVerified"
        replies = transport.send([message(1, to="stranger@example.net")])
    assert [r.verdict for r in replies] == [Verdict.REJECTED]
    assert replies[0].code == "MessageRejected"
    assert sandbox.mailbox.count() == 0


def test_throttling_by_rate_and_by_daily_quota(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(rate=1)
    with ses(sandbox) as transport:
        replies = transport.send([message(i) for i in range(4)])
    verdicts = [r.verdict for r in replies]
    assert verdicts[0] is Verdict.ACCEPTED and Verdict.THROTTLED in verdicts
    assert {r.code for r in replies if r.verdict is Verdict.THROTTLED} == {
        "TooManyRequestsException"
    }

    daily = make_sandbox(daily_quota=1)
    with ses(daily) as transport:
        replies = transport.send([message(0), message(1)])
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED, Verdict.DAILY_QUOTA]
    assert replies[1].code == "DailyQuotaExceeded"


def test_read_timeout_is_unknown_and_may_have_been_delivered(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(latency_ms=1500)
    with ses(sandbox, read_timeout=0.3) as transport:
        reply = transport.send([message(0)])[0]
    assert reply.verdict is Verdict.UNKNOWN
    assert reply.code == "ReadTimeoutError"


def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = AwsTarget(
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key_id="AKID",
        secret_access_key="s",
    )
    with make_transport("ses", target, workers=1) as transport:
        reply = transport.send([message(0)])[0]
    assert reply.verdict is Verdict.TRANSIENT
    assert reply.code == "EndpointConnectionError"


def test_quota_comes_from_get_account(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(rate=25, daily_quota=1000)
    with ses(sandbox) as transport:
        transport.send([message(0)])
    quota = aws_target_for(sandbox).quota(transport_kind("ses"))
    assert quota is not None
    assert (quota.max_send_rate, quota.max_24_hour_send, quota.sent_last_24_hours) == (
        25.0,
        1000.0,
        1.0,
    )


def test_the_quota_call_says_how_far_the_provider_is(make_sandbox: Callable[..., Sandbox]) -> None:
    """The engine sizes its first requests by it (``Quota.answered_in``), before any answer."""
    sandbox = make_sandbox(rate=25, latency_ms=80)
    quota = aws_target_for(sandbox).quota(transport_kind("ses"))
    assert quota is not None and quota.answered_in is not None
    assert 0.08 <= quota.answered_in < 2.0


def test_worker_threads_share_one_client(sandbox: Sandbox) -> None:
    with ses(sandbox, workers=4) as transport:
        replies: list[Any] = []
        lock = threading.Lock()

        def work(start: int) -> None:
            for i in range(start, start + 10):
                reply = transport.send([message(i)])[0]
                with lock:
                    replies.append(reply)

        threads = [threading.Thread(target=work, args=(k * 10,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert len(replies) == 40 and all(r.verdict is Verdict.ACCEPTED for r in replies)
    assert sandbox.mailbox.count("ses-api") == 40
