"""A sweep case: one user story, acted out from a fresh directory and sandbox, then counted.

A case is deterministic given its name (its seed is part of it), so one defect can be
replayed alone with ``python -m benchmarks.sweep --only NAME``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.sweep.ground import Observation
from benchmarks.sweep.world import World

VIAS = ("ses", "ses-bulk", "pinpoint", "smtp")


@dataclass(frozen=True)
class Case:
    """``act`` plays the story in a :class:`World` and returns what to count."""

    family: str
    name: str
    act: Callable[[World, random.Random], Observation]
    seed: int = 0
    alone: bool = False
    """Run with no other case at the same time (the Dask cases share one cluster, and one
    of them kills a worker)."""


def write_frame(path: Path, addresses: list[str], **columns: list[str]) -> Path:
    """The user's file: one row per address (a ``name`` column unless given others)."""
    data = {"email": addresses, **columns}
    if not columns:
        data["name"] = [name_of(a) for a in addresses]
    frame = pd.DataFrame(data)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def name_of(address: str) -> str:
    """A row's name, from its address: a row that moves keeps its content."""
    return address.split("@")[0].capitalize()


def no_pinpoint_warning(lines: list[str]) -> list[str]:
    """stderr without Pinpoint's end-of-support warning (printed once per run)."""
    return [line for line in lines if "Pinpoint reached end of support" not in line]
