"""Provider answers -> verdicts (toolkit.transports.classify), one table per provider."""

from __future__ import annotations

import socket
import ssl

import pytest
from botocore import exceptions as boto_exc

from toolkit.results import Verdict
from toolkit.transports.classify import (
    DAILY_QUOTA_CODE,
    PINPOINT_DELIVERY_STATUS,
    SES_BULK_STATUS,
    classify_aws_error,
    classify_aws_exception,
    classify_network_exception,
    classify_pinpoint_status,
    classify_ses_bulk_status,
    classify_smtp_reply,
)

CONFIG = None


@pytest.mark.parametrize(
    ("code", "message", "status", "verdict"),
    [
        ("TooManyRequestsException", "Maximum sending rate exceeded.", 429, Verdict.THROTTLED),
        ("Throttling", "Maximum sending rate exceeded.", 400, Verdict.THROTTLED),
        ("ThrottlingException", "Rate exceeded", 400, Verdict.THROTTLED),
        ("MessageRejected", "Email address is not verified.", 400, Verdict.REJECTED),
        ("MailFromDomainNotVerifiedException", "not verified", 400, Verdict.REJECTED),
        ("BadRequestException", "bad", 400, Verdict.REJECTED),
        ("InternalServerError", "oops", 500, Verdict.TRANSIENT),
        ("ServiceUnavailable", "later", 503, Verdict.TRANSIENT),
        ("SomethingNew", "who knows", 502, Verdict.TRANSIENT),
        ("SomethingNew", "slow down", 429, Verdict.THROTTLED),
        ("SomethingNew", "no", 400, Verdict.REJECTED),
        ("UnrecognizedClientException", "bad token", 403, CONFIG),
        ("InvalidClientTokenId", "bad token", 403, CONFIG),
        ("SignatureDoesNotMatch", "bad signature", 403, CONFIG),
        ("AccessDeniedException", "not authorized", 403, CONFIG),
        ("SomethingNew", "forbidden", 403, CONFIG),
        ("AccountSuspendedException", "suspended", 400, CONFIG),
        ("SendingPausedException", "paused", 400, CONFIG),
        ("NotFoundException", "template does not exist", 404, CONFIG),
    ],
)
def test_ses_errors(code: str, message: str, status: int, verdict: Verdict | None) -> None:
    classified = classify_aws_error("sesv2", code, message, status)
    assert classified.verdict is verdict
    assert classified.is_configuration is (verdict is None)


@pytest.mark.parametrize(
    "code", ["TooManyRequestsException", "Throttling", "LimitExceededException"]
)
def test_daily_quota_is_named_whatever_the_code(code: str) -> None:
    classified = classify_aws_error("sesv2", code, "Daily message quota exceeded.", 429)
    assert (classified.verdict, classified.code) == (Verdict.DAILY_QUOTA, DAILY_QUOTA_CODE)


@pytest.mark.parametrize(
    ("code", "status", "verdict"),
    [
        ("NotFoundException", 404, CONFIG),
        ("ForbiddenException", 403, CONFIG),
        ("MethodNotAllowedException", 405, CONFIG),
        ("TooManyRequestsException", 429, Verdict.THROTTLED),
        ("InternalServerErrorException", 500, Verdict.TRANSIENT),
        ("BadRequestException", 400, Verdict.REJECTED),
        ("PayloadTooLargeException", 413, Verdict.REJECTED),
        ("Unmodelled", 404, CONFIG),
    ],
)
def test_pinpoint_errors(code: str, status: int, verdict: Verdict | None) -> None:
    assert classify_aws_error("pinpoint", code, "x", status).verdict is verdict


def _client_error(code: str, status: int, message: str = "m") -> boto_exc.ClientError:
    return boto_exc.ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "SendEmail",
    )


def test_client_error_is_read_from_the_exception() -> None:
    classified = classify_aws_exception("sesv2", _client_error("MessageRejected", 400, "virus"))
    assert (classified.verdict, classified.code, classified.message) == (
        Verdict.REJECTED,
        "MessageRejected",
        "virus",
    )


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        # never left this machine: safe to resend
        (boto_exc.EndpointConnectionError(endpoint_url="http://x"), Verdict.TRANSIENT),
        (boto_exc.ConnectTimeoutError(endpoint_url="http://x"), Verdict.TRANSIENT),
        (ConnectionRefusedError(111, "refused"), Verdict.TRANSIENT),
        (socket.gaierror(-2, "Name or service not known"), Verdict.TRANSIENT),
        (ssl.SSLError("handshake"), Verdict.TRANSIENT),
        (boto_exc.ParamValidationError(report="bad"), Verdict.REJECTED),
        # written, no answer: may have been delivered
        (boto_exc.ReadTimeoutError(endpoint_url="http://x"), Verdict.UNKNOWN),
        (boto_exc.ConnectionClosedError(endpoint_url="http://x"), Verdict.UNKNOWN),
        (ConnectionResetError(104, "reset"), Verdict.UNKNOWN),
        (TimeoutError("timed out"), Verdict.UNKNOWN),
        # local configuration
        (boto_exc.NoCredentialsError(), CONFIG),
    ],
)
def test_network_faults_never_left_vs_maybe_delivered(
    exc: BaseException, verdict: Verdict | None
) -> None:
    assert classify_network_exception(exc).verdict is verdict
    assert classify_aws_exception("sesv2", exc).verdict is verdict


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("SUCCESS", Verdict.ACCEPTED),
        ("MESSAGE_REJECTED", Verdict.REJECTED),
        ("MAIL_FROM_DOMAIN_NOT_VERIFIED", Verdict.REJECTED),
        ("INVALID_PARAMETER", Verdict.REJECTED),
        ("ACCOUNT_THROTTLED", Verdict.THROTTLED),
        ("ACCOUNT_DAILY_QUOTA_EXCEEDED", Verdict.DAILY_QUOTA),
        ("TRANSIENT_FAILURE", Verdict.TRANSIENT),
        ("FAILED", Verdict.TRANSIENT),
        ("TEMPLATE_NOT_FOUND", CONFIG),
        ("TEMPLATE_DOES_NOT_EXIST", CONFIG),
        ("ACCOUNT_SUSPENDED", CONFIG),
        ("ACCOUNT_SENDING_PAUSED", CONFIG),
        ("CONFIGURATION_SET_NOT_FOUND", CONFIG),
        ("SOMETHING_NEW", Verdict.TRANSIENT),
    ],
)
def test_ses_bulk_statuses(status: str, verdict: Verdict | None) -> None:
    assert classify_ses_bulk_status(status, "e").verdict is verdict


