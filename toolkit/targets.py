"""Where to send, and what the account's quota is there.

A *target* says where the transports connect and with which credentials; it holds no open
connections itself. Every target answers two questions for a transport kind (see
:mod:`toolkit.transports.registry`):

* ``resolve(kind)`` — the endpoint the transport connects to: an :class:`AwsTarget` for the API
  transports, an :class:`SmtpTarget` for SMTP (a configuration error for the wrong kind);
* ``quota(kind)`` — the account's :class:`Quota`, or None when it cannot be known:
  :class:`AwsTarget` reads SES ``GetAccount`` (Pinpoint: the email channel's
  ``MessagesPerSecond``), :class:`SmtpTarget` reports the ``rate=`` it was
  given (SMTP has no way to ask), and the embedded sandbox reports its own policy
  (:class:`toolkit.sandbox.Sandbox`).

Credentials come from boto3's normal chain (environment, profile, instance role) unless given
explicitly. Secrets never appear in a repr.

Usage::

    target = AwsTarget(region="eu-west-1")                     # real SES, default credentials
    smtp = SmtpTarget("email-smtp.eu-west-1.amazonaws.com", username=..., password=..., rate=14)
    smtp = SmtpTarget.from_aws_credentials("eu-west-1", key_id, secret)
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import os
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from toolkit.delivery.pacing import KeepsPace
from toolkit.errors import ConfigurationError, ProviderConfigurationError

if TYPE_CHECKING:
    import boto3

    from toolkit.transports.registry import TransportKind

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "AwsTarget",
    "Quota",
    "SmtpTarget",
    "Target",
    "TlsMode",
    "describe_target",
    "is_loopback_host",
]

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0

logger = logging.getLogger(__name__)

TlsMode = Literal["starttls", "implicit", "none"]


@dataclass(frozen=True, slots=True)
class Quota:
    """An account's sending limits, counted in recipients (SES ``GetAccount.SendQuota``)."""

    max_send_rate: float
    max_24_hour_send: float  # -1 means unlimited
    sent_last_24_hours: float = 0.0
    answered_in: float | None = None
    """Seconds the quota call took: the engine sizes its first requests by it (sizing only:
    the call also opened the connection, so it overstates the distance)."""

    @property
    def remaining_24_hours(self) -> float | None:
        """Recipients left in the rolling 24 h window, or None when unlimited."""
        if self.max_24_hour_send < 0:
            return None
        return max(0.0, self.max_24_hour_send - self.sent_last_24_hours)


@runtime_checkable
class Target(Protocol):
    """Where a transport kind sends, and the quota there (see the module docstring)."""

    def resolve(self, kind: TransportKind) -> AwsTarget | SmtpTarget: ...

    def quota(self, kind: TransportKind) -> Quota | None: ...


def _profile_not_found(profile: str | None) -> str:
    """The one line for a profile boto3 cannot find, naming where the name came from."""
    files = "the AWS config files (~/.aws/config, ~/.aws/credentials)"
    if profile is not None:
        return (f"profile {profile!r} is not in {files}: check its name with "
                "`aws configure list-profiles`")  # fmt: skip
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        value = os.environ.get(variable)
        if value is not None and not value.strip():
            return (f"{variable} is set but empty: unset it (unset {variable}) or name a "
                    "profile, e.g. --profile prod")  # fmt: skip
        if value is not None:
            return (f"{variable}={value!r} names a profile that is not in {files}: fix or "
                    f"unset {variable} (profiles: `aws configure list-profiles`)")  # fmt: skip
    return f"the default profile is not in {files}"


