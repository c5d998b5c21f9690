"""A tiny analytic 2D runner as landmark arrays with exact truth (no video, no model).

Used to test kinematics, gait events and rules in isolation: stance feet move
against travel relative to the pelvis (treadmill) or stay planted (overground),
swing feet reach out and swing back onto the landing point as real ones do, legs
follow by two-link inverse kinematics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from formcheck import pose as P
from formcheck.pose import PoseSeries


@dataclass
class Gait2D:
    facing: int = -1  # +1 image-right
    backward: bool = True
    treadmill: bool = True
    cadence: float = 180.0
    duty: float = 0.38
    step_length_leg: float = 0.7
    lean_deg: float = 8.0
    elbow_deg: float = 90.0
    strike_pitch_deg: float = 15.0  # foot pitch at touch-down, + = toes lower
    bounce_leg: float = 0.06  # hip vertical range: lowest at mid-stance running, highest walking
    fps: float = 60.0
    duration_s: float = 6.0
    leg_px: float = 200.0

    @property
    def travel(self) -> int:
        return -self.facing if self.backward else self.facing

    def contact_times(self, foot: str) -> np.ndarray:
        stride = 120.0 / self.cadence
        offset = 0.1 if foot == "left" else 0.1 + stride / 2
        return np.arange(offset, self.duration_s, stride)


def _ik_knee(hip, ankle, thigh, shank, facing):
    d = ankle - hip
    dist = np.clip(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6, thigh + shank - 1e-6)
    a = (thigh**2 - shank**2 + dist**2) / (2 * dist)
    h = np.sqrt(np.maximum(thigh**2 - a**2, 0))
    base = hip + a * d / dist
    perp = np.stack([-d[..., 1], d[..., 0]], axis=-1) / dist
    # the knee bends toward the facing side (image x), whichever way the perpendicular points
    sign = np.sign(perp[..., :1] * facing)
    return base + sign * h * perp


LANDING_SPEED = 0.6  # of the stance's sliding-back speed, reached in late swing as the foot retracts


def _swing_reach(s: np.ndarray, duty: float) -> np.ndarray:
    """Foot position ahead of the pelvis through swing (s: 0 at toe-off, 1 at touch-down), in half
    the stance travel: it carries on back a little after toe-off, swings through, reaches out past
    the landing point and swings back onto it (late-swing retraction), so the foot's speed relative
    to the pelvis has no jumps. A cubic Hermite from -1 to +1 with the stance's slope at toe-off."""
    stance_slope = -2.0 * (1 - duty) / duty  # the stance's d(reach)/ds, in swing phase units
    m0, m1 = stance_slope, LANDING_SPEED * stance_slope
    return (-(2 * s**3 - 3 * s**2 + 1) + (-2 * s**3 + 3 * s**2)
            + m0 * (s**3 - 2 * s**2 + s) + m1 * (s**3 - s**2))


