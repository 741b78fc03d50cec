"""The one runner: validated options and a frame in, the results frame out.

:class:`Job` plans the frame (pre-flight), finds the transport (a ready one, or the registry's
pointed at the target, starting an embedded sandbox when none was given), reads the quota,
runs the engine with the ledger and the progress bar, and builds the frame and its
:class:`~toolkit.results.RunSummary` — or, for a dry run, renders every row without connecting
anywhere. Every entry point runs it: :func:`toolkit.send` in the foreground,
:class:`toolkit.SendHandle` on a thread, and each Dask task of
:func:`toolkit.send_partitioned`, which injects what the cluster shares (:class:`Shared`: its
open transport, the leased pacer, the daily budget).

Usage::

    job = Job(options, df)
    frame = job.run()
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolkit.compose.limits import call_problem
from toolkit.compose.message import ContentMode, Template
from toolkit.compose.spec import ComposeSpec
from toolkit.compose.suppression import SuppressionList
from toolkit.delivery.engine import CANCELLED_CODE, Breaker, DailyBudget, Pacer, SendEngine
from toolkit.delivery.ledger import Ledger
from toolkit.errors import ConfigurationError, ProviderConfigurationError
from toolkit.options import SendOptions
from toolkit.results import Outcome, ResultTable, RunSummary, Status, results_frame
from toolkit.targets import Quota, Target, describe_target
from toolkit.transports.base import Transport

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.compose.plan import Plan
    from toolkit.delivery.breaker import CircuitBreaker

log = logging.getLogger(__name__)

__all__ = [
    "DRY_RUN_CODE",
    "EMBEDDED",
    "Job",
    "Shared",
    "default_target",
    "event_feed",
    "plan_for",
    "run_breaker",
    "stored_template",
]

DRY_RUN_CODE = "DryRun"
_DRY_RUN_MESSAGE = "dry run: rendered, not sent"
_PREVIEW_ROWS = 5
_DRY_RUN_CHUNK = 1000
EMBEDDED = "embedded sandbox (nothing left this machine)"
_EMBEDDED_NOTE = (
    "toolkit: no target given; sending to an embedded local sandbox started for this call "
    "(nothing leaves this machine)"
)


@dataclass(frozen=True)
class Shared:
    """What a caller sharing one account between processes injects into a job (the Dask
    task): an open transport the job must not close, the cluster's pacer, daily budget and
    circuit breaker, the quota read once on the client, the ``unknown`` rows the client
    resolved from the provider's events (row key -> message id, event, time), and a hook to
    see the engine (to stop it). The events themselves are followed on the client only."""

    transport: Transport
    pacer: Pacer | None = None
    daily: DailyBudget | None = None
    quota: Quota | None = None
    target: str = ""
    on_engine: Callable[[SendEngine], object] | None = None
    breaker: Breaker | None = None
    resolved: Mapping[str, tuple[str, str, Any, Any]] | None = None


@contextlib.contextmanager
def default_target(target: Target | None) -> Iterator[tuple[Target, str]]:
    """The target to send to and its description; with none given, an embedded sandbox
    started and stopped around the send. Always said (stderr and log), never silent."""
    if target is not None:
        yield target, describe_target(target)
        return
    from toolkit.sandbox import Sandbox

    log.info(_EMBEDDED_NOTE)
    print(_EMBEDDED_NOTE, file=sys.stderr)
    with Sandbox() as sandbox:
        yield sandbox, EMBEDDED


def plan_for(df: pd.DataFrame, options: SendOptions, stored: Template | None = None) -> Plan:
    """Pre-flight ``df`` for the options' transport: its content mode and size limit, without
    connecting anywhere (the one place the plan's shape is chosen)."""
    from toolkit.compose.plan import plan

    shape: Any = options.transport or options.kind.transport_class()
    return plan(df, options.spec, mode=shape.content_mode,
                max_message_bytes=shape.max_message_bytes,
                transport=options.transport_name, stored_template=stored)  # fmt: skip


def read_account_suppression(endpoint: Any, spec: ComposeSpec) -> SuppressionList | None:
    """The spec's suppression list plus the account's SES list (ListSuppressedDestinations,
    paged; the entries for the reasons in force, the configuration set's or the account's), or
    None when the endpoint has no such list.

    A list the credentials may not read (an IAM policy that allows sending only) is a warning:
    SES still suppresses at send time. A refusal of the account itself (credentials, an
    untrusted certificate, a foreign endpoint) is the ProviderConfigurationError a send
    would meet, raised before anything is sent.
    """
    from toolkit.compose.suppression import SuppressionList, reasons_in_force
    from toolkit.targets import AwsTarget
    from toolkit.transports.aws import AWS_CALL_ERRORS
    from toolkit.transports.classify import classify_aws_exception

    if not isinstance(endpoint, AwsTarget):
        return None
    found = spec.suppression.copy() if spec.suppression is not None else SuppressionList()
    client = dataclasses.replace(endpoint, fast=False).make_client("sesv2")
    try:
        found.load_account(client, reasons=reasons_in_force(client, spec.configuration_set))
    except AWS_CALL_ERRORS as exc:
        classified = classify_aws_exception("sesv2", exc)
        if classified.is_configuration and "AccessDenied" not in classified.code:
            raise ProviderConfigurationError(classified.code, classified.message, "ses") from exc
        log.warning(
            "the account's suppression list could not be read (%s); SES still drops mail "
            "to suppressed addresses, with a bounce", classified.code,
        )  # fmt: skip
        return spec.suppression
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return found


def event_feed(options: SendOptions, target: Target | None, since_now: bool) -> Any:
    """Where a run's delivery events can be read: the SQS queue of ``events_queue``, or a
    sandbox's mailbox (from now, or from the start); None when nothing can be followed."""
    from toolkit.measure.feed import SandboxFeed, SqsFeed

    if options.events_queue is not None:
        return SqsFeed(options.events_queue)
    if target is not None and hasattr(target, "mailbox"):  # a sandbox
        return SandboxFeed(target, since=None if since_now else 0.0, tags=not since_now)
    return None


def run_breaker(options: SendOptions, target: Target | None) -> CircuitBreaker | None:
    """The circuit breaker of a run, fed by the events it can follow; None when off or
    nothing to follow (``breaker=True`` with nothing to follow is an error)."""
    wanted = options.breaker
    if wanted is False:
        return None
    feed = event_feed(options, target, since_now=True)
    if feed is None:
        if wanted:
            raise ConfigurationError(
                "breaker=True needs the run's events: give events_queue=URL (an SQS queue "
                "the configuration set's event destination feeds)"
            )
        return None
    from toolkit.delivery.breaker import CircuitBreaker

    return CircuitBreaker(feed)


def stored_template(transport: Transport, options: SendOptions) -> Template | None:
    """The provider's copy of the options' stored template, when the transport can read it."""
    name = options.spec.template_name
    read = getattr(transport, "stored_template", None)
    if name is None or read is None or transport.content_mode is not ContentMode.TEMPLATE:
        return None
    template: Template | None = read(name)
    return template


class Job:
    """One send: plan, resolve the target and transport, run the engine, build the frame.

    The options are checked against the frame here (a missing ``keep=`` column raises now,
    before a background thread or a Dask task starts).
    """

    def __init__(self, options: SendOptions, df: Any, shared: Shared | None = None) -> None:
        self.df, self.options = options.for_frame(df)
        self.shared = shared
        self.cancelled = threading.Event()
        self.engine: SendEngine | None = None
        self.plan: Plan | None = None
        self.recovered = 0  # rows an earlier run left in flight (found in the ledger)
        self.result: pd.DataFrame | None = None
        self.summary: RunSummary | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    @property
    def transport_name(self) -> str:
        return self.options.transport_name

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

    def kept(self) -> pd.DataFrame | None:
        """The input columns to carry into the results, or None."""
        keep = self.options.keep
        return self.df[list(keep)] if keep else None

    # -- the three ways to a transport -----------------------------------------------------

    def _run(self, observers: Sequence[Any]) -> pd.DataFrame:
        options, shared = self.options, self.shared
        if options.dry_run:
            return self._dry_run()
        if not self._plan_needs_provider():  # pre-flight before anything connects
            self.plan = plan_for(self.df, options)
        if shared is not None:
            return self._send(shared.transport, shared.quota, shared.target, observers)
        if options.transport is not None:
            try:
                where = describe_target(options.transport)
                return self._send(options.transport, None, where, observers)
            finally:
                options.transport.close()
        with default_target(options.target) as (target, where):
            kind = options.kind
            self._add_account_suppression(target)
            transport = kind.create(target, workers=options.config.workers)
            try:
                return self._send(transport, target.quota(kind), where, observers, target)
            finally:
                transport.close()  # safe when never opened, and more than once

    def _plan_needs_provider(self) -> bool:
        """Pre-flight waits for the provider when it needs what only the provider knows: a
        stored template, or the account's suppression list."""
        return self.options.spec.template_name is not None or self._reads_account_list()

    def _reads_account_list(self) -> bool:
        options = self.options
        return (options.account_suppression and options.transport is None
                and self.shared is None and options.kind.account_quota)  # fmt: skip

    def _add_account_suppression(self, target: Target) -> None:
        """Add the account's SES suppression list to the spec's (read once per run)."""
        spec = self.options.spec  # not for a call pre-flight refuses in its one line
        if not self._reads_account_list() or call_problem(spec, self.options.kind.name):
            return
        found = read_account_suppression(target.resolve(self.options.kind), spec)
        if found is not None:
            self.options = dataclasses.replace(
                self.options, spec=dataclasses.replace(spec, suppression=found))  # fmt: skip

    def _breaker(self, target: Target | None) -> Breaker | None:
        """The circuit breaker for this run (on Dask: the cluster's one, injected)."""
        if self.shared is not None:
            return self.shared.breaker
        return run_breaker(self.options, target)

    def _feed(self, target: Target | None, *, since_now: bool) -> Any:
        """Where this run's delivery events can be read, or None (on Dask: the client reads
        them, once for the whole run)."""
        return None if self.shared is not None else event_feed(self.options, target, since_now)

    def _resolve_unknown(self, ledger: Ledger, target: Target | None) -> None:
        """Before a resume: ``unknown`` rows whose message the provider's events vouch for
        become ``sent`` (ResolvedFromEvent), or ``rejected`` when the event is a rendering
        failure, so they are never resent blind."""
        from toolkit.measure.resolve import record_resolutions, resolved_outcomes

        tag = self.options.spec.run_tag
        given = self.shared.resolved if self.shared is not None else None
        feed = self._feed(target, since_now=False)
        if tag is None or (feed is None and not given):
            return
        if not ledger.counts().get(Status.UNKNOWN.value):
            return
        if given is None:
            unknown = [r.row_key for r in ledger.records() if r.status == Status.UNKNOWN.value]
            given = resolved_outcomes(unknown, feed.poll(), run_tag=tag)
        resolved = record_resolutions(ledger, given)
        if resolved:
            log.warning("ledger %s: %d 'unknown' rows were resolved from the provider's "
                        "events (sent, or rejected for a rendering failure); they are not resent",
                        self.options.ledger, resolved)  # fmt: skip

    def _record_feedback(self, target: Target | None) -> None:
        """Keep this run's hard bounces and complaints in ``suppression_history``, so the
        next run skips those addresses (only when the run's events can be read)."""
        history = self.options.suppression_history
        feed = self._feed(target, since_now=False) if history is not None else None
        if feed is None or history is None:
            return
        from toolkit.measure.history import record_feedback

        record_feedback(feed.poll(), history)

    def _plan(self, transport: Transport) -> Plan:
        """Pre-flight; a stored template is read from the provider first (the columns it
        needs, and which reach a header)."""
        stored = stored_template(transport, self.options)
        self.plan = plan_for(self.df, self.options, stored)
        return self.plan

    def _send(self, transport: Transport, quota: Quota | None, where: str,
              observers: Sequence[Any], target: Target | None = None) -> pd.DataFrame:  # fmt: skip
        options, shared = self.options, self.shared
        p = self.plan or self._plan(transport)
        if shared is None:
            transport.open()
        ledger = Ledger(options.ledger) if options.ledger is not None else None
        bar = None
        try:
            if ledger is not None:
                self._resolve_unknown(ledger, target)
            if ledger is not None and ledger.recovered:
                self.recovered = ledger.recovered
                resent = " and will be resent" if options.config.retry_unknown else ""
                log.warning("ledger %s: %d rows were in flight when a previous run stopped; "
                            "they are reported 'unknown'%s", options.ledger, ledger.recovered,
                            resent)  # fmt: skip
            all_observers = list(observers)
            if options.progress:
                from toolkit.delivery.progress import ProgressBar

                bar = ProgressBar(p.size, desc=transport.name)
                all_observers.append(bar)
            engine = SendEngine(
                p, transport, options.config, quota=quota, ledger=ledger, observers=all_observers,
                pacer=shared.pacer if shared else None, daily=shared.daily if shared else None,
                breaker=self._breaker(target), pace_memory=getattr(target, "pace_memory", None),
            )  # fmt: skip
            self.engine = engine
            if shared is not None and shared.on_engine is not None:
                shared.on_engine(engine)
            if self.cancelled.is_set():
                engine.cancel()
            try:
                outcomes = engine.run()
            except BaseException as exc:  # Ctrl-C, a bug, a broken ledger: keep the results
                frame = self._frame(engine.outcomes(), engine, quota, where)
                _attach(exc, frame)
                if isinstance(exc, KeyboardInterrupt):
                    log.warning(
                        "send interrupted; rows not sent are 'skipped'/'Cancelled'%s",
                        f"; resume with ledger={str(options.ledger)!r}" if ledger else "",
                    )
                raise
            frame = self._frame(outcomes, engine, quota, where)
            self._record_feedback(target)
            fault = engine.fault
            if fault is not None:
                _raise_fault(fault, frame, outcomes)
            return frame
        finally:
            if bar is not None:
                bar.close()
            if ledger is not None:
                ledger.close()

    # -- the frame and its summary ---------------------------------------------------------

    def _frame(self, outcomes: Sequence[Outcome | None], engine: SendEngine,
               quota: Quota | None, where: str) -> pd.DataFrame:  # fmt: skip
        """Every row's outcome (rows not final yet: status None), on the input's index."""
        p = self.plan
        assert p is not None
        frame = results_frame(outcomes, self.df.index, row_keys=p.row_keys,
                              transport=self.transport_name, keep=self.kept())  # fmt: skip
        snapshot = engine.snapshot()
        max_rate = quota.max_send_rate if quota is not None and quota.max_send_rate > 0 else None
        pacer = self.shared.pacer if self.shared is not None else None
        self.summary = RunSummary.build(
            _counts(frame), elapsed=snapshot.elapsed, transport=self.transport_name,
            target=where, run_id=engine.run_id, stopped=engine.stop_reason,
            max_send_rate=max_rate,
            rate=pacer.rate if pacer is not None else engine.config.pace(quota),
        )  # fmt: skip
        frame.attrs["summary"] = self.summary.to_dict()
        return frame

    def snapshot_frame(self, *, stopped: bool = False) -> pd.DataFrame | None:
        """Results so far (rows not final yet have status None), or None before planning.

        ``stopped``: the run was interrupted wherever it was (connecting, planning, after the
        engine): every row gets one status, the rows not sent ``skipped``/``Cancelled`` as
        the engine reports them, so an interruption never leaves a row without one."""
        if self.result is not None:
            return self.result
        p, engine = self.plan, self.engine
        if p is None and not stopped:
            return None
        if engine is not None:
            outcomes = engine.outcomes()
        else:
            outcomes = [None] * (p.size if p is not None else len(self.df))
            for position, outcome in (p.preflight if p is not None else {}).items():
                outcomes[position] = outcome
        if p is not None:
            keys = p.row_keys
        else:  # interrupted while planning: the key column, or the row's index
            key = self.options.spec.key_column
            keys = (self.df[key] if key else self.df.index.to_series()).astype(str).tolist()
        if not stopped:
            return results_frame(outcomes, self.df.index, row_keys=keys,
                                 transport=self.transport_name, keep=self.kept())  # fmt: skip
        why = "the run was cancelled before this row was sent"
        table = ResultTable(keys, self.transport_name,
                            default=(Status.SKIPPED, CANCELLED_CODE, why))  # fmt: skip
        for position, final in enumerate(outcomes):
            if final is not None:
                table.put(position, final)
        frame = table.frame(self.df.index, self.kept())
        frame.attrs["summary"] = RunSummary.build(
            _counts(frame), transport=self.transport_name, stopped=(CANCELLED_CODE, why)
        ).to_dict()
        return frame

    def _dry_run(self) -> pd.DataFrame:
        """Pre-flight and render every sendable row, a chunk at a time; send nothing."""
        p = self.plan = plan_for(self.df, self.options)
        table = ResultTable(p.row_keys, self.transport_name,
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
        frame = table.frame(self.df.index, self.kept())
        frame.attrs["preview"] = p.preview(_PREVIEW_ROWS)
        self.summary = RunSummary.build(
            _counts(frame), transport=self.transport_name, dry_run=True,
            target="none (dry run: nothing was sent)",
        )  # fmt: skip
        frame.attrs["summary"] = self.summary.to_dict()
        return frame


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame["status"].value_counts().items()}


def _attach(exc: BaseException, frame: pd.DataFrame) -> None:
    """Give ``exc`` the results so far (``exc.results``) unless it already has them."""
    if getattr(exc, "results", None) is None:
        try:
            exc.results = frame  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - an exception type with __slots__
            log.warning("results could not be attached to %r", exc)


def _raise_fault(
    fault: ProviderConfigurationError, frame: pd.DataFrame, outcomes: Sequence[Outcome]
) -> None:
    """A configuration fault stopped the run: raise it, as nothing more can go until fixed.

    When no message got any answer but the fault (no credentials, a refused key, an untrusted
    certificate), nothing was sent: the error alone is the answer and no row is reported
    ``failed``. When some had been answered before it, the error carries the results
    (``.results``; rows the fault stopped are ``failed`` with its code, resent by a later run
    with the same ledger).
    """
    answered = sum(1 for o in outcomes if o.attempts and o.error_code != fault.code)
    if answered:
        _attach(fault, frame)
    raise fault
