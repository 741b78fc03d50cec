"""The ``{{ column }}`` template engine: compile once, substitute per row.

Why not Jinja2 or ``str.format``: a mail merge needs exactly one feature (insert a cell), must
name every column a template uses *before* sending (so pre-flight can check them), and must be
cheap enough for tens of thousands of rows per second. A template is compiled once into a
``str.format`` pattern with positional fields (literal braces escaped), so rendering a row is
one C-level ``format`` call.

Syntax: ``{{column}}`` or ``{{ column }}`` (spaces/tabs allowed inside the braces). The name
is everything between the braces, stripped, so column names may contain spaces or dots.
``{{{column}}}`` (Handlebars' "triple-stash") inserts the value unescaped. ``{{`` with no
matching ``}}`` is literal text. There is no escape syntax and no logic.

HTML escaping, the one rule on every transport: values inserted into an *HTML* template with
``{{column}}`` are escaped with ``html.escape(value, quote=True)`` (``& < > " '``);
``{{{column}}}`` inserts them as they are; the HTML template itself is trusted and never
escaped. Subject and text templates insert values unchanged. SES does not escape values when
it renders a template itself ("SES doesn't escape HTML content when rendering the HTML
template", https://docs.aws.amazon.com/ses/latest/dg/send-personalized-email-advanced.html),
so for the transports where SES renders (ses-bulk, Pinpoint) compose sends the escaped values
as extra template data and points the HTML part at them (:func:`provider_html`).

Usage::

    tpl = compile_template("Hi {{ first_name }}, order {{order_id}}")
    tpl.fields                        # ('first_name', 'order_id')
    tpl.render(["Ana", "A-17"])       # 'Hi Ana, order A-17'
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

# Group 1: ``{{{raw}}}``; group 2: ``{{name}}`` (escaped in HTML).
_PLACEHOLDER = re.compile(r"\{\{\{[ \t]*([^{}]*?)[ \t]*\}\}\}|\{\{[ \t]*([^{}]*?)[ \t]*\}\}")
_SPECIAL = re.compile("[&<>\"']").search


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A template split into literal text and fields, ready for fast per-row rendering.

    ``fields`` are the distinct column names in first-use order; ``render`` takes one value
    per field, in that order.
    """

    source: str
    fields: tuple[str, ...]
    pattern: str  # str.format pattern with positional fields into ``fields``
    escape_html: bool = False
    literal_length: int = 0  # characters of literal text (for size estimates)
    occurrences: tuple[int, ...] = ()  # how often each field appears
    # With escape_html: ``{{{name}}}`` occurrences use index len(fields) + i (unescaped).
    has_raw: bool = False
    escaped_fields: tuple[str, ...] = ()  # fields with at least one escaped occurrence

    def render(self, values: Sequence[str]) -> str:
        """The template with ``values[i]`` in place of ``fields[i]``."""
        if self.escape_html:
            escaped = [html.escape(v, quote=True) if _SPECIAL(v) else v for v in values]
            if self.has_raw:
                return self.pattern.format(*escaped, *values)
            return self.pattern.format(*escaped)
        return self.pattern.format(*values)

    @property
    def is_constant(self) -> bool:
        """True when the template has no placeholders."""
        return not self.fields


def placeholders(source: str) -> tuple[str, ...]:
    """Distinct column names used by ``source``, in first-use order."""
    seen: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(source):
        seen.setdefault(_name(match), None)
    return tuple(seen)


def _name(match: re.Match[str]) -> str:
    raw = match.group(1)
    return (raw if raw is not None else match.group(2)).strip()


def provider_html(source: str, keys: dict[str, str]) -> str:
    """``source`` for a provider that renders it without escaping (SES, Pinpoint): each
    escaped ``{{name}}`` becomes ``{{{keys[name]}}}`` (the key under which compose puts the
    escaped value), each ``{{{name}}}`` stays raw. Literal text is kept as it is."""

    def swap(match: re.Match[str]) -> str:
        name = _name(match)
        if match.group(1) is not None or name not in keys:
            return "{{{" + name + "}}}"
        return "{{{" + keys[name] + "}}}"

    return _PLACEHOLDER.sub(swap, source)


