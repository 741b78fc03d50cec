"""Fast, correct MIME rendering: a skeleton built once per run, filled per row.

Why not ``email.message.EmailMessage``: building one per row costs about a millisecond of CPU
(``benchmarks/compose_bench.py`` compares the two), which would make composing the
bottleneck. Everything that is the
same for every row — structure, boundaries, static headers, attachments' base64 — is decided
once in a :class:`MimeLayout`; a row only pays for its own headers and bodies.

Correctness rules (every output parses with ``email.message_from_bytes(raw,
policy=email.policy.default)`` back to the original values; the tests check this with
hypothesis):

* All output is ASCII with CRLF line endings; no line exceeds 998 octets (RFC 5322; SES
  allows 1,000, :data:`toolkit.facts.SES_RAW_MAX_LINE`) and header lines aim for ≤ 78.
* Header values with control characters (C0, DEL, C1, U+2028/2029) are refused upstream
  (:func:`has_unsafe_header_chars`); there is no way to inject a header.
* Unstructured values (Subject) that are plain printable ASCII words separated by single
  spaces are written as is, folded at spaces. Otherwise ASCII words stay readable and each
  run of other words (non-ASCII, ``=?`` look-alikes) becomes RFC 2047 ``=?utf-8?b?…?=``
  words of ≤ 39 bytes, split on character boundaries; values with runs of spaces or
  leading/trailing spaces are encoded whole.
* Display names (stripped, whitespace runs made one space): atoms as is, other printable
  ASCII as a quoted-string, else ASCII atoms plus one encoded word per run of other words
  (never two encoded words side by side: Python's parser would add a space between them).
  Addresses are already ASCII (punycode domains; non-ASCII local parts are refused).
* Bodies: line breaks are CRLF on the wire (a body's ``\\r\\n`` and ``\\n`` both mean one line
  break; a lone ``\\r`` is kept). ``7bit`` only for ASCII text without control characters,
  with lines ≤ 998 octets and not containing the boundary; text with other control
  characters or mostly non-ASCII goes ``base64`` (76-char lines), the rest
  ``quoted-printable`` (``binascii.b2a_qp``).
* Boundaries start with ``=_`` plus 24 random hex digits per layout: ``=_`` cannot occur in
  quoted-printable or base64 output, and 7bit parts are checked, so no collision is possible.

Usage::

    layout = MimeLayout.create(has_text=True, has_html=True)
    head = address_line("To", [("Ana", "ana@example.org")]) + header_line("Subject", "Hi")
    raw = layout.build("From: shop@example.com\\r\\n" + head, "Hi Ana", "<p>Hi Ana</p>")
"""

from __future__ import annotations

import binascii
import mimetypes
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from toolkit.compose.message import Attachment

CRLF = "\r\n"
MAX_LINE = 998
FOLD_AT = 78
_WORD_BYTES = 39  # 52 base64 chars: "=?utf-8?b?" + 52 + "?=" = 64 ≤ 75 (RFC 2047)

_UNSAFE_HEADER = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PLAIN_UNSTRUCTURED = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_SINGLE_SPACED = re.compile(r"[^ ]+(?: [^ ]+)*")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_ATOM = re.compile(rf"{_ATEXT}+")
_ATOM_PHRASE = re.compile(rf"{_ATEXT}+(?: {_ATEXT}+)*")
_QUOTABLE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_BODY_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_MAX_PLAIN_WORD = 900
_MAX_NAME_BYTES = 600  # longer display names: compose refuses them (MAX_DISPLAY_NAME)
MAX_DISPLAY_NAME = 150  # characters; display names are short, and this keeps them exact
_FILENAME_DROP = re.compile(r'["<>/\\]')
_SAFE_PARAM = re.compile(r"[A-Za-z0-9._+()-]+(?: [A-Za-z0-9._+()-]+)*")


def has_unsafe_header_chars(value: str) -> bool:
    """True when ``value`` holds a character that could end or corrupt a header line."""
    return _UNSAFE_HEADER.search(value) is not None


def is_valid_field_name(name: str) -> bool:
    """RFC 5322 field name: printable ASCII except ``:``."""
    return _FIELD_NAME.fullmatch(name) is not None


