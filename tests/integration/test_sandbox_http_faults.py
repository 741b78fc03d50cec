"""Throttling, the daily quota and seeded fault injection, seen through plain boto3 clients."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from toolkit.sandbox import Sandbox

SENDER = "sender@example.com"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=10)
SIMPLE = {"Simple": {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hi there"}}}}


def send(client: Any, to: str = "a@example.org") -> str:
    """One SendEmail; the outcome as a short word."""
    try:
        client.send_email(
            FromEmailAddress=SENDER, Destination={"ToAddresses": [to]}, Content=SIMPLE
        )
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    except (ConnectionClosedError, EndpointConnectionError):
        return "dropped"
    return "ok"


def test_rate_limit_throttles_with_ses_message(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(rate=3, smtp=False)
    client = sandbox.client("sesv2", config=NO_RETRY)
    outcomes = [send(client) for _ in range(3)]
    with pytest.raises(client.exceptions.TooManyRequestsException) as error:
        client.send_email(
            FromEmailAddress=SENDER, Destination={"ToAddresses": ["a@x.org"]}, Content=SIMPLE
        )
    assert outcomes == ["ok", "ok", "ok"]
    assert error.value.response["Error"]["Message"] == "Maximum sending rate exceeded."
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert sandbox.mailbox.count() == 3


def test_daily_quota(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(daily_quota=2, smtp=False)
    client = sandbox.client("sesv2", config=NO_RETRY)
    assert [send(client) for _ in range(2)] == ["ok", "ok"]
    with pytest.raises(client.exceptions.TooManyRequestsException) as error:
        client.send_email(
            FromEmailAddress=SENDER, Destination={"ToAddresses": ["a@x.org"]}, Content=SIMPLE
        )
    assert error.value.response["Error"]["Message"] == "Daily message quota exceeded."
    # the simulator does not count against the daily quota
    assert send(client, "success@simulator.amazonses.com") == "ok"
    quota = client.get_account()["SendQuota"]
    assert quota["Max24HourSend"] == 2 and quota["SentLast24Hours"] == 2


def test_bulk_entries_are_throttled_one_by_one(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(rate=2, smtp=False)
    client = sandbox.client("sesv2", config=NO_RETRY)
    results = client.send_bulk_email(
        FromEmailAddress=SENDER,
        DefaultContent={"Template": {"TemplateContent": {"Subject": "s", "Text": "t"}}},
        BulkEmailEntries=[{"Destination": {"ToAddresses": [f"r{i}@x.org"]}} for i in range(4)],
    )["BulkEmailEntryResults"]
    assert [r["Status"] for r in results] == [
        "SUCCESS",
        "SUCCESS",
        "ACCOUNT_THROTTLED",
        "ACCOUNT_THROTTLED",
    ]
    assert "MessageId" not in results[2] and results[2]["Error"]
    pp = sandbox.client("pinpoint", config=NO_RETRY)
    time.sleep(1.05)  # let the one-second window pass
    answer = pp.send_messages(
        ApplicationId=sandbox.pinpoint_app_id,
        MessageRequest={
            "Addresses": {f"p{i}@x.org": {"ChannelType": "EMAIL"} for i in range(3)},
            "MessageConfiguration": {
                "EmailMessage": {
                    "SimpleEmail": {"Subject": {"Data": "s"}, "TextPart": {"Data": "t"}}
                }
            },
        },
    )["MessageResponse"]["Result"]
    statuses = sorted(r["DeliveryStatus"] for r in answer.values())
    assert statuses == ["SUCCESSFUL", "SUCCESSFUL", "THROTTLED"]
    throttled = next(r for r in answer.values() if r["DeliveryStatus"] == "THROTTLED")
    assert throttled["StatusCode"] == 429


def _outcomes(make_sandbox: Callable[..., Sandbox], seed: int) -> tuple[list[str], int]:
    sandbox = make_sandbox(seed=seed, throttle_rate=0.2, error_rate=0.2, drop_rate=0.1, smtp=False)
    client = sandbox.client("sesv2", config=NO_RETRY)
    outcomes = [send(client) for _ in range(40)]
    return outcomes, sandbox.mailbox.count()


def test_faults_are_seeded_and_reproducible(make_sandbox: Callable[..., Sandbox]) -> None:
    first, stored = _outcomes(make_sandbox, seed=11)
    second, _ = _outcomes(make_sandbox, seed=11)
    assert first == second
    assert {"ok", "TooManyRequestsException", "InternalServerErrorException", "dropped"} == set(
        first
    )
    # dropped, throttled and failed requests are never stored
    assert stored == first.count("ok")


def test_drop_closes_the_connection_and_stores_nothing(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(drop_rate=1.0, smtp=False)
    client = sandbox.client("sesv2", config=NO_RETRY)
    assert send(client) == "dropped"
    assert client.get_account()["SendingEnabled"] is True  # other operations unaffected
    assert sandbox.mailbox.count() == 0


def test_error_rate_is_internal_server_error(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(error_rate=1.0, smtp=False)
    client = sandbox.client("sesv2", config=NO_RETRY)
    with pytest.raises(ClientError) as error:
        client.send_email(
            FromEmailAddress=SENDER, Destination={"ToAddresses": ["a@x.org"]}, Content=SIMPLE
        )
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert error.value.response["Error"]["Code"] == "InternalServerErrorException"
    pp = sandbox.client("pinpoint", config=NO_RETRY)
    with pytest.raises(pp.exceptions.InternalServerErrorException):
        pp.send_messages(
            ApplicationId=sandbox.pinpoint_app_id,
            MessageRequest={
                "Addresses": {"a@x.org": {"ChannelType": "EMAIL"}},
                "MessageConfiguration": {
                    "EmailMessage": {
                        "SimpleEmail": {"Subject": {"Data": "s"}, "TextPart": {"Data": "t"}}
                    }
                },
            },
        )


def test_partial_failures_inside_bulk_answers(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(partial_failure_rate=0.5, seed=3, smtp=False)
    client = sandbox.client("sesv2", config=NO_RETRY)
    results = client.send_bulk_email(
        FromEmailAddress=SENDER,
        DefaultContent={
            "Template": {
                "TemplateContent": {"Subject": "s", "Text": "t"},
                "TemplateData": json.dumps({}),
            }
        },
        BulkEmailEntries=[{"Destination": {"ToAddresses": [f"r{i}@x.org"]}} for i in range(40)],
    )["BulkEmailEntryResults"]
    statuses = [r["Status"] for r in results]
    assert set(statuses) == {"SUCCESS", "TRANSIENT_FAILURE"}
    assert sandbox.mailbox.count() == statuses.count("SUCCESS")
    pp = sandbox.client("pinpoint", config=NO_RETRY)
    answer = pp.send_messages(
        ApplicationId=sandbox.pinpoint_app_id,
        MessageRequest={
            "Addresses": {f"p{i}@x.org": {"ChannelType": "EMAIL"} for i in range(40)},
            "MessageConfiguration": {
                "EmailMessage": {
                    "SimpleEmail": {"Subject": {"Data": "s"}, "TextPart": {"Data": "t"}}
                }
            },
        },
    )["MessageResponse"]["Result"]
    assert {r["DeliveryStatus"] for r in answer.values()} == {"SUCCESSFUL", "TEMPORARY_FAILURE"}


def test_latency_is_added(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(latency_ms=80, smtp=False)
    client = sandbox.client("sesv2", config=NO_RETRY)
    send(client)  # warm the connection
    started = time.perf_counter()
    assert send(client) == "ok"
    assert time.perf_counter() - started >= 0.08
