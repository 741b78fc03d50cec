"""SMTP: pre-rendered MIME bytes over a pool of persistent, authenticated TLS connections.

Each worker thread checks a connection out of the pool for one message and puts it back, so
there are at most as many connections as threads sending at once, and none is shared. A
connection is opened with STARTTLS (or implicit TLS) and AUTH, reused for many messages, and
replaced after ``reconnect_after_messages`` messages or ``reconnect_after_seconds`` seconds (SES
recycles the instances behind its SMTP endpoint), after a 421 reply, and after any disconnect.

The pool follows the pace. The engine runs as many threads as the rate needs at the measured
time per message (:mod:`toolkit.delivery.concurrency`; without PIPELINING, which SES's
endpoint does not offer, every command costs a round trip: 4 per message). A thread opens a
connection in :meth:`SmtpTransport.ready`, before the engine's pacer admits its message (so
connecting does not eat into the pace), when it finds none idle; a connection left idle for
:data:`IDLE_CLOSE_S` (half SES's idle timeout) is closed with QUIT when the pool shrinks,
instead of being found dead later.

One message is one SMTP transaction with the *full* envelope (To, Cc and Bcc; AWS's own smtplib
sample forgets Cc/Bcc): ``MAIL FROM``, one ``RCPT TO`` per recipient, ``DATA``, the bytes of
``Message.raw``, and the final reply, whose ``250 Ok <id>`` gives the message id (smtplib's
``sendmail`` discards that reply, so the transaction is driven with its low-level calls).

It runs in two phases (:meth:`SmtpTransport.prepare`, then
:meth:`PreparedTransaction.commit`), because the server counts a message against the rate
only at the end of DATA (``SES_SMTP_COUNTS_AT_END_OF_DATA``): the engine prepares the
transaction up to ``354`` *before* its pacer admits the message, and only the content, the
final ``.`` and the verdict run inside the pacer's reservation. The reservation then spans
the one round trip in which the server counts, as a SendEmail call does, so the pacer may
take the same latency credit; paced around the whole transaction, each of the rate's slots
was held for four round trips (``rate / (1 + 4 × latency)``: 0.56 of it 150 ms away). A
refusal at MAIL or RCPT ends the message without taking a slot. A prepared transaction waits
at most :data:`PREPARED_HOLD_S` (SES's idle timeout, which runs after ``354`` too, is twice
that); past it, or when the run stops, :meth:`PreparedTransaction.abandon` closes the
connection without the final ``.``, which voids the transaction: nothing is delivered, and
the message is sent again later. :meth:`SmtpTransport.send` runs both phases back to back.

What a failure means for the message:

* refused at ``MAIL``/``RCPT``/``DATA`` (before the body): the server's reply, classified
  (:meth:`~SmtpTransport.prepare` returns it as ``replies``);
  a disconnect or timeout here is ``TRANSIENT`` (nothing was committed) and the connection is
  replaced;
* some recipients refused, the rest accepted: ``ACCEPTED`` with code ``PartialRefusal``
  (resending would duplicate it for the accepted ones); all refused: the refusal's verdict;
* a disconnect or timeout once the body is being written: ``UNKNOWN`` — the server may have
  queued it before the connection broke;
* 530/535 (authentication), an unverified sender, or a server that did not answer within
  ``SmtpTarget.timeout`` ``max_timeouts_in_row`` times in a row:
  :class:`~toolkit.errors.ProviderConfigurationError` (the run stops; unsent rows stay pending).

Why one module of this size: the connection pool, the transaction state machine (pipelined or
not, prepared or committed) and what each failure point means for the message are one
protocol sharing one connection object and its state (pooled, waiting after ``354``,
reusable); split apart, "was the body written when this broke?" would be answered in two
places.

Usage::

    target = SmtpTarget("email-smtp.eu-west-1.amazonaws.com", username=..., password=...)
    with SmtpTransport(target) as transport:
        replies = transport.send(messages)   # messages[i].raw is set by compose (RAW mode)
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

from toolkit.compose.message import ContentMode, Message
from toolkit.errors import ProviderConfigurationError
from toolkit.facts import SES_MAX_MESSAGE_BYTES, SES_SMTP_IDLE_TIMEOUT
from toolkit.results import Reply, Verdict
from toolkit.targets import SmtpTarget
from toolkit.transports.base import BaseTransport
from toolkit.transports.classify import (
    UNVERIFIED_SENDER_CODE,
    Classified,
    classify_smtp_reply,
    unverified_sender,
)

__all__ = [
    "IDLE_CLOSE_S",
    "PARTIAL_REFUSAL_CODE",
    "PREPARED_HOLD_S",
    "STALLED_CODE",
    "PreparedTransaction",
    "SmtpTransport",
    "dot_stuff",
    "parse_message_id",
]

PARTIAL_REFUSAL_CODE = "PartialRefusal"
STALLED_CODE = "SMTPTimeout"
IDLE_CLOSE_S = SES_SMTP_IDLE_TIMEOUT.value / 2
"""Seconds an idle pooled connection is kept: SES closes one after ~10 s of silence."""
PREPARED_HOLD_S = SES_SMTP_IDLE_TIMEOUT.value / 2
"""Seconds a transaction prepared up to ``354`` may wait for the pacer: SES's idle timeout
runs in the DATA state too (``SES_SMTP_IDLE_IN_DATA``), and half of it leaves room for a slow
network and a slow client."""
_OVERDUE_S = 0.8 * SES_SMTP_IDLE_TIMEOUT.value
"""A prepared transaction committed later than this is abandoned instead: the server may
have timed it out, and its ``451`` would then be read as the verdict on content it never took."""

_DOT_LINE = re.compile(rb"(?m)^\.")
_BARE_EOL = re.compile(rb"\r\n|\r|\n")
_CRLF = b"\r\n"
_END = b".\r\n"


def dot_stuff(raw: bytes) -> bytes:
    """``raw`` as DATA content: CRLF line ends, leading dots doubled, ending in ``CRLF.CRLF``."""
    crlf = raw.count(_CRLF)
    if raw.count(b"\n") != crlf or raw.count(b"\r") != crlf:
        raw = _BARE_EOL.sub(_CRLF, raw)
    if raw.startswith(b".") or b"\n." in raw:
        raw = _DOT_LINE.sub(b"..", raw)
    if not raw.endswith(_CRLF):
        raw += _CRLF
    return raw + _END


def parse_message_id(reply: str) -> str:
    """The id in SES's ``250 Ok <id>`` (``Ok`` dropped, brackets stripped), else the text."""
    parts = reply.split()
    if len(parts) >= 2 and parts[0].lower() == "ok":
        return parts[1].strip("<>")
    return reply.strip()


