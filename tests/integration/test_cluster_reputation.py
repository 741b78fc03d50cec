"""The reputation guard on a 2-worker Dask LocalCluster against the sandbox, as on one process:
the three suppression lists skip their rows before sending, ONE circuit breaker holds for the
whole cluster (two partitions' bounces add up) and the resume sends the paused rows once, and
a resume resolves the ``unknown`` rows a killed worker left from the provider's events.

The sandbox runs in this process (the client follows its mailbox, as ``send`` does); the
workers are threads where nothing needs a process of its own, and processes where one is
SIGKILLed.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from toolkit import send_partitioned  # noqa: E402
from toolkit.errors import ConfigurationError  # noqa: E402
from toolkit.facts import BREAKER_DEFAULTS  # noqa: E402
from toolkit.sandbox import Sandbox  # noqa: E402
from toolkit.transports.registry import transport_kind  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MESSAGE: dict[str, Any] = {"sender": "sender@example.com", "subject": "Hi", "text": "x",
                           "progress": False}  # fmt: skip


def recipients(n: int, domain: str = "customers.example") -> pd.DataFrame:
    """Ordinary (non-simulator) recipients: the sandbox decides who bounces."""
    return pd.DataFrame({"email": [f"person{i}@{domain}" for i in range(n)]})


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


def send(frame: pd.DataFrame, parts: int, out: Path, client: Any, **options: Any) -> Any:
    ddf = dd.from_pandas(frame, npartitions=parts, sort=False)
    return send_partitioned(ddf, "ses", out=out, client=client, **{**MESSAGE, **options})


def delivered(box: Sandbox) -> pd.Series:
    return box.mailbox.messages()["recipients"].explode().astype(str)


def test_the_three_suppression_lists_skip_rows_on_every_partition(
    client: Any, tmp_path: Path
) -> None:
    history = tmp_path / "feedback.sqlite3"
    frame = recipients(12)
    unsubscribed = tmp_path / "unsubscribed.csv"
    pd.DataFrame({"email": ["PERSON2@customers.example"]}).to_csv(unsubscribed, index=False)
    with Sandbox(dead_mailboxes=["person9@customers.example"]) as box:
        box.client("sesv2").put_suppressed_destination(
            EmailAddress="Person1@Customers.Example", Reason="BOUNCE"
        )
        lists = {"suppression_file": unsubscribed, "suppression_history": history}
        first = send(frame, 2, tmp_path / "a", client, target=box, **lists).results.compute()
        assert first.loc[1, "error_code"] == "Suppressed"
        assert "account's suppression list" in first.loc[1, "error_message"]
        assert first.loc[2, "error_code"] == "Suppressed"
        assert "suppression file unsubscribed.csv" in first.loc[2, "error_message"]
        assert first.loc[9, "status"] == "sent"  # accepted; then it hard-bounced

        # The hard bounce was recorded on the client: the next run skips it (even once the
        # account's own list has forgotten it).
        box.client("sesv2").delete_suppressed_destination(EmailAddress="person9@customers.example")
        again = send(frame, 2, tmp_path / "b", client, target=box, **lists).results.compute()
        assert again.loc[9, "error_code"] == "Suppressed"
        assert "earlier run (hard-bounced" in again.loc[9, "error_message"]
        got = delivered(box)
    assert not got.str.contains(r"person[12]@", case=False).any()
    assert (got == "person9@customers.example").sum() == 1  # the first run only


def test_one_breaker_stops_every_partition_and_the_resume_sends_the_rest_once(
    client: Any, tmp_path: Path
) -> None:
    frame = recipients(400)
    with Sandbox(bounce_rate=0.3, seed=4, rate=200) as box:
        first = send(frame, 4, tmp_path, client, target=box, workers=2)
        results = first.results.compute()
        paused = results["error_code"] == "ReputationPause"
        assert paused.sum() > 100, results["status"].value_counts()
        assert (results.loc[paused, "status"] == "skipped").all()
        assert "hard-bounced" in results.loc[paused, "error_message"].iloc[0]
        sent = int((results["status"] == "sent").sum())
        assert 50 <= sent <= 110  # the cluster's first 200 go as fast as their fates come back
        assert first.summary.stopped[0] == "ReputationPause"
        assert box.client("sesv2").get_account()["EnforcementStatus"] == "HEALTHY"

        box.feedback.bounce_rate = 0.0  # the list was cleaned before resuming
        # The first run's bounces still weigh on the account; with the few hundred recipients
        # after them the sandbox may pause it mid-resume, as SES would. A review lifted it:
        box.reputation.reset()
        resumed = send(frame, 4, tmp_path, client, target=box).results.compute()
        got = delivered(box)
    # Every row is now sent, or skipped because it hard-bounced in the first run (on the
    # account's suppression list): none is left paused, none went twice.
    assert set(resumed["status"]) <= {"sent", "skipped"}
    assert set(resumed.loc[resumed["status"] == "skipped", "error_code"]) <= {"Suppressed"}
    assert got.value_counts().max() == 1 and set(got) == set(frame["email"])


def test_the_breaker_is_one_for_the_cluster(client: Any, tmp_path: Path) -> None:
    """Two partitions of 45 rows, 5 dead mailboxes each: neither alone reaches the 50 known
    fates the breaker needs before it judges, together they trip it."""
    per_partition = 45
    assert per_partition < BREAKER_DEFAULTS.value[2]
    frame = recipients(2 * per_partition, "one.example")
    dead = [f"person{i}@one.example" for part in (0, per_partition) for i in range(part, part + 5)]
    with Sandbox(dead_mailboxes=dead, rate=25) as box:  # 25 a second: a trip leaves rows
        done = send(frame, 2, tmp_path, client, target=box, rate=25)
    results = done.results.compute()
    paused = results[results["error_code"] == "ReputationPause"]
    assert len(paused) >= 10, results["status"].value_counts()
    assert done.summary.stopped is not None
    assert (done.partitions["rows"] == per_partition).all()
    assert (done.partitions["sent"] >= 5).all()  # both partitions sent: both fed the rates


def test_breaker_true_needs_events_to_follow(client: Any, tmp_path: Path) -> None:
    with Sandbox() as box:
        plain = box.resolve(transport_kind("ses"))  # the endpoint only: no mailbox to read
        with pytest.raises(ConfigurationError, match="events_queue"):
            send(recipients(4), 2, tmp_path, client, target=plain, breaker=True)
        assert box.mailbox.count() == 0


def test_a_killed_worker_then_a_resume_with_event_resolution_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    """A worker SIGKILLed mid-run leaves rows ``unknown``; a resume that cannot read the
    events keeps them all unknown; one that can (the sandbox) resolves those the provider
    accepted, and with ``retry_unknown`` resends only the others: 0 duplicates."""
    frame = recipients(600, "kill.example")
    with Sandbox(rate=150, latency_ms=150) as box, distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster, distributed.Client(cluster) as client:  # fmt: skip
        options = {"workers": 8}
        done = kill_a_busy_worker_while(
            lambda: send(frame, 4, tmp_path, client, target=box, **options), client, box, 150
        )
        first = done.results.compute()
        unknown = int((first["status"] == "unknown").sum())
        assert unknown >= 1

        blind = send(frame, 4, tmp_path, client, target=box.resolve(transport_kind("ses")),
                     **options).results.compute()  # fmt: skip
        assert int((blind["status"] == "unknown").sum()) == unknown

        resumed = send(frame, 4, tmp_path, client, target=box, retry_unknown=True,
                       **options).results.compute()  # fmt: skip
        got = delivered(box)
    # The sandbox drops a request whose connection died while it waited (its latency), so
    # whether the killed worker's last requests were accepted is a race: resolved or resent,
    # none of them goes twice.
    assert int((resumed["status"] == "unknown").sum()) <= unknown
    assert got.value_counts().max() == 1  # 0 duplicates
    assert set(got) == set(frame["email"])


def test_a_resume_resolves_what_a_killed_run_left_in_flight(client: Any, tmp_path: Path) -> None:
    """The state a SIGKILL leaves after the provider accepted some requests and before their
    answers were journaled (rows ``in_flight``, their messages in the mailbox): a resume that
    cannot read the events reports them ``unknown``; one that can resolves them, on every
    partition, and sends nothing twice."""
    frame = recipients(40, "flight.example")
    with Sandbox() as box:
        send(frame, 2, tmp_path / "blind", client, target=box)
        send(frame, 2, tmp_path / "seen", client, target=box)
        for run in ("blind", "seen"):
            for ledger in (tmp_path / run / "_ledger").glob("*.sqlite"):
                with sqlite3.connect(ledger) as db:
                    db.execute("UPDATE rows SET status='in_flight' WHERE row_key IN "
                               "('3', '4', '30')")  # fmt: skip
        before = box.mailbox.count()
        endpoint = box.resolve(transport_kind("ses"))
        blind = send(frame, 2, tmp_path / "blind", client, target=endpoint).results.compute()
        seen = send(frame, 2, tmp_path / "seen", client, target=box, retry_unknown=True)
        results = seen.results.compute()
        assert box.mailbox.count() == before  # nothing was sent again
    assert (blind["status"] == "unknown").sum() == 3
    assert (results["status"] == "unknown").sum() == 0
    resolved = results[results["error_code"] == "ResolvedFromEvent"]
    assert sorted(resolved["row_key"]) == ["3", "30", "4"]
    assert (resolved["status"] == "sent").all() and resolved["message_id"].notna().all()


def kill_a_busy_worker_while(call: Any, client: Any, box: Sandbox, after: int) -> Any:
    """Run ``call`` on a thread; once the sandbox holds ``after`` messages, SIGKILL (by its
    pid) a worker process running a task; return the call's result."""
    pids = client.run(os.getpid)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["done"] = call()
        except BaseException as exc:  # re-raised below, in the test's thread
            outcome["error"] = exc

    sender = threading.Thread(target=run)
    sender.start()
    deadline = time.monotonic() + 60
    while box.mailbox.count() < after:
        assert time.monotonic() < deadline and sender.is_alive()
        time.sleep(0.02)
    busy = [w for w, keys in client.processing().items() if keys and w in pids]
    os.kill(pids[busy[0]], signal.SIGKILL)
    sender.join(timeout=150)
    assert not sender.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["done"]
