"""Conformance: the same SES v2 SendEmail requests against moto's server and the sandbox.

moto is an independent implementation of the AWS wire protocol; if both accept the same
boto3 requests and boto3 parses both answers the same way, the sandbox's paths, JSON and
status codes match what boto3 expects (not just what our own code expects).
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import boto3
import pytest
from botocore.config import Config

from toolkit.sandbox import Sandbox

moto_server = pytest.importorskip("moto.server")

SENDER = "sender@example.com"
CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _requests() -> list[dict[str, Any]]:
    mime = EmailMessage()
    mime["From"] = SENDER
    mime["To"] = "raw@example.org"
    mime["Subject"] = "Raw"
    mime.set_content("raw body")
    return [
        {
            "FromEmailAddress": SENDER,
            "Destination": {"ToAddresses": ["a@example.org"], "CcAddresses": ["b@example.org"]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": "Simple", "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": "text"}, "Html": {"Data": "<p>html</p>"}},
                }
            },
        },
        {
            "FromEmailAddress": SENDER,
            "Destination": {"ToAddresses": ["raw@example.org"]},
            "Content": {"Raw": {"Data": mime.as_bytes()}},
        },
    ]


def test_same_send_email_requests_accepted_by_moto_and_sandbox(
    moto_endpoint: str, sandbox: Sandbox
) -> None:
    moto = boto3.client(
        "sesv2",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=CONFIG,
    )
    moto.create_email_identity(EmailIdentity=SENDER)
    ours = sandbox.client("sesv2", config=CONFIG)
    for params in _requests():
        from_moto = moto.send_email(**params)
        from_sandbox = ours.send_email(**params)
        for answer in (from_moto, from_sandbox):
            assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert isinstance(answer["MessageId"], str) and answer["MessageId"]
        assert set(from_moto) == set(from_sandbox)  # same parsed members
    assert sandbox.mailbox.count() == 2


def test_unverified_sender_rejected_by_both(moto_endpoint: str, sandbox: Sandbox) -> None:
    moto = boto3.client(
        "sesv2",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=CONFIG,
    )
    ours = sandbox.client("sesv2", config=CONFIG)
    params = dict(_requests()[0], FromEmailAddress="nobody@unverified.test")
    codes = []
    for client in (moto, ours):
        with pytest.raises(client.exceptions.ClientError) as error:
            client.send_email(**params)
        codes.append(error.value.response["Error"]["Code"])
    assert codes[1] == "MessageRejected"
    assert codes[0] == codes[1]
