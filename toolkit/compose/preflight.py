"""Pre-flight: check every row of a frame before the first send, vectorized, without rendering.

Why separate from rendering: pre-flight must look at the *whole* frame (a million rows in
seconds, without holding rendered messages), while rendering works a chunk at a time. The
checks run column by column with pandas/pyarrow; only distinct values (domains, senders,
attachment paths) and rare odd cells are looked at one by one. See :mod:`toolkit.compose.plan` for
the list of checks, and :mod:`toolkit.compose.spec` for the codes; :class:`Preflight` is
internal to :func:`toolkit.compose.plan.plan`, which renders with what :meth:`Preflight.run`
returns (the checked templates and sender travel in :class:`PreflightResult`).

Why one module of this size: every check writes into one table of per-row problems (the first
problem found for a row is the one reported) and reads the same per-column text cache; split
over files, each check would need that state handed to it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from toolkit.compose.addresses import (
    MAX_MAILBOX,
    AddressProblem,
    AddressValidator,
    mailbox_length_problem,
    parse_mailbox,
)
from toolkit.compose.attachments import attachment_base, resolve_attachment
from toolkit.compose.columns import (
    HexDigests,
    as_text,
    clean_text,
    is_missing,
    is_plain_value,
    not_plain,
    simple_addresses,
)
from toolkit.compose.limits import (
    TEMPLATE_DATA_MAX,
    attachment_name_problem,
    call_problem,
)
from toolkit.compose.message import ContentMode, Template
from toolkit.compose.mime import (
    MAX_DISPLAY_NAME,
    has_unsafe_header_chars,
    is_valid_field_name,
    normalize_display_name,
)
from toolkit.compose.render import (
    CompiledTemplate,
    compile_template,
    handlebars_names,
    handlebars_required,
)
from toolkit.compose.spec import (
    DUPLICATE_RECIPIENT,
    HEADER_INJECTION,
    INVALID_VALUE,
    MISSING_VALUE,
    TOO_LARGE,
    TOO_MANY_RECIPIENTS,
    ComposeSpec,
)
from toolkit.compose.suppression import SUPPRESSED, suppressed_rows
from toolkit.errors import ConfigurationError, MissingColumnError
from toolkit.results import Outcome, Status
from toolkit.transports.registry import bulk_template_data

# Headers compose writes itself; spec.headers may not set them.
_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "MIME-Version",
        "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Sender",
    )
)  # fmt: skip
_UNSAFE_PATTERN = "[\x00-\x1f\x7f-\x9f\u2028\u2029]"  # literal chars: works for re and RE2
HEADER_OVERHEAD = 400  # From/To/Date/MIME lines and part headers, a floor for size estimates
_CHUNK = 65536


@dataclass
class Addresses:
    """One address column after pre-flight: normalized values differing from the cell."""

    column: str
    overrides: dict[int, str] = field(default_factory=dict)  # position -> "a@x,b@y"
    counts: np.ndarray | None = None  # addresses per row
    # position -> the sorted recipients (case-folded order), where they differ from the
    # override/cell: what the content hash covers, so "b@x,A@x" and "a@x,B@x" are the same.
    canonical: dict[int, str] = field(default_factory=dict)


@dataclass
class PreflightResult:
    """What pre-flight hands to the plan: keys, hashes, final outcomes, and what to render.

    ``templates`` are the spec's compiled templates and ``sender`` its checked constant
    sender (display name, address; address None with a ``sender_column``).
    """

    row_keys: list[str]
    content_hashes: HexDigests
    preflight: dict[int, Outcome]
    sendable: list[int]
    address_columns: list[tuple[str, Addresses]]
    senders: dict[int, tuple[str, str]]
    value_columns: list[str]
    templates: dict[str, CompiledTemplate]
    sender: tuple[str, str | None]
    attachment_paths: dict[str, str] = field(default_factory=dict)  # cell -> checked real path
    attachment_base: str = ""  # the resolved attachment_dir


def _digest(*parts: object) -> int:
    """A stable 64-bit hash of Python values (for the spec's share of the content hash)."""
    data = repr(parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class Preflight:
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
        stored_template: Template | None = None,
    ) -> None:
        self.df = df
        self.stored_template = stored_template
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
        self.attachment_paths: dict[str, str] = {}
        self.attachment_base = ""

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
            raise ConfigurationError("to must name the column with the recipients (--to-column)")
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
            if spec.subject is None:
                raise ConfigurationError("no content: set ComposeSpec.subject, text and/or html")
        self.templates: dict[str, CompiledTemplate] = {}
        for part in ("subject", "text", "html"):
            source = getattr(spec, part)
            if source is not None:
                self.templates[part] = compile_template(source, escape_html=part == "html")
        if self.mode is not ContentMode.TEMPLATE and not has_inline:
            self.templates["text"] = compile_template("")  # a subject-only message: empty body
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
            too_long = mailbox_length_problem(name, normalized)
            if too_long is not None:
                raise ConfigurationError(f"the sender is not usable: {too_long}")
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
        problem = call_problem(spec, self.transport)  # SES v2's maxima (issue 16, M5)
        if problem is not None:
            raise ConfigurationError(problem)

    def _value_columns(self) -> list[str]:
        """Columns whose values go into the content (placeholders and template data)."""
        columns: dict[str, None] = {}
        for tpl in self.templates.values():
            columns.update(dict.fromkeys(tpl.fields))
        if self.mode is ContentMode.TEMPLATE:
            if self.spec.template_columns is not None:
                columns.update(dict.fromkeys(self.spec.template_columns))
            elif self.spec.template_name is not None:
                columns.update(dict.fromkeys(self.df.columns))  # labels; data keys are str()
        return list(columns)

    # -- per-row checks -------------------------------------------------------------------

    def _text(self, column: str) -> pd.Series:
        """The column as pandas text (NaN kept), converted once per column."""
        cached = self._texts.get(column)
        if cached is None:
            cached = self._texts[column] = as_text(self.df[column])
        return cached

    def _flag(self, positions: np.ndarray | list[int], code: str, message: str) -> None:
        problems = self.problems
        for position in positions:
            problems.setdefault(int(position), (code, message))

    def _addresses(self, column: str, role: str, required: bool) -> Addresses:
        result = Addresses(column)
        counts = np.zeros(self.n, dtype=np.int32)
        text = self._text(column)
        missing = text.isna().to_numpy()
        simple, local_len, codes, domains, locals_ = simple_addresses(text)
        simple &= ~missing
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(domains) + 1))
        for k, domain in enumerate(domains):
            rows = order[bounds[k] : bounds[k + 1]]
            ascii_domain = self.validator.domain(domain)
            if isinstance(ascii_domain, AddressProblem):
                message = f"{role} address domain {domain!r}: {ascii_domain.message}"
                self._flag(rows, ascii_domain.code, message)
                continue
            lengths = local_len[rows]
            too_long = (lengths > 64) | (lengths + 1 + len(ascii_domain) > 254)
            simple[rows[too_long]] = False  # full validation below
            counts[rows] = 1
            if ascii_domain != domain:
                for row, local in zip(rows.tolist(), locals_(rows), strict=True):
                    result.overrides[row] = f"{local}@{ascii_domain}"
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
                if len(normalized) > 1:  # sorted as compared (case-folded, see run)
                    ordered = ",".join(sorted(dict.fromkeys(normalized), key=_folded))
                    if ordered != joined:
                        result.canonical[row] = ordered
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
            elif too_long := mailbox_length_problem(name, normalized):
                parsed.append((INVALID_VALUE, "", f"the sender: {too_long}"))
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

    def _mailbox_lengths(self, name_column: str, to: Addresses) -> None:
        """Rows whose ``Name <addr>`` is longer than SES accepts, as the transports encode it.

        Only rows that could be too long are encoded: a name of n characters takes at most
        16n/3 + 15 once RFC 2047-encoded (4 UTF-8 bytes a character, base64, the word's frame).
        """
        names = self._text(name_column)
        to_text = self._text(to.column)
        name_len = names.str.len().fillna(0).to_numpy()
        bound = name_len * 16 // 3 + 15 + to_text.str.len().fillna(0).to_numpy()
        for row in np.flatnonzero((bound > MAX_MAILBOX) & (name_len > 0)).tolist():
            address = to.overrides.get(row, to_text.iat[row])
            if row in self.problems or not isinstance(address, str) or "," in address:
                continue  # several recipients: the name is not written
            problem = mailbox_length_problem(names.iat[row].strip(), address.strip())
            if problem is not None:
                self._flag([row], INVALID_VALUE, problem)

    def _missing_values(self, columns: list[str]) -> None:
        for column in columns:
            missing = np.flatnonzero(self.df[column].isna().to_numpy())
            if len(missing):
                message = f"column {column!r} is empty (NaN) and the template uses it"
                if self.spec.template_columns is None and self.spec.template_name is not None:
                    message += " (template data holds every column unless template_columns is set)"
                self._flag(missing, MISSING_VALUE, message)

    def _header_values(self, columns: list[str], where: str, reason: str | None = None) -> None:
        for column in columns:
            series = self.df[column]
            if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
                continue
            bad = self._text(column).str.contains(_UNSAFE_PATTERN, regex=True)
            rows = np.flatnonzero(bad.fillna(False).to_numpy(dtype=bool))
            if len(rows):
                self._flag(rows, HEADER_INJECTION,
                           f"column {column!r} holds a control character (CR/LF…) "
                           f"{reason or f'and goes into the {where} header'}")  # fmt: skip

    def _stored_columns(self) -> None:
        """Every name the stored template cannot render without must be in the template data
        (the frame's columns, or ``template_columns``): SES accepts such a message and then
        drops it (a Rendering Failure event), so it is refused here, before sending."""
        stored, spec = self.stored_template, self.spec
        if stored is None:
            return
        available = set(spec.template_columns or self.df.columns)
        for part in (stored.subject, stored.text, stored.html):
            for name in handlebars_required(part or ""):
                if name not in available:
                    where = (f"the stored template {spec.template_name!r} (it is not in "
                             "template_columns)" if name in self.df.columns
                             else f"the stored template {spec.template_name!r}")  # fmt: skip
                    raise MissingColumnError(name, where)

    def _stored_subject(self, value_columns: list[str]) -> None:
        """Header safety for a stored template: check the columns its subject uses (read by
        the transport with GetEmailTemplate) or, when it could not be read, every column."""
        name = self.spec.template_name
        stored = self.stored_template
        if stored is not None:
            used = set(handlebars_names(stored.subject))
            reason = f"and the subject of the stored template {name!r} uses it"
            self._header_values([c for c in value_columns if c in used], "Subject", reason)
            return
        reason = (
            f"and may go into the Subject header: the subject of the stored template {name!r} "
            "was not read (a dry run does not read it)"
        )
        self._header_values(value_columns, "Subject", reason)

    def _plain_values(self, columns: list[str]) -> None:
        """Cells that are not text, numbers or dates would be mailed as their repr(): invalid."""
        for column in columns:
            by_kind: dict[str, list[int]] = {}
            for position, kind in not_plain(self.df[column]):
                by_kind.setdefault(kind, []).append(position)
            for kind, rows in by_kind.items():
                hint = (
                    f"decode it first, e.g. df[{column!r}].str.decode('utf-8')"
                    if kind in ("bytes", "bytearray", "memoryview")
                    else "convert it to text first"
                )
                self._flag(rows, INVALID_VALUE,
                           f"column {column!r} holds a value of type {kind}, not text or a number: "
                           f"{hint}")  # fmt: skip

    def _attachment_files(self, column: str) -> np.ndarray:
        """Bytes of each row's attachment file (0 when none); files that are missing or lead
        outside ``attachment_dir`` are flagged."""
        sizes = np.zeros(self.n, dtype=np.int64)
        base = self.attachment_base = attachment_base(self.spec.attachment_dir)
        codes, uniques = pd.factorize(self._text(column))
        for k, path in enumerate(uniques):
            rows = np.flatnonzero(codes == k)
            named = attachment_name_problem(os.path.basename(path))
            if named is not None:
                self._flag(rows, INVALID_VALUE, named)
                continue
            found = resolve_attachment(base, path)
            if isinstance(found, tuple):
                self._flag(rows, *found)
            else:
                self.attachment_paths[path] = found
                sizes[rows] = os.path.getsize(found)
        return sizes

    def _template_data_floor(self, value_columns: list[str]) -> None:
        """Rows whose SendBulkEmail template data is surely over SES's 262,144 characters (a
        lower bound: the cells' text plus each key's share of the JSON; the exact size is
        measured when the row is rendered)."""
        if not bulk_template_data(self.transport) or self.mode is not ContentMode.TEMPLATE:
            return
        floor = np.full(self.n, 2, dtype=np.int64)
        for column in value_columns:
            floor += self._text(column).str.len().fillna(0).to_numpy().astype(np.int64)
            floor += len(str(column)) + 6  # "key": "", with its separator
        for row in np.flatnonzero(floor > TEMPLATE_DATA_MAX).tolist():
            self._flag([row], TOO_LARGE,
                       f"the row's template data is at least {int(floor[row]):,} characters of "
                       f"JSON; SES takes at most {TEMPLATE_DATA_MAX:,}")  # fmt: skip

    def _size_floor(self, value_columns: list[str], extra: np.ndarray | None) -> None:
        literal = sum(t.literal_length for t in self.templates.values())
        static = sum(len(a.content) for a in self.spec.attachments) * 4 // 3
        floor = np.full(self.n, HEADER_OVERHEAD + literal + static, dtype=np.int64)
        times: dict[str, int] = {}
        for tpl in self.templates.values():
            for column, count in zip(tpl.fields, tpl.occurrences, strict=True):
                times[column] = times.get(column, 0) + count
        for column, count in times.items():
            lengths = self._text(column).str.len().fillna(0).to_numpy()
            floor += lengths.astype(np.int64) * count
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
        elif isinstance(self.df.index, pd.RangeIndex):
            index = self.df.index
            keys = list(map(str, range(index.start, index.stop, index.step)))  # unique
            return keys
        else:
            index = self.df.index
            try:  # vectorized for plain indexes; tuples (MultiIndex), NaN, odd text one by one
                if isinstance(index, pd.MultiIndex):
                    raise TypeError(index)
                keys = index.astype("str").tolist()
                if not all(isinstance(k, str) for k in keys):
                    raise TypeError(index)
            except (TypeError, ValueError):
                keys = [clean_text(str(v)) for v in index]
        if len(set(keys)) != len(keys):
            raise ConfigurationError(
                "row keys are not unique (the ledger needs one key per row): set key_column "
                "or use df.reset_index(drop=True)"
            )
        return keys

    def _hashes(
        self, columns: list[tuple[str, dict[int, str] | None]], fold: frozenset[str] = frozenset()
    ) -> np.ndarray:
        """Per-row content hashes; columns in ``fold`` are hashed lower-cased (duplicates)."""
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
            if column in fold:
                text = text.str.lower()
                overrides = {k: v.lower() for k, v in (overrides or {}).items()}
            column_hash = np.empty(self.n, dtype=np.uint64)
            for start in range(0, self.n, _CHUNK):  # chunks: hashing makes Python strings
                chunk = text.iloc[start : start + _CHUNK]
                column_hash[start : start + _CHUNK] = pd.util.hash_pandas_object(chunk, index=False)
            if overrides:
                rows = np.fromiter(overrides.keys(), dtype=np.int64, count=len(overrides))
                values = pd.Series(list(overrides.values()), dtype=text.dtype)
                column_hash[rows] = pd.util.hash_pandas_object(values, index=False).to_numpy()
            hashes = hashes * multiplier ^ column_hash
            hashes ^= np.uint64(_digest(column))
        return hashes

    # -- the run --------------------------------------------------------------------------

    def run(self) -> PreflightResult:
        """All checks; configuration errors raise, row problems become outcomes."""
        spec = self.spec
        self._check_config()
        row_keys = self._row_keys()
        value_columns = self._value_columns()
        used = [spec.to, spec.cc, spec.bcc, spec.reply_to, spec.sender_column,
                spec.name_column, spec.attachment_column, *value_columns]  # fmt: skip
        self._plain_values(list(dict.fromkeys(c for c in used if c is not None)))
        address_columns: list[tuple[str, Addresses]] = []
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
        if self.mode is ContentMode.TEMPLATE and spec.template_name is not None:
            self._stored_columns()
            self._stored_subject(value_columns)
        if spec.name_column is not None:
            self._header_values([spec.name_column], "To")
            lengths = self._text(spec.name_column).str.len().fillna(0).to_numpy()
            message = f"the display name is longer than {MAX_DISPLAY_NAME} characters"
            self._flag(np.flatnonzero(lengths > MAX_DISPLAY_NAME), INVALID_VALUE, message)
            self._mailbox_lengths(spec.name_column, address_columns[0][1])
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
        self._template_data_floor(value_columns)

        hash_columns: list[tuple[str, dict[int, str] | None]] = [
            (a.column, {**a.overrides, **a.canonical} if a.canonical else a.overrides)
            for _, a in address_columns
        ]
        for column in (spec.sender_column, spec.name_column, spec.attachment_column):
            if column is not None:
                hash_columns.append((column, None))
        hash_columns.extend((c, None) for c in value_columns)
        # Addresses are compared case-folded: SES compares the part before the @
        # case-sensitively (SES_IDENTITY_MATCHING) and would send Ana@x and ana@x both, but
        # mailbox providers deliver both to one inbox. The content hash is the ledger's
        # identity of a message too, so one normalisation serves both: a resume whose file
        # now holds a row already sent in other letter case (above the sent row, where the
        # duplicate rule keeps the new copy) finds that row's message in the ledger.
        fold = frozenset(
            a.column for _, a in address_columns
            if self._text(a.column).str.contains("[A-Z]", regex=True).any()
        )  # fmt: skip
        hashes = self._hashes(hash_columns, fold)
        content_hashes = HexDigests(hashes)
        exact = self._hashes(hash_columns) if fold else hashes  # to say "but for letter case"

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
                first_row = int(valid[first_of[k]])
                original = row_keys[first_row]
                message = f"same recipients and content as row {original!r}"
                if exact[row] != exact[first_row]:
                    message = (
                        f"same recipients and content as row {original!r} but for letter case "
                        f"({_recipient(to_column.iat[row])!r} and "
                        f"{_recipient(to_column.iat[first_row])!r}): SES would send both, and "
                        "mailbox providers deliver both to one inbox (allow_duplicates=True "
                        "sends it)"
                    )
                preflight[row] = Outcome(
                    row_key=row_keys[row], status=Status.SKIPPED, transport=self.transport,
                    recipient=_recipient(to_column.iat[row]), error_code=DUPLICATE_RECIPIENT,
                    error_message=message,
                )  # fmt: skip
            bad[valid[duplicates]] = True
        if spec.suppression is not None:  # the lists a send names: skipped, not sent
            text = self._text(spec.to)
            for row, address, listed in suppressed_rows(
                text, address_columns[0][1].overrides, np.flatnonzero(~bad), spec.suppression
            ):
                preflight[row] = Outcome(
                    row_key=row_keys[row], status=Status.SKIPPED, transport=self.transport,
                    recipient=_recipient(to_column.iat[row]), error_code=SUPPRESSED,
                    error_message=f"{address} is on {listed}",
                )  # fmt: skip
                bad[row] = True
        sendable = np.flatnonzero(~bad).tolist()
        return PreflightResult(
            row_keys=row_keys, content_hashes=content_hashes, preflight=preflight,
            sendable=sendable, address_columns=address_columns, senders=senders,
            value_columns=value_columns, templates=self.templates,
            sender=(self.sender_name, self.sender_address),
            attachment_paths=self.attachment_paths, attachment_base=self.attachment_base,
        )  # fmt: skip

    def _outcome(self, key: str, raw_to: object, code: str, message: str) -> Outcome:
        return Outcome(
            row_key=key, status=Status.INVALID, transport=self.transport,
            recipient=_recipient(raw_to), error_code=code, error_message=message,
        )  # fmt: skip


def _folded(address: str) -> tuple[str, str]:
    return address.lower(), address


def _recipient(value: object) -> str:
    if is_missing(value) or not is_plain_value(value):
        return ""
    return clean_text(str(value))


__all__ = ["Preflight", "PreflightResult", "is_missing"]
