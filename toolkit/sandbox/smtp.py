"""The sandbox's SMTP server: SES's SMTP interface on loopback, over TLS, with AUTH.

It answers like ``email-smtp.<region>.amazonaws.com`` so the SMTP transport can be tested
end-to-end without AWS: STARTTLS (and optionally implicit TLS, "SMTPS"), AUTH PLAIN/LOGIN only
after TLS, and SES's reply lines as its published transcripts show them (``SES_SMTP_TRANSCRIPT``
and the other entries in :mod:`toolkit.facts`):

- EHLO: ``250-<host>``, ``250-8BITMIME``, ``250-STARTTLS`` (before TLS), ``250-AUTH PLAIN
  LOGIN`` (already before TLS, as SES advertises it), ``250 Ok``; no SIZE line.
- ``530 Must issue a STARTTLS command first``: AUTH (or mail) before STARTTLS.
- ``235 Authentication successful.`` / ``535 Authentication Credentials Invalid``.
- ``530 Authentication required``: MAIL/RCPT/DATA before AUTH.
- ``250 Ok``: MAIL and RCPT accepted.
- ``501 Invalid MAIL FROM address provided`` / ``501 Invalid RCPT TO address provided``: a
  malformed envelope address (``MAIL FROM:<>`` included), at the command.
- ``554 Transaction failed: Recipient count exceeds 50.``: end of DATA, for a transaction with
  more than 50 RCPTs (each RCPT got ``250 Ok``, as at SES): nothing is delivered, so a client
  cannot mistake a partial delivery for success (``SES_SMTP_TOO_MANY_RECIPIENTS``).
- ``554 Transaction failed: <SES's message>.``: a header block SES refuses (a missing blank line,
  an illegal or empty header name, a duplicate single header, an empty ``To``), end of DATA.
- ``552 Message is too long.``: ``SIZE=`` or DATA over 40 MB.
- ``554 Message rejected: Email address is not verified. The following identities failed the
  check in region US-EAST-1: ...``: end of DATA; an unverified sender, or an unverified
  recipient when the policy is a sandbox account.
- ``454 Throttling failure: Maximum sending rate exceeded.`` / ``... Daily message quota
  exceeded.``: end of DATA, from the shared policy.
- ``451 Temporary service failure``: an injected error (seeded :class:`Faults`).
- (connection closed, no reply): an injected drop; the message is NOT stored.
- ``451 4.4.2 Timeout waiting for data from client.``: idle for ``timeout`` s (10, as SES).
- ``250 Ok <message-id>``: accepted and stored in the mailbox (a line over 1,000 octets is
  accepted too, as at SES, and recorded as the bounce it would cause).

Each transaction asks the :class:`~toolkit.sandbox.policy.Policy` once, at the end of DATA, with
all its recipients (so rate and quota count recipients, as SES does), then stores the message in
the :class:`~toolkit.sandbox.mailbox.Mailbox` (interface ``"smtp"``), which records the mailbox
simulator's events. Injected latency delays every byte the client sends (a network's one-way
delay, so each reply comes one latency later: a command-by-command transaction pays it once
per command, as against SES's endpoint, which does not offer PIPELINING; pipelined commands
travel together and pay it once). The TLS handshake itself is not delayed.

Two credential pairs are accepted: the sandbox's own ``username``/``password``, and, when given,
an SES-style pair: username = ``access_key_id``, password =
:func:`toolkit.aws.smtp_password.derive_ses_smtp_password` (``secret_access_key``, ``region``).

Bad input never stops the server: unknown commands get 500 (the connection is closed after five),
idle connections and TLS handshakes that never finish are closed after ``timeout`` seconds, and a
client that vanishes mid-DATA leaves nothing half-stored.

How the sandbox (``toolkit.sandbox.server.Sandbox``) constructs it::

    smtp = SmtpServer(
        policy, mailbox, faults=faults,                 # shared with the HTTP API
        host="127.0.0.1", port=0,                       # ephemeral port; tls_port=0 adds SMTPS
        username=smtp_username, password=smtp_password, # the sandbox's generated pair
        access_key_id=key_id, secret_access_key=secret, # optional SES-style pair
        region=policy.region,
        certificate=SelfSignedCertificate.load_or_create(state_dir),  # optional; else generated
    )
    smtp.start()            # returns once listening; smtp.port (and smtp.tls_port) are set
    ...
    smtp.client_ssl_context()   # an ssl.SSLContext that trusts the generated certificate
    smtp.stop()             # idempotent; also `with SmtpServer(...) as smtp:`

Implementation note: the protocol subclasses aiosmtpd 1.4's ``SMTP`` and leans on a few of its
internals (``_reader``, ``_reset_timeout``, ``_timeout_cb``, ``_tls_protocol``,
``_auth_require_tls``), which is one reason pyproject pins ``aiosmtpd<2``; the integration tests
exercise each of them. DATA is read in runs up to the terminator rather than line by line, and
plain ``<local@domain>`` paths skip the email package's full address grammar: together that
more than doubled the server's throughput (``benchmarks/sandbox_smtp_load.py`` measures it).

The server runs its own asyncio loop on a daemon thread, so it works inside Jupyter (no
``asyncio.run`` on the notebook's loop) and ``start``/``stop`` are plain blocking calls.

Why one module of this size: every override of aiosmtpd's internals is here, next to the SES
replies they produce, so the dependency on aiosmtpd 1.4 stays visible in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import ssl
from collections import deque
from collections.abc import Awaitable
from email.header import decode_header, make_header
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, TLSSetupException

from toolkit.aws.smtp_password import derive_ses_smtp_password
from toolkit.errors import SandboxError
from toolkit.facts import (
    SES_MAX_MESSAGE_BYTES,
    SES_MAX_RECIPIENTS_PER_MESSAGE,
    SES_SMTP_ADDRESS_REPLIES,
    SES_SMTP_IDLE_TIMEOUT,
    SES_SMTP_TOO_MANY_RECIPIENTS,
)
from toolkit.sandbox.content import long_line_bounces
from toolkit.sandbox.faults import FaultAction, Faults
from toolkit.sandbox.loop_thread import LoopThread
from toolkit.sandbox.mailbox import Mailbox, new_message_id
from toolkit.sandbox.policy import RATE_MESSAGE, TOO_LARGE_REPLY, Policy
from toolkit.sandbox.ses_checks import address_problem, raw_problem
from toolkit.sandbox.tls import SelfSignedCertificate

__all__ = ["SmtpServer", "extract_subject"]

log = logging.getLogger(__name__)

INTERFACE = "smtp"
REPLY_AUTH_REQUIRED = "530 Authentication required"
REPLY_AUTH_INVALID = "535 Authentication Credentials Invalid"
REPLY_AUTH_OK = "235 Authentication successful."
REPLY_OK = "250 Ok"
REPLY_BAD_FROM, REPLY_BAD_RCPT = SES_SMTP_ADDRESS_REPLIES.value
REPLY_TOO_LONG = TOO_LARGE_REPLY
REPLY_TOO_MANY_RECIPIENTS = SES_SMTP_TOO_MANY_RECIPIENTS.value
REPLY_TEMPORARY_FAILURE = "451 Temporary service failure"
REPLY_RATE_EXCEEDED = f"454 Throttling failure: {RATE_MESSAGE}"  # as the policy words it
REPLY_TIMEOUT = "451 4.4.2 Timeout waiting for data from client."

_SUBJECT = re.compile(rb"^subject:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.IGNORECASE | re.M)
_SIZE_PARAM = re.compile(r"\bSIZE=(\d+)", re.IGNORECASE)
# "<local@domain> [params]" with a plain dot-atom local part: the shape every real client sends.
_SIMPLE_PATH = re.compile(r"\s*<([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+)>(.*)\Z", re.S)
_TERMINATOR = b"\r\n.\r\n"
_TERMINATOR_LEN = len(_TERMINATOR)
_TERMINATOR_PREFIXES = tuple(_TERMINATOR[:k] for k in range(_TERMINATOR_LEN - 1, 0, -1))


def _terminator_prefix(buf: bytearray) -> int:
    """Length of the longest proper prefix of CRLF.CRLF that ``buf`` ends with (0 if none)."""
    for prefix in _TERMINATOR_PREFIXES:
        if buf.endswith(prefix):
            return len(prefix)
    return 0


def extract_subject(content: bytes) -> str | None:
    """The decoded Subject header of a raw message, or None; looks at the header block only.

    Cheap on purpose (a regex over the headers; RFC 2047 decoding only when ``=?`` appears):
    this runs once per accepted message on the server's hot path.
    """
    end = content.find(b"\r\n\r\n")
    head = content if end < 0 else content[: end + 2]
    match = _SUBJECT.search(head)
    if match is None:
        return None
    text = re.sub(rb"\r?\n", b"", match.group(1)).decode("utf-8", "replace").rstrip()
    if "=?" in text:
        # Undecodable words are kept as they are rather than lose the subject.
        with contextlib.suppress(ValueError, LookupError, UnicodeError):
            text = str(make_header(decode_header(text)))
    return text


_TAGS = re.compile(rb"(?im)^X-SES-MESSAGE-TAGS:[ \t]*(.*(?:\r?\n[ \t].*)*)")


def smtp_tags(content: bytes) -> list[tuple[str, str]]:
    """The ``X-SES-MESSAGE-TAGS`` header's ``name=value`` pairs (SES reads the header and
    copies the tags into the message's events); [] without one. Header block only."""
    end = content.find(b"\r\n\r\n")
    head = content if end < 0 else content[: end + 2]
    match = _TAGS.search(head)
    if match is None:
        return []
    text = re.sub(rb"\r?\n", b"", match.group(1)).decode("utf-8", "replace")
    found = []
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            found.append((name.strip(), value.strip()))
    return found


