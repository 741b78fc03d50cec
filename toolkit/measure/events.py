"""Delivery events (delivery, bounce, complaint, ...) that arrive after the send, joined back
onto the results by message id.

A send's results say what the provider *accepted*; whether the mail then arrived, bounced
or drew a complaint comes later, as events. This module reads them from two sources into
one frame shape and joins them onto a results frame:

* the embedded sandbox's mailbox (:func:`events_from_sandbox`);
* real SES: event or feedback notifications published to SNS and delivered to an SQS queue
  (:func:`events_from_sqs`), with or without SNS raw message delivery.

Events frame columns (:data:`EVENT_COLUMNS`): ``message_id``, ``recipient``, ``event``
(``delivery``, ``bounce``, ``complaint``, ``auto-reply``, ``delivery_delay``, ``send``,
``reject``, ``rendering_failure``, ``open``, ``click``, ...), ``event_time`` (UTC
timestamp), ``bounce_type`` (``Permanent``/``Transient``/``Undetermined``),
``bounce_subtype``, ``feedback_type`` (for complaints), ``detail`` (diagnostic, SMTP
response or rendering failure), ``source``, ``tags`` (the message's SES message tags as a
dict, or None; they tie an event to its run and row: :mod:`toolkit.compose.tags`).

Usage::

    from toolkit.measure.events import events_from_sandbox, join_events
    joined = join_events(results, events_from_sandbox(sandbox))
    joined[joined.event == "bounce"]

    events = events_from_sqs(queue_url, delete=True)       # real SES via SNS -> SQS
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

EVENT_COLUMNS: tuple[str, ...] = (
    "message_id",
    "recipient",
    "event",
    "event_time",
    "bounce_type",
    "bounce_subtype",
    "feedback_type",
    "detail",
    "source",
    "tags",
)

#: Which event describes a row best when it has several: a bounce outranks a complaint,
#: which outranks a delivery; informational events (auto-reply, open, ...) rank lowest.
#: Among events of equal rank the latest wins.
EVENT_RANK: dict[str, int] = {
    "bounce": 6,
    "reject": 6,
    "rendering_failure": 6,
    "complaint": 5,
    "delivery_delay": 3,
    "delivery": 4,
    "send": 1,
}

JOINED_COLUMNS: tuple[str, ...] = (
    "event",
    "event_time",
    "bounce_type",
    "bounce_subtype",
    "feedback_type",
    "event_detail",
    "event_count",
    "event_types",
)

_SANDBOX_NAMES = {"rendering-failure": "rendering_failure"}
_BOUNCE_DETAIL = re.compile(r"^(Permanent|Transient|Undetermined)/(\w+)\s*:?\s*(.*)$", re.S)
_FEEDBACK_DETAIL = re.compile(r"feedback:\s*([\w-]+)", re.I)


def join_events(results: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The results with one summary of their events per row (same index, same order).

    Rows are matched by ``message_id``. When some of a message's events name the row's own
    recipient, only those count (a message with several recipients); otherwise all of the
    message's events do. Added columns (:data:`JOINED_COLUMNS`):

    * ``event``, ``event_time``, ``bounce_type``, ``bounce_subtype``, ``feedback_type``,
      ``event_detail`` — from the row's most telling event: highest :data:`EVENT_RANK`
      (bounce > complaint > delivery > delay > others), the latest among equals;
    * ``event_count`` — how many events matched (0: none has arrived yet, ``event`` is NA);
    * ``event_types`` — the distinct event names, sorted and comma-joined
      (``"complaint,delivery"``).
    """
    if "message_id" not in results.columns:
        raise KeyError("results frame lacks column: message_id")
    ev = _as_events_frame(events)
    position = np.arange(len(results))
    keys = pd.DataFrame(
        {
            "_row": position,
            "message_id": results["message_id"].to_numpy(dtype=object),
            "_recipient": (
                results["recipient"].to_numpy(dtype=object)
                if "recipient" in results.columns
                else np.full(len(results), None, dtype=object)
            ),
        }
    )
    keys = keys[keys["message_id"].notna()]
    merged = keys.merge(ev, on="message_id", how="inner")

    out = results.copy()
    if merged.empty:
        for column in JOINED_COLUMNS:
            out[column] = 0 if column == "event_count" else None
        out["event_time"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
        return out

    own = _lower(merged["recipient"]) == _lower(merged["_recipient"])
    has_own = own.groupby(merged["_row"]).transform("any")
    merged = merged[own | ~has_own].copy()
    merged["_rank"] = merged["event"].map(EVENT_RANK).fillna(0)
    merged = merged.sort_values(["_row", "_rank", "event_time"], kind="stable")
    grouped = merged.groupby("_row", sort=False)
    best = grouped.tail(1).set_index("_row")
    count = grouped.size()
    types = (
        merged.drop_duplicates(["_row", "event"])
        .sort_values(["_row", "event"])
        .groupby("_row")["event"]
        .agg(",".join)
    )

    def aligned(series: pd.Series, fill: Any = None) -> np.ndarray:
        values = series.reindex(position)
        return values.to_numpy() if fill is None else values.fillna(fill).to_numpy()

    out["event"] = aligned(best["event"])
    out["event_time"] = pd.Series(best["event_time"].reindex(position).to_numpy(), index=out.index)
    for name in ("bounce_type", "bounce_subtype", "feedback_type"):
        out[name] = aligned(best[name])
    out["event_detail"] = aligned(best["detail"])
    out["event_count"] = aligned(count, 0).astype(int)
    out["event_types"] = aligned(types)
    return out


def events_from_sandbox(source: Any, tags: pd.DataFrame | None = None) -> pd.DataFrame:
    """Events from the embedded sandbox: a ``Sandbox`` (its ``.mailbox``), a ``Mailbox``, or
    the frame ``mailbox.events()`` returned, with ``tags`` the frame ``mailbox.tags()``
    returned (without them a frame's events carry no tags, and resolve no ``unknown`` row)."""
    if isinstance(source, pd.DataFrame):
        raw = source
    else:
        mailbox = getattr(source, "mailbox", source)
        if not hasattr(mailbox, "events"):
            raise TypeError(f"expected a Sandbox, a Mailbox or a DataFrame, got {source!r}")
        raw = mailbox.events()
        tagged = getattr(mailbox, "tags", None)
        tags = tagged() if callable(tagged) else None
    frame = pd.DataFrame(
        {
            "message_id": raw["message_id"].astype(object),
            "recipient": raw["recipient"].astype(object),
            # The mailbox's rendering-failure is SES's "Rendering Failure": one name for both.
            "event": raw["event"].astype(object).replace(_SANDBOX_NAMES),
            "event_time": _utc(raw["at"] if "at" in raw.columns else raw.get("event_time")),
            "detail": raw["detail"].astype(object) if "detail" in raw.columns else None,
        }
    )
    details = frame["detail"].fillna("").astype(str)
    bounce = details.str.extract(_BOUNCE_DETAIL)
    is_bounce = frame["event"] == "bounce"
    frame["bounce_type"] = bounce[0].where(is_bounce)
    frame["bounce_subtype"] = bounce[1].where(is_bounce)
    feedback = details.str.extract(_FEEDBACK_DETAIL)[0]
    frame["feedback_type"] = feedback.where(frame["event"] == "complaint")
    frame["source"] = "sandbox"
    if tags is not None and not tags.empty:
        by_message: dict[str, dict[str, str]] = {}
        for message_id, name, value in tags.itertuples(index=False):
            by_message.setdefault(message_id, {})[name] = value
        frame["tags"] = frame["message_id"].map(by_message).astype(object)
    return _as_events_frame(frame)


def events_from_notifications(
    bodies: Iterable[str | bytes | Mapping[str, Any]], source: str = "sns"
) -> pd.DataFrame:
    """Events from SES notifications (as SQS message bodies, SNS envelopes or plain dicts).

    Bodies that are not SES notifications (SNS subscription confirmations, junk) are
    skipped; see :func:`parse_ses_notification`.
    """
    rows: list[dict[str, Any]] = []
    for body in bodies:
        rows.extend(parse_ses_notification(body, source=source))
    return _as_events_frame(pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS)))


