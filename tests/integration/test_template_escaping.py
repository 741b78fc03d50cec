"""One escaping rule on every transport (issue 16 M8 and L4).

``{{column}}`` in the HTML part is HTML-escaped, ``{{{column}}}`` inserts the value as it is,
subject and text are never escaped; before, ses-bulk and Pinpoint (where SES renders, and SES
does not escape) mailed ``<b>&`` raw while ses/smtp escaped it, and ``{{{name}}}`` was mailed
with stray braces by ses/smtp.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from toolkit.api import send
from toolkit.compose.render import compile_template, provider_html
from toolkit.sandbox import Sandbox

VIAS = ["ses", "ses-bulk", "pinpoint", "smtp"]


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def _parts(row: Any) -> dict[str, str]:
    """Subject, text and html of one mailbox message, whichever interface stored it."""
    if row["content_kind"] == "mime":
        parsed = email.message_from_bytes(row["content"], policy=email.policy.default)
        parts = {"subject": str(parsed["Subject"])}
        for part in parsed.walk():
            if part.get_content_type() == "text/plain":
                parts["text"] = part.get_content().rstrip("\r\n")
            elif part.get_content_type() == "text/html":
                parts["html"] = part.get_content().rstrip("\r\n")
        return parts
    content = json.loads(row["content"])
    if "Body" in content:  # SendEmail Simple
        return {"subject": content["Subject"]["Data"], "text": content["Body"]["Text"]["Data"],
                "html": content["Body"]["Html"]["Data"]}  # fmt: skip
    return {"subject": content["Subject"], "text": content["Text"], "html": content["Html"]}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("via", VIAS)
def test_one_escaping_rule_on_every_transport(box: Sandbox, via: str) -> None:
    box.mailbox.clear()
    df = pd.DataFrame({"email": ["a@example.org"], "name": ["<b>&\"x'"]})
    results = send(df, via, target=box, sender="sender@example.com",
                   subject="S {{{name}}} {{name}}", text="T {{name}} {{{ name }}}",
                   html="<p>{{name}}|{{{name}}}</p>", progress=False)  # fmt: skip
    assert list(results["status"]) == ["sent"]
    parts = _parts(box.mailbox.messages(content=True).iloc[0])
    value = "<b>&\"x'"
    assert parts["subject"] == f"S {value} {value}"
    assert parts["text"] == f"T {value} {value}"
    assert parts["html"] == "<p>&lt;b&gt;&amp;&quot;x&#x27;|" + value + "</p>"


def test_triple_braces_are_raw_and_never_leave_braces() -> None:
    tpl = compile_template("Hi {{{name}}}!")
    assert tpl.fields == ("name",) and tpl.render(["Ann"]) == "Hi Ann!"
    tpl = compile_template("<i>{{{ a }}}</i>{{a}}{x}", escape_html=True)
    assert tpl.render(["<&>"]) == "<i><&></i>&lt;&amp;&gt;{x}"
    assert tpl.escaped_fields == ("a",)


def test_provider_html_points_escaped_names_at_escaped_data() -> None:
    assert (provider_html("<p>{{ a }}{{{a}}}{{b}}</p>", {"a": "k0", "b": "k1"})
            == "<p>{{{k0}}}{{{a}}}{{{k1}}}</p>")  # fmt: skip
