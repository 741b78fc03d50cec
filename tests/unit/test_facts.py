"""The facts behind the guide stay fresh and honest about where they come from.

No test here reads the clock: the review alarm is ``python -m toolkit.facts --check-stale``,
which ``.ci/run`` runs and which fails, listing them, when a fact's source was last read more
than ``facts.REVIEW_PERIOD`` ago (a default test would fail on a user's machine for that).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from urllib.parse import urlparse

import pytest

from toolkit import facts

FACTS = facts.all_facts()
# AWS-owned places: its docs and sites, and repositories of the GitHub organisations AWS runs
# (aws*, and boto: botocore's service models are AWS's API definitions).
AWS_HOSTS = ("docs.aws.amazon.com", "aws.amazon.com", "docs.amplify.aws")
AWS_GITHUB = re.compile(r"^/(aws|awsdocs|aws-samples|awslabs|boto)/")
TRANSLATED = re.compile(r"/(?:[a-z]{2}_[a-z]{2})/")  # docs.aws.amazon.com/zh_cn/... and the like


NEWEST = max(f.checked for f in FACTS.values())
OLDEST = min(f.checked for f in FACTS.values())


def test_the_stale_check_fails_listing_each_stale_fact(capsys: pytest.CaptureFixture[str]) -> None:
    day = OLDEST + facts.REVIEW_PERIOD + dt.timedelta(days=1)
    assert facts.main(["--check-stale", "--today", day.isoformat()]) == 1
    err = capsys.readouterr().err
    stale = facts.overdue(day)
    assert 0 < len(stale) <= len(FACTS)
    for name, fact in FACTS.items():
        assert (f"  {name}: checked {fact.checked}" in err) == (name in stale), name
    assert f"({facts.REVIEW_PERIOD.days + 1} days ago)" in err  # the oldest facts


def test_the_stale_check_passes_within_the_period(capsys: pytest.CaptureFixture[str]) -> None:
    day = OLDEST + facts.REVIEW_PERIOD
    assert facts.main(["--check-stale", "--today", day.isoformat()]) == 0
    assert f"all {len(FACTS)} facts read within" in capsys.readouterr().out


def test_the_stale_check_runs_as_a_module() -> None:
    """The command CI runs: ``python -m toolkit.facts --check-stale`` (exit 1 when stale)."""
    day = NEWEST + facts.REVIEW_PERIOD + dt.timedelta(days=1)
    done = subprocess.run(
        [sys.executable, "-m", "toolkit.facts", "--check-stale", "--today", day.isoformat()],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"{len(FACTS)} facts not read"), done.stderr


def test_a_fact_knows_its_age() -> None:
    fact = FACTS["SES_MAX_MESSAGE_BYTES"]
    assert fact.age(fact.checked) == 0
    assert fact.age(fact.checked + dt.timedelta(days=40)) == 40


def test_overdue_names_what_is_stale() -> None:
    later = max(f.checked for f in FACTS.values()) + facts.REVIEW_PERIOD + dt.timedelta(days=1)
    assert set(facts.overdue(later)) == set(FACTS)
    assert facts.overdue(min(f.checked for f in FACTS.values())) == {}


@pytest.mark.parametrize("name", sorted(FACTS))
def test_aws_facts_cite_aws_english_pages(name: str) -> None:
    fact = FACTS[name]
    url = urlparse(fact.source)
    assert url.scheme == "https", f"{name}: {fact.source}"
    assert not TRANSLATED.search(url.path), f"{name} cites a translated page: {fact.source}"
    aws_owned = url.netloc in AWS_HOSTS or (
        url.netloc == "github.com" and AWS_GITHUB.match(url.path) is not None
    )
    if fact.provenance == "aws":
        assert aws_owned, f"{name} is marked as AWS's but cites {fact.source}"
    else:
        assert fact.provenance in facts.PROVENANCE_LABEL
        assert not aws_owned or fact.provenance == "toolkit", name


def test_prices_are_marked_as_third_party_until_read_from_aws() -> None:
    prices = [n for n in FACTS if "PRICE" in n or n.startswith("SES_PLAN_")]
    assert prices
    for name in prices:
        fact = FACTS[name]
        if fact.provenance == "third-party":
            assert "not checked against" in fact.note or "not AWS" in fact.note, name


def test_the_guide_shows_each_facts_age_as_of_its_answer() -> None:
    from toolkit.guide import Profile, recommend
    from toolkit.guide.card import render_card, source_link

    fact = FACTS["SES_MAX_MESSAGE_BYTES"]
    checked = f"checked {fact.checked.isoformat()}"
    assert f"{checked}</span>" in source_link(fact)  # no date given: no age
    assert f"{checked} (0 days old)" in source_link(fact, fact.checked)
    assert f"{checked} (1 day old)" in source_link(fact, fact.checked + dt.timedelta(days=1))
    late = fact.checked + facts.REVIEW_PERIOD + dt.timedelta(days=1)
    stale = source_link(fact, late)
    assert f"({facts.REVIEW_PERIOD.days + 1} days old: may be out of date" in stale
    early = fact.checked - dt.timedelta(days=3)  # an answer dated before the fact was read
    assert f"{checked}</span>" in source_link(fact, early)
    day = NEWEST + dt.timedelta(days=10)
    card = render_card(recommend(Profile(channels={"email"}, monthly_volume=1000), today=day))
    assert f"checked {NEWEST.isoformat()} (10 days old)" in card
