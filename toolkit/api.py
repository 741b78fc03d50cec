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

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.compose.message import Attachment
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.config import EngineConfig
from toolkit.delivery.engine import SendEngine
from toolkit.delivery.ledger import Ledger
from toolkit.delivery.progress import Progress
from toolkit.errors import ConfigurationError
from toolkit.results import Outcome, ResultTable, Status, results_frame
from toolkit.targets import Target
from toolkit.transports.base import Transport
from toolkit.transports.registry import TransportKind, transport_kind

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.compose.plan import Plan

log = logging.getLogger(__name__)

__all__ = ["DRY_RUN_CODE", "SendHandle", "send", "send_in_background"]

DRY_RUN_CODE = "DryRun"
_DRY_RUN_MESSAGE = "dry run: rendered, not sent"
_PREVIEW_ROWS = 5
_DRY_RUN_CHUNK = 1000
_EMBEDDED_NOTE = (
    "toolkit: no target given; sending to an embedded local sandbox started for this call "
    "(nothing leaves this machine)"
)

Pairs = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True)
class _Request:
    """Everything one call asked for (validated once, used by the foreground and the handle)."""

    df: Any
    via: str
    target: Any
    spec: ComposeSpec
    config: EngineConfig
    ledger: Path | None
    dry_run: bool
    progress: bool


def _pairs(value: Pairs | None) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(k), str(v)) for k, v in items)


def _attachments(items: Iterable[Attachment | str | os.PathLike[str]]) -> tuple[Attachment, ...]:
    from toolkit.compose.mime import guess_content_type

    out: list[Attachment] = []
    for item in items:
        if isinstance(item, Attachment):
            out.append(item)
            continue
        path = Path(item)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read attachment {path}: {exc.strerror}") from exc
        out.append(Attachment(path.name, content, guess_content_type(path.name)))
    return tuple(out)


_COMPOSE_KEYWORDS = (
    "sender", "to", "cc", "bcc", "reply_to", "sender_column", "name_column", "subject", "text",
    "html", "template", "template_columns", "attachments", "attachment_column",
    "configuration_set", "tags", "headers", "key", "allow_duplicates",
)  # fmt: skip
_ENGINE_KEYWORDS = (
    "rate", "headroom", "adaptive", "workers", "max_attempts", "retry_unknown", "limit",
)  # fmt: skip


def _spec_from(keywords: Mapping[str, Any]) -> ComposeSpec:
    """The ComposeSpec the message keywords of :func:`send` describe."""
    columns = keywords["template_columns"]
    return ComposeSpec(
        to=keywords["to"], cc=keywords["cc"], bcc=keywords["bcc"],
        reply_to=keywords["reply_to"], sender=keywords["sender"],
        sender_column=keywords["sender_column"], name_column=keywords["name_column"],
        subject=keywords["subject"], text=keywords["text"], html=keywords["html"],
        template_name=keywords["template"],
        template_columns=tuple(columns) if columns is not None else None,
        attachments=_attachments(keywords["attachments"]),
        attachment_column=keywords["attachment_column"],
        configuration_set=keywords["configuration_set"], tags=_pairs(keywords["tags"]),
        headers=_pairs(keywords["headers"]), key_column=keywords["key"],
        allow_duplicates=keywords["allow_duplicates"],
    )  # fmt: skip


def _request(df: Any, via: str, options: Mapping[str, Any]) -> _Request:
    """Validate :func:`send`'s arguments into one request (ConfigurationError when wrong)."""
    defaults = send.__kwdefaults__ or {}
    changed = {k for k, v in options.items() if k in defaults and not _same(v, defaults[k])}
    spec, config = options["compose"], options["config"]
    if spec is not None:
        if not isinstance(spec, ComposeSpec):
            raise ConfigurationError("compose= takes a ComposeSpec")
        if changed & set(_COMPOSE_KEYWORDS):
            raise ConfigurationError(
                "give compose=ComposeSpec(...) or the message keywords "
                f"({', '.join(sorted(changed & set(_COMPOSE_KEYWORDS)))}), not both"
            )
    else:
        spec = _spec_from(options)
    if config is not None:
        if not isinstance(config, EngineConfig):
            raise ConfigurationError("config= takes an EngineConfig")
        if changed & set(_ENGINE_KEYWORDS):
            raise ConfigurationError(
                "give config=EngineConfig(...) or the engine keywords "
                f"({', '.join(sorted(changed & set(_ENGINE_KEYWORDS)))}), not both"
            )
    else:
        config = EngineConfig(**{k: options[k] for k in _ENGINE_KEYWORDS})
    ledger = options["ledger"]
    return _Request(
        df=df, via=via, target=options["target"], spec=spec, config=config,
        ledger=Path(ledger) if ledger is not None else None,
        dry_run=bool(options["dry_run"]), progress=bool(options["progress"]),
    )  # fmt: skip


