"""The live check in an OpenCV window on a local camera (``formcheck live --camera 0``)."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from formcheck.coaching.intervals import IntervalTimer
from formcheck.config import Thresholds
from formcheck.errors import CameraError, InputError, NoPersonError
from formcheck.live.session import LiveSession, LiveStats
from formcheck.live.stream import LatestFrame, StreamClock
from formcheck.outputs.report import Report


def _has_display() -> bool:
    import os
    import sys

    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def run_camera_window(index: int = 0, *, model=None, thresholds: Thresholds | None = None,
                      width: int | None = None, height: int | None = None, show: bool = True,
                      max_seconds: float | None = None, save_history: bool = True,
                      history_path=None, camera_factory: Callable | None = None,
                      on_frame: Callable[[np.ndarray, LiveStats], None] | None = None,
                      window_name: str = "formcheck live (q to stop)",
                      interval_rounds: int | None = None, pose_every: int = 1) -> Report | None:
    """Live check on a local camera in an OpenCV window; ``q`` or Esc stops it.

    Returns the session's Report (also saved to history unless ``save_history`` is
    False), or None if the runner was never seen. Raises CameraError when there is
    no camera at ``index``. ``camera_factory(index, width, height)`` may replace
    ``formcheck.io.camera.Camera`` (any context manager yielding frames with .bgr/.t_ms);
    ``on_frame(annotated_bgr, stats)`` is called for every processed frame.
    ``interval_rounds`` (4 or 5) shows the beginner-plan interval timer on the picture.
    ``pose_every``: see LiveSession.
    """
    import cv2

    camera = _open_camera(index, width, height, camera_factory, show)
    session = None
    grabber = None
    try:
        timer = IntervalTimer(interval_rounds) if interval_rounds else None
        session = LiveSession(model, thresholds, background=True, source=f"camera {index}", interval_timer=timer,
                              pose_every=pose_every)
        grabber = LatestFrame(camera)
        _show_frames(session, grabber, index, show, window_name, max_seconds, on_frame)
    finally:
        if grabber is not None:
            grabber.stop()
        if hasattr(camera, "close"):
            camera.close()
        if show:
            cv2.destroyAllWindows()
    return _summarise(session, index, save_history, history_path)


def _open_camera(index: int, width: int | None, height: int | None, camera_factory: Callable | None, show: bool):
    """The camera at ``index``, once it is sure there is a display to show it on."""
    from formcheck.io.camera import Camera

    factory = camera_factory or Camera
    camera = factory(index, width, height)  # raises CameraError with a clear message
    if show and not _has_display():
        if hasattr(camera, "close"):
            camera.close()
        raise InputError("There is no display for the live window (DISPLAY is not set). Run it on a desktop, "
                         "or use the Streamlit app's Live tab in a browser.")
    return camera


def _show_frames(session: LiveSession, grabber: LatestFrame, index: int, show: bool, window_name: str,
                 max_seconds: float | None, on_frame: Callable[[np.ndarray, LiveStats], None] | None) -> None:
    """Judge the newest frame, again and again, until the camera ends, ``q`` or Esc is pressed
    or ``max_seconds`` have passed."""
    import cv2

    clock = StreamClock()
    t_start = time.monotonic()
    while True:
        frame = grabber.get(timeout=5.0)
        if frame is None:
            if grabber.error is not None and not isinstance(grabber.error, StopIteration):
                raise CameraError(f"Camera {index} stopped giving frames ({grabber.error}).")
            break
        _, lag_ms = clock.stamp(frame.t_ms / 1000.0)
        out = session.process(frame.bgr, frame.t_ms, lag_ms=lag_ms, dropped=grabber.dropped)
        if on_frame is not None:
            on_frame(out, session.snapshot())
        if show:
            cv2.imshow(window_name, out)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                break
        if max_seconds is not None and time.monotonic() - t_start >= max_seconds:
            break


def _summarise(session: LiveSession, index: int, save_history: bool, history_path) -> Report | None:
    """The whole session's Report, saved to history unless ``save_history`` is False; None if the
    runner was never seen. Closes the session."""
    try:
        report = session.summary()
    except NoPersonError:
        report = None
    finally:
        session.close()
    if report is not None and save_history:
        from formcheck.outputs import history

        history.save(report, f"camera {index}", kind="live", path=history_path, key_frames=session.key_frames())
    return report
