"""The public entry points: ``send`` (foreground) and ``send_in_background`` (a handle).

``send`` takes a DataFrame, composes one message per row (:mod:`toolkit.compose`), sends them
through a transport with the engine (:mod:`toolkit.delivery.engine`), and returns a results
DataFrame aligned to the input's index: exactly one row per input row, columns
:data:`toolkit.results.OUTCOME_COLUMNS`.

Where it sends (``target``):

* ``None`` – an embedded :class:`toolkit.sandbox.Sandbox` started for this call and stopped
  after it (a note says so); nothing leaves the machine;
* a :class:`~toolkit.sandbox.Sandbox` you started (its mailbox stays readable afterwards);
* an :class:`~toolkit.targets.AwsTarget` (``via`` ses / ses-bulk / pinpoint) or an
  :class:`~toolkit.targets.SmtpTarget` (``via="smtp"``);
* a transport object (anything with the :class:`~toolkit.transports.base.Transport` shape,
  e.g. :class:`~toolkit.transports.memory.RecordingTransport`); ``via`` is then ignored and
  the call opens and closes it.

Resuming (``ledger=PATH``): rows already final in the ledger (sent, rejected, unknown) are not
sent again; they come back in the results with the outcome recorded when they finished, so
the frame is complete. Rows a crashed run left in flight come back ``unknown`` (code
``InterruptedInFlight``) and are resent only with ``retry_unknown=True``. A row whose key is in
the ledger with other content (the data changed) is a different message and is sent.

A dry run does not open the ledger (it reports what compose would send, row by row). One send
at a time per ledger: a ledger a live process is still sending with is refused.

``frame.attrs``: ``"summary"`` (counts per status, elapsed seconds, run id, why the run
stopped early if it did) and, for a dry run, ``"preview"`` (the first rendered messages).

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
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.compose.message import Attachment
from toolkit.delivery.engine import EngineConfig, Progress, SendEngine
from toolkit.delivery.ledger import Ledger
from toolkit.results import OUTCOME_COLUMNS, Outcome, Status

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.compose import Plan
    from toolkit.transports.base import Transport

log = logging.getLogger(__name__)

DRY_RUN_CODE = "DryRun"
_DRY_RUN_MESSAGE = "dry run: rendered, not sent"
_PREVIEW_ROWS = 5

__all__ = ["SendHandle", "send", "send_in_background"]


@dataclass(frozen=True)
class _Request:
    """Everything one call asked for (validated once, used by the foreground and the handle)."""

    df: Any
    via: str
    target: Any
    compose: Mapping[str, Any]
    config: EngineConfig
    ledger: Path | None
    dry_run: bool
    progress: bool


Pairs = Mapping[str, str] | Iterable[tuple[str, str]]


def _pairs(value: Pairs | None) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return tuple((str(k), str(v)) for k, v in value.items())
    return tuple((str(k), str(v)) for k, v in value)


def _attachments(items: Iterable[Attachment | str | os.PathLike[str]]) -> tuple[Attachment, ...]:
    from toolkit.compose.mime import guess_content_type
    from toolkit.errors import ConfigurationError

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


def _request(df: Any, via: str, target: Any, *, sender: str | None, to: str, cc: str | None,
             bcc: str | None, reply_to: str | None, sender_column: str | None,
             name_column: str | None, subject: str | None, text: str | None, html: str | None,
             template: str | None, template_columns: Sequence[str] | None,
             attachments: Iterable[Attachment | str | os.PathLike[str]],
             attachment_column: str | None, configuration_set: str | None,
             tags: Mapping[str, str] | Iterable[tuple[str, str]] | None,
             headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, key: str | None,
             allow_duplicates: bool, rate: float | None, headroom: float,
             adaptive: bool | None, workers: int, max_attempts: int,
             ledger: str | os.PathLike[str] | None, retry_unknown: bool, dry_run: bool,
             limit: int | None, progress: bool) -> _Request:
    compose = {
        "to": to, "cc": cc, "bcc": bcc, "reply_to": reply_to, "sender": sender,
        "sender_column": sender_column, "name_column": name_column, "subject": subject,
        "text": text, "html": html, "template_name": template,
        "template_columns": tuple(template_columns) if template_columns is not None else None,
        "attachments": _attachments(attachments), "attachment_column": attachment_column,
        "configuration_set": configuration_set, "tags": _pairs(tags),
        "headers": _pairs(headers), "key_column": key, "allow_duplicates": allow_duplicates,
    }  # fmt: skip
    config = EngineConfig(workers=workers, max_attempts=max_attempts,
                          retry_unknown=retry_unknown, rate=rate, headroom=headroom,
                          adaptive=adaptive, limit=limit)  # fmt: skip
    return _Request(df, via, target, compose, config,
                    Path(ledger) if ledger is not None else None, dry_run, progress)


class _Job:
    """One send: resolve the target, plan, run the engine, build the frame, clean up."""

    def __init__(self, request: _Request) -> None:
        self.request = request
        self.cancelled = threading.Event()
        self.engine: SendEngine | None = None
        self.plan: Plan | None = None
        self.transport_name = request.via
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
        from toolkit.compose import ComposeSpec, plan

        req = self.request
        spec = ComposeSpec(**req.compose)
        given = _given_transport(req.target)
        sandbox, owned = (None, False) if given else _resolve_sandbox(req.target)
        transport: Transport | None = None
        try:
            transport = given or _make_transport(req.via, req.target, sandbox,
                                                 req.config.workers)
            self.transport_name = transport.name
            if sandbox is not None and req.via == "pinpoint" and req.config.rate is None:
                # Pinpoint cannot tell its quota; the sandbox's policy can.
                req = replace(req, config=replace(req.config,
                                                  rate=sandbox.policy.max_send_rate))
                self.request = req
            p = plan(req.df, spec, mode=transport.content_mode,
                     max_message_bytes=transport.max_message_bytes, transport=transport.name)
            self.plan = p
            if req.target is None:  # said once the configuration is known to be good
                log.info(_EMBEDDED_NOTE)
                if req.progress:
                    print(_EMBEDDED_NOTE, file=sys.stderr)
            if req.dry_run:
                return _dry_run(p, req.df.index, transport.name)
            return self._send(p, transport, observers)
        finally:
            if transport is not None:
                transport.close()  # safe when never opened, and more than once
            if owned and sandbox is not None:
                sandbox.stop()

    def _send(self, p: Plan, transport: Transport, observers: Sequence[Any]) -> pd.DataFrame:
        req = self.request
        ledger = Ledger(req.ledger) if req.ledger is not None else None
        bar = None
        try:
            if ledger is not None and ledger.recovered:
                log.warning("ledger %s: %d rows were in flight when a previous run stopped; "
                            "they are reported 'unknown'%s", req.ledger, ledger.recovered,
                            " and will be resent" if req.config.retry_unknown else "")
            all_observers = list(observers)
            if req.progress:
                from toolkit.delivery.progress import ProgressBar

                bar = ProgressBar(p.size, desc=transport.name)
                all_observers.append(bar)
            transport.open()
            engine = SendEngine(p, transport, req.config, ledger=ledger,
                                observers=all_observers)
            self.engine = engine
            if self.cancelled.is_set():
                engine.cancel()
            try:
                outcomes = engine.run()
            except KeyboardInterrupt as interrupt:
                done = getattr(interrupt, "outcomes", None)
                if done is not None:
                    frame = _frame(done, req.df.index)
                    frame.attrs["summary"] = _summary(engine, frame, transport.name)
                    interrupt.results = frame  # type: ignore[attr-defined]
                log.warning("send interrupted; rows not sent are 'skipped'/'Cancelled'%s",
                            f"; resume with ledger={str(req.ledger)!r}" if ledger else "")
                raise
            frame = _frame(outcomes, req.df.index)
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
        outcomes = engine.outcomes() if engine is not None else [None] * p.size
        if engine is None:
            for position, outcome in p.preflight.items():
                outcomes[position] = outcome
        return _frame(outcomes, self.request.df.index, row_keys=p.row_keys)


def _given_transport(target: Any) -> Transport | None:
    """A ready transport passed as the target (tests, benchmarks, custom providers)."""
    from toolkit.transports.base import Transport

    return target if isinstance(target, Transport) else None


_EMBEDDED_NOTE = ("toolkit: no target given; sending to an embedded local sandbox started for "
                  "this call (nothing leaves this machine)")


def _resolve_sandbox(target: Any) -> tuple[Any, bool]:
    """(the sandbox to talk to or None, whether this call owns it)."""
    if target is None:
        from toolkit.sandbox import Sandbox

        return Sandbox().start(), True
    from toolkit.sandbox import Sandbox

    if isinstance(target, Sandbox):
        if not target.running:
            target.start()
            return target, True
        return target, False
    return None, False


def _make_transport(via: str, target: Any, sandbox: Any, workers: int) -> Transport:
    from toolkit.targets import aws_target_for, smtp_target_for
    from toolkit.transports import make_transport
    from toolkit.transports.base import Quota

    if sandbox is None:
        return make_transport(via, target, workers=workers)
    if via == "smtp":  # SMTP cannot ask for the quota: take it from the sandbox's policy
        q = sandbox.policy.quota()
        quota = Quota(q.max_send_rate, q.max_24_hour_send, q.sent_last_24_hours)
        return make_transport(via, smtp_target_for(sandbox), workers=workers, quota=quota)
    return make_transport(via, aws_target_for(sandbox), workers=workers)


def _dry_run(p: Plan, index: pd.Index, transport: str) -> pd.DataFrame:
    """Pre-flight and render every sendable row (a chunk at a time); send nothing.

    Builds the result columns directly rather than one Outcome per row: for a million rows
    that is the difference between ~700 MB and a few hundred over the frame itself.
    """
    import numpy as np
    import pandas as pd

    n = p.size
    status: list[str | None] = [Status.SKIPPED.value] * n
    recipient: list[str | None] = [None] * n
    code: list[str | None] = [DRY_RUN_CODE] * n
    message: list[str | None] = [_DRY_RUN_MESSAGE] * n

    def put(position: int, outcome: Outcome) -> None:
        status[position] = outcome.status.value
        recipient[position] = outcome.recipient
        code[position] = outcome.error_code
        message[position] = outcome.error_message

    for position, outcome in p.preflight.items():
        put(position, outcome)
    sendable = p.sendable
    chunk = 1000
    for start in range(0, len(sendable), chunk):
        positions = sendable[start : start + chunk]
        for position, item in zip(positions, p.render(positions), strict=True):
            if isinstance(item, Outcome):
                put(position, item)
            else:
                to = item.to
                recipient[position] = to[0] if len(to) == 1 else ", ".join(to)
    if len(index) != n:
        raise ValueError(f"index has {len(index)} labels for {n} rows")
    frame = pd.DataFrame(
        {
            "row_key": p.row_keys,
            "status": status,
            "transport": transport,
            "recipient": recipient,
            "message_id": None,
            "error_code": code,
            "error_message": message,
            "attempts": 0,
            "started_at": np.full(n, np.nan),
            "finished_at": np.full(n, np.nan),
            "batch_id": None,
        },
        columns=list(OUTCOME_COLUMNS),
        index=index,
    )
    frame.attrs["preview"] = p.preview(_PREVIEW_ROWS)
    counts = {k: int(v) for k, v in frame["status"].value_counts().items()}
    frame.attrs["summary"] = {"counts": counts, "dry_run": True, "transport": transport}
    return frame


def _frame(outcomes: Sequence[Outcome | None], index: pd.Index,
           row_keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Outcomes as a DataFrame, built column by column (fast for a million rows)."""
    import pandas as pd

    columns: dict[str, list[Any]] = {}
    for name in OUTCOME_COLUMNS:
        if name == "status":
            columns[name] = [o.status.value if o is not None else None for o in outcomes]
        elif name == "row_key" and row_keys is not None:
            columns[name] = [o.row_key if o is not None else row_keys[i]
                             for i, o in enumerate(outcomes)]
        else:
            columns[name] = [getattr(o, name) if o is not None else None for o in outcomes]
    frame = pd.DataFrame(columns, columns=list(OUTCOME_COLUMNS))
    if len(index) != len(frame):
        raise ValueError(f"index has {len(index)} labels for {len(frame)} outcomes")
    frame.index = index
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


