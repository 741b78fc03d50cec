"""One options object for every way to send: keywords in, a validated :class:`SendOptions` out.

Why one: ``send``, ``send_in_background``, ``send_partitioned`` and the CLI take the same
keywords. Each used to turn them into specs its own way, and the copies drifted (``keep=``
was dropped on Dask, ``limit=`` refused by a hand-kept list). Now the keywords are the fields of
one dataclass, :class:`SendKeywords` (an unknown keyword is Python's own ``TypeError``), and
:meth:`SendOptions.from_keywords` is the only place they become a
:class:`~toolkit.compose.ComposeSpec`, an :class:`~toolkit.delivery.config.EngineConfig`, a
target and the run's settings. What the partitioned path cannot do is refused here too
(:meth:`SendOptions.for_partitions`), in one line.

Usage::

    options = SendOptions.from_keywords("ses", SendKeywords(sender="a@example.com",
                                                           subject="Hi", text="Hello"))
    options = options.for_frame(df)          # the frame's columns checked (keep=, mapping)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.compose.message import Attachment
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.config import EngineConfig
from toolkit.errors import ConfigurationError
from toolkit.targets import Target
from toolkit.transports.base import Transport
from toolkit.transports.registry import TransportKind, transport_kind

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Pairs", "SendKeywords", "SendOptions", "run_tag_for"]

Pairs = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True)
class SendKeywords:
    """The keywords of :func:`toolkit.send`, exactly as a caller gives them (unchecked).

    ``send``'s signature lists the same names with the same defaults (a test pins it), so a
    user reads them there; ``send_in_background`` and ``send_partitioned`` pass theirs through
    ``SendKeywords(**keywords)``. The meaning of each is documented on :func:`toolkit.send`.
    """

    target: Any = None
    transport: Any = None
    compose: ComposeSpec | None = None
    config: EngineConfig | None = None
    sender: str | None = None
    to: str = "email"
    cc: str | None = None
    bcc: str | None = None
    reply_to: str | None = None
    sender_column: str | None = None
    name_column: str | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    template: str | None = None
    template_columns: Sequence[str] | None = None
    attachments: Iterable[Attachment | str | os.PathLike[str]] = ()
    attachment_column: str | None = None
    attachment_dir: str | os.PathLike[str] | None = None
    configuration_set: str | None = None
    tags: Pairs | None = None
    headers: Pairs | None = None
    key: str | None = None
    allow_duplicates: bool = False
    suppression_file: str | os.PathLike[str] | None = None
    suppression_history: str | os.PathLike[str] | None = None
    account_suppression: bool = True
    breaker: bool | None = None
    events_queue: str | None = None
    rate: float | None = None
    headroom: float = 1.0
    adaptive: bool | None = None
    workers: int | None = None
    max_attempts: int = 5
    ledger: str | os.PathLike[str] | None = None
    retry_unknown: bool = False
    resend_changed: bool = False
    dry_run: bool = False
    limit: int | None = None
    progress: bool = True
    keep: Sequence[str] | None = None


# Which keywords a ComposeSpec or an EngineConfig given whole replaces (not both).
_MESSAGE_KEYWORDS = (
    "sender", "to", "cc", "bcc", "reply_to", "sender_column", "name_column", "subject", "text",
    "html", "template", "template_columns", "attachments", "attachment_column", "attachment_dir",
    "configuration_set", "tags", "headers", "key", "allow_duplicates",
)  # fmt: skip
_ENGINE_KEYWORDS = (
    "rate", "headroom", "adaptive", "workers", "max_attempts", "retry_unknown", "limit",
    "resend_changed",
)  # fmt: skip
_DEFAULTS = SendKeywords()


@dataclass(frozen=True)
class SendOptions:
    """One send's settings, validated once; what :class:`toolkit.job.Job` runs.

    Attributes:
        via: the transport's registry name (checked).
        spec / config: the message and the engine halves.
        target: where to send: None (an embedded sandbox started for the run), a Sandbox,
            an AwsTarget or an SmtpTarget.
        transport: a ready transport object instead of a target (tests, custom providers).
        ledger: the SQLite journal (None: no resume).
        dry_run / progress: render only; show a progress bar.
        keep: input columns carried into the results.
        account_suppression: read the account's SES suppression list before sending (the
            spec's ``suppression`` already holds the user's file and earlier runs' bounces).
        breaker: follow the run's events and stop past SES-safe bounce/complaint rates (None:
            where events can be followed, i.e. a sandbox or ``events_queue``).
        events_queue: an SQS queue URL fed by the configuration set's event destination.
        suppression_history: where this run's hard bounces and complaints are recorded (and
            earlier runs' were read from), when its events can be followed.
    """

    via: str
    spec: ComposeSpec
    config: EngineConfig
    target: Target | None = None
    transport: Transport | None = None
    ledger: Path | None = None
    dry_run: bool = False
    progress: bool = True
    keep: tuple[str, ...] = ()
    account_suppression: bool = True
    breaker: bool | None = None
    events_queue: str | None = None
    suppression_history: Path | None = None

    @property
    def kind(self) -> TransportKind:
        return transport_kind(self.via)

    @property
    def transport_name(self) -> str:
        return self.transport.name if self.transport is not None else self.via

    @classmethod
    def from_keywords(cls, via: str, keywords: SendKeywords) -> SendOptions:
        """Validate ``keywords`` (ConfigurationError naming the one that is wrong)."""
        from toolkit.delivery.ledger import check_ledger_path

        kind = transport_kind(via)
        transport = keywords.transport
        if transport is not None and not isinstance(transport, Transport):
            raise ConfigurationError(
                f"transport= takes a transport object, not {type(transport).__name__}"
            )
        target = keywords.target
        if isinstance(target, Transport):
            raise ConfigurationError(
                "target= says where to send (a Sandbox, AwsTarget or SmtpTarget); give a "
                "ready transport object as transport= instead"
            )
        if target is not None and not isinstance(target, Target):
            raise ConfigurationError(
                "target= takes None (an embedded sandbox), a Sandbox, an AwsTarget or an "
                f"SmtpTarget, not {type(target).__name__}"
            )
        if target is not None and transport is not None:
            raise ConfigurationError("give target= or transport=, not both")
        ledger = keywords.ledger
        if ledger is not None and not isinstance(ledger, str | os.PathLike):
            raise ConfigurationError(f"ledger= takes a file path, not {type(ledger).__name__}")
        keep = keywords.keep
        if keywords.breaker not in (None, True, False):
            raise ConfigurationError(
                f"breaker= takes True, False or None, not {keywords.breaker!r}"
            )
        if keywords.events_queue is not None and not isinstance(keywords.events_queue, str):
            raise ConfigurationError("events_queue= takes an SQS queue URL")
        spec = _with_run_tag(_with_suppression(_spec(keywords), keywords), ledger)
        return cls(
            via=kind.name,
            spec=spec,
            config=_config(keywords),
            target=target,
            transport=transport,
            ledger=check_ledger_path(ledger) if ledger is not None else None,
            dry_run=bool(keywords.dry_run),
            progress=bool(keywords.progress),
            keep=(keep,) if isinstance(keep, str) else tuple(keep or ()),
            account_suppression=bool(keywords.account_suppression),
            breaker=keywords.breaker,
            events_queue=keywords.events_queue,
            suppression_history=_path(keywords.suppression_history),
        )

    def for_frame(self, df: Any) -> tuple[pd.DataFrame, SendOptions]:
        """The frame as pre-flight takes it, and these options checked against its columns
        (``keep=`` names; a Series taken as the ``to`` column)."""
        from toolkit.compose.frame import conform
        from toolkit.results import check_keep

        frame, spec = conform(df, self.spec)
        keep = check_keep(self.keep or None, frame.columns)
        return frame, dataclasses.replace(self, spec=spec, keep=keep)

    def for_partitions(self, columns: Sequence[Any]) -> SendOptions:
        """These options for :func:`toolkit.send_partitioned`, checked against the Dask
        frame's columns; what the partitioned path cannot do is refused in one line."""
        from toolkit.results import check_keep

        if self.transport is not None:
            raise ConfigurationError(
                "send_partitioned needs a target the workers can connect to (a Sandbox, an "
                "AwsTarget or an SmtpTarget), not a transport object"
            )
        if self.config.limit is not None:
            raise ConfigurationError(
                "limit= is not supported by send_partitioned (it counts rows in one process); "
                "filter the frame instead, e.g. ddf.head(n, npartitions=-1)"
            )
        if self.ledger is not None:
            raise ConfigurationError(
                "send_partitioned keeps one ledger per partition: give ledger= a directory "
                "(its own keyword), not a file"
            )
        return dataclasses.replace(self, keep=check_keep(self.keep or None, columns))