class _Session(Session):
    """aiosmtpd's session without the deprecation warning it logs on every successful AUTH."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _SesSMTP(SMTP):
    """aiosmtpd's protocol with SES's wording, a quiet drop for injected faults, and a faster
    DATA reader and address parser (aiosmtpd reads DATA line by line and parses every address
    with the email package's full RFC 5322 grammar: together most of its per-message cost).
    """

    # The stream reader's buffer limit. aiosmtpd uses 1001 (one RFC 5321 line) because it reads
    # DATA line by line; reading up to the terminator wants room for whole messages. Commands
    # are still held to 512 bytes by aiosmtpd's own check.
    line_length_limit = 1 << 16

    def __init__(
        self,
        handler: _Handler,
        *,
        implicit_tls: bool,
        connections: set[_SesSMTP],
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._implicit_tls = implicit_tls
        self._connections = connections
        if implicit_tls:
            # The whole connection is TLS, but aiosmtpd only knows about STARTTLS: lift its
            # "AUTH needs TLS" gate here rather than pass auth_require_tls=False, which warns
            # on every connection.
            self._auth_require_tls = False

    def _create_session(self) -> Session:
        return _Session(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._connections.add(self)  # a set: STARTTLS calls this a second time
        faults = getattr(self.event_handler, "faults", None)
        self._delay = faults.latency_s if faults is not None else 0.0
        self._inbound: deque[tuple[float, bytes]] = deque()
        self._lost = False

    def connection_lost(self, error: Exception | None) -> None:
        self._lost = True
        self._connections.discard(self)
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        """The client's bytes, one injected latency late (in order)."""
        if self._delay <= 0:
            super().data_received(data)
            return
        due = self.loop.time() + self._delay
        self._inbound.append((due, data))
        if len(self._inbound) == 1:
            self.loop.call_at(due, self._deliver)

    def _deliver(self) -> None:
        inbound, now = self._inbound, self.loop.time()
        while inbound and inbound[0][0] <= now:
            data = inbound.popleft()[1]
            if not self._lost:
                super().data_received(data)
        if inbound:
            self.loop.call_at(inbound[0][0], self._deliver)

    def abort(self) -> None:
        """Drop the connection now (server shutdown), the TCP socket underneath included."""
        for transport in (self.transport, self._original_transport):
            if transport is not None:
                transport.abort()  # type: ignore[attr-defined]

    async def check_auth_needed(self, caller_method: str) -> bool:
        assert self.session is not None
        if self._auth_required and not self.session.authenticated:
            await self.push(REPLY_AUTH_REQUIRED)
            return True
        return False

    async def smtp_MAIL(self, arg: str | None) -> None:
        # SES's wording for an announced size over the limit (aiosmtpd has its own text).
        if arg and self.data_size_limit and self.session is not None and self.session.authenticated:
            size = _SIZE_PARAM.search(arg)
            if size is not None and int(size.group(1)) > self.data_size_limit:
                await self.push(REPLY_TOO_LONG)
                return
        if await self._refuse_address(arg, "FROM:", REPLY_BAD_FROM):
            return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        mail_from = self.envelope is not None and self.envelope.mail_from
        if mail_from and await self._refuse_address(arg, "TO:", REPLY_BAD_RCPT):
            return
        await super().smtp_RCPT(arg)

    async def _refuse_address(self, arg: str | None, keyword: str, reply: str) -> bool:
        """SES's 501 for a malformed envelope address (after the HELO/AUTH checks, as SES)."""
        if not arg or self.session is None or not self.session.authenticated:
            return False
        if not self.session.host_name:
            return False
        stripped = self._strip_command_keyword(keyword, arg)
        if stripped is None:
            return False
        address, _ = self._getaddr(stripped)
        if address is None or address_problem(address) is not None:
            await self.push(reply)
            return True
        return False

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        simple = _SIMPLE_PATH.match(arg)
        if simple is not None:
            return simple.group(1), simple.group(2).lstrip()
        return super()._getaddr(arg)  # quoted local parts, comments, source routes, <>

    async def smtp_DATA(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content = await self._read_data()
        except (asyncio.IncompleteReadError, ConnectionError):
            # The client went away mid-DATA: nothing is stored, the connection is done.
            if self.transport is not None:
                self.transport.close()
            return
        if content is None:
            self._set_post_data_state()
            await self.push(REPLY_TOO_LONG)
            return
        self.envelope.content = self.envelope.original_content = content
        try:
            status = await self._call_handler_hook("DATA")
        finally:
            self._set_post_data_state()  # even after an error: the next MAIL starts afresh
        await self.push(status)

    async def _read_data(self) -> bytes | None:
        """Read up to CRLF.CRLF; return the unstuffed content, or None when over the limit.

        Reads whole runs of lines with ``readuntil`` instead of line by line. The terminator's
        leading CRLF can straddle two reads (or be the DATA command's own line end, for an empty
        message), so whenever what was read ends in a prefix of the terminator, only the bytes
        that could complete it are read next: nothing after the terminator is consumed.
        """
        reader = self._reader
        limit = self.data_size_limit or 0
        buf = bytearray(b"\r\n")  # the DATA command's line end: the first line starts here
        dropped = 0  # bytes discarded once over the limit (kept: the tail, for the terminator)
        while True:
            tail = _terminator_prefix(buf)
            if tail:
                buf += await reader.readexactly(_TERMINATOR_LEN - tail)
                if buf.endswith(_TERMINATOR):
                    break
                continue
            try:
                buf += await reader.readuntil(_TERMINATOR)
                break
            except asyncio.LimitOverrunError as overrun:
                buf += await reader.readexactly(overrun.consumed)
                self._reset_timeout()  # data is flowing: the idle timeout restarts
            if limit and len(buf) + dropped > limit + 2:
                dropped += len(buf) - _TERMINATOR_LEN
                del buf[:-_TERMINATOR_LEN]
        if limit and len(buf) + dropped - 2 - 3 > limit:
            return None
        body = bytes(buf[:-3])  # keep the last line's CRLF, drop ".\r\n"
        if b"\r\n." in body:
            body = body.replace(b"\r\n.", b"\r\n")  # RFC 5321 4.5.2 dot-unstuffing
        return body[2:]

    def _timeout_cb(self) -> None:
        # Say why, as SES does, unless a TLS handshake is what stalled (no channel to say it on).
        transport = self.transport
        handshaking = self._tls_protocol is not None and (
            self.session is None or self.session.ssl is None
        )
        if (
            isinstance(transport, asyncio.WriteTransport)
            and not transport.is_closing()
            and not handshaking
        ):
            transport.write(REPLY_TIMEOUT.encode("ascii") + b"\r\n")
        super()._timeout_cb()

    async def push(self, status: Any) -> None:
        # An injected drop closes the transport inside the DATA hook; say nothing after that.
        if self.transport is None or self.transport.is_closing():
            return
        await super().push(status)

    def eof_received(self) -> bool | None:
        result = super().eof_received()
        # Over implicit TLS, returning True has no effect and makes asyncio warn.
        return False if self._implicit_tls else result


class _Handler:
    """aiosmtpd hooks: the SES rules, the shared policy and faults, the mailbox."""

    def __init__(
        self,
        policy: Policy,
        mailbox: Mailbox,
        faults: Faults | None,
        max_message_bytes: int,
    ) -> None:
        self.policy = policy
        self.mailbox = mailbox
        self.faults = faults
        self.max_message_bytes = max_message_bytes
        self.max_recipients = SES_MAX_RECIPIENTS_PER_MESSAGE.value

    async def handle_exception(self, error: Exception) -> str:
        # A bug or a closed mailbox must not leak a traceback to the client: answer as SES does
        # for its own trouble (a retryable 4xx), and keep the details in the log.
        if isinstance(error, TLSSetupException):
            # The client's handshake failed (typically: it does not trust the self-signed
            # certificate); the client's fault, not the sandbox's, so no traceback.
            log.info("sandbox SMTP: STARTTLS handshake failed: %s", error.__cause__ or error)
        else:
            log.error("sandbox SMTP transaction failed: %r", error, exc_info=error)
        return REPLY_TEMPORARY_FAILURE

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """SES's EHLO lines: AUTH already before TLS, no SIZE, ``250 Ok`` last."""
        session.host_name = hostname
        lines = [responses[0], "250-8BITMIME"]
        if "250-STARTTLS" in responses:
            lines.append("250-STARTTLS")
        return [*lines, "250-AUTH PLAIN LOGIN", REPLY_OK]

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return REPLY_OK

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # SES answers 250 to every RCPT and refuses the whole message at the end of DATA. One
        # address past the limit is kept (enough to know), so a flood of RCPTs costs nothing.
        if len(envelope.rcpt_tos) <= self.max_recipients:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
        return REPLY_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        faults = self.faults
        if faults is not None:
            action = faults.draw()
            if action is FaultAction.DROP:
                if server.transport is not None:
                    server.transport.close()
                return "421 Connection dropped"  # never sent: push() is silent once closing
            if action is FaultAction.ERROR:
                return REPLY_TEMPORARY_FAILURE
            if action is FaultAction.THROTTLE:
                return REPLY_RATE_EXCEEDED
        size = len(content)
        if size > self.max_message_bytes:
            return REPLY_TOO_LONG
        if len(envelope.rcpt_tos) > self.max_recipients:
            return REPLY_TOO_MANY_RECIPIENTS
        problem = raw_problem(content, has_sender=True, has_recipients=True)
        if problem is not None:
            return f"554 Transaction failed: {problem}"
        sender = envelope.mail_from or ""
        recipients = envelope.rcpt_tos
        admission = self.policy.admit(INTERFACE, sender, recipients, size)
        if not admission.ok:
            return admission.smtp_reply
        message_id = new_message_id()
        self.mailbox.add(
            interface=INTERFACE,
            sender=sender,
            recipients=recipients,
            subject=extract_subject(content),
            content=content,
            size=size,
            message_id=message_id,
            events=long_line_bounces(content, recipients),
            tags=smtp_tags(content),
        )
        return f"250 Ok {message_id}"


class _Credentials:
    """The accepted username/password pairs, compared in constant time."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = [(u.encode(), p.encode()) for u, p in pairs]

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = False
        if isinstance(auth_data, LoginPassword):
            for username, password in self._pairs:
                # Evaluate both comparisons every time: no early exit on the username.
                same_user = hmac.compare_digest(auth_data.login, username)
                same_password = hmac.compare_digest(auth_data.password, password)
                ok = ok or (same_user and same_password)
        if ok:
            return AuthResult(success=True, auth_data=None, message=REPLY_AUTH_OK)
        return AuthResult(success=False, handled=False, message=REPLY_AUTH_INVALID)

    def __repr__(self) -> str:
        return f"_Credentials({len(self._pairs)} pairs)"


class SmtpServer:
    """SES-like SMTP server on loopback (see the module docstring for the replies).

    Args:
        policy: the shared SES-like policy (identities, rate, quota, sandbox account).
        mailbox: where accepted messages and their events go.
        host: interface to listen on; loopback only unless you know why.
        port: STARTTLS listener port (0 = ephemeral; read ``.port`` after ``start``).
        tls_port: also listen with implicit TLS (SMTPS, like SES's port 465) on this port;
            None (default) = no SMTPS listener, 0 = ephemeral.
        username, password: the sandbox's own SMTP credentials.
        access_key_id, secret_access_key: optionally accept an SES-style pair too; the password
            is then ``derive_ses_smtp_password(secret_access_key, region)``.
        region: Region used for the derived password.
        faults: seeded fault injection shared with the HTTP API (latency, 451, 454, drops).
        certificate: TLS certificate; generated at start when None.
        timeout: seconds an idle connection or an unfinished TLS handshake is kept (SES: 10).
        max_message_bytes: SES's 40 MB by default (enforced at the end of DATA; like SES,
            the EHLO reply does not advertise it).
        hostname: the name in the greeting and EHLO reply.
    """

    def __init__(
        self,
        policy: Policy,
        mailbox: Mailbox,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_port: int | None = None,
        username: str,
        password: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str = "us-east-1",
        faults: Faults | None = None,
        certificate: SelfSignedCertificate | None = None,
        timeout: float = SES_SMTP_IDLE_TIMEOUT.value,
        max_message_bytes: int = SES_MAX_MESSAGE_BYTES.value,
        hostname: str = "localhost",
    ) -> None:
        if not username or not password:
            raise ValueError("username and password must not be empty")
        if (access_key_id is None) != (secret_access_key is None):
            raise ValueError("give both access_key_id and secret_access_key, or neither")
        pairs = [(username, password)]
        if access_key_id is not None and secret_access_key is not None:
            pairs.append((access_key_id, derive_ses_smtp_password(secret_access_key, region)))
        self._credentials = _Credentials(pairs)
        self.host = host
        self.region = region
        self.hostname = hostname
        self.timeout = timeout
        self.max_message_bytes = max_message_bytes
        self._requested_port = port
        self._requested_tls_port = tls_port
        self._handler = _Handler(policy, mailbox, faults, max_message_bytes)
        self._certificate = certificate
        self._server_ssl: ssl.SSLContext | None = None
        self._runner = LoopThread("sandbox-smtp")
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[_SesSMTP] = set()  # touched only on the loop thread
        self.port: int | None = None
        self.tls_port: int | None = None

    # -- public surface ----------------------------------------------------------------------

    @property
    def certificate(self) -> SelfSignedCertificate:
        """The certificate presented by both listeners (generated on first use)."""
        if self._certificate is None:
            self._certificate = SelfSignedCertificate.generate()
        return self._certificate

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's certificate (for ``smtplib.starttls``)."""
        return self.certificate.client_context()

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._runner.running

    def start(self) -> SmtpServer:
        """Listen and serve on a background thread; returns once the sockets are bound.

        Raises SandboxError when a port cannot be bound.
        """
        if self.running:
            return self
        if self._server_ssl is None:
            self._server_ssl = self.certificate.server_context()
        try:
            self._runner.start(self._listen, self._shutdown)
        except Exception as exc:
            raise SandboxError(f"the sandbox SMTP server could not start: {exc}") from exc
        return self

    def stop(self) -> None:
        """Close the listeners and every open connection; idempotent."""
        self._runner.stop(timeout=10)
        self._servers = []

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self.port}" if self.running else "stopped"
        if self.running and self.tls_port is not None:
            state += f", tls_port={self.tls_port}"
        return f"SmtpServer({self.host!r}, {state})"

    # -- the loop thread ---------------------------------------------------------------------

    def _protocol(self, loop: asyncio.AbstractEventLoop, *, implicit_tls: bool) -> _SesSMTP:
        return _SesSMTP(
            self._handler,
            implicit_tls=implicit_tls,
            connections=self._connections,
            loop=loop,
            hostname=self.hostname,
            ident="ESMTP SimpleEmailService-sandbox",
            data_size_limit=self.max_message_bytes,
            # STARTTLS listener: TLS first, then AUTH, then mail (SES: "All connections must
            # use TLS"). The SMTPS listener is TLS from the first byte.
            tls_context=None if implicit_tls else self._server_ssl,
            require_starttls=not implicit_tls,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self._credentials,
            timeout=self.timeout,
        )

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        plain = await loop.create_server(
            lambda: self._protocol(loop, implicit_tls=False),
            host=self.host,
            port=self._requested_port,
        )
        self._servers = [plain]
        self.port = plain.sockets[0].getsockname()[1]
        if self._requested_tls_port is not None:
            wrapped = await loop.create_server(
                lambda: self._protocol(loop, implicit_tls=True),
                host=self.host,
                port=self._requested_tls_port,
                ssl=self._server_ssl,
                ssl_handshake_timeout=self.timeout,
            )
            self._servers.append(wrapped)
            self.tls_port = wrapped.sockets[0].getsockname()[1]

    async def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            connection.abort()
        tasks = [t for t in asyncio.all_tasks(loop) if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        waits: list[Awaitable[Any]] = [server.wait_closed() for server in self._servers]
        await asyncio.gather(*tasks, *waits, return_exceptions=True)
        # Let the transports' scheduled connection_lost callbacks run before the loop closes.
        for _ in range(3):
            await asyncio.sleep(0)
        self._connections.clear()
