"""``python -m toolkit`` end to end, in subprocesses, as a user runs it."""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pandas as pd
import pytest

from tests.helpers import serve_sandbox

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
pytestmark = pytest.mark.slow  # every test runs `python -m toolkit` in a new process


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def served_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A sandbox started with ``python -m toolkit sandbox`` in its own process."""
    state = tmp_path_factory.mktemp("state")
    with serve_sandbox(state, "--rate", "5000") as info:
        yield info


def test_sandbox_prints_one_json_line_with_connection_details(served_sandbox: dict) -> None:
    for key in (
        "endpoint_url",
        "smtp_host",
        "smtp_port",
        "smtp_username",
        "smtp_password",
        "region",
    ):
        assert key in served_sandbox
    assert served_sandbox["smtp_host"] == "127.0.0.1"
    assert served_sandbox["endpoint_url"].startswith("http://127.0.0.1:")


def test_served_sandbox_answers_boto3_and_smtplib(served_sandbox: dict) -> None:
    client = boto3.client(
        "sesv2",
        endpoint_url=served_sandbox["endpoint_url"],
        region_name=served_sandbox["region"],
        aws_access_key_id=served_sandbox["access_key_id"],
        aws_secret_access_key=served_sandbox["secret_access_key"],
    )
    answer = client.send_email(
        FromEmailAddress="sender@example.com",
        Destination={"ToAddresses": ["success@simulator.amazonses.com"]},
        Content={"Simple": {"Subject": {"Data": "cli"}, "Body": {"Text": {"Data": "hello"}}}},
    )
    assert answer["MessageId"]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP(served_sandbox["smtp_host"], served_sandbox["smtp_port"], timeout=10) as smtp:
        smtp.starttls(context=context)
        smtp.login(served_sandbox["smtp_username"], served_sandbox["smtp_password"])
        refused = smtp.sendmail(
            "sender@example.com",
            ["success@simulator.amazonses.com"],
            b"From: sender@example.com\r\nTo: success@simulator.amazonses.com\r\n"
            b"Subject: cli\r\n\r\nhi\r\n",
        )
        assert refused == {}
    mailbox = run_cli("mailbox", "--state", served_sandbox["state"], "--format", "json")
    assert mailbox.returncode == 0, mailbox.stderr
    subjects = [json.loads(line)["subject"] for line in mailbox.stdout.splitlines() if line]
    assert subjects.count("cli") >= 2


@pytest.mark.parametrize("via", ["ses", "ses-bulk", "smtp"])
def test_send_file_to_a_separately_started_sandbox(
    served_sandbox: dict, via: str, tmp_path: Path
) -> None:
    frame = pd.DataFrame(
        {
            "email": [
                "success+1@simulator.amazonses.com",
                "not-an-address",
                "bounce+2@simulator.amazonses.com",
            ],
            "first_name": ["Ana", "Bo", "Zoë"],
        }
    )
    source = tmp_path / "people.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "results.csv"
    where = (
        [
            "--smtp-host",
            served_sandbox["smtp_host"],
            "--smtp-port",
            str(served_sandbox["smtp_port"]),
            "--smtp-user",
            served_sandbox["smtp_username"],
            "--smtp-password-env",
            "BOX_PASSWORD",
        ]
        if via == "smtp"
        else [
            "--endpoint-url",
            served_sandbox["endpoint_url"],
            "--region",
            served_sandbox["region"],
        ]
    )
    env = {
        "BOX_PASSWORD": served_sandbox["smtp_password"],
        "AWS_ACCESS_KEY_ID": served_sandbox["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": served_sandbox["secret_access_key"],
    }
    done = run_cli(
        "send",
        str(source),
        "--via",
        via,
        "--from",
        "sender@example.com",
        "--subject",
        "Hello {{first_name}}",
        "--no-progress",
        "--out",
        str(out),
        *where,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    results = pd.read_csv(out)
    assert len(results) == 3
    assert {"status", "message_id", "error_code", "error_message", "attempts"} <= set(
        results.columns
    )
    assert list(results["status"]) == ["sent", "invalid", "sent"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            [
                "send",
                "missing.csv",
                "--via",
                "ses",
                "--from",
                "a@example.com",
                "--subject",
                "x",
                "--out",
                "o.csv",
            ],
            "missing.csv",
        ),
        (
            [
                "send",
                str(DATA / "recipients.csv"),
                "--via",
                "ses",
                "--from",
                "a@example.com",
                "--subject",
                "x",
                "--to-column",
                "nope",
                "--dry-run",
                "--out",
                "/tmp/o.csv",
            ],
            "nope",
        ),
    ],
)
def test_configuration_errors_exit_2_with_one_line(args: list[str], needle: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], done.stderr


def test_unknown_option_is_a_usage_error() -> None:
    done = run_cli("send", "--bogus")
    assert done.returncode == 2


def test_dry_run_sends_nothing(tmp_path: Path) -> None:
    out = tmp_path / "dry.csv"
    done = run_cli(
        "send",
        str(DATA / "recipients.csv"),
        "--via",
        "ses",
        "--from",
        "sender@example.com",
        "--subject",
        "Order {{order_id}}",
        "--dry-run",
        "--no-progress",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    results = pd.read_csv(out)
    assert set(results["status"]) <= {"skipped", "invalid"}
    assert (results["status"] == "skipped").sum() > 900


@pytest.mark.parametrize(
    ("flag", "value", "named"),
    [
        ("--rate", "0", "rate"),
        ("--rate", "nan", "rate"),
        ("--workers", "0", "workers"),
        ("--via", "sms", "--via"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path, flag: str, value: str, named: str
) -> None:
    args = ["send", str(DATA / "recipients.csv"), "--via", "ses", "--from", "sender@example.com"]
    args += ["--subject", "Hi", "--out", str(tmp_path / "r.csv"), flag, value]
    done = run_cli(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert named in lines[-1]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r.csv").exists()
