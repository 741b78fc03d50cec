"""The SMTP transport (pooled STARTTLS + AUTH connections) against the sandbox SMTP server."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

from toolkit.compose.message import Message
from toolkit.errors import ProviderConfigurationError
from toolkit.results import Verdict
from toolkit.sandbox import Sandbox
from toolkit.sandbox.target import smtp_target_for
from toolkit.sandbox.tls import SelfSignedCertificate
from toolkit.targets import SmtpTarget
from toolkit.transports.registry import make_transport
from toolkit.transports.smtp import PARTIAL_REFUSAL_CODE, SmtpTransport

SENDER = "Shop <sender@example.com>"


def raw(i: int, to: str) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: {to}\r\nSubject: Order {i}\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nHello.\r\n.leading dot\r\n..two\r\n"
    ).encode()


def message(i: int, to: str | None = None, **kw: Any) -> Message:
    address = to or f"user{i}@example.org"
    values: dict[str, Any] = {
        "row_key": str(i),
        "position": i,
        "sender": SENDER,
        "to": (address,),
        "raw": raw(i, address),
    }
    values.update(kw)
    return Message(**values)


def smtp(sandbox: Sandbox, **target: Any) -> SmtpTransport:
    transport = make_transport("smtp", smtp_target_for(sandbox, **target), workers=4)
    assert isinstance(transport, SmtpTransport)
    return transport


def test_accepted_messages_land_once_with_the_full_envelope(sandbox: Sandbox) -> None:
    batch = [message(i, cc=("cc@example.org",), bcc=("bcc@example.org",)) for i in range(5)]
    with smtp(sandbox) as transport:
        replies = [transport.send([m])[0] for m in batch]
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED] * 5
    frame = sandbox.mailbox.messages("smtp", content=True)
    assert sorted(frame["message_id"]) == sorted(r.message_id for r in replies)
    assert frame["message_id"].is_unique
    first = frame.set_index("message_id").loc[replies[0].message_id]
    assert list(first["recipients"]) == ["user0@example.org", "cc@example.org", "bcc@example.org"]
    assert first["content"].endswith(b"\r\n.leading dot\r\n..two\r\n")  # dots un-stuffed


def test_tls_is_verified_against_the_sandbox_certificate(sandbox: Sandbox) -> None:
    target = smtp_target_for(sandbox)
    assert target.ca_pem and target.verify  # pinned: checked like any public certificate
    other = SelfSignedCertificate.generate().cert_pem.decode()
    with pytest.raises(ProviderConfigurationError) as info:
        SmtpTransport(dataclasses.replace(target, ca_pem=other)).open()
    assert info.value.code == "CertificateVerifyFailed"
    # loopback without a pinned certificate: verification is off, so this still works
    unpinned = dataclasses.replace(target, host="localhost", ca_pem=None)
    with SmtpTransport(unpinned) as transport:
        assert transport.send([message(0)])[0].verdict is Verdict.ACCEPTED


def test_simulator_and_rejections(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(sandbox_account=True, rate=1000)  # about recipients, not the 1/s rate
    with smtp(sandbox) as transport:
        replies = transport.send(
            [
                message(0, to="bounce@simulator.amazonses.com"),
                message(1, to="stranger@example.net"),
                message(2, to="success@simulator.amazonses.com"),
            ]
        )
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED, Verdict.REJECTED, Verdict.ACCEPTED]
    assert replies[1].code == "SMTP554"
    assert "bounce" in set(sandbox.mailbox.events(replies[0].message_id)["event"])


def test_some_recipients_refused_is_accepted_with_a_note(sandbox: Sandbox) -> None:
    bcc = ("b0@example.org", "b..1@example.org")  # RCPT answers 501 for the malformed one
    with smtp(sandbox) as transport:
        reply = transport.send([message(0, bcc=bcc)])[0]
    assert reply.verdict is Verdict.ACCEPTED and reply.code == PARTIAL_REFUSAL_CODE
    assert "b..1@example.org" in (reply.message or "")
    assert sandbox.mailbox.message(reply.message_id)["n_recipients"] == 2


def test_more_than_50_recipients_is_one_refusal_not_a_partial_success(sandbox: Sandbox) -> None:
    """SES answers 554 at the end of DATA: no recipient gets it, the row is rejected."""
    bcc = tuple(f"b{k}@example.org" for k in range(50))  # 51 with the To address
    with smtp(sandbox) as transport:
        reply = transport.send([message(0, bcc=bcc)])[0]
    assert reply.verdict is Verdict.REJECTED and reply.code == "SMTP554"
    assert reply.message == "Transaction failed: Recipient count exceeds 50."
    assert sandbox.mailbox.count() == 0


def test_throttling_and_daily_quota(make_sandbox: Callable[..., Sandbox]) -> None:
    with smtp(make_sandbox(rate=1)) as transport:
        replies = transport.send([message(i) for i in range(4)])
    assert replies[0].verdict is Verdict.ACCEPTED
    assert {r.code for r in replies[1:] if r.verdict is Verdict.THROTTLED} == {"SMTP454"}
    with smtp(make_sandbox(daily_quota=1)) as transport:
        replies = transport.send([message(0), message(1), message(2)])
    assert [r.verdict for r in replies] == [Verdict.ACCEPTED] + [Verdict.DAILY_QUOTA] * 2
    assert replies[1].code == "DailyQuotaExceeded"
    with smtp(make_sandbox(throttle_rate=1.0, seed=1)) as transport:
        assert transport.send([message(0)])[0].verdict is Verdict.THROTTLED


def test_dropped_connection_after_data_is_unknown_and_the_pool_recovers(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(drop_rate=0.5, seed=11)
    with smtp(sandbox) as transport:
        replies = transport.send([message(i) for i in range(20)])
    verdicts = [r.verdict for r in replies]
    assert set(verdicts) == {Verdict.ACCEPTED, Verdict.UNKNOWN}
    accepted = {r.message_id for r in replies if r.verdict is Verdict.ACCEPTED}
    assert set(sandbox.mailbox.messages("smtp")["message_id"]) == accepted


def test_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = SmtpTransport(SmtpTarget("127.0.0.1", port, timeout=2))
    with pytest.raises(ProviderConfigurationError):
        transport.open()
    reply = transport.send([message(0)])[0]  # never left: safe to retry
    assert reply.verdict is Verdict.TRANSIENT and reply.code == "ConnectionRefusedError"


def test_worker_threads_each_get_a_connection_and_reconnect(sandbox: Sandbox) -> None:
    transport = smtp(sandbox, reconnect_after_messages=7)
    replies: list[Any] = []
    lock = threading.Lock()

    def work(start: int) -> None:
        for i in range(start, start + 25):
            reply = transport.send([message(i)])[0]
            with lock:
                replies.append(reply)

    with transport:
        threads = [threading.Thread(target=work, args=(k * 25,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(transport._idle) <= 4  # one connection per concurrent sender at most
    assert len(replies) == 100 and {r.verdict for r in replies} == {Verdict.ACCEPTED}
    assert len({r.message_id for r in replies}) == 100
    assert sandbox.mailbox.count("smtp") == 100


def test_a_pooled_connection_closed_while_idle_is_replaced_without_a_failure(
    sandbox: Sandbox,
) -> None:
    with smtp(sandbox) as transport:
        assert transport.send([message(0)])[0].verdict is Verdict.ACCEPTED
        (idle,) = transport._idle
        idle.smtp.sock.shutdown(socket.SHUT_RDWR)  # as if the server timed it out
        reply = transport.send([message(1)])[0]
    assert reply.verdict is Verdict.ACCEPTED
    assert sandbox.mailbox.count("smtp") == 2


def test_envelope_injection_is_refused_without_a_transaction(sandbox: Sandbox) -> None:
    with smtp(sandbox) as transport:
        reply = transport.send([message(0, to="a@example.org>\r\nRCPT TO:<b@example.org")])[0]
        assert reply.verdict is Verdict.REJECTED and reply.code == "InvalidEnvelope"
        assert transport.send([message(1)])[0].verdict is Verdict.ACCEPTED
    assert sandbox.mailbox.count() == 1


class _PipeliningRecorder:
    """An aiosmtpd handler that advertises PIPELINING and refuses ``nobody@`` recipients."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return f"250 Ok <pipelined-{len(self.envelopes)}>"


def test_pipelining_servers_get_one_round_trip_and_stay_in_step() -> None:
    from aiosmtpd.controller import Controller

    handler = _PipeliningRecorder()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        target = SmtpTarget(host="127.0.0.1", port=port, tls="none")
        with make_transport("smtp", target, workers=1) as transport:
            replies = transport.send(
                [
                    message(1),
                    message(2, cc=("nobody@example.org",)),
                    message(3, to="nobody@example.org"),
                    message(4),
                ]
            )
    finally:
        controller.stop()
    verdicts = [r.verdict for r in replies]
    assert verdicts == [Verdict.ACCEPTED, Verdict.ACCEPTED, Verdict.REJECTED, Verdict.ACCEPTED]
    assert [r.message_id for r in replies] == ["pipelined-1", "pipelined-2", None, "pipelined-3"]
    assert replies[1].code == PARTIAL_REFUSAL_CODE
    assert [rcpts for _, rcpts, _ in handler.envelopes] == [
        ["user1@example.org"],
        ["user2@example.org"],
        ["user4@example.org"],
    ]
    assert handler.envelopes[0][2] == raw(1, "user1@example.org")  # dot-stuffed, then undone
