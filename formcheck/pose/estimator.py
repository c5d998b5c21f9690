"""MediaPipe's PoseLandmarker, created once, used as a context manager: every person in a frame."""

from __future__ import annotations

import numpy as np

from formcheck.errors import ModelError
from formcheck.io.native_logs import filter_native_logs
from formcheck.pose.model import find_model
from formcheck.pose.series import MIRROR_INDEX, N_LANDMARKS


class PoseEstimator:
    """A MediaPipe PoseLandmarker created once and used as a context manager.

    ``detect`` returns every person found in a frame as a (K, 33, 3) array of
    pixel x, pixel y and visibility. With ``mirror`` the model sees each frame
    mirrored (results are mapped back): the model is not mirror-symmetric, so
    showing it every runner facing the same way makes both filming sides agree.
    """

    def __init__(self, model_path=None, live: bool = False, num_poses: int = 2,
                 min_confidence: float = 0.5, mirror: bool = False):
        self.model_path = find_model(model_path)
        self.mirror = mirror
        self.live = live
        self.num_poses = num_poses
        self.min_confidence = min_confidence
        self._landmarker = None
        self._last_ts = -1

    def __enter__(self) -> "PoseEstimator":
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=self.num_poses,
            min_pose_detection_confidence=self.min_confidence,
            min_pose_presence_confidence=self.min_confidence,
            min_tracking_confidence=self.min_confidence,
        )
        filter_native_logs()
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"The pose model {self.model_path} could not be loaded ({exc}).") from exc
        return self

    def __exit__(self, *exc) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def detect(self, bgr: np.ndarray, t_ms: float) -> np.ndarray:
        import cv2
        import mediapipe as mp

        # VIDEO mode needs strictly increasing integer timestamps.
        ts = max(int(round(t_ms)), self._last_ts + 1)
        self._last_ts = ts
        rgb = cv2.cvtColor(_model_sized(bgr), cv2.COLOR_BGR2RGB)
        if self.mirror:
            rgb = cv2.flip(rgb, 1)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        result = self._landmarker.detect_for_video(image, ts)
        h, w = bgr.shape[:2]
        people = [[(lm.x * w, lm.y * h, lm.visibility if lm.visibility is not None else 1.0) for lm in person]
                  for person in result.pose_landmarks]
        people = np.asarray(people, dtype=np.float64).reshape(-1, N_LANDMARKS, 3)
        if self.mirror:  # back to the clip's own picture: x flips, and so do the side labels
            people[..., 0] = w - people[..., 0]
            people = people[:, MIRROR_INDEX]
        return people


MODEL_MAX_SIDE = 1920  # the model sees 256 pixels; bigger frames only cost converting and copying


def _model_sized(bgr: np.ndarray) -> np.ndarray:
    """A frame of at most ``MODEL_MAX_SIDE`` pixels a side, same aspect (landmarks are fractions of
    the picture, so they map back to the full frame unchanged)."""
    import cv2

    h, w = bgr.shape[:2]
    scale = MODEL_MAX_SIDE / max(h, w)
    if scale >= 1.0:
        return bgr
    return cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
