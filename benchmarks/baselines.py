"""The AWS sample shapes the toolkit is measured against, written the way the samples are.

* Pinpoint: one ``SendMessages`` call per recipient (the ``pinpoint_send_email_message_api``
  sample loops over its addresses), boto3 client with default settings.
* SES: one SES v2 ``SendEmail`` call per recipient, sequential.
* SMTP: smtplib with a new connection per message and the message built per message
  (``EmailMessage``); STARTTLS + AUTH against the sandbox, plain text against smtp-sink.

Every function returns ``(accepted, latencies_s)``; a per-message exception counts as not
accepted (the samples print it and carry on).
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

SENDER = "sender@example.com"
SUBJECT = "Your order has shipped"


def body_text(size: int = 2048) -> str:
    """A plain-text body so the whole message is ~2.1 KB, like ``smtp-source -l 2048``."""
    line = "The quick brown fox jumps over the lazy dog. 0123456789\n"
    return (line * (size // len(line) + 1))[: size - 120]


def boto3_client(service: str, target: Any) -> Any:
    """A boto3 client as the samples make it (default retry and pool settings)."""
    import boto3

    return boto3.client(
        service,
        region_name=target.region,
        endpoint_url=target.endpoint_url,
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
    )


def ses_send_email_each(
    client: Any, recipients: Sequence[str], text: str
) -> tuple[int, list[float]]:
    """SES v2 ``SendEmail``, one call per recipient, one after the other."""
    accepted = 0
    latencies: list[float] = []
    for recipient in recipients:
        t0 = time.perf_counter()
        try:
            client.send_email(
                FromEmailAddress=SENDER,
                Destination={"ToAddresses": [recipient]},
                Content={
                    "Simple": {
                        "Subject": {"Data": SUBJECT, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                    }
                },
            )
            accepted += 1
        except Exception:  # the sample prints the error and moves on
            pass
        latencies.append(time.perf_counter() - t0)
    return accepted, latencies


def pinpoint_send_messages_each(
    client: Any, app_id: str, recipients: Sequence[str], text: str
) -> tuple[int, list[float]]:
    """Pinpoint ``SendMessages``, one call per recipient (the sample's loop)."""
    accepted = 0
    latencies: list[float] = []
    for recipient in recipients:
        t0 = time.perf_counter()
        try:
            response = client.send_messages(
                ApplicationId=app_id,
                MessageRequest={
                    "Addresses": {recipient: {"ChannelType": "EMAIL"}},
                    "MessageConfiguration": {
                        "EmailMessage": {
                            "FromAddress": SENDER,
                            "SimpleEmail": {
                                "Subject": {"Charset": "UTF-8", "Data": SUBJECT},
                                "TextPart": {"Charset": "UTF-8", "Data": text},
                            },
                        }
                    },
                },
            )
            result = response["MessageResponse"]["Result"][recipient]
            if result.get("DeliveryStatus") == "SUCCESSFUL":
                accepted += 1
        except Exception:
            pass
        latencies.append(time.perf_counter() - t0)
    return accepted, latencies


def smtplib_connection_each(
    host: str,
    port: int,
    recipients: Sequence[str],
    text: str,
    *,
    context: ssl.SSLContext | None = None,
    username: str | None = None,
    password: str | None = None,
) -> tuple[int, list[float]]:
    """smtplib, new connection and a freshly built ``EmailMessage`` for every message.

    With ``context``: EHLO, STARTTLS, EHLO; with ``username``: AUTH LOGIN/PLAIN (SES's SMTP
    sample shape). Without both: plain SMTP (the smtp-sink comparison).
    """
    accepted = 0
    latencies: list[float] = []
    for recipient in recipients:
        t0 = time.perf_counter()
        try:
            message = EmailMessage()
            message["From"] = SENDER
            message["To"] = recipient
            message["Subject"] = SUBJECT
            message.set_content(text)
            with smtplib.SMTP(host, port, timeout=30) as server:
                if context is not None:
                    server.ehlo()
                    server.starttls(context=context)
                    server.ehlo()
                if username is not None and password is not None:
                    server.login(username, password)
                server.send_message(message)
            accepted += 1
        except (smtplib.SMTPException, OSError):
            pass
        latencies.append(time.perf_counter() - t0)
    return accepted, latencies
