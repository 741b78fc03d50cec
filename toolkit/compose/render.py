"""The ``{{ column }}`` template engine: compile once, substitute per row.

Why not Jinja2 or ``str.format``: a mail merge needs exactly one feature (insert a cell), must
name every column a template uses *before* sending (so pre-flight can check them), and must be
cheap enough for tens of thousands of rows per second. A template is compiled once into a
``str.format`` pattern with positional fields (literal braces escaped), so rendering a row is
one C-level ``format`` call.

Syntax: ``{{column}}`` or ``{{ column }}`` (spaces/tabs allowed inside the braces). The name
is everything between the braces, stripped, so column names may contain spaces or dots.
``{{`` with no matching ``}}`` is literal text. There is no escape syntax and no logic.

HTML escaping: values inserted into an *HTML* template are escaped with
``html.escape(value, quote=True)`` (``& < > " '``); the HTML template itself is trusted and
never escaped. Subject and text templates insert values unchanged.

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

_PLACEHOLDER = re.compile(r"\{\{[ \t]*([^{}]*?)[ \t]*\}\}")
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

    def render(self, values: Sequence[str]) -> str:
        """The template with ``values[i]`` in place of ``fields[i]``."""
        if self.escape_html:
            values = [html.escape(v, quote=True) if _SPECIAL(v) else v for v in values]
        return self.pattern.format(*values)

    @property
    def is_constant(self) -> bool:
        """True when the template has no placeholders."""
        return not self.fields


def placeholders(source: str) -> tuple[str, ...]:
    """Distinct column names used by ``source``, in first-use order."""
    seen: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(source):
        seen.setdefault(match.group(1).strip(), None)
    return tuple(seen)


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
    pieces: list[str] = []
    literal = 0
    last = 0
    for match in _PLACEHOLDER.finditer(source):
        text = source[last : match.start()]
        literal += len(text)
        pieces.append(text.replace("{", "{{").replace("}", "}}"))
        name = match.group(1).strip()
        if name not in index:
            index[name] = len(index)
            counts.append(0)
        counts[index[name]] += 1
        pieces.append(f"{{{index[name]}}}")
        last = match.end()
    tail = source[last:]
    literal += len(tail)
    pieces.append(tail.replace("{", "{{").replace("}", "}}"))
    return CompiledTemplate(
        source=source,
        fields=tuple(index),
        pattern="".join(pieces),
        escape_html=escape_html,
        literal_length=literal,
        occurrences=tuple(counts),
    )
