"""One send, from a validated request to the results frame.

:class:`Job` plans the frame (pre-flight), resolves the transport from the registry and the
target (starting an embedded sandbox when none was given), reads the target's quota, runs the
engine with the ledger and the progress bar, and builds the frame — or, for a dry run,
renders every row without connecting anywhere. :func:`toolkit.send` runs a job in the
foreground, :class:`toolkit.SendHandle` on a thread.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.compose.message import ContentMode, Template
from toolkit.compose.spec import ComposeSpec
from toolkit.delivery.config import EngineConfig
from toolkit.delivery.engine import SendEngine
from toolkit.delivery.ledger import Ledger
from toolkit.errors import ConfigurationError, ProviderConfigurationError
from toolkit.results import Outcome, ResultTable, Status, results_frame
from toolkit.targets import Target
from toolkit.transports.base import Transport
from toolkit.transports.registry import TransportKind, transport_kind

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.compose.plan import Plan

log = logging.getLogger(__name__)

__all__ = ["DRY_RUN_CODE", "Job", "Request"]

DRY_RUN_CODE = "DryRun"
_DRY_RUN_MESSAGE = "dry run: rendered, not sent"
_PREVIEW_ROWS = 5
_DRY_RUN_CHUNK = 1000
_EMBEDDED_NOTE = (
    "toolkit: no target given; sending to an embedded local sandbox started for this call "
    "(nothing leaves this machine)"
)


@dataclass(frozen=True)
class Request:
    """Everything one call asked for (validated once, used by the foreground and the handle)."""

    df: Any
    via: str
    target: Any
    spec: ComposeSpec
    config: EngineConfig
    ledger: Path | None
    dry_run: bool
    progress: bool
    keep: tuple[str, ...] = ()  # input columns carried into the results

    def kept(self) -> pd.DataFrame | None:
        """The input columns to carry into the results, or None."""
        return self.df[list(self.keep)] if self.keep else None


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


class Job:
    """One send: plan, resolve the target and transport, run the engine, build the frame."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.cancelled = threading.Event()
        self.engine: SendEngine | None = None
        self.plan: Plan | None = None
        given = request.target if isinstance(request.target, Transport) else None
        self.given: Transport | None = given
        kind = transport_kind(request.via)  # checked even when a transport is given
        self.kind: TransportKind | None = None if given else kind
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

    def _plan(self, shape: Any, stored: Template | None = None) -> Plan:
        from toolkit.compose.plan import plan

        req = self.request
        self.plan = plan(req.df, req.spec, mode=shape.content_mode,
                         max_message_bytes=shape.max_message_bytes,
                         transport=self.transport_name, stored_template=stored)  # fmt: skip
        return self.plan

    def _run(self, observers: Sequence[Any]) -> pd.DataFrame:
        req = self.request
        # The transport's shape (content mode, size limit) without connecting anywhere yet.
        shape: Any = self.given or self.kind.transport_class()  # type: ignore[union-attr]
        # A stored template is read from the provider first: its subject says which columns
        # reach a header. Otherwise pre-flight runs before anything starts or connects.
        stored = req.spec.template_name is not None and shape.content_mode is ContentMode.TEMPLATE
        if req.dry_run:
            return _dry_run(self._plan(shape), req.df.index, self.transport_name, req.kept())
        if self.given is not None:
            try:
                p = self._plan(shape, _stored_template(self.given, req.spec) if stored else None)
                return self._send(p, self.given, quota=None, observers=observers)
            finally:
                self.given.close()
        kind = self.kind
        assert kind is not None
        planned = None if stored else self._plan(shape)
        with _target_scope(req.target, req.progress) as target:
            transport = kind.create(target, workers=req.config.workers)
            try:
                p = planned or self._plan(shape, _stored_template(transport, req.spec))
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
            except BaseException as exc:  # Ctrl-C, a bug, a broken ledger: keep the results
                frame = self._frame_so_far(engine, transport.name, quota)
                _attach(exc, frame)
                if isinstance(exc, KeyboardInterrupt):
                    log.warning(
                        "send interrupted; rows not sent are 'skipped'/'Cancelled'%s",
                        f"; resume with ledger={str(req.ledger)!r}" if ledger else "",
                    )
                raise
            frame = results_frame(outcomes, req.df.index, keep=req.kept())
            frame.attrs["summary"] = _summary(engine, frame, transport.name, quota)
            fault = engine.fault
            if fault is not None:
                _raise_fault(fault, frame, outcomes)
            return frame
        finally:
            if bar is not None:
                bar.close()
            if ledger is not None:
                ledger.close()

    def _frame_so_far(self, engine: SendEngine, transport: str, quota: Any) -> pd.DataFrame:
        """Every row's outcome so far, on the input's index (rows not final: status None)."""
        p = self.plan
        assert p is not None
        frame = results_frame(engine.outcomes(), self.request.df.index, row_keys=p.row_keys,
                              transport=transport, keep=self.request.kept())  # fmt: skip
        frame.attrs["summary"] = _summary(engine, frame, transport, quota)
        return frame

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
                             transport=self.transport_name, keep=self.request.kept())  # fmt: skip


def _stored_template(transport: Any, spec: ComposeSpec) -> Template | None:
    """The provider's copy of ``spec.template_name`` when the transport can read it."""
    read = getattr(transport, "stored_template", None)
    if spec.template_name is None or read is None:
        return None
    template: Template | None = read(spec.template_name)
    return template


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


def _dry_run(p: Plan, index: pd.Index, transport: str, keep: pd.DataFrame | None) -> pd.DataFrame:
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
    frame = table.frame(index, keep)
    frame.attrs["preview"] = p.preview(_PREVIEW_ROWS)
    counts = {k: int(v) for k, v in frame["status"].value_counts().items()}
    frame.attrs["summary"] = {"counts": counts, "dry_run": True, "transport": transport}
    return frame


def _summary(engine: SendEngine, frame: pd.DataFrame, transport: str,
             quota: Any) -> dict[str, Any]:  # fmt: skip
    snapshot = engine.snapshot()
    config = engine.config
    max_rate = quota.max_send_rate if quota is not None and quota.max_send_rate > 0 else None
    counts = {k: int(v) for k, v in frame["status"].value_counts().items()}
    sent = counts.get(Status.SENT.value, 0)
    return {
        "counts": counts,
        "transport": transport,
        "elapsed": round(snapshot.elapsed, 3),
        "sent_per_second": round(sent / snapshot.elapsed, 2) if snapshot.elapsed > 0 else None,
        "run_id": engine.run_id,
        "stopped": engine.stop_reason,
        # the rates the figures draw: the provider's limit and the pace asked for
        "max_send_rate": max_rate,
        "rate": config.rate or (max_rate * config.headroom if max_rate else None),
    }
