"""The sandbox's account-level suppression list and reputation, through plain boto3 and the CLI.

Every operation answers on botocore's paths and shapes; a message to a suppressed address is
accepted and bounces (OnAccountSuppressionList); ordinary recipients bounce and complain at the
configured rates, feed the suppression list and move EnforcementStatus.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from toolkit.errors import ConfigurationError
from toolkit.sandbox import Sandbox
from toolkit.sandbox.feedback import HARD_BOUNCE, SUPPRESSED_BOUNCE

SENDER = "sender@example.com"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
SIMPLE = {"Simple": {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hi there"}}}}
ROOT = Path(__file__).resolve().parents[2]


def ses(sandbox: Sandbox) -> Any:
    return sandbox.client("sesv2", config=NO_RETRY)


def send(client: Any, *to: str) -> str:
    answer = client.send_email(
        FromEmailAddress=SENDER, Destination={"ToAddresses": list(to)}, Content=SIMPLE
    )
    return str(answer["MessageId"])


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


# -- the operations ----------------------------------------------------------------------


def test_get_account_starts_with_bounce_and_complaint_and_healthy(sandbox: Sandbox) -> None:
    # Old code: SuppressedReasons was [] although SES's default since 2019 is both.
    account = ses(sandbox).get_account()
    assert account["SuppressionAttributes"]["SuppressedReasons"] == ["BOUNCE", "COMPLAINT"]
    assert account["EnforcementStatus"] == "HEALTHY" and account["SendingEnabled"] is True
    ses(sandbox).put_account_suppression_attributes(SuppressedReasons=["COMPLAINT"])
    assert ses(sandbox).get_account()["SuppressionAttributes"]["SuppressedReasons"] == ["COMPLAINT"]
    ses(sandbox).put_account_suppression_attributes(SuppressedReasons=[])
    assert ses(sandbox).get_account()["SuppressionAttributes"]["SuppressedReasons"] == []


def test_put_get_list_delete(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    # Old code: 501 NotImplemented for every one of these.
    client.put_suppressed_destination(EmailAddress="Dead@Example.org", Reason="BOUNCE")
    got = client.get_suppressed_destination(EmailAddress="dead@example.org")
    entry = got["SuppressedDestination"]
    assert entry["EmailAddress"] == "Dead@Example.org" and entry["Reason"] == "BOUNCE"
    assert isinstance(entry["LastUpdateTime"], dt.datetime)
    listed = client.list_suppressed_destinations()["SuppressedDestinationSummaries"]
    assert [e["EmailAddress"] for e in listed] == ["Dead@Example.org"]
    client.delete_suppressed_destination(EmailAddress="DEAD@example.org")
    with pytest.raises(ClientError) as error:
        client.get_suppressed_destination(EmailAddress="dead@example.org")
    assert code(error) == "NotFoundException"
    with pytest.raises(ClientError) as error:
        client.delete_suppressed_destination(EmailAddress="dead@example.org")
    assert code(error) == "NotFoundException"


def test_list_pages_and_filters(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    for i in range(5):
        client.put_suppressed_destination(
            EmailAddress=f"b{i}@example.org", Reason="BOUNCE" if i % 2 == 0 else "COMPLAINT"
        )
    seen: list[str] = []
    token: str | None = None
    while True:
        page = client.list_suppressed_destinations(
            PageSize=2, **({"NextToken": token} if token else {})
        )
        assert len(page["SuppressedDestinationSummaries"]) <= 2
        seen += [e["EmailAddress"] for e in page["SuppressedDestinationSummaries"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == [f"b{i}@example.org" for i in range(5)]
    bounces = client.list_suppressed_destinations(Reasons=["BOUNCE"])
    assert {e["Reason"] for e in bounces["SuppressedDestinationSummaries"]} == {"BOUNCE"}
    assert len(bounces["SuppressedDestinationSummaries"]) == 3
    both = client.list_suppressed_destinations(Reasons=["BOUNCE", "COMPLAINT"])  # repeated
    assert len(both["SuppressedDestinationSummaries"]) == 5
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert (
        client.list_suppressed_destinations(StartDate=future)["SuppressedDestinationSummaries"]
        == []
    )
    assert (
        len(client.list_suppressed_destinations(EndDate=future)["SuppressedDestinationSummaries"])
        == 5
    )


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda c: c.list_suppressed_destinations(PageSize=0), "BadRequestException"),
        (lambda c: c.list_suppressed_destinations(PageSize=1001), "BadRequestException"),
        (lambda c: c.list_suppressed_destinations(NextToken="nonsense"),
         "InvalidNextTokenException"),
        (lambda c: c.put_suppressed_destination(EmailAddress="no-at-sign", Reason="BOUNCE"),
         "BadRequestException"),
        (lambda c: c.get_suppressed_destination(EmailAddress="a@example.org", TenantName="t1"),
         "NotFoundException"),
    ],
)  # fmt: skip
def test_bad_requests_answer_as_ses(
    sandbox: Sandbox, call: Callable[[Any], Any], expected: str
) -> None:
    with pytest.raises(ClientError) as error:
        call(ses(sandbox))
    assert code(error) == expected


# -- sending to the list -----------------------------------------------------------------


def test_suppressed_address_is_accepted_and_bounces_not_delivered(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    client.put_suppressed_destination(EmailAddress="gone@example.org", Reason="COMPLAINT")
    message_id = send(client, "Gone@EXAMPLE.org", "here@example.org")
    events = sandbox.mailbox.events(message_id)
    by_recipient = dict(zip(events["recipient"], events["event"], strict=True))
    assert by_recipient == {"Gone@EXAMPLE.org": "bounce", "here@example.org": "delivery"}
    detail = events.loc[events["recipient"] == "Gone@EXAMPLE.org", "detail"].iloc[0]
    assert detail == SUPPRESSED_BOUNCE and "OnAccountSuppressionList" in detail
    # Not counted toward the bounce rate (AWS's words): only the delivered recipient is.
    assert sandbox.reputation.snapshot().eligible == 1


def test_suppression_applies_to_smtp(sandbox: Sandbox) -> None:
    import smtplib
    import ssl

    sandbox.suppression.put("gone@example.org", "BOUNCE")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    assert sandbox.smtp_port is not None
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=context)
        smtp.login(sandbox.smtp_username, sandbox.smtp_password)
        smtp.sendmail(SENDER, ["gone@example.org"], b"Subject: x\r\nTo: gone@example.org\r\n\r\nx")
    events = sandbox.mailbox.events()
    assert list(events["event"]) == ["bounce"] and events["detail"][0] == SUPPRESSED_BOUNCE


def test_hard_bounce_joins_the_list_per_suppressed_reasons(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(dead_mailboxes=["dead@example.org", "dead2@example.org"])
    client = ses(sandbox)
    message_id = send(client, "dead@example.org")
    assert list(sandbox.mailbox.events(message_id)["detail"]) == [HARD_BOUNCE]
    entry = client.get_suppressed_destination(EmailAddress="dead@example.org")
    assert entry["SuppressedDestination"]["Reason"] == "BOUNCE"
    assert entry["SuppressedDestination"]["Attributes"]["MessageId"] == message_id
    # The second send is suppressed, not bounced again.
    second = send(client, "dead@example.org")
    assert list(sandbox.mailbox.events(second)["detail"]) == [SUPPRESSED_BOUNCE]
    # Without BOUNCE in SuppressedReasons, a hard bounce does not join the list.
    client.put_account_suppression_attributes(SuppressedReasons=["COMPLAINT"])
    send(client, "dead2@example.org")
    with pytest.raises(ClientError):
        client.get_suppressed_destination(EmailAddress="dead2@example.org")


def test_simulator_addresses_do_not_count_and_are_not_suppressed(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    for _ in range(5):
        send(client, "bounce@simulator.amazonses.com", "complaint@simulator.amazonses.com")
    assert sandbox.reputation.snapshot().eligible == 0
    assert client.list_suppressed_destinations()["SuppressedDestinationSummaries"] == []


# -- rates and reputation ----------------------------------------------------------------


def test_seeded_rates_move_the_account_to_shutdown_and_pause_sending(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(bounce_rate=0.3, seed=3)
    sandbox.reputation.min_volume = 40
    client = ses(sandbox)
    statuses = []
    with pytest.raises(ClientError) as error:
        for i in range(200):
            send(client, f"user{i}@example.org")
            statuses.append(client.get_account()["EnforcementStatus"])
    assert code(error) == "SendingPausedException"
    assert statuses[-1] == "SHUTDOWN" and statuses[0] == "HEALTHY"
    account = client.get_account()
    assert account["EnforcementStatus"] == "SHUTDOWN" and account["SendingEnabled"] is False
    snapshot = sandbox.reputation.snapshot()
    assert snapshot.eligible >= 40 and snapshot.bounce_rate >= 0.10
    listed = client.list_suppressed_destinations(PageSize=1000)
    assert len(listed["SuppressedDestinationSummaries"]) == snapshot.bounces
    sandbox.reputation.reset()  # a review lifted the pause
    assert client.get_account()["SendingEnabled"] is True


def test_same_seed_same_outcomes(make_sandbox: Callable[..., Sandbox]) -> None:
    def outcomes(seed: int) -> list[str]:
        sandbox = make_sandbox(bounce_rate=0.2, complaint_rate=0.1, seed=seed)
        client = ses(sandbox)
        for i in range(30):
            send(client, f"user{i}@example.org")
        return list(sandbox.mailbox.events()["event"])

    first = outcomes(11)
    assert first == outcomes(11)
    assert {"bounce", "complaint", "delivery"} <= set(first)


def test_probation_between_review_and_pause(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox(dead_mailboxes=["dead@example.org"])
    sandbox.reputation.min_volume = 14
    client = ses(sandbox)
    send(client, "dead@example.org")  # 1 of 14 = 7.1 %: above 5 %, below 10 %
    for i in range(13):
        send(client, f"ok{i}@example.org")
    assert client.get_account()["EnforcementStatus"] == "PROBATION"
    assert client.get_account()["SendingEnabled"] is True


@pytest.mark.parametrize(
    "kwargs", [{"bounce_rate": 1.5}, {"complaint_rate": -0.1}, {"bounce_rate": 0.7,
                                                                  "complaint_rate": 0.7}]
)  # fmt: skip
def test_bad_rates_are_configuration_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        Sandbox(**kwargs)


def test_list_survives_a_restart(tmp_path: Path) -> None:
    with Sandbox(state_dir=tmp_path, dead_mailboxes=["dead@example.org"]) as sandbox:
        client = ses(sandbox)
        client.put_suppressed_destination(EmailAddress="put@example.org", Reason="BOUNCE")
        client.put_account_suppression_attributes(SuppressedReasons=["BOUNCE"])
        send(client, "dead@example.org")
    with Sandbox(state_dir=tmp_path) as sandbox:
        client = ses(sandbox)
        listed = client.list_suppressed_destinations()["SuppressedDestinationSummaries"]
        assert sorted(e["EmailAddress"] for e in listed) == ["dead@example.org", "put@example.org"]
        assert client.get_account()["SuppressionAttributes"]["SuppressedReasons"] == ["BOUNCE"]


# -- the AWS CLI and our CLI ---------------------------------------------------------------


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli_put_and_list(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": sandbox.access_key_id,
        "AWS_SECRET_ACCESS_KEY": sandbox.secret_access_key,
        "AWS_DEFAULT_REGION": sandbox.region,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_PAGER": "",
    }
    base = ["aws", "sesv2", "--endpoint-url", sandbox.endpoint_url, "--output", "json"]
    put = subprocess.run(
        [*base, "put-suppressed-destination", "--email-address", "cli@example.org",
         "--reason", "COMPLAINT"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if put.returncode != 0 and "not found" in (put.stderr or "").lower():
        pytest.skip(f"the AWS CLI cannot run here: {put.stderr.strip()[:200]}")
    assert put.returncode == 0, put.stderr
    listed = subprocess.run(
        [*base, "list-suppressed-destinations", "--reasons", "COMPLAINT", "BOUNCE"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    summaries = json.loads(listed.stdout)["SuppressedDestinationSummaries"]
    assert [s["EmailAddress"] for s in summaries] == ["cli@example.org"]


def test_cli_sandbox_rejects_a_bad_bounce_rate() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "toolkit", "sandbox", "--bounce-rate", "2"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode != 0
    assert "bounce rate" in done.stderr and "Traceback" not in done.stderr


def test_check_reports_reputation_and_suppression(make_sandbox: Callable[..., Sandbox]) -> None:
    from toolkit.checks import check

    sandbox = make_sandbox(dead_mailboxes=["dead@example.org"])
    account = next(c for c in check("ses", target=sandbox).checks if c.name == "account")
    assert account.passed and "HEALTHY" in account.detail and "BOUNCE, COMPLAINT" in account.detail
    sandbox.reputation.min_volume = 14
    client = ses(sandbox)
    send(client, "dead@example.org")
    for i in range(13):
        send(client, f"ok{i}@example.org")  # 1 of 14: 7 %, under review
    account = next(c for c in check("ses", target=sandbox).checks if c.name == "account")
    assert not account.passed and "PROBATION" in account.detail
