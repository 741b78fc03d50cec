"""The decision guide as ipywidgets: questions on top, the answer (and why) below.

Why a separate module: ipywidgets is imported only here, so the plain guide works without a
notebook front end. Every change re-runs :func:`toolkit.guide.recommend`.

Stable DOM hooks for browser tests: the recommendation sits in an HTML widget whose value holds
``<div class="toolkit-guide-recommendation">…</div>``; inputs carry CSS classes
``toolkit-guide-<name>`` (e.g. ``toolkit-guide-channels``, ``toolkit-guide-channel-sms``,
``toolkit-guide-third-party``, ``toolkit-guide-existing-pinpoint`` (a dropdown),
``toolkit-guide-date``, ``toolkit-guide-monthly-volume``, ``toolkit-guide-benchmarks``).

Usage (in a notebook cell)::

    from toolkit.guide import show
    show(channels={"email", "sms"}, monthly_volume=2_000_000)
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import fields
from typing import Any

import ipywidgets as w

from toolkit.errors import ConfigurationError
from toolkit.guide.profile import CHANNELS, Profile
from toolkit.guide.recommend import Recommendation, recommend
from toolkit.guide.timing import Throughput, format_duration

_NEEDS: tuple[tuple[str, str], ...] = (
    ("third_party", "Third-party app or language without an AWS SDK (SMTP)"),
    ("receive", "Receive email"),
    ("config_sets", "Configuration sets / event publishing"),
    ("sending_authorization", "Sending authorization"),
    ("dedicated_ips", "Dedicated IPs"),
    ("tenants", "Tenant isolation"),
    ("templates", "Templates"),
    ("attachments", "Attachments"),
    ("endpoint_ids", "Address by Pinpoint endpoint / user IDs"),
)  # plus existing_pinpoint: a dropdown, because that question is about a date
_NUMBERS: tuple[tuple[str, str, type], ...] = (
    ("monthly_volume", "Emails / month", int),
    ("peak_rate", "Peak msgs/s", float),
    ("messages", "Send to time (0 = monthly)", int),
    ("max_send_rate", "Max send rate /s (0 = unknown)", float),
    ("max_24_hour_send", "Max 24 h send (0 = unknown, -1 = unlimited)", float),
    ("attachments_gb", "Attachment GB / month", float),
    ("dedicated_ip_count", "Dedicated IPs", int),
    ("tenant_count", "Tenants", int),
)
# Labels and fields sit in their own grid columns (label, field, label, field): a label
# inside the widget (``description``) shares the widget's fixed 300 px with its field, so a
# long label squashed the field to a few pixels.
_FIELDS_GRID = "max-content minmax(10em, 1fr) max-content minmax(10em, 1fr)"
_FILL = "auto"  # the width of a grid item that stretches over its cell


def _css(name: str) -> str:
    return "toolkit-guide-" + name.replace("_", "-")


def _link(url: str, checked: dt.date) -> str:
    return (
        f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener">source</a>'
        f" <small>(checked {checked.isoformat()})</small>"
    )


class GuideUI:
    """The widgets, their wiring, and the latest :class:`Recommendation`."""

    def __init__(
        self, *, today: dt.date | None = None, measured: Any = None, **initial: Any
    ) -> None:
        known = {f.name for f in fields(Profile)}
        unknown = set(initial) - known
        if unknown:
            raise ConfigurationError(f"unknown guide option(s): {sorted(unknown)}")
        base = Profile(**initial)
        self.measured = Throughput.coerce(measured)
        self.recommendation: Recommendation | None = None
        self.error: str | None = None

        self.channels = {
            ch: w.Checkbox(
                value=ch in base.channels,
                description=ch,
                indent=False,
                layout=w.Layout(width="auto"),
            ).add_class(_css(f"channel-{ch}"))
            for ch in CHANNELS
        }
        self.channel_box = w.HBox([w.Label("Channels:"), *self.channels.values()]).add_class(
            _css("channels")
        )
        self.needs: dict[str, w.ValueWidget] = {
            name: w.Checkbox(
                value=bool(getattr(base, name)),
                description=label,
                indent=False,
                layout=w.Layout(width="auto"),
            ).add_class(_css(name))
            for name, label in _NEEDS
        }
        self.needs["existing_pinpoint"] = w.Dropdown(
            options=[
                ("None, or since 2025-05-20", False),
                ("Created before 2025-05-20", True),
            ],
            value=base.existing_pinpoint,
            tooltip="Pinpoint account created before 2025-05-20?",
            layout=w.Layout(width=_FILL),
        ).add_class(_css("existing_pinpoint"))
        self.numbers: dict[str, w.ValueWidget] = {}
        for name, label, kind in _NUMBERS:
            value = getattr(base, name)
            widget_cls = w.IntText if kind is int else w.FloatText
            self.numbers[name] = widget_cls(
                value=value or 0, tooltip=label, layout=w.Layout(width=_FILL)
            ).add_class(_css(name))
        self.date = w.DatePicker(
            value=today or dt.date.today(), tooltip="As of", layout=w.Layout(width=_FILL)
        ).add_class(_css("date"))
        self.benchmarks = w.Text(
            value="",
            placeholder="benchmarks/results/latest.json",
            tooltip="Benchmark JSON",
            continuous_update=False,
            layout=w.Layout(width=_FILL),
        ).add_class(_css("benchmarks"))

        self.out_recommendation = w.HTML().add_class(_css("recommendation-box"))
        self.out_reasons = w.HTML().add_class(_css("reasons"))
        self.out_warnings = w.HTML().add_class(_css("warnings"))
        self.out_cost = w.HTML().add_class(_css("cost"))
        self.out_time = w.HTML().add_class(_css("time"))
        self.out_features = w.HTML().add_class(_css("features"))

        inputs: list[w.Widget] = [
            *self.channels.values(),
            *self.needs.values(),
            *self.numbers.values(),
            self.date,
            self.benchmarks,
        ]
        for widget in inputs:
            widget.observe(self._on_change, names="value")

        needs_grid = w.GridBox(
            [box for name, box in self.needs.items() if name != "existing_pinpoint"],
            layout=w.Layout(grid_template_columns="repeat(2, minmax(18em, 1fr))"),
        )
        labelled = [
            *((label, self.numbers[name]) for name, label, _ in _NUMBERS),
            ("Pinpoint account", self.needs["existing_pinpoint"]),
            ("As of", self.date),
            ("Benchmark JSON", self.benchmarks),
        ]
        fields_grid = w.GridBox(
            [part for label, field in labelled for part in (w.Label(label), field)],
            layout=w.Layout(
                grid_template_columns=_FIELDS_GRID, grid_gap="0 1em", align_items="center"
            ),
        )
        self.widget = w.VBox(
            [
                w.HTML("<h3>Pinpoint or SES? Which interface?</h3>"),
                self.channel_box,
                needs_grid,
                fields_grid,
                self.out_recommendation,
                self.out_reasons,
                self.out_warnings,
                w.HTML("<h4>Cost per month</h4>"),
                self.out_cost,
                w.HTML("<h4>Time</h4>"),
                self.out_time,
                w.Accordion(children=[self.out_features], titles=("Feature table",)),
            ]
        ).add_class("toolkit-guide")
        self.update()

    # -- state -------------------------------------------------------------------------------

    def profile(self) -> Profile:
        """The Profile the widgets currently describe."""
        values: dict[str, Any] = {name: box.value for name, box in self.needs.items()}
        for name, box in self.numbers.items():
            values[name] = box.value
        for name in ("messages", "max_send_rate", "max_24_hour_send"):
            if not values[name]:
                values[name] = None
        channels = frozenset(ch for ch, box in self.channels.items() if box.value)
        return Profile(channels=channels, **values)

    def _on_change(self, _change: Any) -> None:
        self.update()

    def update(self) -> None:
        """Re-run the guide and refresh every output (errors go into the answer box)."""
        try:
            measured = self.measured
            path = self.benchmarks.value.strip()
            if path:
                measured = Throughput.from_benchmarks(path)
            rec = recommend(self.profile(), today=self.date.value, measured=measured)
        except ConfigurationError as exc:
            self.error = str(exc)
            self.recommendation = None
            self.out_recommendation.value = (
                '<div class="toolkit-guide-recommendation toolkit-guide-error">'
                f"<b>Cannot answer:</b> {html.escape(str(exc))}</div>"
            )
            return
        self.error = None
        self.recommendation = rec
        self.out_recommendation.value = render_recommendation(rec)
        self.out_reasons.value = render_reasons(rec)
        self.out_warnings.value = render_warnings(rec)
        self.out_cost.value = render_cost(rec)
        self.out_time.value = render_time(rec)
        self.out_features.value = render_features(rec)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def render_recommendation(rec: Recommendation) -> str:
    """The answer line (the browser-test hook)."""
    alt = ""
    if rec.alternative:
        alt = (
            "<br><small>Migrate to: "
            + html.escape(" + ".join(c.label for c in rec.alternative))
            + "</small>"
        )
    return (
        f'<div class="toolkit-guide-recommendation"><b>Recommendation '
        f"({rec.today.isoformat()}):</b> {html.escape(rec.summary)}{alt}</div>"
    )


def render_reasons(rec: Recommendation) -> str:
    """Ranked reasons, each with its source link."""
    items = "".join(
        f"<li>{html.escape(r.text)} {_link(r.fact.source, r.fact.checked)}</li>"
        for r in rec.reasons
    )
    return f'<div class="toolkit-guide-reasons-list"><b>Why</b><ol>{items}</ol></div>'


def render_warnings(rec: Recommendation) -> str:
    """Warnings, each with its source link."""
    if not rec.warnings:
        return ""
    items = "".join(
        f"<li>⚠ {html.escape(r.text)} {_link(r.fact.source, r.fact.checked)}</li>"
        for r in rec.warnings
    )
    return f'<div class="toolkit-guide-warnings-list"><b>Warnings</b><ul>{items}</ul></div>'


def render_cost(rec: Recommendation) -> str:
    """The plans table, cheapest available in bold."""
    cheapest = rec.cost.cheapest
    rows = []
    for p in rec.cost.plans:
        sources = " ".join(sorted({_link(ln.fact.source, ln.fact.checked) for ln in p.lines}))
        breakdown = "; ".join(f"{html.escape(ln.item)} ${ln.usd:,.2f}" for ln in p.lines)
        style = ' style="font-weight:bold"' if p is cheapest else ""
        avail = "" if p.available else " (not available)"
        rows.append(
            f"<tr{style}><td>{html.escape(p.plan)}{avail}</td>"
            f"<td>${p.monthly_usd:,.2f}</td><td>{breakdown}<br><small>"
            f"{html.escape(p.note)}</small></td><td>{sources}</td></tr>"
        )
    notes = "".join(f"<li><small>{html.escape(n)}</small></li>" for n in rec.cost.notes)
    return (
        "<table><tr><th>plan</th><th>USD/month</th><th>breakdown</th><th></th></tr>"
        + "".join(rows)
        + f"</table><ul>{notes}</ul>"
    )


def render_time(rec: Recommendation) -> str:
    """Time at the quota, with headroom, and at measured rates."""
    t = rec.time
    assumed = " <i>(sandbox quota assumed; read GetAccount)</i>" if t.quota_assumed else ""
    lines = [
        f"{t.messages:,} messages at {t.max_send_rate:g}/s{assumed}: "
        f"<b>{format_duration(t.at_quota_s)}</b>; with headroom "
        f"{format_duration(t.at_headroom_s)} (limited by {t.limited_by}) "
        f"{_link(t.quota_fact.source, t.quota_fact.checked)}"
    ]
    lines += [
        f"measured {html.escape(label)}: {rate:,.1f} msg/s → "
        f"<b>{format_duration(sec)}</b> <small>({html.escape(t.measured_source)})</small>"
        for label, rate, sec in t.measured
    ]
    return '<div class="toolkit-guide-time-list">' + "<br>".join(lines) + "</div>"


def render_features(rec: Recommendation) -> str:
    """The feature table, each cell linked to its fact."""
    table = rec.feature_table()
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = []
    for feature, row in table.iterrows():
        cells = "".join(
            f'<td>{html.escape(cell.text)} <a href="{html.escape(cell.fact.source, quote=True)}"'
            f' target="_blank" rel="noopener"><sup>src</sup></a></td>'
            for cell in row
        )
        body.append(f"<tr><td>{html.escape(str(feature))}</td>{cells}</tr>")
    return f"<table><tr><th>feature</th>{head}</tr>{''.join(body)}</table>"


def build(**initial: Any) -> GuideUI:
    """Build the UI without displaying it (tests, embedding)."""
    return GuideUI(**initial)


def show(**initial: Any) -> w.VBox:
    """Build the guide; the returned box renders when it is a cell's last expression.

    ``initial`` takes Profile fields (``channels``, ``monthly_volume``…), ``today`` and
    ``measured`` (Throughput, results DataFrame, benchmark JSON path or {label: rate}).
    The :class:`GuideUI` is reachable as ``box.guide``.
    """
    ui = GuideUI(**initial)
    box = ui.widget
    box.guide = ui
    return box
