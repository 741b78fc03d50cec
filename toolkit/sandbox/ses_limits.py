"""SES v2 request rules that botocore's model does not carry: checked before a send is accepted.

The validator (:mod:`toolkit.sandbox.validation`) already enforces what the model states (15
headers, 995-character values, 262,144 characters of template data, 255-character attachment
names). These are the rest, each in :mod:`toolkit.facts` with its source:

- custom ``Headers`` may not name a header SES writes itself (``SES_RESERVED_CUSTOM_HEADERS``),
  and a name plus its value is at most 996 characters (``SES_HEADER_VALUE_MAX``);
- message tags: names and values of letters, digits, ``_`` and ``-`` (``SES_TAG_RULE``);
- configuration set names: the same characters, at most 64 (``SES_CONFIGURATION_SET_NAME``).

Each check returns SES's message for the first problem, or None; the handlers raise it as
``400 BadRequestException``. A separate module so the handlers stay small and these rules have
one home the pre-flight can read too.

Usage::

    problem = send_problem(params)       # SendEmail / SendBulkEmail parameters
    problem = configuration_set_name_problem("bad name!")
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from toolkit.facts import (
    SES_CONFIGURATION_SET_NAME,
    SES_HEADER_VALUE_MAX,
    SES_INVALID_IDENTITY,
    SES_RESERVED_CUSTOM_HEADERS,
    SES_TAG_RULE,
)
from toolkit.sandbox.ses_checks import address_problem

__all__ = [
    "RESERVED_HEADERS",
    "configuration_set_name_problem",
    "headers_problem",
    "identity_problem",
    "send_problem",
    "tags_problem",
]

RESERVED_HEADERS = frozenset(name.lower() for name in SES_RESERVED_CUSTOM_HEADERS.value)
_COMBINED_MAX = SES_HEADER_VALUE_MAX.value[1]
_TAG = re.compile(rf"{SES_TAG_RULE.value[0]}{{1,{SES_TAG_RULE.value[1]}}}")
_SET_NAME = re.compile(
    rf"{SES_CONFIGURATION_SET_NAME.value[0]}{{1,{SES_CONFIGURATION_SET_NAME.value[1]}}}"
)


def headers_problem(headers: Iterable[Mapping[str, Any]] | None) -> str | None:
    """SES's message for custom headers it refuses (reserved name, name+value too long)."""
    for header in headers or ():
        name = str(header.get("Name") or "")
        value = str(header.get("Value") or "")
        if name.lower() in RESERVED_HEADERS:
            return f"Header '{name}' can't be set as a custom header."
        if len(name) + len(value) > _COMBINED_MAX:
            return (
                f"The combined length of header '{name}' and its value must not exceed "
                f"{_COMBINED_MAX} characters."
            )
    return None


def tags_problem(tags: Iterable[Mapping[str, Any]] | None) -> str | None:
    """SES's message for a message tag whose name or value has characters it forbids."""
    for tag in tags or ():
        for part in ("Name", "Value"):
            text = str(tag.get(part) or "")
            if _TAG.fullmatch(text) is None:
                return (
                    f"Invalid tag {part.lower()} {text!r}: only alphanumeric ASCII characters, "
                    f"'_' and '-' are allowed, at most {SES_TAG_RULE.value[1]}."
                )
    return None


def configuration_set_name_problem(name: str) -> str | None:
    """SES's message for a configuration set name it refuses, or None."""
    if _SET_NAME.fullmatch(name) is not None:
        return None
    return (
        f"Invalid configuration set name {name!r}: use only letters, numbers, '_' and '-', "
        f"at most {SES_CONFIGURATION_SET_NAME.value[1]} characters."
    )


_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")


def identity_problem(identity: str) -> str | None:
    """SES's message for an identity CreateEmailIdentity refuses: a malformed address (``x y@``,
    ``user@``, ``@example.com``, a display name) or domain; None when it may be created."""
    address_message, domain_message = SES_INVALID_IDENTITY.value
    if "@" in identity:
        if "<" in identity or address_problem(identity) is not None:
            return address_message.split(": ", 1)[1].format(name=identity)
        return None
    if len(identity) > 253 or _DOMAIN.fullmatch(identity) is None:
        return domain_message.split(": ", 1)[1].format(name=identity)
    return None


def _content_headers(content: Mapping[str, Any] | None) -> list[Any]:
    found: list[Any] = []
    for kind in ("Simple", "Template"):
        part = (content or {}).get(kind) or {}
        found.extend(part.get("Headers") or ())
    return found


def send_problem(params: Mapping[str, Any]) -> str | None:
    """The first rule a SendEmail or SendBulkEmail request breaks (whole-request rules only).

    Bulk entries' ReplacementHeaders and ReplacementTags are checked here too: SES validates
    the request as one, before it looks at any entry. (A send naming a configuration set that
    cannot exist answers NotFoundException, as any missing set: SES_CONFIGURATION_SET_MISSING.)
    """
    headers = _content_headers(params.get("Content")) + _content_headers(
        params.get("DefaultContent")
    )
    tags = list(params.get("EmailTags") or ()) + list(params.get("DefaultEmailTags") or ())
    for entry in params.get("BulkEmailEntries") or ():
        headers.extend(entry.get("ReplacementHeaders") or ())
        tags.extend(entry.get("ReplacementTags") or ())
    return headers_problem(headers) or tags_problem(tags)
