"""Every rule of the decision guide, its date boundaries, and the cost and time arithmetic."""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit import facts
from toolkit.cli.guide import guide_cli
from toolkit.errors import ConfigurationError
from toolkit.facts import Fact
from toolkit.guide import (
    Interface,
    PinpointPhase,
    Profile,
    Throughput,
    estimate_time,
    feature_table,
    feature_table_records,
    format_duration,
    pinpoint_phase,
    recommend,
    seconds_to_send,
)
from toolkit.guide.pricing import CostInputs, estimate_cost, tiered_cost

TODAY = dt.date(2026, 11, 26)
BEFORE_CLOSE = dt.date(2025, 5, 19)
CLOSE = dt.date(2025, 5, 20)
BEFORE_EOS = dt.date(2026, 10, 29)
EOS = dt.date(2026, 10, 30)
MID = dt.date(2026, 3, 1)  # existing-only phase, before the 2026 plans


def rec(today: dt.date = TODAY, **kw):
    return recommend(Profile(**kw), today=today)


def reason(r, rule: str):
    matches = [x for x in r.reasons if x.rule == rule]
    assert matches, f"{rule} not in {r.rules}"
    return matches[0]


def warning(r, rule: str):
    matches = [x for x in r.warnings if x.rule == rule]
    assert matches, f"{rule} not in {r.warning_rules}"
    return matches[0]


# --- phases and date boundaries -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "phase"),
    [
        (BEFORE_CLOSE, PinpointPhase.OPEN),
        (CLOSE, PinpointPhase.EXISTING_ONLY),
        (BEFORE_EOS, PinpointPhase.EXISTING_ONLY),
        (EOS, PinpointPhase.ENDED),
        (TODAY, PinpointPhase.ENDED),
    ],
)
def test_pinpoint_phase_boundaries(day, phase):
    assert pinpoint_phase(day) is phase


def test_boundary_dates_come_from_facts():
    assert facts.PINPOINT_NO_NEW_CUSTOMERS.value == CLOSE
    assert facts.PINPOINT_END_OF_SUPPORT.value == EOS


MULTI = {"channels": {"email", "sms"}}


def test_new_customer_day_before_close_may_still_choose_pinpoint():
    r = rec(BEFORE_CLOSE, **MULTI)
    assert r.primary.interface is Interface.PINPOINT
    assert "pinpoint-one-syntax" in r.rules
    assert {"pinpoint-closing", "pinpoint-migrate"} <= set(r.warning_rules)


def test_new_customer_on_close_day_gets_ses():
    r = rec(CLOSE, **MULTI)
    assert r.primary.interface is Interface.SES_API
    assert r.rules[0] == "pinpoint-closed"
    assert reason(r, "pinpoint-closed").fact is facts.PINPOINT_NO_NEW_CUSTOMERS


def test_existing_account_day_before_eos_gets_legacy_pinpoint_with_warning():
    r = rec(BEFORE_EOS, existing_pinpoint=True, **MULTI)
    assert r.primary.interface is Interface.PINPOINT
    assert r.primary.legacy
    assert r.primary.channels == ("email", "sms")
    assert r.summary == "Pinpoint SendMessages (legacy) for email + SMS"
    assert "pinpoint-existing-account" in r.rules
    w = warning(r, "pinpoint-migrate")
    assert "1 days after 2026-10-29" in w.text
    assert w.fact is facts.PINPOINT_END_OF_SUPPORT
    assert [c.interface for c in r.alternative] == [Interface.SES_API, Interface.EUM]


def test_existing_account_on_eos_day_never_gets_pinpoint_for_email():
    r = rec(EOS, existing_pinpoint=True, **MULTI)
    assert r.primary.interface is Interface.SES_API
    assert r.rules[:2] == ("pinpoint-ended", "email-not-in-eum")
    assert "pinpoint-email-gone" in r.warning_rules
    assert r.summary == "SES API v2 for email + AWS End User Messaging for SMS"


def test_today_defaults_to_the_clock():
    assert recommend(Profile()).today == dt.date.today()


# --- the Pinpoint rules -------------------------------------------------------------------------


def test_email_only_without_pinpoint_signal_is_ses_even_when_pinpoint_usable():
    r = rec(MID, existing_pinpoint=True)
    assert r.primary.interface is Interface.SES_API
    assert "pinpoint-migrate" in r.warning_rules  # the account should still move its email


def test_endpoint_ids_keep_existing_account_on_pinpoint_before_eos():
    r = rec(MID, existing_pinpoint=True, endpoint_ids=True)
    assert r.primary.interface is Interface.PINPOINT
    assert r.primary.channels == ("email",)
    assert reason(r, "pinpoint-endpoints").fact is facts.PINPOINT_ENDPOINT_AND_USER_IDS
    assert [c.interface for c in r.alternative] == [Interface.SES_API]


def test_pinpoint_templates_and_attachments():
    r = rec(MID, existing_pinpoint=True, templates=True, attachments=True, **MULTI)
    assert reason(r, "pinpoint-templates").fact is facts.PINPOINT_TEMPLATES
    assert warning(r, "pinpoint-attachments").fact is facts.PINPOINT_EMAIL_MAX_MESSAGE_BYTES


def test_pinpoint_cost_reason_mentions_historical_price():
    r = rec(MID, existing_pinpoint=True, monthly_volume=10_000, **MULTI)
    assert "Pinpoint (historical price): about $1.00/month" in reason(r, "cost").text


@pytest.mark.parametrize(
    ("need", "fragment"),
    [
        ("receive", "receiving email"),
        ("config_sets", "configuration sets"),
        ("sending_authorization", "sending authorization"),
        ("tenants", "tenant isolation"),
        ("dedicated_ips", "dedicated IP pools"),
    ],
)
def test_ses_only_needs_beat_pinpoint_before_eos(need, fragment):
    r = rec(MID, existing_pinpoint=True, **MULTI, **{need: True})
    assert r.primary.interface is Interface.SES_API
    assert fragment in reason(r, "ses-over-pinpoint").text


def test_third_party_beats_pinpoint_before_eos():
    r = rec(MID, existing_pinpoint=True, third_party=True, **MULTI)
    assert r.primary.interface is Interface.SES_SMTP
    assert "needs SMTP" in reason(r, "ses-over-pinpoint").text


def test_large_volume_beats_pinpoint_before_eos():
    big = facts.LARGE_VOLUME_PER_MONTH.value
    r = rec(MID, existing_pinpoint=True, monthly_volume=big, **MULTI)
    assert r.primary.interface is Interface.SES_API
    assert "volume is large" in reason(r, "ses-over-pinpoint").text
    assert reason(r, "ses-transactional").weight == 65
    small = rec(MID, existing_pinpoint=True, monthly_volume=big - 1, **MULTI)
    assert small.primary.interface is Interface.PINPOINT


# --- the SES rules ------------------------------------------------------------------------------


def test_default_today_is_ses_api_for_email():
    r = rec()
    assert r.summary == "SES API v2 for email"
    assert r.primary.service == "Amazon SES"
    assert r.secondary == ()
    assert {"pinpoint-ended", "email-not-in-eum", "ses-transactional", "api-sdk"} <= set(r.rules)
    assert reason(r, "ses-transactional").weight == 30


