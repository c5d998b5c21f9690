"""Stride time (pure numpy): a fit of contact times against step number, and the legs' fore-aft swing."""

from __future__ import annotations

import numpy as np

from formcheck.analysis.contacts import FEET, Contact
from formcheck.analysis.kinematics import SIDE
from formcheck.pose import PoseSeries


def stride_time(contacts: list[Contact]) -> float | None:
    """Stride period by a least-squares fit of contact times against step number.

    A fit over the whole clip averages out the one-frame quantisation that a median of
    intervals would keep (a 2-3 % cadence error at 30 fps). Both feet's contacts count, so
    three contacts are enough (a short clip, or a slow-motion one); a missed contact shows as
    a step number skipped, not as a long step.
    """
    times = np.array([c.time_s for c in contacts])
    feet = [c.foot for c in contacts]
    alternating = [b - a for a, b, fa, fb in zip(times, times[1:], feet, feet[1:]) if fa != fb]
    if len(times) < 3 or not alternating:
        return None
    step = np.median(alternating)
    position = (times - times[0]) / step
    number = np.round(position)
    # of two contacts given one step number (a late or doubled one), keep the better placed
    keep = {}
    for k, (n, off) in enumerate(zip(number, np.abs(position - number))):
        if n not in keep or off < keep[n][1]:
            keep[n] = (k, off)
    kept = sorted(k for k, _ in keep.values())
    if len(kept) < 3 or number[kept[-1]] < 2:
        return None
    return float(2.0 * np.polyfit(number[kept], times[kept], 1)[0])


RAMP_WINDOW = 5  # steps: the median of a few is steady through a stray or missed contact
# Within a clip a runner changes step time by a fraction, and walking to jogging by at most about
# 2x (80 -> 180 steps/min); phones save slow motion with real-time ends ("speed ramps") at 4x or 8x.
SPEED_RAMP_RATIO = 2.5


def speed_ramp_ratio(contacts: list[Contact]) -> float | None:
    """How many times longer the slowest few steps take than the quickest few, where that is more
    than any runner's rhythm changes (part of the clip is slowed), else None."""
    steps = np.diff([c.time_s for c in contacts])
    if len(steps) < 2 * RAMP_WINDOW:
        return None
    typical = [np.median(steps[k:k + RAMP_WINDOW]) for k in range(len(steps) - RAMP_WINDOW + 1)]
    ratio = float(max(typical) / min(typical))
    return round(ratio, 1) if ratio >= SPEED_RAMP_RATIO else None


def dominant_frequency(x: np.ndarray, t_s: np.ndarray, lo_hz: float, hi_hz: float,
                       step_hz: float = 0.0005) -> float | None:
    """Frequency of the strongest periodic component in [lo, hi] Hz, on a fine grid.

    A DFT evaluated on a fine grid over the whole clip resolves the stride
    frequency far below one frame of jitter (the pose-free ground truth of the
    real clips is measured the same way).
    """
    ok = np.isfinite(x)
    if ok.sum() < 20:
        return None
    x, t = x[ok], t_s[ok]
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    freqs = np.arange(lo_hz, hi_hz, step_hz)
    windowed = x * np.hanning(len(x))
    # in blocks of ~DFT_BLOCK frequencies x frames, real arithmetic: a few MB whatever the clip's length
    power = np.concatenate([_dft_power(block, t, windowed)
                            for block in np.array_split(freqs, max(1, len(freqs) * len(t) // DFT_BLOCK))])
    return float(freqs[np.argmax(power)])


DFT_BLOCK = 250_000  # matrix elements per block: 2 MB per float64 array


def _dft_power(freqs: np.ndarray, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """|sum_k x_k exp(-2 pi i f t_k)|^2 for each f."""
    phase = np.outer(freqs, t)
    phase *= 2 * np.pi
    re = np.cos(phase) @ x
    np.sin(phase, out=phase)
    im = phase @ x
    return re * re + im * im


def _leg_swing_frequencies(pose: PoseSeries, lo_hz: float, hi_hz: float) -> list[tuple[float, float]]:
    """(stride frequency, visibility) of each leg's fore-aft swing (ankle relative to pelvis)
    that shows one in [lo, hi] Hz."""
    hx = pose.hip_centre()[:, 0]
    out = []
    for side in FEET:
        s = SIDE[side]
        f = dominant_frequency(pose.xy[:, s["ankle"], 0] - hx, pose.t_s, lo_hz, hi_hz)
        if f is not None:
            out.append((f, float(np.nanmean(pose.visibility[:, s["ankle"]])) + 1e-6))
    return out


def spectral_stride_time(pose: PoseSeries, contact_stride: float | None) -> float | None:
    """Stride period from the legs' fore-aft swing, averaged over both legs by visibility.

    Searched within ±25 % of the contact-based estimate when there is one, so a
    harmonic can never be picked instead of the stride.
    """
    lo, hi = (0.4, 2.5) if contact_stride is None else (0.75 / contact_stride, 1.25 / contact_stride)
    legs = _leg_swing_frequencies(pose, lo, hi)
    if not legs:
        return None
    freqs, weights = zip(*legs)
    return 1.0 / float(np.average(freqs, weights=weights))


SWING_BAND_HZ = (0.15, 3.0)  # stride frequencies: a 10x slow-motion jog to a sprint
SWING_FEET_AGREE = 0.05


def swing_stride_time(pose: PoseSeries) -> float | None:
    """Stride period from each leg's fore-aft swing over the whole band, with no contact times;
    None unless both legs give the same rhythm (a runner in view for too little of the clip
    gives two different answers)."""
    legs = _leg_swing_frequencies(pose, *SWING_BAND_HZ)
    if len(legs) < 2 or abs(legs[0][0] / legs[1][0] - 1.0) > SWING_FEET_AGREE:
        return None
    return 2.0 / (legs[0][0] + legs[1][0])
