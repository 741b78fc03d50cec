"""The reputation guard of a partitioned run, on the client: suppression before, the one
circuit breaker during, resolution of ``unknown`` rows before a resume, feedback after.

Why on the client: the account's suppression list and the run's events are read once for
the whole run, where the credentials and the sandbox are (an SQS queue polled by every
worker would split its messages between them, and each would see a part of the rates). The
workers get what comes of it: the list inside the spec, the breaker's verdict from the
scheduler (:mod:`toolkit.cluster.breaker`), the resolved rows inside the
:class:`~toolkit.cluster.partition.PartitionJob`.

Usage (what :func:`toolkit.cluster.run.send_partitioned` does)::

    options = with_account_suppression(options, endpoint)
    guard = RunGuard(options, target)
    job = guard.arm(guard.resolve(client, ddf, job))
    with guard.follow(client, job):
        ...                                     # the partitions send
    guard.record()
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.compose.limits import call_problem
from toolkit.job import event_feed, read_account_suppression, run_breaker
from toolkit.options import SendOptions, run_tag_for
from toolkit.targets import AwsTarget, SmtpTarget

if TYPE_CHECKING:
    from toolkit.cluster.partition import PartitionJob

__all__ = ["RunGuard", "with_account_suppression"]

log = logging.getLogger(__name__)


def with_account_suppression(
    options: SendOptions, endpoint: AwsTarget | SmtpTarget | None
) -> SendOptions:
    """The account's SES suppression list added to the spec's, read once here on the client
    (as ``send`` reads it), so that every partition skips those rows before sending."""
    if options.dry_run or not (options.account_suppression and options.kind.account_quota):
        return options
    if call_problem(options.spec, options.kind.name):  # pre-flight refuses it in one line
        return options
    found = read_account_suppression(endpoint, options.spec)
    if found is None:
        return options
    return dataclasses.replace(options, spec=dataclasses.replace(options.spec, suppression=found))


class RunGuard:
    """The reputation guard of one partitioned run, on the client: its events (a sandbox's
    mailbox, or ``events_queue``) are read here only, once for the whole run.

    * :meth:`resolve`: before a resume, the partitions' ``unknown`` rows that the provider's
      events vouch for (each partition's ledger has its own run tag);
    * :meth:`arm`: the run's one circuit breaker (as ``send``'s: on where events can be
      followed), its board opened on the scheduler by :func:`_run` and followed on a thread;
    * :meth:`record`: the run's hard bounces and complaints into ``suppression_history``.
    """

    def __init__(self, options: SendOptions, target: Any) -> None:
        self.options = options
        self.target = target
        self.breaker: Any = None

    def resolve(self, client: Any, ddf: Any, job: PartitionJob) -> PartitionJob:
        from toolkit.cluster.partition import UNANSWERED_META, unanswered_frame
        from toolkit.cluster.storage import ledger_path
        from toolkit.measure.resolve import resolved_outcomes

        feed = event_feed(self.options, self.target, since_now=False)
        if feed is None or job.ledger_dir is None or not any(Path(job.ledger_dir).glob("*")):
            return job
        tasks = ddf.map_partitions(unanswered_frame, job, meta=UNANSWERED_META)
        unanswered = client.compute(tasks).result()
        if unanswered.empty:
            return job
        events = feed.poll()
        resolved: dict[str, Any] = {}
        for identity, keys in unanswered.groupby("identity")["row_key"]:
            tag = self.options.spec.run_tag or run_tag_for(ledger_path(job.ledger_dir,
                                                                       str(identity)))  # fmt: skip
            found = resolved_outcomes([str(k) for k in keys], events, run_tag=tag)
            if found:
                resolved[str(identity)] = found
        count = sum(len(found) for found in resolved.values())
        if count:
            log.warning("ledger directory %s: %d 'unknown' rows were resolved from the "
                        "provider's events (sent, ResolvedFromEvent); they are not resent",
                        job.ledger_dir, count)  # fmt: skip
        return dataclasses.replace(job, resolved=resolved)

    def arm(self, job: PartitionJob) -> PartitionJob:
        from toolkit.cluster.breaker import BreakerSettings

        self.breaker = run_breaker(self.options, self.target)
        if self.breaker is None:
            return job
        return dataclasses.replace(job, breaker=BreakerSettings.of(self.breaker))

    def follow(self, client: Any, job: PartitionJob) -> Any:
        """A context that follows the events on a thread while the partitions send."""
        from toolkit.cluster.breaker import BreakerFollower

        if self.breaker is None or job.breaker is None:
            return contextlib.nullcontext()
        settings = job.breaker
        client.sync(client.scheduler.toolkit_breaker_open, run=job.run, canary=settings.canary,
                    min_outcomes=settings.min_outcomes,
                    canary_wait=settings.canary_wait)  # fmt: skip

        def report(fated: int, reason: str | None) -> None:
            client.sync(client.scheduler.toolkit_breaker_report, run=job.run, fated=fated,
                        reason=reason)  # fmt: skip

        return BreakerFollower(self.breaker, report)

    @property
    def reason(self) -> str | None:
        return self.breaker.snapshot().reason if self.breaker is not None else None

    def record(self) -> None:
        history = self.options.suppression_history
        feed = event_feed(self.options, self.target, since_now=False) if history else None
        if feed is None or history is None:
            return
        from toolkit.measure.history import record_feedback

        record_feedback(feed.poll(), history)
