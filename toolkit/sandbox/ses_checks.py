"""What SES checks in a message before it accepts it: address syntax and raw MIME headers.

Both checks answer with SES's own words, so a message the sandbox refuses reads the same as
the refusal at AWS. The sources and what is modelled rather than documented are in
:mod:`toolkit.facts` (``SES_ADDRESS_SYNTAX``, ``SES_RAW_HEADER_CHECKS``, ``SES_RAW_LONG_LINES``).

**Addresses.** SES's messages for malformed addresses ("Missing final '@domain'", "Local
address contains illegal character", "Domain contains dot-dot" …) are JavaMail's
``InternetAddress`` parser's, so :func:`address_problem` follows that parser's strict rules:
a local part that is a dot-atom (or quoted: anything goes inside quotes, as SES accepts), one
``@``, a domain of letters, digits, hyphens and single dots (or a ``[literal]``); a display
name before ``<addr>`` must not hold unquoted specials ("Illegal address"). SES also wants
7-bit ASCII: a non-ASCII local part is refused with the wording seen in the field. A mailbox
over 320 characters as written is refused with SES's "Address length is more than 320
characters long" (the one rule pre-flight shares, :func:`toolkit.compose.addresses.length_problem`);
a local part over 64 characters is not, as at SES.

**Raw MIME.** :func:`raw_problem` applies the header rules SES enforces synchronously: a
header block (every line before the first blank line is ``Name: value`` or a folded
continuation), each header of AWS's single-occurrence list at most once, a ``From`` header
when the request names no sender, a recipient somewhere and a non-empty ``To``, and no
mailbox of ``From``/``To``/``Cc``/``Bcc``/``Reply-To`` over 320 characters (as written). Lines over
1,000 octets are *not* refused at send time, as at AWS, where they bounce later;
:func:`long_line` says whether a message has one, so the mailbox can record that bounce.

Usage::

    address_problem("not-an-address")        # "Missing final '@domain'"
    raw_problem(raw, has_sender=False, has_recipients=True)   # "Missing required header 'From'."
"""

from __future__ import annotations

import re

from toolkit.compose.addresses import length_problem
from toolkit.facts import SES_ADDRESS_MAX_LENGTH, SES_RAW_MAX_LINE

__all__ = ["SINGLE_HEADERS", "address_problem", "long_line", "raw_problem"]

# Headers SES allows at most once (AWS's header-fields page), lower-cased.
SINGLE_HEADERS = frozenset(
    name.lower()
    for name in [
        "Accept-Language",
        "acceptLanguage",
        "Archived-At",
        "Auto-Submitted",
        "Bounces-to",
        "Comments",
        "Content-Alternative",
        "Content-Base",
        "Content-Class",
        "Content-Description",
        "Content-Disposition",
        "Content-Duration",
        "Content-ID",
        "Content-Language",
        "Content-Length",
        "Content-Location",
        "Content-MD5",
        "Content-Transfer-Encoding",
        "Content-Type",
        "Date",
        "Delivered-To",
        "Disposition-Notification-Options",
        "Disposition-Notification-To",
        "DKIM-Signature",
        "DomainKey-Signature",
        "Errors-To",
        "From",
        "Importance",
        "In-Reply-To",
        "Keywords",
        "List-Archive",
        "List-Help",
        "List-Id",
        "List-Owner",
        "List-Post",
        "List-Subscribe",
        "List-Unsubscribe",
        "Message-Context",
        "Message-ID",
        "MIME-Version",
        "Organization",
        "Original-From",
        "Original-Message-ID",
        "Original-Recipient",
        "Original-Subject",
        "Precedence",
        "Priority",
        "References",
        "Reply-To",
        "Return-Path",
        "Return-Receipt-To",
        "Sender",
        "Solicitation",
        "Sensitivity",
        "Subject",
        "Thread-Index",
        "Thread-Topic",
        "User-Agent",
        "VBR-Info",
    ]
)
_SPECIALS = frozenset('()<>,;:\\"[]@')  # JavaMail's specialsNoDot, with "@"
# What JavaMail surely accepts: a dot-atom of RFC 5322 atext (every printable ASCII character
# but its specials), one "@", a domain of letters, digits and hyphens in dot-separated labels.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_PLAIN = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\Z")
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to"})
_MAX_MAILBOX = SES_ADDRESS_MAX_LENGTH.value
_DISPLAY_SPECIALS = frozenset(',;:@[]\\<>"')
_EMPTY_MESSAGE = "Invalid email address ."
_QUOTED_NAME = re.compile(r'"(?:[^"\\]|\\.)*"')
_ILLEGAL_HEADER_QUOTE = 68  # characters of the offending line SES quotes (field report)
_LINE_LIMIT = SES_RAW_MAX_LINE.value - 2  # 1,000 octets including CRLF
# Anchored at the start of a line: tried once per line, not at every byte of it. Unanchored, a
# search re-scanned up to 999 bytes from each position of a line of 998 (20 s for 5 MB, with
# the server's event loop blocked: issue 16).
_LONG_LINE = re.compile(rb"(?:\A|(?<=[\r\n]))[^\r\n]{%d}" % (_LINE_LIMIT + 1))


def address_problem(address: str) -> str | None:
    """SES's message for a malformed address (``Name <addr>`` allowed), or None when valid."""
    too_long = length_problem(address)
    if too_long is not None:
        return too_long
    if _PLAIN.match(address) is not None:
        return None  # the common case, decided by one regular expression
    text = address.strip()
    if not text:
        return _EMPTY_MESSAGE
    if "<" in text or ">" in text:
        if not text.endswith(">") or text.count("<") != 1 or text.count(">") != 1:
            return "Illegal address"
        name, _, rest = text.partition("<")
        if _DISPLAY_SPECIALS & set(_QUOTED_NAME.sub("", name)):
            return "Illegal address"
        text = rest[:-1].strip()
        if not text:
            return _EMPTY_MESSAGE
    return _addr_spec_problem(text)


