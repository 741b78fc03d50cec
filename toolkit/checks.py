"""Before a real send, check the account and the path (``toolkit.check``, ``toolkit check``).

A first send to AWS fails for reasons a sandbox run cannot show: credentials that do not work,
an account still in the SES sandbox, a quota already spent, a sender that was never verified,
a template or configuration set that exists in another Region, an SMTP password derived for
another Region. :func:`check` asks the provider about each, without sending anything, and
returns the answers as data: one :class:`Check` per question (``name``, ``passed``,
``detail``, and the ``fix`` when it failed), in a :class:`CheckReport` whose ``ok`` is True
only when every check passed. The CLI prints the report as a checklist and exits 0 only then.

The checks, by transport (``via``):

* the SES API (``ses``, ``ses-bulk``) and ``pinpoint``: the credentials work (SES
  ``GetAccount``), production access or the SES sandbox, the quota and what is left of it
  today (against the number of rows, when known), the sender may send (its address, its
  ``+label`` base, its domain or a parent domain is a verified identity), then DKIM for the
  sender's domain, the configuration set exists, the stored template exists and which columns
  it needs (missing ones fail when the data is given); for Pinpoint also the project and its
  email channel;
* ``smtp``: connect (the greeting), STARTTLS (or implicit TLS), AUTH; plus the account checks
  when an AWS target is known too (a :class:`~toolkit.sandbox.Sandbox` is both).

Nothing here sends a message or changes the account.

Why one module of this size: the checks are one list, read top to bottom against the issue
that asked for them; split by provider, the one report would be assembled across files.

Usage::

    report = toolkit.check("ses", target=AwsTarget(region="eu-west-1"),
                           sender="shop@example.com", template="order_confirmation", data=df)
    print(report)          # the checklist
    report.ok              # True only when every check passed
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from toolkit.compose.render import placeholders
from toolkit.errors import ConfigurationError
from toolkit.targets import AwsTarget, SmtpTarget, Target
from toolkit.transports.registry import TRANSPORTS, through_pinpoint

__all__ = ["Check", "CheckReport", "check"]


@dataclass(frozen=True, slots=True)
class Check:
    """One question asked of the provider, and its answer."""

    name: str
    passed: bool
    detail: str
    fix: str = ""  # what to do about it (failed checks only)


@dataclass(frozen=True)
class CheckReport:
    """Every check of one :func:`check` call, in order; ``ok`` only when all passed."""

    via: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(item.passed for item in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        """The checks that did not pass."""
        return tuple(item for item in self.checks if not item.passed)

    def lines(self) -> list[str]:
        """The checklist: ``[ok]`` or ``[FAIL]``, the check, the answer, and each fix."""
        width = max((len(item.name) for item in self.checks), default=0)
        out = []
        for item in self.checks:
            mark = "[ok]  " if item.passed else "[FAIL]"
            out.append(f"{mark} {item.name:<{width}}  {item.detail}")
            if not item.passed and item.fix:
                out.append(f"       {'':<{width}}  fix: {item.fix}")
        failed = len(self.failed)
        out.append(
            f"all {len(self.checks)} checks passed for via={self.via}"
            if not failed
            else f"{failed} of {len(self.checks)} checks failed for via={self.via}"
        )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def check(
    via: str = "ses",
    *,
    target: Any = None,
    sender: str | None = None,
    template: str | None = None,
    configuration_set: str | None = None,
    data: Any = None,
    rows: int | None = None,
    account: AwsTarget | None = None,
) -> CheckReport:
    """Check the account and the path ``via`` would take, without sending (see the module).

    Args:
        via: the transport (``ses``, ``ses-bulk``, ``pinpoint``, ``smtp``).
        target: an :class:`~toolkit.targets.AwsTarget`, an :class:`~toolkit.targets.SmtpTarget`
            or a running :class:`~toolkit.sandbox.Sandbox`; None checks an embedded sandbox
            started for the call, as :func:`toolkit.send` would send to one.
        sender: the From address (``Name <addr>`` allowed); without it, no sender/DKIM check.
        template: a stored SES (or Pinpoint) template the send would use.
        configuration_set: the SES configuration set the send would name.
        data: the DataFrame to send (its columns are checked against the template, its length
            against the quota); ``rows`` gives the length alone.
        account: for ``via="smtp"``, the AWS account behind the SMTP credentials, to run the
            account checks too (a Sandbox target is both).

    Raises ConfigurationError for an unknown ``via`` or a target that cannot serve it.
    """
    kind = TRANSPORTS.get(via)
    if kind is None:
        raise ConfigurationError(f"via must be one of {', '.join(TRANSPORTS)}, not {via!r}")
    if data is not None and rows is None:
        rows = len(data)
    columns = None if data is None else [str(c) for c in data.columns]
    with _target_scope(target) as where:
        resolved = where.resolve(kind) if isinstance(where, Target) else where
        checks: list[Check] = []
        aws = resolved if isinstance(resolved, AwsTarget) else account
        if isinstance(resolved, SmtpTarget):
            checks += _smtp_checks(resolved)
            if aws is None and hasattr(where, "resolve") and hasattr(where, "endpoint_url"):
                aws = where.resolve(TRANSPORTS["ses"])  # a sandbox serves both
        elif not isinstance(resolved, AwsTarget):
            raise ConfigurationError(f"cannot check a {type(resolved).__name__} target")
        if aws is not None:
            checks += _Account(aws, via).checks(
                sender=sender,
                template=template if not kind.over_smtp else None,
                configuration_set=configuration_set,
                columns=columns,
                rows=rows,
            )
        return CheckReport(via, tuple(checks))


@contextlib.contextmanager
def _target_scope(target: Any) -> Iterator[Any]:
    if target is not None:
        yield target
        return
    from toolkit.sandbox import Sandbox

    with Sandbox() as sandbox:
        yield sandbox


# -- the AWS account (SES API, and Pinpoint) ------------------------------------------------


def _error(exc: Exception) -> tuple[str, str]:
    """(code, message) of a botocore error, or of any other failure."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return str(error.get("Code", "")), str(error.get("Message", ""))
    return type(exc).__name__, str(exc)


