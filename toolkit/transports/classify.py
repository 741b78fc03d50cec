"""Provider answers -> :class:`~toolkit.transports.base.Verdict`: one table per provider.

Sources: the SES v2 and Pinpoint API references (errors, bulk entry statuses, delivery
statuses), SES's documentation of throttling messages and SMTP replies
(https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas-errors.html,
https://docs.aws.amazon.com/ses/latest/dg/troubleshoot-smtp.html) and botocore's service models.

Every function returns a :class:`Classified`; ``verdict is None`` means a *whole-batch*
configuration fault (bad credentials, suspended account, missing template or application) that
the transport raises as :class:`~toolkit.errors.ProviderConfigurationError`.

"Never left" vs "may have been delivered" (the difference between ``TRANSIENT`` and ``UNKNOWN``):

* ``TRANSIENT``: the provider answered with a temporary failure, or the request provably never
  reached it (connection refused, DNS failure, connect timeout, TLS handshake failure). Safe to
  resend.
* configuration: nothing left and nothing will until a setting changes — no credentials, or an
  endpoint whose TLS certificate is not trusted (``CertificateVerifyFailed``, as the SMTP
  transport says; retrying cannot fix a certificate).
* ``UNKNOWN``: the request was written and no usable answer came back (read timeout, connection
  reset or closed while waiting, an SMTP disconnect after the message body was sent). The
  provider may have accepted it; the engine never resends these automatically.

Throttling by the *daily quota* is decided here and only here: it gets the verdict
``DAILY_QUOTA`` and the code :data:`DAILY_QUOTA_CODE`, whatever the provider called it, so the
engine stops instead of spinning until the 24 h window moves.

Usage::

    c = classify_aws_error("sesv2", "TooManyRequestsException", "Daily message quota exceeded.")
    c.verdict, c.code   # (Verdict.DAILY_QUOTA, "DailyQuotaExceeded")
"""

from __future__ import annotations

import email.utils
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from botocore import exceptions as boto_exc

from toolkit.results import DAILY_QUOTA_CODE, Reply, Verdict

__all__ = [
    "CERTIFICATE_CODE",
    "CONFIGURATION",
    "DAILY_QUOTA_CODE",
    "NON_AWS_CODE",
    "PINPOINT_DELIVERY_STATUS",
    "PINPOINT_ERRORS",
    "REDIRECT_CODE",
    "SES_BULK_STATUS",
    "SES_ERRORS",
    "UNVERIFIED_SENDER_CODE",
    "Classified",
    "classify_aws_error",
    "classify_aws_exception",
    "classify_network_exception",
    "classify_pinpoint_status",
    "classify_ses_bulk_status",
    "classify_smtp_reply",
    "non_aws_answer",
    "unverified_sender",
]

CONFIGURATION: Final = None
"""Table value for a whole-batch configuration fault (raise, do not reply)."""

_DAILY_TEXT = "daily message quota exceeded"
# Words of an answer that refuses the whole account rather than one message: SES SMTP says
# "Sending paused for this account" / "Access denied ... not authorized"; the Pinpoint email
# channel can be disabled. Found in a per-message answer, they still mean "stop the run".
_ACCOUNT_WIDE = ("access denied", "paused", "suspended", "channel is disabled")


@dataclass(frozen=True, slots=True)
class Classified:
    """A verdict (None = configuration fault) with the provider's code and message."""

    verdict: Verdict | None
    code: str
    message: str

    def reply(
        self,
        started: float,
        finished: float,
        *,
        default: Verdict = Verdict.TRANSIENT,
        message: str | None = None,
    ) -> Reply:
        """This answer as one message's Reply (``default`` when the code is not in a table;
        ``message`` to keep the provider's full text instead of the classified one)."""
        return Reply(
            self.verdict or default,
            started,
            finished,
            code=self.code,
            message=self.message if message is None else message,
        )

    @property
    def is_configuration(self) -> bool:
        """True when the whole batch (and every later one) would fail the same way."""
        return self.verdict is None


# -- AWS API errors (botocore ClientError codes) ---------------------------------------------

