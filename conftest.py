"""Checks on what a person sees in the notebooks (notebooks/*.ipynb), run with nbval's own
execution (no extra run). It lives here, not in notebooks/, to stay out of a reader's file list.

nbval compares each cell's fresh outputs with the saved ones but skips images, so a figure
cell that draws nothing used to pass. After nbval has run a cell, this hook also requires:

* a cell tagged ``figure`` produced an ``image/png`` output, and every cell that calls a
  plotting function (``plot_…(`` or ``.plot``) carries that tag, so none can slip through;
* no cell wrote to stderr (a red box in JupyterLab) unless it is tagged ``stderr-expected``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

_PLOTS = re.compile(r"^(?!\s*(?:from|import)\b).*(?:\bplot_\w+\(|\.plot[.(])", re.M)


def _tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    result = yield
    cell = getattr(item, "cell", None)
    outputs = getattr(item, "test_outputs", None)
    if cell is None or outputs is None or cell.get("cell_type") != "code":
        return result
    tags = _tags(cell)
    where = f"{item.name}: {cell.source.strip().splitlines()[0] if cell.source.strip() else ''}"
    if _PLOTS.search(cell.source) and "figure" not in tags:
        raise AssertionError(f"{where}: draws a figure but is not tagged 'figure'")
    if "figure" in tags and not any("image/png" in o.get("data", {}) for o in outputs):
        raise AssertionError(f"{where}: a figure cell without an image/png output")
    if "stderr-expected" not in tags:
        errors = [o.get("text", "") for o in outputs if o.get("name") == "stderr"]
        if errors:
            raise AssertionError(f"{where}: unexpected stderr output: {errors[0][:300]!r}")
    return result


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every notebook cell is ``slow``: a notebook runs as a whole in its own kernel, so the
    inner loop (``-m "not slow"``) leaves the notebooks out."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