def make_series(g: Gait2D) -> PoseSeries:
    n = int(round(g.duration_s * g.fps))
    t = np.arange(n) / g.fps
    L = g.leg_px
    stride = 120.0 / g.cadence
    speed = g.step_length_leg * L * g.cadence / 60.0  # px/s
    ground = 900.0
    mid_stance = g.contact_times("left")[0] + g.duty * stride / 2
    walking = 1.0 if g.duty > 0.5 else -1.0
    hip_up = walking * g.bounce_leg * L / 2 * np.cos(2 * np.pi * (t - mid_stance) / (stride / 2))
    hip = np.stack([np.full(n, 5000.0), ground - 0.9 * L - hip_up], axis=1)
    if not g.treadmill:
        hip[:, 0] += g.travel * speed * t
    xy = np.full((n, 33, 2), np.nan)
    for side, hip_i, knee_i, ankle_i, heel_i, toe_i in [
            ("left", P.LEFT_HIP, P.LEFT_KNEE, P.LEFT_ANKLE, P.LEFT_HEEL, P.LEFT_TOE),
            ("right", P.RIGHT_HIP, P.RIGHT_KNEE, P.RIGHT_ANKLE, P.RIGHT_HEEL, P.RIGHT_TOE)]:
        offset = g.contact_times(side)[0]
        phase = ((t - offset) / stride) % 1.0
        stance_len = g.duty * stride
        half = speed * stance_len / 2  # stance foot travels 2*half relative to the pelvis
        in_stance = phase < g.duty
        s = np.where(in_stance, phase / g.duty, (phase - g.duty) / (1 - g.duty))
        rel = g.travel * half * np.where(in_stance, 1 - 2 * s, _swing_reach(s, g.duty))
        lift = np.where(in_stance, 0.0, 0.15 * L * np.sin(np.pi * s))
        ankle = np.stack([hip[:, 0] + rel, ground - 0.06 * L - lift], axis=1)
        # pitch ramps to the strike pitch over the last 15 % of swing and back to flat
        # over the first 25 % of stance (forefoot: the heel drops after the toes land)
        pitch = g.strike_pitch_deg * np.where(in_stance, np.clip(1 - s / 0.25, 0, 1), np.clip((s - 0.85) / 0.15, 0, 1))
        pr = np.radians(pitch)
        foot_dir = np.stack([g.facing * np.cos(pr), np.sin(pr)], axis=1)  # y down: + pitch = toes lower
        xy[:, heel_i] = ankle - 0.08 * L * foot_dir + [0, 0.02 * L]
        xy[:, toe_i] = ankle + 0.22 * L * foot_dir + [0, 0.05 * L]
        xy[:, ankle_i] = ankle
        # keep the lowest foot point on the ground while pitched in stance
        low = np.maximum(xy[:, heel_i, 1], xy[:, toe_i, 1]) - (ground - 0.06 * L + 0.05 * L)
        shift = np.where(in_stance, low, 0.0)[:, None] * [0, 1]
        for i in (heel_i, toe_i, ankle_i):
            xy[:, i] -= shift
        ankle = xy[:, ankle_i]
        xy[:, hip_i] = hip
        xy[:, knee_i] = _ik_knee(hip, ankle, L / 2, L / 2, g.facing)
    lean = np.radians(g.lean_deg)
    shoulder = hip + 0.75 * L * np.array([g.facing * np.sin(lean), -np.cos(lean)])
    xy[:, [P.LEFT_SHOULDER, P.RIGHT_SHOULDER]] = shoulder[:, None]
    for side, el, wr, other_ankle in [("left", P.LEFT_ELBOW, P.LEFT_WRIST, P.RIGHT_ANKLE),
                                      ("right", P.RIGHT_ELBOW, P.RIGHT_WRIST, P.LEFT_ANKLE)]:
        # each arm swings with the opposite leg (contralateral), as runners do
        reach = (xy[:, other_ankle, 0] - hip[:, 0]) / np.nanmax(np.abs(xy[:, other_ankle, 0] - hip[:, 0]))
        swing = np.radians(25) * reach
        upper = 0.35 * L * np.stack([np.sin(swing), np.cos(swing)], axis=1)
        elbow = shoulder + upper
        fore_angle = swing + np.radians(180 - g.elbow_deg) * g.facing
        fore = 0.3 * L * np.stack([np.sin(fore_angle), np.cos(fore_angle)], axis=1)
        xy[:, el], xy[:, wr] = elbow, elbow + fore
    head = shoulder + [0, -0.3 * L]
    xy[:, P.NOSE] = head + [g.facing * 0.08 * L, 0]
    xy[:, [P.LEFT_EAR, P.RIGHT_EAR]] = (head - [g.facing * 0.04 * L, 0])[:, None]
    vis = np.where(np.isnan(xy[..., 0]), 0.0, 0.99)
    # a wide "image" so an overground runner stays in view for the whole series
    return PoseSeries(xy, vis, t * 1000.0, np.arange(n), 10000, 1000)
