"""`unknown` rows resolved from events: every message carries its run and row key as SES tags
(API EmailTags, the X-SES-MESSAGE-TAGS header on raw/SMTP), the sandbox copies them into its
events as SES does, and a row whose answer was lost becomes sent from its event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import kill_when
from toolkit import send
from toolkit.compose.spec import ComposeSpec
from toolkit.compose.tags import ROW_TAG, RUN_TAG, row_tag_value
from toolkit.delivery.config import EngineConfig
from toolkit.delivery.ledger import Ledger
from toolkit.errors import ConfigurationError
from toolkit.measure.events import events_from_notifications, events_from_sandbox
from toolkit.measure.resolve import RESOLVED_CODE, resolve_ledger, resolve_unknown
from toolkit.sandbox import Sandbox

FAST = EngineConfig(rate=500.0)
ROOT = Path(__file__).resolve().parents[2]


def spec(run_tag: str | None = "run-7", **kwargs: object) -> ComposeSpec:
    return ComposeSpec(sender="sender@example.com", subject="Hi {{n}}", text="Hello",
                       key_column="key", run_tag=run_tag, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "email": ["a@example.org", "b@example.org", "c@example.org"],
            "n": ["1", "2", "3"],
            "key": ["order-1", "order/2 é", "order-3"],
        }
    )


def lose_answers(results: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """What a crash leaves: rows in flight are unknown, without a message id."""
    out = results.copy()
    lost = out["row_key"].isin(keys)
    out.loc[lost, "status"] = "unknown"
    out.loc[lost, "message_id"] = None
    out.loc[lost, "error_code"] = "NoAnswer"
    return out


@pytest.mark.parametrize("via", ["ses", "smtp", "ses-bulk"])
def test_unknown_rows_with_an_event_become_sent(sandbox: Sandbox, via: str) -> None:
    results = send(frame(), via, target=sandbox, compose=spec(), config=FAST, progress=False)
    assert list(results["status"]) == ["sent"] * 3
    events = events_from_sandbox(sandbox)
    tags = events["tags"].tolist()
    assert all(t[RUN_TAG] == "run-7" for t in tags)
    assert {t[ROW_TAG] for t in tags} == {row_tag_value(k) for k in frame()["key"]}
    crashed = lose_answers(results, ["order-1", "order/2 é"])
    resolved = resolve_unknown(crashed, events, run_tag="run-7")
    assert list(resolved["status"]) == ["sent"] * 3
    assert list(resolved["message_id"]) == list(results["message_id"])
    assert list(resolved["error_code"][:2]) == [RESOLVED_CODE] * 2
    assert "delivery event" in resolved["error_message"].iloc[0]
    # Another run's events do not resolve this run's rows.
    other = resolve_unknown(crashed, events, run_tag="run-8")
    assert list(other["status"][:2]) == ["unknown", "unknown"]


def test_rows_without_an_event_stay_unknown(sandbox: Sandbox) -> None:
    df = frame()
    results = send(df.iloc[:1], target=sandbox, compose=spec(), config=FAST, progress=False)
    events = events_from_sandbox(sandbox)
    never_left = pd.DataFrame(
        {"row_key": ["order-3"], "status": ["unknown"], "message_id": [None],
         "error_code": ["NoAnswer"], "error_message": ["no answer"]}
    )  # fmt: skip
    both = pd.concat([lose_answers(results, ["order-1"]), never_left], ignore_index=True)
    resolved = resolve_unknown(both, events)
    assert list(resolved["status"]) == ["sent", "unknown"]


def test_tags_from_ses_notifications_resolve_too() -> None:
    notification = {
        "eventType": "Send",
        "mail": {
            "messageId": "0100-abc",
            "timestamp": "2026-12-06T05:00:00.000Z",
            "destination": ["a@example.org"],
            "tags": {RUN_TAG: ["run-7"], ROW_TAG: [row_tag_value("order-1")],
                     "ses:configuration-set": ["cs"]},
        },
        "send": {},
    }  # fmt: skip
    events = events_from_notifications([json.dumps(notification)])
    assert events["tags"].iloc[0][ROW_TAG] == "korder-1"
    crashed = pd.DataFrame({"row_key": ["order-1"], "status": ["unknown"], "message_id": [None],
                            "error_code": ["NoAnswer"], "error_message": [""]})  # fmt: skip
    resolved = resolve_unknown(crashed, events, run_tag="run-7")
    assert resolved["status"].iloc[0] == "sent" and resolved["message_id"].iloc[0] == "0100-abc"


def test_no_run_tag_no_tags(sandbox: Sandbox) -> None:
    send(frame(), target=sandbox, compose=spec(None), config=FAST, progress=False)
    assert events_from_sandbox(sandbox)["tags"].isna().all()


def test_row_tag_values_fit_ses() -> None:
    assert row_tag_value("order-1") == "korder-1"
    hashed = row_tag_value("order/2 é")
    assert hashed.startswith("h") and len(hashed) == 33
    assert row_tag_value("x" * 300).startswith("h")
    with pytest.raises(ConfigurationError, match="run_tag"):
        spec("run 7")


_CHILD = """
import json, sys
from pathlib import Path
import pandas as pd
from toolkit.api import send
from toolkit.compose.spec import ComposeSpec
from toolkit.targets import AwsTarget
info = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
target = AwsTarget(region=info["region"], endpoint_url=info["endpoint_url"],
                   access_key_id=info["access_key_id"],
                   secret_access_key=info["secret_access_key"])