def test_third_party_means_smtp():
    r = rec(third_party=True)
    assert r.primary.interface is Interface.SES_SMTP
    assert reason(r, "smtp-third-party").fact is facts.SES_SMTP_INTERFACE
    assert warning(r, "smtp-retries").fact is facts.SES_SMTP_NO_SDK_RETRIES
    assert "api-sdk" not in r.rules


@pytest.mark.parametrize(
    ("need", "rule", "fact"),
    [
        ("receive", "receive", facts.SES_RECEIVING),
        ("config_sets", "config-sets", facts.SES_CONFIGURATION_SETS),
        ("sending_authorization", "sending-authorization", facts.SES_SENDING_AUTHORIZATION),
        ("tenants", "tenants", facts.SES_TENANTS),
        ("dedicated_ips", "dedicated-ips", facts.SES_DEDICATED_IPS),
        ("templates", "templates", facts.SES_TEMPLATES),
        ("attachments", "attachments", facts.SES_MAX_MESSAGE_BYTES),
    ],
)
def test_each_need_adds_its_reason_with_its_fact(need, rule, fact):
    without = rec()
    assert rule not in without.rules
    r = rec(**{need: True})
    assert reason(r, rule).fact is fact


def test_config_sets_and_sending_authorization_name_the_smtp_headers():
    r = rec(third_party=True, config_sets=True, sending_authorization=True)
    assert "X-SES-CONFIGURATION-SET" in reason(r, "config-sets").text
    assert "X-SES-SOURCE-ARN" in reason(r, "sending-authorization").text
    api = rec(config_sets=True, sending_authorization=True)
    assert "ConfigurationSetName" in reason(api, "config-sets").text
    assert "IdentityArn" in reason(api, "sending-authorization").text


def test_tenants_over_smtp_warns():
    assert "tenants-api" in rec(third_party=True, tenants=True).warning_rules
    assert "tenants-api" not in rec(tenants=True).warning_rules


def test_dedicated_ips_warn_below_large_volume():
    assert "dedicated-ips-volume" in rec(dedicated_ips=True, monthly_volume=1000).warning_rules
    big = facts.LARGE_VOLUME_PER_MONTH.value
    assert "dedicated-ips-volume" not in rec(dedicated_ips=True, monthly_volume=big).warning_rules


def test_templates_over_smtp_is_a_warning_not_a_reason():
    r = rec(third_party=True, templates=True)
    assert "templates" not in r.rules
    assert warning(r, "templates-smtp").fact is facts.SES_TEMPLATES


def test_attachments_warn_about_bulk_only_on_the_api():
    assert "bulk-no-attachments" in rec(attachments=True).warning_rules
    assert "bulk-no-attachments" not in rec(attachments=True, third_party=True).warning_rules


def test_multichannel_after_eos_splits_email_and_eum():
    r = rec(channels={"email", "sms", "push", "voice"})
    assert [c.interface for c in r.choices] == [Interface.SES_API, Interface.EUM]
    assert r.secondary[0].channels == ("sms", "push", "voice")
    assert r.summary == "SES API v2 for email + AWS End User Messaging for SMS + push + voice"
    assert reason(r, "channels-split").fact is facts.PINPOINT_CHANNELS_RENAMED_EUM
    assert warning(r, "one-syntax-gone").fact is facts.AWS_ENGAGEMENT_DESTINATIONS


def test_endpoint_ids_with_ses_warn_there_is_no_equivalent():
    r = rec(endpoint_ids=True)
    assert r.primary.interface is Interface.SES_API
    assert warning(r, "endpoint-ids").fact is facts.PINPOINT_ENDPOINT_AND_USER_IDS


def test_existing_account_after_close_without_signal_warns_to_migrate():
    r = rec(MID, existing_pinpoint=True, receive=True)
    assert "pinpoint-closed" not in r.rules
    assert warning(r, "pinpoint-migrate").weight == 90


# --- no email -----------------------------------------------------------------------------------


def test_sms_only_goes_to_end_user_messaging():
    r = rec(channels={"sms"})
    assert r.summary == "AWS End User Messaging for SMS"
    assert r.rules[0] == "eum-channels"
    assert r.cost.inputs.monthly_volume == 0
    assert "cost" not in r.rules


def test_sms_only_existing_account_keeps_v1_calls():
    r = rec(channels={"push", "sms"}, existing_pinpoint=True)
    assert reason(r, "pinpoint-v1-sms-push").fact is facts.PINPOINT_V1_SMS_PUSH_SUPPORTED


def test_sms_only_endpoints_after_eos_warn():
    assert "endpoints-ended" in rec(channels={"sms"}, endpoint_ids=True).warning_rules
    assert "endpoints-ended" not in rec(MID, channels={"sms"}, endpoint_ids=True).warning_rules


def test_email_needs_without_email_are_reported_as_ignored():
    r = rec(channels={"voice"}, receive=True)
    assert "receive" in warning(r, "email-needs-ignored").text


# --- quota and rate rules -----------------------------------------------------------------------


def test_unknown_quota_gives_no_time_but_says_what_is_known():
    # The old answer timed 200k/month at the sandbox's 1/s and 200 per day: "999 d 0 h".
    r = rec(monthly_volume=200_000)
    assert "quota-unknown" in r.warning_rules
    assert not r.time.quota_known and r.time.limited_by == "unknown quota"
    assert r.time.at_quota_s is None and r.time.at_headroom_s is None
    text = warning(r, "quota-unknown").text
    assert "1 email per second and 200 per 24 hours" in text and "get-account" in text
    assert " d " not in r.to_text() and "not estimated" in r.to_text()
    assert r.time.to_dict()["at_quota_s"] is None


def test_peak_over_quota_with_headroom():
    # 14/s with 0.7 headroom allows 9.8/s
    assert "peak-over-quota" in rec(max_send_rate=14, peak_rate=10).warning_rules
    assert "peak-over-quota" not in rec(max_send_rate=14, peak_rate=9.8).warning_rules
    assert "quota-unknown" not in rec(max_send_rate=14).warning_rules


def test_volume_over_daily_quota():
    r = rec(max_send_rate=14, max_24_hour_send=50_000, monthly_volume=1_500_001)
    assert "volume-over-daily-quota" in r.warning_rules
    ok = rec(max_send_rate=14, max_24_hour_send=50_000, monthly_volume=1_500_000)
    assert "volume-over-daily-quota" not in ok.warning_rules
    unlimited = rec(max_send_rate=14, max_24_hour_send=-1, monthly_volume=10**9)
    assert "volume-over-daily-quota" not in unlimited.warning_rules


# --- invariants over many profiles --------------------------------------------------------------