# Answers that mean the keys are wrong or may not call GetAccount (not the endpoint).
_CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied", "AccessDeniedException", "ExpiredToken", "ExpiredTokenException",
        "IncompleteSignature", "InvalidAccessKeyId", "InvalidClientTokenId",
        "InvalidSignatureException", "MissingAuthenticationTokenException",
        "NoCredentialsError", "PartialCredentialsError", "RequestExpired",
        "SignatureDoesNotMatch", "UnauthorizedOperation", "UnrecognizedClientException",
    }
)  # fmt: skip
# Answers that mean the endpoint is not SES v2 (or has no GetAccount).
_NOT_SES_CODES = frozenset(
    {"UnknownOperationException", "NotImplementedException", "InvalidAction", "UnknownOperation"}
)
_UNREACHABLE = (
    "EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError",
    "ConnectionClosedError", "SSLError", "ProxyConnectionError", "InvalidProxiesError",
)  # fmt: skip
_ENDPOINT_FIX = (
    "check endpoint_url (--endpoint-url): SES v2 is https://email.<region>.amazonaws.com; a "
    "local sandbox prints its URL when it starts"
)


def _short(text: str) -> str:
    """An answer fit for one line: an HTML page becomes its title, long text is cut."""
    if text.lstrip().startswith("<"):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        text = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
        text = "an HTML page" + (f" ({' '.join(text.split())[:80]})" if text.strip() else "")
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


def _get_account_failure(exc: Exception, endpoint: str) -> Check:
    """The one line for a GetAccount that failed: the endpoint, the credentials, or else."""
    code, message = _error(exc)
    response = getattr(exc, "response", None) or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    where = endpoint or "the endpoint"
    if code in _UNREACHABLE or type(exc).__name__ in _UNREACHABLE:
        return Check("endpoint", False, f"cannot reach {where}: {_short(message)}", _ENDPOINT_FIX)
    if code in _CREDENTIAL_CODES:
        return Check(
            "credentials",
            False,
            f"GetAccount: {code}: {_short(message)}",
            "set working credentials (AWS_PROFILE, `aws configure`, or the keys) allowed "
            "ses:GetAccount in this Region",
        )
    html = message.lstrip().startswith("<")
    if code in _NOT_SES_CODES or code.isdigit() or html or status in (404, 405, 501):
        answer = f"HTTP {status}" if status else code
        return Check(
            "endpoint",
            False,
            f"{where} does not answer SES v2 GetAccount ({answer}: {_short(message)})",
            _ENDPOINT_FIX,
        )
    if status == 403:
        fix = "check the credentials and that they may call ses:GetAccount in this Region"
    else:
        fix = _ENDPOINT_FIX
    return Check("GetAccount", False, f"{code}: {_short(message)}", fix)


