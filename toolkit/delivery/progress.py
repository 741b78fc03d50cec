"""Progress: the snapshots the engine emits, and a tqdm.auto bar that renders them.

The engine emits plain snapshots to observers (callables); this bar is one of them, so a
notebook widget or a logger can be another. ``tqdm.auto`` picks the Jupyter widget front end
when ipywidgets is available and the console bar otherwise.

Usage::

    bar = ProgressBar(total=len(df), desc="ses")
    engine = SendEngine(plan, transport, observers=[bar])
"""

from __future__ import annotations

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


Observer = Callable[[Progress], None]
"""Anything that takes progress snapshots (the bar below, a widget, a logger)."""

_SHOWN = ("sent", "rejected", "failed", "unknown", "invalid", "skipped")


class ProgressBar:
    """A tqdm bar counting finished rows (unit "msg", with rate and ETA).

    In a notebook the bar is displayed with a display id and redrawn once more when it
    closes, so a saved notebook (or any front end that cannot draw the widget) shows the
    final count instead of the "0%" the bar had when it first appeared.
    """

    def __init__(self, total: int, desc: str = "send", **tqdm_options: Any) -> None:
        from tqdm.auto import tqdm

        options: dict[str, Any] = {"unit": "msg", "dynamic_ncols": True, "leave": True}
        options.update(tqdm_options)
        widget = _is_widget_bar(tqdm)
        if widget:
            options["display"] = False
        self._bar = tqdm(total=total, desc=desc, **options)
        self._handle: Any = None
        if widget:
            from IPython.display import display

            self._handle = display(self._bar.container, display_id=True)
        self._closed = False

    def __call__(self, snapshot: Progress) -> None:
        if self._closed:
            return
        bar = self._bar
        done = snapshot.done
        if done > bar.n:
            bar.update(done - bar.n)
        counts = snapshot.counts
        bar.set_postfix({k: counts.get(k, 0) for k in _SHOWN if counts.get(k, 0)}, refresh=False)
        if snapshot.finished:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bar.close()
            if self._handle is not None:
                self._handle.update(self._bar.container)


def _is_widget_bar(tqdm_class: type) -> bool:
    """True when ``tqdm.auto`` chose the Jupyter widget bar."""
    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:  # no ipywidgets: the console bar
        return False
    return issubclass(tqdm_class, notebook_tqdm)