profiles = st.builds(
    Profile,
    channels=st.sets(st.sampled_from(["email", "sms", "push", "voice"]), min_size=1),
    third_party=st.booleans(),
    monthly_volume=st.integers(0, 10**9),
    peak_rate=st.floats(0, 1e4),
    receive=st.booleans(),
    config_sets=st.booleans(),
    sending_authorization=st.booleans(),
    dedicated_ips=st.booleans(),
    tenants=st.booleans(),
    templates=st.booleans(),
    attachments=st.booleans(),
    endpoint_ids=st.booleans(),
    existing_pinpoint=st.booleans(),
)
days = st.dates(dt.date(2024, 1, 1), dt.date(2028, 12, 31))


@settings(max_examples=300, deadline=None)
@given(profiles, days)
def test_every_answer_says_why_with_dated_sources(profile, day):
    r = recommend(profile, today=day)
    assert r.reasons, "an answer without reasons"
    for item in (*r.reasons, *r.warnings):
        assert isinstance(item.fact, Fact)
        assert item.fact.source.startswith("http")
        assert item.fact.checked <= dt.date.today()
        assert item.text
    assert [x.weight for x in r.reasons] == sorted((x.weight for x in r.reasons), reverse=True)
    if day >= EOS or (day >= CLOSE and not profile.existing_pinpoint):
        assert all(c.interface is not Interface.PINPOINT for c in r.choices)
    if "email" in profile.channels:
        assert r.primary.interface in {Interface.SES_API, Interface.SES_SMTP, Interface.PINPOINT}
        if profile.third_party:
            assert r.primary.interface is Interface.SES_SMTP
    else:
        assert r.primary.interface is Interface.EUM
        assert not any("SES" in x.text for x in (*r.reasons, *r.warnings)), "SES without email"
    assert r.time.at_quota_s is None  # no quota given: no time at an assumed one
    json.dumps(r.to_dict())  # always serialisable


# --- Profile validation -------------------------------------------------------------------------


def test_profile_normalises_channels():
    assert Profile(channels=["Email ", "SMS"]).channels == frozenset({"email", "sms"})
    assert Profile(channels="email").channels == frozenset({"email"})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channels": {"fax"}},
        {"channels": set()},
        {"monthly_volume": -1},
        {"peak_rate": -1.0},
        {"messages": -5},
        {"max_send_rate": 0},
    ],
)
def test_profile_rejects_bad_input(kwargs):
    with pytest.raises(ConfigurationError):
        Profile(**kwargs)


def test_with_quota():
    from toolkit.targets import Quota

    p = Profile().with_quota(Quota(max_send_rate=14, max_24_hour_send=50_000))
    assert (p.max_send_rate, p.max_24_hour_send) == (14, 50_000)


# --- cost ---------------------------------------------------------------------------------------


def test_tiered_cost_is_graduated():
    tiers = facts.SES_PLAN_ESSENTIALS.value.tiers
    assert tiered_cost(0, tiers) == 0
    assert tiered_cost(1_000_000, tiers) == pytest.approx(160.0)
    assert tiered_cost(10_000_000, tiers) == pytest.approx(1600.0)
    # 10M at 0.00016 + 90M at 0.00014 + 50M at 0.00011
    assert tiered_cost(150_000_000, tiers) == pytest.approx(1600 + 12_600 + 5_500)


def test_cost_per_plan_for_one_million():
    est = estimate_cost(CostInputs(monthly_volume=1_000_000), today=TODAY)
    totals = {p.plan: p.monthly_usd for p in est.plans}
    assert totals == {
        "À la carte": 100.0,
        "Essentials": 160.0,
        "Pro": 325.0,
        "Enterprise": 730.0,
        "Pinpoint (historical)": 100.0,
    }
    assert est.cheapest.plan == "À la carte"
    assert est.to_frame().loc["À la carte", "cheapest"]


def test_cost_addons_and_what_plans_include():
    est = estimate_cost(
        CostInputs(monthly_volume=0, attachments_gb=10, dedicated_ips=2, tenants=1200), today=TODAY
    )
    by = {p.plan: p for p in est.plans}
    # à la carte: 10 GB × 0.12 + 2 × 24.95 + 1200 × 0.005
    assert by["À la carte"].monthly_usd == pytest.approx(1.2 + 49.9 + 6.0)
    # Pro includes managed dedicated IPs: no IP line
    assert by["Pro"].monthly_usd == pytest.approx(105 + 1.2 + 6.0)
    # Enterprise includes 1,000 tenants: 200 billable
    assert by["Enterprise"].monthly_usd == pytest.approx(500 + 1.2 + 49.9 + 1.0)
    assert by["Pinpoint (historical)"].monthly_usd == pytest.approx(49.9)


def test_pro_is_cheapest_when_many_dedicated_ips():
    est = estimate_cost(CostInputs(monthly_volume=100_000, dedicated_ips=6), today=TODAY)
    assert est.cheapest.plan == "Pro"  # 105 + 22 < 10 + 149.7


def test_plans_unavailable_before_introduction():
    before = estimate_cost(CostInputs(monthly_volume=5), today=dt.date(2026, 7, 19))
    assert [p.available for p in before.plans[:4]] == [True, False, False, False]
    on = estimate_cost(CostInputs(monthly_volume=5), today=dt.date(2026, 7, 20))
    assert all(p.available for p in on.plans[:4])


def test_pinpoint_price_is_historical_and_unavailable_after_eos():
    est = estimate_cost(CostInputs(monthly_volume=10, endpoints=6000), today=EOS)
    pp = est.plans[-1]
    assert pp.historical and not pp.available
    assert sum(ln.usd for ln in pp.lines) == pytest.approx(10 * 0.0001 + 1000 * 0.0012)
    assert est.cheapest.plan != pp.plan
    assert estimate_cost(CostInputs(), today=BEFORE_EOS).plans[-1].available


def test_cost_to_dict_cites_sources():
    d = estimate_cost(CostInputs(monthly_volume=1), today=TODAY).to_dict()
    assert all(line["source"].startswith("http") for p in d["plans"] for line in p["lines"])


def test_recommendation_costs_only_what_is_needed():
    r = rec(monthly_volume=1000, attachments_gb=5, dedicated_ip_count=3, tenant_count=7)
    assert r.cost.inputs == CostInputs(monthly_volume=1000)
    r = rec(
        monthly_volume=1000,
        attachments=True,
        attachments_gb=5,
        dedicated_ips=True,
        dedicated_ip_count=3,
        tenants=True,
        tenant_count=7,
    )
    assert r.cost.inputs == CostInputs(1000, 5, 3, 7)


# --- time ---------------------------------------------------------------------------------------


def test_seconds_to_send_at_rate():
    assert seconds_to_send(0, 1) == 0
    assert seconds_to_send(1400, 14) == pytest.approx(100)
    assert seconds_to_send(1400, 14, -1) == pytest.approx(100)
    assert seconds_to_send(1400, 14, 1400) == pytest.approx(100)


def test_seconds_to_send_under_daily_quota():
    # sandbox: 1/s, 200 per 24 h; 500 messages = 200 (day 1) + 200 (day 2) + 100 at 1/s
    assert seconds_to_send(500, 1, 200) == pytest.approx(2 * 86_400 + 100)
    assert seconds_to_send(400, 1, 200) == pytest.approx(86_400 + 200)
    assert math.isinf(seconds_to_send(1, 1, 0))
    with pytest.raises(ConfigurationError):
        seconds_to_send(1, 0)


