"""The guide's answer as one HTML card: the recommendation set apart, Pinpoint's badge, the
reasons with their sources, then cost and time.

Why a module of its own: the same card is the live widget's answer (:mod:`.ui`), the static
picture a saved notebook shows before it runs, and a worked profile's display
(``Recommendation._repr_html_``), so it must not need ipywidgets. Styles are inline: a notebook
that is not trusted yet drops ``<style>`` blocks but keeps inline styles.

Stable hooks for browser tests: ``toolkit-guide-recommendation`` (the answer box),
``toolkit-guide-badge``, ``toolkit-guide-capacity`` (with ``data-status``: fits, tight,
does not fit), ``toolkit-guide-reasons``, ``toolkit-guide-warnings``,
``toolkit-guide-cost``, ``toolkit-guide-time``, ``toolkit-guide-error``.

Usage::

    from toolkit.guide.card import render_card
    html = render_card(recommend(Profile(monthly_volume=200_000)))
"""

from __future__ import annotations

import datetime as dt
import html
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from toolkit import facts
from toolkit.facts import PROVENANCE_LABEL, REVIEW_PERIOD, Fact
from toolkit.guide.capacity import CapacityStatus
from toolkit.guide.timing import format_duration, known_limits

if TYPE_CHECKING:
    from toolkit.guide.recommend import Recommendation

__all__ = ["error_card", "render_card", "source_link"]

# JupyterLab would typeset "$105.00 … $44.00" as mathematics: MathJax skips these classes.
_CARD_CLASSES = "toolkit-guide-card tex2jax_ignore mathjax_ignore"
_CARD = (
    "font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; font-size: 14px; "
    "line-height: 1.45; color: #1f2328; max-width: 62em"
)
_ANSWER = (
    "border-left: 6px solid {edge}; background: {fill}; border-radius: 6px; "
    "padding: 10px 16px; margin: 6px 0 10px 0"
)
_BADGE = (
    "display: inline-block; border-radius: 999px; padding: 2px 12px; margin: 0 0 8px 0; "
    "font-size: 13px; font-weight: 600; border: 1px solid {edge}; background: {fill}; "
    "color: {ink}"
)
_TAG = (
    "display: inline-block; border-radius: 4px; padding: 0 6px; margin-left: 4px; "
    "font-size: 11px; background: #fff8c5; color: #7d4e00; border: 1px solid #eac54f"
)
_LINK = "color: #0969da; text-decoration: underline"
_HEAD = "font-size: 15px; font-weight: 600; margin: 12px 0 4px 0"
_MUTED = "color: #59636e; font-size: 12px"
_TABLE = "border-collapse: collapse; margin: 4px 0; font-size: 13px"
_CELL = "border-bottom: 1px solid #d1d9e0; padding: 3px 10px 3px 0; text-align: left"
_NUM = _CELL.replace("text-align: left", "text-align: right")
_NOTE = "background: #f6f8fa; border: 1px solid #d1d9e0; border-radius: 6px; padding: 8px 12px"

_TONES = {
    "ok": ("#1a7f37", "#eef8f0", "#1a7f37"),
    "legacy": ("#bf8700", "#fff8e5", "#7d4e00"),
    "ended": ("#cf222e", "#ffebe9", "#82071e"),
    "closing": ("#bf8700", "#fff8c5", "#7d4e00"),
    "error": ("#8c959f", "#f6f8fa", "#59636e"),
}


def source_link(fact: Fact[Any], today: dt.date | None = None) -> str:
    """A visible link to the fact's source (its site, an arrow), the date it was read (and,
    given the answer's date ``today``, how old it was then: past the review period the reader
    is told to check the source), and a tag when the source is not AWS's own page."""
    url = fact.source
    parts = urlparse(url)
    label = parts.netloc
    if label == "github.com":
        label += "/" + "/".join(parts.path.strip("/").split("/")[:2])
    tag = ""
    if not fact.from_aws:
        tag = f'<span style="{_TAG}">{html.escape(PROVENANCE_LABEL[fact.provenance])}</span>'
    return (
        f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener" '
        f'title="{html.escape(url, quote=True)}" style="{_LINK}">{html.escape(label)}&nbsp;↗</a>'
        f' <span style="{_MUTED}">checked {fact.checked.isoformat()}{_age(fact, today)}</span>'
        f"{tag}"
    )


