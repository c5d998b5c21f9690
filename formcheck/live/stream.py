"""A live stream's frames: their times on the session clock, and only the newest one kept (stale
frames are dropped, never queued)."""

from __future__ import annotations

import threading
import time
from typing import Iterable


class StreamClock:
    """Turns camera frame times (seconds, any origin, may be None) into session ms, and
    measures the lag: how much further behind the camera's clock processing is now than
    at the first frame (queueing shows up here; a constant transport delay does not).

    A stream that restarts or jumps (new track, clock wrap) is re-anchored so time keeps
    increasing by about one frame.
    """

    def __init__(self, frame_ms: float = 1000.0 / 30.0):
        self.frame_ms = frame_ms
        self._pts0: float | None = None
        self._wall0: float | None = None
        self._last: float | None = None

    def stamp(self, frame_time_s: float | None, now: float | None = None) -> tuple[float, float | None]:
        now = time.monotonic() if now is None else now
        if self._wall0 is None:
            self._wall0 = now
        wall_ms = (now - self._wall0) * 1000.0
        if frame_time_s is None:
            t = wall_ms if self._last is None else max(wall_ms, self._last + 1.0)
            self._last = t
            return t, None
        if self._pts0 is None:
            self._pts0 = frame_time_s - (self._last or 0.0) / 1000.0
        t = (frame_time_s - self._pts0) * 1000.0
        if self._last is not None and not (self._last < t <= self._last + 5000.0):
            # jumped back or far ahead: continue from the last time instead
            t = self._last + self.frame_ms
            self._pts0 = frame_time_s - t / 1000.0
        self._last = t
        return t, max(0.0, wall_ms - t)


class LatestFrame:
    """Reads an iterable of frames in a thread and keeps only the newest one.

    ``get()`` returns the newest frame not yet returned (waiting up to ``timeout``),
    or None when the source has ended. Frames that arrive while the consumer is
    busy are dropped and counted in ``dropped``.
    """

    def __init__(self, frames: Iterable):
        self._frames = frames
        self._cond = threading.Condition()
        self._latest = None
        self._ended = False
        self._stop = False
        self.error: BaseException | None = None
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, daemon=True, name="formcheck-frame-grabber")
        self._thread.start()

    def _run(self) -> None:
        try:
            for frame in self._frames:
                with self._cond:
                    if self._stop:
                        break
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = frame
                    self._cond.notify()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self.error = exc
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify()

    def get(self, timeout: float = 2.0):
        with self._cond:
            self._cond.wait_for(lambda: self._latest is not None or self._ended, timeout)
            frame, self._latest = self._latest, None
            return frame

    def stop(self) -> None:
        with self._cond:
            self._stop = True
        self._thread.join(timeout=2.0)
