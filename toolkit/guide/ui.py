"""The decision guide as ipywidgets: the questions on the left, the answer card on the right.

Why a separate module: ipywidgets is imported only here, so the plain guide works without a
notebook front end. Every change re-runs :func:`toolkit.guide.recommend` and redraws the whole
answer (:mod:`.card`), so nothing from an earlier answer can linger; a question the guide
cannot answer clears it. Questions that only concern email are greyed out without email.

What a saved notebook shows before it runs: :func:`show` returns a box whose display carries
the answer card as HTML next to the live widget (:class:`toolkit.notebook.StaticHtmlBox`), and
JupyterLab shows that HTML wherever it cannot show the widget (a notebook not run or not
trusted yet, a rendered copy on a website). Run, saved and reopened without a kernel, the
widget cannot be drawn, so the answer is also kept in a plain HTML output below it, updated
with every change (``watch_static``).

Stable DOM hooks for browser tests: the card's classes (see :mod:`.card`), and inputs with
CSS classes ``toolkit-guide-<name>``: ``toolkit-guide-channels``, ``toolkit-guide-channel-sms``,
``toolkit-guide-third-party``, ``toolkit-guide-existing-pinpoint`` (a dropdown),
``toolkit-guide-date``, ``toolkit-guide-monthly-volume``, ``toolkit-guide-max-send-rate``,
``toolkit-guide-dedicated-ip-count``, ``toolkit-guide-multi-region``,
``toolkit-guide-marketing``, ``toolkit-guide-benchmarks`` (a dropdown of saved runs) and
``toolkit-guide-benchmark-path``; ``toolkit-guide-export`` holds the download buttons
(``toolkit-guide-export-md``, ``toolkit-guide-export-json``) and ``toolkit-guide-features``
the feature table, which spans the guide's width below the questions and the answer.

Usage (in a notebook cell)::

    from toolkit.guide import show
    show(channels={"email", "sms"}, monthly_volume=2_000_000)
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import fields
from typing import Any
from urllib.parse import quote

import ipywidgets as w

from toolkit.errors import ConfigurationError
from toolkit.guide.card import error_card, render_card, source_link
from toolkit.guide.profile import CHANNEL_LABEL, CHANNELS, Profile
from toolkit.guide.recommend import Recommendation, recommend
from toolkit.guide.timing import Throughput, saved_runs
from toolkit.notebook import StaticHtmlBox

_NEEDS: tuple[tuple[str, str, bool], ...] = (
    # (Profile field, label, about email only)
    ("third_party", "Third-party app, or no AWS SDK (SMTP)", True),
    ("receive", "Receive email", True),
    ("config_sets", "Configuration sets / event publishing", True),
    ("sending_authorization", "Send for another account's identity", True),
    ("templates", "Templates", True),
    ("attachments", "Attachments", True),
    ("endpoint_ids", "Address people by Pinpoint endpoint / user IDs", False),
    ("multi_region", "Keep sending if a Region fails (global endpoints)", True),
    ("marketing", "Mail people subscribe to (newsletters: unsubscribe)", True),
)  # plus existing_pinpoint: a dropdown, because that question is about a date
_NUMBERS: tuple[tuple[str, str, type, float, float], ...] = (
    # (Profile field or count, label, kind, minimum, maximum); all of them are about email
    ("monthly_volume", "Emails per month", int, 0, 10**11),
    ("peak_rate", "Peak emails per second", float, 0, 10**7),
    ("messages", "One send to time (0 = a month's)", int, 0, 10**11),
    ("max_send_rate", "Your max send rate per second (0 = not known)", float, 0, 10**7),
    ("max_24_hour_send", "Your 24-hour quota (0 = not known, -1 = unlimited)", float, -1, 10**11),
    ("attachments_gb", "Attachments, GB per month", float, 0, 10**7),
    ("dedicated_ip_count", "Dedicated IPs (0 = shared IPs)", int, 0, 10_000),
    ("tenant_count", "Tenants (0 = no tenant isolation)", int, 0, 10**8),
)
_UNKNOWN_WHEN_ZERO = ("messages", "max_send_rate", "max_24_hour_send")
_OTHER_FILE = "\0other"  # the benchmark picker's "a file…" entry
_FILL = "auto"  # the width of a grid item that stretches over its cell


def _css(name: str) -> str:
    return "toolkit-guide-" + name.replace("_", "-")


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
        self.notes: tuple[str, ...] = ()

        self.channels = {
            ch: w.Checkbox(
                value=ch in base.channels,
                description=CHANNEL_LABEL[ch],
                indent=False,
                layout=w.Layout(width="auto", margin="0 1em 0 0"),
            ).add_class(_css(f"channel-{ch}"))
            for ch in CHANNELS
        }
        self.channel_box = w.HBox(
            [w.HTML("<b>Channels</b>&nbsp;&nbsp;"), *self.channels.values()]
        ).add_class(_css("channels"))
        self.needs: dict[str, w.ValueWidget] = {
            name: w.Checkbox(
                value=bool(getattr(base, name)),
                description=label,
                indent=False,
                layout=w.Layout(width="auto"),
            ).add_class(_css(name))
            for name, label, _ in _NEEDS
        }
        self.needs["existing_pinpoint"] = w.Dropdown(
            options=[("No", False), ("Yes", True)],
            value=base.existing_pinpoint,
            layout=w.Layout(width=_FILL),
        ).add_class(_css("existing_pinpoint"))
        start = {
            "dedicated_ip_count": max(base.dedicated_ip_count, 1) if base.dedicated_ips else 0,
            "tenant_count": max(base.tenant_count, 1) if base.tenants else 0,
        }
        self.numbers: dict[str, w.ValueWidget] = {}
        for name, label, kind, low, high in _NUMBERS:
            value = start.get(name, getattr(base, name, 0))
            cls = w.BoundedIntText if kind is int else w.BoundedFloatText
            self.numbers[name] = cls(
                value=value if value is not None else 0,
                min=low,
                max=high,
                tooltip=label,
                layout=w.Layout(width=_FILL),
            ).add_class(_css(name))
        self.date = w.DatePicker(
            value=today or dt.date.today(), tooltip="As of", layout=w.Layout(width=_FILL)
        ).add_class(_css("date"))
        runs = [(_run_label(path), str(path)) for path in saved_runs()]
        self.benchmarks = w.Dropdown(
            options=[("none", ""), *runs, ("a file…", _OTHER_FILE)],
            value="",
            layout=w.Layout(width=_FILL),
        ).add_class(_css("benchmarks"))
        self.benchmark_path = w.Text(
            value="",
            placeholder="results.json, relative to this notebook or the checkout",
            continuous_update=False,
            layout=w.Layout(width=_FILL, display="none"),
        ).add_class(_css("benchmark_path"))

        self.answer = w.HTML().add_class(_css("answer"))
        self.export = w.HTML().add_class(_css("export"))
        self.features_html = w.HTML(layout=w.Layout(width="100%")).add_class(_css("features"))
        self.features = w.Accordion(
            children=[self.features_html],
            titles=("What each interface offers (feature table, with sources)",),
            selected_index=None,
            layout=w.Layout(width="100%"),
        )

        inputs: list[w.Widget] = [
            *self.channels.values(),
            *self.needs.values(),
            *self.numbers.values(),
            self.date,
            self.benchmarks,
            self.benchmark_path,
        ]
        for widget in inputs:
            widget.observe(self._on_change, names="value")
        self.widget = self._layout()
        self.widget.guide = self
        self.widget.static_html = self.static_html
        self.widget.static_text = self.static_text
        self.widget.watch_static(self.answer)  # the answer survives a save (a static output)
        self.update()

    def _layout(self) -> GuideBox:
        needs_box = w.VBox(
            [box for name, box in self.needs.items() if name != "existing_pinpoint"],
            layout=w.Layout(margin="4px 0"),
        )
        labelled = [
            *((label, self.numbers[name]) for name, label, *_ in _NUMBERS),
            ("A Pinpoint account created before 2025-05-20?", self.needs["existing_pinpoint"]),
            ("As of", self.date),
            ("Measured speed", self.benchmarks),
            ("", self.benchmark_path),
        ]
        # Labels are HTML so that long ones wrap; the fields keep a fixed, readable width.
        grid = w.GridBox(
            [
                part
                for label, field in labelled
                for part in (w.HTML(f"<span style='line-height: 1.25'>{label}</span>"), field)
            ],
            layout=w.Layout(
                grid_template_columns="minmax(10em, 1fr) 11em",
                grid_gap="3px 0.8em",
                align_items="center",
            ),
        )
        questions = w.VBox(
            [self.channel_box, w.HTML("<b>What you need</b>"), needs_box, grid],
            layout=w.Layout(flex="1 1 26em", min_width="24em", margin="0 1.5em 0 0"),
        ).add_class(_css("questions"))
        answer = w.VBox(
            [self.answer, self.export], layout=w.Layout(flex="2 1 30em", min_width="26em")
        )
        # The feature table has four wide columns: it gets the guide's whole width, below
        # the questions and the answer, not the answer's column (where Pinpoint's was cut off).
        return GuideBox(
            [
                w.HTML("<h3 style='margin: 0 0 6px 0'>Pinpoint or SES? Which interface?</h3>"),
                w.Box([questions, answer], layout=w.Layout(flex_flow="row wrap")),
                self.features,
            ]
        ).add_class("toolkit-guide")

    # -- state -------------------------------------------------------------------------------

    def profile(self) -> Profile:
        """The Profile the widgets currently describe."""
        values: dict[str, Any] = {name: box.value for name, box in self.needs.items()}
        for name, box in self.numbers.items():
            values[name] = box.value
        for name in _UNKNOWN_WHEN_ZERO:
            if not values[name]:
                values[name] = None
        ips, tenants = values.pop("dedicated_ip_count"), values.pop("tenant_count")
        channels = frozenset(ch for ch, box in self.channels.items() if box.value)
        return Profile(
            channels=channels,
            dedicated_ips=ips > 0,
            dedicated_ip_count=max(ips, 1),
            tenants=tenants > 0,
            tenant_count=tenants,
            **values,
        )

    def _measured(self) -> tuple[Throughput | None, tuple[str, ...]]:
        """The throughput picked (or given), and a note when a picked file cannot be read."""
        choice = self.benchmarks.value
        self.benchmark_path.layout.display = "flex" if choice == _OTHER_FILE else "none"
        path = self.benchmark_path.value.strip() if choice == _OTHER_FILE else choice
        if not path:
            return self.measured, ()
        try:
            return Throughput.from_benchmarks(path), ()
        except ConfigurationError as exc:
            return self.measured, (f"Measured speed not used: {exc}",)

    def _on_change(self, _change: Any) -> None:
        self.update()

    def update(self) -> None:
        """Re-run the guide and redraw the answer (a question it cannot answer clears it)."""
        email = self.channels["email"].value
        for name, _, email_only in _NEEDS:
            self.needs[name].disabled = email_only and not email
        for name, *_ in _NUMBERS:
            self.numbers[name].disabled = not email or (
                name == "attachments_gb" and not self.needs["attachments"].value
            )
        measured, self.notes = self._measured()
        try:
            rec = recommend(self.profile(), today=self.date.value, measured=measured)
        except ConfigurationError as exc:
            self.error = str(exc)
            self.recommendation = None
            self.answer.value = error_card(str(exc))
            self.export.value = ""
            self.features.layout.display = "none"
            return
        self.error = None
        self.recommendation = rec
        self.answer.value = render_card(rec, notes=self.notes)
        self.export.value = export_links(rec)
        self.features.layout.display = "flex" if email else "none"
        self.features_html.value = render_features(rec)

    def static_html(self) -> str:
        """The current answer as plain HTML (what a saved notebook shows before it runs)."""
        intro = (
            "<div style='color: #59636e; font-size: 12px; margin-bottom: 4px; "
            "font-family: system-ui, -apple-system, sans-serif'>"
            "The interactive guide: run the notebook to change the questions. The answer for "
            f"{html.escape(_question(self.profile()) if self.error is None else '…')}:</div>"
        )
        return intro + self.answer.value

    def static_text(self) -> str:
        """One line for plain-text front ends."""
        rec = self.recommendation
        return f"Pinpoint or SES guide: {rec.summary}" if rec else f"Cannot answer: {self.error}"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


class GuideBox(StaticHtmlBox):
    """The guide's outer box; its display carries the answer as HTML beside the widget."""

    guide: GuideUI


