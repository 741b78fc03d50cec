"""Pre-flight holds sends to SES v2's maxima (issue 16, M5): a call-wide setting SES would
refuse is one configuration error before anything is sent; a row that breaks a limit is
``invalid`` and the other rows go out.

Before issue 16, pre-flight and the sandbox accepted all of these (16 to 40 headers, a
2,000-character value, 300 KB of bulk row data, a 300-character attachment name), and AWS
refused them. The limits and their sources are in ``toolkit/facts.py``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.helpers import send_hi
from toolkit.compose.message import Attachment
from toolkit.errors import ConfigurationError
from toolkit.sandbox import Sandbox

FRAME = pd.DataFrame({"email": ["a@example.org", "b@example.org"]})


@pytest.mark.parametrize(
    ("via", "options", "words"),
    [
        ("ses", {"headers": [(f"X-H{i}", "v") for i in range(16)]}, "at most 15 per message"),
        ("ses-bulk", {"headers": [(f"X-H{i}", "v") for i in range(40)]}, "at most 15"),
        ("ses", {"headers": [("X-Long", "v" * 2000)]}, "at most 995"),
        ("ses", {"headers": [("X-Long", "v" * 994)]}, "996 for name and value together"),
        ("ses", {"headers": [("Message-ID", "<a@b>")]}, "written by SES itself"),
        ("ses", {"headers": [("X-Name", "Zo\u00eb")]}, "printable ASCII"),
        ("ses", {"tags": [("campaign", "spring sale")]}, "letters, digits, '_' and '-'"),
        ("smtp", {"tags": [("campaign name", "x")]}, "letters, digits, '_' and '-'"),
        ("ses", {"configuration_set": "bad name!"}, "configuration_set 'bad name!'"),
        ("ses", {"configuration_set": "x" * 65}, "at most 64 characters"),
        (
            "ses",
            {"attachments": [Attachment("a" * 296 + ".pdf", b"%PDF-1.4")]},
            "SES takes at most 255",
        ),
    ],
)
def test_a_call_wide_setting_ses_refuses_is_one_configuration_error(
    sandbox: Sandbox, via: str, options: dict[str, Any], words: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        send_hi(FRAME, via, target=sandbox, to="email", **options)
    assert words in str(refused.value)
    assert "\n" not in str(refused.value)
    assert sandbox.mailbox.count() == 0


def test_settings_at_the_limits_are_sent(sandbox: Sandbox) -> None:
    headers = [(f"X-H{i}", "v") for i in range(14)] + [("X-Long", "v" * 990)]
    results = send_hi(
        FRAME,
        "ses",
        target=sandbox,
        to="email",
        headers=headers,
        tags=[("campaign_1", "spring-sale")],
    )
    assert results["status"].tolist() == ["sent", "sent"]


def test_a_bulk_row_over_262144_characters_of_template_data_is_invalid(sandbox: Sandbox) -> None:
    frame = pd.DataFrame(
        {
            "email": ["a@example.org", "b@example.org", "c@example.org"],
            # 300 KB (found by pre-flight); 200,000 quotes, 400,000 characters once escaped
            # in JSON (found when the row is rendered); a small row.
            "note": ["x" * 300_000, '"' * 200_000, "fine"],
        }
    )
    results = send_hi(frame, "ses-bulk", target=sandbox, to="email", subject="Hi", text="{{note}}")
    assert results["status"].tolist() == ["invalid", "invalid", "sent"]
    assert set(results["error_code"].iloc[:2]) == {"TooLarge"}
    assert "262,144" in results["error_message"].iloc[0]
    assert "262,144" in results["error_message"].iloc[1]
    assert sandbox.mailbox.count() == 1


def test_an_attachment_file_name_over_255_characters_makes_its_row_invalid(
    sandbox: Sandbox, tmp_path: Any
) -> None:
    (tmp_path / "ok.txt").write_text("hello")
    frame = FRAME.assign(file=["ok.txt", "b" * 300 + ".txt"])
    results = send_hi(
        frame, "ses", target=sandbox, to="email", attachment_column="file", attachment_dir=tmp_path
    )
    assert results["status"].tolist() == ["sent", "invalid"]
    assert results["error_code"].iloc[1] == "InvalidValue"
    assert "SES takes at most 255" in results["error_message"].iloc[1]
