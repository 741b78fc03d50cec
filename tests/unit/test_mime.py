"""compose.mime: encoding choices, folding, boundaries (properties: test_mime_properties)."""

from __future__ import annotations

import email
import email.policy

from toolkit.compose.message import Attachment
from toolkit.compose.mime import (
    CRLF,
    MimeLayout,
    address_line,
    encode_body,
    encoded_words,
    format_mailbox,
    header_line,
    new_boundary,
)

BOUNDARY = "=_0123456789abcdef01234567"


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_plain_ascii_body_is_7bit_with_crlf() -> None:
    cte, body = encode_body("Hello\nworld\n", BOUNDARY, single=False)
    assert cte == "7bit" and body == "Hello\r\nworld\r\n"
    cte, body = encode_body("a\r\nb\n", BOUNDARY, single=True)
    assert cte == "7bit" and body == "a\r\nb"  # the caller appends the final CRLF


def test_single_part_without_final_newline_uses_a_soft_break() -> None:
    cte, body = encode_body("no newline", BOUNDARY, single=True)
    assert cte == "quoted-printable" and body == "no newline="


def test_boundary_in_content_forces_an_encoding() -> None:
    text = f"--{BOUNDARY}.a\nContent-Type: text/html\n\nfake\n--{BOUNDARY}.a--\n"
    cte, body = encode_body(text, BOUNDARY, single=False)
    assert cte == "quoted-printable" and BOUNDARY not in body
    layout = MimeLayout.create(has_text=True, has_html=True, boundary=BOUNDARY)
    parsed = _parse(layout.build("From: a@example.com" + CRLF, text, "<p>x</p>"))
    parts = [p for p in parsed.walk() if p.get_content_maintype() == "text"]
    assert len(parts) == 2
    assert parts[0].get_content().replace("\r\n", "\n") == text


def test_long_lines_and_non_ascii_use_quoted_printable() -> None:
    cte, body = encode_body("x" * 2000, BOUNDARY, single=False)
    assert cte == "quoted-printable" and max(map(len, body.split(CRLF))) <= 76
    cte, _ = encode_body("Grüße aus Köln\n", BOUNDARY, single=False)
    assert cte == "quoted-printable"


def test_mostly_non_ascii_or_control_characters_use_base64() -> None:
    assert encode_body("山田太郎さん、ご注文ありがとう\n", BOUNDARY, single=False)[0] == "base64"
    assert encode_body("tab\tok\n", BOUNDARY, single=False)[0] == "7bit"
    cte, body = encode_body("nul\x00 and lone\rcr", BOUNDARY, single=False)
    assert cte == "base64" and max(map(len, body.split(CRLF))) <= 76


def test_new_boundary_is_random_and_starts_with_equals_underscore() -> None:
    first, second = new_boundary(), new_boundary()
    assert first != second and first.startswith("=_") and len(first) == 26


def test_subject_folding_and_encoding() -> None:
    assert header_line("Subject", "Your order") == "Subject: Your order\r\n"
    long = " ".join(["word"] * 40)
    folded = header_line("Subject", long)
    assert all(len(line) <= 78 for line in folded.split(CRLF))
    assert _parse((folded + CRLF).encode())["Subject"] == long
    encoded = header_line("Subject", "Zoë " * 30)
    assert encoded.startswith("Subject: =?utf-8?b?")
    assert all(len(line) <= 78 for line in encoded.split(CRLF))
    looks_encoded = header_line("Subject", "=?utf-8?q?hi?=")
    assert _parse((looks_encoded + CRLF).encode())["Subject"] == "=?utf-8?q?hi?="


def test_encoded_words_never_split_a_character() -> None:
    words = encoded_words("😀" * 40)
    assert all(len(w) <= 75 for w in words)
    decoded = "".join(
        email.header.decode_header(w)[0][0].decode("utf-8")  # type: ignore[union-attr]
        for w in words
    )
    assert decoded == "😀" * 40


def test_mailbox_formats() -> None:
    assert format_mailbox("a@example.com") == "a@example.com"
    assert format_mailbox("a@example.com", "Ann Lee") == "Ann Lee <a@example.com>"
    assert format_mailbox("a@example.com", "Lee, Ann") == '"Lee, Ann" <a@example.com>'
    assert (
        format_mailbox("a@example.com", "Zoë Smith") == "=?utf-8?b?Wm/Dqw==?= Smith <a@example.com>"
    )
    line = address_line("To", [("", f"user{i}@example.com") for i in range(20)])
    assert all(len(x) <= 78 for x in line.split(CRLF))
    assert len(_parse((line + CRLF).encode())["To"].addresses) == 20


def test_mixed_layout_with_static_and_row_attachments() -> None:
    layout = MimeLayout.create(
        has_text=True, has_html=False, attachments=[Attachment("terms.txt", b"T", "text/plain")]
    )
    raw = layout.build("From: a@example.com" + CRLF, "body\n", None, [Attachment("ø.bin", b"\x00")])
    parsed = _parse(raw)
    assert parsed.get_content_type() == "multipart/mixed"
    names = [p.get_filename() for p in parsed.iter_attachments()]
    assert names == ["terms.txt", "ø.bin"]
    body = parsed.get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == "body\n"


def test_bad_content_type_falls_back_to_octet_stream() -> None:
    layout = MimeLayout.create(has_text=True, has_html=False)
    raw = layout.build("", "x\n", None, [Attachment("a", b"1", "text/plain\r\nX-Evil: 1")])
    assert b"X-Evil" not in raw
    (part,) = _parse(raw).iter_attachments()
    assert part.get_content_type() == "application/octet-stream"


def test_a_display_name_past_one_encoded_word_folds_under_998_characters() -> None:
    """Hypothesis found it: a 1,000-character name became one 1,015-character line."""
    from toolkit.compose.mime import CRLF, address_line

    raw = address_line("To", [(":" + "a" * 1000, "ana@example.com")])
    assert max(len(line) for line in raw.split(CRLF)) <= 78
