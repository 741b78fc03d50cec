"""The public entry points: ``send`` (foreground) and ``send_in_background`` (a handle).

One path: arguments become a :class:`~toolkit.compose.ComposeSpec` and an
:class:`~toolkit.delivery.config.EngineConfig`; pre-flight checks the whole frame; the transport
named by ``via`` comes from the one registry (:mod:`toolkit.transports.registry`) and the
target says where it connects and what the quota is (:mod:`toolkit.targets`); the engine
sends; the results frame has exactly one row per input row, on the input's index.

Where it sends (``target``): None starts an embedded :class:`toolkit.sandbox.Sandbox` for the
call (nothing leaves the machine; a note says so); a running ``Sandbox``; an
:class:`~toolkit.targets.AwsTarget`; an :class:`~toolkit.targets.SmtpTarget`; or a ready
transport object (tests, custom providers; ``via`` is then ignored).

Resuming (``ledger=PATH``): rows already final in the ledger (sent, rejected, unknown) are not
sent again; they come back with the outcome recorded when they finished. Rows a crashed run
left in flight come back ``unknown`` (code ``InterruptedInFlight``) and are resent only with
``retry_unknown=True``. One send at a time per ledger. A dry run neither opens the ledger nor
starts a sandbox.

``frame.attrs``: ``"summary"`` (counts per status, elapsed seconds, run id, why the run stopped
early if it did) and, for a dry run, ``"preview"`` (the first rendered messages).

Usage::

    results = send(df, via="ses", sender="Shop <sender@example.com>",
                   subject="Hi {{first_name}}", text="Your order {{order_id}} has shipped.")
    results["status"].value_counts()

    handle = send_in_background(df, via="smtp", sender=..., subject=..., text=...)
    handle.counts          # live counts per status
    handle.cancel()
    results = handle.wait()
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.compose.frame import conform
from toolkit.compose.message import Attachment
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.config import EngineConfig
from toolkit.delivery.ledger import check_ledger_path
from toolkit.delivery.progress import Progress
from toolkit.errors import ConfigurationError
from toolkit.job import Job, Request
from toolkit.results import check_keep

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger(__name__)

__all__ = ["SendHandle", "send", "send_in_background"]

Pairs = Mapping[str, str] | Iterable[tuple[str, str]]


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
    from toolkit.compose.mime import guess_content_type

    if isinstance(items, str | os.PathLike | Attachment):
        items = [items]  # one file given on its own
    elif not isinstance(items, Iterable):
        raise ConfigurationError(
            f"attachments= takes file paths or Attachment objects, not {type(items).__name__}"
        )
    out: list[Attachment] = []
    for item in items:
        if not isinstance(item, Attachment | str | os.PathLike):
            raise ConfigurationError(
                f"attachments= takes file paths or Attachment objects, not {type(item).__name__}"
            )
        if isinstance(item, Attachment):
            out.append(item)
            continue
        path = Path(item)
        try:
            content = path.read_bytes()
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise ConfigurationError(f"cannot read attachment {path}: {reason}") from exc
        out.append(Attachment(path.name, content, guess_content_type(path.name)))
    return tuple(out)


# send()'s keywords in three groups: the engine's (an EngineConfig), the run's, and the
# rest, which describe the message (a ComposeSpec).
_ENGINE_KEYWORDS = frozenset(
    ["rate", "headroom", "adaptive", "workers", "max_attempts", "retry_unknown", "limit"]
)
_RUN_KEYWORDS = ("target", "compose", "config", "ledger", "dry_run", "progress", "keep")


def _spec_from(keywords: Mapping[str, Any]) -> ComposeSpec:
    """The ComposeSpec the message keywords of :func:`send` describe."""
    columns = keywords["template_columns"]
    if isinstance(columns, str):
        columns = [columns]
    return ComposeSpec(
        to=keywords["to"], cc=keywords["cc"], bcc=keywords["bcc"],
        reply_to=keywords["reply_to"], sender=keywords["sender"],
        sender_column=keywords["sender_column"], name_column=keywords["name_column"],
        subject=keywords["subject"], text=keywords["text"], html=keywords["html"],
        template_name=keywords["template"],
        template_columns=columns,
        attachments=_attachments(keywords["attachments"]),
        attachment_column=keywords["attachment_column"],
        attachment_dir=keywords["attachment_dir"],
        configuration_set=keywords["configuration_set"], tags=_pairs("tags", keywords["tags"]),
        headers=_pairs("headers", keywords["headers"]), key_column=keywords["key"],
        allow_duplicates=keywords["allow_duplicates"],
    )  # fmt: skip


def _refuse_partitioned(df: Any) -> None:
    """A Dask frame has its own entry point (results on disk, a ledger per partition)."""
    if type(df).__module__.partition(".")[0] in ("dask", "dask_expr"):
        raise ConfigurationError(
            "this is a partitioned (Dask) DataFrame: send it with toolkit.send_partitioned"
            "(ddf, out=DIRECTORY, ...), or send a pandas DataFrame (ddf.compute()) here"
        )


def _specs(options: Mapping[str, Any]) -> tuple[ComposeSpec, EngineConfig]:
    """The message and engine halves of :func:`send`'s keywords, validated (no frame needed:
    :func:`toolkit.send_partitioned` uses this too)."""
    defaults = send.__kwdefaults__ or {}
    changed = {k for k, v in options.items() if k in defaults and not _same(v, defaults[k])}
    engine_keywords = _ENGINE_KEYWORDS
    compose_keywords = set(defaults) - engine_keywords - set(_RUN_KEYWORDS)
    spec = _given("compose", options["compose"], ComposeSpec, changed & compose_keywords)
    spec = spec or _spec_from(options)
    config = _given("config", options["config"], EngineConfig, changed & engine_keywords)
    config = config or EngineConfig(**{k: options[k] for k in engine_keywords})
    return spec, config


def _request(df: Any, via: str, options: Mapping[str, Any]) -> Request:
    """Validate :func:`send`'s arguments into one request (ConfigurationError when wrong)."""
    spec, config = _specs(options)
    df, spec = conform(df, spec)
    ledger = options["ledger"]
    if ledger is not None and not isinstance(ledger, str | os.PathLike):
        raise ConfigurationError(f"ledger= takes a file path, not {type(ledger).__name__}")
    return Request(
        df=df, via=via, target=options["target"], spec=spec, config=config,
        ledger=check_ledger_path(ledger) if ledger is not None else None,
        dry_run=bool(options["dry_run"]), progress=bool(options["progress"]),
        keep=check_keep(options["keep"], getattr(df, "columns", ())),
    )  # fmt: skip


