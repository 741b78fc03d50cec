"""The plan before sending: what will be sent, what will not and why, how long and how much.

Why: a dry run's status counts fold a repeated recipient into "skipped" and cut reasons short;
a person deciding whether to send needs every row that will not go, the columns that say
who it is, the full reason, and the time and cost at the account's pace. The same plan
prints for the CLI's ``--dry-run`` and displays in a notebook.

Duplicates are compared as pre-flight compares them (:mod:`toolkit.compose.preflight`):
addresses normalized (domain lower-cased, IDNA), and case-folded, since SES would send
``Ana@x`` and ``ana@x`` both while mailbox providers deliver both to one inbox; those are
flagged "letter case".

Usage::

    from toolkit.compose.sendplan import plan_table
    plan = plan_table(df, via="ses", sender="shop@example.com", subject="Hi", rate=14)
    plan                 # in a notebook; print(plan.to_text()) in a terminal
    plan.table()         # the rows that will not be sent, with the reasons in full
"""

from __future__ import annotations

import html as html_lib
from dataclasses import dataclass
from typing import Any

import pandas as pd

from toolkit import facts
from toolkit.compose.plan import Plan
from toolkit.compose.spec import DUPLICATE_RECIPIENT, ComposeSpec
from toolkit.errors import ConfigurationError
from toolkit.transports.registry import through_pinpoint

_NO_MATH = "tex2jax_ignore mathjax_ignore"  # MathJax leaves "$0.12 … $0.10" as text
__all__ = ["SendPlan", "from_plan"]

_IDENTIFY = 2  # columns beside the address that say who a row is, when none are named


