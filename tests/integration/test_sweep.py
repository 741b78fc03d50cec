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


def _resend_asked(world: World, rng: random.Random) -> Observation:
    """A resume with other text and ``resend_changed=True``: each recipient gets two."""
    base = emails(3)
    ledger = world.root / "l.sqlite"
    with world.serving() as sandbox:
        send_hi(pd.DataFrame({"email": base}), "ses", target=sandbox, ledger=ledger)
        results = send_hi(pd.DataFrame({"email": base}), "ses", target=sandbox, ledger=ledger,
                          text="version two", resend_changed=True)  # fmt: skip
        assert sandbox.mailbox.count() == 6  # the resend went
        return observe(world, base, results, allowed=2)


def test_clean_stories_count_nothing_and_an_asked_resend_is_no_duplicate() -> None:
    cases = _by_name("api-reexport/ses/reverse/partial", "foreign/api/ses/null-id")
    assert len(cases) == 2
    results = [run_case(case) for case in cases]
    results.append(run_case(Case("planted", "resend-asked", _resend_asked)))
    for result in results:
        assert result.tally.defects == 0, (result.name, result.notes)
    assert "| total | 3 | 0 | 0 | 0 |" in table(results)


def test_the_same_resend_not_asked_for_is_three_duplicates() -> None:
    def strict(world: World, rng: random.Random) -> Observation:
        obs = _resend_asked(world, rng)
        obs.allowed = 1
        return obs

    strict_result = run_case(Case("planted", "resend-strict", strict))
    assert strict_result.tally.duplicates == 3, strict_result.notes


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
