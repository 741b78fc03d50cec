"""``toolkit.check`` and ``python -m toolkit check`` against the real sandbox: all green for the
sandbox's verified sender, and one clear failing line, with its fix, for each thing wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import toolkit
from toolkit.checks import CheckReport
from toolkit.cli import main
from toolkit.sandbox import Sandbox
from toolkit.sandbox.target import aws_target_for, smtp_target_for
from toolkit.targets import AwsTarget

SENDER = "Shop <sender@example.com>"


def names(report: CheckReport) -> list[str]:
    return [item.name for item in report.checks]


def failing(report: CheckReport) -> list[str]:
    return [item.name for item in report.failed]


def test_all_green_for_the_sandbox_sender(sandbox: Sandbox) -> None:
    report = toolkit.check("ses", target=sandbox, sender=SENDER)
    assert report.ok, str(report)
    assert names(report) == ["credentials", "account", "quota", "sender", "DKIM"]
    assert str(report).splitlines()[-1] == "all 5 checks passed for via=ses"


def test_an_unverified_sender_is_one_failing_line(sandbox: Sandbox) -> None:
    report = toolkit.check("ses", target=sandbox, sender="ops@corp.test")
    assert failing(report) == ["sender"]
    (line,) = report.failed
    assert "neither it nor its domain is a verified identity" in line.detail
    assert "create-email-identity" in line.fix


def test_a_pending_sender_says_to_follow_the_link(sandbox: Sandbox) -> None:
    sandbox.client("sesv2").create_email_identity(EmailIdentity="ops@corp.test")
    (line,) = toolkit.check("ses", target=sandbox, sender="ops@corp.test").failed
    assert "PENDING" in line.detail and "link" in line.fix
    sandbox.verify_identity("ops@corp.test")
    report = toolkit.check("ses", target=sandbox, sender="ops@corp.test")
    # An address identity whose domain is no identity: SES sends its mail (signed with
    # amazonses.com's DKIM), so the DKIM line passes and says why (issue 16).
    assert report.ok, str(report)
    assert "amazonses.com" in report.checks[-1].detail


@pytest.mark.parametrize("sender", ["@example.com", "ops@", "example.com"])
def test_a_sender_that_is_no_address_is_not_shown_as_verified(
    sandbox: Sandbox, sender: str
) -> None:
    """example.com is verified, but "@example.com" is no address that may send (issue 16)."""
    report = toolkit.check("ses", target=sandbox, sender=sender)
    assert failing(report) == ["sender"]
    assert "is not an address" in report.failed[0].detail


def test_a_missing_template_is_one_failing_line(sandbox: Sandbox) -> None:
    report = toolkit.check("ses-bulk", target=sandbox, sender=SENDER, template="nope")
    assert failing(report) == ["template"]
    assert "NotFoundException" in report.failed[0].detail


def test_the_template_names_the_columns_it_needs(sandbox: Sandbox) -> None:
    sandbox.client("sesv2").create_email_template(
        TemplateName="order",
        TemplateContent={"Subject": "Order {{order_id}}", "Html": "<p>Hi {{first_name}}</p>"},
    )
    report = toolkit.check("ses", target=sandbox, sender=SENDER, template="order")
    assert report.ok
    assert "needs columns: order_id, first_name" in report.checks[-1].detail
    short = pd.DataFrame({"email": ["a@example.org"], "order_id": ["A-1"]})
    report = toolkit.check("ses", target=sandbox, sender=SENDER, template="order", data=short)
    assert failing(report) == ["template"]
    assert "lacks first_name" in report.failed[0].detail


def test_a_missing_configuration_set(sandbox: Sandbox) -> None:
    report = toolkit.check("ses", target=sandbox, sender=SENDER, configuration_set="events")
    assert failing(report) == ["configuration set"]
    sandbox.client("sesv2").create_configuration_set(ConfigurationSetName="events")
    assert toolkit.check("ses", target=sandbox, sender=SENDER, configuration_set="events").ok


def test_an_account_in_the_ses_sandbox_and_a_spent_quota(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(sandbox_account=True, smtp=False)
    report = toolkit.check("ses", target=sandbox, sender=SENDER, rows=500)
    assert failing(report) == ["account", "quota"]
    assert "200 per 24 h" in report.checks[2].detail and "500 rows" in report.checks[2].detail
    assert "production access" in report.failed[0].fix


def test_credentials_that_do_not_work(sandbox: Sandbox) -> None:
    target = aws_target_for(sandbox, secret_access_key="not-the-secret")
    report = toolkit.check("ses", target=target, sender=SENDER)
    assert failing(report) == ["credentials"] and len(report.checks) == 1
    assert "SignatureDoesNotMatch" in report.failed[0].detail


def test_smtp_connect_starttls_auth(sandbox: Sandbox) -> None:
    report = toolkit.check("smtp", target=smtp_target_for(sandbox))
    assert names(report) == ["SMTP connect", "STARTTLS", "SMTP AUTH"]
    assert report.ok
    wrong = smtp_target_for(sandbox, password="not-the-password")
    report = toolkit.check("smtp", target=wrong)
    assert failing(report) == ["SMTP AUTH"]
    assert "535 Authentication Credentials Invalid" in report.failed[0].detail
    closed = smtp_target_for(sandbox, port=1)
    assert failing(toolkit.check("smtp", target=closed)) == ["SMTP connect"]


def test_smtp_with_the_account_behind_it(sandbox: Sandbox) -> None:
    report = toolkit.check(
        "smtp", target=smtp_target_for(sandbox), account=aws_target_for(sandbox), sender=SENDER
    )
    assert report.ok
    assert names(report)[:3] == ["SMTP connect", "STARTTLS", "SMTP AUTH"]
    assert "sender" in names(report)


def test_pinpoint_project_and_its_end(make_sandbox: Callable[..., Sandbox]) -> None:
    assert toolkit.check("pinpoint", target=make_sandbox(smtp=False), sender=SENDER).ok
    ended = make_sandbox(smtp=False, pinpoint_ended=True)
    report = toolkit.check("pinpoint", target=ended, sender=SENDER)
    assert failing(report) == ["Pinpoint project"]
    assert "ForbiddenException" in report.failed[0].detail and "via='ses'" in report.failed[0].fix


def test_an_unknown_via_is_a_configuration_error() -> None:
    with pytest.raises(toolkit.ConfigurationError):
        toolkit.check("carrier-pigeon", target=AwsTarget(region="eu-west-1"))


# -- the command line -------------------------------------------------------------------------


def test_cli_all_green_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--from", "sender@example.com"]) == 0  # an embedded sandbox
    out = capsys.readouterr().out
    assert "[FAIL]" not in out and out.rstrip().endswith("all 5 checks passed for via=ses")


def test_cli_failures_exit_3_with_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check", "--from", "ops@corp.test", "--template", "nope"])
    out = capsys.readouterr().out
    assert status == 3  # a failed check; 1 is "a bug" for every command
    failed = [line for line in out.splitlines() if line.startswith("[FAIL]")]
    assert [line.split()[1] for line in failed] == ["sender", "template"]
    assert out.count("fix: ") == 2


def test_cli_wrong_smtp_password_against_a_running_sandbox(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "not-the-password")
    argv: list[Any] = [
        "check",
        "--via",
        "smtp",
        "--smtp-host",
        sandbox.smtp_host,
        "--smtp-port",
        str(sandbox.smtp_port),
        "--smtp-user",
        sandbox.smtp_username,
        "--smtp-password-env",
        "SMTP_PASSWORD",
    ]
    assert main(argv) == 3
    out = capsys.readouterr().out
    (failed,) = [line for line in out.splitlines() if line.startswith("[FAIL]")]
    assert "SMTP AUTH" in failed and "535" in failed
    monkeypatch.setenv("SMTP_PASSWORD", sandbox.smtp_password)
    assert main(argv) == 0


def test_cli_checks_a_file_against_the_quota_and_the_template(
    make_sandbox: Callable[..., Sandbox],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox = make_sandbox(smtp=False, daily_quota=2)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", sandbox.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", sandbox.secret_access_key)
    path = tmp_path / "rows.csv"
    pd.DataFrame({"email": ["a@example.org", "b@example.org", "c@example.org"]}).to_csv(
        path, index=False
    )
    argv = ["check", str(path), "--from", "sender@example.com"]
    argv += ["--region", sandbox.region, "--endpoint-url", sandbox.endpoint_url]
    assert main(argv) == 3
    out = capsys.readouterr().out
    assert "[FAIL] quota" in out and "not enough for 3 rows" in out
