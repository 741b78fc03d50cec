"""The embedded sandbox: SES v2 + Pinpoint HTTP API and SES-like SMTP, one policy, one mailbox.

:class:`Sandbox` starts everything on loopback (ephemeral ports by default), each server on its
own background thread, so it works in scripts, tests and inside Jupyter. A plain boto3 client
pointed at ``endpoint_url`` with the sandbox's keys works unchanged::

    with Sandbox(rate=50, seed=7, throttle_rate=0.05) as sandbox:
        ses = sandbox.client("sesv2")
        ses.send_email(FromEmailAddress="sender@example.com",
                       Destination={"ToAddresses": ["success@simulator.amazonses.com"]},
                       Content={"Simple": {"Subject": {"Data": "Hi"},
                                           "Body": {"Text": {"Data": "Hello"}}}})
        sandbox.mailbox.messages()          # what was accepted, as a DataFrame

With ``state_dir`` the mailbox, identities, templates and Pinpoint apps survive a restart, and
another process can read the mailbox with ``Mailbox.open(state_dir)``.

As strict as SES, never more lenient (each rule and its source is in :mod:`toolkit.facts`):
requests must be signed with the sandbox's own key pair; identities created through the API
start unverified (an address gets SES's verification mail in the mailbox; the identities given
as ``verified`` are verified from the start, and :meth:`Sandbox.verify_identity` completes any
other); ``sandbox_account=True`` is SES's sandbox (1 recipient per second, 200 per 24 hours,
verified recipients only); SES v2's request maxima (15 custom headers, 995-character values,
262,144 characters of template data, tag and configuration-set names) are refused as SES
refuses them. SMTP listens with STARTTLS on ``smtp_port`` and implicit TLS on
``smtp_tls_port``, as SES's 587 and 465. The user's AWS configuration (``AWS_PROFILE``,
``~/.aws``) is never read. Pinpoint email is emulated as it was before its end of support,
and every Pinpoint message in the mailbox says so; ``pinpoint_ended=True`` answers as AWS does
after 2026-10-30. The account has SES's suppression list (:attr:`Sandbox.suppression`; default
SuppressedReasons BOUNCE and COMPLAINT) and reputation (:attr:`Sandbox.reputation`):
``bounce_rate``/``complaint_rate``/``dead_mailboxes`` make ordinary recipients bounce or
complain (:mod:`toolkit.sandbox.feedback`), and past SES's levels the account goes to
PROBATION, then SHUTDOWN, which pauses sending.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from toolkit.aws.isolated import isolated_boto3_session, isolated_session
from toolkit.errors import SandboxError
from toolkit.facts import SES_SANDBOX_MAX_24_HOUR_SEND, SES_SANDBOX_MAX_SEND_RATE
from toolkit.sandbox.faults import Faults
from toolkit.sandbox.feedback import Feedback
from toolkit.sandbox.http_api import ApiError, HttpApiServer
from toolkit.sandbox.mailbox import Mailbox
from toolkit.sandbox.pinpoint_api import PinpointApi
from toolkit.sandbox.policy import DEFAULT_IDENTITIES, Policy, too_large_message
from toolkit.sandbox.reputation import SHUTDOWN, Reputation
from toolkit.sandbox.routing import Router
from toolkit.sandbox.ses_api import SesV2Api
from toolkit.sandbox.ses_resources import list_route_models
from toolkit.sandbox.signatures import SignatureCheck
from toolkit.sandbox.state import CONFIRM_PATH, SandboxState, lock_state_dir
from toolkit.sandbox.suppression import AccountSuppression

if TYPE_CHECKING:
    from toolkit.targets import AwsTarget, Quota, SmtpTarget
    from toolkit.transports.registry import TransportKind

DEFAULT_SENDER = "sender@example.com"
DEFAULT_APP_ID = "5a9d1b0c0ffee0000000000000000001"
DEFAULT_APP_NAME = "toolkit-sandbox"
_KEYS_STATE = "credentials"


@dataclass(repr=False)
class _Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)


class Sandbox:
    """A local SES-like provider: HTTP API (SES v2, Pinpoint) and SMTP, sharing one policy.

    Args:
        api_port, smtp_port: loopback ports (0 = ephemeral; read the attributes after start).
        smtp_tls_port: the implicit-TLS SMTP port, alongside STARTTLS on ``smtp_port`` (SES
            offers both: STARTTLS on 25/587/2587, TLS Wrapper on 465/2465); 0 = ephemeral,
            None = no implicit-TLS listener.
        rate: MaxSendRate in recipients per second (default 1000, or SES's sandbox rate of 1
            with ``sandbox_account``).
        daily_quota: Max24HourSend (-1 = unlimited; the default, or 200 with
            ``sandbox_account``).
        state_dir: keep the mailbox (and identities, templates, apps, keys) here.
        latency_ms, throttle_rate, error_rate, drop_rate, partial_failure_rate, seed: faults
            (see :class:`~toolkit.sandbox.faults.Faults`).
        sandbox_account: behave like an SES account still in the SES sandbox (verified
            recipients and the mailbox simulator only, 1 recipient/s, 200 per 24 h unless
            ``rate``/``daily_quota`` say otherwise).
        region: the Region the endpoint pretends to be.
        smtp: also start the SMTP server.
        verified: identities verified from the start (default ``sender@example.com`` and
            ``example.com``); others are created pending through the API.
        bounce_rate, complaint_rate: probability that an ordinary (non-simulator) recipient
            hard-bounces, or complains after delivery (seeded by ``seed``); these feed the
            account's reputation (``GetAccount.EnforcementStatus``, :attr:`reputation`) and,
            per ``SuppressedReasons``, its suppression list (:attr:`suppression`).
        dead_mailboxes: addresses that always hard-bounce.
        event_lag_ms: events become readable this long after the send (SES's take seconds).
        pinpoint_ended: answer Pinpoint email (SendMessages to EMAIL addresses, the email
            channel and email templates) with 403 ``ForbiddenException``, as after AWS's end
            of support; by default the sandbox emulates legacy Pinpoint email.
    """

    def __init__(
        self,
        *,
        api_port: int = 0,
        smtp_port: int = 0,
        smtp_tls_port: int | None = 0,
        rate: float | None = None,
        daily_quota: float | None = None,
        state_dir: str | Path | None = None,
        latency_ms: float = 0.0,
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        partial_failure_rate: float = 0.0,
        seed: int | None = None,
        sandbox_account: bool = False,
        region: str = "us-east-1",
        smtp: bool = True,
        verified: Iterable[str] = DEFAULT_IDENTITIES,
        pinpoint_ended: bool = False,
        bounce_rate: float = 0.0,
        complaint_rate: float = 0.0,
        dead_mailboxes: Iterable[str] = (),
        event_lag_ms: float = 0.0,
    ) -> None:
        self.region = region
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self._api_port = api_port
        self._smtp_port = smtp_port
        self._lock: int | None = None  # the state directory's lock while serving from it
        self._smtp_tls_port = smtp_tls_port
        self._want_smtp = smtp
        self.pinpoint_ended = pinpoint_ended
        if rate is None:
            rate = SES_SANDBOX_MAX_SEND_RATE.value if sandbox_account else 1000.0
        if daily_quota is None:
            daily_quota = float(SES_SANDBOX_MAX_24_HOUR_SEND.value) if sandbox_account else -1.0
        self.policy = Policy(
            max_send_rate=rate,
            max_24_hour_send=daily_quota,
            sandbox_account=sandbox_account,
            region=region,
            identities=verified,
        )
        self._state: SandboxState | None = None
        self.faults = Faults(
            latency_ms=latency_ms,
            throttle_rate=throttle_rate,
            error_rate=error_rate,
            drop_rate=drop_rate,
            partial_failure_rate=partial_failure_rate,
            seed=seed,
            event_lag_ms=event_lag_ms,
        )
        self.suppression = AccountSuppression()
        self.reputation = Reputation(on_status=self._on_status)
        self.feedback = Feedback(
            self.suppression,
            self.reputation,
            bounce_rate=bounce_rate,
            complaint_rate=complaint_rate,
            dead_mailboxes=dead_mailboxes,
            seed=seed,
        )
        self._mailbox: Mailbox | None = None
        self._http: HttpApiServer | None = None
        self._smtp: Any = None
        self._credentials = _Credentials(
            "AKIASANDBOX" + secrets.token_hex(5).upper(), secrets.token_urlsafe(30)
        )
        self.pinpoint_app_id = DEFAULT_APP_ID
        self._boto3: Any = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._http is not None

    def start(self) -> Sandbox:
        """Open the mailbox, start the HTTP API and (unless ``smtp=False``) the SMTP server."""
        if self._http is not None:
            return self
        if self.state_dir is not None:
            self._lock = lock_state_dir(self.state_dir)
        mailbox = Mailbox.in_dir(self.state_dir) if self.state_dir else Mailbox()
        self._mailbox = mailbox
        try:
            state = SandboxState(
                self.policy,
                mailbox,
                self.faults,
                region=self.region,
                pinpoint_ended=self.pinpoint_ended,
                suppression=self.suppression,
                reputation=self.reputation,
            )
            if self.state_dir is not None:
                self._restore(state)
                self.suppression.on_change = lambda: state.save("suppression")
            mailbox.feedback = self.feedback.events
            mailbox.event_lag = self.faults.event_lag_s
            mailbox.put_state("event_lag_s", mailbox.event_lag)  # for readers elsewhere
            self._state = state
            pinpoint = PinpointApi(state)
            if DEFAULT_APP_ID not in state.pinpoint_apps:
                pinpoint.create_application(DEFAULT_APP_NAME, DEFAULT_APP_ID)
                # Skipped when the default sender is not among the verified identities.
                with contextlib.suppress(ApiError):
                    pinpoint.set_email_channel(
                        DEFAULT_APP_ID,
                        {
                            "FromAddress": DEFAULT_SENDER,
                            "Identity": state.arn("ses", "identity/example.com"),
                            "Enabled": True,
                        },
                    )
            session = isolated_session()  # no AWS_PROFILE or config file matters here
            ses_model = session.get_service_model("sesv2")
            ses = SesV2Api(state)
            router = Router()
            for legacy in list_route_models(ses_model):  # both forms of the list operations
                router.add_service(legacy, ses.handlers(), style="ses")
            router.add_service(ses_model, ses.handlers(), style="ses")
            router.add_service(
                session.get_service_model("pinpoint"), pinpoint.handlers(), style="pinpoint"
            )
            keys = self._credentials
            http = HttpApiServer(
                router,
                port=self._api_port,
                latency_s=self.faults.latency_s,
                authenticate=SignatureCheck(
                    keys.access_key_id, keys.secret_access_key, self.region
                ),
                local_routes={("GET", CONFIRM_PATH): ses.resources.confirm_verification},
                too_large=_too_large,
            )
            try:
                http.start()
            except OSError as exc:  # a port in use: say so as the SMTP server does
                raise SandboxError(f"the sandbox HTTP API could not start: {exc}") from exc
            self._http = http
            state.endpoint_url = http.url
            if self._want_smtp:
                self._smtp = self._start_smtp(mailbox)
        except BaseException:
            self.stop()
            raise
        return self

    def _restore(self, state: SandboxState) -> None:
        """Reload persisted resources and keep the same keys across restarts."""
        state.load()
        stored = state.mailbox.get_state(_KEYS_STATE)
        if stored:
            self._credentials = _Credentials(stored["access_key_id"], stored["secret_access_key"])
        else:
            state.mailbox.put_state(
                _KEYS_STATE,
                {
                    "access_key_id": self._credentials.access_key_id,
                    "secret_access_key": self._credentials.secret_access_key,
                },
            )

    def _start_smtp(self, mailbox: Mailbox) -> Any:
        try:
            from toolkit.sandbox.smtp import SmtpServer
        except ImportError as exc:  # pragma: no cover - the SMTP module ships with the package
            raise SandboxError(f"the sandbox SMTP server is unavailable: {exc}") from exc
        certificate = None
        if self.state_dir is not None:
            from toolkit.sandbox.tls import SelfSignedCertificate

            certificate = SelfSignedCertificate.load_or_create(self.state_dir)
        server = SmtpServer(
            self.policy,
            mailbox,
            host="127.0.0.1",
            port=self._smtp_port,
            tls_port=self._smtp_tls_port,
            username=self.smtp_username,
            password=self.smtp_password,
            region=self.region,
            faults=self.faults,
            certificate=certificate,
        )
        server.start()
        return server

    def stop(self) -> None:
        """Stop both servers and close the mailbox (flushing it); idempotent."""
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self._mailbox is not None:
            self._mailbox.seal()  # still readable; closed when the sandbox is collected
        lock, self._lock = self._lock, None
        if lock is not None:
            os.close(lock)  # the next sandbox may serve from the state directory

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- sandbox-only controls ---------------------------------------------------------------

    def verify_identity(self, identity: str) -> None:
        """Complete an identity's verification, as following SES's link (an address) or
        publishing the DKIM records (a domain) would; creates it verified if it is unknown.

        The sandbox-only way; another process can follow the link in the verification mail
        (``python -m toolkit mailbox --state DIR``), or start the sandbox with ``--verified``.
        """
        self.policy.verify_identity(identity)
        if self._state is not None:
            self._state.save("identities")

    def _on_status(self, status: str) -> None:
        """SES pauses an account's sending on SHUTDOWN (modelled; see reputation.py)."""
        self.policy.sending_enabled = status != SHUTDOWN

    # -- where and how to connect -----------------------------------------------------------

    def _require_running(self) -> HttpApiServer:
        if self._http is None:
            raise SandboxError("the sandbox is not running: call start() or use `with`")
        return self._http

    @property
    def mailbox(self) -> Mailbox:
        """The mailbox of accepted messages (still readable after :meth:`stop`)."""
        if self._mailbox is None:
            raise SandboxError("the sandbox has not been started")
        return self._mailbox

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` for boto3's ``endpoint_url``."""
        return self._require_running().url

    @property
    def description(self) -> str:
        """Where a send to this sandbox goes, in words (run summaries)."""
        state = f"at {self._http.url}" if self._http is not None else "(not running)"
        return f"local sandbox {state} (nothing leaves this machine)"

    @property
    def api_port(self) -> int:
        """The HTTP API's bound port."""
        return self._require_running().port

    @property
    def access_key_id(self) -> str:
        """The access key id requests must be signed with (the sandbox checks signatures)."""
        return self._credentials.access_key_id

    @property
    def secret_access_key(self) -> str:
        """The matching secret key (kept out of reprs and logs)."""
        return self._credentials.secret_access_key

    @property
    def smtp_host(self) -> str:
        """Where the SMTP server listens."""
        return "127.0.0.1"

    @property
    def smtp_port(self) -> int | None:
        """The SMTP (STARTTLS) port, or None without SMTP."""
        return None if self._smtp is None else self._smtp.port

    @property
    def smtp_tls_port(self) -> int | None:
        """The implicit-TLS SMTP port (SES's 465), or None without it or without SMTP."""
        return None if self._smtp is None else self._smtp.tls_port

    @property
    def smtp_username(self) -> str:
        """SES-style SMTP username: the access key id."""
        return self._credentials.access_key_id

    @property
    def smtp_password(self) -> str:
        """SES-style SMTP password derived from the secret key (version 4, per Region)."""
        from toolkit.aws.smtp_password import derive_ses_smtp_password

        return derive_ses_smtp_password(self._credentials.secret_access_key, self.region)

    @property
    def certificate(self) -> Any:
        """The SMTP server's TLS certificate (``cert_pem``), or None without SMTP."""
        return None if self._smtp is None else self._smtp.certificate

    # -- as a send target (toolkit.targets.Target) ---------------------------------------------

    def resolve(self, kind: TransportKind) -> AwsTarget | SmtpTarget:
        """Where ``kind`` connects: the HTTP API for the API transports, SMTP for ``smtp``."""
        from toolkit.sandbox.target import aws_target_for, smtp_target_for

        self._require_running()
        if kind.over_smtp:
            if self._smtp is None:
                raise SandboxError("this sandbox was started with smtp=False")
            return smtp_target_for(self)
        return aws_target_for(self)

    def quota(self, kind: TransportKind) -> Quota:
        """The sandbox's own limits, for every transport (it polices them on every path)."""
        from toolkit.sandbox.target import quota_of

        return quota_of(self.policy)

    def client(self, service: str = "sesv2", **kwargs: Any) -> Any:
        """A boto3 client for ``service`` ("sesv2", "pinpoint", ...) aimed at this sandbox."""
        if self._boto3 is None:
            # One session per sandbox, blind to AWS_PROFILE and ~/.aws: its clients share
            # exception classes (client.exceptions.X matches across them), as boto3.client's.
            self._boto3 = isolated_boto3_session(None, None, self.region)
        options: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
        }
        options.update(kwargs)
        return self._boto3.client(service, **options)

    def info(self) -> dict[str, Any]:
        """Everything a client needs, as one JSON-serialisable dict (the CLI prints it)."""
        from toolkit.sandbox.tls import CERT_FILE  # lazy: tls imports cryptography

        return {
            "endpoint_url": self.endpoint_url,
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "smtp_host": self.smtp_host,
            "smtp_port": self.smtp_port,
            "smtp_tls_port": self.smtp_tls_port,
            "smtp_username": self.smtp_username,
            "smtp_password": self.smtp_password if self._smtp is not None else None,
            # The self-signed certificate to verify STARTTLS against (kept with a state dir).
            "smtp_cafile": (
                str(self.state_dir / CERT_FILE)
                if self._smtp is not None and self.state_dir is not None
                else None
            ),
            "pinpoint_app_id": self.pinpoint_app_id,
            "sender": DEFAULT_SENDER,
            "state_dir": str(self.state_dir) if self.state_dir else None,
        }

    def __repr__(self) -> str:
        if self._http is None:
            return f"Sandbox(region={self.region!r}, stopped)"
        return (
            f"Sandbox(endpoint_url={self.endpoint_url!r}, smtp_port={self.smtp_port}, "
            f"region={self.region!r}, faults={self.faults!r})"
        )


def _too_large(path: str, length: int) -> tuple[int, str, str]:
    """A request body too large to read: SES's one over-size answer; Pinpoint's 413."""
    if path.startswith("/v1/"):
        return 413, "PayloadTooLargeException", f"Request body of {length} bytes is too large."
    return 400, "BadRequestException", too_large_message(length)