# Credentials/permission errors any AWS API may return (SigV4 front end, IAM).
_AUTH_ERRORS: dict[str, Verdict | None] = {
    code: CONFIGURATION
    for code in (
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidSignatureException",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
        "ExpiredToken",
        "ExpiredTokenException",
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "OptInRequired",
    )
}

_SERVER_ERRORS: dict[str, Verdict | None] = {
    code: Verdict.TRANSIENT
    for code in (
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServerErrorException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceUnavailableError",
        "RequestTimeout",
        "RequestTimeoutException",
        "BadGateway",
        "GatewayTimeout",
    )
}

_THROTTLING: dict[str, Verdict | None] = {
    code: Verdict.THROTTLED
    for code in (
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    )
}

SES_ERRORS: dict[str, Verdict | None] = {
    **_AUTH_ERRORS,
    **_SERVER_ERRORS,
    **_THROTTLING,
    # "Too many instances of the specified resource type": botocore's standard retry mode
    # treats it as throttling; for a send call it is a limit that clears with time.
    "LimitExceededException": Verdict.THROTTLED,
    "MessageRejected": Verdict.REJECTED,
    "MailFromDomainNotVerifiedException": Verdict.REJECTED,
    "BadRequestException": Verdict.REJECTED,
    "ValidationException": Verdict.REJECTED,
    "InvalidParameterValue": Verdict.REJECTED,
    # Whole-account/whole-run faults:
    "AccountSuspendedException": CONFIGURATION,
    "SendingPausedException": CONFIGURATION,
    "NotFoundException": CONFIGURATION,  # template or configuration set does not exist
    "ConfigurationSetDoesNotExist": CONFIGURATION,
    "TemplateDoesNotExist": CONFIGURATION,
    "UnknownOperationException": CONFIGURATION,
}

PINPOINT_ERRORS: dict[str, Verdict | None] = {
    **_AUTH_ERRORS,
    **_SERVER_ERRORS,
    **_THROTTLING,
    "BadRequestException": Verdict.REJECTED,
    "PayloadTooLargeException": Verdict.REJECTED,
    # FACTS.md §1: after Pinpoint's end of support a failure is a configuration state.
    "NotFoundException": CONFIGURATION,
    "ForbiddenException": CONFIGURATION,
    "MethodNotAllowedException": CONFIGURATION,
    "UnknownOperationException": CONFIGURATION,
}

_TABLES: dict[str, dict[str, Verdict | None]] = {
    "sesv2": SES_ERRORS,
    "ses": SES_ERRORS,
    "pinpoint": PINPOINT_ERRORS,
}

# HTTP statuses that mean "this account or setup is refused", per service: Pinpoint also
# answers 404 for an application id it does not know.
_REFUSING_STATUSES: dict[str, tuple[int, ...]] = {"pinpoint": (401, 403, 404)}


def classify_aws_error(service: str, code: str, message: str, http_status: int = 0) -> Classified:
    """Classify one AWS API error response (``ClientError``'s code, message and HTTP status).

    Order: the daily-quota text (whatever the code), the provider's table, then the HTTP
    status (429 throttled, 5xx transient, 401/403 configuration, other 4xx rejected).
    """
    if _DAILY_TEXT in message.lower():
        return Classified(Verdict.DAILY_QUOTA, DAILY_QUOTA_CODE, message)
    table = _TABLES.get(service, SES_ERRORS)
    if code in table:
        return Classified(table[code], code, message)
    if "maximum sending rate exceeded" in message.lower():
        return Classified(Verdict.THROTTLED, code or "Throttling", message)
    if http_status == 429:
        verdict: Verdict | None = Verdict.THROTTLED
    elif http_status >= 500:
        verdict = Verdict.TRANSIENT
    elif http_status in _REFUSING_STATUSES.get(service, (401, 403)):
        verdict = CONFIGURATION
    elif 400 <= http_status < 500:
        verdict = Verdict.REJECTED
    else:
        # No status and an unknown code: an answer did come, but one we cannot read.
        verdict = Verdict.TRANSIENT
    return Classified(verdict, code or f"HTTP{http_status}", message)