def _given(name: str, value: Any, kind: type, conflicting: set[str]) -> Any:
    """A ``compose=``/``config=`` object, checked: the right type, and not given twice."""
    if value is None:
        return None
    if not isinstance(value, kind):
        raise ConfigurationError(f"{name}= takes a {kind.__name__}, not {type(value).__name__}")
    if conflicting:
        raise ConfigurationError(
            f"give {name}={kind.__name__}(...) or the keywords it replaces "
            f"({', '.join(sorted(conflicting))}), not both"
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


def send(
    df: pd.DataFrame,
    via: str = "ses",
    *,
    target: Any = None,
    compose: ComposeSpec | None = None,
    config: EngineConfig | None = None,
    sender: str | None = None,
    to: str = "email",
    cc: str | None = None,
    bcc: str | None = None,
    reply_to: str | None = None,
    sender_column: str | None = None,
    name_column: str | None = None,
    subject: str | None = None,
    text: str | None = None,
    html: str | None = None,
    template: str | None = None,
    template_columns: Sequence[str] | None = None,
    attachments: Iterable[Attachment | str | os.PathLike[str]] = (),
    attachment_column: str | None = None,
    attachment_dir: str | os.PathLike[str] | None = None,
    configuration_set: str | None = None,
    tags: Pairs | None = None,
    headers: Pairs | None = None,
    key: str | None = None,
    allow_duplicates: bool = False,
    rate: float | None = None,
    headroom: float = 1.0,
    adaptive: bool | None = None,
    workers: int = 8,
    max_attempts: int = 5,
    ledger: str | os.PathLike[str] | None = None,
    retry_unknown: bool = False,
    dry_run: bool = False,
    limit: int | None = None,
    progress: bool = True,
    keep: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Send one email per row and return one result row per input row (same index).

    Args:
        df: one row per message (a Series is taken as the ``to`` column; column names that
            are not text are used as text: ``to=0`` names the first column of a frame read
            without a header).
        via: the transport: "ses" (SES v2 SendEmail), "ses-bulk" (SendBulkEmail, 50 per
            call), "pinpoint" (SendMessages; legacy) or "smtp" — the list is
            :data:`toolkit.transports.registry.TRANSPORTS`.
        target: None (an embedded sandbox for this call), a running Sandbox, an AwsTarget,
            an SmtpTarget, or a transport object.
        compose: the whole message side as a :class:`~toolkit.compose.ComposeSpec`, instead
            of the message keywords below (not both).
        config: the whole engine side as an :class:`~toolkit.delivery.config.EngineConfig`,
            instead of the engine keywords below (not both).
        sender / sender_column: the From address, or a column holding it per row.
        to / cc / bcc / reply_to: columns of addresses (comma-separated for several).
        name_column: a column with the recipient's display name.
        subject / text / html: ``{{column}}`` templates rendered per row.
        template / template_columns: a template stored at the provider and the columns it uses.
        attachments: Attachment objects or file paths, attached to every message;
            attachment_column: a column of file paths, per row, read only under
            ``attachment_dir`` (default: the working directory; a path leading elsewhere
            makes its row ``invalid``/``AttachmentNotAllowed``).
        configuration_set, tags, headers: passed with every message.
        key: a column with a stable row key (default: the index) for the ledger.
        allow_duplicates: send rows with the same recipients and content more than once.
        rate: recipients per second (default: the target's quota, e.g. SES MaxSendRate).
        headroom: fraction of the quota's rate to use when ``rate`` is not given.
        adaptive: adapt the rate to throttling (default: only when no rate is known).
        workers: sending threads. max_attempts: requests per message at most.
        ledger: a SQLite file journaling every row; the same path resumes a run.
        retry_unknown: resend rows whose fate is unknown (may deliver them twice).
        dry_run: check and render every row, send nothing (rows ``skipped``/``DryRun``).
        limit: send at most this many rows (the rest ``skipped``/``Limit``).
        progress: show a progress bar.
        keep: input columns to carry into the results (e.g. ``["order_id"]``), after the
            outcome columns.

    Returns:
        A DataFrame on ``df.index`` with :data:`toolkit.results.OUTCOME_COLUMNS` (times as
        UTC datetimes) and the ``keep`` columns; per-row problems are statuses there, never
        exceptions.

    Raises:
        ConfigurationError: nothing was sent — a missing column, no sender or content, a
            bad setting, a target of the wrong kind, credentials the provider refuses, an
            untrusted certificate. When the provider refuses the account only after some
            rows were answered (a :class:`~toolkit.errors.ProviderConfigurationError`), the
            error's ``results`` attribute holds the frame (rows it stopped: ``failed``).
        KeyboardInterrupt: after stopping cleanly; its ``results`` attribute holds the
            frame so far (rows not sent: ``skipped``/``Cancelled``).
        Exception: anything unexpected (a bug, a disk that fills under the ledger), raised
            after the workers stopped, with the frame so far in its ``results`` attribute
            once sending had started.
    """
    _refuse_partitioned(df)
    request = _request(df, via, {k: v for k, v in locals().items() if k not in ("df", "via")})
    return Job(request).run()


class SendHandle:
    """A send running on a background thread (safe inside a running Jupyter kernel).

    Poll ``counts``/``progress``/``done``, look at ``results()`` at any time, ``cancel()`` to
    stop cleanly, ``wait()`` for the final frame.
    """

    def __init__(self, job: Job) -> None:
        self._job = job
        self._progress: Progress | None = None
        self._thread = threading.Thread(target=self._main, name="toolkit-send", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            self._job.run(observers=[self._observe])
        except BaseException:  # kept for wait() to re-raise in the caller's thread
            log.debug("background send failed", exc_info=True)

    def _observe(self, snapshot: Progress) -> None:
        self._progress = snapshot

    @property
    def done(self) -> bool:
        """True once the send has finished (or failed)."""
        return self._job.done.is_set()

    @property
    def progress(self) -> Progress | None:
        """The latest snapshot (None before the engine starts)."""
        engine = self._job.engine
        return engine.snapshot() if engine is not None else self._progress

    @property
    def counts(self) -> dict[str, int]:
        """Rows per status so far, plus "pending" (empty until planning finished)."""
        engine = self._job.engine
        return dict(engine.snapshot().counts) if engine is not None else {}

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the send, if one did."""
        return self._job.error

    def results(self) -> pd.DataFrame | None:
        """The results so far (rows not final yet: status None); None before planning."""
        return self._job.snapshot_frame()

    def cancel(self) -> None:
        """Stop taking new batches; in-flight requests finish; unsent rows are Cancelled."""
        self._job.cancel()

    def wait(self, timeout: float | None = None) -> pd.DataFrame:
        """Block until done and return the results; re-raises the send's exception.

        Raises TimeoutError when ``timeout`` seconds pass first.
        """
        if not self._job.done.wait(timeout):
            raise TimeoutError(f"send still running after {timeout} s")
        self._thread.join(timeout=5.0)
        if self._job.error is not None:
            raise self._job.error
        assert self._job.result is not None
        return self._job.result

    def __repr__(self) -> str:
        state = "done" if self.done else "running"
        return f"<SendHandle {self._job.transport_name} {state} {self.counts}>"


def send_in_background(
    df: pd.DataFrame,
    via: str = "ses",
    *,
    progress: bool = False,
    **options: Any,
) -> SendHandle:
    """Start :func:`send` on a background thread and return a :class:`SendHandle` at once.

    Takes the same arguments as :func:`send` (``progress`` defaults to False here: a widget
    or ``handle.counts`` usually shows it). Bad arguments raise ConfigurationError here;
    problems found while sending surface from ``wait()`` (and ``handle.error``).
    """
    defaults = send.__kwdefaults__ or {}
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f"send_in_background() got unexpected arguments: {sorted(unknown)}")
    _refuse_partitioned(df)
    request = _request(df, via, {**defaults, **options, "progress": progress})
    return SendHandle(Job(request))