def _addr_spec_problem(addr: str) -> str | None:
    """JavaMail ``InternetAddress.checkAddress(addr, routeAddr=false, validate=true)``."""
    length = len(addr)
    in_quote = False
    last = ""
    char = ""
    index = 0
    while index < length:
        last, char = char, addr[index]
        if char == "\\" or last == "\\":
            index += 1
            continue
        if char == '"':
            if in_quote:
                if index + 1 < length and addr[index + 1] != "@":
                    return "Quote not at end of local address"
                in_quote = False
            else:
                if index != 0:
                    return "Quote not at start of local address"
                in_quote = True
            index += 1
            continue
        if in_quote:
            index += 1
            continue
        if char == ".":
            if index == 0:
                return "Local address starts with dot"
            if last == ".":
                return "Local address contains dot-dot"
        if char == "@":
            if index == 0:
                return "Missing local name"
            if last == ".":
                return "Local address ends with dot"
            break
        if char <= " " or char == "\x7f" or not char.isascii():
            # SES reads the address as 7-bit text: non-ASCII shows up as control characters.
            return "Local address contains control or whitespace"
        if char in _SPECIALS:
            return "Local address contains illegal character"
        index += 1
    if in_quote:
        return "Unterminated quote"
    if char != "@":
        return "Missing final '@domain'"
    start = index + 1
    if start >= length:
        return "Missing domain"
    if addr[start] == ".":
        return "Domain starts with dot"
    in_literal = False
    last = ""
    for position in range(start, length):
        char = addr[position]
        if char == "[":
            if position != start:
                return "Domain literal not at start of domain"
            in_literal = True
        elif char == "]":
            if position != length - 1:
                return "Domain literal end not at end of domain"
            in_literal = False
        elif char <= " " or char == "\x7f":
            return "Domain contains control or whitespace"
        elif not in_literal:
            if not (char.isascii() and (char.isalnum() or char in "-.")):
                return "Domain contains illegal character"
            if char == "." and last == ".":
                return "Domain contains dot-dot"
        last = char
    if last == ".":
        return "Domain ends with dot"
    return None


def _header_lines(raw: bytes) -> list[bytes] | None:
    """The header block's lines (None when the message has no blank line after headers)."""
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n")
    ends = [end for end in (crlf, lf) if end >= 0]
    if raw.startswith((b"\r\n", b"\n")):
        return []
    head = raw[: min(ends)] if ends else raw
    if not head.strip(b"\r\n"):
        return []
    return head.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")


def raw_problem(raw: bytes, *, has_sender: bool, has_recipients: bool) -> str | None:
    """SES's message for a raw MIME message it refuses at send time, or None.

    ``has_sender``: the request names the sender outside the message (``FromEmailAddress``,
    SMTP's ``MAIL FROM``); ``has_recipients``: it names recipients outside (``Destination``,
    ``RCPT TO``).
    """
    lines = _header_lines(raw) or []
    seen: dict[str, str] = {}
    to_values: list[str] = []
    address_values: list[str] = []
    recipients_in_headers = False
    current = ""
    for line in lines:
        text = line.decode("latin-1")
        if text[:1] in (" ", "\t"):
            if not text.strip():
                return "Empty header names are illegal."
            if current == "to":
                to_values[-1] += text
            if current in _ADDRESS_HEADERS:
                address_values[-1] += text
            continue
        name, colon, value = text.partition(":")
        if not colon:
            return f"Illegal header '{text[:_ILLEGAL_HEADER_QUOTE]}'."
        if not name.strip():
            return "Empty header names are illegal."
        current = name.strip().lower()
        if current in SINGLE_HEADERS:
            if current in seen:
                return f"Duplicate header '{name.strip()}'."
            seen[current] = name.strip()
        if current == "to":
            to_values.append(value)
        if current in _ADDRESS_HEADERS:
            address_values.append(value)
        if current in ("to", "cc", "bcc") and value.strip():
            recipients_in_headers = True
    if not has_sender and "from" not in seen:
        return "Missing required header 'From'."
    if any(not value.strip() for value in to_values):
        return "Empty required header 'To'."
    if not has_recipients and not recipients_in_headers:
        return "Missing required header 'To'."
    for value in address_values:
        for mailbox in _mailboxes(value):
            problem = length_problem(mailbox)
            if problem is not None:
                return problem
    return None


def _mailboxes(value: str) -> list[str]:
    """A header's mailboxes as written: split at commas outside quotes, ``<>`` and comments."""
    if len(value) <= _MAX_MAILBOX:
        return []  # nothing in it can be too long
    found: list[str] = []
    depth = 0
    quoted = escaped = False
    start = 0
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "<(":
            depth += 1
        elif char in ">)":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            found.append(value[start:index].strip())
            start = index + 1
    found.append(value[start:].strip())
    return found


def long_line(raw: bytes) -> bool:
    """True when a line is longer than SES's 1,000 octets (CRLF included).

    Linear and cheap (about 4 ns per byte): split at LF in C, and look closer (for a lone CR)
    only at the rare pieces longer than the limit.
    """
    pieces = raw.split(b"\n")
    if max(map(len, pieces)) <= _LINE_LIMIT:
        return False
    return any(_LONG_LINE.search(piece) for piece in pieces if len(piece) > _LINE_LIMIT)
