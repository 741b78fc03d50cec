"""The sandbox SMTP server, driven by plain smtplib over loopback (no toolkit client code).

Each test starts its own server on an ephemeral 127.0.0.1 port. Policies that throttle use a
frozen clock, so a slow machine cannot turn a throttling test into a pass or a flake.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from toolkit.errors import SandboxError
from toolkit.sandbox.faults import FaultAction, Faults
from toolkit.sandbox.mailbox import Mailbox
from toolkit.sandbox.policy import Policy
from toolkit.sandbox.smtp import SmtpServer, extract_subject
from toolkit.sandbox.tls import SelfSignedCertificate

USER, PASSWORD = "sandbox-user", "sandbox-password"
SENDER = "sender@example.com"
# terraform-provider-aws test vector: secret "some+secret+key" in eu-central-1.
KEY_ID, SECRET, REGION = "AKIAEXAMPLEKEYID", "some+secret+key", "eu-central-1"
DERIVED_PASSWORD = "BMXhUYlu5Z3gSXVQORxlVa7XPaz91aGWdfHxvkOZdWZ2"


def raw_message(
    subject: str = "Hello", body: str = "Hi there.\r\n", to: str = "a@example.org"
) -> bytes:
    return (
        f"From: {SENDER}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


@pytest.fixture(scope="module")
def certificate() -> SelfSignedCertificate:
    return SelfSignedCertificate.generate()


Started = tuple[SmtpServer, Mailbox, Policy]


@pytest.fixture
def make_server(certificate: SelfSignedCertificate) -> Iterator[Callable[..., Started]]:
    """Start a server with the given policy/faults/options; everything is stopped afterwards."""
    started: list[tuple[SmtpServer, Mailbox]] = []

    def make(policy: Policy | None = None, **options: Any) -> Started:
        policy = policy or Policy()
        mailbox = Mailbox()
        options.setdefault("username", USER)
        options.setdefault("password", PASSWORD)
        server = SmtpServer(policy, mailbox, certificate=certificate, **options).start()
        started.append((server, mailbox))
        return server, mailbox, policy

    yield make
    for server, mailbox in started:
        server.stop()
        mailbox.close()


@pytest.fixture
def sandbox(make_server: Callable[..., Started]) -> Started:
    return make_server()


def tls_client(server: SmtpServer, *, login: bool = True) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
    client.starttls(context=server.client_ssl_context())
    if login:
        client.login(USER, PASSWORD)
    return client


@contextmanager
def connected(server: SmtpServer, *, login: bool = True) -> Iterator[smtplib.SMTP]:
    client = tls_client(server, login=login)
    try:
        yield client
    finally:
        try:
            client.quit()
        except (smtplib.SMTPServerDisconnected, OSError):
            client.close()


def send_raw(
    client: smtplib.SMTP, sender: str, recipients: list[str], data: bytes
) -> tuple[int, bytes]:
    """MAIL, RCPT..., DATA by hand, returning the end-of-DATA reply (what SES answers)."""
    code, reply = client.mail(sender)
    assert code == 250, reply
    for rcpt in recipients:
        code, reply = client.rcpt(rcpt)
        assert code == 250, reply
    return client.data(data)


# -- TLS and AUTH ------------------------------------------------------------------------------


def test_starttls_auth_plain_and_send(sandbox: Started) -> None:
    server, mailbox, _ = sandbox
    client = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
    try:
        code, lines = client.ehlo()
        # SES's EHLO: AUTH already advertised before TLS, no SIZE, "Ok" last.
        assert code == 250
        assert lines.split(b"\n")[1:] == [b"8BITMIME", b"STARTTLS", b"AUTH PLAIN LOGIN", b"Ok"]
        client.starttls(context=server.client_ssl_context())
        code, lines = client.ehlo()
        assert lines.split(b"\n")[1:] == [b"8BITMIME", b"AUTH PLAIN LOGIN", b"Ok"]
        client.user, client.password = USER, PASSWORD
        code, reply = client.auth("PLAIN", client.auth_plain)
        assert (code, reply) == (235, b"Authentication successful.")
        assert client.mail(SENDER) == (250, b"Ok")
        client.rset()
        code, reply = send_raw(client, SENDER, ["a@example.org"], raw_message("Plain"))
    finally:
        client.quit()
    assert code == 250
    text = reply.decode()
    assert text.startswith("Ok 0100") and text.endswith("-000000")
    message_id = text.split()[1]
    stored = mailbox.message(message_id)
    assert stored is not None
    assert stored["interface"] == "smtp"
    assert stored["sender"] == SENDER
    assert stored["recipients"] == ["a@example.org"]
    assert stored["subject"] == "Plain"
    assert stored["content"] == raw_message("Plain")
    assert stored["size"] == len(raw_message("Plain"))


def test_auth_login(sandbox: Started) -> None:
    server, mailbox, _ = sandbox
    with connected(server, login=False) as client:
        client.ehlo()
        client.user, client.password = USER, PASSWORD
        code, _ = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
        assert code == 235
        client.sendmail(SENDER, ["a@example.org"], raw_message())
    assert mailbox.count() == 1


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize(("user", "password"), [(USER, "wrong"), ("nobody", PASSWORD)])
def test_bad_credentials_are_535(
    sandbox: Started, mechanism: str, user: str, password: str
) -> None:
    server, _, _ = sandbox
    with connected(server, login=False) as client:
        client.ehlo()
        client.user, client.password = user, password
        method = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            client.auth(mechanism, method, initial_response_ok=mechanism == "PLAIN")
        assert info.value.smtp_code == 535
        assert info.value.smtp_error == b"Authentication Credentials Invalid"
        # The connection stays usable: log in properly now.
        client.user, client.password = USER, PASSWORD
        assert client.auth("PLAIN", client.auth_plain)[0] == 235


def test_auth_without_tls_is_refused(sandbox: Started) -> None:
    server, _, _ = sandbox
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login(USER, PASSWORD)  # AUTH is advertised, as SES does, but needs TLS
        assert refused.value.smtp_code == 530
        code, reply = client.docmd("AUTH", "PLAIN " + "AHNhbmRib3gtdXNlcgBzYW5kYm94LXBhc3N3b3Jk")
        assert (code, reply) == (530, b"Must issue a STARTTLS command first")
        code, reply = client.mail(SENDER)
        assert code == 530 and b"STARTTLS" in reply


def test_mail_before_auth_is_530(sandbox: Started) -> None:
    server, mailbox, _ = sandbox
    with connected(server, login=False) as client:
        client.ehlo()
        assert client.mail(SENDER) == (530, b"Authentication required")
        assert client.rcpt("a@example.org")[0] == 530
        assert client.docmd("DATA")[0] == 530
    assert mailbox.count() == 0


def test_ses_derived_password_is_accepted(make_server: Callable[..., Started]) -> None:
    server, mailbox, _ = make_server(access_key_id=KEY_ID, secret_access_key=SECRET, region=REGION)
    with connected(server, login=False) as client, pytest.raises(smtplib.SMTPAuthenticationError):
        client.login(KEY_ID, SECRET)  # the secret key itself is not the SMTP password
    with connected(server, login=False) as client:
        client.login(KEY_ID, DERIVED_PASSWORD)
        client.sendmail(SENDER, ["a@example.org"], raw_message())
    with connected(server) as client:  # the sandbox's own pair still works
        client.sendmail(SENDER, ["a@example.org"], raw_message())
    assert mailbox.count() == 2


def test_implicit_tls_listener(make_server: Callable[..., Started]) -> None:
    server, mailbox, _ = make_server(tls_port=0)
    assert server.tls_port is not None and server.tls_port != server.port
    with smtplib.SMTP_SSL(
        "localhost", server.tls_port, context=server.client_ssl_context(), timeout=10
    ) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert client.mail(SENDER)[0] == 530
        client.rset()
        client.login(USER, PASSWORD)
        client.sendmail(SENDER, ["a@example.org"], raw_message())
    assert mailbox.count() == 1


def test_certificate_verifies_for_localhost_and_ip(sandbox: Started) -> None:
    server, _, _ = sandbox
    for host in ("localhost", "127.0.0.1"):
        with smtplib.SMTP(host, server.port, timeout=10) as client:
            client.starttls(context=server.client_ssl_context())  # verifies name and chain
            client.noop()
    other = SelfSignedCertificate.generate().client_context()
    with (
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        client.starttls(context=other)


# -- SES rules ---------------------------------------------------------------------------------


def test_unverified_sender_is_554(sandbox: Started) -> None:
    server, mailbox, _ = sandbox
    with connected(server) as client:
        code, reply = send_raw(client, "someone@unverified.test", ["a@example.org"], raw_message())
    assert code == 554
    assert reply.decode() == (
        "Message rejected: Email address is not verified. The following identities failed the "
        "check in region US-EAST-1: someone@unverified.test"
    )
    assert mailbox.count() == 0


def test_sandbox_account_only_verified_or_simulator_recipients(
    make_server: Callable[..., Started],
) -> None:
    policy = Policy(sandbox_account=True, identities=["sender@example.com", "friend@example.net"])
    server, mailbox, _ = make_server(policy)
    with connected(server) as client:
        code, reply = send_raw(
            client, SENDER, ["friend@example.net", "stranger@example.org"], raw_message()
        )
        assert code == 554
        assert reply.endswith(b"check in region US-EAST-1: stranger@example.org")
        code, _ = send_raw(
            client,
            SENDER,
            ["friend@example.net", "success@simulator.amazonses.com"],
            raw_message(),
        )
        assert code == 250
    assert mailbox.count() == 1


def test_more_than_50_recipients_are_refused_whole_at_the_end_of_data(sandbox: Started) -> None:
    """As SES: every RCPT gets 250, the message gets 554 after DATA and nobody receives it, so
    a client cannot report the first 50 as a success (issue 16)."""
    server, mailbox, _ = sandbox
    recipients = [f"r{i}@example.org" for i in range(52)]
    with connected(server) as client:
        client.mail(SENDER)
        assert {client.rcpt(r) for r in recipients} == {(250, b"Ok")}
        assert client.data(raw_message()) == (
            554,
            b"Transaction failed: Recipient count exceeds 50.",
        )
        with pytest.raises(smtplib.SMTPDataError):  # what smtplib.sendmail raises
            client.sendmail(SENDER, recipients, raw_message())
        assert client.sendmail(SENDER, recipients[:50], raw_message()) == {}  # 50 is fine
    assert mailbox.messages()["n_recipients"].tolist() == [50]


def test_oversized_message_is_552_and_connection_survives(
    make_server: Callable[..., Started],
) -> None:
    server, mailbox, _ = make_server(max_message_bytes=100_000)
    big = raw_message(body="x" * 998 + "\r\n") * 0 + raw_message(body=("y" * 998 + "\r\n") * 120)
    with connected(server) as client:
        assert "size" not in client.esmtp_features  # SES advertises none
        code, reply = send_raw(client, SENDER, ["a@example.org"], big)
        assert (code, reply) == (552, b"Message is too long.")
        # An announced SIZE over the limit is refused at MAIL, before any data is sent.
        assert client.mail(SENDER, ["SIZE=200000"]) == (552, b"Message is too long.")
        client.rset()
        client.sendmail(SENDER, ["a@example.org"], raw_message())
    assert mailbox.count() == 1


def test_rate_throttling_is_454(make_server: Callable[..., Started]) -> None:
    policy = Policy(max_send_rate=2, clock=lambda: 1000.0)  # frozen: the second never ends
    server, mailbox, _ = make_server(policy)
    with connected(server) as client:
        assert send_raw(client, SENDER, ["a@example.org", "b@example.org"], raw_message())[0] == 250
        code, reply = send_raw(client, SENDER, ["c@example.org"], raw_message())
    assert (code, reply) == (454, b"Throttling failure: Maximum sending rate exceeded.")
    assert mailbox.count() == 1


def test_daily_quota_is_454(make_server: Callable[..., Started]) -> None:
    policy = Policy(max_24_hour_send=2, clock=lambda: 1000.0)
    server, mailbox, _ = make_server(policy)
    with connected(server) as client:
        assert send_raw(client, SENDER, ["a@example.org", "b@example.org"], raw_message())[0] == 250
        # Simulator recipients do not count against the daily quota.
        simulator = ["success@simulator.amazonses.com"]
        assert send_raw(client, SENDER, simulator, raw_message())[0] == 250
        code, reply = send_raw(client, SENDER, ["c@example.org"], raw_message())
    assert (code, reply) == (454, b"Throttling failure: Daily message quota exceeded.")
    assert mailbox.count() == 2


def test_simulator_addresses_produce_events(sandbox: Started) -> None:
    server, mailbox, _ = sandbox
    recipients = [
        f"{name}@simulator.amazonses.com"
        for name in ("success", "bounce", "ooto", "complaint", "suppressionlist")
    ] + ["bounce+label7@simulator.amazonses.com"]
    with connected(server) as client:
        client.sendmail(SENDER, recipients, raw_message())
    events = mailbox.events()
    kinds = {(r, e) for r, e in zip(events["recipient"], events["event"], strict=True)}
    assert ("success@simulator.amazonses.com", "delivery") in kinds
    assert ("bounce@simulator.amazonses.com", "bounce") in kinds
    assert ("bounce+label7@simulator.amazonses.com", "bounce") in kinds
    assert ("ooto@simulator.amazonses.com", "auto-reply") in kinds
    assert ("complaint@simulator.amazonses.com", "complaint") in kinds
    assert ("suppressionlist@simulator.amazonses.com", "bounce") in kinds


# -- injected faults ---------------------------------------------------------------------------


def test_injected_error_is_451(make_server: Callable[..., Started]) -> None:
    server, mailbox, _ = make_server(faults=Faults(error_rate=1.0, seed=1))
    with connected(server) as client:
        assert send_raw(client, SENDER, ["a@example.org"], raw_message()) == (
            451,
            b"Temporary service failure",
        )
    assert mailbox.count() == 0


def test_injected_throttle_is_454(make_server: Callable[..., Started]) -> None:
    server, mailbox, _ = make_server(faults=Faults(throttle_rate=1.0, seed=1))
    with connected(server) as client:
        code, reply = send_raw(client, SENDER, ["a@example.org"], raw_message())
    assert code == 454 and reply.startswith(b"Throttling failure")
    assert mailbox.count() == 0


def test_injected_drop_closes_without_storing(make_server: Callable[..., Started]) -> None:
    server, mailbox, _ = make_server(faults=Faults(drop_rate=1.0, seed=1))
    client = tls_client(server)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.sendmail(SENDER, ["a@example.org"], raw_message())
    client.close()
    assert mailbox.count() == 0


def test_seeded_fault_mix_is_reproducible(make_server: Callable[..., Started]) -> None:
    seed, rates = 7, {"error_rate": 0.25, "drop_rate": 0.15, "throttle_rate": 0.1}
    server, mailbox, _ = make_server(faults=Faults(seed=seed, **rates))
    reference = Faults(seed=seed, **rates)
    expected_codes = {
        FaultAction.NONE: 250,
        FaultAction.ERROR: 451,
        FaultAction.THROTTLE: 454,
        FaultAction.DROP: None,
    }
    client = tls_client(server)
    accepted = 0
    for i in range(40):
        expected = expected_codes[reference.draw()]
        try:
            code, _ = send_raw(client, SENDER, [f"r{i}@example.org"], raw_message())
        except smtplib.SMTPServerDisconnected:
            code = None
            client.close()
            client = tls_client(server)
        assert code == expected, f"message {i}"
        accepted += code == 250
    client.quit()
    assert 0 < accepted < 40
    assert mailbox.count() == accepted


def test_injected_latency(make_server: Callable[..., Started]) -> None:
    server, _, _ = make_server(faults=Faults(latency_ms=150))
    with connected(server) as client:
        started = time.perf_counter()
        assert send_raw(client, SENDER, ["a@example.org"], raw_message())[0] == 250
        assert time.perf_counter() - started >= 0.14


def test_injected_latency_is_paid_by_every_command(make_server: Callable[..., Started]) -> None:
    """A network's delay: MAIL, RCPT, DATA and the body each wait one latency (SES offers no
    PIPELINING); commands written together arrive together. Fails on the old sandbox, which
    added the latency once, before the end-of-DATA reply."""
    server, _, _ = make_server(faults=Faults(latency_ms=100))
    with connected(server) as client:
        started = time.perf_counter()
        assert client.noop()[0] == 250
        assert time.perf_counter() - started >= 0.095  # one command, one latency
        started = time.perf_counter()
        assert send_raw(client, SENDER, ["a@example.org", "b@example.org"], raw_message())[0] == 250
        assert time.perf_counter() - started >= 0.49  # MAIL, RCPT, RCPT, DATA, body: 5
        started = time.perf_counter()
        client.send(b"NOOP\r\nNOOP\r\n")  # pipelined: one latency for both
        assert client.getreply()[0] == 250 and client.getreply()[0] == 250
        assert time.perf_counter() - started < 0.19


# -- bad input ---------------------------------------------------------------------------------


def test_garbage_commands_get_errors_and_server_keeps_serving(sandbox: Started) -> None:
    server, mailbox, _ = sandbox
    with connected(server) as client:
        assert client.docmd("FROBNICATE")[0] == 500
        client.send(b"\xff\xfe\x00 binary junk\r\n")
        assert client.getreply()[0] == 500
        client.send(b"MAIL FROM:<" + b"a" * 2000 + b"@example.com>\r\n")
        assert client.getreply()[0] == 500
        assert client.docmd("MAIL", "FROM:<@@>") == (501, b"Invalid MAIL FROM address provided")
        assert client.docmd("RCPT", "TO:<a@example.org>")[0] == 503  # no MAIL yet
        client.sendmail(SENDER, ["a@example.org"], raw_message())  # still usable
    with connected(server) as client:
        for _ in range(4):
            assert client.docmd("XYZZY")[0] == 500
        assert client.docmd("XYZZY")[0] == 502  # too many unknown commands: goodbye
        with pytest.raises((smtplib.SMTPServerDisconnected, OSError)):
            client.noop()
    with connected(server) as client:
        client.sendmail(SENDER, ["b@example.org"], raw_message())
    assert mailbox.count() == 2


def test_client_vanishing_mid_data_stores_nothing_and_loses_nothing(sandbox: Started) -> None:
    server, mailbox, _ = sandbox
    with connected(server) as client:
        client.sendmail(SENDER, ["before@example.org"], raw_message("before"))
    client = tls_client(server)
    client.mail(SENDER)
    client.rcpt("a@example.org")
    assert client.docmd("DATA")[0] == 354
    client.send(b"Subject: half\r\n\r\nsome of the body\r\n")
    client.close()  # gone, without the final dot
    with connected(server) as client:
        client.sendmail(SENDER, ["after@example.org"], raw_message("after"))
    assert mailbox.messages()["subject"].tolist() == ["before", "after"]


def test_stalled_tls_handshake_is_closed(make_server: Callable[..., Started]) -> None:
    server, mailbox, _ = make_server(timeout=0.5, tls_port=0)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        raw.makefile("rb") as stream,
    ):
        assert stream.readline().startswith(b"220")
        raw.sendall(b"EHLO stalled\r\n")
        while not stream.readline().startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\n")
        assert stream.readline().startswith(b"220")
        # ...and never start the handshake. Meanwhile others are served:
        with connected(server) as client:
            client.sendmail(SENDER, ["a@example.org"], raw_message())
        started = time.perf_counter()
        assert raw.recv(1024) == b""  # the server hung up
        assert time.perf_counter() - started < 5
    with socket.create_connection(("127.0.0.1", server.tls_port), timeout=10) as raw:
        started = time.perf_counter()
        assert raw.recv(1024) == b""  # SMTPS: no ClientHello, closed after the timeout
        assert time.perf_counter() - started < 5
    assert mailbox.count() == 1


def test_idle_connection_is_closed(make_server: Callable[..., Started]) -> None:
    server, _, _ = make_server(timeout=0.3)
    client = tls_client(server)
    try:
        time.sleep(0.6)
        # SES says why before it hangs up; the reply is read with the next command.
        assert client.mail(SENDER) == (451, b"4.4.2 Timeout waiting for data from client.")
        with pytest.raises((smtplib.SMTPServerDisconnected, OSError)):
            client.noop()
    finally:
        client.close()


# -- lifecycle and helpers ---------------------------------------------------------------------


def test_start_stop_lifecycle(certificate: SelfSignedCertificate) -> None:
    mailbox = Mailbox()
    server = SmtpServer(
        Policy(), mailbox, username=USER, password=PASSWORD, certificate=certificate
    )
    assert not server.running
    with server:
        assert server.running and server.port
        assert PASSWORD not in repr(server)
        taken = server.port
        clash = SmtpServer(
            Policy(), mailbox, username=USER, password=PASSWORD, port=taken, certificate=certificate
        )
        with pytest.raises(SandboxError):
            clash.start()
    assert not server.running
    server.stop()  # idempotent
    with server, connected(server) as client:  # and it can start again
        client.sendmail(SENDER, ["a@example.org"], raw_message())
    assert mailbox.count() == 1
    mailbox.close()


def test_constructor_rejects_half_an_access_key() -> None:
    with pytest.raises(ValueError):
        SmtpServer(Policy(), Mailbox(), username=USER, password=PASSWORD, access_key_id=KEY_ID)


@pytest.mark.parametrize(
    ("raw", "subject"),
    [
        (b"From: a@b.c\r\nSubject: Plain text\r\n\r\nbody", "Plain text"),
        (b"subject:   lower case  \r\n\r\n", "lower case"),
        (b"Subject: =?utf-8?q?h=C3=A9llo?= world\r\n\r\n", "héllo world"),
        (b"Subject: folded\r\n  across lines\r\nX: y\r\n\r\n", "folded  across lines"),
        (b"From: a@b.c\r\n\r\nSubject: in the body\r\n", None),
        (b"Subject: =?bogus-charset?q?x?=\r\n\r\n", "=?bogus-charset?q?x?="),
    ],
)
def test_extract_subject(raw: bytes, subject: str | None) -> None:
    assert extract_subject(raw) == subject


def test_stop_with_open_connections(make_server: Callable[..., Started]) -> None:
    server, mailbox, _ = make_server()
    idle = tls_client(server)
    plain = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
    server.stop()
    for client in (idle, plain):
        with pytest.raises((smtplib.SMTPServerDisconnected, OSError)):
            client.noop()
        client.close()
    assert mailbox.count() == 0


def test_mailbox_failure_is_a_retryable_451(make_server: Callable[..., Started]) -> None:
    server, mailbox, _ = make_server()
    mailbox.close()  # every add() now raises
    with connected(server) as client:
        assert send_raw(client, SENDER, ["a@example.org"], raw_message()) == (
            451,
            b"Temporary service failure",
        )
        assert client.noop()[0] == 250  # the connection survives, ready for a new MAIL
        assert client.mail(SENDER)[0] == 250


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\r\n",
        b"one line\r\n",
        b".\r\n..\r\n.x\r\n",
        b"a\r\n\r\n.\r\n\r\nb\r\n",
        b"no final line end",
        b"x" * 5000 + b"\r\n" + b"y" * 70_000 + b"\r\n",  # lines beyond the reader's buffer
    ],
)
def test_data_content_round_trips(sandbox: Started, body: bytes) -> None:
    """smtplib dot-stuffs and terminates the data; the server must store it unchanged."""
    server, mailbox, _ = sandbox
    data = b"Subject: framing\r\n\r\n" + body  # SES wants a header block first
    with connected(server) as client:
        code, reply = send_raw(client, SENDER, ["a@example.org"], data)
    assert code == 250
    stored = mailbox.message(reply.decode().split()[1])
    assert stored is not None
    expected = data if data.endswith(b"\r\n") else data + b"\r\n"  # smtplib adds CRLF
    assert stored["content"] == expected


@pytest.mark.parametrize("cut", range(1, 8))
def test_terminator_split_across_reads(sandbox: Started, cut: int) -> None:
    """The end-of-data mark arriving in two pieces (two TLS records) is still recognised."""
    server, mailbox, _ = sandbox
    with connected(server) as client:
        client.mail(SENDER)
        client.rcpt("a@example.org")
        assert client.docmd("DATA")[0] == 354
        wire = b"Subject: split\r\n\r\nx\r\n.\r\n"
        point = len(wire) - cut
        client.send(wire[:point])
        time.sleep(0.02)
        client.send(wire[point:])
        code, _ = client.getreply()
        assert code == 250
        assert client.noop()[0] == 250  # nothing after the mark was swallowed
    assert mailbox.messages()["subject"].tolist() == ["split"]


def test_empty_message_terminator_alone(sandbox: Started) -> None:
    server, mailbox, _ = sandbox
    with connected(server) as client:
        client.mail(SENDER)
        client.rcpt("a@example.org")
        assert client.docmd("DATA")[0] == 354
        client.send(b".\r\n")
        assert client.getreply()[0] == 250
        assert client.noop()[0] == 250
    assert mailbox.count() == 1


def test_certificate_kept_in_state_dir(tmp_path: Any) -> None:
    first = SelfSignedCertificate.load_or_create(tmp_path)
    again = SelfSignedCertificate.load_or_create(tmp_path)
    assert again == first
    key_file = next(p for p in tmp_path.iterdir() if "key" in p.name)
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in repr(first)
    key_file.write_bytes(SelfSignedCertificate.generate().key_pem)  # a key of another pair
    replaced = SelfSignedCertificate.load_or_create(tmp_path)
    assert replaced != first
    replaced.server_context()  # loads: the pair matches


def test_load_benchmark_runs_bounded() -> None:
    """benchmarks/sandbox_smtp_load.py stays runnable (tiny N; the numbers are not checked)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "sandbox_smtp_load.py"
    done = subprocess.run(
        [sys.executable, str(script), "-n", "200", "-c", "2", "--in-process", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["stored"] == result["messages"] == 200 and result["errors"] == 0


def test_info_names_a_cafile_that_verifies_starttls(tmp_path: Any) -> None:
    from toolkit.sandbox import Sandbox

    with Sandbox(state_dir=tmp_path) as box:
        info = box.info()
        context = ssl.create_default_context(cafile=info["smtp_cafile"])
        with smtplib.SMTP(info["smtp_host"], info["smtp_port"], timeout=10) as smtp:
            smtp.starttls(context=context)
            smtp.login(info["smtp_username"], info["smtp_password"])
    with Sandbox() as box:  # no state dir: the certificate lives in memory only
        assert box.info()["smtp_cafile"] is None


def test_untrusted_certificate_is_logged_without_error(
    sandbox: Started, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="toolkit.sandbox.smtp")
    server = sandbox[0]
    with (
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        smtp.starttls(context=ssl.create_default_context())  # does not trust our CA
    deadline = time.monotonic() + 5
    while "STARTTLS handshake failed" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "STARTTLS handshake failed" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("option", ["api_port", "smtp_port"])
def test_a_port_in_use_is_a_sandbox_error(option: str) -> None:
    from toolkit.sandbox import Sandbox

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SandboxError, match="could not start"):
            Sandbox(**{option: taken.getsockname()[1]}).start()