_HANDLEBARS = re.compile(r"\{\{\{?(.*?)\}?\}\}", re.DOTALL)
_HANDLEBARS_WORD = re.compile(r"[^\s#/^>!=()\"'~\[\]]+")
_BRACKETED = re.compile(r"\[([^\]]*)\]")  # {{[first name]}}: a name with spaces


def handlebars_names(source: str) -> tuple[str, ...]:
    """Every name a provider (Handlebars) template may look up, in first-use order.

    A stored SES or Pinpoint template is Handlebars, not our syntax: ``{{name}}``,
    ``{{{raw}}}``, ``{{#if vip}}``, ``{{user.name}}``, ``{{[first name]}}``. The whole text
    inside the braces, each word of it and each bracketed name counts, and a
    dotted path by its first part, so the answer may name too many columns (``if``), never too
    few: pre-flight checks those columns for header safety.
    """
    seen: dict[str, None] = {}
    for match in _HANDLEBARS.finditer(source or ""):
        inner = match.group(1)
        words = [inner.strip(" \t\r\n~"), *_BRACKETED.findall(inner)]
        for word in [*words, *_HANDLEBARS_WORD.findall(inner)]:
            for part in (word, word.split(".", 1)[0]):
                seen.setdefault(part, None)
    return tuple(seen)


_PLAIN_NAME = re.compile(r"^\s*([A-Za-z_][\w-]*)(?:\.[\w-]+)*\s*$")


def handlebars_required(source: str) -> tuple[str, ...]:
    """The names a provider (Handlebars) template cannot render without: plain ``{{name}}``
    or ``{{{name}}}`` (a dotted path by its first part) outside every block (``{{#if}}``,
    ``{{#each}}``…, where a missing name may be meant). SES does not deliver a message whose
    template data lacks one (a Rendering Failure event instead), so pre-flight requires them.
    Unlike :func:`handlebars_names`, this never names too many."""
    required: dict[str, None] = {}
    depth = 0
    for match in _HANDLEBARS.finditer(source or ""):
        inner = match.group(1).strip(" \t\r\n~")
        if inner.startswith("#"):
            depth += 1
        elif inner.startswith("/"):
            depth = max(0, depth - 1)
        elif depth == 0 and not inner.startswith(("!", ">", "else")):
            plain = _PLAIN_NAME.match(inner)
            if plain is not None and plain.group(1) != "this":
                required.setdefault(plain.group(1), None)
    return tuple(required)


def compile_template(source: str, *, escape_html: bool = False) -> CompiledTemplate:
    """Compile ``source`` once; ``escape_html`` escapes inserted values (for HTML parts)."""
    index: dict[str, int] = {}
    counts: list[int] = []
    pieces: list[str | tuple[str, bool]] = []
    escaped: dict[str, None] = {}
    literal = 0
    last = 0
    has_raw = False
    for match in _PLACEHOLDER.finditer(source):
        text = source[last : match.start()]
        literal += len(text)
        pieces.append(text.replace("{", "{{").replace("}", "}}"))
        name = _name(match)
        raw = match.group(1) is not None
        if name not in index:
            index[name] = len(index)
            counts.append(0)
        counts[index[name]] += 1
        if raw and escape_html:
            has_raw = True
        else:
            escaped.setdefault(name, None)
        pieces.append((name, raw and escape_html))
        last = match.end()
    tail = source[last:]
    literal += len(tail)
    pieces.append(tail.replace("{", "{{").replace("}", "}}"))
    n = len(index)
    pattern = "".join(
        piece if isinstance(piece, str) else f"{{{index[piece[0]] + (n if piece[1] else 0)}}}"
        for piece in pieces
    )
    return CompiledTemplate(
        source=source,
        fields=tuple(index),
        pattern=pattern,
        escape_html=escape_html,
        literal_length=literal,
        occurrences=tuple(counts),
        has_raw=has_raw,
        escaped_fields=tuple(escaped),
    )