@dataclass(frozen=True, eq=False)
class AwsTarget(KeepsPace):
    """An AWS account and Region (or an SES-compatible endpoint such as the sandbox).

    Args:
        region: AWS Region; when None, the session's default Region (``AWS_REGION`` etc.).
        profile: a named profile of the shared AWS config files.
        endpoint_url: another endpoint than AWS's (the sandbox, a VPC endpoint).
        access_key_id / secret_access_key / session_token: explicit credentials; when None,
            boto3's credential chain decides.
        session: a ready ``boto3.Session`` (then ``profile`` and the keys are not used).
        client: a ready, boto3-compatible client used as is for every service a transport
            asks for (e.g. the fast client, or a client with a Stubber). Its retry settings
            are the caller's business.
        pinpoint_app_id: the Pinpoint application (project) id SendMessages posts to.
        fast: use :func:`toolkit.aws.client.make_client` (the default): boto3 on the wire
            (endpoint rules, credentials, CA bundle and timeouts all taken from the boto3
            client it wraps, compared byte for byte with it) at a fraction of its CPU per
            request. Where it would differ (a proxy, a botocore whose models changed) the
            plain boto3 client is used, with one ``FastClientHandoverWarning``; ``fast=False``
            always gives plain boto3.
        connect_timeout / read_timeout: seconds, per request.
        ignore_aws_config: use only this target's own settings: ``AWS_PROFILE`` and the shared
            config and credentials files are not read (the sandbox's targets: a broken
            profile meant for AWS must not stop a local endpoint).

    Clients made here never retry on their own (``total_max_attempts=1``): the engine owns
    retries, pacing and the ``unknown`` status, and a silent SDK retry after a read timeout
    could send a message twice.
    """

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    session: boto3.Session | None = field(default=None, repr=False)
    client: Any = field(default=None, repr=False)
    pinpoint_app_id: str | None = None
    fast: bool = True
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    ignore_aws_config: bool = False

    def __post_init__(self) -> None:
        _check_aws_settings(self)

    def boto3_session(self) -> boto3.Session:
        """The session credentials and the default Region come from (made once per target:
        a session caches the service models and the resolved credentials, so the clients for
        GetAccount and for sending do not each load them again)."""
        if self.session is not None:
            return self.session
        return self._own_session

    @functools.cached_property
    def _own_session(self) -> boto3.Session:
        import boto3
        from botocore.exceptions import ProfileNotFound

        if self.ignore_aws_config:
            from toolkit.aws.isolated import isolated_boto3_session

            return isolated_boto3_session(
                self.access_key_id,
                self.secret_access_key,
                self.region,
                aws_session_token=self.session_token,
            )
        try:
            return boto3.Session(
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
                aws_session_token=self.session_token,
                region_name=self.region,
                profile_name=self.profile,
            )
        except ProfileNotFound as exc:
            raise ConfigurationError(_profile_not_found(self.profile)) from exc

    def make_client(self, service: str, *, workers: int = 1) -> Any:
        """A client for ``service`` ('sesv2' or 'pinpoint') shared by ``workers`` threads.

        Returns ``self.client`` when one was given. Raises ConfigurationError when no Region
        can be found.
        """
        if self.client is not None:
            return self.client
        session = self.boto3_session()
        region = self.region or session.region_name
        if not region:
            raise ConfigurationError(
                "no AWS Region: pass region=... or set AWS_REGION / a profile's region"
            )
        from botocore.config import Config

        # One configuration for both clients, so that a hand-over changes nothing on the wire.
        config = Config(
            region_name=region,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=max(1, workers) + 2,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            tcp_keepalive=True,
        )
        if self.fast:
            from toolkit.aws import client as fastaws

            return fastaws.make_client(
                service,
                region=region,
                endpoint_url=self.endpoint_url,
                session=session,
                config=config,
            )
        return session.client(service, endpoint_url=self.endpoint_url, config=config)

    def resolve(self, kind: TransportKind) -> AwsTarget:
        """This target, for the API transports; SMTP needs an :class:`SmtpTarget`."""
        if kind.endpoint != "aws":
            raise ConfigurationError(
                f"via={kind.name!r} needs an SmtpTarget (host, port, credentials), not an AwsTarget"
            )
        return self

    def quota(self, kind: TransportKind) -> Quota | None:
        """The SES account's ``GetAccount.SendQuota`` for kinds it governs; for Pinpoint, which
        has no GetAccount, the email channel's ``MessagesPerSecond`` (no daily figure: a
        daily-quota answer still stops the run); else None.

        Credentials that do not work (missing, expired, rejected) raise
        :class:`~toolkit.errors.ProviderConfigurationError` before anything is sent. Other
        failures (many IAM policies allow sending but not ``ses:GetAccount``; no Pinpoint
        project id or channel) return None: the engine then adapts to throttling.
        """
        if kind.channel_quota:
            app = self.pinpoint_app_id
            if not app:
                return None
            answer, took = self._ask(kind, "pinpoint", "GetEmailChannel", ApplicationId=app)
            rate = (answer or {}).get("EmailChannelResponse", {}).get("MessagesPerSecond")
            ok = isinstance(rate, int | float) and not isinstance(rate, bool) and rate > 0
            return Quota(float(rate), -1, answered_in=took) if ok else None
        if not kind.account_quota:
            return None
        account, took = self._ask(kind, "sesv2", "GetAccount")
        quota = (account or {}).get("SendQuota") or {}
        if "MaxSendRate" not in quota:
            return None
        return Quota(
            max_send_rate=float(quota["MaxSendRate"]),
            max_24_hour_send=float(quota.get("Max24HourSend", -1)),
            sent_last_24_hours=float(quota.get("SentLast24Hours", 0.0)),
            answered_in=took,
        )

    def _ask(self, kind: TransportKind, service: str, op: str, **params: Any) -> tuple[Any, float]:
        """One quota call's answer (None, logged, when refused for want of a right or of the
        resource; ProviderConfigurationError for bad credentials or endpoint), its seconds."""
        from botocore import xform_name

        from toolkit.transports.classify import classify_aws_exception

        client = self.make_client(service)
        call = getattr(client, xform_name(op))
        began = time.monotonic()
        try:
            return call(**params), time.monotonic() - began
        except Exception as exc:  # classified below: configuration, or carry on without
            classified = classify_aws_exception(service, exc)
            if classified.is_configuration and not re.search("AccessDenied|NotFound",
                                                             classified.code):  # fmt: skip
                raise ProviderConfigurationError(
                    classified.code, f"{op}: {classified.message}", kind.name
                ) from exc
            logger.warning("%s failed (%s); pacing without a known quota", op,
                           classified.code)  # fmt: skip
            return None, time.monotonic() - began
        finally:
            if self.client is None and hasattr(client, "close"):
                client.close()


