"""The engine keeps the collector's full passes off its critical path (delivery.collector)."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence

import pytest

from tests.unit.test_engine import FakePlan, run, statuses
from toolkit.compose.message import Message
from toolkit.delivery.collector import frozen_heap
from toolkit.results import Reply
from toolkit.transports.memory import RecordingTransport


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    gc.unfreeze()  # nothing in the test run freezes; make sure of it
    yield
    gc.unfreeze()


def test_the_heap_is_frozen_during_the_block_and_given_back_after() -> None:
    before = [object()]  # an object (a list: tracked by the collector) that exists before
    with frozen_heap():
        assert gc.get_freeze_count() > 0
        assert not any(obj is before for obj in gc.get_objects())  # no pass walks it
    assert gc.get_freeze_count() == 0
    assert any(obj is before for obj in gc.get_objects())


def test_a_heap_frozen_by_the_process_itself_is_left_as_it_was() -> None:
    kept = [object()]
    gc.freeze()  # a server that froze its start-up heap for copy-on-write
    between = [object()]  # made after that
    with frozen_heap():
        assert any(obj is between for obj in gc.get_objects())  # nothing added to the freeze
    assert gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())  # nothing unfrozen


class _Watching(RecordingTransport):
    """Records how many objects were frozen while each batch was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen: list[int] = []

    def send(self, batch: Sequence[Message]) -> list[Reply]:
        self.frozen.append(gc.get_freeze_count())
        return super().send(batch)


def test_the_engine_sends_with_the_heap_frozen_and_gives_it_back() -> None:
    transport = _Watching()
    outcomes = run(FakePlan(20), transport)
    assert statuses(outcomes) == {"sent": 20}
    assert transport.frozen and min(transport.frozen) > 0
    assert gc.get_freeze_count() == 0
