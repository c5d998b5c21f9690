"""Camera motion: how fast the scenery behind the runner slides across the image.

A camera that pans to follow an overground runner keeps the hips still in the image,
just as a treadmill does; only the background tells them apart. We take pairs of
consecutive frames spread over the whole time the runner is in view (a camera operator
often starts panning late), track corners outside the runner (and outside a belt at the
feet), and take the median horizontal shift past the runner's hips. A camera following an
overground runner sees the scenery pass them against their travel all along; a hand-held
camera beside a treadmill moves runner and scenery together, or only shakes them, both ways.
"""

from __future__ import annotations

from math import comb

import cv2
import numpy as np

from formcheck.analysis.gait import SceneryMotion
from formcheck.errors import VideoError
from formcheck.io.video import Frame, VideoFile
from formcheck.pose import LEFT_HIP, RIGHT_HIP, PoseSeries

WORK_WIDTH = 480  # px: plenty for a global shift, cheap to track
MIN_TRACKED = 12  # corners that must survive the forward-backward check for a pair to count
SAMPLE_PAIRS = 24  # pairs spread over the time the runner is in view
MIN_PAIRS = 4
SAME_WAY = 0.75  # share of the pairs that must shift the same way for the scenery to be moving
# Pose jitter and shake push a still scene's pairs either way: a sign test, so that a handful of
# low-texture pairs that happen to agree is not taken for far scenery sliding by.
ONE_WAY_P = 0.05


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
    # A treadmill belt runs beyond the feet and slides with the stance foot; seen from the side
    # it is a thin band at the soles (the deck below it and the floor stand still).
    reach = 0.6 * leg_px
    mask[max(int(y1 - 0.3 * leg_px), 0):int(y1 + 0.15 * leg_px) + 1,
         max(int(x0 - reach), 0):int(x1 + reach) + 1] = 0
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


def scenery_motion(path, pose: PoseSeries, leg_px: float, slowmo: float = 1.0) -> SceneryMotion | None:
    """The background's horizontal motion past the runner's hips, in image px/s: about 0 on a
    treadmill whatever the camera does (a hand-held camera that wanders moves the runner and
    the scenery together), the runner's speed against travel overground (less for far
    scenery: parallax).

    The ground below the hips is asked first: a camera travelling alongside the runner sees it
    slide past, while the sky and far scenery stay put (parallax). Reads the frames from the
    runner's first to last detection, tracking one pair of consecutive frames out of every few.
    None when it cannot be told (too little texture, runner never seen, unreadable frames).
    """
    seen = np.flatnonzero(pose.detected)
    if not np.isfinite(leg_px) or not len(seen):
        return None
    row_of = {int(f): i for i, f in enumerate(pose.frame_index)}
    hips_x = pose.hip_centre()[:, 0]
    first, last = int(pose.frame_index[seen[0]]), int(pose.frame_index[seen[-1]])
    every = max(2, (last - first) // SAMPLE_PAIRS)
    starts = list(range(first, last, every))  # each pair: frames k and k + 1
    try:
        pairs = _pairs(path, slowmo, starts, lambda a, b: _pair_speeds(a, b, pose, row_of, leg_px, hips_x))
    except VideoError:
        return None
    everywhere, ground = (_motion([p[k] for p in pairs if p is not None]) for k in (0, 1))
    # The ground first; the far scenery where only it slides one way beyond chance.
    if ground is None or (everywhere is not None and everywhere.beyond_chance and not ground.beyond_chance):
        return everywhere
    return ground


def _pairs(path, slowmo: float, starts: list[int], speeds) -> list:
    """``speeds(a, b)`` for each pair of frames k, k + 1 with k in ``starts`` (ascending), read
    in one pass; the frames between pairs are decoded but not converted."""
    if not starts:
        return []
    firsts = set(starts)
    wanted = firsts | {k + 1 for k in starts}
    out, previous = [], None
    with VideoFile(path, slowmo=slowmo, start=starts[0], stop=starts[-1] + 2) as video:
        for frame in video.frames(wanted.__contains__):
            if previous is not None and previous.index in firsts and frame.index == previous.index + 1:
                out.append(speeds(previous, frame))
            previous = frame
    return out


def _motion(speeds: list[float | None]) -> SceneryMotion | None:
    """The pairs' median speed and how one way they go; None if too few pairs."""
    speeds = np.array([s for s in speeds if s is not None])
    if len(speeds) < MIN_PAIRS:
        return None
    median = float(np.median(speeds))
    agree = int(np.sum(np.sign(speeds) == np.sign(median)))
    one_way = agree >= SAME_WAY * len(speeds)
    return SceneryMotion(median, one_way, one_way and _sign_test_p(agree, len(speeds)) < ONE_WAY_P)


def _sign_test_p(agree: int, n: int) -> float:
    """Two-sided chance that ``agree`` or more of ``n`` fair coin tosses (or as few) land one way."""
    return min(1.0, 2.0 * sum(comb(n, k) for k in range(agree, n + 1)) / 2.0 ** n)


def _pair_speeds(a: Frame, b: Frame, pose: PoseSeries, row_of: dict[int, int], leg_px: float,
                 hips_x: np.ndarray) -> tuple[float | None, float | None] | None:
    """Scenery speed past the hips in px/s from frame a to b: over all the background, and below
    the hips. Relative to the hips' shift between the same two frames, so what the camera's own
    motion adds to both cancels, shake included."""
    if a.index not in row_of or b.index not in row_of or b.t_ms <= a.t_ms:
        return None
    hip = (hips_x[row_of[b.index]] - hips_x[row_of[a.index]]) / ((b.t_ms - a.t_ms) / 1000.0)
    if not np.isfinite(hip):
        return None
    scale = min(1.0, WORK_WIDTH / a.bgr.shape[1])
    gray = [cv2.cvtColor(cv2.resize(f.bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                         cv2.COLOR_BGR2GRAY) for f in (a, b)]
    people = pose.xy[[row_of[a.index], row_of[b.index]]] * scale
    mask = background_mask(gray[0].shape, people, leg_px * scale)
    masks = [mask]
    hips_y = people[:, [LEFT_HIP, RIGHT_HIP], 1]
    if np.isfinite(hips_y).any():  # the runner may be out of view in this pair
        ground = mask.copy()
        ground[:max(int(np.nanmin(hips_y)), 0)] = 0
        masks.append(ground)
    per_s = 1.0 / scale / ((b.t_ms - a.t_ms) / 1000.0)
    shifts = [pair_shift_px(gray[0], gray[1], m) for m in masks] + [None] * (2 - len(masks))
    return tuple(None if shift is None else shift * per_s - hip for shift in shifts)