def parse_ses_notification(
    body: str | bytes | Mapping[str, Any], source: str = "sns"
) -> list[dict[str, Any]]:
    """One SES notification → one event record per recipient it names ([] if not SES).

    Accepts the SNS envelope (``{"Type": "Notification", "Message": "<json>"}``) as SQS
    receives it, the bare notification (SNS raw message delivery, or an EventBridge
    ``detail``), and both SES flavours: feedback notifications (``notificationType``) and
    configuration-set event publishing (``eventType``).
    """
    data: Mapping[str, Any] | None = _load(body)
    if data is None:
        return []
    if "Message" in data and ("Type" in data or "TopicArn" in data):
        if data.get("Type", "Notification") != "Notification":
            return []  # SubscriptionConfirmation / UnsubscribeConfirmation
        data = _load(data["Message"])
        if data is None:
            return []
    if "detail" in data and isinstance(data["detail"], Mapping) and "mail" in data["detail"]:
        data = data["detail"]  # EventBridge envelope
    kind = data.get("notificationType") or data.get("eventType")
    mail = data.get("mail")
    if not isinstance(kind, str) or not isinstance(mail, Mapping):
        return []
    event = _event_name(kind)
    message_id = mail.get("messageId")
    destination: list[str | None] = [str(r) for r in mail.get("destination") or []]
    tags = mail.get("tags")
    base = {
        "message_id": message_id,
        "tags": {str(k): (v[0] if isinstance(v, list) and v else v) for k, v in tags.items()}
        if isinstance(tags, Mapping)
        else None,
        "event": event,
        "bounce_type": None,
        "bounce_subtype": None,
        "feedback_type": None,
        "source": source,
    }
    records: list[dict[str, Any]] = []

    def add(recipient: Any, when: Any, detail: Any = None) -> None:
        records.append(
            base
            | {
                "recipient": None if recipient is None else str(recipient),
                "event_time": when or mail.get("timestamp"),
                "detail": None if detail is None else str(detail),
            }
        )

    if event == "bounce":
        bounce = data.get("bounce") or {}
        base["bounce_type"] = bounce.get("bounceType")
        base["bounce_subtype"] = bounce.get("bounceSubType")
        for r in bounce.get("bouncedRecipients") or [{}]:
            add(r.get("emailAddress"), bounce.get("timestamp"), r.get("diagnosticCode"))
    elif event == "complaint":
        complaint = data.get("complaint") or {}
        base["feedback_type"] = complaint.get("complaintFeedbackType")
        for r in complaint.get("complainedRecipients") or [{}]:
            add(r.get("emailAddress"), complaint.get("timestamp"))
    elif event == "delivery":
        delivery = data.get("delivery") or {}
        for r in delivery.get("recipients") or destination or [None]:
            add(r, delivery.get("timestamp"), delivery.get("smtpResponse"))
    elif event == "delivery_delay":
        delay = data.get("deliveryDelay") or {}
        for r in delay.get("delayedRecipients") or [{}]:
            add(r.get("emailAddress"), delay.get("timestamp"), delay.get("delayType"))
    elif event == "rendering_failure":
        failure = data.get("failure") or {}
        for r in destination or [None]:
            add(r, None, failure.get("errorMessage"))
    else:
        detail_key = {"reject": "reject", "open": "open", "click": "click"}.get(event)
        sub = data.get(detail_key) if detail_key else None
        when = sub.get("timestamp") if isinstance(sub, Mapping) else None
        reason = sub.get("reason") if isinstance(sub, Mapping) else None
        for r in destination or [None]:
            add(r, when, reason)
    return records


