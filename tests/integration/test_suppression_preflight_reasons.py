"""Pre-flight reads the account's suppression list for the reasons SES applies to the send:
the configuration set's SuppressedReasons when it has its own, else the account's; entries
for other reasons are sent, as SES sends them (SES_SUPPRESSION_REASONS_IN_FORCE)."""

from __future__ import annotations

import pandas as pd

from toolkit import send
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.config import EngineConfig
from toolkit.sandbox import Sandbox
from toolkit.sandbox.feedback import SUPPRESSED_BOUNCE

FAST = EngineConfig(rate=500.0)
ADDRESSES = ["bounced@example.org", "complained@example.org", "fresh@example.org"]


def run(sandbox: Sandbox, configuration_set: str | None = None) -> pd.DataFrame:
    spec = ComposeSpec(sender="sender@example.com", subject="Hi", text="Hello",
                       configuration_set=configuration_set)  # fmt: skip
    return send(pd.DataFrame({"email": ADDRESSES}), target=sandbox, compose=spec, config=FAST,
                progress=False)  # fmt: skip


def listed(sandbox: Sandbox) -> None:
    client = sandbox.client("sesv2")
    client.put_suppressed_destination(EmailAddress=ADDRESSES[0], Reason="BOUNCE")
    client.put_suppressed_destination(EmailAddress=ADDRESSES[1], Reason="COMPLAINT")


def test_a_set_with_its_own_reasons_skips_only_those_entries(sandbox: Sandbox) -> None:
    listed(sandbox)
    sandbox.client("sesv2").create_configuration_set(
        ConfigurationSetName="complaints-only",
        SuppressionOptions={"SuppressedReasons": ["COMPLAINT"]},
    )
    results = run(sandbox, "complaints-only")
    # Old code: both listed rows skipped, although SES sends the bounced one through this set.
    assert list(results["status"]) == ["sent", "skipped", "sent"]
    assert "the account's suppression list (complaint)" in results["error_message"][1]
    events = sandbox.mailbox.events()
    assert SUPPRESSED_BOUNCE not in set(events["detail"])  # what was sent was not dropped


def test_a_set_that_turns_suppression_off_skips_nothing(sandbox: Sandbox) -> None:
    listed(sandbox)
    sandbox.client("sesv2").create_configuration_set(
        ConfigurationSetName="off", SuppressionOptions={"SuppressedReasons": []}
    )
    assert list(run(sandbox, "off")["status"]) == ["sent", "sent", "sent"]


def test_without_a_set_the_account_s_reasons_decide(sandbox: Sandbox) -> None:
    listed(sandbox)
    sandbox.client("sesv2").create_configuration_set(ConfigurationSetName="plain")
    assert list(run(sandbox, "plain")["status"]) == ["skipped", "skipped", "sent"]
    sandbox.client("sesv2").put_account_suppression_attributes(SuppressedReasons=["BOUNCE"])
    # Old code: the complaint entry was skipped although the account no longer applies it.
    assert list(run(sandbox)["status"]) == ["skipped", "sent", "sent"]