def _spec(keywords: SendKeywords) -> ComposeSpec:
    """The message half: ``compose=`` as given, or built from the message keywords."""
    given = _given("compose", keywords.compose, ComposeSpec, keywords, _MESSAGE_KEYWORDS)
    if given is not None:
        return given
    columns = keywords.template_columns
    return ComposeSpec(
        to=keywords.to, cc=keywords.cc, bcc=keywords.bcc, reply_to=keywords.reply_to,
        sender=keywords.sender, sender_column=keywords.sender_column,
        name_column=keywords.name_column, subject=keywords.subject, text=keywords.text,
        html=keywords.html, template_name=keywords.template,
        template_columns=(columns,) if isinstance(columns, str) else _tuple(columns),
        attachments=_attachments(keywords.attachments),
        attachment_column=keywords.attachment_column, attachment_dir=keywords.attachment_dir,
        configuration_set=keywords.configuration_set, tags=_pairs("tags", keywords.tags),
        headers=_pairs("headers", keywords.headers), key_column=keywords.key,
        allow_duplicates=keywords.allow_duplicates,
    )  # fmt: skip


def _with_suppression(spec: ComposeSpec, keywords: SendKeywords) -> ComposeSpec:
    """The spec with the user's suppression file and earlier runs' bounces added to its list
    (read now: a missing file is one line before anything starts)."""
    from toolkit.compose.suppression import SuppressionList

    file, history = keywords.suppression_file, keywords.suppression_history
    if file is None and history is None:
        return spec
    found = spec.suppression.copy() if spec.suppression is not None else SuppressionList()
    if file is not None:
        found.load_file(file)
    if history is not None:
        found.load_history(history)
    return dataclasses.replace(spec, suppression=found)


