"""Property test: any cell text either renders into a clean, parseable message or is invalid."""

from __future__ import annotations

import email
import email.policy
import html
import os
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from toolkit.compose import ComposeSpec, plan
from toolkit.compose.message import ContentMode, Message
from toolkit.compose.mime import normalize_display_name
from toolkit.results import Outcome, Status

pytestmark = pytest.mark.slow  # hypothesis searches a large input space: the default run

_EXAMPLES = int(os.environ.get("TOOLKIT_HYPOTHESIS_EXAMPLES", "300"))  # more: set the env var
_TRICKY = st.sampled_from(
    ["\r\n", "\n", "\r", "\x00", "\x85", "\u2028", "Bcc: evil@example.com", "=?utf-8?q?x?=",
     "--=_", "=_", "é", "山田", "😀", "a" * 200, "é" * 400, " ", "\t", "<", "&", '"', "\ud800",
     "{{first_name}}", "}}", "{"]
)  # fmt: skip
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CELL = st.lists(st.one_of(st.text(max_size=20), _TRICKY), max_size=8).map("".join)
_GOOD_EMAIL = st.sampled_from(["a@example.com", "A@Bücher.example", "b+x@example.org"])
_EMAIL = st.one_of(
    _GOOD_EMAIL,
    _GOOD_EMAIL,
    _GOOD_EMAIL,
    _GOOD_EMAIL,
    st.sampled_from(["a@example.com", "A@Bücher.example", "bad@", "", "x y@example.com",
                     "a@example.com\r\nBcc: e@example.com", "josé@example.com",
                     "a@example.com, b@example.org", "<a@example.com>", "\ud800@example.com"]),
    _CELL,
)  # fmt: skip
_SAFE_CELL = _CELL.map(lambda s: _UNSAFE.sub("", s))
_HEADER_CELL = st.one_of(_SAFE_CELL, _SAFE_CELL, _SAFE_CELL, _CELL)
_SPEC = ComposeSpec(
    sender="Shöp <shop@example.com>", name_column="name",
    subject="Re: {{ subject }} / {{name}}", text="Hi {{name}},\n{{body}}\n",
    html="<p>{{name}}</p><div>{{ body }}</div>",
)  # fmt: skip
_EXPECTED_HEADERS = {"From", "To", "Subject", "Date", "MIME-Version", "Content-Type"}


@settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(_EMAIL, _HEADER_CELL, _HEADER_CELL, _CELL), min_size=1, max_size=4),
       mode=st.sampled_from(list(ContentMode)))  # fmt: skip
def test_any_cell_renders_cleanly_or_is_invalid(
    rows: list[tuple[str, str, str, str]], mode: ContentMode
) -> None:
    df = pd.DataFrame(rows, columns=["email", "name", "subject", "body"], dtype=object)
    p = plan(df, _SPEC, mode=mode, max_message_bytes=200_000, transport="t")
    assert sorted([*p.preflight, *p.sendable]) == list(range(len(rows)))
    for position, item in zip(range(len(rows)), p.render(range(len(rows))), strict=True):
        if isinstance(item, Outcome):
            assert item.status in (Status.INVALID, Status.SKIPPED)
            assert item.error_code and item.error_message
            continue
        assert isinstance(item, Message) and item.position == position
        event(f"rendered {mode.value}")
        _, name, subject, body = rows[position]
        if mode is ContentMode.TEMPLATE:
            data = dict(item.template_data or {})
            escaped = {k: data.pop(k) for k in list(data) if k.startswith("toolkit_html_")}
            assert data == {"subject": subject, "name": name, "body": body}
            # Issue 16 M8: SES does not escape, so the HTML part's values come pre-escaped.
            html_part = item.template.html if item.template else ""
            for column, key in p.renderer.html_keys.items():
                assert escaped.pop(key) == html.escape(data[column], quote=True)
                assert "{{{" + key + "}}}" in (html_part or "")
            assert not escaped
            continue
        if mode is ContentMode.FIELDS:
            assert item.subject == f"Re: {subject} / {name}"
            continue
        raw = item.raw or b""
        assert raw.isascii() and b"\r" not in raw.replace(b"\r\n", b"")
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert set(parsed.keys()) == _EXPECTED_HEADERS  # nothing injected
        assert parsed["Subject"] == f"Re: {subject} / {name}"
        to = parsed["To"].addresses
        assert [a.addr_spec for a in to] == list(item.to)
        if len(to) == 1:
            assert to[0].display_name == normalize_display_name(name)
        plain = parsed.get_body(("plain",))
        assert plain is not None
        expected = f"Hi {name},\n{body}\n".replace("\r\n", "\n")
        assert plain.get_content().replace("\r\n", "\n") == expected
