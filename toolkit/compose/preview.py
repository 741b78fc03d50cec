"""A preview of the mail: sample rows rendered exactly as the transport will send them.

Why: a dry run says which rows would go, not what a recipient reads. The preview renders a few
rows through the same plan the send uses (the transport's content mode and size limit) and
shows From, To, Subject, the text part in full and the HTML part, choosing the rows most
likely to go wrong: the first row, the row with the longest values, a row with an empty cell
the message uses, and a row that will not be sent (with the reason). In a notebook the HTML
part renders in a sandboxed frame (``<iframe sandbox="" srcdoc=...>``: no script, no form,
no navigation, no network beyond images).

Usage::

    from toolkit.compose.preview import preview
    p = preview(df, via="ses", sender="Shop <shop@example.com>",
                subject="Order {{order_id}}", text="Hi {{first_name}}", html="<p>Hi</p>")
    p                # in a notebook: the messages, HTML rendered
    print(p.to_text())   # the CLI's --preview N
"""

from __future__ import annotations

import dataclasses
import html as html_lib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.compose.message import ContentMode, Message
from toolkit.compose.plan import Plan
from toolkit.compose.spec import ComposeSpec
from toolkit.errors import ConfigurationError
from toolkit.results import Outcome

_NO_MATH = "tex2jax_ignore mathjax_ignore"  # MathJax leaves "$0.12 … $0.10" as text
__all__ = ["MessagePreview", "Preview", "preview_plan"]


@dataclass(frozen=True)
class MessagePreview:
    """One row as it will be sent (or, with ``problem``, why it will not be)."""

    row_key: str
    why: str  # why this row was chosen
    sender: str = ""
    to: str = ""
    cc: str = ""
    reply_to: str = ""
    subject: str = ""
    text: str | None = None
    html: str | None = None
    size: int | None = None
    problem: str | None = None

    def to_text(self) -> str:
        """The message as a person reads it: headers, the text part, the HTML source."""
        if self.problem is not None:
            return f"To: {self.to or '(empty)'}\nNOT SENT: {self.problem}"
        lines = [f"From: {self.sender}", f"To: {self.to}"]
        if self.cc:
            lines.append(f"Cc: {self.cc}")
        if self.reply_to:
            lines.append(f"Reply-To: {self.reply_to}")
        lines.append(f"Subject: {self.subject}")
        if self.size is not None:
            lines.append(f"Size: {self.size:,} bytes")
        if self.text is not None:
            lines += ["", "--- text part ---", self.text.rstrip("\n")]
        if self.html is not None:
            lines += ["", "--- HTML part (source) ---", self.html.rstrip("\n")]
        return "\n".join(lines)


@dataclass(frozen=True, repr=False)
class Preview:
    """Sample messages of a send; displays in a notebook, prints for the CLI."""

    transport: str
    messages: tuple[MessagePreview, ...]
    sendable: int
    total: int

    def to_text(self) -> str:
        out = [f"Preview: {len(self.messages)} of {self.total:,} rows as {self.transport} will "
               f"send them ({self.sendable:,} will be sent)"]  # fmt: skip
        for i, m in enumerate(self.messages, 1):
            out += ["", f"=== message {i} of {len(self.messages)} · row {m.row_key!r} · "
                        f"{m.why} ===", m.to_text()]  # fmt: skip
        return "\n".join(out)

    __str__ = __repr__ = to_text

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([dataclasses.asdict(m) for m in self.messages])

    def _repr_html_(self) -> str:
        # JupyterLab would typeset "$5 … $9" as LaTeX: MathJax skips the container's classes.
        def esc(value: str) -> str:
            return html_lib.escape(value)

        parts = [
            f'<div class="toolkit-preview {_NO_MATH}" '
            'style="font-family: system-ui, sans-serif; font-size: 13px">',
            f"<b>{len(self.messages)} of {self.total:,} rows as <code>{esc(self.transport)}"
            f"</code> will send them</b> ({self.sendable:,} will be sent)",
        ]
        head = "color: #59636e; padding-right: 8px; text-align: right; vertical-align: top"
        for i, m in enumerate(self.messages, 1):
            parts.append(
                '<div class="toolkit-preview-message" style="border: 1px solid #d1d9e0; '
                'border-radius: 6px; padding: 8px; margin: 8px 0">'
                f"<div style='color: #59636e'>message {i} · row {esc(repr(m.row_key))} · "
                f"{esc(m.why)}</div>"
            )
            if m.problem is not None:
                parts.append(
                    f"<div>To: {esc(m.to or '(empty)')}</div><div class='toolkit-preview-problem'"
                    f" style='color: #82071e'><b>Not sent:</b> {esc(m.problem)}</div></div>"
                )
                continue
            rows = [("From", m.sender), ("To", m.to), ("Cc", m.cc), ("Reply-To", m.reply_to),
                    ("Subject", m.subject)]  # fmt: skip
            if m.size is not None:
                rows.append(("Size", f"{m.size:,} bytes"))
            table = "".join(
                f"<tr><td style='{head}'>{k}</td><td>{esc(v)}</td></tr>" for k, v in rows if v
            )
            parts.append(f"<table style='border-collapse: collapse'>{table}</table>")
            if m.text is not None:
                parts.append(
                    "<div style='color: #59636e; margin-top: 6px'>text part</div>"
                    "<pre class='toolkit-preview-text' style='white-space: pre-wrap; margin: 0;"
                    f" background: #f6f8fa; padding: 6px'>{esc(m.text)}</pre>"
                )
            if m.html is not None:
                parts.append(
                    "<div style='color: #59636e; margin-top: 6px'>HTML part (rendered in a "
                    "sandboxed frame: no scripts)</div>"
                    f'<iframe class="toolkit-preview-html" sandbox="" srcdoc="{esc(m.html)}" '
                    'style="width: 100%; height: 280px; border: 1px solid #d1d9e0; '
                    'background: white"></iframe>'
                )
            parts.append("</div>")
        parts.append("</div>")
        return "".join(parts)


