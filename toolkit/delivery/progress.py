"""Progress: the snapshots the engine emits, and a tqdm.auto bar that renders them.

The engine emits plain snapshots to observers (callables); this bar is one of them, so a
notebook widget or a logger can be another. ``tqdm.auto`` picks the Jupyter widget front end
when ipywidgets is available and the console bar otherwise.

Usage::

    bar = ProgressBar(total=len(df), desc="ses")
    engine = SendEngine(plan, transport, observers=[bar])
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Observer", "Progress", "ProgressBar"]


@dataclass(frozen=True, slots=True)
class Progress:
    """A plain snapshot of a run for observers (progress bar, widgets, handles)."""

    total: int
    counts: Mapping[str, int]  # per Status value, plus "pending"
    elapsed: float
    rate: float  # rows finished by the engine per second since the start
    send_rate: float | None  # the pacing rate in force (recipients/s), None when unpaced
    finished: bool = False

    @property
    def done(self) -> int:
        return self.total - self.counts.get("pending", 0)

    @property
    def sent_rate(self) -> float:
        """Messages sent (recipients, for bulk) per second since the start: never rows that
        were skipped or refused before sending, which finish at once and would inflate it."""
        sent = self.counts.get("sent", 0)
        return sent / self.elapsed if self.elapsed > 0 else 0.0


Observer = Callable[[Progress], None]
"""Anything that takes progress snapshots (the bar below, a widget, a logger)."""

_SHOWN = ("sent", "rejected", "failed", "unknown", "invalid", "skipped")


class ProgressBar:
    """A tqdm bar counting finished rows, whose rate is of messages *sent* (``sent/s``).

    tqdm's own rate would count every finished row, and rows skipped or refused before
    sending finish at once: a 1,000/s sandbox showed 1,463 "msg/s". So the bar shows rows
    done, ETA and the counts, and the rate is ``sent/s`` from the snapshot.

    In a notebook the bar is displayed with a display id and, when it closes, replaced by a
    static HTML line with the final counts: a notebook saved and reopened without a kernel
    shows that line, not "Error displaying widget: model not found".
    """

    def __init__(self, total: int, desc: str = "send", **tqdm_options: Any) -> None:
        from tqdm.auto import tqdm

        options: dict[str, Any] = {
            "unit": "row",
            "dynamic_ncols": True,
            "leave": True,
            "bar_format": _BAR_FORMAT,
        }
        options.update(tqdm_options)
        widget = _is_widget_bar(tqdm)
        if widget:
            options["display"] = False
        self._bar = tqdm(total=total, desc=desc, **options)
        self._desc = desc
        self._last: Progress | None = None
        self._handle: Any = None
        if widget:
            from IPython.display import display

            # The widget carries the static picture too, so nbval (which never applies the
            # update) compares the same kinds of output as the saved, finished one.
            bundle = {**self._bar.container._repr_mimebundle_(), **self.static_bundle()}
            self._handle = display(bundle, raw=True, display_id=True)
        self._closed = False

    def __call__(self, snapshot: Progress) -> None:
        if self._closed:
            return
        self._last = snapshot
        bar = self._bar
        done = snapshot.done
        if done > bar.n:
            bar.update(done - bar.n)
        bar.set_postfix_str(_postfix(snapshot), refresh=False)
        if snapshot.finished:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bar.close()
            if self._handle is not None:
                self._handle.update(self.static_bundle(), raw=True)

    def static_bundle(self) -> dict[str, str]:
        """The final state as HTML and text (what replaces the widget when the bar closes)."""
        text = str(self._bar)
        snapshot = self._last or Progress(self._bar.total or 0, {}, 0.0, 0.0, None)
        share = snapshot.done / snapshot.total if snapshot.total else 1.0
        color = "#1a7f37" if share >= 1 else "#9a6700"
        line = (f"<b>{html.escape(self._desc)}</b>: {snapshot.done:,} of {snapshot.total:,} "
                f"rows in {snapshot.elapsed:.1f} s &middot; "
                f"{html.escape(_postfix(snapshot))}")  # fmt: skip
        bar = (f'<div style="background:#d1d9e0;height:6px;width:24em;border-radius:3px">'
               f'<div style="background:{color};height:6px;width:{share:.1%};'
               'border-radius:3px"></div></div>')  # fmt: skip
        style = "font-family: system-ui, sans-serif; font-size: 13px"
        return {
            "text/plain": text,
            "text/html": f'<div class="toolkit-progress-static" style="{style}">{line}{bar}'
            "</div><!--/toolkit-progress-->",
        }


# "N/M [" as tqdm's own format has it (notebooks/nbval_sanitize.cfg matches that shape).
_BAR_FORMAT = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
)


def _postfix(snapshot: Progress) -> str:
    counts = snapshot.counts
    shown = ", ".join(f"{k}={counts.get(k, 0):,}" for k in _SHOWN if counts.get(k, 0))
    return f"{shown}, sent/s={snapshot.sent_rate:,.1f}" if shown else "sent/s=0.0"


def _is_widget_bar(tqdm_class: type) -> bool:
    """True when ``tqdm.auto`` chose the Jupyter widget bar."""
    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:  # no ipywidgets: the console bar
        return False
    return issubclass(tqdm_class, notebook_tqdm)