def new_boundary() -> str:
    """A fresh boundary base that cannot occur in QP/base64 output (it starts with ``=_``)."""
    return "=_" + secrets.token_hex(12)


def encoded_words(value: str) -> list[str]:
    """``value`` as RFC 2047 base64 encoded words, never splitting a UTF-8 sequence."""
    data = value.encode("utf-8")
    words: list[str] = []
    start, size = 0, len(data)
    while start < size:
        end = min(start + _WORD_BYTES, size)
        while end < size and (data[end] & 0xC0) == 0x80:
            end -= 1
        words.append(
            "=?utf-8?b?" + binascii.b2a_base64(data[start:end], newline=False).decode() + "?="
        )
        start = end
    return words


def fold(name: str, tokens: Sequence[str]) -> str:
    """``name: tok tok …`` folded before a token when a line would pass 78 characters."""
    line = name + ":"
    if not tokens:
        return line + " " + CRLF
    lines: list[str] = []
    first = True
    for token in tokens:
        if not first and len(line) + 1 + len(token) > FOLD_AT:
            lines.append(line)
            line = " " + token
        else:
            line = line + " " + token
        first = False
    lines.append(line)
    return CRLF.join(lines) + CRLF


def header_line(name: str, value: str) -> str:
    """An unstructured header (``Subject``, custom ``X-…``), encoded and folded, with CRLF."""
    if value.isascii() and "=?" not in value and _PLAIN_UNSTRUCTURED.fullmatch(value):
        if len(name) + 2 + len(value) <= FOLD_AT:
            return name + ": " + value + CRLF
        words = value.split(" ")
        if max(map(len, words)) <= _MAX_PLAIN_WORD:
            return fold(name, words)
    if not value:
        return name + ": " + CRLF
    if _SINGLE_SPACED.fullmatch(value):
        return fold(name, _mixed_tokens(value))
    return fold(name, encoded_words(value))


