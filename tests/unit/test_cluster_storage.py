"""What a partitioned send keeps on storage, without a cluster: identities, claims, result
files, and the directory probe (with stand-in workers whose storage is or is not shared)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from toolkit.cluster.connect import check_directories
from toolkit.cluster.storage import (
    Claim,
    PartitionBusyError,
    claimed,
    ledger_identities,
    partition_identity,
    probe,
)
from toolkit.errors import ConfigurationError
from toolkit.results import Outcome, Status, results_frame
from toolkit.results_io import read_results, write_results


def frame(n: int, start: int = 0, tag: str = "a") -> pd.DataFrame:
    return pd.DataFrame({"email": [f"{tag}{i}@example.org" for i in range(start, start + n)]})


def test_the_same_rows_give_the_same_identity_and_other_rows_another() -> None:
    one = partition_identity(frame(5), None, "email")
    assert one == partition_identity(frame(5), None, "email")
    assert one != partition_identity(frame(5, tag="b"), None, "email")  # same keys, recipients
    assert one != partition_identity(frame(6), None, "email")
    moved = frame(5).set_axis(range(10, 15))
    assert one != partition_identity(moved, None, "email")  # same recipients, other keys
    keyed = frame(5).assign(order=list("vwxyz"))
    assert partition_identity(keyed, "order", "email") != partition_identity(
        keyed.assign(order=list("vwxyq")), "order", "email"
    )
    text_index = frame(3).set_axis(["k1", "k2", "k3"])
    assert partition_identity(text_index, None, "email") == partition_identity(
        text_index.copy(), None, "email"
    )


def test_ledger_identities_come_from_partition_ledger_names() -> None:
    names = ["part-ab12.sqlite", "part-ab12.claim", "part-cd.sqlite-wal", ".probe-x", "other"]
    assert ledger_identities(names) == ["ab12"]


def test_results_files_share_one_schema_and_keep_the_index(tmp_path: Path) -> None:
    outcomes = [Outcome("k0", Status.SKIPPED, "ses", "a@example.org", error_code="DryRun")]
    empty_ids = results_frame(outcomes, pd.Index([7]))  # message_id: all missing
    empty_ids.attrs["preview"] = pd.DataFrame({"x": [1]})  # a dry run carries a preview
    write_results(empty_ids, tmp_path / "one.parquet")
    sent = [Outcome("k1", Status.SENT, "ses", "b@example.org", message_id="m-1")]
    write_results(results_frame(sent, pd.Index([8])), tmp_path / "two.parquet")
    first, second = read_results(tmp_path / "one.parquet"), read_results(tmp_path / "two.parquet")
    assert list(first.index) == [7] and list(second.index) == [8]
    assert first.dtypes.equals(second.dtypes)
    assert pd.read_parquet(tmp_path)["status"].tolist() == ["skipped", "sent"]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_a_claim_is_taken_released_and_taken_over_from_a_dead_owner(tmp_path: Path) -> None:
    me = Claim.mine("tcp://w1#a", "task-1")
    with claimed(str(tmp_path), "p1", me, alive=lambda owner: True) as previous:
        assert previous is None and (tmp_path / "part-p1.claim").exists()
    assert not (tmp_path / "part-p1.claim").exists()  # released

    dead = Claim.mine("tcp://w2#b", "task-1")
    with claimed(str(tmp_path), "p2", dead, alive=lambda owner: True):
        naps: list[float] = []
        with claimed(str(tmp_path), "p2", me, alive=lambda owner: owner != dead.owner,
                     sleep=naps.append) as previous:  # fmt: skip
            assert previous == dead and naps  # waited for the fence to bite first
        assert (tmp_path / "part-p2.claim").exists() is False


def test_a_claim_held_by_a_live_worker_is_waited_for_then_refused(tmp_path: Path) -> None:
    other = Claim.mine("tcp://w2#b", "task-9")
    me = Claim.mine("tcp://w1#a", "task-1")
    mine = claimed(str(tmp_path), "p", me, alive=lambda owner: True, wait_s=0.0,
                   sleep=lambda s: None)  # fmt: skip
    busy = pytest.raises(PartitionBusyError, match="being sent by tcp://w2#b")
    with claimed(str(tmp_path), "p", other, alive=lambda owner: True), busy, mine:
        pass  # pragma: no cover - never entered
    assert not (tmp_path / "part-p.claim").exists()  # the holder released it


class StandInWorkers:
    """``client.run`` over stand-in workers; each sees the paths under its own ``root``
    (the same root for all: shared storage; one per worker: local disks)."""

    def __init__(self, roots: dict[str, Path]) -> None:
        self.roots = roots

    def run(self, func: Any, stage: str, paths: list[str], token: str, sqlite: str | None):
        answers = {}
        for address, root in self.roots.items():
            mine = [str(root / Path(p).relative_to("/")) for p in paths]
            local_sqlite = str(root / Path(sqlite).relative_to("/")) if sqlite else None
            worker = SimpleNamespace(id=address.rsplit(":", 1)[-1])
            answer = func(stage, mine, token, local_sqlite, dask_worker=worker)
            if "probes" in answer:  # report folders as the client named them
                answer["probes"] = dict(zip(paths, answer["probes"].values(), strict=True))
            answers[address] = answer
        return answers


def job(out: str, ledger: str | None) -> Any:
    return SimpleNamespace(out_dir=out, ledger_dir=ledger, dry_run=ledger is None)


def test_shared_directories_pass_the_probe_and_leave_nothing(tmp_path: Path) -> None:
    shared = StandInWorkers({"tcp://h:1": tmp_path, "tcp://h:2": tmp_path})
    check_directories(shared, None, job("/run/out", "/run/out/_ledger"))
    left = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert left == [] and (tmp_path / "run/out/_ledger").is_dir()


def test_directories_that_are_not_shared_are_refused(tmp_path: Path) -> None:
    apart = StandInWorkers({"tcp://a:1": tmp_path / "a", "tcp://b:2": tmp_path / "b"})
    with pytest.raises(ConfigurationError, match="does not see the other workers' files"):
        check_directories(apart, None, job("/run/out", "/run/out/_ledger"))


def test_a_directory_a_worker_cannot_create_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("a file, not a directory", encoding="utf-8")
    workers = StandInWorkers({"tcp://h:1": tmp_path})
    with pytest.raises(ConfigurationError, match="cannot use"):
        check_directories(workers, None, job("/run/out", None))


def test_the_probe_reports_problems_as_answers(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert "error" in probe("write", [str(blocker / "sub")], "t", None)