_SEND_DOC_ARGS = """
    Args:
        df: one row per message.
        via: "ses" (SendEmail), "ses-bulk" (SendBulkEmail), "pinpoint" (SendMessages) or
            "smtp".
        target: None (embedded sandbox), a Sandbox, an AwsTarget, an SmtpTarget or a
            transport object.
        sender / sender_column: the From address, or a column holding it per row.
        to / cc / bcc / reply_to: columns of addresses (comma-separated for several).
        name_column: a column with the recipient's display name.
        subject / text / html: ``{{column}}`` templates rendered per row.
        template / template_columns: a stored provider template and the columns it uses.
        attachments: Attachment objects or file paths, attached to every message;
            attachment_column: a column of file paths, per row.
        configuration_set, tags, headers: passed to every message.
        key: a column with a stable row key (default: the index) for the ledger.
        allow_duplicates: send rows with the same recipients and content more than once.
        rate: recipients per second (default: the account's MaxSendRate).
        headroom: fraction of MaxSendRate to use when ``rate`` is not given.
        adaptive: adapt the rate to throttling (default: only when no rate is known).
        workers: sending threads. max_attempts: requests per message at most.
        ledger: a SQLite file journaling every row; the same path resumes a run.
        retry_unknown: resend rows whose fate is unknown (may deliver them twice).
        dry_run: check and render every row, send nothing (rows ``skipped``/``DryRun``).
        limit: send at most this many rows (the rest ``skipped``/``Limit``).
        progress: show a tqdm progress bar.
"""


