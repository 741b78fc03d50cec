"""Transports kept open on each worker for the length of a run (a Dask worker plugin).

Why: a worker sends many partitions of one run, one after another. Making a transport for
each would build a new AWS client (credentials, service model) or new SMTP connections every
time, which costs more than sending a small partition. The pool makes one transport per run
and transport kind on each worker, opened on first use and shared by the partitions (a
transport is already shared by the engine's threads), and closes them when the run ends or
the worker stops.

Usage::

    client.register_plugin(TransportPool())                  # once (idempotent)
    transport = TransportPool.on_this_worker().get(run, "ses", make)   # inside a task
    client.run(release_run, run)                              # the run is over
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from toolkit.transports.base import Transport

__all__ = ["TransportPool", "release_run"]

log = logging.getLogger(__name__)


class TransportPool(WorkerPlugin):
    """Open transports on one worker, by run and key (see the module docstring)."""

    name = "toolkit-transports"
    idempotent = True

    def __init__(self) -> None:
        self.setup(None)

    def setup(self, worker: Any) -> None:
        self._open: dict[tuple[str, str], Transport] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {}  # sent to the workers empty: transports and locks stay where they are

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.setup(None)

    @classmethod
    def on_this_worker(cls) -> TransportPool:
        """The pool of the worker running the current task."""
        pool = get_worker().plugins.get(cls.name)
        if not isinstance(pool, cls):
            raise RuntimeError("the toolkit's transport pool is not registered on this worker")
        return pool

    def get(self, run: str, key: str, make: Callable[[], Transport]) -> Transport:
        """The run's open transport for ``key``, made and opened on first use."""
        with self._lock:
            transport = self._open.get((run, key))
            if transport is None:
                transport = make()
                try:
                    transport.open()
                except BaseException:
                    transport.close()
                    raise
                self._open[(run, key)] = transport
            return transport

    def release(self, run: str) -> int:
        """Close the run's transports; returns how many."""
        with self._lock:
            mine = [k for k in self._open if k[0] == run]
            transports = [self._open.pop(k) for k in mine]
        for transport in transports:
            with contextlib.suppress(Exception):  # closing is best effort
                transport.close()
        return len(transports)

    def teardown(self, worker: Any) -> None:
        for run in {k[0] for k in list(self._open)}:
            self.release(run)


def release_run(run: str, dask_worker: Any = None) -> int:
    """``client.run`` target: close the run's transports on this worker."""
    pool = dask_worker.plugins.get(TransportPool.name) if dask_worker is not None else None
    return pool.release(run) if isinstance(pool, TransportPool) else 0