def test_seconds_to_send_never_faster_than_rate():
    # a daily quota larger than the rate can deliver in a day: the rate binds
    assert seconds_to_send(200_000, 1, 100_000) == pytest.approx(200_000)


def test_estimate_time_at_quota_headroom_and_measured():
    p = Profile(messages=14_000, max_send_rate=14, max_24_hour_send=-1)
    t = estimate_time(p, Throughput.from_mapping({"ses": 70.0, "smtp": 7.0}, "bench"))
    assert t.at_quota_s == pytest.approx(1000)
    assert t.at_headroom_s == pytest.approx(14_000 / (14 * 0.7))
    # alone: at the measured speed; with the quota: at the slower of the two
    assert [(m.label, m.rate, m.alone_s, m.with_quota_s) for m in t.measured] == [
        ("ses", 70.0, 200.0, pytest.approx(1000)),
        ("smtp", 7.0, 2000.0, pytest.approx(2000)),
    ]
    assert t.limited_by == "rate" and t.quota_known
    assert t.to_dict()["measured"][0]["seconds"] == 200.0


def test_measured_speed_without_quota_is_timed_alone():
    t = estimate_time(Profile(messages=1000), Throughput.from_mapping({"ses": 100.0}))
    assert t.at_quota_s is None
    assert [(m.alone_s, m.with_quota_s) for m in t.measured] == [(10.0, None)]