# -- network faults ----------------------------------------------------------------------

# botocore's ConnectionError family is raised before the request is written: connect refused
# or timed out (EndpointConnectionError, ConnectTimeoutError), TLS handshake (SSLError), proxy.
_NEVER_LEFT_BOTO = (boto_exc.ConnectionError,)
# Credentials missing or unusable locally: nothing left, and nothing will until fixed.
_LOCAL_CONFIG_BOTO = (
    boto_exc.NoCredentialsError,
    boto_exc.PartialCredentialsError,
    boto_exc.NoRegionError,
)
# Everything else in HTTPClientError (ReadTimeoutError, ConnectionClosedError, a reset while
# reading) happens after the request was written: it may have been processed.


CERTIFICATE_CODE = "CertificateVerifyFailed"
_CERTIFICATE_TEXT = ("certificate verify failed", "certificate_verify_failed")


def _certificate_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) is a failed TLS certificate check."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        if isinstance(current, boto_exc.SSLError | ssl.SSLError) and any(
            t in str(current).lower() for t in _CERTIFICATE_TEXT
        ):
            return True
        wrapped = getattr(current, "kwargs", {}).get("error")  # botocore keeps it here
        if isinstance(wrapped, BaseException) and id(wrapped) not in seen:
            current = wrapped
            continue
        current = current.__cause__ or current.__context__
    return False


def classify_network_exception(exc: BaseException) -> Classified:
    """Classify an exception that is not a provider answer (socket, TLS, botocore network).

    ``ConnectionClosedError`` on a reused keep-alive connection is also counted as UNKNOWN:
    urllib3 cannot tell whether the server read the request before closing.
    """
    name = type(exc).__name__
    text = str(exc) or name
    if isinstance(exc, _LOCAL_CONFIG_BOTO):
        hint = (
            "pass region= (--region) or set AWS_REGION"
            if isinstance(exc, boto_exc.NoRegionError)
            else "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile "
            "(profile= / --profile / AWS_PROFILE), or run where an IAM role provides them"
        )
        return Classified(CONFIGURATION, name, f"{text} ({hint})")
    if _certificate_failure(exc):
        return Classified(
            CONFIGURATION,
            CERTIFICATE_CODE,
            f"{text} (the endpoint's TLS certificate is not trusted: check the endpoint URL, "
            "or point AWS_CA_BUNDLE at the CA that signed it)",
        )
    if isinstance(exc, boto_exc.ParamValidationError):
        # botocore refused this message's parameters locally: nothing left.
        return Classified(Verdict.REJECTED, name, text)
    if isinstance(exc, _NEVER_LEFT_BOTO):
        return Classified(Verdict.TRANSIENT, name, text)
    if isinstance(exc, boto_exc.HTTPClientError):
        return Classified(Verdict.UNKNOWN, name, text)
    if isinstance(exc, ConnectionRefusedError | socket.gaierror | ssl.SSLError):
        return Classified(Verdict.TRANSIENT, name, text)
    # Timeouts, resets, broken pipes, anything else: the request may have been read.
    return Classified(Verdict.UNKNOWN, name, text)


NON_AWS_CODE = "NonAwsAnswer"
REDIRECT_CODE = "EndpointRedirect"


def non_aws_answer(response: Mapping[str, Any]) -> str | None:
    """Why a parsed answer did not come from an AWS JSON API, or None when it may have.

    AWS's JSON APIs answer ``application/json`` (or none at all for an empty body); an HTML
    or plain-text page comes from something in between (a proxy, a captive portal, a wrong
    ``endpoint_url``). Such an answer says nothing about the message, so it is a
    configuration fault, not a row's outcome.
    """
    meta = response.get("ResponseMetadata") or {}
    headers = meta.get("HTTPHeaders") or {}
    content_type = str(headers.get("content-type", "") or "").lower()
    if content_type and "json" not in content_type:
        status = meta.get("HTTPStatusCode", 0)
        return f"HTTP {status} with Content-Type {content_type.split(';')[0]}, not an AWS API"
    return None


