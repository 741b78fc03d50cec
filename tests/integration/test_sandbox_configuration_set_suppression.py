"""A configuration set's SuppressionOptions in the sandbox, through plain boto3.

A send through a set with SuppressionOptions uses the set's SuppressedReasons instead of the
account's, both to suppress and to add addresses; an entry whose reason is not in force is sent
(SES_SUPPRESSION_REASONS_IN_FORCE, SES_CONFIGURATION_SET_SUPPRESSION).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from toolkit.sandbox import Sandbox
from toolkit.sandbox.feedback import HARD_BOUNCE, SUPPRESSED_BOUNCE

SENDER = "sender@example.com"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
SIMPLE = {"Simple": {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hi there"}}}}


def ses(sandbox: Sandbox) -> Any:
    return sandbox.client("sesv2", config=NO_RETRY)


def details(sandbox: Sandbox, client: Any, to: str, **extra: Any) -> list[str]:
    answer = client.send_email(
        FromEmailAddress=SENDER, Destination={"ToAddresses": [to]}, Content=SIMPLE, **extra
    )
    return list(sandbox.mailbox.events(answer["MessageId"])["detail"])


def test_create_and_put_suppression_options_round_trip(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    # Old code: SuppressedReasons were stored as given and Put... answered 501.
    client.create_configuration_set(
        ConfigurationSetName="bounces-only",
        SuppressionOptions={"SuppressedReasons": ["BOUNCE"]},
    )
    got = client.get_configuration_set(ConfigurationSetName="bounces-only")
    assert got["SuppressionOptions"]["SuppressedReasons"] == ["BOUNCE"]
    client.put_configuration_set_suppression_options(
        ConfigurationSetName="bounces-only", SuppressedReasons=["COMPLAINT", "BOUNCE"]
    )
    got = client.get_configuration_set(ConfigurationSetName="bounces-only")
    assert got["SuppressionOptions"]["SuppressedReasons"] == ["BOUNCE", "COMPLAINT"]
    client.put_configuration_set_suppression_options(
        ConfigurationSetName="bounces-only", SuppressedReasons=[]
    )
    got = client.get_configuration_set(ConfigurationSetName="bounces-only")
    assert got["SuppressionOptions"]["SuppressedReasons"] == []
    client.create_configuration_set(ConfigurationSetName="plain")
    assert "SuppressionOptions" not in client.get_configuration_set(ConfigurationSetName="plain")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda c: c.put_configuration_set_suppression_options(
                ConfigurationSetName="nowhere", SuppressedReasons=["BOUNCE"]
            ),
            "NotFoundException",
        ),
        (
            lambda c: c.put_configuration_set_suppression_options(
                ConfigurationSetName="set", SuppressedReasons=["SPAM"]
            ),
            "BadRequestException",
        ),
        (
            lambda c: c.create_configuration_set(
                ConfigurationSetName="other", SuppressionOptions={"SuppressedReasons": ["SPAM"]}
            ),
            "BadRequestException",
        ),
    ],
    ids=["no-such-set", "unknown-reason", "unknown-reason-at-creation"],
)
def test_bad_suppression_options_are_refused(
    sandbox: Sandbox, call: Callable[[Any], Any], expected: str
) -> None:
    client = ses(sandbox)
    client.create_configuration_set(ConfigurationSetName="set")
    with pytest.raises(ClientError) as error:
        call(client)
    assert error.value.response["Error"]["Code"] == expected
    assert client.list_configuration_sets()["ConfigurationSets"] == ["set"]
    got = client.get_configuration_set(ConfigurationSetName="set")
    assert "SuppressionOptions" not in got


def test_a_set_s_reasons_replace_the_account_s_for_its_sends(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    client.put_suppressed_destination(EmailAddress="bounced@example.org", Reason="BOUNCE")
    client.put_suppressed_destination(EmailAddress="complained@example.org", Reason="COMPLAINT")
    client.create_configuration_set(
        ConfigurationSetName="complaints-only",
        SuppressionOptions={"SuppressedReasons": ["COMPLAINT"]},
    )
    client.create_configuration_set(ConfigurationSetName="account-settings")
    via_set = {"ConfigurationSetName": "complaints-only"}
    # Old code: the set's options were ignored and both addresses were suppressed.
    assert details(sandbox, client, "bounced@example.org", **via_set) != [SUPPRESSED_BOUNCE]
    assert details(sandbox, client, "complained@example.org", **via_set) == [SUPPRESSED_BOUNCE]
    # Without a set, or through a set without options: the account's reasons (both).
    plain = {"ConfigurationSetName": "account-settings"}
    assert details(sandbox, client, "bounced@example.org", **plain) == [SUPPRESSED_BOUNCE]
    assert details(sandbox, client, "bounced@example.org") == [SUPPRESSED_BOUNCE]
    # Suppression off for the set: a listed address is sent.
    client.put_configuration_set_suppression_options(
        ConfigurationSetName="complaints-only", SuppressedReasons=[]
    )
    assert details(sandbox, client, "complained@example.org", **via_set) != [SUPPRESSED_BOUNCE]


def test_the_account_s_reasons_decide_which_entries_suppress(sandbox: Sandbox) -> None:
    client = ses(sandbox)
    client.put_suppressed_destination(EmailAddress="complained@example.org", Reason="COMPLAINT")
    client.put_account_suppression_attributes(SuppressedReasons=["BOUNCE"])
    # Old code: any entry suppressed, whatever the account's SuppressedReasons.
    assert details(sandbox, client, "complained@example.org") != [SUPPRESSED_BOUNCE]
    client.put_account_suppression_attributes(SuppressedReasons=["COMPLAINT"])
    assert details(sandbox, client, "complained@example.org") == [SUPPRESSED_BOUNCE]


def test_a_set_s_reasons_decide_which_feedback_joins_the_list(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(dead_mailboxes=["dead@example.org", "dead2@example.org"])
    client = ses(sandbox)
    client.create_configuration_set(
        ConfigurationSetName="no-suppression", SuppressionOptions={"SuppressedReasons": []}
    )
    via_set = {"ConfigurationSetName": "no-suppression"}
    # Old code: the account's BOUNCE added the address although the set turns it off.
    assert details(sandbox, client, "dead@example.org", **via_set) == [HARD_BOUNCE]
    with pytest.raises(ClientError):
        client.get_suppressed_destination(EmailAddress="dead@example.org")
    # The bulk call follows the set too.
    client.create_email_template(
        TemplateName="t",
        TemplateContent={"Subject": "Hi", "Text": "Hello"},
    )
    answer = client.send_bulk_email(
        FromEmailAddress=SENDER,
        ConfigurationSetName="no-suppression",
        DefaultContent={"Template": {"TemplateName": "t", "TemplateData": "{}"}},
        BulkEmailEntries=[{"Destination": {"ToAddresses": ["dead2@example.org"]}}],
    )
    message_id = answer["BulkEmailEntryResults"][0]["MessageId"]
    assert list(sandbox.mailbox.events(message_id)["detail"]) == [HARD_BOUNCE]
    with pytest.raises(ClientError):
        client.get_suppressed_destination(EmailAddress="dead2@example.org")
    # Without the set, the account's reasons add it.
    details(sandbox, client, "dead2@example.org")
    assert client.get_suppressed_destination(EmailAddress="dead2@example.org")


def test_suppression_options_survive_a_restart(
    make_sandbox: Callable[..., Sandbox], tmp_path: Any
) -> None:
    sandbox = make_sandbox(state_dir=tmp_path)
    ses(sandbox).create_configuration_set(ConfigurationSetName="kept")
    ses(sandbox).put_configuration_set_suppression_options(
        ConfigurationSetName="kept", SuppressedReasons=["COMPLAINT"]
    )
    sandbox.stop()
    again = make_sandbox(state_dir=tmp_path)
    got = ses(again).get_configuration_set(ConfigurationSetName="kept")
    assert got["SuppressionOptions"]["SuppressedReasons"] == ["COMPLAINT"]
