"""Pose estimation: MediaPipe PoseLandmarker -> one numpy-backed pose series.

``PoseSeries`` is the one pose type every later stage reads. It holds image pixels
(x right, y down), NaN where no runner was found; nothing downstream loops over
MediaPipe's per-landmark objects.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from typing import Iterable

import numpy as np

from .errors import ModelError
from .model import find_model

N_LANDMARKS = 33
# MediaPipe BlazePose indices (the person's own left/right).
NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = 0, 2, 5, 7, 8
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST = 11, 12, 13, 14, 15, 16
LEFT_HIP, RIGHT_HIP, LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE = 23, 24, 25, 26, 27, 28
LEFT_HEEL, RIGHT_HEEL, LEFT_TOE, RIGHT_TOE = 29, 30, 31, 32

# Landmark pairs that trade places when the model confuses the two sides.
LEFT_RIGHT_PAIRS = [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
                    (17, 18), (19, 20), (21, 22), (23, 24), (25, 26), (27, 28), (29, 30), (31, 32)]
MIRROR_INDEX = np.arange(N_LANDMARKS)
for _l, _r in LEFT_RIGHT_PAIRS:
    MIRROR_INDEX[_l], MIRROR_INDEX[_r] = _r, _l

SKELETON = [(11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24),
            (23, 25), (25, 27), (27, 29), (29, 31), (27, 31), (24, 26), (26, 28), (28, 30),
            (30, 32), (28, 32), (0, 7), (0, 8)]


@dataclass
class PoseSeries:
    """One runner's landmarks over time."""

    xy: np.ndarray  # (T, 33, 2) float64 image pixels, NaN where no pose
    visibility: np.ndarray  # (T, 33) in 0..1, 0 where no pose
    t_ms: np.ndarray  # (T,) frame timestamps
    frame_index: np.ndarray  # (T,) 0-based decode index
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.t_ms)

    @property
    def detected(self) -> np.ndarray:
        """(T,) True where the runner was found."""
        return ~np.isnan(self.xy[:, LEFT_HIP, 0])

    @property
    def t_s(self) -> np.ndarray:
        return self.t_ms / 1000.0

    def with_xy(self, xy: np.ndarray) -> "PoseSeries":
        return replace(self, xy=xy)

    def mirrored(self) -> "PoseSeries":
        """The series of the horizontally mirrored clip (same anatomical labels)."""
        xy = self.xy.copy()
        xy[..., 0] = self.width - 1 - xy[..., 0]
        return replace(self, xy=xy)

    @classmethod
    def from_frames(cls, rows: np.ndarray, t_ms, frame_index, width: int, height: int) -> "PoseSeries":
        """Build from (T, 33, 3) rows of x_px, y_px, visibility."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, N_LANDMARKS, 3)
        vis = np.nan_to_num(rows[..., 2], nan=0.0)
        return cls(rows[..., :2].copy(), vis, np.asarray(t_ms, float), np.asarray(frame_index, int),
                   width, height)

    @classmethod
    def concatenate(cls, parts: list["PoseSeries"]) -> "PoseSeries":
        first = parts[0]
        return cls(np.concatenate([p.xy for p in parts]), np.concatenate([p.visibility for p in parts]),
                   np.concatenate([p.t_ms for p in parts]), np.concatenate([p.frame_index for p in parts]),
                   first.width, first.height)


@contextlib.contextmanager
def _quiet_native_logs():
    """MediaPipe's C++ side prints set-up chatter straight to fd 2; users should not see it."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


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
        self.live = live
        self.num_poses = num_poses
        self.min_confidence = min_confidence
        self._landmarker = None
        self._last_ts = -1
        self.mirror = mirror
        self._seen_person = False  # MediaPipe logs once more on its first landmarks

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
        try:
            with _quiet_native_logs():
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
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if self._seen_person:
            result = self._landmarker.detect_for_video(image, ts)
        else:
            with _quiet_native_logs():
        if self.mirror:
            rgb = cv2.flip(rgb, 1)
                result = self._landmarker.detect_for_video(image, ts)
            self._seen_person = bool(result.pose_landmarks)
        h, w = bgr.shape[:2]
        people = [[(lm.x * w, lm.y * h, lm.visibility if lm.visibility is not None else 1.0) for lm in person]
                  for person in result.pose_landmarks]
        people = np.asarray(people, dtype=np.float64).reshape(-1, N_LANDMARKS, 3)
        if self.mirror:  # back to the clip's own picture: x flips, and so do the side labels
            people[..., 0] = w - people[..., 0]
            people = people[:, MIRROR_INDEX]
        return people