def test_estimate_time_defaults_to_monthly_volume_and_daily_limit():
    t = estimate_time(Profile(monthly_volume=300, max_send_rate=10, max_24_hour_send=100))
    assert t.messages == 300 and t.limited_by == "daily quota"
    assert t.at_quota_s == pytest.approx(2 * 86_400 + 10)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3.21, "3.2 s"),
        (750, "12 min 30 s"),
        (4 * 3600 + 300, "4 h 05 min"),
        (2 * 86_400 + 3 * 3600, "2 d 3 h"),
        (math.inf, "never (daily quota is 0)"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


# --- throughput inputs --------------------------------------------------------------------------


def test_throughput_from_results_frame():
    frame = pd.DataFrame(
        {
            "transport": ["ses", "ses", "ses", "smtp", "smtp"],
            "status": ["sent", "sent", "invalid", "sent", "sent"],
            "started_at": [100.0, 100.5, None, 200.0, 201.0],
            "finished_at": [101.0, 102.0, None, 202.0, 204.0],
        }
    )
    t = Throughput.from_results(frame)
    assert t.as_dict == {"ses": pytest.approx(1.0), "smtp": pytest.approx(0.5)}


def test_throughput_from_results_without_transport_and_timestamps():
    start = pd.Timestamp("2026-11-26T10:00:00Z")
    frame = pd.DataFrame(
        {
            "started_at": [start, start],
            "finished_at": [start + pd.Timedelta(seconds=1), start + pd.Timedelta(seconds=4)],
        }
    )
    assert Throughput.from_results(frame).as_dict == {"run": pytest.approx(0.5)}
    with pytest.raises(ConfigurationError):
        Throughput.from_results(pd.DataFrame({"x": [1]}))


def test_throughput_from_benchmark_file_and_dicts(tmp_path):
    data = {
        "scenarios": [
            {"scenario": "ses-send-email", "transport": "ses", "messages_per_s": 120.5},
            {"scenario": "ses-bulk", "transport": "ses-bulk", "messages_per_s": 900.0},
            {"scenario": "smtp-4", "transport": "smtp", "messages_per_s": 80.0},
            {"scenario": "smtp-8", "transport": "smtp", "messages_per_s": 95.0},
        ],
        "machine": {"cpus": 2},
    }
    path = tmp_path / "latest.json"
    path.write_text(json.dumps(data))
    t = Throughput.from_benchmarks(path)
    assert t.as_dict == {"ses": 120.5, "ses-bulk": 900.0, "smtp": 95.0}
    assert t.source == str(path)
    keyed = Throughput.from_benchmarks({"pinpoint": {"messages_per_s": 40}})
    assert keyed.as_dict == {"pinpoint": 40.0}
    flat = Throughput.from_benchmarks({"ses": 10, "smtp": 0})
    assert flat.as_dict == {"ses": 10.0}


def test_throughput_from_bad_benchmarks(tmp_path):
    with pytest.raises(ConfigurationError):
        Throughput.from_benchmarks(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigurationError):
        Throughput.from_benchmarks(bad)


def test_recommend_uses_measured_throughput():
    r = recommend(
        Profile(messages=1000, max_send_rate=100),
        today=TODAY,
        measured=Throughput.from_mapping({"ses": 50, "pinpoint": 80}),
    )
    # Pinpoint has ended by TODAY: its measured speed no longer times anything
    assert [(m.label, m.rate, m.alone_s) for m in r.time.measured] == [("ses", 50.0, 20.0)]
    assert "measured ses: 50.0 msg/s" in r.to_text()
    before = recommend(Profile(messages=10), today=MID, measured={"pinpoint": 5.0})
    assert [m.label for m in before.time.measured] == ["pinpoint"]


def test_the_shipped_benchmark_results_change_the_estimate(monkeypatch, tmp_path):
    # benchmarks/results/latest.json is in the toolkit's own format ("scenarios" with
    # msgs_per_s per group); it is found from the checkout and from notebooks/ alike.
    from toolkit.guide.timing import repo_root, saved_runs

    assert repo_root() / "benchmarks" / "results" / "latest.json" in saved_runs()
    monkeypatch.chdir(tmp_path)
    t = Throughput.from_benchmarks("benchmarks/results/latest.json")
    assert {"ses", "ses-bulk", "smtp"} <= set(t.as_dict) and "smtp-sink" not in t.as_dict
    assert "latest.json" in t.source and "run of" in t.source
    plain = recommend(Profile(messages=10**6, max_send_rate=10**6), today=TODAY)
    measured = recommend(Profile(messages=10**6, max_send_rate=10**6), today=TODAY, measured=t)
    assert plain.time.measured == () and measured.time.measured
    assert measured.to_text() != plain.to_text()


# --- feature table ------------------------------------------------------------------------------


def test_feature_table_shape_and_facts():
    table = feature_table(TODAY)
    assert list(table.columns) == ["SES API v2", "SES SMTP", "Pinpoint SendMessages"]
    assert "receive email" in table.index
    for _, row in table.iterrows():
        for cell in row:
            assert cell.fact.source.startswith("http")
            assert str(cell) == cell.text
    assert str(table.loc["receive email", "Pinpoint SendMessages"]) == "✘"
    assert str(table.loc["templates", "SES SMTP"]).startswith("✘")


@pytest.mark.parametrize(
    ("day", "fragment"),
    [(BEFORE_CLOSE, "✔ until 2026-10-30"), (MID, "◐ existing accounts"), (EOS, "✘ ended")],
)
def test_feature_table_follows_the_calendar(day, fragment):
    cell = feature_table(day).loc["sends email today", "Pinpoint SendMessages"]
    assert fragment in cell.text


def test_feature_table_records_are_json():
    records = feature_table_records(TODAY)
    assert records[0]["feature"] == "open to new customers"
    json.dumps(records)


# --- text, JSON, CLI ----------------------------------------------------------------------------


def test_to_text_lists_reasons_sources_cost_and_time():
    text = rec(monthly_volume=1_000_000, max_send_rate=14).to_text()
    assert text.startswith("Recommendation (2026-11-26): SES API v2 for email")
    assert "[Pinpoint: ended 2026-10-30 → SES / End User Messaging]" in text
    assert "source: https://docs.aws.amazon.com/pinpoint/ (checked" in text
    assert "À la carte" in text and "$      100.00" in text
    assert "third-party copy" in text  # the prices are not from AWS's own page
    assert "Time for 1,000,000 messages at your quota (14/s)" in text


def test_without_email_nothing_is_about_ses():
    r = rec(channels={"sms"}, monthly_volume=200_000, max_send_rate=14)
    text = r.to_text()
    assert "SES" not in text.replace("End User Messaging", "")
    assert "Monthly cost" not in text and "Time for" not in text
    from toolkit.guide.card import render_card

    card = render_card(r)
    assert "toolkit-guide-cost" in card and "Cost per month" not in card
    assert "Time to send" not in card


def test_badge_follows_the_calendar():
    assert rec().pinpoint_badge == (
        "Pinpoint: ended 2026-10-30 → SES / End User Messaging",
        "ended",
    )
    badge = rec(today=MID).pinpoint_badge
    assert badge is not None and badge[1] == "closing" and "2025-05-20" in badge[0]
    assert rec(today=BEFORE_CLOSE).pinpoint_badge is None


def test_field_reports_and_third_party_sources_say_so():
    r = rec(max_send_rate=14, peak_rate=12, monthly_volume=100)
    assert "field report, not an AWS figure" in warning(r, "peak-over-quota").text
    assert "third-party copy of the AWS Price List" in reason(r, "cost").text
    from toolkit.guide.card import source_link

    assert "field report" in source_link(facts.SES_RATE_HEADROOM)
    assert "third-party" in source_link(facts.SES_PRICE_OUTBOUND_PER_1000)
    assert "third-party" not in source_link(facts.PINPOINT_END_OF_SUPPORT)


def test_to_text_without_volume_asks_for_one_instead_of_pricing_nothing():
    text = rec().to_text()
    assert "no volume given" in text and "--monthly-volume" in text
    assert "Monthly cost for 0 emails" not in text and "Time for 0 messages" not in text


def test_cli_text(capsys):
    code = guide_cli(
        [
            "--channels",
            "email,sms",
            "--monthly-volume",
            "2000000",
            "--date",
            "2026-11-26",
            "--features",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "SES API v2 for email + AWS End User Messaging for SMS" in out
    assert "Features:" in out and "receive email" in out


def test_cli_json_all_flags(capsys, tmp_path):
    bench = tmp_path / "latest.json"
    bench.write_text(json.dumps({"ses": {"messages_per_s": 100}}))
    results = tmp_path / "results.csv"
    pd.DataFrame(
        {
            "transport": ["smtp", "smtp"],
            "status": ["sent", "sent"],
            "started_at": [0.0, 0.0],
            "finished_at": [1.0, 2.0],
        }
    ).to_csv(results)
    argv = [
        "--channels",
        "email",
        "--third-party",
        "--monthly-volume",
        "500",
        "--peak-rate",
        "3",
        "--receive",
        "--config-sets",
        "--sending-authorization",
        "--dedicated-ips",
        "--tenants",
        "--templates",
        "--attachments",
        "--endpoint-ids",
        "--existing-pinpoint",
        "--date",
        "2026-03-01",
        "--benchmarks",
        str(bench),
        "--results",
        str(results),
        "--messages",
        "200",
        "--max-send-rate",
        "2",
        "--max-24h-send",
        "-1",
        "--attachments-gb",
        "1.5",
        "--dedicated-ip-count",
        "2",
        "--tenant-count",
        "4",
        "--features",
        "--json",
    ]
    assert guide_cli(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"] == "SES SMTP for email"
    assert data["pinpoint_phase"] == "existing-only"
    assert data["reasons"][0]["rank"] == 1 and data["reasons"][0]["source"].startswith("http")
    assert {m["label"] for m in data["time"]["measured"]} == {"ses", "smtp"}
    assert data["time"]["measured"][0]["seconds_with_quota"] == 100.0
    assert data["time"]["at_quota_s"] == 100.0
    assert data["cost"]["inputs"] == {
        "monthly_volume": 500,
        "attachments_gb": 1.5,
        "dedicated_ips": 2,
        "tenants": 4,
    }
    assert data["features"][0]["SES SMTP"]["source"].startswith("http")


def test_cli_errors(capsys):
    assert guide_cli(["--channels", "fax"]) == 2
    assert "unknown channel" in capsys.readouterr().err
    assert guide_cli(["--date", "26/11/2026"]) == 2
    assert guide_cli(["--help"]) == 0


# --- the ipywidgets UI --------------------------------------------------------------------------


def test_ui_updates_on_every_change():
    from toolkit.guide.ui import build

    ui = build(channels={"email", "sms"}, monthly_volume=1000, today=TODAY)
    assert "toolkit-guide-recommendation" in ui.answer.value
    assert "SES API v2 for email + AWS End User Messaging for SMS" in ui.answer.value
    assert "toolkit-guide-badge" in ui.answer.value
    ui.needs["third_party"].value = True
    assert "SES SMTP for email" in ui.answer.value
    ui.needs["third_party"].value = False
    ui.needs["existing_pinpoint"].value = True
    ui.date.value = MID
    assert "Pinpoint SendMessages (legacy)" in ui.answer.value
    assert "Migrate to" in ui.answer.value
    assert 'href="https://' in ui.answer.value and "toolkit-guide-warnings" in ui.answer.value
    ui.numbers["max_send_rate"].value = 10
    ui.numbers["messages"].value = 100
    assert "<b>10.0 s</b>" in ui.answer.value
    assert "Cost per month" in ui.answer.value and "↗" in ui.features_html.value


def test_ui_clears_the_answer_when_it_cannot_answer():
    from toolkit.guide.ui import build

    ui = build(monthly_volume=1000, max_send_rate=14, today=TODAY)
    assert "Cost per month" in ui.answer.value
    for box in ui.channels.values():
        box.value = False
    assert "toolkit-guide-error" in ui.answer.value and ui.recommendation is None
    for stale in ("Why", "Cost per month", "Time to send", "toolkit-guide-badge"):
        assert stale not in ui.answer.value
    assert ui.features.layout.display == "none"
    ui.channels["sms"].value = True
    assert "End User Messaging for SMS" in ui.answer.value and ui.error is None
    # email-only questions are greyed out without email, and nothing is said about SES
    assert ui.needs["third_party"].disabled and ui.numbers["max_send_rate"].disabled
    assert not ui.needs["endpoint_ids"].disabled
    assert "Cost per month" not in ui.answer.value and ui.features.layout.display == "none"


def test_ui_numbers_are_bounded_and_there_is_one_dedicated_ip_control():
    from toolkit.guide.ui import build

    ui = build(monthly_volume=1000, today=TODAY)
    ui.numbers["monthly_volume"].value = -5
    assert ui.numbers["monthly_volume"].value == 0 and ui.error is None
    ui.numbers["monthly_volume"].value = 1000
    assert "dedicated_ips" not in ui.needs and "tenants" not in ui.needs
    assert ui.numbers["dedicated_ip_count"].value == 0  # shared IPs until asked
    assert not ui.profile().dedicated_ips
    ui.numbers["dedicated_ip_count"].value = 3
    profile = ui.profile()
    assert profile.dedicated_ips and profile.dedicated_ip_count == 3
    assert "3 dedicated IP(s)" in ui.answer.value
    assert ui.numbers["attachments_gb"].disabled
    ui.needs["attachments"].value = True
    assert not ui.numbers["attachments_gb"].disabled


def test_ui_no_time_without_quota_and_a_finite_time_with_it():
    from toolkit.guide.ui import build

    ui = build(monthly_volume=50_000_000, today=TODAY)
    assert "No time estimate" in ui.answer.value and " d " not in ui.answer.value
    ui.numbers["max_send_rate"].value = 500
    assert "No time estimate" not in ui.answer.value and "at your quota (500/s" in ui.answer.value


def test_ui_dom_hooks_and_show():
    from toolkit.guide import show

    box = show(today=TODAY, measured={"ses": 50.0}, monthly_volume=100)
    ui = box.guide
    assert "toolkit-guide" in box._dom_classes
    assert "toolkit-guide-channels" in ui.channel_box._dom_classes
    assert "toolkit-guide-channel-sms" in ui.channels["sms"]._dom_classes
    assert "toolkit-guide-third-party" in ui.needs["third_party"]._dom_classes
    assert "toolkit-guide-date" in ui.date._dom_classes
    assert "toolkit-guide-existing-pinpoint" in ui.needs["existing_pinpoint"]._dom_classes
    assert "toolkit-guide-monthly-volume" in ui.numbers["monthly_volume"]._dom_classes
    assert "toolkit-guide-benchmarks" in ui.benchmarks._dom_classes
    assert "measured speed" in ui.answer.value
    # a saved notebook shows the answer as HTML where the live widget cannot be drawn
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "toolkit-guide-recommendation" in bundle["text/html"]
    assert bundle["text/plain"] == "Pinpoint or SES guide: SES API v2 for email"


def test_ui_benchmark_picker_and_path(tmp_path):
    from toolkit.guide.ui import _OTHER_FILE, build

    ui = build(today=TODAY, monthly_volume=10**6, max_send_rate=10**6)
    before = ui.answer.value
    saved = [v for _, v in ui.benchmarks.options if v.endswith("latest.json")]
    assert saved, "the shipped benchmark results are offered"
    ui.benchmarks.value = saved[0]
    assert ui.answer.value != before and "measured speed" in ui.answer.value
    bench = tmp_path / "b.json"
    bench.write_text(json.dumps({"smtp": {"messages_per_s": 5}}))
    ui.benchmarks.value = _OTHER_FILE
    assert ui.benchmark_path.layout.display == "flex"
    ui.benchmark_path.value = str(bench)
    assert ">smtp<" in ui.answer.value
    ui.benchmark_path.value = str(tmp_path / "nope.json")
    # a file that cannot be read is said in the time section; the answer stays
    assert "Measured speed not used" in ui.answer.value and ui.error is None
    with pytest.raises(ConfigurationError):
        build(colour="blue")


def test_recommend_accepts_raw_throughput_inputs(tmp_path):
    r = recommend(Profile(messages=10, max_send_rate=1), today=TODAY, measured={"ses": 5.0})
    assert [(m.label, m.rate, m.alone_s) for m in r.time.measured] == [("ses", 5.0, 2.0)]
    frame = pd.DataFrame({"started_at": [0.0], "finished_at": [2.0]})
    assert (
        recommend(Profile(messages=10), today=TODAY, measured=frame).time.measured[0].label == "run"
    )
    with pytest.raises(ConfigurationError):
        recommend(Profile(), today=TODAY, measured=42)


def test_every_fact_is_dated_and_sourced():
    found = [v for v in vars(facts).values() if isinstance(v, Fact)]
    assert len(found) > 40
    for fact in found:
        assert fact.source.startswith("http"), fact
        assert dt.date(2026, 1, 1) <= fact.checked <= dt.date.today(), fact


# --- capacity: does a month's mail fit the quota? -----------------------------------------------

from toolkit.guide.capacity import CapacityStatus, check_capacity  # noqa: E402

MONTH_S = 30 * 86_400


def test_fifty_million_a_month_at_14_per_s_does_not_fit():
    # The old answer: "41 d 8 h" under a green card, no word that a month does not fit a month.
    r = rec(monthly_volume=50_000_000, max_send_rate=14)
    cap = r.capacity
    assert cap is not None and cap.status is CapacityStatus.OVER
    assert cap.days_needed == pytest.approx(50_000_000 / 14 / 86_400)
    assert cap.needed_rate == pytest.approx(50_000_000 / MONTH_S)  # 19.3/s around the clock
    assert cap.ask_rate == 28  # 19.29 / 0.7, rounded up
    assert cap.ask_daily == 1_667_000
    w = warning(r, "capacity-over")
    assert r.warnings[0] is w  # the first thing to watch out for
    assert "Does not fit" in w.text and "41 d 8 h" in w.text and "a month is 30 days" in w.text
    assert "28/s" in w.text and "1,667,000" in w.text
    assert "Service Quotas console" in w.text and "Amazon Simple Email Service" in w.text
    assert w.fact is facts.SES_QUOTA_INCREASE and w.fact.from_aws
    assert "Capacity: Does not fit" in r.to_text()


def test_capacity_fits_tight_and_unknown():
    rate = 14.0
    exactly = int(rate * MONTH_S)  # a month around the clock at the quota
    assert check_capacity(exactly, rate).status is CapacityStatus.TIGHT  # not at the 70% pace
    assert check_capacity(exactly + 1, rate).status is CapacityStatus.OVER
    assert check_capacity(int(exactly * 0.7) - 1, rate).status is CapacityStatus.FITS
    assert check_capacity(1_000_000).status is CapacityStatus.UNKNOWN
    assert check_capacity(0, rate).status is CapacityStatus.UNKNOWN
    fits = rec(monthly_volume=1_000_000, max_send_rate=14)
    assert fits.capacity.status is CapacityStatus.FITS
    assert not {"capacity-over", "capacity-tight"} & set(fits.warning_rules)
    tight = rec(monthly_volume=30_000_000, max_send_rate=14)
    assert "capacity-tight" in tight.warning_rules
    assert "Tight" in warning(tight, "capacity-tight").text


def test_capacity_limited_by_the_daily_quota_asks_only_for_that():
    cap = check_capacity(1_500_001, max_send_rate=14, max_24_hour_send=50_000)
    assert cap.status is CapacityStatus.OVER and cap.limited_by == "daily quota"
    ask = cap.ask()
    assert "24-hour quota of 51,000" in ask and "max send rate" not in ask
    assert check_capacity(1_500_000, 14, 50_000).status is not CapacityStatus.OVER
    # without the rate, the daily quota alone still decides
    only_daily = check_capacity(1_500_001, None, 50_000)
    assert only_daily.status is CapacityStatus.OVER
    assert "max send rate" in only_daily.ask()  # unknown: say what the month needs
    # an unlimited daily quota (-1) is never what is short
    unlimited = check_capacity(10**9, 14, -1)
    assert unlimited.status is CapacityStatus.OVER and "24-hour quota" not in unlimited.ask()
    assert rec(monthly_volume=1_500_001, max_24_hour_send=50_000).capacity.status is (
        CapacityStatus.OVER
    )


@settings(max_examples=200, deadline=None)
@given(
    volume=st.integers(min_value=1, max_value=10**10),
    rate=st.floats(min_value=0.1, max_value=10_000),
    daily=st.one_of(st.none(), st.just(-1.0), st.floats(min_value=1, max_value=10**9)),
)
def test_capacity_agrees_with_the_time_and_what_it_asks_for_fits(volume, rate, daily):
    cap = check_capacity(volume, rate, daily)
    over = seconds_to_send(volume, rate, daily) > MONTH_S
    assert (cap.status is CapacityStatus.OVER) == over
    # asking for what it says makes the month fit, even at the pacing margin
    granted = check_capacity(
        volume,
        max(rate, cap.ask_rate),
        daily if daily is None or daily < 0 else max(daily, cap.ask_daily),
    )
    assert granted.status is CapacityStatus.FITS
    json.dumps(cap.to_dict())


def test_cli_json_carries_the_capacity_warning(capsys):
    argv = ["--monthly-volume", "50000000", "--max-send-rate", "14", "--json"]
    assert guide_cli([*argv, "--date", "2026-11-26"]) == 0
    data = json.loads(capsys.readouterr().out)
    cap = data["capacity"]
    assert cap["status"] == "does not fit" and cap["fits"] is False
    assert cap["needed_rate_per_s"] == pytest.approx(19.29, abs=0.01)
    assert cap["ask_max_send_rate"] == 28 and cap["days_needed"] > 41
    assert data["warnings"][0]["rule"] == "capacity-over"
    assert "28/s" in data["warnings"][0]["text"]
    # the 24-hour quota has its long name too (the short one stays)
    assert guide_cli([*argv, "--max-24-hour-send", "100000"]) == 0
    assert json.loads(capsys.readouterr().out)["capacity"]["limited_by"] == "daily quota"


def test_card_shows_the_capacity_in_red_and_a_fit_quietly():
    from toolkit.guide.card import render_card

    over = render_card(rec(monthly_volume=50_000_000, max_send_rate=14))
    assert 'class="toolkit-guide-capacity" data-status="does not fit"' in over
    box = over.split('class="toolkit-guide-capacity"')[1].split("</div></div>")[0]
    assert "#cf222e" in box and "#ffebe9" in box  # the red edge and fill
    assert "Does not fit" in box and "28/s" in box and "Service Quotas" in box
    # it comes right after the answer, before the reasons; not repeated under "Watch out"
    assert over.index("toolkit-guide-capacity") < over.index("toolkit-guide-reasons")
    assert over.count("Does not fit") == 1
    assert "(more than a month: see above)" in over
    fits = render_card(rec(monthly_volume=1_000_000, max_send_rate=14))
    line = fits.split('class="toolkit-guide-capacity"')[1].split("</div>")[0]
    assert 'data-status="fits"' in line and "#ffebe9" not in line and "✔ Fits" in line
    assert "toolkit-guide-capacity" not in render_card(rec(monthly_volume=1_000_000))


# --- AWS's dedicated-IP advice, the newer SES features, a new account's plan --------------------


def test_dedicated_ip_advice_above_the_large_volume_mark_and_warm_up():
    big = rec(monthly_volume=5_000_000)
    text = warning(big, "dedicated-ips-advice").text
    assert "regular, predictable" in text and "45-day" in text and "1,000" in text
    assert warning(big, "dedicated-ips-advice").fact is facts.SES_DEDICATED_IPS_ADVICE
    assert "dedicated-ips-advice" not in rec(monthly_volume=999_999).warning_rules
    asked = rec(monthly_volume=5_000_000, dedicated_ips=True, dedicated_ip_count=2)
    assert "dedicated-ips-advice" not in asked.warning_rules
    assert "45 days" in warning(asked, "dedicated-ips-warmup").text
    assert "dedicated-ips-too-many" not in asked.warning_rules  # 83k a day per IP
    many = rec(monthly_volume=1_000_000, dedicated_ips=True, dedicated_ip_count=50)
    assert (
        "about 667 emails a day per dedicated ip"
        in warning(many, "dedicated-ips-too-many").text.lower()
    )


@pytest.mark.parametrize(
    ("need", "rules", "fact"),
    [
        ({"receive": True}, ("mail-manager",), facts.SES_MAIL_MANAGER),
        ({"config_sets": True}, ("eventbridge-events",), facts.SES_EVENTBRIDGE_DESTINATION),
        (
            {"tenants": True, "tenant_count": 3},
            ("tenant-suppression",),
            facts.SES_TENANT_SUPPRESSION,
        ),
        (
            {"multi_region": True},
            ("global-endpoints", "deterministic-dkim"),
            facts.SES_GLOBAL_ENDPOINTS,
        ),
        ({"marketing": True}, ("list-management",), facts.SES_LIST_MANAGEMENT),
        ({"existing_pinpoint": True}, ("vdm",), facts.SES_VDM),
    ],
)
def test_newer_features_appear_only_where_they_change_the_answer(need, rules, fact):
    plain = rec(monthly_volume=10_000)
    newer = {
        "mail-manager",
        "eventbridge-events",
        "tenant-suppression",
        "global-endpoints",
        "deterministic-dkim",
        "list-management",
        "vdm",
    }
    assert not newer & set(plain.rules)
    r = rec(monthly_volume=10_000, **need)
    assert set(rules) <= set(r.rules)
    assert reason(r, rules[0]).fact is fact
    assert reason(r, rules[0]).fact.checked >= dt.date(2026, 12, 1)


def test_multi_region_and_subscribed_mail_change_the_interface_advice():
    r = rec(multi_region=True, existing_pinpoint=True, endpoint_ids=True, today=MID)
    assert r.primary.interface is Interface.SES_API  # an SES-only need beats Pinpoint
    assert "multi-Region sending" in reason(r, "ses-over-pinpoint").text
    assert "global-endpoints-smtp" in rec(multi_region=True, third_party=True).warning_rules
    api = rec(marketing=True)
    assert (
        "SendBulkEmail takes no ListManagementOptions"
        in warning(api, "bulk-no-list-management").text
    )
    assert "bulk-no-list-management" not in rec(marketing=True, third_party=True).warning_rules
    big = rec(monthly_volume=50_000_000)
    assert "$500,000" in warning(big, "recipient-validation").text
    ignored = rec(channels={"sms"}, marketing=True, multi_region=True)
    assert "marketing" in warning(ignored, "email-needs-ignored").text


def test_a_new_account_starts_on_essentials_not_a_la_carte():
    r = rec(monthly_volume=1_000_000)
    assert r.cost.new_account_plan.plan == "Essentials"
    assert r.cost.cheapest.plan == "À la carte"
    why = reason(r, "new-account-plan")
    assert "starts on the Essentials plan" in why.text and "--plan NONE" in why.text
    assert "to be billed À la carte instead" in why.text
    assert "$160.00" in why.text
    assert why.fact is facts.SES_NEW_ACCOUNT_PLAN and not why.fact.from_aws
    assert r.to_dict()["cost"]["new_account_plan"] == "Essentials"
    by = {p.plan: p for p in r.cost.plans}
    assert "default" in by["Essentials"].note and "not a new account's default" in (
        by["À la carte"].note
    )
    assert any("starts on the Essentials plan" in n for n in r.cost.notes)
    # before the plans existed, à la carte was what a new account got
    before = rec(today=dt.date(2026, 7, 19), monthly_volume=1_000_000)
    assert before.cost.new_account_plan.plan == "À la carte"
    assert "new-account-plan" not in before.rules
    cell = feature_table(TODAY).loc["price per 1,000 emails", "SES API v2"]
    assert "Essentials (a new account's default)" in cell.text and "$0.10 à la carte" in cell.text


def test_feature_table_lists_the_newer_features_with_sources():
    table = feature_table(TODAY)
    for row in (
        "inbound gateway (Mail Manager)",
        "events to EventBridge",
        "multi-Region (global endpoint, deterministic DKIM)",
        "tenant suppression lists",
        "one-click unsubscribe (list management)",
        "recipient validation",
        "deliverability insights",
    ):
        assert row in table.index, row
    assert (
        "Deliverability dashboard"
        in feature_table(MID).loc["deliverability insights", "Pinpoint SendMessages"].text
    )
    assert table.loc["deliverability insights", "Pinpoint SendMessages"].text.startswith("✘")


# --- the answer exported, to share --------------------------------------------------------------


def test_the_answer_exports_as_markdown_and_json(tmp_path):
    r = rec(monthly_volume=50_000_000, max_send_rate=14, templates=True)
    md = r.to_markdown()
    assert md.startswith("# Pinpoint or SES? The guide's answer (2026-11-26)")
    assert "**Recommendation: SES API v2 for email**" in md
    assert "## Capacity" in md and "⛔ **Does not fit" in md
    assert "## Why" in md and "## Watch out" in md and "## Cost per month" in md
    assert "| plan | USD/month | note |" in md and "## Time to send" in md
    assert "](https://docs.aws.amazon.com/pinpoint/), checked 2026-11-30)" in md
    assert "third-party copy, not AWS's page" in md
    assert "\\$5,000.00" in md or "5,000.00" in md
    assert "Asked: email; 50,000,000 emails a month; max send rate 14/s; needs: templates" in md
    data = json.loads(r.to_json())
    assert data == json.loads(json.dumps(r.to_dict()))
    assert data["profile"]["monthly_volume"] == 50_000_000 and data["profile"]["templates"]
    assert data["capacity"]["status"] == "does not fit"
    assert r.save(tmp_path / "a.md").read_text().startswith("# Pinpoint or SES?")
    assert json.loads(r.save(tmp_path / "a.json").read_text())["summary"] == r.summary
    assert r.save(tmp_path / "a.txt").read_text().startswith("Recommendation (2026-11-26)")
    with pytest.raises(ConfigurationError, match="cannot write the answer"):
        r.save(tmp_path / "missing" / "a.md")
    assert "## What each interface offers" in to_markdown_with_features(r)


def to_markdown_with_features(r):
    from toolkit.guide.export import to_markdown

    return to_markdown(r, features=True)


def test_cli_markdown_and_save(capsys, tmp_path):
    target = tmp_path / "answer.json"
    argv = ["--monthly-volume", "2000", "--date", "2026-11-26", "--markdown", "--save"]
    assert guide_cli([*argv, str(target)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# Pinpoint or SES? The guide's answer (2026-11-26)")
    assert f"saved the answer to {target}" in captured.err
    assert json.loads(target.read_text())["summary"] == "SES API v2 for email"
    assert guide_cli(["--markdown", "--json"]) == 2  # one output format
    assert guide_cli(["--save", str(tmp_path / "no" / "a.md")]) == 2
    assert "cannot write the answer" in capsys.readouterr().err


def test_ui_feature_table_is_full_width_and_the_answer_can_be_downloaded():
    from urllib.parse import unquote

    from toolkit.guide.ui import build

    ui = build(monthly_volume=50_000_000, max_send_rate=14, today=TODAY)
    # the feature table is a child of the guide itself, not squeezed into the answer column
    assert ui.features in ui.widget.children
    row = ui.widget.children[1]
    assert all(ui.features not in getattr(col, "children", ()) for col in row.children)
    assert ui.features.layout.width == "100%" and "width: 100%" in ui.features_html.value
    assert "Pinpoint SendMessages" in ui.features_html.value
    # Markdown and JSON download buttons for the current answer
    assert "toolkit-guide-export" in ui.export._dom_classes
    links = ui.export.value
    assert 'download="ses-guide-2026-11-26.md"' in links and "data:text/markdown" in links
    assert 'download="ses-guide-2026-11-26.json"' in links
    md = unquote(links.split("data:text/markdown;charset=utf-8,")[1].split('"')[0])
    assert md == ui.recommendation.to_markdown()
    # the capacity in red in the live answer too
    assert 'data-status="does not fit"' in ui.answer.value
    ui.numbers["max_send_rate"].value = 100
    assert 'data-status="fits"' in ui.answer.value
    # the new needs are questions of their own
    ui.needs["multi_region"].value = True
    assert "global endpoint" in ui.answer.value
    assert "toolkit-guide-marketing" in ui.needs["marketing"]._dom_classes
    for box in ui.channels.values():
        box.value = False
    assert ui.export.value == ""


def test_the_command_a_person_types_warns_that_the_month_does_not_fit():
    import subprocess
    import sys

    argv = ["--monthly-volume", "50000000", "--max-send-rate", "14"]
    cmd = [sys.executable, "-m", "toolkit", "guide", *argv]
    data = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, check=True).stdout)
    assert data["capacity"]["fits"] is False and data["capacity"]["ask_max_send_rate"] == 28
    text = subprocess.run(cmd, capture_output=True, check=True, text=True).stdout
    assert "Capacity: Does not fit: 50,000,000 emails a month need 41 d 8 h" in text
    assert "ask for a max send rate of 28/s" in text and "Service Quotas console" in text
