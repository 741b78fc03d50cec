"""SES v2's request maxima, checked before the first send (issue 16, M5).

SES refuses a whole request when a custom header, a tag, a configuration set name, an
attachment name or the template data breaks one of its rules (the rules and their sources
are in :mod:`toolkit.facts`, "SES v2 request maxima"; the sandbox enforces the same ones).
Pre-flight finds them first: a setting given to every row (``headers=``, ``tags=``,
``configuration_set=``, ``attachments=``) is a configuration error, one line naming the rule;
what depends on a row (its template data, its attachment file's name) makes that row
``invalid``.

Usage::

    problem = call_problem(spec, "ses")            # None, or the one line to raise
    attachment_name_problem("a" * 300 + ".pdf")    # the line for a row's attachment file
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from toolkit.compose.spec import ComposeSpec
from toolkit.facts import (
    SES_ATTACHMENT_FILENAME_MAX,
    SES_CONFIGURATION_SET_NAME,
    SES_HEADER_NAME_MAX,
    SES_HEADER_VALUE_MAX,
    SES_MAX_CUSTOM_HEADERS,
    SES_RESERVED_CUSTOM_HEADERS,
    SES_TAG_RULE,
    SES_TEMPLATE_DATA_MAX_BYTES,
)
from toolkit.transports.registry import ses_v2_api

__all__ = [
    "ATTACHMENT_NAME_MAX",
    "TEMPLATE_DATA_MAX",
    "attachment_name_problem",
    "call_problem",
]

TEMPLATE_DATA_MAX = SES_TEMPLATE_DATA_MAX_BYTES.value
ATTACHMENT_NAME_MAX = SES_ATTACHMENT_FILENAME_MAX.value
_RESERVED = frozenset(name.lower() for name in SES_RESERVED_CUSTOM_HEADERS.value)
_VALUE_MAX, _COMBINED_MAX = SES_HEADER_VALUE_MAX.value
_PRINTABLE = re.compile(r"[ -~]*")
_TAG = re.compile(rf"{SES_TAG_RULE.value[0]}{{1,{SES_TAG_RULE.value[1]}}}")
_SET_NAME = re.compile(
    rf"{SES_CONFIGURATION_SET_NAME.value[0]}{{1,{SES_CONFIGURATION_SET_NAME.value[1]}}}"
)


def _headers_problem(headers: Iterable[tuple[str, str]]) -> str | None:
    listed = list(headers)
    if len(listed) > SES_MAX_CUSTOM_HEADERS.value:
        return (
            f"{len(listed)} custom headers: SES takes at most {SES_MAX_CUSTOM_HEADERS.value} "
            "per message"
        )
    for name, value in listed:
        if name.lower() in _RESERVED:
            return f"header {name!r} is written by SES itself and cannot be set through headers="
        if len(name) > SES_HEADER_NAME_MAX.value:
            return f"header name {name[:40]!r}… is over {SES_HEADER_NAME_MAX.value} characters"
        if len(value) > _VALUE_MAX or len(name) + len(value) > _COMBINED_MAX:
            return (
                f"header {name!r} is {len(value):,} characters: SES takes at most {_VALUE_MAX} "
                f"(and {_COMBINED_MAX} for name and value together)"
            )
        if not value or _PRINTABLE.fullmatch(value) is None:
            return f"header {name!r}: SES takes a value of printable ASCII characters only"
    return None


def call_problem(spec: ComposeSpec, transport: str) -> str | None:
    """The one line for a call-wide setting SES would refuse on every message, or None."""
    if ses_v2_api(transport):  # headers travel as SES v2 ``Headers`` members
        problem = _headers_problem(spec.headers)
        if problem is not None:
            return problem
    for name, value in spec.tags:
        for part, text in (("name", name), ("value", value)):
            if _TAG.fullmatch(text) is None:
                return (
                    f"tag {name!r}={value!r}: SES takes tag {part}s of letters, digits, '_' "
                    f"and '-' only, at most {SES_TAG_RULE.value[1]} characters"
                )
    set_name = spec.configuration_set
    if set_name is not None and _SET_NAME.fullmatch(set_name) is None:
        return (
            f"configuration_set {set_name!r}: SES names hold letters, digits, '_' and '-' only, at "
            f"most {SES_CONFIGURATION_SET_NAME.value[1]} characters"
        )
    for attachment in spec.attachments:
        problem = attachment_name_problem(attachment.filename)
        if problem is not None:
            return problem
    return None


def attachment_name_problem(filename: str) -> str | None:
    """The line for an attachment name over SES's 255 characters, or None."""
    if len(filename) <= ATTACHMENT_NAME_MAX:
        return None
    return (
        f"attachment name {filename[:40]!r}… is {len(filename)} characters; SES takes at most "
        f"{ATTACHMENT_NAME_MAX}"
    )
