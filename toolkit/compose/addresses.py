"""Recipient address validation and normalization (email-validator, cached, with a fast path).

Why a fast path: ``email_validator.validate_email`` costs tens of microseconds per address
(more with an IDN domain): most of a minute for a million rows. Almost every real address is
a plain ASCII dot-atom local part plus a domain shared by many rows, so an
:class:`AddressValidator` checks the local part with the same dot-atom rule email-validator
applies and validates each distinct *domain* once with email-validator. Anything else (quoted
local parts, odd characters, long addresses) goes through the full ``validate_email`` call,
cached per distinct address, so its error message is email-validator's own.

Normalization: ``local@ascii-domain`` — the domain lowercased and IDNA-encoded (punycode),
the local part kept as written (local parts are case-sensitive). A non-ASCII local part is
refused (``NonAsciiLocalPart``): SES does not accept internationalized (SMTPUTF8) mailboxes
(:data:`toolkit.facts.SES_ASCII_LOCAL_PART`).

A cell may hold several addresses separated by ``,`` or ``;``; ``Name <addr>`` items are
accepted and reduced to ``addr`` (display names come from a separate column).

Length: SES refuses a whole mailbox (display name and its encoding included) over 320
characters (:data:`toolkit.facts.SES_ADDRESS_MAX_LENGTH`). :func:`length_problem` is that one
rule, in SES's words; pre-flight applies it to ``Name <addr>`` as the transports write it and
the sandbox to every address it is given, so both refuse the same mailboxes.

Usage::

    validator = AddressValidator()
    validator.normalize("Ana@Bücher.example")   # 'Ana@xn--bcher-kva.example'
    validator.normalize_cell("a@x.com; b@y.org")  # ('a@x.com', 'b@y.org')
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email

from toolkit.compose.spec import (
    HEADER_INJECTION,
    INVALID_ADDRESS,
    MISSING_VALUE,
    NON_ASCII_LOCAL_PART,
)
from toolkit.facts import SES_ADDRESS_MAX_LENGTH

# RFC 5322 dot-atom, ASCII only: exactly what email-validator accepts for an unquoted local part.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_SIMPLE = re.compile(rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@([^@\s]+)")
_SEPARATORS = re.compile(r"[,;]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MAX_LOCAL = 64
_MAX_ADDRESS = 254
MAX_MAILBOX = SES_ADDRESS_MAX_LENGTH.value


@dataclass(frozen=True, slots=True)
class AddressProblem:
    """Why an address (or a whole cell) cannot be used; ``code`` is the outcome error_code."""

    code: str
    message: str


@dataclass
class AddressValidator:
    """Validates and normalizes addresses; caches per distinct domain and address.

    One instance per plan (no global cache), so memory is released with the plan.
    """

    _domains: dict[str, str | AddressProblem] = field(default_factory=dict, repr=False)
    _addresses: dict[str, str | AddressProblem] = field(default_factory=dict, repr=False)

    def normalize(self, address: str) -> str | AddressProblem:
        """The normalized bare address, or the problem with it."""
        address = address.strip()
        if not address:
            return AddressProblem(MISSING_VALUE, "the address is empty")
        match = _SIMPLE.fullmatch(address)
        if match is not None and len(match.group(1)) <= _MAX_LOCAL:
            local, domain = match.group(1), match.group(2)
            ascii_domain = self.domain(domain)
            if isinstance(ascii_domain, AddressProblem):
                return AddressProblem(ascii_domain.code, f"{address!r}: {ascii_domain.message}")
            if len(local) + 1 + len(ascii_domain) <= _MAX_ADDRESS:
                return f"{local}@{ascii_domain}"
        cached = self._addresses.get(address)
        if cached is None:
            cached = self._addresses[address] = _validate_full(address)
        return cached

    def normalize_cell(self, cell: str) -> tuple[str, ...] | AddressProblem:
        """Every address of a cell (``,``/``;``-separated), normalized, or the first problem."""
        if _CONTROL.search(cell):
            return AddressProblem(HEADER_INJECTION, f"{cell!r} holds a control character (CR/LF…)")
        if "<" in cell or '"' in cell:
            items = [addr for _name, addr in email.utils.getaddresses([cell.replace(";", ",")])]
            if not any(items):
                return AddressProblem(INVALID_ADDRESS, f"{cell!r} holds no address")
        else:
            items = _SEPARATORS.split(cell)
        result: list[str] = []
        for item in items:
            if not item.strip():
                continue
            normalized = self.normalize(item)
            if isinstance(normalized, AddressProblem):
                return normalized
            result.append(normalized)
        if not result:
            return AddressProblem(MISSING_VALUE, "no address given")
        return tuple(result)

    def domain(self, domain: str) -> str | AddressProblem:
        """The ASCII (punycode, lowercased) form of ``domain``; validated once per domain."""
        cached = self._domains.get(domain)
        if cached is None:
            try:
                result = validate_email(f"a@{domain}", check_deliverability=False)
            except EmailNotValidError as exc:
                cached = AddressProblem(INVALID_ADDRESS, str(exc))
            else:
                cached = result.ascii_domain
            self._domains[domain] = cached
        return cached


def _validate_full(address: str) -> str | AddressProblem:
    local = address.rpartition("@")[0]
    if local and not local.isascii():
        return AddressProblem(
            NON_ASCII_LOCAL_PART,
            f"{address!r}: the part before the @ has non-ASCII characters; SES does not accept "
            "internationalized (SMTPUTF8) mailboxes",
        )
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return AddressProblem(INVALID_ADDRESS, f"{address!r}: {exc}")
    if result.ascii_email is None:  # pragma: no cover - caught by the isascii check above
        return AddressProblem(NON_ASCII_LOCAL_PART, f"{address!r}: non-ASCII local part")
    local_part = result.ascii_local_part or ""
    if len(local_part) > _MAX_LOCAL:
        # email-validator 2.x lets a longer local part through; RFC 5321 §4.5.3.1.1 (64
        # octets) is what SES's SMTP side and receiving servers enforce.
        return AddressProblem(
            INVALID_ADDRESS,
            f"{address!r}: the part before the @ is {len(local_part)} characters; "
            f"at most {_MAX_LOCAL} are allowed (RFC 5321)",
        )
    return f"{local_part}@{result.ascii_domain}"


def length_problem(mailbox: str) -> str | None:
    """SES's refusal of a mailbox (``addr`` or ``Name <addr>`` as written) over 320 characters."""
    if len(mailbox) <= MAX_MAILBOX:
        return None
    return f"Address length is more than {MAX_MAILBOX} characters long: '{mailbox}'."


def mailbox_length_problem(name: str, address: str) -> str | None:
    """:func:`length_problem` for ``Name <addr>`` as the transports encode it (RFC 2047 for a
    non-ASCII name); a short ASCII pair is decided without encoding it."""
    if not name or (name.isascii() and len(name) + len(address) + 5 <= MAX_MAILBOX):
        return None
    return length_problem(email.utils.formataddr((name, address), charset="utf-8"))


def parse_mailbox(value: str) -> tuple[str, str]:
    """``("Shop", "shop@example.com")`` from ``"Shop <shop@example.com>"`` (name may be '')."""
    value = value.strip()
    if "<" not in value:
        return "", value
    name, addr = email.utils.parseaddr(value)
    return name.strip(), addr
