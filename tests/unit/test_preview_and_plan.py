"""What a person sees before sending: sample messages in full, and the plan with every row that
will not go, why, how long and how much."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import toolkit
from toolkit.compose import ComposeSpec
from toolkit.errors import ConfigurationError
from toolkit.notebook import read_table

DATA = Path(__file__).resolve().parents[2] / "data"
SENDER = "Shop <sender@example.com>"
LONG = "A rather long street name that goes on " * 4


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "email": ["ana@example.com", "bo@example.com", "not-an-email", "cy@example.com"],
        "name": ["Ana", "Bo", "Xi", None],
        "city": ["Lisboa", LONG, "Oslo", "Köln"],
    })  # fmt: skip


def test_the_preview_shows_whole_messages_and_the_rows_likeliest_to_go_wrong() -> None:
    p = toolkit.preview(_frame(), via="ses", rows=4, sender=SENDER, name_column="name",
                        subject="Hello {{city}}", text="Ship to {{city}}.\n" + "x" * 200,
                        html="<p onclick='x()'>Ship to <b>{{city}}</b></p>")  # fmt: skip
    whys = [m.why for m in p.messages]
    assert whys[0] == "the first row"
    assert p.messages[1].row_key == "1" and whys[1].startswith("the longest values")
    assert "an empty 'name'" in whys and "a row that will not be sent" in whys
    longest = p.messages[1]
    assert longest.text == f"Ship to {LONG}.\n" + "x" * 200  # in full: no 80-character cut
    assert longest.to == "Bo <bo@example.com>" and longest.sender == SENDER
    refused = next(m for m in p.messages if m.problem)
    assert "InvalidAddress" in refused.problem and refused.to == "not-an-email"
    text = p.to_text()
    assert "x" * 200 in text and "--- HTML part (source) ---" in text
    page = p._repr_html_()
    frames = re.findall(r"<iframe[^>]*>", page)
    assert len(frames) == 3 and all('sandbox=""' in f and "srcdoc=" in f for f in frames)
    assert "&lt;b&gt;" in frames[0]  # the HTML part is inside srcdoc, escaped once


def test_the_preview_renders_stored_template_mode_as_ses_bulk_sends() -> None:
    p = toolkit.preview(_frame(), via="ses-bulk", rows=1, sender=SENDER,
                        subject="Hello {{city}}", text="In {{city}}")  # fmt: skip
    (first,) = p.messages
    assert first.subject == "Hello Lisboa" and first.text == "In Lisboa"


def test_preview_takes_a_compose_spec_and_reports_mistakes_as_configuration_errors() -> None:
    spec = ComposeSpec(to="email", sender=SENDER, subject="Hi {{name}}")
    assert toolkit.preview(_frame(), compose=spec, rows=1).messages[0].subject == "Hi Ana"
    with pytest.raises(TypeError, match="colour"):  # send() would refuse it the same way
        toolkit.preview(_frame(), compose=spec, colour="red")
    with pytest.raises(ConfigurationError, match="not both"):
        toolkit.preview(_frame(), compose=spec, subject="{{nope}}")
    with pytest.raises(ConfigurationError, match="nope"):
        toolkit.preview(_frame(), sender=SENDER, subject="{{nope}}")


def test_the_plan_lists_every_row_not_sent_with_who_and_the_full_reason() -> None:
    frame = read_table(DATA / "mailchimp_audience_export.csv")
    plan = toolkit.plan_table(frame, via="ses", rate=14, to="Email Address", sender=SENDER,
                              subject="Hello {{First Name}}", text="Hi")  # fmt: skip
    table = plan.table()
    assert list(table.columns) == ["recipient", "First Name", "Last Name", "sent", "what", "why"]
    assert set(table.loc[table["sent"] == "no", "what"]) == {
        "InvalidAddress", "NonAsciiLocalPart", "MissingValue"}  # fmt: skip
    assert not table["why"].str.contains("…").any()
    case = table.loc["9"]
    assert case["sent"] == "yes" and case["what"] == "repeated address (letter case)"
    assert "row '3'" in case["why"]
    assert plan.will_send == 51 and plan.seconds == pytest.approx(51 / 14)
    assert plan.cost_usd == pytest.approx(51 * 0.0001)
    text = plan.to_text()
    assert text.startswith("51 of 54 rows will be sent via ses: about 4 s at 14 recipients/s")
    assert "SES does not accept internationalized (SMTPUTF8) mailboxes" in text  # not cut
    page = plan._repr_html_()
    assert "toolkit-plan tex2jax_ignore mathjax_ignore" in page  # prices, not LaTeX
    assert "$0.0051" in page


def test_the_plan_flags_duplicates_by_kind_and_spreads_over_the_daily_quota() -> None:
    frame = pd.DataFrame({"email": ["ana@example.com", "Ana@example.com", "ana@example.com"],
                          "id": ["1", "2", "3"]})  # fmt: skip
    quota = toolkit.Quota(max_send_rate=1.0, max_24_hour_send=1.0)
    plan = toolkit.plan_table(frame, quota=quota, sender=SENDER, subject="Hi")
    assert plan.table()["what"].tolist() == ["duplicate (letter case)", "duplicate"]
    assert plan.will_send == 1 and plan.days == 1
    frame = pd.DataFrame({"email": [f"p{i}@example.com" for i in range(5)]})
    plan = toolkit.plan_table(frame, quota=quota, sender=SENDER, subject="Hi")
    assert plan.days == 5 and "spreads it over 5 days" in plan.pace_text()
    assert "time unknown" in toolkit.plan_table(frame, sender=SENDER, subject="Hi").pace_text()
