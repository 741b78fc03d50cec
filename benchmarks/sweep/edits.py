"""How users change a file between two runs, as functions of the address list."""

from __future__ import annotations

import random
from collections.abc import Callable

from benchmarks.sweep.world import emails

Edit = Callable[[list[str], random.Random], list[str]]


def _insert_top(base: list[str], rng: random.Random) -> list[str]:
    return ["new0@example.org", *base]


def _remove(base: list[str], rng: random.Random) -> list[str]:
    gone = set(rng.sample(range(len(base)), 2))
    return [a for i, a in enumerate(base) if i not in gone]


def _shuffle(base: list[str], rng: random.Random) -> list[str]:
    moved = list(base)
    rng.shuffle(moved)
    return moved


def _case_duplicate(base: list[str], rng: random.Random) -> list[str]:
    """A copy of a row already there, in other letter case, inserted at a random place."""
    copy = list(base)
    copy.insert(rng.randrange(len(copy) + 1), rng.choice(base).upper())
    return copy


def _insert_reverse(base: list[str], rng: random.Random) -> list[str]:
    return [*base[::-1][:3], "new0@example.org", *base[::-1][3:]]


EDITS: dict[str, Edit] = {
    "same": lambda base, rng: list(base),
    "insert-top": _insert_top,
    "reverse": lambda base, rng: base[::-1],
    "remove": _remove,
    "extend": lambda base, rng: [*base, *emails(4, "more")],
    "shuffle": _shuffle,
    "case-duplicate": _case_duplicate,
    "insert-reverse": _insert_reverse,
}