# ---------------------------------------------------------------------------
# Choosing the runner among the people in view


def _body_center_and_size(person: np.ndarray) -> tuple[np.ndarray, float]:
    hips = person[[LEFT_HIP, RIGHT_HIP], :2].mean(axis=0)
    shoulders = person[[LEFT_SHOULDER, RIGHT_SHOULDER], :2].mean(axis=0)
    return hips, float(np.linalg.norm(shoulders - hips)) + 1e-6


class _Track:
    def __init__(self, start: int):
        self.frames: list[int] = [start]
        self.people: list[np.ndarray] = []
        self.center = np.zeros(2)
        self.size = 1.0

    def add(self, frame: int, person: np.ndarray) -> None:
        if self.people:
            self.frames.append(frame)
        self.people.append(person)
        self.center, self.size = _body_center_and_size(person)


def link_tracks(candidates: list[np.ndarray], max_jump: float = 1.0, max_gap: int = 15) -> list[_Track]:
    """Link per-frame detections into person tracks by nearest hip centre.

    ``max_jump`` is in torso lengths: a detection further than that from every
    live track starts a new one, so a bystander never continues the runner's track.
    """
    tracks: list[_Track] = []
    for frame, people in enumerate(candidates):
        live = [t for t in tracks if frame - t.frames[-1] <= max_gap]
        taken: set[int] = set()
        for person in people:
            center, _ = _body_center_and_size(person)
            best, best_d = None, max_jump
            for i, track in enumerate(live):
                d = np.linalg.norm(center - track.center) / track.size
                if i not in taken and d < best_d:
                    best, best_d = i, d
            if best is None:
                track = _Track(frame)
                tracks.append(track)
            else:
                taken.add(best)
                track = live[best]
            track.add(frame, person)
    return tracks


def _gait_score(track: _Track) -> float:
    """How much a track looks like a runner: long, large, and legs scissoring."""
    people = np.asarray(track.people)
    _, size = _body_center_and_size(np.median(people, axis=0))
    ankle_gap = (people[:, LEFT_ANKLE, 0] - people[:, RIGHT_ANKLE, 0]) / size
    scissor = float(np.std(ankle_gap)) if len(people) > 2 else 0.0
    return len(people) * size * (0.2 + scissor)


def select_runner(candidates: list[np.ndarray], t_ms, frame_index, width: int, height: int) -> PoseSeries:
    """The pose series of the most runner-like track; NaN in frames without it."""
    rows = np.full((len(candidates), N_LANDMARKS, 3), np.nan)
    tracks = link_tracks(candidates)
    if tracks:
        best = max(tracks, key=_gait_score)
        rows[best.frames] = np.asarray(best.people)
    return PoseSeries.from_frames(rows, t_ms, frame_index, width, height)


def estimate(frames: Iterable, estimator: PoseEstimator, width: int, height: int,
             on_frame=None) -> PoseSeries:
    """Run the estimator over frames (objects with .index, .t_ms, .bgr) and pick the runner.

    ``on_frame(frame, people)`` is called after each frame, e.g. for progress.
    """
    candidates, t_ms, index = [], [], []
    for frame in frames:
        people = estimator.detect(frame.bgr, frame.t_ms)
        candidates.append(people)
        t_ms.append(frame.t_ms)
        index.append(frame.index)
        if on_frame is not None:
            on_frame(frame, people)
    return select_runner(candidates, t_ms, index, width, height)
