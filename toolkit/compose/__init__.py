"""Compose: a DataFrame and a :class:`ComposeSpec` become checked, rendered messages.

The stages, one module each: :mod:`.spec` (what to compose, the problem codes),
:mod:`.preflight` (every row checked before the first send), :mod:`.plan` (the plan and its
chunked rendering), :mod:`.render` (``{{column}}`` templates), :mod:`.mime` (MIME),
:mod:`.addresses` (address syntax), :mod:`.message` (the message a transport receives).
Nothing here talks to the network.
"""

from toolkit.compose.plan import Plan, plan
from toolkit.compose.spec import (
    ATTACHMENT_NOT_FOUND,
    DUPLICATE_RECIPIENT,
    HEADER_INJECTION,
    INVALID_ADDRESS,
    INVALID_VALUE,
    MISSING_VALUE,
    NON_ASCII_LOCAL_PART,
    TOO_LARGE,
    TOO_MANY_RECIPIENTS,
    ComposeSpec,
)

__all__ = [
    "ATTACHMENT_NOT_FOUND",
    "DUPLICATE_RECIPIENT",
    "HEADER_INJECTION",
    "INVALID_ADDRESS",
    "INVALID_VALUE",
    "MISSING_VALUE",
    "NON_ASCII_LOCAL_PART",
    "TOO_LARGE",
    "TOO_MANY_RECIPIENTS",
    "ComposeSpec",
    "Plan",
    "plan",
]
