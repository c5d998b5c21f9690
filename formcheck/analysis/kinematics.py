"""From raw landmarks to clean trajectories and angles (pure numpy/scipy).

Order matters: drop unreliable points, repair left/right swaps, fill short gaps,
then smooth with a zero-phase low-pass so events are not shifted in time.
Angles use y-up pixel coordinates (RULES.md convention 1).
"""

from __future__ import annotations

import warnings

import numpy as np

from formcheck import pose as P
from formcheck.pose import PoseSeries

LEG_POINTS = {"left": [P.LEFT_KNEE, P.LEFT_ANKLE, P.LEFT_HEEL, P.LEFT_TOE],
              "right": [P.RIGHT_KNEE, P.RIGHT_ANKLE, P.RIGHT_HEEL, P.RIGHT_TOE]}
ARM_POINTS = {"left": [P.LEFT_ELBOW, P.LEFT_WRIST], "right": [P.RIGHT_ELBOW, P.RIGHT_WRIST]}
SIDE = {"left": dict(shoulder=P.LEFT_SHOULDER, elbow=P.LEFT_ELBOW, wrist=P.LEFT_WRIST, hip=P.LEFT_HIP,
                     knee=P.LEFT_KNEE, ankle=P.LEFT_ANKLE, heel=P.LEFT_HEEL, toe=P.LEFT_TOE),
        "right": dict(shoulder=P.RIGHT_SHOULDER, elbow=P.RIGHT_ELBOW, wrist=P.RIGHT_WRIST, hip=P.RIGHT_HIP,
                      knee=P.RIGHT_KNEE, ankle=P.RIGHT_ANKLE, heel=P.RIGHT_HEEL, toe=P.RIGHT_TOE)}


def fps_of(t_ms: np.ndarray) -> float:
    dt = np.diff(t_ms)
    dt = dt[dt > 0]
    return 1000.0 / float(np.median(dt)) if len(dt) else 30.0


# ---------------------------------------------------------------------------
# Cleaning


def repair_swaps(xy: np.ndarray, max_flip: int = 3, flip_cost: float = 0.05) -> np.ndarray:
    """Undo frames where the model swapped the left and right leg (or arm).

    For each limb pair, chooses per frame "as labelled" or "swapped" so that the
    trajectories are smoothest (least total acceleration), by dynamic programming
    over each run of detected frames. Where the legs cross their positions
    coincide but their velocities do not (one foot planted, one swinging), so
    acceleration tells them apart where the last position cannot. A small cost per
    swapped frame (``flip_cost`` torso lengths) keeps the model's labels when in doubt.
    """
    xy = xy.copy()
    torso = P.torso_length(xy)
    penalty = flip_cost * (float(np.nanmedian(torso)) if np.isfinite(torso).any() else 1.0)
    for left, right in [(LEG_POINTS["left"], LEG_POINTS["right"]), (ARM_POINTS["left"], ARM_POINTS["right"])]:
        both = np.array(left + right)
        swapped_order = np.array(right + left)
        finite = np.isfinite(xy[:, both]).all(axis=(1, 2))
        for start, stop in _runs(finite):
            if stop - start < 3:
                continue
            flips = _smoothest_labels(xy[start:stop, both], xy[start:stop, swapped_order], penalty)
            # The model's own swaps are brief flickers where limbs cross; a long
            # "swapped" stretch is more likely this repair's mistake than the model's.
            for a, b in _runs(flips):
                if b - a > max_flip:
                    flips[a:b] = False
            idx = np.arange(start, stop)[flips]
            xy[idx[:, None], both] = xy[idx[:, None], swapped_order]
    return xy


def _smoothest_labels(as_is: np.ndarray, swapped: np.ndarray, penalty: float) -> np.ndarray:
    """(T,) bool: which frames to swap, minimising summed acceleration (Viterbi over label pairs)."""
    options = np.stack([as_is, swapped])  # (2, T, n, 2)
    n_frames = as_is.shape[0]
    # cost[(a, b)] = best cost with frame t-1 in state a and frame t in state b
    cost = np.array([[penalty * (a + b) for b in (0, 1)] for a in (0, 1)], dtype=float)
    back = np.zeros((n_frames, 2, 2), dtype=np.int8)
    for t in range(2, n_frames):
        new = np.empty((2, 2))
        for b in (0, 1):
            for c in (0, 1):
                acc = [np.linalg.norm(options[c, t] - 2 * options[b, t - 1] + options[a, t - 2], axis=1).sum()
                       for a in (0, 1)]
                totals = [cost[a, b] + acc[a] for a in (0, 1)]
                best = int(np.argmin(totals))
                back[t, b, c] = best
                new[b, c] = totals[best] + penalty * c
        cost = new
    b, c = np.unravel_index(np.argmin(cost), cost.shape)
    states = np.zeros(n_frames, dtype=int)
    states[-1] = c
    if n_frames > 1:
        states[-2] = b
    for t in range(n_frames - 1, 1, -1):
        states[t - 2] = back[t, states[t - 1], states[t]]
    return states.astype(bool)


def fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linear interpolation over NaN runs of at most ``max_gap`` samples (axis 0)."""
    x = x.copy()
    flat = x.reshape(len(x), -1)
    idx = np.arange(len(x))
    for col in range(flat.shape[1]):
        v = flat[:, col]
        nan = np.isnan(v)
        if nan.all() or not nan.any():
            continue
        filled = np.interp(idx, idx[~nan], v[~nan])
        # only fill interior runs no longer than max_gap
        run_id = np.cumsum(~nan)
        run_len = np.bincount(run_id[nan], minlength=run_id.max() + 1)
        inside = (idx > idx[~nan][0]) & (idx < idx[~nan][-1])
        ok = nan & inside & (run_len[run_id] <= max_gap)
        v[ok] = filled[ok]
    return x


def remove_outliers(x: np.ndarray, window: int = 7, n_sigma: float = 4.0) -> np.ndarray:
    """Hampel filter along axis 0: points far from the running median become NaN."""
    from scipy.ndimage import median_filter

    x = x.copy()
    flat = x.reshape(len(x), -1)
    filled = np.where(np.isnan(flat), np.nanmedian(flat, axis=0), flat)
    med = median_filter(filled, size=(window, 1), mode="nearest")
    mad = median_filter(np.abs(filled - med), size=(window, 1), mode="nearest")
    scale = 1.4826 * np.maximum(mad, np.nanmedian(mad, axis=0) + 1e-6)
    flat[np.abs(flat - med) > n_sigma * scale] = np.nan
    return x


def lowpass(x: np.ndarray, fps: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase Butterworth along axis 0 on each finite run."""
    # imported here: scipy.signal takes ~1 s to import and is not needed until the poses are in
    from scipy.signal import butter, filtfilt

    cutoff = min(cutoff_hz, 0.4 * fps)
    b, a = butter(2, cutoff / (fps / 2))
    out = x.copy()
    flat = out.reshape(len(out), -1)
    for col in range(flat.shape[1]):
        v = flat[:, col]
        finite = np.isfinite(v)
        for start, stop in _runs(finite):
            if stop - start > 3 * max(len(a), len(b)):
                v[start:stop] = filtfilt(b, a, v[start:stop])
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def clean(pose: PoseSeries, min_visibility: float = 0.3, cutoff_hz: float = 10.0) -> PoseSeries:
    """The smoothed series used for every measurement."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # landmarks never seen give all-NaN columns
        return _clean(pose, min_visibility, cutoff_hz)


def _clean(pose: PoseSeries, min_visibility: float, cutoff_hz: float) -> PoseSeries:
    fps = fps_of(pose.t_ms)
    xy = pose.xy.copy()
    xy[pose.visibility < min_visibility] = np.nan
    # MediaPipe invents positions for limbs outside the picture; nothing may be judged from them
    outside = (xy[..., 0] < 0) | (xy[..., 0] >= pose.width) | (xy[..., 1] < 0) | (xy[..., 1] >= pose.height)
    xy[outside] = np.nan
    xy = repair_swaps(xy, max_flip=max(2, int(round(0.1 * fps))))
    xy = remove_outliers(xy)
    xy = fill_gaps(xy, max_gap=max(2, int(round(0.15 * fps))))
    xy = lowpass(xy, fps, cutoff_hz)
    return pose.with_xy(xy)


# ---------------------------------------------------------------------------
# Geometry (y up)


def up(v: np.ndarray) -> np.ndarray:
    """Image vectors (x right, y down) -> y-up vectors."""
    return v * np.array([1.0, -1.0])


def interior_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle ABC in degrees, for (..., 2) arrays."""
    u, v = a - b, c - b
    cos = np.sum(u * v, axis=-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))



def near_side(pose: PoseSeries, facing: int) -> str:
    """Anatomical side facing the camera: facing image-right shows the right side."""
    vis = {s: np.nanmean(pose.visibility[:, [SIDE[s]["knee"], SIDE[s]["ankle"], SIDE[s]["elbow"]]])
           for s in ("left", "right")}
    if abs(vis["left"] - vis["right"]) > 0.1:
        return max(vis, key=vis.get)
    return "right" if facing > 0 else "left"


def leg_length_px(pose: PoseSeries, side: str) -> float:
    """Thigh + shank (RULES.md convention 4), its 90th percentile over frames.

    RULES.md takes the median; but a segment's image length can only come out short
    (limbs leaving the image plane, the model pulling joints inwards), and against the
    synthetic truth the median read legs 5-10 % short, most with long strides, which
    inflated step lengths in L by as much. The 90th percentile halves that bias.
    """
    s = SIDE[side]
    xy = pose.xy
    legs = (np.linalg.norm(xy[:, s["hip"]] - xy[:, s["knee"]], axis=1)
            + np.linalg.norm(xy[:, s["knee"]] - xy[:, s["ankle"]], axis=1))
    return float(np.nanpercentile(legs, 90)) if np.isfinite(legs).any() else float("nan")


def trunk_lean_deg(pose: PoseSeries, facing: int) -> np.ndarray:
    """(T,) hip-mid -> shoulder-mid from vertical, positive toward the facing side."""
    v = up(P.shoulder_centre(pose.xy) - pose.hip_centre())
    return np.degrees(np.arctan2(facing * v[:, 0], v[:, 1]))


def elbow_angle_deg(pose: PoseSeries, side: str) -> np.ndarray:
    s = SIDE[side]
    return interior_angle(pose.xy[:, s["shoulder"]], pose.xy[:, s["elbow"]], pose.xy[:, s["wrist"]])


def foot_pitch_deg(pose: PoseSeries, side: str, facing: int) -> np.ndarray:
    """(T,) heel -> toe against horizontal, positive when the toes are lower."""
    s = SIDE[side]
    v = up(pose.xy[:, s["toe"]] - pose.xy[:, s["heel"]])
    return np.degrees(np.arctan2(-v[:, 1], facing * v[:, 0]))