def _render(msg: Message) -> bytes:
    """Fallback when compose did not fill ``raw`` (it should for ContentMode.RAW)."""
    email = EmailMessage(policy=SMTP_POLICY)
    email["From"] = msg.sender
    if msg.to:
        email["To"] = ", ".join(msg.to)
    if msg.cc:
        email["Cc"] = ", ".join(msg.cc)
    if msg.reply_to:
        email["Reply-To"] = ", ".join(msg.reply_to)
    email["Subject"] = msg.subject
    for name, value in msg.headers:
        email[name] = value
    email.set_content(msg.text or "")
    if msg.html is not None:
        email.add_alternative(msg.html, subtype="html")
    for attachment in msg.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return email.as_bytes()


class _ConnectFailed(Exception):
    """Opening a connection failed before any message was written."""

    def __init__(self, classified: Classified) -> None:
        super().__init__(classified.message)
        self.classified = classified


class _StaleConnection(Exception):
    """A reused connection was found closed before the server answered MAIL."""


@dataclass(frozen=True, slots=True)
class _Begun:
    """A transaction answered ``354``: what is left to send, and what the envelope got."""

    content: bytes  # dot-stuffed, ending in CRLF.CRLF
    refused: list[tuple[str, int, str]]  # recipients refused at RCPT (the rest accepted)
    sender: str
    ready_at: float  # time.monotonic() when 354 came


class _Connection:
    __slots__ = ("idle_since", "opened_at", "pooled", "sent", "smtp")

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp
        self.opened_at = self.idle_since = time.monotonic()
        self.sent = 0
        self.pooled = False  # True once it has waited in the pool (the server may have closed it)


