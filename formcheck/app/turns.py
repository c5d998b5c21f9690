"""Taking turns: at most a few analyses (and live checks) run at once in one process (the app's server).

One analysis already keeps every core busy, so a second started beside it only slows
both and doubles the memory. Later requests wait for their turn, told how long so far,
and give up with a ``BusyError`` after ``max_wait_s``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

from formcheck.errors import BusyError

# on_wait(waited_s): called at once and then about every second while waiting, e.g. to
# update a status line (which also lets Streamlit stop a run whose user has left)
OnWait = Callable[[float], None]


class Turns:
    def __init__(self, at_once: int = 1, max_wait_s: float = 600.0) -> None:
        self._slots = threading.BoundedSemaphore(at_once)
        self.max_wait_s = max_wait_s

    @contextlib.contextmanager
    def turn(self, on_wait: OnWait | None = None) -> Iterator[None]:
        """Run the body when a slot is free; raises BusyError if none frees up in time."""
        self._wait_for_slot(on_wait)
        try:
            yield
        finally:
            self._slots.release()

    def _wait_for_slot(self, on_wait: OnWait | None) -> None:
        if self._slots.acquire(blocking=False):
            return
        start = time.monotonic()
        while True:
            waited = time.monotonic() - start
            if waited > self.max_wait_s:
                raise BusyError(f"The server was still busy with other clips after {waited / 60:.0f} min. "
                                "Try again in a few minutes.")
            if on_wait is not None:
                on_wait(waited)
            if self._slots.acquire(timeout=1.0):
                return


class Slots:
    """At most ``limit`` of something at once (live checks), never waiting: ``take`` says yes or no."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)

    def take(self) -> bool:
        return self._free.acquire(blocking=False)

    def give_back(self) -> None:
        self._free.release()