# botocore's rule for a Region name (a DNS host label), so a name it would refuse later is
# refused here, before anything is sent.
_REGION = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$")


def _check_aws_settings(target: AwsTarget) -> None:
    """Refuse an endpoint, Region or timeout no request could use (ConfigurationError).

    Checked when the target is made: a bad value found only at send time used to end rows
    ``unknown`` (an ``ftp://`` endpoint) or in a traceback (a Region with spaces).
    """
    from urllib.parse import urlsplit

    url = target.endpoint_url
    if url is not None:
        problem = None
        if not isinstance(url, str):
            problem = f"must be a string, not {type(url).__name__}"
        else:
            try:
                parts = urlsplit(url)
                parts.port  # noqa: B018 - raises ValueError for a port out of range
            except ValueError as exc:
                problem = f"is not a valid URL ({exc})"
            else:
                if parts.scheme not in ("http", "https"):
                    problem = "must start with https:// (or http:// for a local endpoint)"
                elif not parts.hostname or any(c.isspace() for c in url):
                    problem = "must name a host, without spaces"
        if problem is not None:
            shown = re.sub(r"//[^/@]*@", "//***@", url) if isinstance(url, str) else url
            raise ConfigurationError(
                f"endpoint_url {shown!r} {problem}; for example "
                "https://email.eu-west-1.amazonaws.com or http://127.0.0.1:4566"
            )
    region = target.region
    if region is not None and not (isinstance(region, str) and _REGION.match(region)):
        raise ConfigurationError(
            f"region {region!r} is not an AWS Region name: use letters, digits and dashes, "
            "like eu-west-1"
        )
    for name in ("profile", "pinpoint_app_id"):
        value = getattr(target, name)
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise ConfigurationError(f"{name} must be a non-empty string, not {value!r}")
    for name in ("connect_timeout", "read_timeout"):
        value = getattr(target, name)
        if not (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        ):
            raise ConfigurationError(f"{name} must be a positive number of seconds, not {value!r}")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (where a self-signed cert is normal)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpTarget(KeepsPace):
    """One SMTP endpoint and how to log in to it.

    Args:
        host / port: the server (SES: ``email-smtp.<region>.amazonaws.com``, 587 or 465).
        username / password: SMTP AUTH credentials (SES: the access key id and the derived
            password, see :meth:`from_aws_credentials`); no AUTH when username is None.
        tls: ``"starttls"`` (EHLO, STARTTLS, EHLO), ``"implicit"`` (TLS from the first byte,
            ports 465/2465) or ``"none"`` (plain text; only sensible on loopback).
        verify: check the server certificate and host name. Turned off only when asked, or
            for a loopback host when no ``ca_pem`` is given (a self-signed local server).
        ca_pem: PEM certificate(s) to trust instead of the system store (pin a test server).
        timeout: seconds for connect and for each reply (CLI ``--timeout``).
        max_timeouts_in_row: stop the run (rows not sent stay pending for a resume) after
            this many replies in a row never came within ``timeout``: a server that stalls
            after RCPT would otherwise cost ``timeout`` x attempts for every row.
        reconnect_after_messages / reconnect_after_seconds: open a fresh connection after
            this many messages or this age, as SES advises (its fleet recycles instances;
            it closes a session after ~350 messages, ``SES_SMTP_MESSAGES_PER_CONNECTION``).
        local_hostname: the name sent in EHLO (default: the machine's FQDN, as smtplib does).
        rate / daily_quota: the account's send rate (recipients per second) and 24-hour quota,
            when you know them: SMTP has no way to ask. Without a rate the engine adapts to
            throttling (454 replies).
    """

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsMode = "starttls"
    verify: bool = True
    ca_pem: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    max_timeouts_in_row: int = 3
    reconnect_after_messages: int = 300  # SES closes a session after ~350 (facts)
    reconnect_after_seconds: float = 300.0
    local_hostname: str | None = None
    rate: float | None = None
    daily_quota: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host or any(c.isspace() for c in self.host):
            raise ConfigurationError(f"host must be a host name or address, not {self.host!r}")
        if not (isinstance(self.port, int) and not isinstance(self.port, bool)) or not (
            0 < self.port < 65536
        ):
            raise ConfigurationError(
                f"port must be a whole number from 1 to 65535, not {self.port!r}"
            )
        if self.tls not in ("starttls", "implicit", "none"):
            raise ConfigurationError(f"tls must be starttls, implicit or none, not {self.tls!r}")
        if self.reconnect_after_messages < 1 or self.reconnect_after_seconds <= 0:
            raise ConfigurationError("reconnect_after_messages/seconds must be positive")
        if not (isinstance(self.timeout, int | float) and math.isfinite(self.timeout)) or (
            self.timeout <= 0
        ):
            raise ConfigurationError("timeout must be a positive number of seconds")
        if not isinstance(self.max_timeouts_in_row, int) or self.max_timeouts_in_row < 1:
            raise ConfigurationError("max_timeouts_in_row must be a whole number of at least 1")
        if (self.username is None) != (self.password is None):
            raise ConfigurationError("give both username and password, or neither")
        for name in ("rate", "daily_quota"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise ConfigurationError(f"SmtpTarget {name} must be a positive number")

    def resolve(self, kind: TransportKind) -> SmtpTarget:
        """This target, for SMTP; the API transports need an :class:`AwsTarget`."""
        if not kind.over_smtp:
            raise ConfigurationError(
                f"via={kind.name!r} needs an AwsTarget (region, profile or endpoint), "
                "not an SmtpTarget"
            )
        return self

    def quota(self, kind: TransportKind) -> Quota | None:
        """The ``rate``/``daily_quota`` given (SMTP cannot ask), or None."""
        if self.rate is None:
            return None
        daily = self.daily_quota if self.daily_quota is not None else -1.0
        return Quota(float(self.rate), float(daily))

    @classmethod
    def from_aws_credentials(
        cls,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        *,
        port: int = 587,
        tls: TlsMode = "starttls",
        host: str | None = None,
        **options: Any,
    ) -> SmtpTarget:
        """SES's SMTP endpoint for ``region``, logging in with an IAM key pair.

        The password is derived from the secret key (SES SMTP credentials are per Region;
        temporary STS keys do not work).
        """
        from toolkit.aws.smtp_password import derive_ses_smtp_password

        return cls(
            host=host or f"email-smtp.{region}.amazonaws.com",
            port=port,
            username=access_key_id,
            password=derive_ses_smtp_password(secret_access_key, region),
            tls=tls,
            **options,
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context, or None for ``tls="none"``."""
        if self.tls == "none":
            return None
        if self.ca_pem is not None:
            context = ssl.create_default_context(cadata=self.ca_pem)
        else:
            context = ssl.create_default_context()
        if not self.verify or (self.ca_pem is None and is_loopback_host(self.host)):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def describe_target(target: object) -> str:
    """Where a send goes, in words for the run summary (never a secret)."""
    if isinstance(target, AwsTarget):
        where = target.endpoint_url or f"AWS {target.region or 'default Region'}"
        return f"AWS API at {where}" if target.endpoint_url else where
    if isinstance(target, SmtpTarget):
        return f"SMTP {target.host}:{target.port}"
    description = getattr(target, "description", None)  # a Sandbox says what it is
    if isinstance(description, str):
        return description
    name = getattr(target, "name", None)
    return f"transport {name}" if isinstance(name, str) else type(target).__name__