def _question(profile: Profile) -> str:
    channels = " + ".join(CHANNEL_LABEL[c] for c in CHANNELS if c in profile.channels)
    volume = f", {profile.monthly_volume:,} emails per month" if profile.monthly_volume else ""
    return channels + volume


def _run_label(path: Any) -> str:
    try:
        return Throughput.from_benchmarks(path).source
    except ConfigurationError:
        return str(path)


def export_links(rec: Recommendation) -> str:
    """Two download buttons, the answer as Markdown and as JSON (data: links, so they work in
    the browser without a round trip to the kernel and in a saved notebook's widget state)."""
    button = (
        "display: inline-block; margin: 2px 8px 0 0; padding: 3px 12px; border-radius: 6px; "
        "border: 1px solid #d1d9e0; background: #f6f8fa; color: #1f2328; font-size: 13px; "
        "text-decoration: none; font-family: system-ui, -apple-system, sans-serif"
    )
    stem = f"ses-guide-{rec.today.isoformat()}"
    links = [
        (f"{stem}.md", "text/markdown", rec.to_markdown(), "⤓ Markdown"),
        (f"{stem}.json", "application/json", rec.to_json(), "⤓ JSON"),
    ]
    return (
        '<div class="toolkit-guide-export-links" style="margin: 2px 0 8px 0">'
        '<span style="color: #59636e; font-size: 12px; margin-right: 6px">Share this answer:'
        "</span>"
        + "".join(
            f'<a class="toolkit-guide-export-{name.rsplit(".", 1)[1]}" download="{name}" '
            f'href="data:{mime};charset=utf-8,{quote(text)}" style="{button}">{label}</a>'
            for name, mime, text, label in links
        )
        + "</div>"
    )


