"""Issue 9 through the API: bad input and faults end as a status or one ConfigurationError.

Each test names the row of the issue's table it pins down; the exact outcome is asserted (the
status and reason, the error, what the sandbox holds afterwards).
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.helpers import SENDER, send_hi
from toolkit.api import send
from toolkit.compose.message import Message
from toolkit.delivery.config import EngineConfig
from toolkit.delivery.ledger import Ledger
from toolkit.errors import ConfigurationError, ProviderConfigurationError
from toolkit.sandbox import Sandbox
from toolkit.sandbox.target import aws_target_for
from toolkit.sandbox.tls import SelfSignedCertificate
from toolkit.targets import AwsTarget
from toolkit.transports.memory import RecordingTransport
from toolkit.transports.pinpoint import PinpointEndOfSupportWarning

OK = "success@simulator.amazonses.com"
FAST = 10_000


def people(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"email": [f"success+{i}@simulator.amazonses.com" for i in range(n)],
                         "name": [f"N{i}" for i in range(n)]})  # fmt: skip


def _pinpoint_warns(via: str) -> Any:
    """Pinpoint warns that it reached end of support; the other transports do not warn."""
    if via == "pinpoint":
        return pytest.warns(PinpointEndOfSupportWarning)
    return contextlib.nullcontext()


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment where boto3's chain finds no credentials (and asks no metadata server)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


# -- row 3: rate=nan ---------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), 0, -5, 1e-9, "14", True])
def test_row3_a_rate_that_is_not_a_positive_number_is_one_error(rate: object) -> None:
    transport = RecordingTransport()
    with pytest.raises(ConfigurationError, match=r"^rate \(recipients per second\) must be"):
        send_hi(people(), transport=transport, rate=rate)
    assert transport.calls == [] and transport.opened == 0


# -- row 5: cells that are not text ------------------------------------------------------------


def test_row5_bytes_lists_dicts_objects_are_invalid_never_mailed(sandbox: Sandbox) -> None:
    df = pd.DataFrame(
        {"email": [b"success@simulator.amazonses.com", OK, "success+2@simulator.amazonses.com",
                   "success+3@simulator.amazonses.com", "success+4@simulator.amazonses.com",
                   "success+5@simulator.amazonses.com"],
         "name": ["Ana", b"Bo", ["x"], {"k": 1}, object(), "Zoe"]},
        dtype=object,
    )  # fmt: skip
    results = send_hi(df, target=sandbox, subject="Hi {{name}}", text="Dear {{name}}")
    assert results["status"].tolist() == ["invalid"] * 5 + ["sent"]
    assert results["error_code"].iloc[:5].eq("InvalidValue").all()
    reasons = results["error_message"].tolist()
    assert reasons[0] == (
        "column 'email' holds a value of type bytes, not text or a number: decode it first, "
        "e.g. df['email'].str.decode('utf-8')"
    )
    assert reasons[1].startswith("column 'name' holds a value of type bytes")
    assert "of type list" in reasons[2] and "of type dict" in reasons[3]
    assert "of type object" in reasons[4] and "convert it to text first" in reasons[4]
    assert results["recipient"].iloc[0] == ""  # never the repr of the cell
    mailbox = sandbox.mailbox.messages()
    assert mailbox["subject"].tolist() == ["Hi Zoe"]


def test_row5_plain_values_of_other_kinds_still_go(sandbox: Sandbox) -> None:
    import datetime as dt
    from decimal import Decimal

    df = people(4).assign(value=pd.Series([1, 2.5, Decimal("3.10"), dt.date(2026, 1, 2)],
                                          dtype=object))  # fmt: skip
    results = send_hi(df, target=sandbox, subject="Value {{value}}")
    assert results["status"].eq("sent").all()
    subjects = sorted(sandbox.mailbox.messages()["subject"])
    assert subjects == ["Value 1", "Value 2.5", "Value 2026-01-02", "Value 3.10"]


# -- row 6: frame shapes -----------------------------------------------------------------------


def test_row6_a_multiindex_frame_works_and_results_keep_its_index(sandbox: Sandbox) -> None:
    df = people(4)
    df.index = pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1), ("b", 2)],
                                         names=["shop", "n"])  # fmt: skip
    results = send_hi(df, target=sandbox, subject="Hi {{name}}")
    assert results.index.equals(df.index)
    assert results["status"].eq("sent").all()
    assert results["row_key"].tolist() == ["('a', 1)", "('a', 2)", "('b', 1)", "('b', 2)"]


def test_row6_duplicate_column_names_used_by_the_message_are_one_error() -> None:
    df = pd.DataFrame([[OK, "a", "b"]], columns=["email", "name", "name"])
    transport = RecordingTransport()
    with pytest.raises(ConfigurationError) as info:
        send_hi(df, transport=transport, subject="Hi {{name}}")
    assert str(info.value) == (
        "column 'name' appears 2 times in the DataFrame; rename or drop the copies, "
        "e.g. df = df.loc[:, ~df.columns.duplicated()]"
    )
    # ... while a duplicate the message does not use is left alone
    assert send_hi(df, transport=transport, rate=FAST)["status"].tolist() == ["sent"]


def test_row6_integer_column_names_work(sandbox: Sandbox) -> None:
    df = pd.DataFrame([[OK, "Ana"], ["success+1@simulator.amazonses.com", "Bo"]])  # columns 0, 1
    results = send(df, "ses", target=sandbox, to=0, name_column=1, sender=SENDER,
                   subject="Hi {{1}}", progress=False)  # fmt: skip
    assert results["status"].tolist() == ["sent", "sent"]
    assert sorted(sandbox.mailbox.messages()["subject"]) == ["Hi Ana", "Hi Bo"]


def test_row6_multiindex_columns_are_one_error() -> None:
    df = people(1)
    df.columns = pd.MultiIndex.from_tuples([("a", "email"), ("a", "name")])
    with pytest.raises(ConfigurationError, match="MultiIndex"):
        send_hi(df, transport=RecordingTransport())


# -- row 7: a rate below one per second --------------------------------------------------------


def test_row7_a_rate_below_one_per_second_paces_at_that_rate(sandbox: Sandbox) -> None:
    results = send_hi(people(2), target=sandbox, rate=0.5)
    assert results["status"].eq("sent").all()
    starts = sorted(results["started_at"])
    gap = (starts[1] - starts[0]).total_seconds()
    assert gap >= 1.9  # 1 / 0.5 s apart (it was floored to 1 s)


# -- row 8: an endpoint no request could use ---------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"endpoint_url": "ftp://127.0.0.1:1"}, "endpoint_url 'ftp://127.0.0.1:1' must start with"),
        ({"endpoint_url": "not a url"}, "endpoint_url 'not a url' must start with https://"),
        ({"endpoint_url": "http://"}, "must name a host"),
        ({"endpoint_url": "http://127.0.0.1:99999"}, "is not a valid URL"),
        ({"region": "us east 1"}, "region 'us east 1' is not an AWS Region name"),
        ({"region": ""}, "region '' is not an AWS Region name"),
        ({"read_timeout": 0}, "read_timeout must be a positive number"),
    ],
)
def test_row8_endpoint_and_region_are_checked_when_the_target_is_made(
    settings: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        AwsTarget(**{"region": "us-east-1", **settings})
    assert needle in str(info.value)


def test_row8_credentials_in_an_endpoint_url_are_not_repeated() -> None:
    with pytest.raises(ConfigurationError) as info:
        AwsTarget(endpoint_url="ftp://user:hunter2@example.com/")
    assert "hunter2" not in str(info.value) and "***@" in str(info.value)


def test_row8_a_profile_that_does_not_exist_is_one_error(
    no_aws_credentials: None, sandbox: Sandbox
) -> None:
    target = AwsTarget(region="us-east-1", endpoint_url=sandbox.endpoint_url, profile="nope")
    with pytest.raises(ConfigurationError, match="profile 'nope' is not in the AWS config files"):
        send_hi(people(), target=target)
    assert sandbox.mailbox.count() == 0


# -- row 9: ses-bulk with a stored template ----------------------------------------------------


def _store(sandbox: Sandbox, name: str, subject: str, text: str) -> None:
    sandbox.client("sesv2").create_email_template(
        TemplateName=name, TemplateContent={"Subject": subject, "Text": text}
    )


def test_row9_stored_template_subject_columns_get_the_header_check(sandbox: Sandbox) -> None:
    _store(sandbox, "welcome", "Welcome {{name}}", "Your address:\n{{address}}")
    df = people(3).assign(
        name=["Ana", "Eve\r\nBcc: x@y.example", "Bo"],
        address=["1 Main St\nSpringfield", "2 Elm St", "3 Oak St"],  # a line break in the body
    )
    results = send(df, "ses-bulk", target=sandbox, sender=SENDER, template="welcome",
                   progress=False)  # fmt: skip
    assert results["status"].tolist() == ["sent", "invalid", "sent"]
    assert results.loc[1, "error_code"] == "HeaderInjection"
    assert results.loc[1, "error_message"] == (
        "column 'name' holds a control character (CR/LF…) and the subject of the stored "
        "template 'welcome' uses it"
    )
    subjects = sandbox.mailbox.messages()["subject"].tolist()
    assert sorted(subjects) == ["Welcome Ana", "Welcome Bo"]
    assert not any("\r" in s or "\n" in s for s in subjects)


def test_row9_a_dry_run_cannot_read_the_template_so_every_templated_column_is_checked() -> None:
    df = people(2).assign(name=["Ana", "Eve\r\nBcc: x@y.example"], address=["1\n2", "3"])
    results = send(df, "ses-bulk", sender=SENDER, template="welcome", template_columns=["name"],
                   dry_run=True, progress=False)  # fmt: skip
    assert results["status"].tolist() == ["skipped", "invalid"]
    assert "was not read (a dry run does not read it)" in results.loc[1, "error_message"]


def test_row9_a_stored_template_that_does_not_exist_stops_before_sending(sandbox: Sandbox) -> None:
    with pytest.raises(ProviderConfigurationError) as info:
        send(people(), "ses-bulk", target=sandbox, sender=SENDER, template="missing",
             progress=False)  # fmt: skip
    assert info.value.code == "NotFoundException"
    assert "template 'missing'" in str(info.value)
    assert sandbox.mailbox.count() == 0


def test_row9_pinpoint_reads_its_stored_template_the_same_way(sandbox: Sandbox) -> None:
    app = sandbox.info()["pinpoint_app_id"]
    sandbox.client("pinpoint").create_email_template(
        TemplateName="hello", EmailTemplateRequest={"Subject": "Hi {{name}}", "TextPart": "x"}
    )
    df = people(2).assign(name=["Ana", "Eve\nBcc: x@y.example"])
    with pytest.warns(PinpointEndOfSupportWarning):
        results = send(df, "pinpoint", target=aws_target_for(sandbox, pinpoint_app_id=app),
                       sender=SENDER, template="hello", template_columns=["name"],
                       progress=False)  # fmt: skip
    assert results["status"].tolist() == ["sent", "invalid"]
    assert results.loc[1, "error_code"] == "HeaderInjection"


# -- row 10: no AWS credentials ----------------------------------------------------------------


@pytest.mark.parametrize("via", ["ses", "ses-bulk", "pinpoint"])
def test_row10_no_credentials_is_one_configuration_error_and_nothing_failed(
    no_aws_credentials: None, sandbox: Sandbox, via: str, tmp_path: Path
) -> None:
    target = AwsTarget(region="us-east-1", endpoint_url=sandbox.endpoint_url,
                       pinpoint_app_id=sandbox.info()["pinpoint_app_id"])  # fmt: skip
    ledger = tmp_path / "run.sqlite"
    with pytest.raises(ProviderConfigurationError) as info, _pinpoint_warns(via):
        send_hi(people(), via, target=target, ledger=ledger)
    error = info.value
    assert error.code == "NoCredentialsError"
    assert "Unable to locate credentials" in str(error) and "AWS_ACCESS_KEY_ID" in str(error)
    assert getattr(error, "results", None) is None  # nothing was sent: no rows to report
    assert sandbox.mailbox.count() == 0
    with Ledger(ledger) as journal:  # nothing is marked failed; a later run sends them
        assert "failed" not in journal.counts()


# -- row 11: an untrusted certificate ----------------------------------------------------------


@pytest.fixture
def untrusted_https() -> Iterator[tuple[str, list[int]]]:
    """An HTTPS endpoint on loopback with a self-signed certificate; counts connections."""
    context = SelfSignedCertificate.generate().server_context()
    server = socket.create_server(("127.0.0.1", 0))
    connections: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            connections.append(1)
            try:
                context.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.getsockname()[1]}", connections
    server.close()


@pytest.mark.parametrize(("via", "fast"), [("ses", True), ("ses", False), ("pinpoint", True)])
def test_row11_an_untrusted_certificate_is_a_configuration_error_at_once(
    untrusted_https: tuple[str, list[int]], via: str, fast: bool
) -> None:
    url, connections = untrusted_https
    target = AwsTarget(region="us-east-1", endpoint_url=url, access_key_id="AKIDEXAMPLE",
                       secret_access_key="not-a-secret", pinpoint_app_id="app",
                       fast=fast)  # fmt: skip
    with pytest.raises(ProviderConfigurationError) as info, _pinpoint_warns(via):
        send_hi(people(), via, target=target)
    assert info.value.code == "CertificateVerifyFailed"
    assert "certificate is not trusted" in str(info.value)
    assert "not-a-secret" not in str(info.value)
    assert len(connections) == 1  # never retried


# -- row 13: attachments outside attachment_dir ------------------------------------------------


def test_row13_attachments_resolve_only_under_attachment_dir(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "invoice.txt").write_text("invoice 42")
    monkeypatch.chdir(tmp_path)
    df = people(3).assign(file=["invoice.txt", "/etc/hostname", "../x.txt"])
    results = send_hi(df, "smtp", target=sandbox, attachment_column="file")
    assert results["status"].tolist() == ["sent", "invalid", "invalid"]
    assert results["error_code"].tolist()[1:] == ["AttachmentNotAllowed"] * 2
    assert results.loc[1, "error_message"] == (
        f"attachment file '/etc/hostname' is outside the attachment directory {tmp_path}; "
        "attachments are read only under attachment_dir= (default: the working directory)"
    )
    (raw,) = sandbox.mailbox.messages(content=True)["content"]
    assert b"invoice.txt" in raw and b"hostname" not in raw


# -- row 15: not a frame -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, [OK], (OK,), {"email": [OK]}, OK, 42])
def test_row15_not_a_frame_is_one_configuration_error(value: object) -> None:
    transport = RecordingTransport()
    with pytest.raises(ConfigurationError) as info:
        send_hi(value, transport=transport)  # type: ignore[arg-type]
    kind = "None" if value is None else type(value).__name__
    assert str(info.value).startswith(
        f"send() needs a pandas DataFrame with one row per message, not {kind};"
    )
    assert transport.calls == []


def test_row15_a_series_of_addresses_is_the_to_column(sandbox: Sandbox) -> None:
    series = pd.Series([OK, "not-an-address"], index=["x", "y"], name="whatever")
    results = send_hi(series, target=sandbox)
    assert results.index.tolist() == ["x", "y"]
    assert results["status"].tolist() == ["sent", "invalid"]


# -- results are never lost --------------------------------------------------------------------


def test_an_unexpected_error_after_the_first_send_carries_the_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = {"n": 0}
    lookup = Ledger.lookup

    def failing_lookup(self: Ledger, keys: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise sqlite3.OperationalError("disk I/O error")
        return lookup(self, keys)

    monkeypatch.setattr(Ledger, "lookup", failing_lookup)
    transport = RecordingTransport()
    df = people(50)
    with pytest.raises(sqlite3.OperationalError) as info:
        send_hi(df, transport=transport, ledger=tmp_path / "l.sqlite",
                config=EngineConfig(rate=FAST, workers=1, chunk_size=10))  # fmt: skip
    results = info.value.results  # type: ignore[attr-defined]
    assert results.index.equals(df.index) and results["status"].notna().all()
    sent = results["status"].eq("sent")
    assert sent.sum() == len(transport.outbox) > 0
    assert set(results.loc[~sent, "status"]) == {"failed"}
    assert set(results.loc[~sent, "error_code"]) <= {"EngineError", "NotProcessed"}


def test_a_configuration_fault_part_way_raises_with_the_results() -> None:
    def handler(m: Message) -> None:
        if m.position >= 5:
            raise ProviderConfigurationError("SendingPausedException", "sending paused")

    transport = RecordingTransport(handler)
    with pytest.raises(ProviderConfigurationError) as info:
        send_hi(people(20), transport=transport, workers=1, rate=FAST)
    results = info.value.results  # type: ignore[attr-defined]
    assert results["status"].value_counts().to_dict() == {"failed": 15, "sent": 5}
    assert set(results.loc[results["status"] == "failed", "error_code"]) == {
        "SendingPausedException"
    }
