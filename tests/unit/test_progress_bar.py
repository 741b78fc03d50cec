"""The progress bar's rate is of messages sent, and a finished notebook bar leaves static HTML."""

from __future__ import annotations

import io
from typing import Any

import pytest

from toolkit.delivery import progress as progress_module
from toolkit.delivery.progress import Progress, ProgressBar


def _snapshot(finished: bool) -> Progress:
    # 1,000 rows done in 2 s: 990 skipped by the ledger at once, 10 sent.
    counts = {"sent": 10, "skipped": 990, "pending": 0}
    return Progress(1000, counts, 2.0, 500.0, 14.0, finished)


def test_the_rate_counts_sent_messages_not_skipped_rows() -> None:
    out = io.StringIO()
    bar = ProgressBar(1000, desc="ses", file=out)
    bar(_snapshot(finished=True))
    line = out.getvalue().splitlines()[-1] if "\n" in out.getvalue() else out.getvalue()
    assert "sent/s=5.0" in line  # 10 sent in 2 s
    assert "msg/s" not in line and "500" not in line
    assert _snapshot(True).sent_rate == 5.0


def test_a_finished_widget_bar_is_replaced_by_static_html(monkeypatch: pytest.MonkeyPatch) -> None:
    """Saved and reopened without a kernel, a tqdm widget shows "Error displaying widget:
    model not found"; the closed bar's display must hold HTML only."""
    pytest.importorskip("ipywidgets")
    updates: list[tuple[Any, dict[str, Any]]] = []

    class Handle:
        def update(self, obj: Any, **kwargs: Any) -> None:
            updates.append((obj, kwargs))

    import IPython.display

    monkeypatch.setattr(progress_module, "_is_widget_bar", lambda _cls: True)
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: Handle())
    from tqdm.notebook import tqdm as notebook_tqdm

    monkeypatch.setattr("tqdm.auto.tqdm", notebook_tqdm)
    bar = ProgressBar(1000, desc="ses")
    bar(_snapshot(finished=True))
    ((obj, kwargs),) = updates
    assert kwargs == {"raw": True}
    assert set(obj) == {"text/html", "text/plain"}
    assert "toolkit-progress-static" in obj["text/html"]
    assert "1,000 of 1,000 rows" in obj["text/html"] and "sent/s=5.0" in obj["text/html"]
