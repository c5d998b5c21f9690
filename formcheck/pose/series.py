"""The one pose type every stage reads: ``PoseSeries`` (image pixels, x right, y down; NaN where
no runner was found), MediaPipe's landmark indices, and the body geometry computed from them."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

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

def midpoint(xy: np.ndarray, i: int, j: int) -> np.ndarray:
    """(..., 2) midpoint of landmarks i and j of (..., 33, >=2) landmark arrays."""
    return (xy[..., i, :2] + xy[..., j, :2]) / 2


def hip_centre(xy: np.ndarray) -> np.ndarray:
    return midpoint(xy, LEFT_HIP, RIGHT_HIP)


def shoulder_centre(xy: np.ndarray) -> np.ndarray:
    return midpoint(xy, LEFT_SHOULDER, RIGHT_SHOULDER)


def torso_length(xy: np.ndarray) -> np.ndarray:
    """Hip centre to shoulder centre, the body's scale that does not change with the stride."""
    return np.linalg.norm(shoulder_centre(xy) - hip_centre(xy), axis=-1)


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
    people_in_view: int = 1  # different people tracked in the clip, the runner included

    def __len__(self) -> int:
        return len(self.t_ms)

    @property
    def detected(self) -> np.ndarray:
        """(T,) True where the runner was found."""
        return ~np.isnan(self.xy[:, LEFT_HIP, 0])

    @property
    def t_s(self) -> np.ndarray:
        return self.t_ms / 1000.0

    def hip_centre(self) -> np.ndarray:
        """(T, 2) pelvis: the midpoint of the hips."""
        return hip_centre(self.xy)

    def torso_length(self) -> np.ndarray:
        """(T,) hip centre to shoulder centre, pixels."""
        return torso_length(self.xy)

    def facing_sign(self) -> int:
        """+1 if the runner faces image-right, -1 if image-left.

        Votes of toe-ahead-of-heel over all frames (both feet) and nose-ahead-of-ears;
        a median over the series, never per frame (toe-heel flips in late swing).
        """
        xy = self.xy
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a landmark never seen: that vote abstains
            votes = [np.nanmedian(xy[:, LEFT_TOE, 0] - xy[:, LEFT_HEEL, 0]),
                     np.nanmedian(xy[:, RIGHT_TOE, 0] - xy[:, RIGHT_HEEL, 0]),
                     np.nanmedian(xy[:, NOSE, 0] - midpoint(xy, LEFT_EAR, RIGHT_EAR)[:, 0])]
        return 1 if np.nansum(np.sign(votes)) >= 0 else -1

    def with_xy(self, xy: np.ndarray) -> "PoseSeries":
        return replace(self, xy=xy)

    def mirrored(self) -> "PoseSeries":
        """The series of the horizontally mirrored clip (same anatomical labels)."""
        xy = self.xy.copy()
        xy[..., 0] = self.width - 1 - xy[..., 0]
        return replace(self, xy=xy)

    @classmethod
    def from_frames(cls, rows: np.ndarray, t_ms, frame_index, width: int, height: int,
                    people_in_view: int = 1) -> "PoseSeries":
        """Build from (T, 33, 3) rows of x_px, y_px, visibility."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, N_LANDMARKS, 3)
        vis = np.nan_to_num(rows[..., 2], nan=0.0)
        return cls(rows[..., :2].copy(), vis, np.asarray(t_ms, float), np.asarray(frame_index, int),
                   width, height, people_in_view)

    @classmethod
    def concatenate(cls, parts: list["PoseSeries"]) -> "PoseSeries":
        first = parts[0]
        return cls(np.concatenate([p.xy for p in parts]), np.concatenate([p.visibility for p in parts]),
                   np.concatenate([p.t_ms for p in parts]), np.concatenate([p.frame_index for p in parts]),
                   first.width, first.height, max(p.people_in_view for p in parts))


__all__ = ["N_LANDMARKS", "NOSE", "LEFT_EYE", "RIGHT_EYE", "LEFT_EAR", "RIGHT_EAR", "LEFT_SHOULDER", "RIGHT_SHOULDER",
           "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_HIP", "RIGHT_HIP", "LEFT_KNEE",
           "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE", "LEFT_HEEL", "RIGHT_HEEL", "LEFT_TOE", "RIGHT_TOE",
           "LEFT_RIGHT_PAIRS", "MIRROR_INDEX", "SKELETON", "midpoint", "hip_centre", "shoulder_centre",
           "torso_length", "PoseSeries"]
