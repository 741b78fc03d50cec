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

What a failure means for the message:

* refused at ``MAIL``/``RCPT``/``DATA`` (before the body): the server's reply, classified;
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
not) and what each failure point means for the message are one protocol; split apart, "was the
body written when this broke?" would be answered in two places.

Why one module of this size: the pool, the transaction and the classification of its
failures share one connection object and its state (pooled, mid-DATA, reusable); split
apart, what a disconnect means would be decided in two places.

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
    "STALLED_CODE",
    "SmtpTransport",
    "dot_stuff",
    "parse_message_id",
]

PARTIAL_REFUSAL_CODE = "PartialRefusal"
STALLED_CODE = "SMTPTimeout"
IDLE_CLOSE_S = SES_SMTP_IDLE_TIMEOUT.value / 2
"""Seconds an idle pooled connection is kept: SES closes one after ~10 s of silence."""

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


class _Connection:
    __slots__ = ("idle_since", "opened_at", "pooled", "sent", "smtp")

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.smtp = smtp
        self.opened_at = self.idle_since = time.monotonic()
        self.sent = 0
        self.pooled = False  # True once it has waited in the pool (the server may have closed it)


class SmtpTransport(BaseTransport):
    """A pool of persistent SMTP connections, one per concurrently sending thread.

    Args:
        target: where to connect and how to log in.
    """

    name = "smtp"
    max_batch = 1
    content_mode = ContentMode.RAW
    paced_strictly = True
    """The server counts a message at the end of DATA, several round trips after its
    transaction began: the pacer may take no latency credit (it let a sandbox 50 ms away
    throttle)."""
    max_message_bytes = SES_MAX_MESSAGE_BYTES.value

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target
        self._context = target.ssl_context()
        # EHLO name: resolved once (smtplib's default, getfqdn, may wait on DNS per connect).
        self._local_hostname = target.local_hostname or socket.gethostname() or "localhost"
        self._lock = threading.Lock()
        self._idle: list[_Connection] = []
        self._closed = False
        self._timeouts_in_row = 0  # replies that never came, across threads; reset by any reply

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
        for conn in idle:
            self._quit(conn)

    # -- sending -----------------------------------------------------------------------------

    def ready(self) -> None:
        """Open a connection now if none is idle (the engine calls this before its pacer
        admits the next message): connecting costs several round trips (EHLO, STARTTLS, EHLO,
        AUTH) that must not count against the pace. Best effort: a failure is left for
        :meth:`send` to report."""
        if self._idle or self._closed:  # unlocked peek: a miss only costs a connect in send
            return
        try:
            conn = self._connect()
        except (_ConnectFailed, ProviderConfigurationError):
            return
        self._checkin(conn)

    def send(self, batch: Sequence[Message]) -> list[Reply]:
        """One SMTP transaction per message, in order; see the module docstring for errors."""
        return [self._send_one(msg) for msg in batch]

    def _send_one(self, msg: Message) -> Reply:
        self._check_stalled()
        started = time.time()
        for _ in range(3):
            try:
                conn = self._checkout()
            except _ConnectFailed as failed:
                self._observe(timed_out=_timed_out(failed))
                return failed.classified.reply(started, time.time())
            try:
                reply, reusable = self._transaction(conn, msg, started)
            except _StaleConnection:
                # The server closed this idle pooled connection before it read our MAIL
                # command: nothing was committed, so try again on a fresh connection.
                self._drop(conn)
                continue
            except BaseException:
                self._drop(conn)
                raise
            if reusable:
                self._observe(timed_out=False)  # the server answered the whole transaction
                conn.sent += 1
                self._checkin(conn)
            else:
                self._drop(conn)
            return reply
        return Reply(
            Verdict.TRANSIENT,
            started,
            time.time(),
            code="SMTPServerDisconnected",
            message="every pooled connection was closed by the server",
        )

    def _transaction(self, conn: _Connection, msg: Message, started: float) -> tuple[Reply, bool]:
        """Run one transaction; returns the reply and whether the connection is still good."""
        smtp = conn.smtp
        sender = msg.envelope_sender
        recipients = msg.recipients
        raw = msg.raw if msg.raw is not None else _render(msg)
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
        mail_answered = body_started = False
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
            body_started = True
            smtp.send(dot_stuff(raw))
            code, reply_bytes = smtp.getreply()
            text = reply_bytes.decode("utf-8", "replace")
        except (smtplib.SMTPException, OSError) as exc:
            timed_out = _timed_out(exc)
            if not mail_answered and conn.pooled and not timed_out:
                raise _StaleConnection from exc
            self._observe(timed_out=timed_out)
            finished = time.time()
            name = type(exc).__name__
            if body_started:
                return Reply(
                    Verdict.UNKNOWN,
                    started,
                    finished,
                    code=name,
                    message=f"connection lost after the message was sent: {exc}",
                ), False
            return Reply(
                Verdict.TRANSIENT,
                started,
                finished,
                code=name,
                message=f"connection lost before the message was sent: {exc}",
            ), False
        finished = time.time()
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
        self._raise_if_configuration(classified, msg.sender)
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
        for old in stale:
            self._quit(old)

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
            smtp.ehlo()
            if target.tls == "starttls":
                if not smtp.has_extn("starttls"):
                    raise ProviderConfigurationError(
                        "STARTTLSUnsupported",
                        f"{target.host}:{target.port} does not offer STARTTLS; refusing to "
                        "send credentials and mail in plain text (tls='none' to allow it)",
                        self.name,
                    )
                smtp.starttls(context=self._context)
                smtp.ehlo()
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
