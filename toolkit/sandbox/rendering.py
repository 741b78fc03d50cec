"""``{{name}}`` placeholder rendering, as SES templates and Pinpoint substitutions do it.

SES templates are Handlebars; the sandbox supports the part transactional mail uses:
``{{name}}`` and dotted ``{{a.b}}`` lookups. A placeholder with no value renders as an empty
string and is reported, because at AWS such a message is accepted and then fails to render
(a Rendering Failure event), so the caller can record that instead of a delivery.

Usage::

    text, missing = render("Hi {{name}}", {"name": "Ada"})   # ("Hi Ada", [])
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\{?\s*([\w.\-]+)\s*\}?\}\}")


def _lookup(data: Mapping[str, Any], name: str) -> Any:
    value: Any = data.get(name)
    if value is None and "." in name:
        value = data
        for part in name.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
    return value


def render(text: str | None, data: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """Replace ``{{name}}`` placeholders; returns the text and the names that had no value."""
    if not text or "{{" not in text:
        return text, []
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        value = _lookup(data, match.group(1))
        if value is None:
            missing.append(match.group(1))
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)

    return _PLACEHOLDER.sub(substitute, text), missing