def _mixed_tokens(value: str) -> list[str]:
    """Plain ASCII words as is, each run of other words as encoded words (readable subjects).

    Runs are separated by plain words, so an encoded word is only ever next to plain text
    or to its own run's words (whose separating whitespace RFC 2047 readers drop).
    """
    tokens: list[str] = []
    run: list[str] = []
    for word in value.split(" "):
        if word.isascii() and "=?" not in word and len(word) <= _MAX_PLAIN_WORD:
            if run:
                tokens.extend(encoded_words(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(encoded_words(" ".join(run)))
    return tokens


def normalize_display_name(name: str) -> str:
    """A display name stripped, each run of whitespace made one ASCII space.

    Names are not free text, and Python's parser collapses whitespace in phrases anyway.
    """
    if name.isascii() and name[:1] != " " and name[-1:] != " " and "  " not in name:
        return name
    return " ".join(name.split())


def _phrase_tokens(name: str) -> list[str]:
    """Tokens of a display name (normalized with :func:`normalize_display_name`).

    Why not plain :func:`encoded_words`: Python's parser puts a space between adjacent
    encoded words in a phrase while RFC 2047 readers drop it, so no two encoded words are
    ever adjacent here: ASCII atoms stay plain and each run of other words becomes one
    encoded word (longer than 75 characters only for a very long non-ASCII run).
    """
    name = normalize_display_name(name)
    if name.isascii() and "=?" not in name:
        if _ATOM_PHRASE.fullmatch(name):
            return name.split(" ")
        if len(name) <= 200 and _QUOTABLE.fullmatch(name):
            return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    tokens: list[str] = []
    run: list[str] = []
    for word in name.split(" "):
        if word.isascii() and "=?" not in word and _ATOM.fullmatch(word):
            if run:
                tokens.extend(_one_word(" ".join(run)))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(_one_word(" ".join(run)))
    return tokens


def _one_word(value: str) -> list[str]:
    """One encoded word; past ``_MAX_NAME_BYTES``, RFC-sized words as separate tokens, so
    the header folds between them and no line passes 998 characters (RFC 5322)."""
    data = value.encode("utf-8")
    if len(data) > _MAX_NAME_BYTES:
        return encoded_words(value)
    return ["=?utf-8?b?" + binascii.b2a_base64(data, newline=False).decode("ascii") + "?="]


def format_mailbox(address: str, name: str = "") -> str:
    """``address`` or ``name <address>`` with the name quoted or encoded as needed (unfolded)."""
    if not normalize_display_name(name):
        return address
    return " ".join(_phrase_tokens(name)) + " <" + address + ">"


def address_line(field_name: str, mailboxes: Sequence[tuple[str, str]]) -> str:
    """An address header (``From``/``To``/``Cc``/``Reply-To``) from (name, address) pairs."""
    if len(mailboxes) == 1 and not mailboxes[0][0]:
        address = mailboxes[0][1]
        if len(field_name) + 2 + len(address) <= FOLD_AT:
            return field_name + ": " + address + CRLF
    tokens: list[str] = []
    last = len(mailboxes) - 1
    for index, (name, address) in enumerate(mailboxes):
        if name and normalize_display_name(name):
            tokens.extend(_phrase_tokens(name))
            tokens.append("<" + address + ">")
        else:
            tokens.append(address)
        if index != last:
            tokens[-1] += ","
    return fold(field_name, tokens)


def _max_line_length(text: str) -> int:
    if len(text) <= MAX_LINE:
        return len(text)
    return max(map(len, text.split("\n")))


def _base64_lines(data: bytes) -> str:
    encoded = binascii.b2a_base64(data, newline=False).decode("ascii")
    if len(encoded) <= 76:
        return encoded
    return CRLF.join([encoded[i : i + 76] for i in range(0, len(encoded), 76)])


def encode_body(text: str, boundary: str, *, single: bool) -> tuple[str, str]:
    """``(content-transfer-encoding, encoded body)`` for one text part.

    The encoded body carries no final CRLF: in a multipart the delimiter's CRLF follows it;
    for a single part the caller appends one CRLF (a soft line break keeps that exact).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    controls = _BODY_CONTROL.search(text) is not None
    if (
        text.isascii()
        and not controls
        and boundary not in text
        and _max_line_length(text) <= MAX_LINE
        and (not single or text.endswith("\n"))
    ):
        body = text.replace("\n", CRLF)
        return "7bit", body[:-2] if single else body
    data = text.encode("utf-8")
    if controls or (len(data) - len(text)) * 3 > len(text):
        # RFC 2045: text in base64 carries canonical CRLF line breaks.
        return "base64", _base64_lines(data.replace(b"\n", b"\r\n"))
    body = binascii.b2a_qp(data, istext=True).decode("ascii").replace("\n", CRLF)
    if single:
        body = body[:-2] if body.endswith(CRLF) else body + "="
    return "quoted-printable", body


def _param(name: str, value: str) -> str:
    """A MIME parameter; RFC 2231 ``name*=utf-8''…`` unless the value is plainly safe.

    Long encoded values are split into RFC 2231 continuations (``name*0*``, ``name*1*``…),
    one per folded line, so no line gets long.
    """
    if _SAFE_PARAM.fullmatch(value) and len(value) <= 60:
        return f'{name}="{value}"'
    encoded = quote(value.encode("utf-8"), safe="")
    if len(encoded) <= 60:
        return f"{name}*=utf-8''{encoded}"
    chunks: list[str] = []
    start = 0
    while start < len(encoded):
        end = min(start + 60, len(encoded))
        percent = encoded.rfind("%", end - 2, end)
        if percent != -1 and end < len(encoded):
            end = percent  # never split a %XX escape
        chunks.append(encoded[start:end])
        start = end
    return (";" + CRLF + " ").join(
        f"{name}*{i}*=" + ("utf-8''" if i == 0 else "") + chunk for i, chunk in enumerate(chunks)
    )


def safe_filename(filename: str) -> str:
    """The file name as sent: no path, quotes, angle brackets or control characters, stripped.

    Why: readers unquote ``"x"``/``<x>`` names and some treat ``/`` and ``\\`` as paths.
    """
    cleaned = _UNSAFE_HEADER.sub("", _FILENAME_DROP.sub("", filename)).strip()
    return cleaned or "attachment"


def attachment_part(attachment: Attachment) -> str:
    """Headers plus base64 body of one attachment (no boundary line)."""
    filename = safe_filename(attachment.filename)
    content_type = attachment.content_type.strip().lower()
    main, _, sub = content_type.partition("/")
    if not (_TOKEN.fullmatch(main) and _TOKEN.fullmatch(sub)):
        content_type = "application/octet-stream"
    return (
        f"Content-Type: {content_type}{CRLF}"
        f"Content-Transfer-Encoding: base64{CRLF}"
        f"Content-Disposition: attachment;{CRLF} {_param('filename', filename)}{CRLF}{CRLF}"
        + _base64_lines(attachment.content)
    )


def guess_content_type(filename: str) -> str:
    """A content type from the file name (``application/octet-stream`` when unknown)."""
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


@dataclass(frozen=True, slots=True)
class MimeLayout:
    """The per-run MIME skeleton: which parts exist, boundaries, pre-encoded attachments."""

    boundary: str
    has_text: bool
    has_html: bool
    static_headers: str = ""  # full lines with CRLF, the same for every row
    attachment_parts: tuple[str, ...] = ()  # pre-encoded static attachments

    @classmethod
    def create(
        cls,
        *,
        has_text: bool,
        has_html: bool,
        static_headers: str = "",
        attachments: Sequence[Attachment] = (),
        boundary: str | None = None,
    ) -> MimeLayout:
        """Decide the structure once; encode static attachments once."""
        return cls(
            boundary=boundary or new_boundary(),
            has_text=has_text,
            has_html=has_html,
            static_headers=static_headers,
            attachment_parts=tuple(attachment_part(a) for a in attachments),
        )

    def build(
        self,
        head: str,
        text: str | None,
        html: str | None,
        attachments: Sequence[Attachment] = (),
    ) -> bytes:
        """The complete message: ``head`` (this row's header lines) + static headers + body."""
        boundary = self.boundary
        parts = list(self.attachment_parts)
        parts.extend(attachment_part(a) for a in attachments)
        texts: list[tuple[str, str]] = []
        if self.has_text:
            texts.append(("plain", text or ""))
        if self.has_html:
            texts.append(("html", html or ""))
        if not texts:
            texts.append(("plain", ""))
        if not parts and len(texts) == 1:
            subtype, content = texts[0]
            cte, body = encode_body(content, boundary, single=True)
            return (
                f"{head}{self.static_headers}MIME-Version: 1.0{CRLF}"
                f"Content-Type: text/{subtype}; charset=utf-8{CRLF}"
                f"Content-Transfer-Encoding: {cte}{CRLF}{CRLF}{body}{CRLF}"
            ).encode("ascii")
        out = [head, self.static_headers, "MIME-Version: 1.0", CRLF]
        if parts:
            mixed = boundary + ".m"
            out.append(f'Content-Type: multipart/mixed; boundary="{mixed}"{CRLF}{CRLF}')
            out.append(f"--{mixed}{CRLF}")
            self._body(out, texts, boundary)
            out.append(CRLF)
            for part in parts:
                out.append(f"--{mixed}{CRLF}{part}{CRLF}")
            out.append(f"--{mixed}--{CRLF}")
        else:
            self._body(out, texts, boundary)
            out.append(CRLF)
        return "".join(out).encode("ascii")

    @staticmethod
    def _body(out: list[str], texts: list[tuple[str, str]], boundary: str) -> None:
        if len(texts) == 1:
            subtype, content = texts[0]
            cte, body = encode_body(content, boundary, single=False)
            out.append(
                f"Content-Type: text/{subtype}; charset=utf-8{CRLF}"
                f"Content-Transfer-Encoding: {cte}{CRLF}{CRLF}{body}"
            )
            return
        alt = boundary + ".a"
        out.append(f'Content-Type: multipart/alternative; boundary="{alt}"{CRLF}{CRLF}')
        for subtype, content in texts:
            cte, body = encode_body(content, boundary, single=False)
            out.append(
                f"--{alt}{CRLF}Content-Type: text/{subtype}; charset=utf-8{CRLF}"
                f"Content-Transfer-Encoding: {cte}{CRLF}{CRLF}{body}{CRLF}"
            )
        out.append(f"--{alt}--")