def _age(fact: Fact[Any], today: dt.date | None) -> str:
    days = None if today is None else fact.age(today)  # as of the answer's date: a saved
    if days is None or days < 0:  # answer does not change; read after it: nothing to warn of
        return ""
    text = "1 day old" if days == 1 else f"{days} days old"
    if days > REVIEW_PERIOD.days:
        return f" ({text}: may be out of date, check the source)"
    return f" ({text})"


def render_card(rec: Recommendation, *, compact: bool = False, notes: tuple[str, ...] = ()) -> str:
    """The whole answer as HTML. ``compact`` (worked profiles): the first three reasons
    shown, the rest and the cost table folded; ``notes``: extra lines for the time section
    (e.g. a benchmark file that could not be read)."""
    email = "email" in rec.profile.channels
    parts = [f'<div class="{_CARD_CLASSES}" style="{_CARD}">', _answer(rec), _capacity(rec)]
    badge = rec.pinpoint_badge
    if badge is not None:
        text, tone = badge
        edge, fill, ink = _TONES[tone]
        style = _BADGE.format(edge=edge, fill=fill, ink=ink)
        parts.append(
            f'<div><span class="toolkit-guide-badge" style="{style}">'
            f"{html.escape(text)}</span></div>"
        )
    parts.append(_reasons(rec, compact))
    # an unknown quota is said once, where the time would be; capacity in its own box
    warnings = [
        w
        for w in rec.warnings
        if not (email and w.rule == "quota-unknown") and not w.rule.startswith("capacity-")
    ]
    if warnings:
        day = rec.today
        items = "".join(
            f"<li>{html.escape(w.text)} {source_link(w.fact, day)}</li>" for w in warnings
        )
        parts.append(
            f'<div class="toolkit-guide-warnings"><div style="{_HEAD}">Watch out</div>'
            f'<ul style="margin: 0; padding-left: 1.4em">{items}</ul></div>'
        )
    if email:
        parts.append(_cost(rec, compact))
        parts.append(_time(rec, notes))
    else:
        parts.append(
            f'<div class="toolkit-guide-cost toolkit-guide-time" style="{_HEAD}">Cost and time'
            f'</div><div style="{_MUTED}">Email is not among the channels, so there is no SES '
            "estimate; AWS End User Messaging prices SMS, push and voice on its own page.</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def error_card(message: str) -> str:
    """What the guide shows when it cannot answer: the reason, and nothing left over."""
    edge, fill, _ = _TONES["error"]
    return (
        f'<div class="{_CARD_CLASSES}" style="{_CARD}">'
        f'<div class="toolkit-guide-recommendation toolkit-guide-error" '
        f'style="{_ANSWER.format(edge=edge, fill=fill)}">'
        f'<div style="{_MUTED}">No recommendation</div>'
        f'<div style="font-size: 17px; font-weight: 600; color: #59636e">Cannot answer: '
        f"{html.escape(message)}</div></div>"
        f'<div style="{_MUTED}">Reasons, cost and time appear once the question is complete.'
        "</div></div>"
    )


# --------------------------------------------------------------------------- the sections


def _capacity(rec: Recommendation) -> str:
    """A month's volume against the quota, right under the answer: red when it does not fit,
    amber when only the pacing margin does not, a quiet line when it fits."""
    cap = rec.capacity
    if cap is None or cap.status is CapacityStatus.UNKNOWN:
        return ""
    tone = {CapacityStatus.OVER: "ended", CapacityStatus.TIGHT: "closing"}.get(cap.status, "ok")
    edge, fill, ink = _TONES[tone]
    status = html.escape(cap.status.value)
    if cap.status is CapacityStatus.FITS:
        return (
            f'<div class="toolkit-guide-capacity" data-status="{status}" '
            f'style="color: {ink}; margin: 0 0 8px 0">✔ {html.escape(cap.headline())}</div>'
        )
    ask = html.escape(cap.ask())
    return (
        f'<div class="toolkit-guide-capacity" data-status="{status}" role="alert" '
        f'style="{_ANSWER.format(edge=edge, fill=fill)}; color: {ink}">'
        f'<div style="font-size: 16px; font-weight: 650">{html.escape(cap.headline())}</div>'
        f'<div style="margin-top: 4px">{ask} {source_link(facts.SES_QUOTA_INCREASE)}</div>'
        "</div>"
    )


def _answer(rec: Recommendation) -> str:
    tone = "legacy" if rec.primary.legacy else "ok"
    edge, fill, _ = _TONES[tone]
    migrate = ""
    if rec.alternative:
        migrate = (
            '<div style="margin-top: 4px">Migrate to: <b>'
            + html.escape(" + ".join(c.label for c in rec.alternative))
            + "</b></div>"
        )
    return (
        f'<div class="toolkit-guide-recommendation" style="{_ANSWER.format(edge=edge, fill=fill)}">'
        f'<div style="{_MUTED}">Recommendation · as of {rec.today.isoformat()}</div>'
        f'<div style="font-size: 20px; font-weight: 650">{html.escape(rec.summary)}</div>'
        f"{migrate}</div>"
    )


def _reasons(rec: Recommendation, compact: bool) -> str:
    day = rec.today
    items = [f"<li>{html.escape(r.text)} {source_link(r.fact, day)}</li>" for r in rec.reasons]
    shown, folded = (items[:3], items[3:]) if compact else (items, [])
    more = ""
    if folded:
        more = (
            f'<details><summary style="{_MUTED}">{len(folded)} more reason'
            f"{'s' if len(folded) > 1 else ''}</summary>"
            f'<ol start="4" style="margin: 0; padding-left: 1.6em">{"".join(folded)}</ol>'
            "</details>"
        )
    return (
        f'<div class="toolkit-guide-reasons"><div style="{_HEAD}">Why</div>'
        f'<ol style="margin: 0; padding-left: 1.6em">{"".join(shown)}</ol>{more}</div>'
    )


def _cost(rec: Recommendation, compact: bool) -> str:
    head = f'<div class="toolkit-guide-cost"><div style="{_HEAD}">Cost per month</div>'
    if not rec.cost.inputs.monthly_volume:
        hint = "Give the emails per month to see the cost."
        return head + f'<div style="{_MUTED}">{hint}</div></div>'
    cheapest = rec.cost.cheapest
    rows = []
    for plan in rec.cost.plans:
        weight = "font-weight: 600; " if plan is cheapest else ""
        status = "" if plan.available else " (not available)"
        breakdown = "; ".join(f"{html.escape(ln.item)} ${ln.usd:,.2f}" for ln in plan.lines)
        note = f'<br><span style="{_MUTED}">{html.escape(plan.note)}</span>' if plan.note else ""
        rows.append(
            f'<tr style="{weight}"><td style="{_CELL}">{html.escape(plan.plan)}{status}</td>'
            f'<td style="{_NUM}">${plan.monthly_usd:,.2f}</td>'
            f'<td style="{_CELL}">{breakdown}{note}</td></tr>'
        )
    sources = {ln.fact.source: ln.fact for plan in rec.cost.plans for ln in plan.lines}
    table = (
        f'<table style="{_TABLE}"><tr><th style="{_CELL}">plan</th>'
        f'<th style="{_NUM}">USD/month</th><th style="{_CELL}">breakdown</th></tr>'
        + "".join(rows)
        + "</table>"
        + "".join(f'<div style="{_MUTED}">{html.escape(n)}</div>' for n in rec.cost.notes)
        + f'<div style="{_MUTED}">Sources: '
        + " · ".join(source_link(f, rec.today) for f in sources.values())
        + "</div>"
    )
    line = (
        f"<div>Cheapest available: <b>{html.escape(cheapest.plan)}, about "
        f"${cheapest.monthly_usd:,.2f}</b> for {rec.cost.inputs.monthly_volume:,} emails.</div>"
    )
    if compact:
        folded = f'<details><summary style="{_MUTED}">every plan</summary>{table}</details>'
        return head + line + folded + "</div>"
    return head + line + table + "</div>"


def _time(rec: Recommendation, notes: tuple[str, ...]) -> str:
    t = rec.time
    parts = [f'<div class="toolkit-guide-time"><div style="{_HEAD}">Time to send</div>']
    if not t.messages:
        hint = "Give the emails per month (or one send) to see how long it takes."
        parts.append(f'<div style="{_MUTED}">{hint}</div>')
    elif t.quota_known and t.at_quota_s is not None and t.max_send_rate is not None:
        daily = (
            f", {t.max_24_hour_send:,.0f} per 24 h"
            if t.max_24_hour_send is not None and t.max_24_hour_send >= 0
            else ""
        )
        unknown_daily = ""
        if t.max_24_hour_send is None:
            unknown_daily = " Your 24-hour quota is not given; it can only make this longer."
        headroom = ""
        if t.at_headroom_s is not None:
            headroom = (
                f"; paced at {facts.SES_RATE_HEADROOM.value:.0%} of it (a field report's "
                "margin, not AWS's): "
                f"{_duration(t.at_headroom_s)}"
            )
        cap = rec.capacity
        over = (
            cap is not None
            and cap.status is CapacityStatus.OVER
            and t.messages >= cap.monthly_volume
        )
        red = f' style="color: {_TONES["ended"][2]}"' if over else ""
        month = " (more than a month: see above)" if over else ""
        parts.append(
            f"<div>{t.messages:,} emails at your quota ({t.max_send_rate:g}/s{daily}): "
            f"<b{red}>{_duration(t.at_quota_s)}{month}</b>{headroom}. Limited by the "
            f"{t.limited_by}.{unknown_daily} {source_link(t.quota_fact, rec.today)}</div>"
        )
    else:
        parts.append(
            f'<div style="{_NOTE}"><b>No time estimate: your sending quota is not given.</b> '
            f"{html.escape(known_limits())} Enter your max send rate to see the time. "
            f"{source_link(t.quota_fact, rec.today)}</div>"
        )
    if t.measured and t.messages:
        head = (
            f'<tr><th style="{_CELL}">transport</th><th style="{_NUM}">measured</th>'
            f'<th style="{_NUM}">time at that speed</th>'
            + (f'<th style="{_NUM}">with your quota</th>' if t.quota_known else "")
            + "</tr>"
        )
        rows = "".join(
            f'<tr><td style="{_CELL}">{html.escape(m.label)}</td>'
            f'<td style="{_NUM}">{m.rate:,.0f}/s</td><td style="{_NUM}">{_duration(m.alone_s)}</td>'
            + (
                f'<td style="{_NUM}"><b>{_duration(m.with_quota_s)}</b></td>'
                if m.with_quota_s is not None
                else ""
            )
            + "</tr>"
            for m in t.measured
        )
        parts.append(
            f'<div style="margin-top: 6px">The toolkit\'s own measured speed '
            f'<span style="{_MUTED}">({html.escape(t.measured_source)})</span>:</div>'
            f'<table style="{_TABLE}">{head}{rows}</table>'
        )
    parts += [f'<div style="{_MUTED}">{html.escape(n)}</div>' for n in notes]
    parts.append("</div>")
    return "".join(parts)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return "never (daily quota is 0)" if math.isinf(seconds) else format_duration(seconds)