def _with_run_tag(spec: ComposeSpec, ledger: Any) -> ComposeSpec:
    """With a ledger, every message carries a tag naming the run (the same on every resume),
    so that rows left ``unknown`` by a crash can be resolved from the provider's events."""
    if ledger is None or spec.run_tag is not None:
        return spec
    return dataclasses.replace(spec, run_tag=run_tag_for(ledger))


def run_tag_for(ledger: str | os.PathLike[str]) -> str:
    """The run tag of a ledger file (the same on every resume; on Dask, one per partition's
    ledger, as row keys are unique only within a partition)."""
    import hashlib

    digest = hashlib.sha256(os.fspath(Path(ledger).absolute()).encode()).hexdigest()[:16]
    return f"ledger-{digest}"


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


def _tuple(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


def _config(keywords: SendKeywords) -> EngineConfig:
    """The engine half: ``config=`` as given, or built from the engine keywords."""
    given = _given("config", keywords.config, EngineConfig, keywords, _ENGINE_KEYWORDS)
    if given is not None:
        return given
    settings: dict[str, Any] = {name: getattr(keywords, name) for name in _ENGINE_KEYWORDS}
    if settings["workers"] is None:  # automatic: the engine's own default
        del settings["workers"]
    return EngineConfig(**settings)


def _given(
    name: str, value: Any, kind: type, keywords: SendKeywords, replaced: Sequence[str]
) -> Any:
    """A ``compose=``/``config=`` object, checked: the right type, and not given twice."""
    if value is None:
        return None
    if not isinstance(value, kind):
        raise ConfigurationError(f"{name}= takes a {kind.__name__}, not {type(value).__name__}")
    changed = [k for k in replaced if not _same(getattr(keywords, k), getattr(_DEFAULTS, k))]
    if changed:
        raise ConfigurationError(
            f"give {name}={kind.__name__}(...) or the keywords it replaces "
            f"({', '.join(sorted(changed))}), not both"
        )
    return value


def _same(value: Any, default: Any) -> bool:
    """True when a keyword still holds its default (compared safely: values may be arrays)."""
    if value is default:
        return True
    try:
        return bool(type(value) is type(default) and value == default)
    except (TypeError, ValueError):
        return False


def _pairs(name: str, value: Pairs | None) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    try:
        items = value.items() if isinstance(value, Mapping) else value
        return tuple((str(k), str(v)) for k, v in items)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{name}= takes a mapping or (name, value) pairs, not {type(value).__name__}"
        ) from exc


def _attachments(items: Any) -> tuple[Attachment, ...]:
    """Attachment objects, or files read now (a file that cannot be read: one line)."""
    from toolkit.compose.mime import guess_content_type

    if isinstance(items, str | os.PathLike | Attachment):
        items = [items]  # one file given on its own
    elif not isinstance(items, Iterable):
        raise ConfigurationError(
            f"attachments= takes file paths or Attachment objects, not {type(items).__name__}"
        )
    out: list[Attachment] = []
    for item in items:
        if isinstance(item, Attachment):
            out.append(item)
            continue
        if not isinstance(item, str | os.PathLike):
            raise ConfigurationError(
                f"attachments= takes file paths or Attachment objects, not {type(item).__name__}"
            )
        path = Path(item)
        try:
            content = path.read_bytes()
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise ConfigurationError(f"cannot read attachment {path}: {reason}") from exc
        out.append(Attachment(path.name, content, guess_content_type(path.name)))
    return tuple(out)