def _same(value: Any, default: Any) -> bool:
    """True when a keyword still holds its default (compared safely: values may be arrays)."""
    if value is default:
        return True
    try:
        return bool(type(value) is type(default) and value == default)
    except (TypeError, ValueError):
        return False


@contextlib.contextmanager
def _target_scope(target: Any, progress: bool) -> Iterator[Target]:
    """The target to send to; with none given, a sandbox started and stopped around the send."""
    if target is not None:
        if not isinstance(target, Target):
            raise ConfigurationError(
                "target must be None (embedded sandbox), a Sandbox, an AwsTarget, an "
                f"SmtpTarget or a transport; got {type(target).__name__}"
            )
        yield target
        return
    from toolkit.sandbox import Sandbox

    log.info(_EMBEDDED_NOTE)
    if progress:
        print(_EMBEDDED_NOTE, file=sys.stderr)
    with Sandbox() as sandbox:
        yield sandbox


class _Job:
    """One send: plan, resolve the target and transport, run the engine, build the frame."""

    def __init__(self, request: _Request) -> None:
        self.request = request
        self.cancelled = threading.Event()
        self.engine: SendEngine | None = None
        self.plan: Plan | None = None
        given = request.target if isinstance(request.target, Transport) else None
        self.given: Transport | None = given
        self.kind: TransportKind | None = None if given else transport_kind(request.via)
        self.transport_name = given.name if given else request.via
        self.result: pd.DataFrame | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()
        engine = self.engine
        if engine is not None:
            engine.cancel()

    def run(self, observers: Sequence[Any] = ()) -> pd.DataFrame:
        try:
            self.result = self._run(observers)
            return self.result
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.done.set()

    def _run(self, observers: Sequence[Any]) -> pd.DataFrame:
        from toolkit.compose.plan import plan

        req = self.request
        # The transport's shape (content mode, size limit) without connecting anywhere yet.
        shape: Any = self.given or self.kind.transport_class()  # type: ignore[union-attr]
        p = plan(req.df, req.spec, mode=shape.content_mode,
                 max_message_bytes=shape.max_message_bytes,
                 transport=self.transport_name)  # fmt: skip
        self.plan = p
        if req.dry_run:
            return _dry_run(p, req.df.index, self.transport_name)
        if self.given is not None:
            try:
                return self._send(p, self.given, quota=None, observers=observers)
            finally:
                self.given.close()
        kind = self.kind
        assert kind is not None
        with _target_scope(req.target, req.progress) as target:
            transport = kind.create(target, workers=req.config.workers)
            try:
                return self._send(p, transport, quota=target.quota(kind), observers=observers)
            finally:
                transport.close()  # safe when never opened, and more than once

    def _send(self, p: Plan, transport: Transport, *, quota: Any,
              observers: Sequence[Any]) -> pd.DataFrame:  # fmt: skip
        req = self.request
        ledger = Ledger(req.ledger) if req.ledger is not None else None
        bar = None
        try:
            if ledger is not None and ledger.recovered:
                log.warning("ledger %s: %d rows were in flight when a previous run stopped; "
                            "they are reported 'unknown'%s", req.ledger, ledger.recovered,
                            " and will be resent" if req.config.retry_unknown else "")  # fmt: skip
            all_observers = list(observers)
            if req.progress:
                from toolkit.delivery.progress import ProgressBar

                bar = ProgressBar(p.size, desc=transport.name)
                all_observers.append(bar)
            transport.open()
            engine = SendEngine(p, transport, req.config, quota=quota, ledger=ledger,
                                observers=all_observers)  # fmt: skip
            self.engine = engine
            if self.cancelled.is_set():
                engine.cancel()
            try:
                outcomes = engine.run()
            except KeyboardInterrupt as interrupt:
                done = getattr(interrupt, "outcomes", None)
                if done is not None:
                    frame = results_frame(done, req.df.index)
                    frame.attrs["summary"] = _summary(engine, frame, transport.name)
                    interrupt.results = frame  # type: ignore[attr-defined]
                log.warning("send interrupted; rows not sent are 'skipped'/'Cancelled'%s",
                            f"; resume with ledger={str(req.ledger)!r}" if ledger else "")
                raise
            frame = results_frame(outcomes, req.df.index)
            frame.attrs["summary"] = _summary(engine, frame, transport.name)
            return frame
        finally:
            if bar is not None:
                bar.close()
            if ledger is not None:
                ledger.close()

    def snapshot_frame(self) -> pd.DataFrame | None:
        """Results so far (rows not final yet have status None), or None before planning."""
        if self.result is not None:
            return self.result
        p, engine = self.plan, self.engine
        if p is None:
            return None
        if engine is not None:
            outcomes = engine.outcomes()
        else:
            outcomes = [None] * p.size
            for position, outcome in p.preflight.items():
                outcomes[position] = outcome
        return results_frame(outcomes, self.request.df.index, row_keys=p.row_keys,
                             transport=self.transport_name)  # fmt: skip


