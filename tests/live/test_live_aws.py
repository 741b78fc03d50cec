"""Against real AWS: a few rows to SES's mailbox simulator through each interface, and check.

Skipped unless ``TOOLKIT_LIVE_AWS=1`` (CI never sets it). What it needs and how to run it is in
the README ("Live tests against real AWS"):

* credentials and a Region from boto3's usual chain (``AWS_PROFILE``, ``AWS_REGION`` …);
* ``TOOLKIT_LIVE_SENDER``: a sender SES lets this account use (a verified address or domain);
* optionally ``TOOLKIT_LIVE_SMTP_USER`` and ``TOOLKIT_LIVE_SMTP_PASSWORD`` (SES SMTP
  credentials for the same Region) for the SMTP interface.

The simulator accepts mail in the SES sandbox too; its messages count against the send rate
(not the daily quota) and are billed as any message. Pinpoint email ended at AWS on
2026-10-30, so it is not sent live.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

import toolkit
from toolkit.targets import AwsTarget, SmtpTarget

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        os.environ.get("TOOLKIT_LIVE_AWS") != "1", reason="set TOOLKIT_LIVE_AWS=1 to talk to AWS"
    ),
]

SIMULATOR = ("success", "bounce", "complaint")


@pytest.fixture(scope="module")
def sender() -> str:
    value = os.environ.get("TOOLKIT_LIVE_SENDER")
    if not value:
        pytest.skip("set TOOLKIT_LIVE_SENDER to an address SES lets this account send from")
    return value


@pytest.fixture(scope="module")
def target() -> AwsTarget:
    return AwsTarget()


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": [f"{name}@simulator.amazonses.com" for name in SIMULATOR],
            "first_name": ["Ana", "Bo", "Cy"],
        }
    )


def test_check_the_account_and_the_sender(target: AwsTarget, sender: str) -> None:
    report = toolkit.check("ses", target=target, sender=sender, rows=3)
    print(report)
    passed = {item.name for item in report.checks if item.passed}
    assert {"credentials", "quota", "sender"} <= passed, str(report)


def _send_all(via: str, target: AwsTarget | SmtpTarget, sender: str) -> None:
    """The three simulator rows through ``via``: each must be accepted."""
    results = toolkit.send(
        _frame(),
        via=via,
        target=target,
        sender=sender,
        subject="toolkit live test ({{first_name}})",
        text="Hello {{first_name}}: a live test of the toolkit, to SES's mailbox simulator.",
        progress=False,
    )
    assert results["status"].tolist() == ["sent"] * 3, results[["status", "error_code"]]
    assert results["message_id"].notna().all()


@pytest.mark.parametrize("via", ["ses", "ses-bulk"])
def test_simulator_rows_through_the_api(target: AwsTarget, sender: str, via: str) -> None:
    _send_all(via, target, sender)


def test_simulator_rows_through_smtp(target: AwsTarget, sender: str) -> None:
    user = os.environ.get("TOOLKIT_LIVE_SMTP_USER")
    password = os.environ.get("TOOLKIT_LIVE_SMTP_PASSWORD")
    if not user or not password:
        pytest.skip("set TOOLKIT_LIVE_SMTP_USER and TOOLKIT_LIVE_SMTP_PASSWORD for SMTP")
    region = target.boto3_session().region_name
    smtp = SmtpTarget(
        f"email-smtp.{region}.amazonaws.com", username=user, password=password, rate=1
    )
    report = toolkit.check("smtp", target=smtp, account=target, sender=sender)
    print(report)
    assert [c.passed for c in report.checks[:3]] == [True, True, True], str(report)
    _send_all("smtp", smtp, sender)
