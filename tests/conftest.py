"""Shared fixtures: an embedded sandbox on loopback (ephemeral ports), stopped after the test.

``sandbox`` is a default sandbox (HTTP API + SMTP). ``make_sandbox(**kwargs)`` starts one with
other settings (rate, faults, state_dir, ...); every sandbox it made is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from toolkit.sandbox import Sandbox


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        sandbox = Sandbox(**kwargs).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in reversed(started):
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()