def classify_aws_exception(service: str, exc: BaseException) -> Classified:
    """Classify whatever a boto3-compatible client raised for one call.

    A redirect (3xx) and a non-JSON error page (other than 429/5xx, which may come from a
    load balancer in front of AWS and clear with time) are configuration faults: AWS's
    APIs never redirect, and a retry reaches the same wrong place.
    """
    if isinstance(exc, boto_exc.ClientError):
        response = exc.response or {}
        error = response.get("Error", {}) or {}
        code = str(error.get("Code", "") or "")
        message = str(error.get("Message", "") or "")
        meta = response.get("ResponseMetadata", {}) or {}
        status = int(meta.get("HTTPStatusCode", 0) or 0)
        if 300 <= status < 400:
            where = (meta.get("HTTPHeaders") or {}).get("location")
            to = f" to {where}" if where else ""
            return Classified(
                CONFIGURATION,
                REDIRECT_CODE,
                f"the endpoint answered HTTP {status} (a redirect{to}); AWS APIs never "
                "redirect: check the endpoint URL and any proxy",
            )
        foreign = non_aws_answer(response)
        if foreign is not None and status != 429 and status < 500:
            return Classified(
                CONFIGURATION,
                NON_AWS_CODE,
                f"the endpoint answered {foreign}: check the endpoint URL and any proxy",
            )
        return classify_aws_error(service, code, message, status)
    return classify_network_exception(exc)


# -- per-entry statuses inside a 200 answer ----------------------------------------------

SES_BULK_STATUS: dict[str, Verdict | None] = {
    "SUCCESS": Verdict.ACCEPTED,
    "MESSAGE_REJECTED": Verdict.REJECTED,
    "MAIL_FROM_DOMAIN_NOT_VERIFIED": Verdict.REJECTED,
    "INVALID_PARAMETER": Verdict.REJECTED,
    "ACCOUNT_THROTTLED": Verdict.THROTTLED,
    "ACCOUNT_DAILY_QUOTA_EXCEEDED": Verdict.DAILY_QUOTA,
    "TRANSIENT_FAILURE": Verdict.TRANSIENT,
    # "Unable to process your request": a failure SES reported, not a refusal of the
    # recipient; retry within the engine's budget (ends as failed, not rejected).
    "FAILED": Verdict.TRANSIENT,
    # Whole-account faults (FACTS.md spells some *_DOES_NOT_EXIST; botocore *_NOT_FOUND).
    "CONFIGURATION_SET_DOES_NOT_EXIST": CONFIGURATION,
    "CONFIGURATION_SET_NOT_FOUND": CONFIGURATION,
    "TEMPLATE_DOES_NOT_EXIST": CONFIGURATION,
    "TEMPLATE_NOT_FOUND": CONFIGURATION,
    "ACCOUNT_SUSPENDED": CONFIGURATION,
    "INVALID_SENDING_POOL_NAME": CONFIGURATION,
    "ACCOUNT_SENDING_PAUSED": CONFIGURATION,
    "CONFIGURATION_SET_SENDING_PAUSED": CONFIGURATION,
}


def classify_ses_bulk_status(status: str, error: str = "") -> Classified:
    """Classify one ``BulkEmailEntryResult`` (Status, Error)."""
    if status == "ACCOUNT_DAILY_QUOTA_EXCEEDED" or _DAILY_TEXT in error.lower():
        return Classified(Verdict.DAILY_QUOTA, DAILY_QUOTA_CODE, error or status)
    verdict = SES_BULK_STATUS.get(status, Verdict.TRANSIENT)
    return Classified(verdict, status, error)


PINPOINT_DELIVERY_STATUS: dict[str, Verdict | None] = {
    "SUCCESSFUL": Verdict.ACCEPTED,
    "THROTTLED": Verdict.THROTTLED,
    # Pinpoint says it will not retry these itself; the engine does (FACTS.md §2).
    "TEMPORARY_FAILURE": Verdict.TRANSIENT,
    "TIMEOUT": Verdict.TRANSIENT,  # "couldn't be sent within the timeout period"
    "UNKNOWN_FAILURE": Verdict.TRANSIENT,  # a failure Pinpoint reported, so not sent
    "PERMANENT_FAILURE": Verdict.REJECTED,
    "OPT_OUT": Verdict.REJECTED,
    "DUPLICATE": Verdict.REJECTED,
}


