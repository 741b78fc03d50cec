"""Compose: a DataFrame plus a :class:`ComposeSpec` becomes a :class:`Plan` of per-row messages.

Why a plan: every row is checked *before* the first send (pre-flight), so configuration
mistakes stop the run early (exceptions) and per-row problems become final ``invalid`` or
``skipped`` outcomes while the other rows still go. Pre-flight is vectorized with pandas and
holds no rendered message, so a million rows take seconds and little memory; messages are
rendered lazily, a chunk at a time, by :meth:`Plan.render`.

What pre-flight checks (error_code of the row's outcome):

* addresses in To/Cc/Bcc/Reply-To and a per-row sender column: syntax and normalization
  (:mod:`toolkit.compose.addresses`; ``InvalidAddress``, ``NonAsciiLocalPart``), empty To/sender
  (``MissingValue``), at most ``max_recipients`` in To+Cc+Bcc (``TooManyRecipients``);
* a NaN in a column a template or template data uses (``MissingValue``);
* a cell that is not text, a number or a date (bytes, a list, a dict, an object) in any column
  the message uses (``InvalidValue``: its ``repr()`` would be mailed);
* control characters (CR, LF, NUL, …) in anything that goes into a header: subject values
  (for a stored template, the columns its subject uses, or every templated column when the
  template could not be read), display names, the sender (``HeaderInjection``); display
  names over 150 characters (``InvalidValue``; also, at render time, cells that are not valid
  Unicode);
* attachment files named in ``attachment_column`` exist (``AttachmentNotFound``) under
  ``attachment_dir`` (``AttachmentNotAllowed``; see :mod:`.attachments`);
* a cheap lower bound on the message size against ``max_message_bytes`` (``TooLarge``;
  the exact size is checked again when a row is rendered);
* rows with the same recipients and content as an earlier row are ``skipped``
  (``DuplicateRecipient``) unless ``allow_duplicates``; the first occurrence is sent.

The checks live in :mod:`.preflight`, MIME in :mod:`.mime`, templates in :mod:`.render`,
addresses in :mod:`.addresses`.

Configuration errors (raised, nothing is sent): a mapped column or a ``{{placeholder}}``
naming a column that is not in the frame (:class:`MissingColumnError`), no sender, no
content, control characters in constant header values, duplicate row keys
(:class:`ConfigurationError`).

A spec with only a subject sends an empty text body. In RAW mode (and FIELDS mode with
attachments) ``Message.raw`` holds the complete message: From, To (with the ``name_column``
display name when the row has one To address), Cc, Reply-To, Subject, Date, MIME-Version,
``spec.headers`` and, when set, ``X-SES-CONFIGURATION-SET``/``X-SES-MESSAGE-TAGS``; never
Bcc. ``Message.extra["to_name"]`` carries that display name for transports that build the
message themselves. Messages are rendered for ``Plan.mode``; render a few hundred positions
per call.

Values become text like this: strings as is; integers and floats whose non-missing values
in that column are all whole numbers without a fraction (``42``, not ``42.0`` — pandas stores
integer columns with gaps as floats); other values with ``str``. Values in HTML templates are
escaped (see :mod:`toolkit.compose.render`).

Usage::

    spec = ComposeSpec(to="email", name_column="first_name", sender="Shop <shop@example.com>",
                       subject="Order {{order_id}}", text="Hi {{first_name}}")
    p = plan(df, spec, mode=ContentMode.RAW, max_message_bytes=40 * 2**20, transport="smtp")
    p.preflight          # {position: Outcome} for invalid/skipped rows
    messages = p.render(p.sendable[:500])
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape as html_escape
from typing import Any

import numpy as np
import pandas as pd

from toolkit.compose.attachments import AttachmentProblem, read_attachment
from toolkit.compose.frame import conform
from toolkit.compose.limits import TEMPLATE_DATA_MAX
from toolkit.compose.message import Attachment, ContentMode, Message, Template
from toolkit.compose.mime import (
    CRLF,
    MimeLayout,
    address_line,
    format_mailbox,
    has_unsafe_header_chars,
    header_line,
    normalize_display_name,
)
from toolkit.compose.preflight import (
    HEADER_OVERHEAD,
    Preflight,
    PreflightResult,
    is_missing,
)
from toolkit.compose.render import provider_html
from toolkit.compose.spec import (
    ATTACHMENT_NOT_FOUND,
    HEADER_INJECTION,
    INVALID_VALUE,
    TOO_LARGE,
    ComposeSpec,
)
from toolkit.compose.tags import ROW_TAG, RUN_TAG, row_tag_value
from toolkit.results import Outcome, Status, results_frame
from toolkit.transports.registry import bulk_template_data


def plan(
    df: pd.DataFrame,
    spec: ComposeSpec,
    *,
    mode: ContentMode,
    max_message_bytes: int,
    transport: str,
    max_recipients: int = 50,
    clock: Callable[[], float] = time.time,
    stored_template: Template | None = None,
) -> Plan:
    """Pre-flight the whole frame and return a :class:`Plan` (see the module docstring).

    ``df`` goes through :func:`toolkit.compose.frame.conform` first (a Series of addresses,
    non-text column names). ``stored_template`` is the provider's copy of
    ``spec.template_name`` (read by the transport, never here): its subject says which
    columns reach a header; without it every templated column is checked.
    """
    df, spec = conform(df, spec)
    result = Preflight(df, spec, mode, max_message_bytes, transport, max_recipients, clock,
                       stored_template=stored_template).run()  # fmt: skip
    renderer = _Renderer(df, spec, result, mode=mode, transport=transport,
                         max_bytes=max_message_bytes, clock=clock)  # fmt: skip
    return Plan(
        size=len(df), row_keys=result.row_keys, content_hashes=result.content_hashes,
        preflight=result.preflight, sendable=result.sendable, renderer=renderer,
    )  # fmt: skip


@dataclass(frozen=True, repr=False, eq=False)
class Plan:
    """The result of pre-flight: which rows are final already, and how to render the rest."""

    size: int
    row_keys: list[str]
    content_hashes: Sequence[str]
    preflight: dict[int, Outcome]  # position -> the outcome of a row refused before sending
    sendable: list[int]  # positions to render and send, in order
    renderer: _Renderer

    def __repr__(self) -> str:
        return (
            f"Plan(size={self.size}, sendable={len(self.sendable)}, "
            f"preflight={len(self.preflight)}, mode={self.renderer.mode.value})"
        )

    @property
    def mode(self) -> ContentMode:
        """The content mode messages are rendered for."""
        return self.renderer.mode

    @property
    def template(self) -> Template | None:
        """The shared template object (TEMPLATE mode), else None."""
        return self.renderer.template if self.renderer.mode is ContentMode.TEMPLATE else None

    def render(self, positions: Sequence[int]) -> list[Message | Outcome]:
        """Messages for these positions, in order; a row failing a late check is an Outcome.

        Render chunks of a few hundred rows at a time: the per-call overhead (one ``take``
        per used column) is then negligible.
        """
        return self.renderer.render(positions, self.row_keys, self.preflight)

    def preview(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` sendable rows as they would be sent: to, subject, the text in full
        (it was cut at 80 characters, mid-word), size. :mod:`.preview` shows whole messages."""
        records: list[dict[str, Any]] = []
        for item in self.render(self.sendable[:n]):
            if isinstance(item, Outcome):
                records.append({"row_key": item.row_key, "to": item.recipient,
                                "subject": None, "text": None, "size": None,
                                "problem": item.error_message})  # fmt: skip
                continue
            text = item.text if item.text is not None else (item.html or "")
            subject = item.subject
            if item.template_data is not None and item.template is not None:
                subject = self.renderer.preview_subject(item.template_data)
            size = len(item.raw) if item.raw is not None else _fields_size(item)
            records.append({"row_key": item.row_key, "to": ", ".join(item.to),
                            "subject": subject, "text": text, "size": size,
                            "problem": None})  # fmt: skip
        columns = ["row_key", "to", "subject", "text", "size", "problem"]
        return pd.DataFrame.from_records(records, columns=columns)

    def problems(self) -> pd.DataFrame:
        """The pre-flight outcomes (invalid and skipped rows) as a results frame."""
        positions = sorted(self.preflight)
        frame = results_frame([self.preflight[p] for p in positions])
        frame.insert(0, "position", positions)
        return frame

    def summary(self) -> dict[str, int]:
        """Counts: sendable rows and pre-flight outcomes by error code."""
        counts: dict[str, int] = {"sendable": len(self.sendable)}
        for outcome in self.preflight.values():
            key = f"{outcome.status.value}:{outcome.error_code}"
            counts[key] = counts.get(key, 0) + 1
        return counts


