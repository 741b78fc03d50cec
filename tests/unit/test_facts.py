"""The facts behind the guide stay fresh and honest about where they come from.

The review test reads the clock on purpose: when a fact's source was last read more than
``facts.REVIEW_PERIOD`` ago, the suite fails until someone reads it again and updates the
entry (its value, source and ``checked`` date).
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlparse

import pytest

from toolkit import facts

FACTS = facts.all_facts()
# AWS-owned places: its docs and sites, and repositories of the GitHub organisations AWS runs
# (aws*, and boto: botocore's service models are AWS's API definitions).
AWS_HOSTS = ("docs.aws.amazon.com", "aws.amazon.com", "docs.amplify.aws")
AWS_GITHUB = re.compile(r"^/(aws|awsdocs|aws-samples|awslabs|boto)/")
TRANSLATED = re.compile(r"/(?:[a-z]{2}_[a-z]{2})/")  # docs.aws.amazon.com/zh_cn/... and the like


def test_every_fact_was_read_within_the_review_period() -> None:
    today = dt.date.today()
    overdue = facts.overdue(today)
    assert not overdue, (
        f"facts not re-read for more than {facts.REVIEW_PERIOD.days} days; read their sources "
        "again and update value, source and checked date: "
        + ", ".join(f"{name} (checked {f.checked})" for name, f in sorted(overdue.items()))
    )


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