def _bare(address: str) -> str:
    return (parseaddr(address)[1] or address).strip()


def _candidates(address: str) -> list[str]:
    """Identities that would let ``address`` send, most specific first (as SES matches)."""
    local, _, domain = address.rpartition("@")
    found = [address]
    if "+" in local:
        found.append(f"{local.split('+', 1)[0]}@{domain}")
    labels = domain.lower().split(".")
    found += [".".join(labels[i:]) for i in range(len(labels) - 1)]
    return found


class _Account:
    """The API checks against one AWS target (one client per service, closed at the end)."""

    def __init__(self, target: AwsTarget, via: str) -> None:
        self.target = target
        self.via = via

    def checks(
        self,
        *,
        sender: str | None,
        template: str | None,
        configuration_set: str | None,
        columns: list[str] | None,
        rows: int | None,
    ) -> list[Check]:
        try:
            ses = self.target.make_client("sesv2")
        except ConfigurationError as exc:
            return [Check("credentials", False, str(exc), "give a Region (--region, AWS_REGION)")]
        with contextlib.closing(ses) if hasattr(ses, "close") else contextlib.nullcontext():
            try:
                account = ses.get_account()
            except Exception as exc:  # every failure is the answer to this check
                return [_get_account_failure(exc, getattr(ses.meta, "endpoint_url", ""))]
            region = ses.meta.region_name
            out = [Check("credentials", True, f"GetAccount answered in {region}")]
            out += [self._mode(account), self._quota(account, rows)]
            if sender:
                out += self._sender(ses, _bare(sender))
            if configuration_set:
                out.append(self._configuration_set(ses, configuration_set))
            if through_pinpoint(self.via):
                out += self._pinpoint(template, columns)
            elif template:
                out.append(self._ses_template(ses, template, columns))
            return out

    @staticmethod
    def _mode(account: dict[str, Any]) -> Check:
        if not account.get("SendingEnabled", True):
            return Check(
                "account",
                False,
                "sending is paused for this account",
                "see the SES console's account dashboard for why, and ask AWS to resume it",
            )
        reasons = (account.get("SuppressionAttributes") or {}).get("SuppressedReasons")
        standing = (
            f"; reputation {account.get('EnforcementStatus', 'unknown')}; account suppression "
            + (f"list on for {', '.join(reasons)}" if reasons else "list off (bounces not kept)")
        )
        if account.get("EnforcementStatus") == "PROBATION":
            return Check(
                "account",
                False,
                f"under review (PROBATION): bounces or complaints are too high{standing}",
                "find and fix the cause before sending more (SES console > Reputation metrics); "
                "send with a suppression list and the circuit breaker",
            )
        if account.get("ProductionAccessEnabled"):
            return Check("account", True, f"production access (out of the SES sandbox){standing}")
        return Check(
            "account",
            False,
            f"in the SES sandbox: only verified recipients and the mailbox simulator{standing}",
            "request production access (SES console > Account dashboard), or send only to "
            "verified addresses and success@simulator.amazonses.com",
        )

    @staticmethod
    def _quota(account: dict[str, Any], rows: int | None) -> Check:
        quota = account.get("SendQuota") or {}
        rate = float(quota.get("MaxSendRate", 0))
        daily = float(quota.get("Max24HourSend", -1))
        sent = float(quota.get("SentLast24Hours", 0))
        if daily < 0:
            left_text, left = "no 24-hour limit", None
        else:
            left = max(0.0, daily - sent)
            left_text = f"{daily:,.0f} per 24 h, {sent:,.0f} sent, {left:,.0f} left today"
        detail = f"{rate:g} recipients/s; {left_text}"
        if left is not None and (left <= 0 or (rows is not None and rows > left)):
            need = f" for {rows:,} rows" if rows is not None else ""
            return Check(
                "quota",
                False,
                f"{detail}: not enough{need}",
                "wait for the rolling 24-hour window, send fewer rows (limit=), or ask for a "
                "quota increase (Service Quotas > Amazon SES)",
            )
        if rows is not None:
            detail += f"; {rows:,} rows to send"
        return Check("quota", True, detail)

    def _identity(self, ses: Any, name: str) -> dict[str, Any] | None:
        try:
            return dict(ses.get_email_identity(EmailIdentity=name))
        except Exception as exc:  # NotFound (or no permission): not an identity we can use
            if _error(exc)[0] not in ("NotFoundException", "NotFound"):
                raise
            return None

    def _sender(self, ses: Any, address: str) -> list[Check]:
        local, at, domain_part = address.rpartition("@")
        if not at or not local or not domain_part:  # "@example.com" is no address either
            return [Check("sender", False, f"{address!r} is not an address", "give --from")]
        domain = address.rpartition("@")[2].lower()
        verifying = None
        try:
            for name in _candidates(address):
                found = self._identity(ses, name)
                if found is None:
                    continue
                if found.get("VerifiedForSendingStatus"):
                    sender = Check("sender", True, f"{address} may send (identity {name})")
                    break
                verifying = verifying or (name, found.get("VerificationStatus", "PENDING"))
            else:
                # DKIM is moot until the sender may send: one failing line, with its fix.
                return [self._unverified(address, verifying)]
            return [sender, self._dkim(ses, domain)]
        except Exception as exc:  # a permission or connection problem: say which
            code, message = _error(exc)
            failed = f"GetEmailIdentity: {code}: {message}"
            return [Check("sender", False, failed, "allow ses:GetEmailIdentity")]

    @staticmethod
    def _unverified(address: str, verifying: tuple[str, str] | None) -> Check:
        if verifying is not None:
            name, status = verifying
            return Check(
                "sender",
                False,
                f"{address} may not send: identity {name} is {status}",
                f"follow the link AWS mailed to {name} (it expires after 24 hours), or publish "
                "the domain's DKIM records; then check again",
            )
        return Check(
            "sender",
            False,
            f"{address} may not send: neither it nor its domain is a verified identity",
            f"verify it: `aws sesv2 create-email-identity --email-identity {address}` and "
            "follow the link in the mail, or verify its domain",
        )

    def _dkim(self, ses: Any, domain: str) -> Check:
        for name in [domain, *_candidates(f"x@{domain}")[1:]]:
            found = self._identity(ses, name)
            if found is None:
                continue
            status = (found.get("DkimAttributes") or {}).get("Status", "NOT_STARTED")
            if status == "SUCCESS":
                return Check("DKIM", True, f"{name} signs with DKIM ({status})")
            return Check(
                "DKIM",
                False,
                f"{name}: DKIM {status}",
                f"publish the three CNAME records of {name}'s DKIM tokens in its DNS",
            )
        # A verified address may send from an unverified domain: SES sends the mail, signed
        # with its own amazonses.com DKIM key. Not a failure, but worth knowing (DMARC).
        return Check(
            "DKIM",
            True,
            f"{domain} is not a domain identity: SES signs its mail with amazonses.com's DKIM, "
            f"not aligned with {domain} (verify the domain and publish its DKIM records for "
            "DMARC alignment)",
        )

    @staticmethod
    def _configuration_set(ses: Any, name: str) -> Check:
        try:
            ses.get_configuration_set(ConfigurationSetName=name)
        except Exception as exc:
            code, message = _error(exc)
            return Check(
                "configuration set",
                False,
                f"{name}: {code}: {message}",
                f"create it in {ses.meta.region_name}: `aws sesv2 create-configuration-set "
                f"--configuration-set-name {name}`, or send without it",
            )
        return Check("configuration set", True, f"{name} exists")

    @staticmethod
    def _columns_check(name: str, fields: Sequence[str], columns: list[str] | None) -> Check:
        needs = ", ".join(fields) if fields else "no columns"
        if columns is not None:
            missing = [f for f in fields if f not in columns]
            if missing:
                return Check(
                    "template",
                    False,
                    f"{name} needs {needs}; the data lacks {', '.join(missing)}",
                    "add those columns to the data (or rename them to match)",
                )
        return Check("template", True, f"{name} exists; it needs columns: {needs}")

    def _ses_template(self, ses: Any, name: str, columns: list[str] | None) -> Check:
        try:
            content = ses.get_email_template(TemplateName=name)["TemplateContent"]
        except Exception as exc:
            code, message = _error(exc)
            return Check(
                "template",
                False,
                f"{name}: {code}: {message}",
                f"create it in {ses.meta.region_name} (`aws sesv2 create-email-template`), "
                "or send with --subject/--text instead",
            )
        return self._columns_check(name, _fields(content.values()), columns)

    def _pinpoint(self, template: str | None, columns: list[str] | None) -> list[Check]:
        app = self.target.pinpoint_app_id
        if not app:
            return [Check("Pinpoint project", False, "no project id", "give pinpoint_app_id")]
        client = self.target.make_client("pinpoint")
        with contextlib.closing(client) if hasattr(client, "close") else contextlib.nullcontext():
            out = []
            try:
                channel = client.get_email_channel(ApplicationId=app)["EmailChannelResponse"]
                enabled = channel.get("Enabled", False)
                out.append(
                    Check(
                        "Pinpoint project",
                        bool(enabled),
                        f"{app}: email channel {'enabled' if enabled else 'disabled'}",
                        "enable the project's email channel" if not enabled else "",
                    )
                )
            except Exception as exc:
                code, message = _error(exc)
                out.append(
                    Check(
                        "Pinpoint project",
                        False,
                        f"{app}: {code}: {message}",
                        "Pinpoint email ended on 2026-10-30: send with via='ses' or 'ses-bulk'",
                    )
                )
                return out
            if template:
                try:
                    found = client.get_email_template(TemplateName=template)[
                        "EmailTemplateResponse"
                    ]
                except Exception as exc:
                    code, message = _error(exc)
                    failed = f"{template}: {code}: {message}"
                    out.append(Check("template", False, failed, "create the email template"))
                else:
                    parts = (found.get(k) for k in ("Subject", "TextPart", "HtmlPart"))
                    out.append(self._columns_check(template, _fields(parts), columns))
            return out


