"""``unknown`` rows resolved from the provider's events, instead of resent blind.

A row is ``unknown`` when its request left and no answer came (a timeout, a crash): SES may or
may not have accepted it. Resending it risks a duplicate; leaving it risks a lost message. But
when SES accepted a message it publishes events for it (Send, Delivery, Bounce, ...), and with
``ComposeSpec(run_tag=...)`` each message carries its run and row key as SES message tags,
which SES copies into those events (:mod:`toolkit.compose.tags`). So an ``unknown`` row whose
event arrived was accepted: it becomes ``sent`` with the event's message id and code
``ResolvedFromEvent``, and is never resent. Rows with no event after a stated wait remain
``unknown``: those are the only candidates for ``retry_unknown``.

A Rendering Failure event also proves the message was accepted, but it will never be
delivered (the template data lacked a variable): such a row becomes ``rejected`` with code
``RenderingFailure`` and SES's reason, whatever other event (a Send) came first. Resending it
would fail the same way; counting it as sent would report a delivery that never happens.

Usage::

    events = events_from_sandbox(sandbox)          # or events_from_sqs(queue_url)
    resolved = resolve_unknown(results, events, run_tag="r20261206")
    resolved[resolved.error_code == RESOLVED_CODE]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from toolkit.compose.tags import ROW_TAG, RUN_TAG, row_tag_value

__all__ = [
    "RENDERING_FAILURE_CODE",
    "RESOLVED_CODE",
    "record_resolutions",
    "resolve_ledger",
    "resolve_unknown",
    "resolved_outcomes",
]

RESOLVED_CODE = "ResolvedFromEvent"
RENDERING_FAILURE_CODE = "RenderingFailure"
_RENDERING_FAILURE = "rendering_failure"


def resolved_outcomes(
    unknown_keys: list[str], events: pd.DataFrame, *, run_tag: str | None = None
) -> dict[str, tuple[str, str, Any, Any]]:
    """For each row key that has an event: ``(message_id, event, event_time, detail)`` of its
    earliest event, or of its rendering failure when it has one (events without a
    ``toolkit-row`` tag, or of another run, are ignored)."""
    if events is None or events.empty or "tags" not in events.columns or not unknown_keys:
        return {}
    wanted = {row_tag_value(key): key for key in unknown_keys}
    found: dict[str, tuple[str, str, Any, Any]] = {}
    ordered = events.sort_values("event_time", kind="stable", na_position="last")
    details = ordered["detail"] if "detail" in ordered.columns else [None] * len(ordered)
    for message_id, event, when, tags, detail in zip(
        ordered["message_id"],
        ordered["event"],
        ordered["event_time"],
        ordered["tags"],
        details,
        strict=True,
    ):
        if not isinstance(tags, dict):
            continue
        key = wanted.get(str(tags.get(ROW_TAG, "")))
        if key is None or message_id is None:
            continue
        if key in found and (event != _RENDERING_FAILURE or found[key][1] == _RENDERING_FAILURE):
            continue
        if run_tag is not None and tags.get(RUN_TAG) != run_tag:
            continue
        found[key] = (str(message_id), str(event), when, detail)
    return found


def _resolved(status: str, message_id: str, event: str, detail: Any, stamp: str) -> dict[str, Any]:
    """The fields an ``unknown`` row takes from its event."""
    if event == _RENDERING_FAILURE:
        reason = "" if detail is None or pd.isna(detail) else f": {detail}"
        return {
            "status": "rejected",
            "message_id": message_id,
            "error_code": RENDERING_FAILURE_CODE,
            "error_message": f"no answer came; the provider accepted message {message_id} but "
            f"could not render its template{reason}; it will not be delivered",
        }
    return {
        "status": status,
        "message_id": message_id,
        "error_code": RESOLVED_CODE,
        "error_message": f"no answer came, but the provider published a {event} event for "
        f"message {message_id}{stamp}: it was accepted",
    }


def resolve_unknown(
    results: pd.DataFrame, events: pd.DataFrame, *, run_tag: str | None = None
) -> pd.DataFrame:
    """A copy of ``results`` where ``unknown`` rows with an event are ``sent``
    (``message_id`` from the event, ``error_code`` ``ResolvedFromEvent``, a message saying
    which event), or ``rejected`` (``RenderingFailure``) when the event says the message
    will never be delivered; other rows are unchanged."""
    out = results.copy()
    unknown = out.index[out["status"].astype(str) == "unknown"]
    if not len(unknown):
        return out
    keys = [str(k) for k in out.loc[unknown, "row_key"]]
    found = resolved_outcomes(keys, events, run_tag=run_tag)
    for index, key in zip(unknown, keys, strict=True):
        hit = found.get(key)
        if hit is None:
            continue
        message_id, event, when, detail = hit
        stamp = "" if when is None or pd.isna(when) else f" at {pd.Timestamp(when).isoformat()}"
        for column, value in _resolved("sent", message_id, event, detail, stamp).items():
            out.at[index, column] = value
    return out


def resolve_ledger(ledger: Any, events: pd.DataFrame, *, run_tag: str | None = None) -> int:
    """Before a resume: mark the ledger's ``unknown`` rows that have an event as ``sent``
    (``ResolvedFromEvent``), or ``rejected`` (``RenderingFailure``) for a rendering failure,
    so the resumed run keeps them even with ``retry_unknown=True``; returns how many were
    resolved. ``ledger`` is a :class:`toolkit.delivery.ledger.Ledger`.

    Call it after a wait long enough for the provider's events to arrive (seconds at the
    sandbox; at SES, Send events typically within a minute): rows still without an event
    are the only ones a resume with ``retry_unknown=True`` sends again.
    """
    from toolkit.results import Status

    unknown = [r.row_key for r in ledger.records() if r.status == Status.UNKNOWN.value]
    return record_resolutions(ledger, resolved_outcomes(unknown, events, run_tag=run_tag))


def record_resolutions(ledger: Any, found: Mapping[str, tuple[str, str, Any, Any]]) -> int:
    """Mark the ledger's ``unknown`` rows found in ``found`` (what :func:`resolved_outcomes`
    returns; on Dask, computed on the client from the run's events) as ``sent``
    (``ResolvedFromEvent``), or ``rejected`` (``RenderingFailure``); returns how many."""
    from dataclasses import replace

    from toolkit.results import Status

    finals = []
    for record in ledger.records():
        hit = found.get(record.row_key) if record.status == Status.UNKNOWN.value else None
        if hit is None:
            continue
        message_id, event, _when, detail = hit
        fields = _resolved(Status.SENT.value, message_id, event, detail, "")
        fields["status"] = Status(fields["status"])
        outcome = replace(record.to_outcome(), **fields)
        finals.append((record.content_hash, outcome))
    if finals:
        ledger.record(finals)
        ledger.flush()
    return len(finals)
