"""An asyncio event loop serving on a daemon thread: how both sandbox servers run.

The HTTP API and the SMTP server are asyncio servers inside a synchronous program (a notebook,
a test, the CLI). Each gets its own loop on its own thread; this is the one place that starts
such a loop, reports a failed bind back to the caller, and tears the servers down on the loop
before closing it.

Usage::

    runner = LoopThread("sandbox-http")
    runner.start(listen, shutdown)   # listen(loop) binds; its exception is re-raised here
    ...
    runner.stop()                    # shutdown(loop) runs on the loop, then it closes
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

Step = Callable[[asyncio.AbstractEventLoop], Awaitable[None]]


class LoopThread:
    """One event loop on one daemon thread, between :meth:`start` and :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True between a successful ``start`` and ``stop``."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, setup: Step, teardown: Step, timeout: float | None = None) -> None:
        """Run ``setup`` on a new loop, then serve; returns once ``setup`` is done.

        Re-raises what ``setup`` raised (the loop is then closed and nothing keeps running);
        ``TimeoutError`` when it takes longer than ``timeout`` seconds.
        """
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(setup(loop))
            except BaseException as exc:  # re-raised by start() in the caller's thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(teardown(loop))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=run, name=self.name, daemon=True)
        self.loop, self._thread = loop, thread
        thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"{self.name} did not start within {timeout} s")
        if failure:
            thread.join()
            self.loop = self._thread = None
            raise failure[0]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving: teardown runs on the loop, then the thread ends; idempotent."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        self.loop = self._thread = None
