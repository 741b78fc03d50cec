"""Compose: a DataFrame plus a :class:`ComposeSpec` becomes a :class:`Plan` of per-row messages.

Why a plan: every row is checked *before* the first send (pre-flight), so configuration
mistakes stop the run early (exceptions) and per-row problems become final ``invalid`` or
``skipped`` outcomes while the other rows still go. Pre-flight is vectorized with pandas and
holds no rendered message, so a million rows take seconds and little memory; messages are
rendered lazily, a chunk at a time, by :meth:`Plan.render`.

What pre-flight checks (error_code of the row's outcome):

* addresses in To/Cc/Bcc/Reply-To and a per-row sender column: syntax and normalization
  (:mod:`toolkit.addresses`; ``InvalidAddress``, ``NonAsciiLocalPart``), empty To/sender
  (``MissingValue``), at most ``max_recipients`` in To+Cc+Bcc (``TooManyRecipients``);
* a NaN in a column a template or template data uses (``MissingValue``);
* control characters (CR, LF, NUL, …) in anything that goes into a header: subject values,
  display names, the sender (``HeaderInjection``);
* attachment files named in ``attachment_column`` exist (``AttachmentNotFound``);
* a cheap lower bound on the message size against ``max_message_bytes`` (``TooLarge``;
  the exact size is checked again when a row is rendered);
* rows with the same recipients and content as an earlier row are ``skipped``
  (``DuplicateRecipient``) unless ``allow_duplicates``; the first occurrence is sent.

Configuration errors (raised, nothing is sent): a mapped column or a ``{{placeholder}}``
naming a column that is not in the frame (:class:`MissingColumnError`), no sender, no
content, control characters in constant header values, duplicate row keys
(:class:`ConfigurationError`).

Values become text like this: strings as is; integers and floats whose non-missing values
in that column are all whole numbers without a fraction (``42``, not ``42.0`` — pandas stores
integer columns with gaps as floats); other values with ``str``. Values in HTML templates are
escaped (see :mod:`toolkit.render`).

Usage::

    spec = ComposeSpec(to="email", name_column="first_name", sender="Shop <shop@example.com>",
                       subject="Order {{order_id}}", text="Hi {{first_name}}")
    p = plan(df, spec, mode=ContentMode.RAW, max_message_bytes=40 * 2**20, transport="smtp")
    p.preflight          # {position: Outcome} for invalid/skipped rows
    messages = p.render(p.sendable[:500])
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toolkit.addresses import (
    INVALID_ADDRESS,
    MISSING_VALUE,
    AddressProblem,
    AddressValidator,
    parse_mailbox,
)
from toolkit.errors import ConfigurationError, MissingColumnError
from toolkit.message import Attachment, ContentMode, Message, Template
from toolkit.mime import (
    CRLF,
    MAX_DISPLAY_NAME,
    MimeLayout,
    address_line,
    format_mailbox,
    guess_content_type,
    has_unsafe_header_chars,
    header_line,
    is_valid_field_name,
    normalize_display_name,
)
from toolkit.render import CompiledTemplate, compile_template
from toolkit.results import Outcome, Status, outcomes_to_frame

HEADER_INJECTION = "HeaderInjection"
TOO_MANY_RECIPIENTS = "TooManyRecipients"
TOO_LARGE = "TooLarge"
ATTACHMENT_NOT_FOUND = "AttachmentNotFound"
DUPLICATE_RECIPIENT = "DuplicateRecipient"
INVALID_VALUE = "InvalidValue"

# Headers compose writes itself; spec.headers may not set them.
_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "MIME-Version",
        "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Sender",
    )
)  # fmt: skip
_UNSAFE_PATTERN = "[\x00-\x1f\x7f-\x9f\u2028\u2029]"  # literal chars: works for re and RE2
_SIMPLE_PATTERN = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[^@\s,;<>\"]+"
)
_HEADER_OVERHEAD = 400  # From/To/Date/MIME lines and part headers, a floor for size estimates
_CHUNK = 65536


@dataclass(frozen=True)
class ComposeSpec:
    """How the columns of a frame map onto a message (see the module docstring)."""

    to: str = "email"
    cc: str | None = None
    bcc: str | None = None
    reply_to: str | None = None
    sender: str | None = None
    sender_column: str | None = None
    name_column: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    template_name: str | None = None
    template_columns: tuple[str, ...] | None = None
    attachments: tuple[Attachment, ...] = ()
    attachment_column: str | None = None
    configuration_set: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    key_column: str | None = None
    allow_duplicates: bool = False


@dataclass
class _Addresses:
    """One address column after pre-flight: normalized values differing from the cell."""

    column: str
    overrides: dict[int, str] = field(default_factory=dict)  # position -> "a@x,b@y"
    counts: np.ndarray | None = None  # addresses per row


def plan(
    df: pd.DataFrame,
    spec: ComposeSpec,
    *,
    mode: ContentMode,
    max_message_bytes: int,
    transport: str,
    max_recipients: int = 50,
    clock: Callable[[], float] = time.time,
) -> Plan:
    """Pre-flight the whole frame and return a :class:`Plan` (see the module docstring)."""
    return _Planner(df, spec, mode, max_message_bytes, transport, max_recipients, clock).run()


class Plan:
    """The result of pre-flight: which rows are final already, and how to render the rest."""

    def __init__(
        self,
        *,
        size: int,
        row_keys: list[str],
        content_hashes: list[str],
        preflight: dict[int, Outcome],
        sendable: list[int],
        renderer: _Renderer,
    ) -> None:
        self.size = size
        self.row_keys = row_keys
        self.content_hashes = content_hashes
        self.preflight = preflight
        self.sendable = sendable
        self._renderer = renderer

    def __repr__(self) -> str:
        return (
            f"Plan(size={self.size}, sendable={len(self.sendable)}, "
            f"preflight={len(self.preflight)}, mode={self._renderer.mode.value})"
        )

    @property
    def mode(self) -> ContentMode:
        """The content mode messages are rendered for."""
        return self._renderer.mode

    @property
    def template(self) -> Template | None:
        """The shared template object (TEMPLATE mode), else None."""
        return self._renderer.template if self._renderer.mode is ContentMode.TEMPLATE else None

    def render(self, positions: Sequence[int]) -> list[Message | Outcome]:
        """Messages for these positions, in order; a row failing a late check is an Outcome.

        Render chunks of a few hundred rows at a time: the per-call overhead (one ``take``
        per used column) is then negligible.
        """
        return self._renderer.render(positions, self.row_keys, self.preflight)

    def preview(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` sendable rows as they would be sent: to, subject, text, size."""
        records = []
        for item in self.render(self.sendable[:n]):
            if isinstance(item, Outcome):
                records.append({"row_key": item.row_key, "to": item.recipient,
                                "subject": None, "text": None, "size": None,
                                "problem": item.error_message})  # fmt: skip
                continue
            text = item.text if item.text is not None else (item.html or "")
            subject = item.subject
            if item.template_data is not None and item.template is not None:
                subject = self._renderer.preview_subject(item.template_data)
            size = len(item.raw) if item.raw is not None else _fields_size(item)
            records.append({"row_key": item.row_key, "to": ", ".join(item.to),
                            "subject": subject, "text": text[:80], "size": size,
                            "problem": None})  # fmt: skip
        columns = ["row_key", "to", "subject", "text", "size", "problem"]
        return pd.DataFrame.from_records(records, columns=columns)

    def problems(self) -> pd.DataFrame:
        """The pre-flight outcomes (invalid and skipped rows) as a results frame."""
        positions = sorted(self.preflight)
        frame = outcomes_to_frame([self.preflight[p] for p in positions])
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
    return _HEADER_OVERHEAD + sum(len(p.encode("utf-8")) for p in parts)


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _digest(*parts: object) -> int:
    data = repr(parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class _Planner:
    """Runs pre-flight once; keeps per-row problems as (code, message) by position."""

    def __init__(
        self,
        df: pd.DataFrame,
        spec: ComposeSpec,
        mode: ContentMode,
        max_message_bytes: int,
        transport: str,
        max_recipients: int,
        clock: Callable[[], float],
    ) -> None:
        self.df = df
        self.spec = spec
        self.mode = mode
        self.max_bytes = max_message_bytes
        self.transport = transport
        self.max_recipients = max_recipients
        self.clock = clock
        self.n = len(df)
        self.problems: dict[int, tuple[str, str]] = {}
        self.validator = AddressValidator()
        self._texts: dict[str, pd.Series] = {}

    # -- configuration --------------------------------------------------------------------

    def _require(self, column: str | None, where: str) -> None:
        if column is not None and column not in self.df.columns:
            raise MissingColumnError(column, where)

    def _check_config(self) -> None:
        spec = self.spec
        for column, where in (
            (spec.to, "to"), (spec.cc, "cc"), (spec.bcc, "bcc"), (spec.reply_to, "reply_to"),
            (spec.sender_column, "sender_column"), (spec.name_column, "name_column"),
            (spec.attachment_column, "attachment_column"), (spec.key_column, "key_column"),
        ):  # fmt: skip
            self._require(column, where)
        if not spec.to:
            raise ConfigurationError("ComposeSpec.to must name the column with the recipients")
        if spec.sender is None and spec.sender_column is None:
            raise ConfigurationError("no sender: set ComposeSpec.sender or sender_column")
        has_inline = any(p is not None for p in (spec.text, spec.html))
        if self.mode is ContentMode.TEMPLATE:
            if spec.template_name is None and not (has_inline or spec.subject):
                raise ConfigurationError("no content: set template_name or subject/text/html")
        elif not has_inline:
            if spec.template_name is not None:
                raise ConfigurationError(
                    f"template_name {spec.template_name!r} is a stored provider template; "
                    f"the {self.transport!r} transport needs text/html content instead"
                )
            raise ConfigurationError("no content: set ComposeSpec.text and/or html")
        self.templates: dict[str, CompiledTemplate] = {}
        for part in ("subject", "text", "html"):
            source = getattr(spec, part)
            if source is not None:
                self.templates[part] = compile_template(source, escape_html=part == "html")
        for part, tpl in self.templates.items():
            for column in tpl.fields:
                self._require(column, f"the {part} template")
        subject = self.templates.get("subject")
        if subject is not None and has_unsafe_header_chars(subject.pattern):
            raise ConfigurationError("the subject template holds a control character (CR/LF…)")
        if spec.template_columns is not None:
            for column in spec.template_columns:
                self._require(column, "template_columns")
        self.sender_name, self.sender_address = "", None
        if spec.sender is not None:
            if has_unsafe_header_chars(spec.sender):
                raise ConfigurationError("the sender holds a control character (CR/LF…)")
            name, address = parse_mailbox(spec.sender)
            normalized = self.validator.normalize(address)
            if isinstance(normalized, AddressProblem):
                raise ConfigurationError(f"the sender is not usable: {normalized.message}")
            if len(name) > MAX_DISPLAY_NAME:
                raise ConfigurationError(f"the sender's name is over {MAX_DISPLAY_NAME} characters")
            self.sender_name, self.sender_address = normalize_display_name(name), normalized
        for name, value in spec.headers:
            if not is_valid_field_name(name) or name.lower() in _RESERVED_HEADERS:
                raise ConfigurationError(f"header {name!r} cannot be set through spec.headers")
            if has_unsafe_header_chars(value):
                raise ConfigurationError(f"header {name!r} holds a control character (CR/LF…)")
        for name, value in spec.tags:
            if not (f"{name}{value}".isascii()) or has_unsafe_header_chars(name + value):
                raise ConfigurationError(
                    f"tag {name!r}={value!r}: tags must be printable ASCII (SES drops others)"
                )
        for attachment in spec.attachments:
            if has_unsafe_header_chars(attachment.filename):
                raise ConfigurationError(f"attachment name {attachment.filename!r} is unsafe")

    def _value_columns(self) -> list[str]:
        """Columns whose values go into the content (placeholders and template data)."""
        columns: dict[str, None] = {}
        for tpl in self.templates.values():
            columns.update(dict.fromkeys(tpl.fields))
        if self.mode is ContentMode.TEMPLATE:
            if self.spec.template_columns is not None:
                columns.update(dict.fromkeys(self.spec.template_columns))
            elif self.spec.template_name is not None:
                columns.update(dict.fromkeys(str(c) for c in self.df.columns))
        return list(columns)

    # -- per-row checks -------------------------------------------------------------------

    def _text(self, column: str) -> pd.Series:
        """The column as pandas text (NaN kept), converted once per column."""
        cached = self._texts.get(column)
        if cached is None:
            cached = self._texts[column] = _as_text(self.df[column])
        return cached

    def _flag(self, positions: np.ndarray | list[int], code: str, message: str) -> None:
        problems = self.problems
        for position in positions:
            problems.setdefault(int(position), (code, message))

    def _addresses(self, column: str, role: str, required: bool) -> _Addresses:
        result = _Addresses(column)
        counts = np.zeros(self.n, dtype=np.int32)
        text = self._text(column)
        missing = text.isna().to_numpy()
        simple = text.str.fullmatch(_SIMPLE_PATTERN).fillna(False).to_numpy(dtype=bool).copy()
        simple &= ~missing
        fast = np.flatnonzero(simple)
        if len(fast):
            parts = text.iloc[fast].str.rpartition("@")
            local_len = parts[0].str.len().to_numpy()
            codes, domains = pd.factorize(parts[2])
            checked = [self.validator.domain(d) for d in domains]
            for k, (domain, ascii_domain) in enumerate(zip(domains, checked, strict=True)):
                rows = fast[codes == k]
                if isinstance(ascii_domain, AddressProblem):
                    self._flag(
                        rows,
                        ascii_domain.code,
                        f"{role} address domain {domain!r}: {ascii_domain.message}",
                    )
                    continue
                too_long = (local_len[codes == k] > 64) | (
                    local_len[codes == k] + 1 + len(ascii_domain) > 254
                )
                simple[rows[too_long]] = False  # full validation below
                counts[rows] = 1
                if ascii_domain != domain:
                    locals_ = parts[0].to_numpy()[codes == k]
                    for row, local in zip(rows, locals_, strict=True):
                        result.overrides[int(row)] = f"{local}@{ascii_domain}"
        slow = np.flatnonzero(~simple & ~missing)
        for start in range(0, len(slow), _CHUNK):
            rows = slow[start : start + _CHUNK]
            for row, cell in zip(rows.tolist(), text.iloc[rows].tolist(), strict=True):
                normalized = self.validator.normalize_cell(cell)
                if isinstance(normalized, AddressProblem):
                    if normalized.code == MISSING_VALUE and not required:
                        continue
                    message = normalized.message
                    if normalized.code == MISSING_VALUE:
                        message = f"column {column!r} ({role}) is empty"
                    self._flag([row], normalized.code, f"{role} address {message}")
                    continue
                counts[row] = len(normalized)
                joined = ",".join(normalized)
                if joined != cell:
                    result.overrides[row] = joined
        if required and missing.any():
            self._flag(np.flatnonzero(missing), MISSING_VALUE,
                       f"column {column!r} ({role}) is empty")  # fmt: skip
        result.counts = counts
        return result

    def _sender_column(self, column: str) -> dict[int, tuple[str, str]]:
        """Per-row (display name, address) from the sender column, validated per distinct cell."""
        codes, uniques = pd.factorize(self._text(column))
        parsed: list[tuple[str, str] | tuple[str, str, str]] = []
        for cell in uniques:
            if has_unsafe_header_chars(cell):
                parsed.append((HEADER_INJECTION, "", "the sender holds a control character"))
                continue
            name, address = parse_mailbox(cell)
            normalized = self.validator.normalize(address)
            if len(name) > MAX_DISPLAY_NAME:
                parsed.append((INVALID_VALUE, "", "the sender's display name is too long"))
            elif isinstance(normalized, AddressProblem):
                parsed.append((normalized.code, "", f"sender address {normalized.message}"))
            else:
                parsed.append((normalize_display_name(name), normalized))
        senders: dict[int, tuple[str, str]] = {}
        missing = np.flatnonzero(codes < 0)
        self._flag(missing, MISSING_VALUE, f"column {column!r} (sender) is empty")
        for k, item in enumerate(parsed):
            rows = np.flatnonzero(codes == k)
            if len(item) == 3:
                self._flag(rows, item[0], item[2])
            else:
                for row in rows.tolist():
                    senders[row] = (item[0], item[1])
        return senders

    def _missing_values(self, columns: list[str]) -> None:
        for column in columns:
            missing = np.flatnonzero(self.df[column].isna().to_numpy())
            if len(missing):
                message = f"column {column!r} is empty (NaN) and the template uses it"
                self._flag(missing, MISSING_VALUE, message)

    def _header_values(self, columns: list[str], where: str) -> None:
        for column in columns:
            series = self.df[column]
            if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
                continue
            bad = self._text(column).str.contains(_UNSAFE_PATTERN, regex=True)
            rows = np.flatnonzero(bad.fillna(False).to_numpy(dtype=bool))
            if len(rows):
                self._flag(rows, HEADER_INJECTION,
                           f"column {column!r} holds a control character (CR/LF…) "
                           f"and goes into the {where} header")  # fmt: skip

    def _attachment_files(self, column: str) -> np.ndarray:
        """Bytes of each row's attachment file (0 when none); missing files are flagged."""
        sizes = np.zeros(self.n, dtype=np.int64)
        codes, uniques = pd.factorize(self._text(column))
        for k, path in enumerate(uniques):
            rows = np.flatnonzero(codes == k)
            if not os.path.isfile(path):
                self._flag(rows, ATTACHMENT_NOT_FOUND, f"attachment file {path!r} does not exist")
            else:
                sizes[rows] = os.path.getsize(path)
        return sizes

    def _size_floor(self, value_columns: list[str], extra: np.ndarray | None) -> None:
        literal = sum(t.literal_length for t in self.templates.values())
        static = sum(len(a.content) for a in self.spec.attachments) * 4 // 3
        floor = np.full(self.n, _HEADER_OVERHEAD + literal + static, dtype=np.int64)
        for tpl in self.templates.values():
            for column, times in zip(tpl.fields, tpl.occurrences, strict=True):
                lengths = self._text(column).str.len().fillna(0).to_numpy()
                floor += lengths.astype(np.int64) * times
        if extra is not None:
            floor += extra * 4 // 3
        rows = np.flatnonzero(floor > self.max_bytes)
        for row in rows.tolist():
            self._flag([row], TOO_LARGE,
                       f"the message would be at least {int(floor[row]):,} bytes; the "
                       f"{self.transport} limit is {self.max_bytes:,}")  # fmt: skip

    # -- keys and hashes ------------------------------------------------------------------

    def _row_keys(self) -> list[str]:
        if self.spec.key_column is not None:
            keys_series = self.df[self.spec.key_column]
            if keys_series.isna().any():
                raise ConfigurationError(f"key column {self.spec.key_column!r} has empty values")
            keys = self._text(self.spec.key_column).tolist()
        else:
            keys = self.df.index.astype("str").tolist()
        if len(set(keys)) != len(keys):
            raise ConfigurationError(
                "row keys are not unique (the ledger needs one key per row): set key_column "
                "or use df.reset_index(drop=True)"
            )
        return keys

    def _hashes(self, columns: list[tuple[str, dict[int, str] | None]]) -> np.ndarray:
        spec = self.spec
        spec_part = _digest(
            spec.subject, spec.text, spec.html, spec.template_name, spec.template_columns,
            spec.sender, spec.configuration_set, spec.tags, spec.headers,
            [(a.filename, a.content_type, hashlib.sha256(a.content).hexdigest())
             for a in spec.attachments],
        )  # fmt: skip
        hashes = np.full(self.n, spec_part, dtype=np.uint64)
        multiplier = np.uint64(0x100000001B3)
        for column, overrides in columns:
            text = self._text(column)
            column_hash = pd.util.hash_pandas_object(text, index=False).to_numpy().copy()
            if overrides:
                rows = np.fromiter(overrides.keys(), dtype=np.int64, count=len(overrides))
                values = pd.Series(list(overrides.values()), dtype=text.dtype)
                column_hash[rows] = pd.util.hash_pandas_object(values, index=False).to_numpy()
            hashes = hashes * multiplier ^ column_hash
            hashes ^= np.uint64(_digest(column))
        return hashes

    # -- the run --------------------------------------------------------------------------

    def run(self) -> Plan:
        spec = self.spec
        self._check_config()
        row_keys = self._row_keys()
        value_columns = self._value_columns()
        address_columns: list[tuple[str, _Addresses]] = []
        for role, column, required in (
            ("To", spec.to, True), ("Cc", spec.cc, False),
            ("Bcc", spec.bcc, False), ("Reply-To", spec.reply_to, False),
        ):  # fmt: skip
            if column is not None:
                address_columns.append((role, self._addresses(column, role, required)))
        senders = self._sender_column(spec.sender_column) if spec.sender_column else {}
        self._missing_values(value_columns)
        subject = self.templates.get("subject")
        if subject is not None:
            self._header_values(list(subject.fields), "Subject")
        if spec.name_column is not None:
            self._header_values([spec.name_column], "To")
            lengths = self._text(spec.name_column).str.len().fillna(0).to_numpy()
            message = f"the display name is longer than {MAX_DISPLAY_NAME} characters"
            self._flag(np.flatnonzero(lengths > MAX_DISPLAY_NAME), INVALID_VALUE, message)
        total = np.zeros(self.n, dtype=np.int64)
        for role, addresses in address_columns:
            if role != "Reply-To" and addresses.counts is not None:
                total += addresses.counts
        over = np.flatnonzero(total > self.max_recipients)
        for row in over.tolist():
            self._flag([row], TOO_MANY_RECIPIENTS,
                       f"{int(total[row])} recipients in To+Cc+Bcc; at most "
                       f"{self.max_recipients} per message")  # fmt: skip
        file_sizes = None
        if spec.attachment_column is not None:
            file_sizes = self._attachment_files(spec.attachment_column)
        self._size_floor(value_columns, file_sizes)

        hash_columns: list[tuple[str, dict[int, str] | None]] = [
            (a.column, a.overrides) for _, a in address_columns
        ]
        for column in (spec.sender_column, spec.name_column, spec.attachment_column):
            if column is not None:
                hash_columns.append((column, None))
        hash_columns.extend((c, None) for c in value_columns)
        hashes = self._hashes(hash_columns)
        content_hashes = [f"{h:016x}" for h in hashes.tolist()]

        to_column = self.df[spec.to]
        preflight: dict[int, Outcome] = {}
        for row, (code, message) in sorted(self.problems.items()):
            preflight[row] = self._outcome(row_keys[row], to_column.iat[row], code, message)
        bad = np.zeros(self.n, dtype=bool)
        if self.problems:
            bad[np.fromiter(self.problems.keys(), dtype=np.int64)] = True
        valid = np.flatnonzero(~bad)
        if not spec.allow_duplicates and len(valid):
            codes, _ = pd.factorize(hashes[valid])
            _, first = np.unique(codes, return_index=True)
            first_of = first[codes]
            duplicates = np.flatnonzero(first_of != np.arange(len(valid)))
            for k in duplicates.tolist():
                row = int(valid[k])
                original = row_keys[int(valid[first_of[k]])]
                preflight[row] = Outcome(
                    row_key=row_keys[row], status=Status.SKIPPED, transport=self.transport,
                    recipient=_recipient(to_column.iat[row]), error_code=DUPLICATE_RECIPIENT,
                    error_message=f"same recipients and content as row {original!r}",
                )  # fmt: skip
            bad[valid[duplicates]] = True
        sendable = np.flatnonzero(~bad).tolist()
        renderer = _Renderer(
            planner=self, address_columns=address_columns, senders=senders,
            value_columns=value_columns,
        )  # fmt: skip
        return Plan(
            size=self.n, row_keys=row_keys, content_hashes=content_hashes,
            preflight=preflight, sendable=sendable, renderer=renderer,
        )  # fmt: skip

    def _outcome(self, key: str, raw_to: object, code: str, message: str) -> Outcome:
        return Outcome(
            row_key=key, status=Status.INVALID, transport=self.transport,
            recipient=_recipient(raw_to), error_code=code, error_message=message,
        )  # fmt: skip


def _recipient(value: object) -> str:
    return "" if _is_missing(value) else _clean(str(value))


def _clean(value: str) -> str:
    """``value`` with lone surrogates replaced (they cannot be encoded, stored or sent)."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _as_text(series: pd.Series) -> pd.Series:
    """``series.astype("str")``; cells that are not valid Unicode get U+FFFD instead."""
    try:
        return series.astype("str")
    except (ValueError, TypeError):  # pyarrow refuses lone surrogates
        cleaned = [v if _is_missing(v) else _clean(str(v)) for v in series.tolist()]
        return pd.Series(cleaned, dtype="str")


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
            elif _is_missing(value):
                out.append("")
            elif whole and isinstance(value, float) and value == value and abs(value) != np.inf:
                out.append(str(int(value)))
            else:
                out.append(str(value))
        return out

    return convert


class _Renderer:
    """Renders rows of a plan for its mode; holds the frame's columns, not rendered rows."""

    def __init__(
        self,
        *,
        planner: _Planner,
        address_columns: list[tuple[str, _Addresses]],
        senders: dict[int, tuple[str, str]],
        value_columns: list[str],
    ) -> None:
        spec = planner.spec
        df = planner.df
        self.spec = spec
        self.mode = planner.mode
        self.transport = planner.transport
        self.max_bytes = planner.max_bytes
        self.clock = planner.clock
        self.templates = planner.templates
        self.addresses = dict(address_columns)
        self.senders = senders
        self.value_columns = value_columns
        self.sender_constant = (
            format_mailbox(planner.sender_address, planner.sender_name)
            if planner.sender_address is not None
            else None
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
        self.template = Template(
            subject=spec.subject or "", text=spec.text, html=spec.html,
            name=spec.template_name, placeholders=tuple(placeholders),
        )  # fmt: skip
        static = ""
        if self.sender_constant is not None:
            static += address_line("From", [(planner.sender_name, planner.sender_address)])
        for name, value in spec.headers:
            static += header_line(name, value)
        if spec.configuration_set:
            static += header_line("X-SES-CONFIGURATION-SET", spec.configuration_set)
        if spec.tags:
            static += header_line("X-SES-MESSAGE-TAGS", ", ".join(f"{k}={v}" for k, v in spec.tags))
        self.static_headers = static
        self.layout = MimeLayout.create(
            has_text=spec.text is not None, has_html=spec.html is not None,
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
        out: list[Message | Outcome] = []
        for i, position in enumerate(positions):
            if position in preflight:
                out.append(preflight[position])
                continue
            try:
                out.append(self._one(i, position, row_keys[position], cells, to, cc, bcc,
                                     reply, names, rendered, date_line))  # fmt: skip
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
             rendered: dict[str, list[str]], date_line: str) -> Message:  # fmt: skip
        spec = self.spec
        name = normalize_display_name(names[i]) if names is not None and len(to[i]) == 1 else ""
        if self.sender_constant is not None:
            sender, sender_line = self.sender_constant, ""
        else:
            sender_name, sender_address = self.senders[position]
            sender = format_mailbox(sender_address, sender_name)
            sender_line = address_line("From", [(sender_name, sender_address)])
        extra = {"to_name": name} if name else {}
        attachments = spec.attachments
        if spec.attachment_column is not None:
            path = cells[spec.attachment_column][i]
            if path:
                attachments = (*attachments, _read_attachment(path))
        if self.mode is ContentMode.TEMPLATE:
            columns = self.value_columns
            data = {c: cells[c][i] for c in columns}
            size = len("".join(data.values()).encode("utf-8")) + 8 * len(data)
            if size > self.max_bytes:
                raise _Late(TOO_LARGE, f"template data is {size:,} bytes; limit {self.max_bytes:,}")
            return Message(
                row_key=key, position=position, sender=sender, to=to[i], cc=cc[i], bcc=bcc[i],
                reply_to=reply[i], template=self.template, template_data=data,
                headers=spec.headers, attachments=attachments,
                configuration_set=spec.configuration_set, tags=spec.tags, extra=extra,
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
            raw = self.layout.build("".join(head) + self.static_headers, text, html,
                                    attachments[len(spec.attachments):])  # fmt: skip
            size = len(raw)
        else:
            size = (
                _HEADER_OVERHEAD
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
            configuration_set=spec.configuration_set, tags=spec.tags, extra=extra,
        )  # fmt: skip


def _role_of(spec: ComposeSpec, column: str) -> str:
    for role, name in (("To", spec.to), ("Cc", spec.cc), ("Bcc", spec.bcc),
                       ("Reply-To", spec.reply_to)):  # fmt: skip
        if name == column:
            return role
    raise KeyError(column)


def _read_attachment(path: str) -> Attachment:
    try:
        with open(path, "rb") as handle:
            content = handle.read()
    except OSError as exc:
        raise _Late(ATTACHMENT_NOT_FOUND, f"attachment file {path!r}: {exc}") from exc
    name = os.path.basename(path)
    return Attachment(filename=name, content=content, content_type=guess_content_type(name))


class _Late(Exception):
    """A row that failed a check only possible at render time (becomes an INVALID outcome)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


__all__ = [
    "ATTACHMENT_NOT_FOUND",
    "DUPLICATE_RECIPIENT",
    "HEADER_INJECTION",
    "INVALID_ADDRESS",
    "MISSING_VALUE",
    "TOO_LARGE",
    "TOO_MANY_RECIPIENTS",
    "ComposeSpec",
    "Plan",
    "plan",
]