def _dry_run(p: Plan, index: pd.Index, transport: str) -> pd.DataFrame:
    """Pre-flight and render every sendable row, a chunk at a time; send nothing."""
    table = ResultTable(p.row_keys, transport,
                        default=(Status.SKIPPED, DRY_RUN_CODE, _DRY_RUN_MESSAGE))  # fmt: skip
    for position, outcome in p.preflight.items():
        table.put(position, outcome)
    sendable = p.sendable
    for start in range(0, len(sendable), _DRY_RUN_CHUNK):
        positions = sendable[start : start + _DRY_RUN_CHUNK]
        for position, item in zip(positions, p.render(positions), strict=True):
            if isinstance(item, Outcome):
                table.put(position, item)
            else:
                to = item.to
                table.put_recipient(position, to[0] if len(to) == 1 else ", ".join(to))
    frame = table.frame(index)
    frame.attrs["preview"] = p.preview(_PREVIEW_ROWS)
    counts = {k: int(v) for k, v in frame["status"].value_counts().items()}
    frame.attrs["summary"] = {"counts": counts, "dry_run": True, "transport": transport}
    return frame


def _summary(engine: SendEngine, frame: pd.DataFrame, transport: str) -> dict[str, Any]:
    snapshot = engine.snapshot()
    counts = {k: int(v) for k, v in frame["status"].value_counts().items()}
    sent = counts.get(Status.SENT.value, 0)
    return {
        "counts": counts,
        "transport": transport,
        "elapsed": round(snapshot.elapsed, 3),
        "sent_per_second": round(sent / snapshot.elapsed, 2) if snapshot.elapsed > 0 else None,
        "run_id": engine.run_id,
        "stopped": engine.stop_reason,
    }


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
) -> pd.DataFrame:
    """Send one email per row and return one result row per input row (same index).

    Args:
        df: one row per message.
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
            attachment_column: a column of file paths, per row.
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

    Returns:
        A DataFrame on ``df.index`` with :data:`toolkit.results.OUTCOME_COLUMNS`; per-row
        problems are statuses there, never exceptions.

    Raises:
        ConfigurationError: nothing was sent — a missing column, no sender or content, a
            bad setting, a target of the wrong kind, credentials the provider refuses.
        KeyboardInterrupt: after stopping cleanly; its ``results`` attribute holds the
            frame so far (rows not sent: ``skipped``/``Cancelled``).
    """
    request = _request(df, via, {k: v for k, v in locals().items() if k not in ("df", "via")})
    return _Job(request).run()


class SendHandle:
    """A send running on a background thread (safe inside a running Jupyter kernel).

    Poll ``counts``/``progress``/``done``, look at ``results()`` at any time, ``cancel()`` to
    stop cleanly, ``wait()`` for the final frame.
    """

    def __init__(self, job: _Job) -> None:
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
    request = _request(df, via, {**defaults, **options, "progress": progress})
    return SendHandle(_Job(request))