def send(
    df: pd.DataFrame,
    via: str = "ses",
    *,
    target: Any = None,
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
    tags: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
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

    Raises ConfigurationError (nothing sent) for a missing column, no sender or content, a
    target of the wrong kind. Per-row problems are statuses in the result, not exceptions.
    On Ctrl-C the run stops cleanly and KeyboardInterrupt is re-raised; its ``results``
    attribute holds the frame so far (rows not sent: ``skipped``/``Cancelled``).
    """
    request = _request(
        df, via, target, sender=sender, to=to, cc=cc, bcc=bcc, reply_to=reply_to,
        sender_column=sender_column, name_column=name_column, subject=subject, text=text,
        html=html, template=template, template_columns=template_columns,
        attachments=attachments, attachment_column=attachment_column,
        configuration_set=configuration_set, tags=tags, headers=headers, key=key,
        allow_duplicates=allow_duplicates, rate=rate, headroom=headroom, adaptive=adaptive,
        workers=workers, max_attempts=max_attempts, ledger=ledger,
        retry_unknown=retry_unknown, dry_run=dry_run, limit=limit, progress=progress,
    )  # fmt: skip
    return _Job(request).run()


send.__doc__ = (send.__doc__ or "") + _SEND_DOC_ARGS


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
        if engine is not None:
            return dict(engine.snapshot().counts)
        return {}

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
    or ``handle.counts`` usually shows it). Configuration errors surface from ``wait()``
    (and ``handle.error``).
    """
    unknown = set(options) - set(send.__kwdefaults__ or {})
    if unknown:
        raise TypeError(f"send_in_background() got unexpected arguments: {sorted(unknown)}")
    kwargs = {**(send.__kwdefaults__ or {}), **options, "progress": progress}
    target = kwargs.pop("target")
    request = _request(df, via, target, **kwargs)
    return SendHandle(_Job(request))