class PreparedTransaction:
    """One message's SMTP transaction after :meth:`SmtpTransport.prepare`; one thread uses it.

    Either answered already (``replies`` is set: a refusal at MAIL, RCPT or DATA, a lost
    connection; nothing was committed, and :meth:`commit` returns them), or waiting on its own
    connection for the content, for at most :attr:`hold_s` seconds.
    """

    hold_s: float = PREPARED_HOLD_S

    __slots__ = ("_begun", "_conn", "_owner", "_started", "replies")

    def __init__(
        self,
        owner: SmtpTransport,
        started: float,
        replies: list[Reply] | None,
        conn: _Connection | None = None,
        begun: _Begun | None = None,
    ) -> None:
        self._owner = owner
        self._started = started
        self.replies = replies
        self._conn = conn
        self._begun = begun

    def commit(self) -> list[Reply]:
        """Send the content and the final ``.``; the reply (the server counts the message
        now). Once only."""
        if self.replies is not None:
            return self.replies
        conn, begun, self._conn = self._conn, self._begun, None
        if conn is None or begun is None:
            raise RuntimeError("this SMTP transaction was committed or abandoned already")
        if time.monotonic() - begun.ready_at > _OVERDUE_S:
            self._owner._drop(conn)
            return [
                Reply(
                    Verdict.TRANSIENT,
                    self._started,
                    time.time(),
                    code="SMTPDataTimeout",
                    message="the transaction waited too long after DATA and was abandoned "
                    "before its content was sent (nothing was delivered)",
                )
            ]
        return [self._owner._commit(conn, begun, self._started)]

    def abandon(self) -> None:
        """Close the connection without the content or the final ``.``: the transaction is
        void (RFC 5321 acts on mail data only at its end), so nothing is delivered. Safe to
        call more than once, and after :meth:`commit` (then it does nothing)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._owner._drop(conn)


class SmtpTransport(BaseTransport):
    """A pool of persistent SMTP connections, one per concurrently sending thread.

    Args:
        target: where to connect and how to log in.
    """

    name = "smtp"
    max_batch = 1
    content_mode = ContentMode.RAW
    max_message_bytes = SES_MAX_MESSAGE_BYTES.value

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target
        self._context = target.ssl_context()
        # EHLO name: resolved once (smtplib's default, getfqdn, may wait on DNS per connect).
        self._local_hostname = target.local_hostname or socket.gethostname() or "localhost"
        self._lock = threading.Lock()
        self._idle: list[_Connection] = []
        self._claims = 0  # idle connections promised by ready() to a thread about to send
        self._closed = False
        self._timeouts_in_row = 0  # replies that never came, across threads; reset by any reply
        self._round_trip: float | None = None  # the shortest EHLO round trip seen
        self._pipelining = False

    @classmethod
    def from_target(cls, target: SmtpTarget, *, workers: int = 1) -> SmtpTransport:
        """A pool for ``target``; it opens one connection per sending thread, on demand."""
        return cls(target)

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        """Connect and log in once, so a wrong host or password stops the run up front.

        Raises ProviderConfigurationError when the server cannot be reached or refuses the login.
        """
        self._closed = False
        try:
            conn = self._connect()
        except _ConnectFailed as failed:
            c = failed.classified
            raise ProviderConfigurationError(
                c.code,
                f"cannot connect to {self.target.host}:{self.target.port}: {c.message}",
                self.name,
            ) from failed
        self._checkin(conn)

    def close(self) -> None:
        """Say QUIT on every idle connection; busy ones are closed when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        self._quit_all(idle)

    @property
    def expected_answer_s(self) -> float | None:
        """Seconds one message is expected to take, from the shortest EHLO round trip seen
        while connecting: four round trips without PIPELINING (MAIL, RCPT, DATA, the
        content), two with it. None before a connection was opened. The engine sizes its
        first workers by it, before any message has been answered (at 150 ms it would
        otherwise start with a few threads and reach the pace only seconds later)."""
        rtt = self._round_trip
        if rtt is None:
            return None
        return rtt * (2 if self._pipelining else 4)

    # -- sending -----------------------------------------------------------------------------

    def ready(self) -> None:
        """Make sure a connection waits for this thread's next message (the engine calls
        this before its pacer admits it): claim an idle one, or open one now. Connecting
        costs several round trips (EHLO, STARTTLS, EHLO, AUTH) that must not count against
        the pace, and threads starting together each open their own, in parallel, instead
        of all relying on one idle connection. Best effort: a failure is left for
        :meth:`prepare` to report."""
        if self._closed:
            return
        with self._lock:
            if self._claims < len(self._idle):
                self._claims += 1
                return
        try:
            conn = self._connect()
        except (_ConnectFailed, ProviderConfigurationError):
            return
        with self._lock:
            self._claims += 1
        self._checkin(conn)

    def send(self, batch: Sequence[Message]) -> list[Reply]:
        """One SMTP transaction per message, in order; see the module docstring for errors."""
        replies: list[Reply] = []
        for msg in batch:
            replies.extend(self.prepare(msg).commit())
        return replies

    def prepare(self, message: Message) -> PreparedTransaction:
        """Run ``message``'s transaction up to DATA's ``354`` (MAIL, RCPT, DATA: the round trips
        the server does not count against the rate), on a pooled connection.

        The result's ``replies`` is set when the server already answered (a refusal, a lost
        connection: nothing was committed); otherwise its :meth:`~PreparedTransaction.commit`
        sends the content and the final ``.`` and returns the reply, and its
        :meth:`~PreparedTransaction.abandon` closes the connection without them.
        """
        self._check_stalled()
        started = time.time()
        for _ in range(3):
            try:
                conn = self._checkout()
            except _ConnectFailed as failed:
                self._observe(timed_out=_timed_out(failed))
                return PreparedTransaction(
                    self, started, [failed.classified.reply(started, time.time())]
                )
            try:
                begun = self._begin(conn, message, started)
            except _StaleConnection:
                # The server closed this idle pooled connection before it read our MAIL
                # command: nothing was committed, so try again on a fresh connection.
                self._drop(conn)
                continue
            except BaseException:
                self._drop(conn)
                raise
            if isinstance(begun, _Begun):
                return PreparedTransaction(self, started, None, conn, begun)
            self._release(conn, *begun)
            return PreparedTransaction(self, started, [begun[0]])
        return PreparedTransaction(
            self,
            started,
            [
                Reply(
                    Verdict.TRANSIENT,
                    started,
                    time.time(),
                    code="SMTPServerDisconnected",
                    message="every pooled connection was closed by the server",
                )
            ],
        )

    def _release(self, conn: _Connection, reply: Reply, reusable: bool) -> None:
        """A transaction on ``conn`` is over: back to the pool, or closed."""
        del reply
        if reusable:
            self._observe(timed_out=False)  # the server answered the whole transaction
            conn.sent += 1
            self._checkin(conn)
        else:
            self._drop(conn)

    def _begin(
        self, conn: _Connection, msg: Message, started: float
    ) -> _Begun | tuple[Reply, bool]:
        """MAIL, RCPT and DATA: ``_Begun`` after ``354``, else the reply and whether the
        connection is still good."""
        smtp = conn.smtp
        sender = msg.envelope_sender
        recipients = msg.recipients
        envelope = sender + "".join(recipients)
        if "\n" in envelope or "\r" in envelope or ">" in envelope:
            # Compose validates addresses; this keeps a bad one from injecting SMTP commands.
            now = time.time()
            return Reply(
                Verdict.REJECTED,
                started,
                now,
                code="InvalidEnvelope",
                message="an envelope address contains CR, LF or '>'",
            ), True
        utf8 = not envelope.isascii()
        if utf8 and not smtp.has_extn("smtputf8"):
            now = time.time()
            return Reply(
                Verdict.REJECTED,
                started,
                now,
                code="SMTPUTF8Unsupported",
                message="the server cannot take non-ASCII addresses",
            ), True
        # The content is ready before the first command: nothing but the write is left for
        # the paced round trip.
        content = dot_stuff(msg.raw if msg.raw is not None else _render(msg))
        mail_answered = False
        mail_line = f"MAIL FROM:<{sender}> SMTPUTF8" if utf8 else f"MAIL FROM:<{sender}>"
        refused: list[tuple[str, int, str]] = []
        try:
            smtp.command_encoding = "utf-8" if utf8 else "ascii"
            if smtp.does_esmtp and smtp.has_extn("pipelining"):
                # RFC 2920: MAIL, every RCPT and DATA in one write, then their replies in
                # order: one round trip instead of 2 + recipients.
                lines = [mail_line, *(f"RCPT TO:<{r}>" for r in recipients), "DATA", ""]
                smtp.send("\r\n".join(lines).encode(smtp.command_encoding))
                mail = self._read_reply(smtp)
                mail_answered = True
                rcpts = [self._read_reply(smtp) for _ in recipients]
                code, text = self._read_reply(smtp)
                refused = [
                    (r, c, t)
                    for r, (c, t) in zip(recipients, rcpts, strict=True)
                    if c not in (250, 251)
                ]
                failed = mail[0] != 250 or len(refused) == len(recipients)
                if code == 354 and failed:
                    smtp.send(b".\r\n")  # DATA was accepted anyway: end an empty message
                    smtp.getreply()
                if mail[0] != 250:
                    return self._refused(smtp, *mail, started, msg.sender)
                if failed:
                    return self._refused_all(smtp, refused, started, msg.sender)
                if code != 354:
                    return self._refused(smtp, code, text, started, msg.sender)
            else:
                code, text = self._command(smtp, mail_line)
                mail_answered = True
                if code != 250:
                    return self._refused(smtp, code, text, started, msg.sender)
                for recipient in recipients:
                    code, text = self._command(smtp, f"RCPT TO:<{recipient}>")
                    if code != 250 and code != 251:
                        refused.append((recipient, code, text))
                if refused and len(refused) == len(recipients):
                    return self._refused_all(smtp, refused, started, msg.sender)
                code, text = self._command(smtp, "DATA")
                if code != 354:
                    return self._refused(smtp, code, text, started, msg.sender)
        except (smtplib.SMTPException, OSError) as exc:
            timed_out = _timed_out(exc)
            if not mail_answered and conn.pooled and not timed_out:
                raise _StaleConnection from exc
            self._observe(timed_out=timed_out)
            return Reply(
                Verdict.TRANSIENT,
                started,
                time.time(),
                code=type(exc).__name__,
                message=f"connection lost before the message was sent: {exc}",
            ), False
        return _Begun(content, refused, msg.sender, time.monotonic())

    def _commit(self, conn: _Connection, begun: _Begun, started: float) -> Reply:
        """Send the content and the final ``.``; the server's verdict on the message."""
        try:
            reply, reusable = self._end_of_data(conn, begun, started)
        except BaseException:
            self._drop(conn)
            raise
        self._release(conn, reply, reusable)
        return reply

    def _end_of_data(self, conn: _Connection, begun: _Begun, started: float) -> tuple[Reply, bool]:
        smtp = conn.smtp
        try:
            smtp.send(begun.content)
            code, reply_bytes = smtp.getreply()
            text = reply_bytes.decode("utf-8", "replace")
        except (smtplib.SMTPException, OSError) as exc:
            self._observe(timed_out=_timed_out(exc))
            return Reply(
                Verdict.UNKNOWN,
                started,
                time.time(),
                code=type(exc).__name__,
                message=f"connection lost after the message was sent: {exc}",
            ), False
        finished = time.time()
        refused = begun.refused
        if code == 250:
            if refused:
                detail = "; ".join(f"{r}: {c} {t}" for r, c, t in refused)
                return Reply(
                    Verdict.ACCEPTED,
                    started,
                    finished,
                    message_id=parse_message_id(text),
                    code=PARTIAL_REFUSAL_CODE,
                    message=f"accepted for some recipients; refused: {detail}",
                ), True
            return Reply(
                Verdict.ACCEPTED, started, finished, message_id=parse_message_id(text)
            ), True
        if code < 200:
            # smtplib's -1: a garbled final line; the body was sent, so it may have been queued.
            return Reply(
                Verdict.UNKNOWN, started, finished, code=f"SMTP{code}", message=text
            ), False
        classified = classify_smtp_reply(code, text)
        self._raise_if_configuration(classified, begun.sender)
        return classified.reply(started, finished, message=text), code != 421

    @staticmethod
    def _command(smtp: smtplib.SMTP, line: str) -> tuple[int, str]:
        smtp.send(f"{line}\r\n".encode(smtp.command_encoding))
        code, text = smtp.getreply()
        return code, text.decode("utf-8", "replace")

    @staticmethod
    def _read_reply(smtp: smtplib.SMTP) -> tuple[int, str]:
        code, text = smtp.getreply()
        return code, text.decode("utf-8", "replace")

    def _refused_all(
        self,
        smtp: smtplib.SMTP,
        refused: list[tuple[str, int, str]],
        started: float,
        sender: str = "",
    ) -> tuple[Reply, bool]:
        """Every recipient refused. Prefer a temporary refusal: the message may then be
        retried as a whole."""
        _, code, text = next((r for r in refused if 400 <= r[1] < 500), refused[0])
        return self._refused(smtp, code, text, started, sender)

    def _refused(
        self, smtp: smtplib.SMTP, code: int, text: str, started: float, sender: str = ""
    ) -> tuple[Reply, bool]:
        """A refusal before the body: classify it and reset the transaction."""
        finished = time.time()
        classified = classify_smtp_reply(code, text)
        self._raise_if_configuration(classified, sender)
        reusable = code != 421
        if reusable:
            try:
                smtp.rset()
            except (smtplib.SMTPException, OSError):
                reusable = False
        return classified.reply(started, finished, message=text), reusable

    def _raise_if_configuration(self, classified: Classified, sender: str = "") -> None:
        """Raise for account-wide refusals: credentials, a paused account, and an
        unverified *sender* (every later message would be refused the same way)."""
        if classified.is_configuration:
            raise ProviderConfigurationError(classified.code, classified.message, self.name)
        if sender and unverified_sender(classified.message, sender):
            raise ProviderConfigurationError(
                UNVERIFIED_SENDER_CODE,
                f"{classified.message} (verify the sender's address or domain, or send from "
                "a verified identity; nothing was sent)",
                self.name,
            )

    # -- a server that stops answering -------------------------------------------------------

    def _observe(self, *, timed_out: bool) -> None:
        with self._lock:
            self._timeouts_in_row = self._timeouts_in_row + 1 if timed_out else 0

    def _check_stalled(self) -> None:
        """Stop the run once the server has not answered ``max_timeouts_in_row`` times in a
        row: each further message would wait ``timeout`` seconds per attempt for nothing.
        Rows not sent stay pending (``failed``), so a later run resumes them."""
        target = self.target
        if self._timeouts_in_row >= target.max_timeouts_in_row:
            raise ProviderConfigurationError(
                STALLED_CODE,
                f"{target.host}:{target.port} did not answer within {target.timeout:g} s "
                f"{self._timeouts_in_row} times in a row; stopped (rows not sent stay pending "
                "for a resume; raise --timeout / SmtpTarget(timeout=...) for a slow server)",
                self.name,
            )

    # -- the pool ----------------------------------------------------------------------------

    def _checkout(self) -> _Connection:
        target = self.target
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
                self._claims = max(0, min(self._claims - 1, len(self._idle)))
            if conn is None:
                return self._connect()
            if (
                conn.sent < target.reconnect_after_messages
                and time.monotonic() - conn.opened_at < target.reconnect_after_seconds
            ):
                return conn
            self._quit(conn)

    def _checkin(self, conn: _Connection) -> None:
        conn.pooled = True
        now = conn.idle_since = time.monotonic()
        stale: list[_Connection] = []
        with self._lock:
            closed = self._closed
            if not closed:
                idle = self._idle
                # The pool is a stack: the longest idle are at the bottom.
                while idle and now - idle[0].idle_since > IDLE_CLOSE_S:
                    stale.append(idle.pop(0))
                idle.append(conn)
        if closed:
            stale.append(conn)
        self._quit_all(stale)

    @property
    def idle_connections(self) -> int:
        """Connections waiting in the pool now."""
        return len(self._idle)

    def _drop(self, conn: _Connection) -> None:
        with contextlib.suppress(OSError):
            conn.smtp.close()

    def _quit(self, conn: _Connection) -> None:
        try:
            conn.smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._drop(conn)

    def _quit_all(self, conns: list[_Connection]) -> None:
        """QUIT on every connection at once, then read the replies (for at most a second):
        one round trip in all, not one per connection (200 connections 150 ms away took 30 s
        one by one)."""
        if len(conns) <= 1:
            for conn in conns:
                self._quit(conn)
            return
        told: list[_Connection] = []
        for conn in conns:
            try:
                conn.smtp.send(b"QUIT\r\n")
                told.append(conn)
            except (smtplib.SMTPException, OSError):
                self._drop(conn)
        deadline = time.monotonic() + min(1.0, self.target.timeout)
        for conn in told:
            sock = conn.smtp.sock
            try:
                if sock is not None:
                    sock.settimeout(max(0.01, deadline - time.monotonic()))
                conn.smtp.getreply()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop(conn)

    def _ehlo(self, smtp: smtplib.SMTP) -> None:
        """EHLO, timed: its round trip is the distance to the server."""
        began = time.monotonic()
        smtp.ehlo()
        self._measure(smtp, time.monotonic() - began)

    def _measure(self, smtp: smtplib.SMTP, rtt: float) -> None:
        with self._lock:
            self._pipelining = bool(smtp.does_esmtp and smtp.has_extn("pipelining"))
            if self._round_trip is None or rtt < self._round_trip:
                self._round_trip = rtt

    def _connect(self) -> _Connection:
        """Connect, greet, STARTTLS, log in. Raises _ConnectFailed or, for a refused login
        or a server that cannot do TLS, ProviderConfigurationError."""
        target = self.target
        smtp: smtplib.SMTP | None = None
        try:
            if target.tls == "implicit":
                smtp = smtplib.SMTP_SSL(
                    target.host,
                    target.port,
                    local_hostname=self._local_hostname,
                    timeout=target.timeout,
                    context=self._context,
                )
            else:
                smtp = smtplib.SMTP(
                    target.host,
                    target.port,
                    local_hostname=self._local_hostname,
                    timeout=target.timeout,
                )
            self._ehlo(smtp)  # the greeting was read when connecting: a round trip alone
            if target.tls == "starttls":
                if not smtp.has_extn("starttls"):
                    raise ProviderConfigurationError(
                        "STARTTLSUnsupported",
                        f"{target.host}:{target.port} does not offer STARTTLS; refusing to "
                        "send credentials and mail in plain text (tls='none' to allow it)",
                        self.name,
                    )
                smtp.starttls(context=self._context)
                self._ehlo(smtp)
            if target.username is not None and target.password is not None:
                smtp.login(target.username, target.password)
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(smtp)
            raise ProviderConfigurationError(
                f"SMTP{exc.smtp_code}", _reply_text(exc), self.name
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _close_quietly(smtp)
            raise ProviderConfigurationError("SMTPNotSupported", str(exc), self.name) from exc
        except smtplib.SMTPResponseException as exc:
            # e.g. "421 Too many concurrent SMTP connections" in the greeting.
            _close_quietly(smtp)
            classified = classify_smtp_reply(exc.smtp_code, _reply_text(exc))
            self._raise_if_configuration(classified)
            raise _ConnectFailed(
                Classified(Verdict.TRANSIENT, classified.code, classified.message)
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            _close_quietly(smtp)
            raise ProviderConfigurationError(
                "CertificateVerifyFailed",
                f"{target.host}: {exc.verify_message or exc} (pass ca_pem=..., or verify=False "
                "for a test server)",
                self.name,
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Refused, unreachable, timed out or TLS failed: no message was written.
            _close_quietly(smtp)
            raise _ConnectFailed(
                Classified(Verdict.TRANSIENT, type(exc).__name__, str(exc) or type(exc).__name__)
            ) from exc
        return _Connection(smtp)

    def __repr__(self) -> str:
        return f"SmtpTransport({self.target!r})"


def _timed_out(exc: BaseException) -> bool:
    """True when ``exc`` is (or wraps: smtplib turns it into SMTPServerDisconnected) a socket
    timeout, i.e. the server stopped answering rather than refusing or hanging up."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, TimeoutError):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def _reply_text(exc: smtplib.SMTPResponseException) -> str:
    """The server's reply text of an smtplib exception (it keeps bytes or str)."""
    error = exc.smtp_error
    return error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()