def test_ses_bulk_daily_quota_code() -> None:
    assert classify_ses_bulk_status("ACCOUNT_DAILY_QUOTA_EXCEEDED").code == DAILY_QUOTA_CODE


def test_every_modelled_bulk_status_is_in_the_table() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sesv2")
    assert set(model.shape_for("BulkEmailStatus").enum) <= set(SES_BULK_STATUS)


def test_every_modelled_pinpoint_status_is_in_the_table() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("pinpoint")
    assert set(model.shape_for("DeliveryStatus").enum) <= set(PINPOINT_DELIVERY_STATUS)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("SUCCESSFUL", Verdict.ACCEPTED),
        ("THROTTLED", Verdict.THROTTLED),
        ("TEMPORARY_FAILURE", Verdict.TRANSIENT),
        ("TIMEOUT", Verdict.TRANSIENT),
        ("UNKNOWN_FAILURE", Verdict.TRANSIENT),
        ("PERMANENT_FAILURE", Verdict.REJECTED),
        ("OPT_OUT", Verdict.REJECTED),
        ("DUPLICATE", Verdict.REJECTED),
    ],
)
def test_pinpoint_delivery_statuses(status: str, verdict: Verdict) -> None:
    assert classify_pinpoint_status(status).verdict is verdict


@pytest.mark.parametrize(
    ("code", "text", "verdict", "name"),
    [
        (250, "Ok 0100-abc", Verdict.ACCEPTED, "SMTP250"),
        (421, "Too many concurrent SMTP connections", Verdict.TRANSIENT, "SMTP421"),
        (451, "Temporary service failure", Verdict.TRANSIENT, "SMTP451"),
        (454, "Throttling failure: Maximum sending rate exceeded", Verdict.THROTTLED, "SMTP454"),
        (
            454,
            "Throttling failure: Daily message quota exceeded",
            Verdict.DAILY_QUOTA,
            DAILY_QUOTA_CODE,
        ),
        (454, "Temporary authentication failure", Verdict.TRANSIENT, "SMTP454"),
        (530, "Authentication required", CONFIG, "SMTP530"),
        (535, "Authentication Credentials Invalid", CONFIG, "SMTP535"),
        (
            554,
            "Access denied: User x is not authorized to perform ses:SendRawEmail",
            CONFIG,
            "SMTP554",
        ),
        (552, "Message is too long", Verdict.REJECTED, "SMTP552"),
        (554, "Message rejected: Email address is not verified.", Verdict.REJECTED, "SMTP554"),
        (550, "Mailbox unavailable", Verdict.REJECTED, "SMTP550"),
    ],
)
def test_smtp_replies(code: int, text: str, verdict: Verdict | None, name: str) -> None:
    classified = classify_smtp_reply(code, text)
    assert (classified.verdict, classified.code) == (verdict, name)


def _certificate_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify")
    error.verify_message = "self-signed certificate"
    return error


@pytest.mark.parametrize(
    "exc",
    [
        _certificate_error(),
        boto_exc.SSLError(endpoint_url="https://x", error=_certificate_error()),  # fast client
        boto_exc.SSLError(  # boto3/urllib3: only the text says so
            endpoint_url="https://x",
            error="[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed",
        ),
    ],
)
def test_an_untrusted_certificate_is_configuration_not_a_retry(exc: BaseException) -> None:
    # Issue 9, row 11: it was retried five times and the rows ended failed.
    classified = classify_aws_exception("sesv2", exc)
    assert classified.verdict is CONFIG
    assert classified.code == "CertificateVerifyFailed"
    assert "AWS_CA_BUNDLE" in classified.message


def test_a_tls_handshake_broken_by_the_network_is_still_transient() -> None:
    exc = boto_exc.SSLError(endpoint_url="https://x", error="EOF occurred in violation of protocol")
    assert classify_aws_exception("sesv2", exc).verdict is Verdict.TRANSIENT


def test_missing_credentials_say_where_credentials_come_from() -> None:
    classified = classify_network_exception(boto_exc.NoCredentialsError())
    assert classified.message == (
        "Unable to locate credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a "
        "profile (profile= / --profile / AWS_PROFILE), or run where an IAM role provides them)"
    )
    region = classify_network_exception(boto_exc.NoRegionError())
    assert region.verdict is CONFIG and "AWS_REGION" in region.message