def render_features(rec: Recommendation) -> str:
    """The feature table, each cell linked to its fact, as wide as the guide."""
    table, day = rec.feature_table(), rec.today
    cell = (
        "border-bottom: 1px solid #d1d9e0; padding: 3px 10px 3px 0; text-align: left; "
        "vertical-align: top"
    )
    head = "".join(f'<th style="{cell}">{html.escape(c)}</th>' for c in table.columns)
    body = []
    for feature, row in table.iterrows():
        cells = "".join(
            f'<td style="{cell}">{html.escape(c.text)}<br>{source_link(c.fact, day)}</td>'
            for c in row
        )
        body.append(f'<tr><td style="{cell}"><b>{html.escape(str(feature))}</b></td>{cells}</tr>')
    return (
        '<table style="border-collapse: collapse; font-size: 12px; width: 100%">'
        f'<tr><th style="{cell}">feature</th>{head}</tr>{"".join(body)}</table>'
    )


def build(**initial: Any) -> GuideUI:
    """Build the UI without displaying it (tests, embedding)."""
    return GuideUI(**initial)


def show(**initial: Any) -> GuideBox:
    """Build the guide; the returned box renders when it is a cell's last expression.

    ``initial`` takes Profile fields (``channels``, ``monthly_volume``…), ``today`` and
    ``measured`` (Throughput, results DataFrame, benchmark JSON path or {label: rate}).
    The :class:`GuideUI` is reachable as ``box.guide``.
    """
    return GuideUI(**initial).widget
