"""Camera motion: how fast the scenery behind the runner slides across the image.

A camera that pans to follow an overground runner keeps the hips still in the image,
just as a treadmill does; only the background tells them apart. We take pairs of
consecutive frames, track corners outside the runner (and outside any belt around the
feet), and take the median horizontal shift.
"""

from __future__ import annotations

import cv2
import numpy as np

from .errors import VideoError
from .kinematics import fps_of
from .pose import LEFT_HIP, RIGHT_HIP, PoseSeries
from .video import Frame, VideoFile

WORK_WIDTH = 480  # px: plenty for a global shift, cheap to track
MIN_TRACKED = 12  # corners that must survive the forward-backward check for a pair to count
SAMPLE_PAIRS = 8
PAIR_EVERY = 3  # frames between sampled pairs: spread over the window, a third of the cost


def background_mask(shape: tuple[int, int], people: np.ndarray, leg_px: float) -> np.ndarray:
    """255 where the scenery is: outside the runner, and outside a belt-sized band at the feet.

    ``people`` is (n, 33, 2) in the mask's pixels (the runner in both frames of a pair).
    """
    h, w = shape
    mask = np.full((h, w), 255, np.uint8)
    pts = people.reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if not len(pts):
        return mask
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    pad = 0.25 * leg_px
    mask[max(int(y0 - pad), 0):int(y1 + pad) + 1, max(int(x0 - pad), 0):int(x1 + pad) + 1] = 0
    # A treadmill belt runs well beyond the feet and slides with the stance foot.
    hip_y = np.nanmin(people[:, [LEFT_HIP, RIGHT_HIP], 1])
    reach = 1.5 * leg_px
    mask[max(int(hip_y), 0):, max(int(x0 - reach), 0):int(x1 + reach) + 1] = 0
    return mask


def pair_shift_px(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float | None:
    """Median horizontal shift of background corners from gray frame a to b; None if too few."""
    corners = cv2.goodFeaturesToTrack(a, maxCorners=300, qualityLevel=0.01, minDistance=6, mask=mask)
    if corners is None or len(corners) < MIN_TRACKED:
        return None
    ahead, ok1, _ = cv2.calcOpticalFlowPyrLK(a, b, corners, None, winSize=(21, 21), maxLevel=3)
    back, ok2, _ = cv2.calcOpticalFlowPyrLK(b, a, ahead, None, winSize=(21, 21), maxLevel=3)
    agree = (ok1[:, 0] == 1) & (ok2[:, 0] == 1) & (np.linalg.norm(back - corners, axis=2)[:, 0] < 0.5)
    if agree.sum() < MIN_TRACKED:
        return None
    return float(np.median((ahead - corners)[agree, 0, 0]))


def scenery_speed(path, pose: PoseSeries, leg_px: float, slowmo: float = 1.0) -> float | None:
    """Signed horizontal speed of the background in image px/s (0 for a still camera).

    Reads about a second of frames from where the runner is first seen: one seek, and a
    panning camera pans all the while it follows the runner. None when it cannot be told
    (too little texture, runner never seen, unreadable frames).
    """
    seen = np.flatnonzero(pose.detected)
    if not np.isfinite(leg_px) or not len(seen):
        return None
    row_of = {int(f): i for i, f in enumerate(pose.frame_index)}
    first = int(pose.frame_index[seen[0]])
    span = max(int(round(1.0 * fps_of(pose.t_ms))), PAIR_EVERY * SAMPLE_PAIRS)
    speeds = []
    try:
        with VideoFile(path, slowmo=slowmo, start=first, stop=first + span) as video:
            previous = None
            for frame in video:
                if previous is not None and (frame.index - first) % PAIR_EVERY == 1:
                    speeds.append(_pair_speed(previous, frame, pose, row_of, leg_px))
                previous = frame
    except VideoError:
        return None
    speeds = [s for s in speeds if s is not None]
    if len(speeds) < max(2, SAMPLE_PAIRS // 2):
        return None
    return float(np.median(speeds))


def _pair_speed(a: Frame, b: Frame, pose: PoseSeries, row_of: dict[int, int], leg_px: float) -> float | None:
    if a.index not in row_of or b.index not in row_of or b.t_ms <= a.t_ms:
        return None
    scale = min(1.0, WORK_WIDTH / a.bgr.shape[1])
    gray = [cv2.cvtColor(cv2.resize(f.bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                         cv2.COLOR_BGR2GRAY) for f in (a, b)]
    people = pose.xy[[row_of[a.index], row_of[b.index]]] * scale
    shift = pair_shift_px(gray[0], gray[1], background_mask(gray[0].shape, people, leg_px * scale))
    return None if shift is None else shift / scale / ((b.t_ms - a.t_ms) / 1000.0)