def classify_pinpoint_status(delivery_status: str, status_message: str = "") -> Classified:
    """Classify one Pinpoint ``MessageResult`` (DeliveryStatus, StatusMessage).

    A permanent failure whose message refuses the whole account (sending paused, the email
    channel disabled) is a configuration fault, as the same answer from SES would be.
    """
    lowered = status_message.lower()
    if _DAILY_TEXT in lowered:
        return Classified(Verdict.DAILY_QUOTA, DAILY_QUOTA_CODE, status_message)
    if delivery_status == "PERMANENT_FAILURE" and any(w in lowered for w in _ACCOUNT_WIDE):
        return Classified(CONFIGURATION, delivery_status, status_message)
    verdict = PINPOINT_DELIVERY_STATUS.get(delivery_status, Verdict.TRANSIENT)
    return Classified(verdict, delivery_status, status_message)


# -- an unverified sender ---------------------------------------------------------------

UNVERIFIED_SENDER_CODE = "SenderNotVerified"
_UNVERIFIED_TEXT = "is not verified"
_FAILED_CHECK = "failed the check in region"


def unverified_sender(text: str, sender: str) -> bool:
    """True when a "not verified" refusal names the *sender* (facts.SES_UNVERIFIED_MESSAGE).

    SES words both cases the same ("Email address is not verified. The following identities
    failed the check in region US-EAST-1: <identities>", each echoed as given): an
    unverified sender refuses every message of the account, so it stops the run; in SES's
    sandbox an unverified *recipient* refuses only its own message. Pinpoint's variant names
    the address inline ("Email address x@y is not verified.").
    """
    lowered = text.lower()
    if _UNVERIFIED_TEXT not in lowered:
        return False
    address = email.utils.parseaddr(sender)[1].lower()
    if not address:
        return False
    _, _, tail = lowered.partition(_FAILED_CHECK)
    if tail:
        listed = tail.partition(":")[2]
        found = {a.lower() for _, a in email.utils.getaddresses([listed]) if a}
        return address in found
    return address in lowered.partition(_UNVERIFIED_TEXT)[0]


# -- SMTP replies ------------------------------------------------------------------------

# 530/535 (authentication) and 554 "Access denied ... not authorized" are account-wide.
_SMTP_CONFIG_CODES = frozenset({530, 534, 535, 538})


def classify_smtp_reply(code: int, text: str) -> Classified:
    """Classify a final SMTP reply (from MAIL, RCPT or the end of DATA).

    250/251 accepted; 421 (service closing, too many connections) and 451 transient;
    454 throttled when it says throttling/quota, else transient; other 4xx transient;
    530/535 configuration; 554 refusing the account ("Access denied", sending paused or
    suspended) configuration; other 5xx rejected.
    """
    lowered = text.lower()
    name = f"SMTP{code}"
    if code in (250, 251):
        return Classified(Verdict.ACCEPTED, name, text)
    if 400 <= code < 500:
        if _DAILY_TEXT in lowered:
            return Classified(Verdict.DAILY_QUOTA, DAILY_QUOTA_CODE, text)
        if code == 454 and ("throttl" in lowered or "rate exceeded" in lowered):
            return Classified(Verdict.THROTTLED, name, text)
        return Classified(Verdict.TRANSIENT, name, text)
    if code in _SMTP_CONFIG_CODES or (code == 554 and any(w in lowered for w in _ACCOUNT_WIDE)):
        return Classified(CONFIGURATION, name, text)
    if 500 <= code < 600:
        return Classified(Verdict.REJECTED, name, text)
    # A reply outside the protocol (e.g. -1 from smtplib on a garbled line).
    return Classified(Verdict.TRANSIENT, name, text)
