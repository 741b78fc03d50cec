"""``send_partitioned(..., out=DIR)`` into a directory that already holds other files (issue 16
L10): the results are this run's partitions only; a user's notes, another CSV, another run's
results are never read as results, overwritten or deleted; a file of the toolkit's that would
land on a foreign one is one ConfigurationError before anything is sent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from toolkit import send_partitioned  # noqa: E402
from toolkit.cluster.storage import partition_identity, results_path  # noqa: E402
from toolkit.errors import ConfigurationError  # noqa: E402
from toolkit.sandbox import Sandbox  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

MESSAGE: dict[str, Any] = {"sender": "sender@example.com", "subject": "Hi", "text": "x"}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected


def frame(tag: str, n: int = 6) -> Any:
    emails = [f"{tag}{i}@example.org" for i in range(n)]
    return dd.from_pandas(pd.DataFrame({"email": emails}), npartitions=2)


def send(ddf: Any, out: Path, client: Any, sandbox: Sandbox, **options: Any) -> Any:
    values = {**MESSAGE, "progress": False, "target": sandbox, "rate": 200.0, **options}
    return send_partitioned(ddf, "ses", out=out, client=client, to="email", **values)


def foreign_files(out: Path) -> dict[str, tuple[bytes, int]]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "notes.txt").write_text("my notes")
    (out / "customers.csv").write_text("email\nx@example.org\n")
    pd.DataFrame({"a": [1]}).to_parquet(out / "part.0.parquet")  # what dask's to_parquet writes
    (out / "old").mkdir()
    (out / "old" / "results.csv").write_text("status\nsent\n")
    return snapshot(out)


def snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(out)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file() and not p.name.startswith("part-") and "_ledger" not in p.parts
    }


def test_other_files_are_neither_read_nor_touched(
    client: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    before = foreign_files(tmp_path)
    done = send(frame("a"), tmp_path, client, sandbox)
    assert done.counts["sent"] == 6
    results = done.results.compute()
    assert sorted(results["status"]) == ["sent"] * 6 and len(results) == 6
    assert snapshot(tmp_path) == before
    # Another run's results in the same directory stay too, and are not this run's.
    second = send(frame("b"), tmp_path, client, sandbox, ledger=tmp_path / "_ledger_b")
    assert len(second.results.compute()) == 6
    assert set(second.partitions["file"]).isdisjoint(done.partitions["file"])
    assert snapshot(tmp_path) == before
    assert sandbox.mailbox.count() == 12


def test_another_runs_ledgers_are_named_as_such(
    client: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    send(frame("a"), tmp_path, client, sandbox)
    with pytest.raises(ConfigurationError) as refused:
        send(frame("b"), tmp_path, client, sandbox)
    message = str(refused.value)
    assert "another frame" in message and "ledger=" in message and "\n" not in message
    assert sandbox.mailbox.count() == 6


def test_a_foreign_file_where_a_result_goes_stops_the_run_before_sending(
    client: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    ddf = frame("c")
    identity = partition_identity(ddf.partitions[1].compute(), None, "email")
    victim = results_path(str(tmp_path), identity)
    victim.write_text("my own file that happens to have this name")
    with pytest.raises(ConfigurationError) as refused:
        send(ddf, tmp_path, client, sandbox)
    message = str(refused.value)
    assert victim.name in message and "\n" not in message
    assert victim.read_text() == "my own file that happens to have this name"
    assert sandbox.mailbox.count() == 0


def test_a_foreign_file_named_like_the_ledger_directory_is_one_clear_line(
    client: Any, sandbox: Sandbox, tmp_path: Path
) -> None:
    (tmp_path / "_ledger").write_text("not a directory")
    with pytest.raises(ConfigurationError) as refused:
        send(frame("d"), tmp_path, client, sandbox)
    assert "_ledger" in str(refused.value) and "\n" not in str(refused.value)
    assert (tmp_path / "_ledger").read_text() == "not a directory"
    assert sandbox.mailbox.count() == 0


def test_the_probe_leaves_nothing_behind(client: Any, sandbox: Sandbox, tmp_path: Path) -> None:
    send(frame("e"), tmp_path, client, sandbox)
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".probe")]
    assert leftovers == []
