"""Shared fixtures: an embedded sandbox on loopback (ephemeral ports), stopped after the test.

``sandbox`` is a default sandbox (HTTP API + SMTP). ``make_sandbox(**kwargs)`` starts one with
other settings (rate, faults, state_dir, ...); every sandbox it made is stopped at teardown.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from toolkit.sandbox import Sandbox


@pytest.fixture(autouse=True, scope="session")
def ctrl_c_reaches_the_tests() -> None:
    """The Ctrl-C tests need SIGINT delivered, here and in the CLI they start. A shell that
    starts pytest in the background (`cmd &`, nohup, some CI runners) ignores SIGINT, and every
    child inherits that: Python then never raises KeyboardInterrupt and the tests would fail
    for a reason that is not the toolkit's."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


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
