"""The sweep harness (benchmarks/sweep) counts what it must: a clean story counts nothing, a
resend the user asked for is no duplicate, and a duplicate, a lost result or a false ``sent``
made on purpose is counted — the harness can fail."""

from __future__ import annotations

import random

import pandas as pd

from benchmarks.sweep import all_cases
from benchmarks.sweep.cases import Case
from benchmarks.sweep.ground import Observation
from benchmarks.sweep.runner import run_case, table
from benchmarks.sweep.world import World, emails, observe
from tests.helpers import send_hi


def _by_name(*names: str) -> list[Case]:
    with all_cases(only=names, dask=False) as cases:
        return list(cases)


def test_clean_stories_count_nothing_and_an_asked_resend_is_no_duplicate() -> None:
    cases = _by_name("api-reexport/ses/reverse/partial", "content/ses/text/resend/full",
                     "foreign/api/ses/null-id")  # fmt: skip
    assert len(cases) == 3
    results = [run_case(case) for case in cases]
    for result in results:
        assert result.tally.defects == 0, (result.name, result.notes)
    resend = next(r for r in results if r.name.startswith("content/"))
    assert resend.commands[-1].endswith("--resend-changed")
    assert "| total | 3 | 0 | 0 | 0 |" in table(results)


def _twice_without_a_ledger(world: World, rng: random.Random) -> Observation:
    """A user's mistake the toolkit cannot see: the same frame sent twice, no ledger."""
    base = emails(4)
    with world.serving() as sandbox:
        send_hi(pd.DataFrame({"email": base}), "ses", target=sandbox)
        results = send_hi(pd.DataFrame({"email": base}), "ses", target=sandbox)
        return observe(world, base, results)


def _results_edited(world: World, rng: random.Random) -> Observation:
    """Results that lie: one delivered row shown failed, one row 'sent' with an id the
    sandbox never gave, one row left out."""
    base = emails(5)
    with world.serving() as sandbox:
        results = send_hi(pd.DataFrame({"email": base}), "ses", target=sandbox)
        results.loc[results.index[0], "status"] = "failed"
        results.loc[results.index[1], "message_id"] = "0100-made-up"
        return observe(world, base, results.iloc[:-1])


def test_planted_duplicates_lost_results_and_false_sent_are_counted() -> None:
    twice = run_case(Case("planted", "planted/twice", _twice_without_a_ledger))
    assert twice.tally.duplicates == 4 and twice.tally.defects == 4, twice.notes
    edited = run_case(Case("planted", "planted/edited", _results_edited))
    # row 0 and the missing row 4 were delivered and not shown sent; row 1 is a false sent
    assert (edited.tally.lost, edited.tally.false_sent) == (2, 1), edited.notes
    assert edited.tally.status_errors == 1  # 4 result rows for 5 input rows


def test_a_broken_case_is_a_harness_failure_not_a_crash() -> None:
    def broken(world: World, rng: random.Random) -> Observation:
        raise RuntimeError("boom")

    result = run_case(Case("planted", "planted/broken", broken))
    assert result.tally.harness == 1 and "boom" in result.notes[0]