def events_from_sqs(
    queue_url: str,
    *,
    client: Any = None,
    max_messages: int = 1000,
    wait_seconds: int = 1,
    delete: bool = False,
    visibility_timeout: int | None = None,
    region_name: str | None = None,
    endpoint_url: str | None = None,
) -> pd.DataFrame:
    """Read SES notifications from an SQS queue (SES → SNS → SQS) as an events frame.

    Receives in batches of up to 10 until ``max_messages`` messages were read or a receive
    (long-polling ``wait_seconds``) comes back empty, so it always ends. With
    ``delete=True`` the messages that parsed as SES notifications are deleted afterwards;
    everything else is left in the queue for whoever owns it. Without ``client`` a boto3
    SQS client is made for the queue's region (taken from the URL unless given).
    """
    if client is None:
        import boto3

        client = boto3.client(
            "sqs",
            region_name=region_name or _region_from_queue_url(queue_url),
            endpoint_url=endpoint_url,
        )
    rows: list[dict[str, Any]] = []
    handled: list[str] = []
    received = 0
    while received < max_messages:
        request: dict[str, Any] = {
            "QueueUrl": queue_url,
            "MaxNumberOfMessages": min(10, max_messages - received),
            "WaitTimeSeconds": wait_seconds,
        }
        if visibility_timeout is not None:
            request["VisibilityTimeout"] = visibility_timeout
        batch = client.receive_message(**request).get("Messages", [])
        if not batch:
            break
        received += len(batch)
        for message in batch:
            records = parse_ses_notification(message.get("Body", ""), source="sqs")
            if records:
                rows.extend(records)
                handled.append(message["ReceiptHandle"])
    if delete:
        for start in range(0, len(handled), 10):
            chunk = handled[start : start + 10]
            client.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
            )
    return _as_events_frame(pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS)))


# --------------------------------------------------------------------------- helpers


def _as_events_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The events columns in order, with UTC timestamps (missing columns become NA)."""
    out = pd.DataFrame(index=frame.index)
    for column in EVENT_COLUMNS:
        if column == "event_time":
            out[column] = _utc(frame[column] if column in frame.columns else None, len(frame))
        elif column in frame.columns:
            out[column] = frame[column].astype(object)
        else:
            out[column] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return out.reset_index(drop=True)


def _utc(values: Any, length: int | None = None) -> pd.Series:
    if values is None:
        return pd.Series(pd.NaT, index=range(length or 0), dtype="datetime64[ns, UTC]")
    series = pd.Series(values)
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        converted = pd.to_datetime(series, utc=True)
    elif pd.api.types.is_numeric_dtype(series):
        converted = pd.to_datetime(series, unit="s", utc=True)
    else:
        converted = pd.to_datetime(series, utc=True, errors="coerce", format="ISO8601")
    return converted.astype("datetime64[ns, UTC]")


def _lower(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), "").astype(str).str.lower()


def _event_name(kind: str) -> str:
    """``"DeliveryDelay"`` → ``"delivery_delay"``; ``"Rendering Failure"`` likewise."""
    snake = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", kind.strip()).replace(" ", "_")
    return snake.lower()


def _load(body: Any) -> dict[str, Any] | None:
    if isinstance(body, Mapping):
        return dict(body)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _region_from_queue_url(url: str) -> str | None:
    match = re.search(r"sqs[.-]([a-z0-9-]+)\.amazonaws\.com", url)
    return match.group(1) if match else None