def _fields_size(message: Message) -> int:
    parts = (message.subject, message.text or "", message.html or "")
    return HEADER_OVERHEAD + sum(len(p.encode("utf-8")) for p in parts)


def _column_formatter(series: pd.Series) -> Callable[[list[object]], list[str]]:
    """How this column's cells become text (whole floats without ``.0``)."""
    whole = False
    if pd.api.types.is_float_dtype(series):
        values = series.dropna().to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        whole = bool(len(finite)) and bool(np.all(finite == np.floor(finite)))
        whole = whole and bool(np.all(np.abs(finite) < 2**53))

    def convert(values: list[object]) -> list[str]:
        out: list[str] = []
        for value in values:
            if type(value) is str:
                out.append(value)
            elif is_missing(value):
                out.append("")
            elif whole and isinstance(value, float) and value == value and abs(value) != np.inf:
                out.append(str(int(value)))
            else:
                out.append(str(value))
        return out

    return convert


_HTML_SPECIAL = re.compile("[&<>\"']")


def _needs_escaping(series: pd.Series) -> bool:
    """True when some cell of ``series`` holds a character HTML escaping changes."""
    search = _HTML_SPECIAL.search
    return any(search(value if isinstance(value, str) else str(value)) for value in series.tolist())


class _Renderer:
    """Renders rows of a plan for its mode; holds the frame's columns, not rendered rows."""

    def __init__(
        self,
        df: pd.DataFrame,
        spec: ComposeSpec,
        result: PreflightResult,
        *,
        mode: ContentMode,
        transport: str,
        max_bytes: int,
        clock: Callable[[], float],
    ) -> None:
        self.spec = spec
        self.mode = mode
        self.transport = transport
        self.max_bytes = max_bytes
        self.clock = clock
        self.templates = result.templates
        self.addresses = dict(result.address_columns)
        self.senders = result.senders
        self.attachment_paths = result.attachment_paths
        self.attachment_base = result.attachment_base
        self.value_columns = value_columns = result.value_columns
        sender_name, sender_address = result.sender
        self.sender_constant = (
            format_mailbox(sender_address, sender_name) if sender_address is not None else None
        )
        needed: dict[str, None] = dict.fromkeys(value_columns)
        for column in (spec.to, spec.cc, spec.bcc, spec.reply_to, spec.name_column,
                       spec.attachment_column):  # fmt: skip
            if column is not None:
                needed[column] = None
        self.columns = {c: df[c] for c in needed}  # Series: copy-on-write protects them
        self.formatters = {c: _column_formatter(df[c]) for c in needed}
        placeholders: dict[str, None] = {}
        for tpl in self.templates.values():
            placeholders.update(dict.fromkeys(tpl.fields))
        # Where the provider renders (TEMPLATE mode) it does not escape: send the escaped
        # values of the HTML part's {{column}}s as extra data, and point the HTML at them.
        self.html_keys: dict[str, str] = {}
        provider_html_part = spec.html
        html_tpl = self.templates.get("html")
        if mode is ContentMode.TEMPLATE and spec.template_name is None and html_tpl is not None:
            taken = {str(c) for c in df.columns}
            for column in html_tpl.escaped_fields:
                if not _needs_escaping(df[column]):
                    continue  # escaped or not, the same text: no extra data
                key = f"toolkit_html_{len(self.html_keys)}"
                while key in taken:
                    key = "_" + key
                self.html_keys[column] = key
            provider_html_part = provider_html(html_tpl.source, self.html_keys)
        self.template = Template(
            subject=spec.subject or "", text=spec.text, html=provider_html_part,
            name=spec.template_name, placeholders=tuple(placeholders),
        )  # fmt: skip
        static = ""
        if sender_address is not None:
            static += address_line("From", [(sender_name, sender_address)])
        for name, value in spec.headers:
            static += header_line(name, value)
        if spec.configuration_set:
            static += header_line("X-SES-CONFIGURATION-SET", spec.configuration_set)
        if spec.tags and spec.run_tag is None:  # with a run tag: per row, in _one
            static += header_line("X-SES-MESSAGE-TAGS", ", ".join(f"{k}={v}" for k, v in spec.tags))
        self.static_headers = static
        self.layout = MimeLayout.create(
            has_text="text" in self.templates, has_html="html" in self.templates,
            attachments=spec.attachments,
        )  # fmt: skip

    def preview_subject(self, data: object) -> str:
        subject = self.templates.get("subject")
        if subject is None or not isinstance(data, dict):
            return self.template.subject
        return subject.pattern.format(*[data.get(f, "") for f in subject.fields])

    def _take(self, positions: np.ndarray) -> dict[str, list[str]]:
        values: dict[str, list[str]] = {}
        for column, series in self.columns.items():
            cells = series.array.take(positions).tolist()
            values[column] = self.formatters[column](cells)
        return values

    def _address_values(self, column: str | None, positions: list[int],
                        cells: dict[str, list[str]]) -> list[tuple[str, ...]]:  # fmt: skip
        if column is None:
            return [()] * len(positions)
        overrides = self.addresses[_role_of(self.spec, column)].overrides
        out: list[tuple[str, ...]] = []
        for position, cell in zip(positions, cells[column], strict=True):
            value = overrides.get(position, cell)
            out.append(tuple(value.split(",")) if value else ())
        return out

    def render(
        self, positions: Sequence[int], row_keys: list[str], preflight: dict[int, Outcome]
    ) -> list[Message | Outcome]:
        positions = [int(p) for p in positions]
        if not positions:
            return []
        cells = self._take(np.asarray(positions, dtype=np.int64))
        spec = self.spec
        to = self._address_values(spec.to, positions, cells)
        cc = self._address_values(spec.cc, positions, cells)
        bcc = self._address_values(spec.bcc, positions, cells)
        reply = self._address_values(spec.reply_to, positions, cells)
        names = cells[spec.name_column] if spec.name_column else None
        rendered: dict[str, list[str]] = {}
        for part, tpl in self.templates.items():
            columns = [cells[f] for f in tpl.fields]
            if self.mode is ContentMode.TEMPLATE:
                continue
            if not columns:
                rendered[part] = [tpl.pattern.format()] * len(positions)
            else:
                rendered[part] = [tpl.render(row) for row in zip(*columns, strict=True)]
        date_line = "Date: " + email.utils.formatdate(self.clock(), usegmt=True) + CRLF
        files: dict[str, Attachment] = {}  # rows often share an attachment file
        out: list[Message | Outcome] = []
        for i, position in enumerate(positions):
            if position in preflight:
                out.append(preflight[position])
                continue
            try:
                out.append(self._one(i, position, row_keys[position], cells, to, cc, bcc,
                                     reply, names, rendered, date_line, files))  # fmt: skip
            except UnicodeEncodeError:
                late = _Late(INVALID_VALUE, "a value holds characters that are not valid Unicode")
                out.append(self._late(row_keys[position], to[i], late))
            except _Late as late:
                out.append(self._late(row_keys[position], to[i], late))
        return out

    def _late(self, key: str, to: tuple[str, ...], late: _Late) -> Outcome:
        return Outcome(
            row_key=key, status=Status.INVALID, transport=self.transport,
            recipient=",".join(to), error_code=late.code, error_message=late.message,
        )  # fmt: skip

    def _one(self, i: int, position: int, key: str, cells: dict[str, list[str]],
             to: list[tuple[str, ...]], cc: list[tuple[str, ...]], bcc: list[tuple[str, ...]],
             reply: list[tuple[str, ...]], names: list[str] | None,
             rendered: dict[str, list[str]], date_line: str,
             files: dict[str, Attachment]) -> Message:  # fmt: skip
        spec = self.spec
        name = normalize_display_name(names[i]) if names is not None and len(to[i]) == 1 else ""
        if self.sender_constant is not None:
            sender, sender_line = self.sender_constant, ""
        else:
            sender_name, sender_address = self.senders[position]
            sender = format_mailbox(sender_address, sender_name)
            sender_line = address_line("From", [(sender_name, sender_address)])
        extra = {"to_name": name} if name else {}
        tags = spec.tags
        if spec.run_tag is not None:  # tie the message's events to its run and row
            tags = (*tags, (RUN_TAG, spec.run_tag), (ROW_TAG, row_tag_value(key)))
        attachments = spec.attachments
        if spec.attachment_column is not None:
            path = cells[spec.attachment_column][i]
            if path:
                if path not in files:
                    real = self.attachment_paths.get(path)
                    if real is None:  # pragma: no cover - pre-flight flagged the row
                        raise _Late(ATTACHMENT_NOT_FOUND, f"attachment file {path!r} not checked")
                    try:
                        files[path] = read_attachment(self.attachment_base, path, real)
                    except AttachmentProblem as problem:
                        raise _Late(problem.code, problem.message) from problem
                attachments = (*attachments, files[path])
        if self.mode is ContentMode.TEMPLATE:
            columns = self.value_columns
            data = {str(c): cells[c][i] for c in columns}
            for column, html_key in self.html_keys.items():
                value = cells[column][i]
                data[html_key] = html_escape(value, quote=True)
            size = len("".join(data.values()).encode("utf-8")) + 8 * len(data)
            if size > self.max_bytes:
                raise _Late(TOO_LARGE, f"template data is {size:,} bytes; limit {self.max_bytes:,}")
            if bulk_template_data(self.transport) and size > TEMPLATE_DATA_MAX // 6:
                # Exact, as the transport will send it (SES counts the JSON's characters; an
                # escaped control character takes six, so smaller rows cannot be over).
                chars = len(json.dumps(data, ensure_ascii=False))
                if chars > TEMPLATE_DATA_MAX:
                    message = (f"the row's template data is {chars:,} characters of JSON; SES "
                               f"takes at most {TEMPLATE_DATA_MAX:,}")  # fmt: skip
                    raise _Late(TOO_LARGE, message)
            return Message(
                row_key=key, position=position, sender=sender, to=to[i], cc=cc[i], bcc=bcc[i],
                reply_to=reply[i], template=self.template, template_data=data,
                headers=spec.headers, attachments=attachments,
                configuration_set=spec.configuration_set, tags=tags, extra=extra,
            )  # fmt: skip
        subject = rendered["subject"][i] if "subject" in rendered else ""
        if has_unsafe_header_chars(subject):
            raise _Late(HEADER_INJECTION, "the rendered subject holds a control character")
        text = rendered["text"][i] if "text" in rendered else None
        html = rendered["html"][i] if "html" in rendered else None
        raw = None
        if self.mode is ContentMode.RAW or attachments:
            head = [sender_line, address_line("To", [(name, to[i][0])] if name else
                                              [("", a) for a in to[i]])]  # fmt: skip
            if cc[i]:
                head.append(address_line("Cc", [("", a) for a in cc[i]]))
            if reply[i]:
                head.append(address_line("Reply-To", [("", a) for a in reply[i]]))
            head.append(header_line("Subject", subject))
            head.append(date_line)
            if spec.run_tag is not None:
                head.append(header_line("X-SES-MESSAGE-TAGS",
                                        ", ".join(f"{k}={v}" for k, v in tags)))  # fmt: skip
            raw = self.layout.build("".join(head) + self.static_headers, text, html,
                                    attachments[len(spec.attachments):])  # fmt: skip
            size = len(raw)
        else:
            size = (
                HEADER_OVERHEAD
                + len(subject.encode())
                + len((text or "").encode())
                + len((html or "").encode())
            )
        if size > self.max_bytes:
            raise _Late(TOO_LARGE, f"the message is {size:,} bytes; the {self.transport} "
                                   f"limit is {self.max_bytes:,}")  # fmt: skip
        return Message(
            row_key=key, position=position, sender=sender, to=to[i], cc=cc[i], bcc=bcc[i],
            reply_to=reply[i], subject=subject, text=text, html=html, raw=raw,
            headers=spec.headers, attachments=attachments,
            configuration_set=spec.configuration_set, tags=tags, extra=extra,
        )  # fmt: skip


def _role_of(spec: ComposeSpec, column: str) -> str:
    for role, name in (("To", spec.to), ("Cc", spec.cc), ("Bcc", spec.bcc),
                       ("Reply-To", spec.reply_to)):  # fmt: skip
        if name == column:
            return role
    raise KeyError(column)


class _Late(Exception):
    """A row that failed a check only possible at render time (becomes an INVALID outcome)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


__all__ = ["ComposeSpec", "Plan", "plan"]