@dataclass(frozen=True, repr=False)
class SendPlan:
    """A send's plan: counts, the rows that will not go (with reasons), time and cost."""

    transport: str
    total: int
    will_send: int
    not_sent: pd.DataFrame  # rows that will not be sent, and sent rows repeating an address
    rate: float | None  # recipients per second the send will pace to
    daily_quota: float | None  # recipients per 24 h (None: unlimited or unknown)
    price_per_message: float | None  # USD, with its source in price_note
    price_note: str

    def summary(self) -> pd.DataFrame:
        """Rows by what happens to them: sent, or not sent and why (code)."""
        counts: dict[str, int] = {"will be sent": self.will_send}
        for (sent, kind), group in self.not_sent.groupby(["sent", "what"], sort=False):
            counts[f"{'sent, but' if sent == 'yes' else 'not sent:'} {kind}"] = len(group)
        return pd.DataFrame({"rows": counts}).rename_axis("what")

    def table(self) -> pd.DataFrame:
        """The rows that will not be sent, and sent rows whose address repeats an earlier
        row's (other content, or other letter case): who (identifying columns), why in full."""
        return self.not_sent

    @property
    def seconds(self) -> float | None:
        """Seconds of sending at ``rate`` (None without a rate), ignoring the daily quota."""
        return self.will_send / self.rate if self.rate else None

    @property
    def days(self) -> int:
        """24-hour windows the daily quota needs (1 when it fits or is unlimited)."""
        if not self.daily_quota or self.daily_quota < 0 or self.will_send <= self.daily_quota:
            return 1
        return -(-self.will_send // int(self.daily_quota))

    @property
    def cost_usd(self) -> float | None:
        return self.will_send * self.price_per_message if self.price_per_message else None

    def pace_text(self) -> str:
        """Time and cost in one sentence."""
        if self.rate:
            when = f"about {_duration(self.seconds or 0.0)} at {self.rate:g} recipients/s"
        else:
            when = "time unknown (no rate: give rate= or the account's quota)"
        if self.days > 1:
            when += (f"; the daily quota of {self.daily_quota:,.0f} spreads it over "
                     f"{self.days} days")  # fmt: skip
        cost = ""
        if self.cost_usd is not None:
            usd = f"{self.cost_usd:,.2f}" if self.cost_usd >= 1 else f"{self.cost_usd:.4f}"
            cost = f"; about ${usd} ({self.price_note})"
        head = f"{self.will_send:,} of {self.total:,} rows will be sent via {self.transport}"
        return f"{head}: {when}{cost}"

    def to_text(self) -> str:
        """The plan for a terminal: the sentence, the summary, every row not sent in full."""
        out = [self.pace_text(), "", self.summary().to_string()]
        if len(self.not_sent):
            with pd.option_context("display.max_colwidth", None, "display.width", 10_000,
                                   "display.max_rows", None):  # fmt: skip
                out += ["", "Rows that will not be sent (sent=no), or repeat an address:",
                        self.not_sent.to_string()]  # fmt: skip
        return "\n".join(out)

    __str__ = __repr__ = to_text

    def _repr_html_(self) -> str:
        # JupyterLab would typeset "$0.12 … $0.10" as LaTeX: MathJax skips the container's classes.
        def esc(value: object) -> str:
            return html_lib.escape(str(value))

        cell = "text-align: left; vertical-align: top; padding: 2px 10px 2px 0"
        summary = "".join(
            f"<tr><td style='{cell}'>{esc(what)}</td><td style='{cell}'>{rows:,}</td></tr>"
            for what, rows in self.summary()["rows"].items()
        )
        parts = [
            f'<div class="toolkit-plan {_NO_MATH}" '
            'style="font-family: system-ui, sans-serif; font-size: 13px">',
            f"<p><b>{esc(self.pace_text())}</b></p>",
            f"<table style='border-collapse: collapse'>{summary}</table>",
        ]
        if len(self.not_sent):
            table = self.not_sent.reset_index()
            head = "".join(f"<th style='{cell}'>{esc(c)}</th>" for c in table.columns)
            # long addresses wrap anywhere; the reason gets the room to be read in full
            wrap = f"{cell}; overflow-wrap: anywhere"
            widths = [f"{wrap}; min-width: 24em" if c == "why" else wrap for c in table.columns]
            rows = (zip(widths, row, strict=True) for row in table.itertuples(index=False))
            body = "".join(
                "<tr>" + "".join(f"<td style='{w}'>{esc(v)}</td>" for w, v in cells) + "</tr>"
                for cells in rows
            )
            parts.append(
                "<p>Rows that will not be sent (sent = no) or repeat an address, with the "
                f"full reason:</p><table style='border-collapse: collapse; width: 100%'>"
                f"<tr>{head}</tr>{body}</table>"
            )
        parts.append("</div>")
        return "".join(parts)


def from_plan(
    p: Plan,
    df: pd.DataFrame,
    spec: ComposeSpec,
    *,
    rate: float | None = None,
    quota: Any = None,
    identify: list[str] | None = None,
) -> SendPlan:
    """The plan of a :class:`Plan` already made (the CLI's dry run has one)."""
    daily = None
    if quota is not None:
        rate = rate or float(quota.max_send_rate) or None
        daily = float(quota.max_24_hour_send)
        daily = None if daily < 0 else daily
    if rate is not None and rate <= 0:
        raise ConfigurationError(f"rate must be > 0 recipients per second, not {rate}")
    columns = _identifying(df, spec, identify)
    positions = sorted(p.preflight)
    records = []
    for position in positions:
        outcome = p.preflight[position]
        what = outcome.error_code or outcome.status.value
        if outcome.error_code == DUPLICATE_RECIPIENT:
            what = "duplicate" + (" (letter case)" if "letter case" in (outcome.error_message or "")
                                  else "")  # fmt: skip
        records.append({"row": outcome.row_key, "recipient": outcome.recipient,
                        **_cells(df, columns, position), "sent": "no",
                        "what": what, "why": outcome.error_message})  # fmt: skip
    records += _repeated(p, df, spec, columns)
    not_sent = pd.DataFrame.from_records(
        records, columns=["row", "recipient", *columns, "sent", "what", "why"]
    ).set_index("row")
    price, note = _price(p.renderer.transport)
    return SendPlan(p.renderer.transport, p.size, len(p.sendable), not_sent, rate, daily,
                    price, note)  # fmt: skip


def _repeated(p: Plan, df: pd.DataFrame, spec: ComposeSpec,
              columns: list[str]) -> list[dict[str, Any]]:  # fmt: skip
    """Rows that will be sent to an address an earlier sent row has (case-folded): their
    content differs, so pre-flight sends both, but one inbox gets two messages."""
    sendable = p.sendable
    if not sendable:
        return []
    cells = df[spec.to].iloc[sendable].astype("str").tolist()
    overrides = p.renderer.addresses["To"].overrides
    folded = pd.Series([overrides.get(pos, cell).strip().lower()
                        for pos, cell in zip(sendable, cells, strict=True)])  # fmt: skip
    first = folded.drop_duplicates().reset_index().set_index(0)["index"]
    out = []
    for k in folded.index[folded.duplicated()].tolist():
        j = int(first[folded[k]])  # the first sendable row with this address
        position, original = sendable[k], sendable[j]
        case = cells[k].strip() != cells[j].strip()
        why = f"the address of row {p.row_keys[original]!r} ({cells[j]!r})"
        why += " in other letter case" if case else ""
        why += ("; the content differs, so both are sent and one inbox gets two messages "
                "(drop one row to send once)")  # fmt: skip
        out.append({"row": p.row_keys[position], "recipient": cells[k],
                    **_cells(df, columns, position), "sent": "yes",
                    "what": "repeated address" + (" (letter case)" if case else ""),
                    "why": why})  # fmt: skip
    return out


def _cells(df: pd.DataFrame, columns: list[str], position: int) -> dict[str, object]:
    values = {c: df[c].iat[position] for c in columns}
    return {c: "" if v is None or v is pd.NA or v != v else v for c, v in values.items()}


def _identifying(df: pd.DataFrame, spec: ComposeSpec, identify: list[str] | None) -> list[str]:
    if identify is not None:
        missing = [c for c in identify if c not in df.columns]
        if missing:
            raise ConfigurationError(f"identify= names columns not in the frame: {missing}")
        return list(identify)
    named = [c for c in (spec.key_column, spec.name_column) if c is not None]
    if named:
        return list(dict.fromkeys(named))
    skip = {spec.to, spec.cc, spec.bcc, spec.reply_to}
    return [str(c) for c in df.columns if c not in skip][:_IDENTIFY]


def _price(transport: str) -> tuple[float | None, str]:
    if through_pinpoint(transport):
        fact = facts.PINPOINT_PRICE_EMAIL
        return fact.value, f"Pinpoint's historical ${fact.value * 1000:.2f} per 1,000"
    fact = facts.SES_PRICE_OUTBOUND_PER_1000
    return fact.value / 1000, (f"SES à la carte ${fact.value:.2f} per 1,000 recipients; "
                               "pricing plans differ: see the guide")  # fmt: skip


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:,.0f} s" if seconds >= 1 else "under a second"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:,.0f} min"
    hours = minutes / 60
    return f"{hours:,.1f} h" if hours < 48 else f"{hours / 24:,.1f} days"
