"""Property tests: whatever the text, toolkit.compose.mime output parses back to the same values."""

from __future__ import annotations

import email
import email.policy
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.compose.message import Attachment
from toolkit.compose.mime import (
    CRLF,
    MimeLayout,
    address_line,
    has_unsafe_header_chars,
    header_line,
    normalize_display_name,
    safe_filename,
)

pytestmark = pytest.mark.slow  # hypothesis searches a large input space: the default run

_EXAMPLES = int(os.environ.get("TOOLKIT_HYPOTHESIS_EXAMPLES", "300"))  # more: set the env var

# Text that stresses encoders: control characters, unicode, encoded-word and boundary
# look-alikes, long runs without spaces.
_TRICKY = st.sampled_from(
    ["=?utf-8?q?x?=", "=?", "?=", "--=_", "=_", "\r\n", "\n", "\r", ".", "From ", " ", "  ",
     "\t", "=", "é", "山田", "\u2028", "\x00", "\x85", "😀", "a" * 120, "é" * 60, '"', "\\",
     "<b@c.d>", ",", ";", ":"]
)  # fmt: skip
_TEXT = st.lists(st.one_of(st.text(max_size=30), _TRICKY), max_size=12).map("".join)
_HEADER_TEXT = _TEXT.filter(lambda s: not has_unsafe_header_chars(s))
_SETTINGS = settings(
    max_examples=_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _check_lines(raw: bytes) -> None:
    assert raw.isascii()
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


@_SETTINGS
@given(subject=_HEADER_TEXT)
def test_subject_round_trips(subject: str) -> None:
    raw = (header_line("Subject", subject) + "X-After: yes" + CRLF + CRLF).encode("ascii")
    _check_lines(raw)
    message = _parse(raw)
    assert list(message.keys()) == ["Subject", "X-After"]
    assert message["Subject"] == subject
    for line in raw.split(b"\r\n")[:-3]:  # a long line is one unbreakable word
        word = line.removeprefix(b"Subject: ").strip()
        assert len(line) <= 78 or b" " not in word


@_SETTINGS
@given(name=_HEADER_TEXT, second=st.booleans())
def test_display_name_round_trips(name: str, second: bool) -> None:
    boxes = [(name, "ana@xn--bcher-kva.example")] + ([("", "b@example.com")] if second else [])
    raw = (address_line("To", boxes) + CRLF).encode("ascii")
    _check_lines(raw)
    addresses = _parse(raw)["To"].addresses
    assert len(addresses) == len(boxes)
    expected = normalize_display_name(name)
    if len(expected.encode("utf-8")) > 600:  # several adjacent encoded words, folded: RFC
        # 2047 readers drop the space between them, Python's parser keeps one each
        assert addresses[0].display_name.replace(" ", "") == expected.replace(" ", "")
    else:
        assert addresses[0].display_name == expected
    assert addresses[0].addr_spec == "ana@xn--bcher-kva.example"


@_SETTINGS
@given(text=_TEXT, html=_TEXT, shape=st.sampled_from(["both", "text", "html"]),
       attach=st.booleans(), filename=_HEADER_TEXT)  # fmt: skip
def test_bodies_round_trip(text: str, html: str, shape: str, attach: bool, filename: str) -> None:
    attachments = [Attachment(filename, b"\x00\xffdata" * 30, "application/pdf")] if attach else []
    layout = MimeLayout.create(
        has_text=shape != "html", has_html=shape != "text", attachments=attachments
    )
    head = "From: shop@example.com" + CRLF + header_line("Subject", "s")
    raw = layout.build(head, text, html)
    _check_lines(raw)
    message = _parse(raw)
    assert message["Subject"] == "s"
    assert not message.defects
    seen = {}
    for part in message.walk():
        assert not part.defects
        if part.get_content_maintype() == "multipart":
            continue
        if part.get_content_maintype() == "text":
            seen[part.get_content_subtype()] = part.get_content()
        else:
            assert part.get_content() == b"\x00\xffdata" * 30
            assert part.get_filename() == safe_filename(filename)
    expected = {}
    if shape != "html":
        expected["plain"] = text
    if shape != "text":
        expected["html"] = html
    assert {k: v.replace("\r\n", "\n") for k, v in seen.items()} == {
        k: v.replace("\r\n", "\n") for k, v in expected.items()
    }