n = int(sys.argv[3])
df = pd.DataFrame({"email": [f"user{i}@example.org" for i in range(n)]})
spec = ComposeSpec(sender="sender@example.com", subject="Hi", text="x", run_tag="crash-1")
send(df, "ses", target=target, compose=spec, ledger=sys.argv[2], workers=8, progress=False)
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_then_resume_with_event_resolution(tmp_path: Path) -> None:
    n = 1200
    ledger_path = tmp_path / "run.sqlite"
    info_path = tmp_path / "sandbox.json"
    with Sandbox(rate=1500, latency_ms=40) as sandbox:
        info_path.write_text(json.dumps(sandbox.info()), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(info_path), str(ledger_path), str(n)], env=env
        )
        # Frozen first: the requests waiting at the sandbox (40 ms) are accepted and answered
        # into a process that can no longer journal them; then killed.
        kill_when(child, lambda: sandbox.mailbox.count() >= n // 4, within=90, freeze_first=0.3)
        time.sleep(0.2)  # the stated wait: the events of what the server accepted are in
        with Ledger(ledger_path) as ledger:
            unknown_before = ledger.counts().get("unknown", 0)
            resolved = resolve_ledger(ledger, events_from_sandbox(sandbox), run_tag="crash-1")
            unknown_after = ledger.counts().get("unknown", 0)
        assert unknown_before > 0
        assert resolved > 0 and unknown_after == unknown_before - resolved
        # Resume, resending only the rows no event vouches for.
        df = pd.DataFrame({"email": [f"user{i}@example.org" for i in range(n)]})
        resumed = send(df, "ses", target=sandbox, compose=ComposeSpec(
            sender="sender@example.com", subject="Hi", text="x", run_tag="crash-1"),
            ledger=ledger_path, config=EngineConfig(rate=1500.0, retry_unknown=True),
            progress=False)  # fmt: skip
        delivered: Counter[str] = Counter()
        for recipients in sandbox.mailbox.messages()["recipients"]:
            delivered.update(recipients)
    assert list(resumed["status"].unique()) == ["sent"]
    assert (resumed["error_code"] == RESOLVED_CODE).sum() == resolved
    assert set(delivered) == set(df["email"]) and max(delivered.values()) == 1  # 0 duplicates
