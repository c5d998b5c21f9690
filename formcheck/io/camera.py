"""Live frames from a local camera, timed by the wall clock."""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

import cv2
import numpy as np

from formcheck.errors import CameraError
from formcheck.io.metadata import _quiet_opencv
from formcheck.io.video import Frame

_CAMERA_READ_RETRIES = 10  # webcams often return a few empty reads while warming up


class Camera:
    """Live frames from a camera; a context manager and an iterable of Frame.

    t_ms is wall-clock (time.monotonic) time since the first frame; width/height are the
    size the camera actually delivers, which may differ from what was asked for.
    """

    def __init__(self, index: int = 0, width: int | None = None, height: int | None = None) -> None:
        self.index = index
        with _quiet_opencv():
            cap = cv2.VideoCapture(index)
        self._cap: cv2.VideoCapture | None = cap
        if cap.isOpened():
            if width:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            if height:
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            first = self._read()
        else:
            first = None
        if first is None:
            self.close()
            raise CameraError(
                f"No camera found at index {index}. Check it is connected and not used by another program."
            )
        self._pending: np.ndarray | None = first
        self._t0 = time.monotonic()
        self._next_index = 0
        self.height, self.width = first.shape[:2]

    def _read(self) -> np.ndarray | None:
        """Next frame, tolerating a few empty reads (warm-up, USB hiccups)."""
        if self._cap is None:
            return None
        for _ in range(_CAMERA_READ_RETRIES):
            with contextlib.suppress(cv2.error):
                ok, bgr = self._cap.read()
                if ok and bgr is not None:
                    return bgr
        return None

    def __iter__(self) -> Iterator[Frame]:
        while True:
            if self._pending is not None:
                bgr, self._pending = self._pending, None  # the first frame, read at open
                t_ms = 0.0
            else:
                bgr = self._read()
                if bgr is None:
                    return
                t_ms = (time.monotonic() - self._t0) * 1000.0
            yield Frame(index=self._next_index, t_ms=t_ms, bgr=bgr)
            self._next_index += 1

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._pending = None

    def __enter__(self) -> Camera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
