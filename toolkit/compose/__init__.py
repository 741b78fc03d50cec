"""Compose: a DataFrame and a spec become checked, rendered messages (no network here)."""

from toolkit.compose.plan import (
    ATTACHMENT_NOT_FOUND,
    DUPLICATE_RECIPIENT,
    HEADER_INJECTION,
    INVALID_ADDRESS,
    INVALID_VALUE,
    MISSING_VALUE,
    TOO_LARGE,
    TOO_MANY_RECIPIENTS,
    ComposeSpec,
    Plan,
    plan,
)

__all__ = [
    "ATTACHMENT_NOT_FOUND",
    "DUPLICATE_RECIPIENT",
    "HEADER_INJECTION",
    "INVALID_ADDRESS",
    "INVALID_VALUE",
    "MISSING_VALUE",
    "TOO_LARGE",
    "TOO_MANY_RECIPIENTS",
    "ComposeSpec",
    "Plan",
    "plan",
]
