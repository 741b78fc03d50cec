"""The same scenarios through ``send()`` and ``send_partitioned()`` (a 2-worker LocalCluster):
one options object and one runner, so the same statuses, codes, columns, errors and summary.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import toolkit  # noqa: E402
from benchmarks.sandbox_proc import SandboxProcess  # noqa: E402
from toolkit.errors import (  # noqa: E402
    ConfigurationError,
    MissingColumnError,
    ProviderConfigurationError,
)
from toolkit.results import RunSummary  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MESSAGE: dict[str, Any] = {"sender": "sender@example.com", "subject": "Hi {{name}}", "text": "x"}
PATHS = ("send", "send_partitioned")
_NO_AWS = {
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance metadata lookups on the workers
    "AWS_CONFIG_FILE": "/nonexistent/toolkit-test",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/toolkit-test",
}


def people(n: int = 12) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "email": [f"success+c{i}@simulator.amazonses.com" for i in range(n)],
            "name": [f"Customer {i}" for i in range(n)],
            "order_id": [f"A{i:03d}" for i in range(n)],
        }
    )
    frame.loc[3, "email"] = "not an address"
    return frame


@pytest.fixture(scope="module")
def box() -> Iterator[SandboxProcess]:
    with SandboxProcess(rate=200) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Workers started with no AWS credentials anywhere (the common cluster mistake)."""
    saved = {k: os.environ.get(k) for k in [*_NO_AWS, "AWS_ACCESS_KEY_ID",
                                              "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"]}  # fmt: skip
    os.environ.update(_NO_AWS)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        os.environ.pop(name, None)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )  # fmt: skip
    try:
        with distributed.Client(cluster) as connected:
            yield connected
    finally:
        cluster.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run(path: str, frame: pd.DataFrame, target: Any, client: Any, out: Path,
        via: str = "ses", **options: Any) -> tuple[pd.DataFrame, RunSummary | None]:  # fmt: skip
    """The results and the summary of one send, through either entry point."""
    values = {**MESSAGE, "target": target, "progress": False, **options}
    if path == "send":
        results = toolkit.send(frame, via, **values)
        return results, RunSummary.of(results)
    done = toolkit.send_partitioned(
        dd.from_pandas(frame, npartitions=2), via, out=out, client=client, **values
    )
    return done.results.compute().sort_index(), done.summary


@pytest.mark.parametrize("path", PATHS)
def test_kept_columns_statuses_codes_and_summary_are_the_same(
    path: str, box: SandboxProcess, client: Any, tmp_path: Path
) -> None:
    box.clear()
    frame = people()
    results, summary = run(path, frame, box.aws_target(), client, tmp_path, keep=["order_id"])
    assert list(results["order_id"]) == list(frame["order_id"])
    assert results.loc[3, "status"] == "invalid"
    assert results.loc[3, "error_code"] == "InvalidAddress"
    assert (results.drop(index=3)["status"] == "sent").all()
    assert summary is not None
    assert dict(summary.counts) == {"sent": 11, "invalid": 1}
    assert summary.transport == "ses" and summary.target.startswith("AWS API at http://127.0.0.1")
    assert summary.rate == pytest.approx(200) and summary.max_send_rate == pytest.approx(200)
    assert len(box.message_ids()) == 11


@pytest.mark.parametrize("path", PATHS)
def test_a_kept_column_the_frame_lacks_is_the_same_error(
    path: str, box: SandboxProcess, client: Any, tmp_path: Path
) -> None:
    box.clear()
    with pytest.raises(MissingColumnError, match="nope"):
        run(path, people(), box.aws_target(), client, tmp_path, keep=["nope"])
    assert box.message_ids() == []


@pytest.mark.parametrize("path", PATHS)
def test_refused_credentials_raise_with_nothing_reported_failed(
    path: str, box: SandboxProcess, client: Any, tmp_path: Path
) -> None:
    box.clear()
    wrong = box.aws_target(secret_access_key="not-the-sandbox-secret")
    with pytest.raises(ProviderConfigurationError) as refused:
        run(path, people(), wrong, client, tmp_path)
    assert getattr(refused.value, "results", None) is None  # nothing sent, nothing "failed"
    assert box.message_ids() == []


def test_workers_without_credentials_raise_the_providers_refusal(
    box: SandboxProcess, client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notebook has credentials (environment), the worker processes do not: the run
    stops with the provider's refusal, as send() would, instead of 12 rows 'failed'."""
    box.clear()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", box.info.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", box.info.secret_access_key)
    from_environment = box.aws_target(access_key_id=None, secret_access_key=None)
    with pytest.raises(ProviderConfigurationError, match=r"[Cc]redentials"):
        run("send_partitioned", people(), from_environment, client, tmp_path)
    assert box.message_ids() == []


def test_what_only_one_process_can_do_is_refused_in_one_line(
    box: SandboxProcess, client: Any, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="limit= is not supported"):
        run("send_partitioned", people(), box.aws_target(), client, tmp_path, limit=3)
    with pytest.raises(TypeError, match="nope"):
        run("send_partitioned", people(), box.aws_target(), client, tmp_path, nope=1)
    results, _ = run("send", people(), box.aws_target(), client, tmp_path, limit=3)
    assert (results["error_code"] == "Limit").sum() == 8


@pytest.mark.parametrize("path", PATHS)
def test_a_stored_template_needing_a_missing_column_is_refused_before_sending(
    path: str, box: SandboxProcess, client: Any, tmp_path: Path
) -> None:
    """SES accepts such a message and then drops it (a Rendering Failure): refused first."""
    box.clear()
    import boto3

    target = box.aws_target()
    ses = boto3.client(
        "sesv2", region_name=target.region, endpoint_url=target.endpoint_url,
        aws_access_key_id=target.access_key_id, aws_secret_access_key=target.secret_access_key,
    )  # fmt: skip
    content = {"Subject": "Hi {{name}}", "Text": "Your total is {{order_total}}."}
    with contextlib.suppress(ses.exceptions.AlreadyExistsException):
        ses.create_email_template(TemplateName="needs-total", TemplateContent=content)
    message = {"subject": None, "text": None, "template": "needs-total"}
    with pytest.raises(MissingColumnError, match="order_total"):
        run(path, people(), target, client, tmp_path, via="ses-bulk", **message)
    assert box.message_ids() == []
