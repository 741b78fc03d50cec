"""The public entry points: ``send`` (foreground) and ``send_in_background`` (a Future).

One path: the keywords become one :class:`~toolkit.options.SendOptions` (the message as a
:class:`~toolkit.compose.ComposeSpec`, the engine as an
:class:`~toolkit.delivery.config.EngineConfig`, the target, the ledger), validated once, and
one :class:`~toolkit.job.Job` runs it — the same runner each Dask task of
:func:`toolkit.send_partitioned` runs. The results frame has exactly one row per input row,
on the input's index.

Where it sends (``target``): None starts an embedded :class:`toolkit.sandbox.Sandbox` for the
call (nothing leaves the machine; stderr and the summary say so); a running ``Sandbox``; an
:class:`~toolkit.targets.AwsTarget`; an :class:`~toolkit.targets.SmtpTarget`. A ready
transport object (tests, custom providers) goes in as ``transport=``.

Resuming (``ledger=PATH``): rows already final in the ledger (sent, rejected, unknown) are not
sent again; they come back with the outcome recorded when they finished. Rows a crashed run
left in flight come back ``unknown`` (code ``InterruptedInFlight``) and are resent only with
``retry_unknown=True``. One send at a time per ledger. A dry run neither opens the ledger nor
starts a sandbox.

``frame.attrs``: ``"summary"`` (a plain copy of the :class:`~toolkit.results.RunSummary`)
and, for a dry run, ``"preview"`` (the first rendered messages).

Usage::

    results = send(df, via="ses", sender="Shop <sender@example.com>",
                   subject="Hi {{first_name}}", text="Your order {{order_id}} has shipped.")
    results["status"].value_counts()

    handle = send_in_background(df, via="smtp", sender=..., subject=..., text=...)
    handle.counts          # live counts per status
    handle.cancel()
    results = handle.result()
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from toolkit.compose.message import Attachment
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.config import EngineConfig
from toolkit.delivery.progress import Progress
from toolkit.errors import ConfigurationError
from toolkit.job import Job
from toolkit.options import Pairs, SendKeywords, SendOptions
from toolkit.results import RunSummary

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.compose.preview import Preview
    from toolkit.compose.sendplan import SendPlan


log = logging.getLogger(__name__)

__all__ = ["SendHandle", "plan_table", "preview", "send", "send_in_background"]


def _options(df: Any, via: str, keywords: SendKeywords) -> SendOptions:
    """The validated options for a pandas frame (a Dask frame has its own entry point)."""
    if type(df).__module__.partition(".")[0] in ("dask", "dask_expr"):
        raise ConfigurationError(
            "this is a partitioned (Dask) DataFrame: send it with toolkit.send_partitioned"
            "(ddf, out=DIRECTORY, ...), or send a pandas DataFrame (ddf.compute()) here"
        )
    return SendOptions.from_keywords(via, keywords)


def send(
    df: pd.DataFrame,
    via: str = "ses",
    *,
    target: Any = None,
    transport: Any = None,
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
    suppression_file: str | os.PathLike[str] | None = None,
    suppression_history: str | os.PathLike[str] | None = None,
    account_suppression: bool = True,
    breaker: bool | None = None,
    events_queue: str | None = None,
    rate: float | None = None,
    headroom: float = 1.0,
    adaptive: bool | None = None,
    workers: int | None = None,
    max_attempts: int = 5,
    ledger: str | os.PathLike[str] | None = None,
    retry_unknown: bool = False,
    resend_changed: bool = False,
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
        target: where to send: None (an embedded sandbox for this call, said on stderr and
            in the summary), a running Sandbox, an AwsTarget or an SmtpTarget.
        transport: a ready transport object instead of a target (tests, custom providers);
            ``via`` then only names the content shape checked.
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
        suppression_file: a CSV/Parquet of addresses not to send to (an unsubscribe export);
            suppression_history: the hard bounces and complaints recorded from earlier runs
            (:func:`toolkit.measure.history.record_feedback`); account_suppression: also read
            the account's SES suppression list (default). Rows whose To is on any of them end
            ``skipped``/``Suppressed``, naming the list.
        breaker: follow this run's delivery events and stop taking rows past SES-safe bounce or
            complaint rates (the rest ``skipped``/``ReputationPause``, resumable). None: on
            where events can be followed (a sandbox, or ``events_queue``).
        events_queue: an SQS queue URL fed by the configuration set's event destination (SNS
            or EventBridge): the breaker's events at AWS, and what resolves ``unknown`` rows on
            a resume.
        rate: recipients per second (default: the target's quota, e.g. SES MaxSendRate).
        headroom: fraction of the quota's rate to use when ``rate`` is not given.
        adaptive: adapt the rate to throttling (default: only when no rate is known).
        workers: requests in flight at most (default: sized by the engine).
            max_attempts: requests per message at most.
        ledger: a SQLite file journaling every row; the same path resumes a run.
        retry_unknown: resend rows whose fate is unknown (may deliver them twice).
        resend_changed: on a resume, send a row whose content changed since its recipient
            got the earlier version (otherwise ``skipped``/``ContentChanged``).
        dry_run: check and render every row, send nothing (rows ``skipped``/``DryRun``).
        limit: send at most this many rows (the rest ``skipped``/``Limit``).
        progress: show a progress bar.
        keep: input columns to carry into the results (e.g. ``["order_id"]``), after the
            outcome columns.

    Returns:
        A DataFrame on ``df.index`` with :data:`toolkit.results.OUTCOME_COLUMNS` (times as
        UTC datetimes) and the ``keep`` columns; per-row problems are statuses there, never
        exceptions. ``frame.attrs["summary"]`` holds the run's summary as plain values
        (``RunSummary.of(frame)`` gives it typed).

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
    keywords = SendKeywords(
        target=target, transport=transport, compose=compose, config=config, sender=sender,
        to=to, cc=cc, bcc=bcc, reply_to=reply_to, sender_column=sender_column,
        name_column=name_column, subject=subject, text=text, html=html, template=template,
        template_columns=template_columns, attachments=attachments,
        attachment_column=attachment_column, attachment_dir=attachment_dir,
        configuration_set=configuration_set, tags=tags, headers=headers, key=key,
        allow_duplicates=allow_duplicates, suppression_file=suppression_file,
        suppression_history=suppression_history, account_suppression=account_suppression,
        breaker=breaker, events_queue=events_queue, rate=rate, headroom=headroom,
        adaptive=adaptive, workers=workers, max_attempts=max_attempts, ledger=ledger,
        retry_unknown=retry_unknown, resend_changed=resend_changed, dry_run=dry_run,
        limit=limit, progress=progress, keep=keep,
    )  # fmt: skip
    return Job(_options(df, via, keywords), df).run()


class SendHandle:
    """A send running on a background thread (safe inside a running Jupyter kernel).

    It follows :class:`concurrent.futures.Future`: ``done()``, ``running()``,
    ``result(timeout)``, ``exception(timeout)``, ``add_done_callback(fn)``; plus live
    ``counts``/``progress`` and ``results_so_far()``. ``cancel()`` stops the send cleanly
    (requests in flight finish; rows not sent end ``skipped``/``Cancelled``) and
    ``result()`` then returns that frame: rows were sent, so there is a result to see.
    """

    def __init__(self, job: Job) -> None:
        self._job = job
        self._future: concurrent.futures.Future[pd.DataFrame] = concurrent.futures.Future()
        self._future.set_running_or_notify_cancel()
        self._progress: Progress | None = None
        self._cancel_requested = False
        self._thread = threading.Thread(target=self._main, name="toolkit-send", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            frame = self._job.run(observers=[self._observe])
        except BaseException as exc:  # kept for result()/exception() in the caller's thread
            log.debug("background send failed", exc_info=True)
            self._future.set_exception(exc)
        else:
            self._future.set_result(frame)

    def _observe(self, snapshot: Progress) -> None:
        self._progress = snapshot

    # -- the Future protocol ---------------------------------------------------------------

    def done(self) -> bool:
        """True once the send has finished, failed or stopped after ``cancel()``."""
        return self._future.done()

    def running(self) -> bool:
        return not self._future.done()

    def cancelled(self) -> bool:
        """True when ``cancel()`` stopped the send (its frame is still the result)."""
        return self._cancel_requested and self._future.done()

    def cancel(self) -> bool:
        """Stop taking new batches; in-flight requests finish; unsent rows are Cancelled.
        False when the send had already finished."""
        if self._future.done():
            return False
        self._cancel_requested = True
        self._job.cancel()
        return True

    def result(self, timeout: float | None = None) -> pd.DataFrame:
        """Block until done and return the results; re-raises the send's exception.

        Raises TimeoutError when ``timeout`` seconds pass first.
        """
        return self._future.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The exception that ended the send (None when it succeeded); waits like result."""
        return self._future.exception(timeout)

    def add_done_callback(self, fn: Callable[[SendHandle], object]) -> None:
        """Call ``fn(handle)`` when the send ends (at once when it already has)."""
        self._future.add_done_callback(lambda _future: fn(self))

    def wait(self, timeout: float | None = None) -> pd.DataFrame:
        """The same as :meth:`result` (kept for notebooks written before the Future API)."""
        return self.result(timeout)

    # -- live views ------------------------------------------------------------------------

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
    def summary(self) -> RunSummary | None:
        """The run's summary once it finished (None before)."""
        return self._job.summary if self._future.done() else None

    def results_so_far(self) -> pd.DataFrame | None:
        """The results so far (rows not final yet: status None); None before planning."""
        return self._job.snapshot_frame()

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"<SendHandle {self._job.transport_name} {state} {self.counts}>"