def preview_plan(p: Plan, df: pd.DataFrame, spec: ComposeSpec, rows: int = 3) -> Preview:
    """The preview of a plan already made (the CLI's dry run has one)."""
    if rows < 0:
        raise ConfigurationError(f"the preview takes a number of rows >= 0, not {rows}")
    chosen = _choose(p, df, spec, rows)
    messages: list[MessagePreview] = []
    sendable = [pos for pos, _ in chosen if pos not in p.preflight]
    rendered = dict(zip(sendable, p.render(sendable), strict=True))
    for position, why in chosen:
        outcome = p.preflight.get(position)
        item: Message | Outcome = outcome if outcome is not None else rendered[position]
        messages.append(_describe(p, item, why))
    return Preview(p.renderer.transport, tuple(messages), len(p.sendable), p.size)


def _choose(p: Plan, df: pd.DataFrame, spec: ComposeSpec, rows: int) -> list[tuple[int, str]]:
    """Positions to show, the likeliest to go wrong first, each with why it was chosen."""
    sendable = np.asarray(p.sendable, dtype=np.int64)
    used = [c for c in dict.fromkeys([*p.renderer.value_columns, spec.name_column, spec.cc,
                                      spec.reply_to]) if c is not None]  # fmt: skip
    picks: list[tuple[int, str]] = []
    if len(sendable):
        picks.append((int(sendable[0]), "the first row"))
        if used:
            lengths = sum(
                (df[c].astype("str").str.len().fillna(0).to_numpy() for c in used),
                start=np.zeros(len(df)),
            )
            longest = int(sendable[int(np.argmax(lengths[sendable]))])
            picks.append((longest, "the longest values (" + ", ".join(used) + ")"))
            for column in used:
                empty = df[column].isna().to_numpy() | (df[column].astype("str") == "").to_numpy()
                hits = sendable[empty[sendable]]
                if len(hits):
                    picks.append((int(hits[0]), f"an empty {column!r}"))
                    break
    refused = sorted(p.preflight)
    if refused:
        picks.append((refused[0], "a row that will not be sent"))
    picks.extend((int(pos), "the next row") for pos in sendable[1 : rows + 1])
    seen: set[int] = set()
    out = []
    for position, why in picks:
        if position not in seen:
            seen.add(position)
            out.append((position, why))
    return out[:rows]


def _mailbox(address: str, name: object) -> str:
    return f"{name} <{address}>" if isinstance(name, str) and name else address


def _describe(p: Plan, item: Message | Outcome, why: str) -> MessagePreview:
    if isinstance(item, Outcome):
        reason = f"{item.status.value}, {item.error_code}: {item.error_message}"
        return MessagePreview(item.row_key, why, to=item.recipient, problem=reason)
    to = ", ".join(item.to)
    if len(item.to) == 1:
        to = _mailbox(item.to[0], item.extra.get("to_name"))
    subject, text, html = item.subject, item.text, item.html
    if p.mode is ContentMode.TEMPLATE and item.template_data is not None:
        templates = p.renderer.templates
        data = item.template_data

        def part(name: str) -> str | None:
            tpl = templates.get(name)
            return tpl.render([data.get(f, "") for f in tpl.fields]) if tpl else None

        if templates:
            subject, text, html = part("subject") or "", part("text"), part("html")
        else:
            name = item.template.name if item.template else None
            text = f"(the stored template {name!r}, with the data {dict(data)!r})"
    size = len(item.raw) if item.raw is not None else None
    if size is None:
        size = sum(len((x or "").encode()) for x in (subject, text, html)) + 400
    return MessagePreview(
        row_key=item.row_key, why=why, sender=item.sender, to=to, cc=", ".join(item.cc),
        reply_to=", ".join(item.reply_to), subject=subject, text=text, html=html, size=size,
    )  # fmt: skip