def _fields(parts: Any) -> tuple[str, ...]:
    """The columns a stored template's parts use (Handlebars helpers such as #if left out)."""
    seen: dict[str, None] = {}
    for part in parts:
        if isinstance(part, str):
            for name in placeholders(part):
                if name and name[0] not in "#/^!>" and name != "else":
                    seen.setdefault(name, None)
    return tuple(seen)


# -- SMTP -----------------------------------------------------------------------------------


def _smtp_checks(target: SmtpTarget) -> list[Check]:
    """Connect, TLS, AUTH: each a line; the first failure ends the list (the rest cannot run)."""
    where = f"{target.host}:{target.port}"
    context = target.ssl_context()
    try:
        if target.tls == "implicit":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=target.timeout, context=context
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=target.timeout)
    except (OSError, smtplib.SMTPException) as exc:
        fix = "check the host and port (SES: email-smtp.<region>.amazonaws.com, 587 or 465)"
        return [Check("SMTP connect", False, f"{where}: {exc}", fix)]
    out = [Check("SMTP connect", True, f"{where} answered")]
    try:
        client.ehlo(target.local_hostname or socket.getfqdn())
        if target.tls == "starttls":
            try:
                client.starttls(context=context)
                client.ehlo(target.local_hostname or socket.getfqdn())
            except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
                fix = "check the server's certificate, or pass ca_pem="
                out.append(Check("STARTTLS", False, str(exc), fix))
                return out
            out.append(Check("STARTTLS", True, "TLS established"))
        elif target.tls == "none":
            out.append(
                Check(
                    "TLS",
                    False,
                    "plain text: SES refuses mail without TLS",
                    "use tls='starttls' (port 587) or 'implicit' (465)",
                )
            )
        if target.username is None:
            out.append(Check("SMTP AUTH", False, "no credentials", "give username and password"))
            return out
        try:
            client.login(target.username, target.password or "")
        except smtplib.SMTPException as exc:
            code = getattr(exc, "smtp_code", "")
            text = getattr(exc, "smtp_error", b"")
            reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(exc)
            out.append(
                Check(
                    "SMTP AUTH",
                    False,
                    f"{code} {reply}".strip(),
                    "SES SMTP credentials are per Region: derive the password for this "
                    "Region from the IAM secret key (SmtpTarget.from_aws_credentials)",
                )
            )
            return out
        out.append(Check("SMTP AUTH", True, f"logged in as {target.username}"))
        return out
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            client.quit()