def send_in_background(
    df: pd.DataFrame, via: str = "ses", *, progress: bool = False, **keywords: Any
) -> SendHandle:
    """Start :func:`send` on a background thread and return a :class:`SendHandle` at once.

    Takes the same keywords as :func:`send` (``progress`` defaults to False here: a widget
    or ``handle.counts`` usually shows it). Bad arguments raise ConfigurationError (or
    TypeError for an unknown keyword) here; problems found while sending surface from
    ``result()`` and ``exception()``.
    """
    options = _options(df, via, SendKeywords(**keywords, progress=progress))
    return SendHandle(Job(options, df))


def preview(df: pd.DataFrame, via: str = "ses", *, rows: int = 3, **keywords: Any) -> Preview:
    """``rows`` sample messages of ``df`` exactly as :func:`send` with the same keywords
    would send them (From, To, Subject, the text and HTML parts), the rows likeliest to go
    wrong among them (the longest values, an empty cell, a refused row). Sends nothing and
    connects nowhere; a configuration mistake raises as the send would."""
    from toolkit.compose.preview import preview_plan
    from toolkit.job import plan_for

    frame, options = _options(df, via, SendKeywords(**keywords)).for_frame(df)
    return preview_plan(plan_for(frame, options), frame, options.spec, rows)


def plan_table(
    df: pd.DataFrame,
    via: str = "ses",
    *,
    quota: Any = None,
    identify: Sequence[str] | None = None,
    **keywords: Any,
) -> SendPlan:
    """The plan of :func:`send` with the same keywords, before sending: what will be sent,
    what will not and why (repeated recipients as SES compares them, invalid rows with the
    columns in ``identify`` that say who they are, full reasons), and the time and cost at
    the pace (``rate=``, or a ``quota`` such as ``target.quota(...)``). Sends nothing."""
    from toolkit.compose.sendplan import from_plan
    from toolkit.job import plan_for

    frame, options = _options(df, via, SendKeywords(**keywords)).for_frame(df)
    return from_plan(plan_for(frame, options), frame, options.spec, rate=options.config.rate,
                     quota=quota, identify=list(identify) if identify else None)  # fmt: skip
