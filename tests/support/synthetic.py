"""Synthetic side-view runner: a parametric gait rendered as a real H.264 clip, plus exact truth.

Why: no licensed backward-running footage exists, so the whole chain (pixels -> pose ->
gait -> rules) is scored against clips whose every number is known by construction.

Model, in a world frame of pixels with y up and the ground at y = 0:
- The pelvis travels at constant speed along the travel sign ``d`` (overground) and
  bounces vertically once per step. On a treadmill the same motion is seen by a camera
  that moves with the pelvis, so the belt (and the planted foot on it) slides by instead.
- Each foot has a stride of two steps: stance (duty factor) with the sole planted, the
  foot pitching about the toe or heel at the start and end of stance; then a swing to the
  next contact point with a sinusoidal clearance profile, landing as real feet do: still
  moving along the travel, at a fraction of the runner's speed (late-swing retraction).
- Legs are two-link inverse kinematics from the hip to the ankle, knees bending toward the
  facing side. Arms swing at the stride frequency with a fixed elbow angle.
Contacts and toe-offs in the truth are read back from the sampled frames (the first and
last frame with a foot point on the ground), so truth and pixels cannot disagree.

Looks (``GaitParams.look``, defined in ``LOOK_STYLES``) are filming conditions, so the
benchmark cannot be passed by a pipeline tuned to one mannequin: shoes and limb thickness,
baggy low-contrast clothes, a cluttered scene, backlight, motion blur, JPEG compression, a
hand-held camera, a zoom. They change pixels, never the gait; a moving camera maps the
joints through the same per-frame view the pixels go through. ``plain`` is the original
renderer, pixel for pixel.

Public API: ``GaitParams``, ``render_clip(params, out_path)`` (mp4 + ``<stem>.truth.json``
+ ``<stem>.joints.npz``), ``render_frames(params)`` (the frames before encoding),
``truth_for(params)`` (pure), ``joint_tracks(params)`` (the per-frame true joints),
``LOOKS``, ``LOOK_STYLES``, ``JOINT_NAMES`` and ``MEDIAPIPE_INDEX``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

# Landmark names as MediaPipe spells them, so truth and pose arrays compare one to one.
JOINT_NAMES = (
    "nose",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
MEDIAPIPE_INDEX = {
    "nose": 0, "left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13,
    "right_elbow": 14, "left_wrist": 15, "right_wrist": 16, "left_hip": 23,
    "right_hip": 24, "left_knee": 25, "right_knee": 26, "left_ankle": 27,
    "right_ankle": 28, "left_heel": 29, "right_heel": 30, "left_foot_index": 31,
    "right_foot_index": 32,
}
__all__ = ["GaitParams", "render_clip", "render_frames", "truth_for", "joint_tracks",
           "JOINT_NAMES", "MEDIAPIPE_INDEX", "LOOKS", "LOOK_STYLES", "SLOW_MOTION_RUN"]

FEET = ("right", "left")  # the right foot lands first; the left half a stride later

# Winter (2009) segment lengths as fractions of standing height H.
THIGH, SHANK, FOOT = 0.245, 0.246, 0.152
ANKLE_HEIGHT = 0.039  # ankle joint above the sole
HEEL_BACK = 0.22 * FOOT  # ankle sits about a fifth of the foot length in front of the heel
TRUNK = 0.288  # hip joint (0.530 H) to shoulder joint (0.818 H)
NECK = 0.052  # shoulder (0.818 H) to chin (0.870 H)
HEAD = 0.130  # chin to crown
UPPER_ARM, FOREARM = 0.186, 0.146
NOSE_AHEAD, NOSE_BELOW = 0.054, 0.010  # nose tip from the head centre, in H

STRIKE_PITCH_DEG = {"forefoot": 15.0, "flat": 0.0, "heel": -15.0}
TAKEOFF_PITCH_DEG = {"backward": -20.0, "forward": 25.0}  # BR: heel-last; FR: toe-last
EARLY_STANCE = {"forefoot": 0.35, "flat": 0.0, "heel": 0.2}  # share of stance to lower the foot
LATE_STANCE = 0.3  # share of stance spent rolling onto the take-off point
CLEARANCE_LEG = 0.15  # peak swing clearance of the lowest foot point, in leg lengths
# Late-swing retraction: at touch-down the foot already moves back against the pelvis at this
# share of the runner's speed, so it meets the ground still moving along the travel (the rest).
LANDING_RETRACTION = 0.6
DRAG_CLEARANCE_LEG = 0.015  # heel drag: under the 0.03 L rule threshold all swing long
ARM_SWING_DEG = 25.0
ARM_REST_DEG = -8.0  # mid-swing upper arm, relative to the trunk: hangs slightly behind it
LEAN_WOBBLE_DEG = 1.0  # small per-step trunk oscillation; its per-stride mean is zero
STANCE_REACH = 0.98  # longest stance hip-ankle distance, in L: legs never lock straight
SWING_REACH = 0.99
MIDSTANCE_KNEE_MAX_DEG = 145.0  # interior knee angle at mid-stance: runners land bent
ON_GROUND_EPS = 1e-6  # px; a foot point at or below this height touches the ground
TREADMILL_DECK = 0.09  # deck height below the belt surface, in H
SUPERSAMPLE = 2  # draw at 2x and shrink: cheap anti-aliasing for the shaded shapes


@dataclass
class GaitParams:
    """What the synthetic runner does. Defaults: a good backward jog, facing image-left."""

    facing: str = "left"  # "left" | "right": image direction the runner faces
    direction: str = "backward"  # "backward" | "forward": travel relative to facing
    setting: str = "treadmill"  # "treadmill" | "overground"
    camera: str = "static"  # "static" | "panning" (overground only)
    cadence_spm: float = 180.0
    step_length_leg: float = 0.7
    duty_factor: float = 0.38
    trunk_lean_deg: float = 8.0
    elbow_angle_deg: float = 90.0
    arm_swing: str = "opposite"  # "opposite" | "same"
    strike: str = "forefoot"  # "forefoot" | "flat" | "heel"
    heel_drag: bool = False
    bounce_leg: float = 0.06  # pelvis vertical range / L
    fps: float = 30.0
    width: int = 960
    height: int = 540
    duration_s: float = 6.0
    body_height_frac: float = 0.75  # runner height / image height
    seed: int = 0  # colours, proportion jitter, gait phase, noise
    noise: float = 0.0  # gaussian image noise sigma (0-255 scale)
    occlusion: tuple[float, float] | None = None  # (start_s, end_s): a grey bar hides the legs
    look: str = "plain"  # filming condition, a key of LOOK_STYLES: changes pixels, never the gait


# --------------------------------------------------------------------------- looks


@dataclass(frozen=True)
class ShoeShape:
    """A shoe drawn onto the true heel and toe points; sizes in fractions of the runner's height."""

    heel_r: float = 0.024
    toe_r: float = 0.014
    upper_r: tuple[float, float] = (0.02, 0.018)  # at the ankle, at the instep
    sole_w: float = 0.008
    sole_lift: float = 0.005  # the sole line's centre above the true sole points
    dark: bool = False  # a black shoe with a black sole, on a dark floor


SHOE_SHAPES = {
    "low": ShoeShape(),
    "trainer": ShoeShape(heel_r=0.033, toe_r=0.022, upper_r=(0.029, 0.028), sole_w=0.02,
                         sole_lift=0.01),
    "racing_flat": ShoeShape(heel_r=0.016, toe_r=0.008, upper_r=(0.014, 0.011), sole_w=0.004,
                             sole_lift=0.002),
    "dark": ShoeShape(heel_r=0.027, toe_r=0.017, upper_r=(0.023, 0.021), sole_w=0.012,
                      sole_lift=0.006, dark=True),
}


@dataclass(frozen=True)
class LookStyle:
    """A filming condition, as knobs that the figure, the scenery, the camera and the
    encoder read. Concrete values are drawn per seed within these ranges; the defaults are
    the plain look, which reproduces the original clips pixel for pixel."""

    shoes: tuple[str, ...] = ("low",)  # SHOE_SHAPES keys to pick from
    limb_scale: tuple[float, float] = (1.0, 1.0)  # limb thickness, legs and arms drawn apart
    clothing: str = "fitted"  # "fitted" | "baggy" (wide trousers or long shorts, loose shirt)
    palette: str = "seeded"  # "seeded" | "low_contrast" | "backlit"
    scenery: str = "room"  # "room" | "cluttered"
    glare: float = 0.0  # veiling glare from a bright background, 0-1
    shutter: tuple[float, float] = (0.0, 0.0)  # exposure, in frame intervals: motion blur
    jpeg_quality: tuple[int, int] | None = None  # every frame through a JPEG of this quality
    min_crf: int = 0  # the clip itself is written at least this lossy
    shake: float = 0.0  # hand-held shake amplitude, share of the frame size
    zoom: tuple[float, float] = (1.0, 1.0)  # the runner's size over the clip, x nominal


LOOK_STYLES: dict[str, LookStyle] = {
    "plain": LookStyle(),
    "shoes": LookStyle(shoes=("trainer", "racing_flat", "dark"), limb_scale=(0.7, 1.35)),
    "baggy": LookStyle(clothing="baggy", palette="low_contrast"),
    "cluttered": LookStyle(scenery="cluttered"),
    "backlit": LookStyle(palette="backlit", glare=0.3),
    "blur": LookStyle(shutter=(0.5, 1.0)),
    "compressed": LookStyle(jpeg_quality=(8, 16), min_crf=36),
    "handheld": LookStyle(shake=0.025),
    "zoom": LookStyle(zoom=(0.8, 1.2)),
}
LOOKS = tuple(LOOK_STYLES)


# --------------------------------------------------------------------------- parameters

_CHOICES = {
    "facing": ("left", "right"),
    "direction": ("backward", "forward"),
    "setting": ("treadmill", "overground"),
    "camera": ("static", "panning"),
    "arm_swing": ("opposite", "same"),
    "strike": ("forefoot", "flat", "heel"),
    "look": LOOKS,
}


def _validate(p: GaitParams) -> None:
    for name, allowed in _CHOICES.items():
        if getattr(p, name) not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {getattr(p, name)!r}")
    if p.setting == "treadmill" and p.camera != "static":
        raise ValueError("a treadmill clip needs camera='static' (the runner stays in place)")
    if not 0.0 < p.duty_factor < 1.0:
        raise ValueError("duty_factor must be between 0 and 1")
    for name in ("cadence_spm", "step_length_leg", "fps", "duration_s", "body_height_frac"):
        if not getattr(p, name) > 0:
            raise ValueError(f"{name} must be positive")
    if p.width % 2 or p.height % 2 or p.width < 64 or p.height < 64:
        raise ValueError("width and height must be even (yuv420p) and at least 64")
    if not 0.0 < p.elbow_angle_deg <= 180.0:
        raise ValueError("elbow_angle_deg must be in (0, 180]")


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class _Model:
    """Everything derived from the parameters; lengths in px, angles in radians."""

    f: int  # facing sign along image x
    d: int  # travel sign along image x
    H: float  # standing height
    thigh: float
    shank: float
    heel_back: float
    toe_fwd: float
    ankle_h: float
    trunk: float
    neck: float
    head: float
    upper_arm: float
    forearm: float
    step_T: float
    stride_T: float
    duty: float
    speed: float  # px/s of the pelvis over the ground
    t0: tuple[float, float]  # first contact time of the right and left foot
    p_strike: float
    p_off: float
    early: float
    late: float
    bounce: float
    lean: float
    elbow: float
    arm_sign: int  # -1: arm opposite to the same-side leg, +1: with it
    clearance: float = 0.0
    hip_mean: float = 0.0

    @property
    def L(self) -> float:
        return self.thigh + self.shank


def _build_model(p: GaitParams) -> _Model:
    """Derive lengths and timing; the hip height and swing clearance are fitted afterwards."""
    rng = np.random.default_rng(p.seed)
    H = p.body_height_frac * p.height
    # A few percent of jitter per segment: not everyone has textbook proportions.
    jit = 1.0 + 0.03 * rng.uniform(-1.0, 1.0, size=6)
    f = 1 if p.facing == "right" else -1
    d = f if p.direction == "forward" else -f
    step_T = 60.0 / p.cadence_spm
    stride_T = 2.0 * step_T
    thigh, shank = THIGH * H * jit[0], SHANK * H * jit[1]
    L = thigh + shank
    t_right = stride_T * rng.uniform(0.0, 1.0)  # random phase: events fall anywhere between frames
    m = _Model(
        f=f, d=d, H=H, thigh=thigh, shank=shank,
        heel_back=HEEL_BACK * H * jit[2], toe_fwd=(FOOT - HEEL_BACK) * H * jit[2],
        ankle_h=ANKLE_HEIGHT * H, trunk=TRUNK * H * jit[3], neck=NECK * H, head=HEAD * H,
        upper_arm=UPPER_ARM * H * jit[4], forearm=FOREARM * H * jit[5],
        step_T=step_T, stride_T=stride_T, duty=p.duty_factor,
        speed=p.step_length_leg * L / step_T,
        t0=(t_right, t_right + step_T),
        p_strike=math.radians(STRIKE_PITCH_DEG[p.strike]),
        p_off=math.radians(TAKEOFF_PITCH_DEG[p.direction]),
        early=EARLY_STANCE[p.strike], late=LATE_STANCE,
        bounce=p.bounce_leg * L, lean=math.radians(p.trunk_lean_deg),
        elbow=math.radians(p.elbow_angle_deg),
        arm_sign=-1 if p.arm_swing == "opposite" else 1,
    )
    return _fit_heights(m, p.heel_drag)


def _smoothstep(u):
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _swing_path(u, end_slope: float):
    """0 -> 1 leaving at rest and arriving with slope end_slope (a cubic Hermite)."""
    u = np.clip(u, 0.0, 1.0)
    return (-2.0 * u + 3.0) * u * u + end_slope * (u - 1.0) * u * u


# --------------------------------------------------------------------------- feet


def _foot_offsets(m: _Model, pitch):
    """World offsets (dx, dy) from ankle to heel and toe sole points for a foot pitch.

    Positive pitch = toes lower than the heel (RULES convention 7).
    """
    c, s = np.cos(pitch), np.sin(pitch)

    def rotate(u, y):  # u along facing, y up; rotating by -pitch lowers the toes
        return m.f * (u * c + y * s), -u * s + y * c

    return rotate(-m.heel_back, -m.ankle_h), rotate(m.toe_fwd, -m.ankle_h)


def _stance(m: _Model, j: int, k, u):
    """Ankle (x, y) and pitch of foot j in stance k at stance fraction u in [0, 1]."""
    k, u = np.asarray(k, float), np.asarray(u, float)
    t_contact = m.t0[j] + k * m.stride_T
    # The flat foot's ankle sits under the hip at mid-stance: symmetric contact and take-off.
    ankle_x = m.d * m.speed * (t_contact + 0.5 * m.duty * m.stride_T)
    heel_x, toe_x = ankle_x - m.f * m.heel_back, ankle_x + m.f * m.toe_fwd
    # Early stance lowers the foot from its strike pitch about the point that struck;
    # late stance rolls it onto the take-off point (heel in BR, toe in FR).
    early = m.p_strike * (1.0 - _smoothstep(u / m.early)) if m.early > 0 else 0.0 * u
    late = m.p_off * _smoothstep((u - (1.0 - m.late)) / m.late)
    in_early = u < m.early
    pitch = np.where(in_early, early, np.where(u > 1.0 - m.late, late, 0.0))
    strike_toe = m.p_strike > 0
    off_toe = m.p_off > 0
    pivot_is_toe = np.where(in_early, strike_toe, off_toe)
    (hx, hy), (tx, ty) = _foot_offsets(m, pitch)
    ax = np.where(pivot_is_toe, toe_x - tx, heel_x - hx)
    ay = np.where(pivot_is_toe, -ty, -hy)
    return ax, ay, pitch


def _swing(m: _Model, j: int, k, s):
    """Ankle and pitch of foot j swinging from stance k to stance k+1 at swing fraction s."""
    ax0, _, p0 = _stance(m, j, k, np.ones_like(s))
    ax1, _, p1 = _stance(m, j, np.asarray(k) + 1, np.zeros_like(s))
    pitch = p0 + (p1 - p0) * _smoothstep(s)
    (_, hy), (_, ty) = _foot_offsets(m, pitch)
    lowest = np.minimum(hy, ty)
    # Clearance is defined on the lowest foot point, so the sole never dips into the ground.
    ay = m.clearance * np.sin(np.pi * np.clip(s, 0.0, 1.0)) - lowest
    # Why not ease to a stop over the landing point: a foot hovering still above the ground is
    # planted in all but height, which no landmark could tell from a touch-down.
    landing_slope = (1.0 - LANDING_RETRACTION) * (1.0 - m.duty)  # ground speed / stride per swing
    ax = ax0 + (ax1 - ax0) * _swing_path(s, landing_slope)
    return ax, ay, pitch


def _foot(m: _Model, j: int, t):
    """Ankle x, y, pitch and stance flag of foot j at times t."""
    cycles = (np.asarray(t, float) - m.t0[j]) / m.stride_T
    k = np.floor(cycles)
    phase = cycles - k
    in_stance = phase < m.duty
    sx, sy, sp = _stance(m, j, k, phase / m.duty)
    wx, wy, wp = _swing(m, j, k, (phase - m.duty) / (1.0 - m.duty))
    return (np.where(in_stance, sx, wx), np.where(in_stance, sy, wy),
            np.where(in_stance, sp, wp), in_stance)


def _hip(m: _Model, t):
    """Pelvis (x, y): constant speed. A runner's is lowest at mid-stance (a compressed spring)
    and highest in mid-flight; a walker's highest at mid-stance (an inverted pendulum)."""
    t = np.asarray(t, float)
    t_mid = m.t0[0] + 0.5 * m.duty * m.stride_T
    vault = 1.0 if m.duty > 0.5 else -1.0
    y = m.hip_mean + vault * 0.5 * m.bounce * np.cos(2.0 * np.pi * (t - t_mid) / m.step_T)
    return m.d * m.speed * t, y


def _fit_heights(m: _Model, heel_drag: bool) -> _Model:
    """Pick the mean hip height and the swing clearance so every ankle stays in reach.

    Why: long steps or a low swing foot would otherwise ask the leg to be longer than it is.
    The hip is as high as the stance legs allow (never locked straight, knee bent at
    mid-stance); a normal swing foot is lifted higher if needed, a dragging one is not,
    so a heel-dragger sinks lower instead.
    """
    L = m.L
    m = replace(m, clearance=(DRAG_CLEARANCE_LEG if heel_drag else CLEARANCE_LEG) * L)
    t = np.linspace(0.0, m.stride_T, 1441)[:-1]  # one stride covers every phase of both feet
    hx, hy0 = _hip(replace(m, hip_mean=0.0), t)
    knee_max = math.radians(MIDSTANCE_KNEE_MAX_DEG)
    mid_reach = math.sqrt(m.thigh**2 + m.shank**2 - 2 * m.thigh * m.shank * math.cos(knee_max))
    limits = []
    for j in range(2):
        ax, ay, _, stance = _foot(m, j, t)
        dx = ax - hx
        limits.append(_hip_limit(dx[stance], ay[stance] - hy0[stance], STANCE_REACH * L))
        # At mid-stance the foot is under the hip: cap the leg at a bent-knee length.
        _, may, _ = _stance(m, j, 0.0, 0.5)
        t_mid = m.t0[j] + 0.5 * m.duty * m.stride_T
        limits.append(float(may) - float(_hip(replace(m, hip_mean=0.0), t_mid)[1]) + mid_reach)
        if heel_drag:
            limits.append(_hip_limit(dx[~stance], ay[~stance] - hy0[~stance], SWING_REACH * L))
    m = replace(m, hip_mean=min(limits))
    if not heel_drag:
        m = replace(m, clearance=_needed_clearance(m, t))
    return m


def _hip_limit(dx, rel_y, reach: float) -> float:
    """Highest mean hip height keeping |hip - ankle| <= reach at these samples."""
    if np.any(np.abs(dx) >= reach):
        raise ValueError("step too long for this duty factor: the foot would be out of reach")
    return float(np.min(rel_y + np.sqrt(reach**2 - dx**2)))


def _needed_clearance(m: _Model, t) -> float:
    """The smallest peak clearance >= the nominal one that keeps swing ankles in reach."""
    hx, hy = _hip(m, t)
    need = m.clearance
    reach = SWING_REACH * m.L
    for j in range(2):
        ax, ay, _, stance = _foot(m, j, t)
        phase = ((t - m.t0[j]) / m.stride_T) % 1.0
        bump = np.sin(np.pi * (phase - m.duty) / (1.0 - m.duty))
        dx = np.abs(ax - hx)
        if np.any(~stance & (dx >= reach)):
            raise ValueError("step too long for this duty factor: the swing foot is out of reach")
        ok = ~stance & (bump > 0.05)
        # ay = clearance * bump + rest; the ankle must be at least min_y high.
        min_y = hy - np.sqrt(np.maximum(reach**2 - dx**2, 0.0))
        rest = ay - m.clearance * bump
        if np.any(ok):
            need = max(need, float(np.max((min_y[ok] - rest[ok]) / bump[ok])))
    return need


# --------------------------------------------------------------------------- skeleton


def _two_link(hip_x, hip_y, ank_x, ank_y, a: float, b: float, f: int):
    """Knee position for thigh a and shank b, the knee bending toward facing f."""
    dx, dy = ank_x - hip_x, ank_y - hip_y
    dist = np.clip(np.hypot(dx, dy), 1e-9, a + b - 1e-9)
    ux, uy = dx / np.hypot(dx, dy), dy / np.hypot(dx, dy)
    along = (a * a - b * b + dist * dist) / (2.0 * dist)
    across = np.sqrt(np.maximum(a * a - along * along, 0.0))
    # Of the two perpendiculars pick the one pointing toward the facing side.
    nx, ny = -uy, ux
    flip = np.sign(nx * f + 1e-12)
    return hip_x + ux * along + flip * nx * across, hip_y + uy * along + flip * ny * across


def _warped_phase(m: _Model, j: int, t):
    """Stride phase stretched so contact -> 0 and take-off -> 0.5.

    Why: the leg sweeps one way in stance and back in swing, which are unequal in time;
    an arm driven by this phase turns exactly when the same-side leg does.
    """
    phase = ((np.asarray(t, float) - m.t0[j]) / m.stride_T) % 1.0
    return np.where(phase < m.duty, 0.5 * phase / m.duty,
                    0.5 + 0.5 * (phase - m.duty) / (1.0 - m.duty))


def _trunk_lean(m: _Model, t):
    """Trunk angle from vertical (positive toward facing), wobbling a little each step."""
    t_mid = m.t0[0] + 0.5 * m.duty * m.stride_T
    return m.lean + math.radians(LEAN_WOBBLE_DEG) * np.sin(2 * np.pi * (t - t_mid) / m.step_T)


def _along(m: _Model, x, y, length: float, angle):
    """Point ``length`` away from (x, y) at ``angle`` from straight down, toward facing."""
    return x + m.f * length * np.sin(angle), y - length * np.cos(angle)


def _upper_body(m: _Model, t, hx, hy) -> dict[str, np.ndarray]:
    lean = _trunk_lean(m, t)
    sx, sy = _along(m, hx, hy, m.trunk, np.pi - lean)  # up the trunk, leaning toward facing
    # The head stays more upright than the trunk, as runners look ahead.
    cx, cy = _along(m, sx, sy, m.neck + 0.5 * m.head, np.pi - 0.5 * lean)
    return {"shoulder": np.stack([sx, sy], -1), "lean": lean,
            "head_center": np.stack([cx, cy], -1),
            "nose": np.stack([cx + m.f * NOSE_AHEAD * m.H, cy - NOSE_BELOW * m.H], -1)}


def _leg(m: _Model, j: int, t, hx, hy) -> dict[str, np.ndarray]:
    ax, ay, pitch, _ = _foot(m, j, t)
    kx, ky = _two_link(hx, hy, ax, ay, m.thigh, m.shank, m.f)
    (hdx, hdy), (tdx, tdy) = _foot_offsets(m, pitch)
    return {"hip": np.stack([hx, hy], -1), "knee": np.stack([kx, ky], -1),
            "ankle": np.stack([ax, ay], -1), "heel": np.stack([ax + hdx, ay + hdy], -1),
            "foot_index": np.stack([ax + tdx, ay + tdy], -1), "pitch": pitch,
            "on_ground": np.minimum(ay + hdy, ay + tdy) <= ON_GROUND_EPS}


def _arm(m: _Model, j: int, t, shoulder, lean) -> dict[str, np.ndarray]:
    # The same-side leg sweeps along facing as (d*f)*cos(2*pi*psi): at contact the foot is
    # out on the travel side. The arm follows that sweep (same) or mirrors it (opposite).
    sweep = m.d * m.f * np.cos(2 * np.pi * _warped_phase(m, j, t))
    upper = lean + np.radians(ARM_REST_DEG + m.arm_sign * ARM_SWING_DEG * sweep)
    ex, ey = _along(m, shoulder[:, 0], shoulder[:, 1], m.upper_arm, upper)
    # The elbow flexes the forearm toward the face by (180 - elbow angle).
    wx, wy = _along(m, ex, ey, m.forearm, upper + (math.pi - m.elbow))
    return {"shoulder": shoulder, "elbow": np.stack([ex, ey], -1), "wrist": np.stack([wx, wy], -1)}


def _world_skeleton(m: _Model, t) -> dict[str, np.ndarray]:
    """World joint positions (N, 2), y up, plus per-foot pitch and ground flags."""
    t = np.asarray(t, float)
    hx, hy = _hip(m, t)
    body = _upper_body(m, t, hx, hy)
    out = {"head_center": body["head_center"], "nose": body["nose"]}
    for j, side in enumerate(FEET):
        parts = {**_leg(m, j, t, hx, hy), **_arm(m, j, t, body["shoulder"], body["lean"])}
        out.update({f"{side}_{name}": v for name, v in parts.items()})
    return out


# --------------------------------------------------------------------------- camera


def _ground_y(p: GaitParams, m: _Model) -> float:
    """Image row of the ground: the runner sits a little low, leaving headroom for the bounce."""
    return p.height - 0.4 * (p.height - m.H) - 0.02 * p.height


def _camera_x(p: GaitParams, m: _Model, t) -> np.ndarray:
    """World x seen at the image's left edge at each time.

    Treadmill and panning keep the pelvis at the image centre (the belt, or the scenery,
    slides past); a static overground camera lets the runner cross, centred mid-clip.
    """
    t = np.asarray(t, float)
    if p.setting == "treadmill" or p.camera == "panning":
        return m.d * m.speed * t - 0.5 * p.width
    return np.full_like(t, m.d * m.speed * 0.5 * p.duration_s - 0.5 * p.width)


def _frame_times(p: GaitParams) -> np.ndarray:
    return np.arange(int(round(p.duration_s * p.fps))) / p.fps


def joint_tracks(params: GaitParams) -> dict[str, np.ndarray]:
    """Per-frame true 2D joints in image pixels (x right, y DOWN, like landmark x*W, y*H).

    Keys: the MediaPipe names in ``JOINT_NAMES`` (N, 2) and ``head_center``; ``t_s``;
    ``camera_x`` (world x of the steady camera's left edge: world x = image x + camera_x);
    ``ground_y`` (the steady camera's image row of the ground); ``view`` (N, 2, 3): the
    affine map from the steady camera's image to each frame, identity unless the look moves
    the camera (handheld, zoom); the joints are already mapped through it.
    ``<side>_pitch_deg`` and ``<side>_on_ground``.
    """
    return _simulate(params)[1]


def _simulate(params: GaitParams) -> tuple[_Model, dict[str, np.ndarray]]:
    _validate(params)
    m = _build_model(params)
    steady = _steady_tracks(params, m, _frame_times(params))
    return m, _through_view(steady, _view(params, m, steady))


def _steady_tracks(p: GaitParams, m: _Model, t) -> dict[str, np.ndarray]:
    """The joints at times t as the steady camera (static, panning or treadmill) sees them."""
    world = _world_skeleton(m, t)
    cam = _camera_x(p, m, t)
    gy = _ground_y(p, m)
    out: dict[str, np.ndarray] = {"t_s": t, "camera_x": cam, "ground_y": np.float64(gy)}
    for name, v in world.items():
        if v.ndim == 2:
            out[name] = np.stack([v[:, 0] - cam, gy - v[:, 1]], -1)
        elif name.endswith("_pitch"):
            out[name + "_deg"] = np.degrees(v)
        else:
            out[name] = v
    return out


def _points(tracks: dict[str, np.ndarray]) -> list[str]:
    return [k for k, v in tracks.items() if isinstance(v, np.ndarray) and v.ndim == 2]


def _through_view(steady: dict[str, np.ndarray], view: np.ndarray) -> dict[str, np.ndarray]:
    out = dict(steady, view=view)
    if not np.array_equal(view, _identity_views(len(view))):
        for name in _points(steady):
            out[name] = np.einsum("nij,nj->ni", view[:, :, :2], steady[name]) + view[:, :, 2]
    return out


# --------------------------------------------------------------------------- moving camera

HANDHELD_DRIFT = 0.05  # slow wander of a hand-held camera, share of the frame width
HANDHELD_ROLL_DEG = 1.5
HANDHELD_FOLLOW = (0.3, 0.6)  # share of an overground runner's motion the operator pans along
VIEW_PAD = 0.03  # kept between the runner (joints, hair, shoes) and the frame edge, in H


def _identity_views(n: int) -> np.ndarray:
    return np.tile(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (n, 1, 1))


def _look_rng(seed: int, what: str) -> np.random.Generator:
    """A stream per seed and purpose, apart from the gait's and the colours' streams."""
    return np.random.default_rng([seed, sum(map(ord, what)), 7001])


def _view(p: GaitParams, m: _Model, steady) -> np.ndarray:
    """Per-frame affine (N, 2, 3) from the steady camera's image to the frame.

    A hand-held camera shakes, wanders, rolls a little and (overground) pans part of the way
    along with the runner; a zoom scales about the image centre. Either way the operator
    keeps the runner in frame where the steady camera had them in frame all along.
    """
    style = LOOK_STYLES[p.look]
    t = steady["t_s"]
    if not style.shake and style.zoom == (1.0, 1.0):
        return _identity_views(len(t))
    rng = _look_rng(p.seed, "view")
    zoom = _zoom_track(rng, t, p, m, steady, style.zoom)
    roll, shift = _handheld_track(rng, t, p, steady, style.shake)
    centre = np.array([0.5 * p.width, 0.5 * p.height])
    cos, sin = zoom * np.cos(roll), zoom * np.sin(roll)
    view = np.empty((len(t), 2, 3))
    view[:, 0, 0], view[:, 0, 1], view[:, 1, 0], view[:, 1, 1] = cos, -sin, sin, cos
    view[:, :, 2] = centre - np.einsum("nij,j->ni", view[:, :, :2], centre) + shift
    return _keep_in_frame(view, p, m, steady)


def _wander(rng: np.random.Generator, t, band: tuple[float, float]) -> np.ndarray:
    """Smooth random motion in [-1, 1]: three sinusoids with frequencies (Hz) in ``band``."""
    freq = rng.uniform(*band, 3)
    phase = rng.uniform(0.0, 2.0 * np.pi, 3)
    weight = rng.uniform(0.5, 1.0, 3)
    y = np.sum(weight * np.sin(2.0 * np.pi * freq * np.asarray(t)[:, None] + phase), axis=1)
    return y / max(float(np.max(np.abs(y))), 1e-9)


def _handheld_track(rng: np.random.Generator, t, p: GaitParams, steady, amp: float):
    """Roll (rad) and shift (N, 2) px of a hand-held camera; zero for a steady one."""
    if not amp:
        return np.zeros(len(t)), np.zeros((len(t), 2))
    size = np.array([p.width, p.height], float)
    shake = amp * size * np.stack([_wander(rng, t, (0.5, 2.0)), _wander(rng, t, (0.5, 2.0))], -1)
    drift = HANDHELD_DRIFT * p.width * np.stack(
        [_wander(rng, t, (0.05, 0.2)), 0.4 * _wander(rng, t, (0.05, 0.2))], -1)
    roll = math.radians(HANDHELD_ROLL_DEG) * _wander(rng, t, (0.2, 0.8))
    follow = np.zeros((len(t), 2))
    if p.setting == "overground" and p.camera == "static":
        # the operator turns to follow, lagging behind: the runner still crosses, slower
        follow[:, 0] = -rng.uniform(*HANDHELD_FOLLOW) * (steady["left_hip"][:, 0] - 0.5 * p.width)
    return roll, shake + drift + follow


def _runner_points(steady, m: _Model) -> np.ndarray:
    """(N, k, 2): the joints plus the crown of the head, in the steady camera's pixels."""
    crown = steady["head_center"] - np.array([0.0, 0.075 * m.H])
    return np.concatenate([np.stack([steady[n] for n in JOINT_NAMES], 1), crown[:, None]], 1)


def _zoom_track(rng: np.random.Generator, t, p: GaitParams, m: _Model, steady,
                span: tuple[float, float]) -> np.ndarray:
    """A slow zoom in and out over the clip, never so far in that the runner cannot fit."""
    lo, hi = span
    if lo == hi == 1.0:
        return np.ones(len(t))
    pts = _runner_points(steady, m)
    tall = float(np.max(np.ptp(pts[..., 1], axis=1))) + 2.0 * VIEW_PAD * m.H
    hi = min(hi, p.height / tall)
    if _always_in_frame(p):
        wide = float(np.max(np.ptp(pts[..., 0], axis=1))) + 2.0 * VIEW_PAD * m.H
        hi = min(hi, p.width / wide)
    period = p.duration_s * rng.uniform(0.8, 1.2)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    return lo + (max(hi, lo) - lo) * 0.5 * (1.0 + np.sin(2.0 * np.pi * t / period + phase))


def _always_in_frame(p: GaitParams) -> bool:
    """The steady camera keeps the runner in frame throughout (not a static overground one)."""
    return p.setting == "treadmill" or p.camera == "panning"


def _keep_in_frame(view: np.ndarray, p: GaitParams, m: _Model, steady) -> np.ndarray:
    """Shift each frame just enough to keep the runner inside: up and down always, sideways
    where the steady camera kept them in frame (a static camera's runner crosses the frame)."""
    pts = _runner_points(steady, m)
    seen = np.einsum("nij,nkj->nki", view[:, :, :2], pts) + view[:, None, :, 2]
    scale = np.sqrt(np.abs(np.linalg.det(view[:, :, :2])))
    pad = VIEW_PAD * m.H * scale
    axes = (0, 1) if _always_in_frame(p) else (1,)
    view = view.copy()
    for axis in axes:
        size = (p.width, p.height)[axis]
        need_in = pad - seen[..., axis].min(axis=1)  # >0: pokes out at the low edge
        room = size - pad - seen[..., axis].max(axis=1)  # <0: pokes out at the high edge
        fits = need_in <= room
        view[:, axis, 2] += np.where(fits, np.clip(0.0, need_in, room), 0.5 * (need_in + room))
    return view


# --------------------------------------------------------------------------- truth


def _events(tracks: dict[str, np.ndarray], fps: float, strike: str):
    """Contacts (first frame on the ground) and toe-offs (last frame on it), both feet."""
    contacts, toe_offs = [], []
    for side in FEET:
        on = tracks[f"{side}_on_ground"]
        lands = np.flatnonzero(on[1:] & ~on[:-1]) + 1
        lifts = np.flatnonzero(on[:-1] & ~on[1:])
        for i in lands:
            contacts.append({"foot": side, "frame": int(i), "time_s": float(i / fps),
                             "strike": strike,
                             "foot_pitch_deg": round(float(tracks[f"{side}_pitch_deg"][i]), 3)})
        for i in lifts:
            toe_offs.append({"foot": side, "frame": int(i), "time_s": float(i / fps)})
    return sorted(contacts, key=lambda e: e["frame"]), sorted(toe_offs, key=lambda e: e["frame"])


def _in_view(tracks, p: GaitParams) -> list[int] | None:
    """First and last frame with every joint inside the image (overground crossings)."""
    pts = np.stack([tracks[n] for n in JOINT_NAMES], 1)
    inside = np.all((pts[..., 0] >= 0) & (pts[..., 0] < p.width)
                    & (pts[..., 1] >= 0) & (pts[..., 1] < p.height), axis=1)
    idx = np.flatnonzero(inside)
    return [int(idx[0]), int(idx[-1])] if idx.size else None


def _truth(p: GaitParams, m: _Model, tracks) -> dict:
    contacts, toe_offs = _events(tracks, p.fps, p.strike)
    frames = len(tracks["t_s"])
    occluded = None
    if p.occlusion is not None:
        occ = np.flatnonzero((tracks["t_s"] >= p.occlusion[0]) & (tracks["t_s"] < p.occlusion[1]))
        occluded = [int(occ[0]), int(occ[-1])] if occ.size else None
    scale = np.sqrt(np.abs(np.linalg.det(tracks["view"][:, :, :2])))
    params = asdict(p)
    params["occlusion"] = list(p.occlusion) if p.occlusion is not None else None
    return {
        "params": params,
        "fps": p.fps, "frames": frames, "width": p.width, "height": p.height,
        "facing": p.facing, "direction": p.direction, "setting": p.setting,
        "camera": p.camera,
        "look": p.look,
        # a moving look (handheld, zoom) scales the runner by this much, frame to frame;
        # px lengths and speeds here are the steady camera's, the joints file has the frames'
        "view_scale": [round(float(v), 4) for v in (scale.min(), scale.max())],
        "cadence_spm": p.cadence_spm, "step_length_leg": p.step_length_leg,
        "trunk_lean_deg": p.trunk_lean_deg, "elbow_angle_deg": p.elbow_angle_deg,
        "arm_swing": p.arm_swing, "strike": p.strike, "heel_drag": bool(p.heel_drag),
        "leg_length_px": round(float(m.L), 3),
        # Facing image-right shows the person's right side, facing left their left side.
        "near_foot": p.facing,
        "contacts": contacts, "toe_offs": toe_offs,
        "duty_factor": p.duty_factor,
        "contact_time_s": float(m.duty * m.stride_T),
        "speed_px_s": float(m.speed),
        "speed_leg_per_s": float(m.speed / m.L),
        "belt_speed_px_s": float(m.speed) if p.setting == "treadmill" else None,
        "vertical_oscillation_leg": p.bounce_leg,
        "swing_clearance_leg": round(float(m.clearance / m.L), 4),
        "ground_y_px": round(float(tracks["ground_y"]), 3),
        "in_view_frames": _in_view(tracks, p),
        "occluded_frames": occluded,
        "joints_px": None,
    }


def truth_for(params: GaitParams) -> dict:
    """The truth for these parameters, without rendering or writing anything."""
    m, tracks = _simulate(params)
    return _truth(params, m, tracks)


# --------------------------------------------------------------------------- look

_SKIN = [(236, 188, 150), (224, 172, 128), (198, 140, 100), (160, 106, 72), (112, 74, 50)]
_HAIR = [(40, 30, 25), (90, 60, 35), (20, 20, 20), (150, 110, 60)]
_CLOTH = [(200, 40, 45), (35, 80, 170), (30, 130, 80), (230, 150, 30), (120, 50, 140),
          (40, 40, 48), (220, 220, 225), (0, 140, 150)]
_SHOES = [(235, 235, 235), (30, 30, 35), (210, 60, 40), (60, 90, 200)]


@dataclass(frozen=True)
class _Look:
    skin: tuple
    hair: tuple
    shirt: tuple
    pants: tuple
    shoes: tuple
    shorts: bool  # bare shanks below shorts, or full-length tights
    wall: tuple
    floor: tuple
    shoe: ShoeShape = ShoeShape()
    legs: float = 1.0  # limb thickness, x the textbook radii
    arms: float = 1.0
    baggy: str | None = None  # None (fitted) | "trousers" | "long_shorts", both with a loose shirt
    scenery: str = "room"  # "room" | "cluttered"
    floor_kind: str = "boards"  # "boards" | "grass" | "asphalt"


def _pick_look(seed: int, style: LookStyle = LOOK_STYLES["plain"]) -> _Look:
    rng = np.random.default_rng(seed + 7919)
    shirt, pants = rng.choice(len(_CLOTH), 2, replace=False)  # torso and legs always differ
    wall = np.array([200, 205, 200]) + rng.integers(-25, 25, 3)
    floor = np.array([120, 110, 100]) + rng.integers(-20, 20, 3)
    look = _Look(
        skin=_SKIN[rng.integers(len(_SKIN))], hair=_HAIR[rng.integers(len(_HAIR))],
        shirt=_CLOTH[shirt], pants=_CLOTH[pants], shoes=_SHOES[rng.integers(len(_SHOES))],
        shorts=bool(rng.integers(2)), wall=tuple(int(v) for v in wall),
        floor=tuple(int(v) for v in floor),
    )
    return _restyle(look, style, _look_rng(seed, "look"))


_RACING_COLOURS = [(225, 240, 50), (255, 110, 40), (240, 60, 140)]
_DARK_FLOOR = (50, 47, 45)
_GRASS, _ASPHALT = (72, 120, 52), (88, 88, 92)


def _restyle(look: _Look, style: LookStyle, rng: np.random.Generator) -> _Look:
    """Apply a look's per-seed choices to the seeded colours; the plain look changes nothing."""
    shoe = style.shoes[int(rng.integers(len(style.shoes)))]
    legs, arms = (float(v) for v in rng.uniform(*style.limb_scale, size=2))
    out = replace(look, shoe=SHOE_SHAPES[shoe], legs=legs, arms=arms, scenery=style.scenery)
    if shoe == "racing_flat":
        out = replace(out, shoes=_RACING_COLOURS[int(rng.integers(len(_RACING_COLOURS)))])
    if SHOE_SHAPES[shoe].dark:
        out = replace(out, shoes=(26, 26, 30), floor=_jitter(rng, _DARK_FLOOR, 8))
    if style.clothing == "baggy":
        out = replace(out, baggy=("trousers", "long_shorts")[int(rng.integers(2))])
    if style.palette == "low_contrast":  # clothes close to the wall behind them
        wall = np.array(look.wall, float)
        out = replace(out, shirt=_jitter(rng, wall * rng.uniform(0.78, 0.9), 10),
                      pants=_jitter(rng, wall * rng.uniform(0.62, 0.75), 10))
    if style.palette == "backlit":  # a bright window behind; the runner is in their own shadow
        wall, floor = _jitter(rng, (246, 246, 244), 6), _jitter(rng, (170, 165, 160), 10)
        parts = ("skin", "hair", "shirt", "pants", "shoes")
        dark = {k: _in_shadow(getattr(look, k)) for k in parts}
        out = replace(out, wall=wall, floor=floor, **dark)
    if style.scenery == "cluttered":
        kind = ("grass", "asphalt")[int(rng.integers(2))]
        floor = _jitter(rng, _GRASS if kind == "grass" else _ASPHALT, 10)
        out = replace(out, floor_kind=kind, floor=floor)
    return out


def _jitter(rng: np.random.Generator, colour, spread: int) -> tuple:
    c = np.asarray(colour, float) + rng.integers(-spread, spread + 1, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def _in_shadow(colour) -> tuple:
    """A backlit surface: dark, and closer to grey than its colour in front light."""
    c = np.asarray(colour, float)
    return tuple(int(v) for v in 18 + 0.22 * (0.6 * c + 0.4 * c.mean()))


def _scale(c, k: float) -> tuple:
    return tuple(min(255, max(0, int(v * k))) for v in c)


# --------------------------------------------------------------------------- drawing

FAR_TONE, NEAR_TONE = 0.62, 1.06  # far limbs sit in the body's shadow; near ones catch light
_LAYERS = 5  # shading steps from the dark rim to the highlight
_SUBPIXEL = 16  # OpenCV's fixed-point drawing: 4 fractional bits


class _Pen:
    """Draws shaded shapes on a supersampled canvas.

    Points come in image pixels and sizes in fractions of the runner's height, so the
    figure code reads like a body description. The light comes from above and in front
    of the runner, so facing left and facing right are lit as mirror images.
    """

    def __init__(self, img: np.ndarray, scale: float, body_h: float, facing: int):
        self.img, self.s, self.H = img, scale, body_h
        self.light = np.array([0.45 * facing, -0.9])  # image coords, y down

    def _px(self, p) -> tuple[int, int]:
        q = np.round(np.asarray(p, float) * self.s * _SUBPIXEL).astype(int)
        return int(q[0]), int(q[1])

    def _r(self, r: float) -> int:
        return max(int(round(r * self.H * self.s * _SUBPIXEL)), _SUBPIXEL)

    def capsule(self, p0, p1, r0: float, r1: float, color) -> None:
        """A tapered capsule shaded like a lit cylinder: nested, brighter, shifted layers."""
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        axis = p1 - p0
        n = np.array([-axis[1], axis[0]]) / (np.hypot(*axis) + 1e-9)
        lit = n * np.sign(n @ self.light + 1e-9)  # the side of the limb facing the light
        for i in range(_LAYERS):
            u = i / (_LAYERS - 1)
            k = 1.0 - 0.6 * u  # radius shrinks toward the highlight
            off = lit * 0.35 * (1.0 - k) * (r0 + r1) * self.H
            a, b, ra, rb = p0 + off, p1 + off, r0 * k * self.H, r1 * k * self.H
            quad = np.array([a + n * ra, b + n * rb, b - n * rb, a - n * ra])
            col = _scale(color, 0.72 + 0.4 * u)
            cv2.fillConvexPoly(self.img, np.round(quad * self.s * _SUBPIXEL).astype(np.int32),
                               col, cv2.LINE_AA, 4)
            for c, r in ((a, r0 * k), (b, r1 * k)):
                cv2.circle(self.img, self._px(c), self._r(r), col, -1, cv2.LINE_AA, 4)

    def ellipse(self, center, axes, angle_deg: float, color, *, shade: bool = True) -> None:
        layers = _LAYERS if shade else 1
        for i in range(layers):
            u = i / max(layers - 1, 1)
            k = 1.0 - 0.6 * u if shade else 1.0
            c = np.asarray(center, float) + self.light * 0.25 * (1.0 - k) * min(axes) * self.H
            col = _scale(color, 0.72 + 0.4 * u) if shade else color
            cv2.ellipse(self.img, self._px(c), (self._r(axes[0] * k), self._r(axes[1] * k)),
                        angle_deg, 0, 360, col, -1, cv2.LINE_AA, 4)

    def line(self, p0, p1, width: float, color) -> None:
        cv2.line(self.img, self._px(p0), self._px(p1), color,
                 max(int(round(width * self.H * self.s)), 1), cv2.LINE_AA, 4)

    def dot(self, center, r: float, color) -> None:
        cv2.circle(self.img, self._px(center), self._r(r), color, -1, cv2.LINE_AA, 4)

    def polygon(self, points, color) -> None:
        pts = np.round(np.asarray(points, float) * self.s * _SUBPIXEL).astype(np.int32)
        cv2.fillConvexPoly(self.img, pts, color, cv2.LINE_AA, 4)


def _unit(v) -> np.ndarray:
    return np.asarray(v, float) / (np.hypot(*v) + 1e-9)


def _draw_leg(pen: _Pen, J, side: str, m: _Model, look: _Look, tone: float) -> None:
    """Thigh (shorts on top), shank with a calf, and a shoe."""
    if look.baggy:
        _draw_baggy_leg(pen, J, side, m, look, tone)
        return
    hip, knee, ankle = (J[f"{side}_{k}"] for k in ("hip", "knee", "ankle"))
    pants, skin = _scale(look.pants, tone), _scale(look.skin, tone)
    lower = skin if look.shorts else pants
    w = look.legs
    _draw_shank(pen, knee, ankle, m, w, lower)
    if look.shorts:
        mid = hip + 0.55 * (knee - hip)
        pen.capsule(mid, knee, 0.043 * w, 0.032 * w, skin)
        pen.capsule(hip, mid, 0.056 * w, 0.046 * w, pants)
    else:
        pen.capsule(hip, knee, 0.056 * w, 0.033 * w, pants)
    _draw_shoe(pen, J, side, look, tone)


def _draw_shank(pen: _Pen, knee, ankle, m: _Model, w: float, color) -> None:
    pen.capsule(knee, ankle, 0.029 * w, 0.019 * w, color)
    calf = knee + 0.3 * (ankle - knee) + np.array([-m.f * 0.008 * w * m.H, 0])  # behind the shin
    pen.capsule(knee, calf, 0.03 * w, 0.031 * w, color)


def _draw_baggy_leg(pen: _Pen, J, side: str, m: _Model, look: _Look, tone: float) -> None:
    """Wide trousers (hem over the top of the shoe) or long shorts (hem below the knee): a
    loose tube that hardly narrows at the knee, so neither joint shows its outline."""
    hip, knee, ankle = (J[f"{side}_{k}"] for k in ("hip", "knee", "ankle"))
    pants, w = _scale(look.pants, tone), look.legs
    if look.baggy == "trousers":
        _draw_shoe(pen, J, side, look, tone)  # the hem hangs over the shoe's upper
        hem = ankle + 0.12 * (knee - ankle)
        pen.capsule(knee, hem, 0.066 * w, 0.052 * w, pants)
    else:
        _draw_shank(pen, knee, ankle, m, w, _scale(look.skin, tone))
        _draw_shoe(pen, J, side, look, tone)
        pen.capsule(knee, knee + 0.4 * (ankle - knee), 0.068 * w, 0.062 * w, pants)
    back = np.array([-m.f * 0.02 * w * m.H, 0.0])  # the seat and the cloth hang behind
    pen.capsule(hip + back, knee + 0.5 * back, 0.078 * w, 0.068 * w, pants)


def _draw_shoe(pen: _Pen, J, side: str, look: _Look, tone: float) -> None:
    """A shoe whose rounded heel and pointed toe sit exactly on the true sole points."""
    heel, toe, ankle = (J[f"{side}_{k}"] for k in ("heel", "foot_index", "ankle"))
    along = _unit(toe - heel)
    up = np.array([along[1], -along[0]])
    up = -up if up[1] > 0 else up  # image y grows downward: 'up' has negative y
    shape = look.shoe
    rh, rt = shape.heel_r, shape.toe_r
    H = pen.H
    shoe = _scale(look.shoes, tone)
    heel_c = heel + (along + up) * rh * H
    pen.capsule(heel_c, toe + (up - along) * rt * H, rh, rt, shoe)
    pen.capsule(ankle, heel + 0.45 * (toe - heel) + up * rh * H, *shape.upper_r, shoe)  # the upper
    # a contrasting sole and a darker heel counter make heel and toe distinct
    sole = (70, 70, 75) if sum(look.shoes) > 400 else (235, 235, 230)
    if shape.dark:
        sole = (38, 38, 40)
    lift = up * shape.sole_lift * H
    pen.line(heel + lift, toe + lift, shape.sole_w, _scale(sole, tone))
    pen.dot(heel_c, 0.016 * rh / ShoeShape.heel_r, _scale(shoe, 0.6))


def _draw_arm(pen: _Pen, J, side: str, look: _Look, tone: float) -> None:
    S, E, W = (J[f"{side}_{k}"] for k in ("shoulder", "elbow", "wrist"))
    skin = _scale(look.skin, tone)
    w = look.arms
    pen.capsule(E, W, 0.021 * w, 0.016 * w, skin)
    pen.capsule(S, S + 0.75 * (E - S), 0.033 * w, 0.026 * w, skin)
    shirt = _scale(look.shirt, tone)
    if look.baggy:  # a loose sleeve down to the elbow
        pen.capsule(S, S + 0.8 * (E - S), 0.05 * w, 0.045 * w, shirt)
    else:
        pen.capsule(S, S + 0.45 * (E - S), 0.036 * w, 0.031 * w, shirt)  # short sleeve
    pen.capsule(W, W + 0.045 * pen.H * _unit(W - E), 0.019 * w, 0.021 * w, skin)  # fist
    pen.capsule(S + 0.7 * (E - S), E, 0.027 * w, 0.022 * w, skin)


def _draw_torso(pen: _Pen, J, m: _Model, look: _Look) -> None:
    hip, sho = J["right_hip"], J["right_shoulder"]
    axis = _unit(sho - hip)
    front = np.array([-axis[1], axis[0]])
    front = front if front[0] * m.f > 0 else -front
    H = m.H
    # chest deeper in front, seat behind: a side view, not a sausage
    pen.capsule(hip - front * 0.005 * H, hip + axis * 0.12 * H, 0.063, 0.06, look.pants)
    if look.baggy:  # a loose shirt hangs straight past the waistband, hiding the hips' outline
        pen.capsule(hip - axis * 0.07 * H - front * 0.01 * H, sho - axis * 0.02 * H, 0.082, 0.076,
                    look.shirt)
        return
    pen.capsule(hip + axis * 0.09 * H, sho - axis * 0.01 * H, 0.058, 0.066, look.shirt)
    pen.capsule(sho - axis * 0.12 * H + front * 0.02 * H, sho - axis * 0.02 * H, 0.055, 0.052,
                look.shirt)


def _draw_head(pen: _Pen, J, m: _Model, look: _Look) -> None:
    """Skull, hair on crown and back, and a profile face (nose, eye, mouth) toward facing."""
    sho, c, nose = J["right_shoulder"], J["head_center"], J["nose"]
    f, H = m.f, m.H

    def at(ahead: float, down: float):  # a point on the head, in H, relative to its centre
        return c + np.array([f * ahead * H, down * H])

    pen.capsule(sho, at(-0.01, 0.04), 0.028, 0.024, look.skin)  # neck
    tilt = math.degrees(math.atan2(c[0] - sho[0], sho[1] - c[1]))
    pen.ellipse(c, (0.052, 0.066), tilt, look.skin)
    pen.ellipse(at(-0.012, -0.014), (0.05, 0.058), 0, look.hair, shade=False)
    pen.ellipse(at(0.014, 0.012), (0.04, 0.052), tilt, look.skin)  # face
    pen.polygon([nose, nose + np.array([-f * 0.02 * H, -0.02 * H]),
                 nose + np.array([-f * 0.02 * H, 0.005 * H])], _scale(look.skin, 0.85))
    pen.ellipse(at(0.03, -0.008), (0.007, 0.005), 0, (255, 255, 255), shade=False)
    pen.dot(at(0.033, -0.008), 0.0035, (40, 30, 30))  # pupil, looking ahead
    pen.line(at(0.022, -0.02), at(0.038, -0.02), 0.004, look.hair)  # brow
    pen.line(at(0.032, 0.03), at(0.02, 0.03), 0.003, _scale(look.skin, 0.6))  # mouth
    pen.ellipse(at(-0.008, 0.004), (0.009, 0.014), 0, _scale(look.skin, 0.92))  # ear


def _draw_runner(pen: _Pen, J, m: _Model, look: _Look, near: str) -> None:
    """Far limbs first and darker, near limbs last and lighter: depth from a single view."""
    far = "left" if near == "right" else "right"
    _draw_arm(pen, J, far, look, FAR_TONE)
    _draw_leg(pen, J, far, m, look, FAR_TONE)
    _draw_torso(pen, J, m, look)
    _draw_leg(pen, J, near, m, look, NEAR_TONE)
    _draw_head(pen, J, m, look)
    _draw_arm(pen, J, near, look, NEAR_TONE)


# --------------------------------------------------------------------------- scenery


def _backdrop(p: GaitParams, look: _Look, span: float, gy: float, deck: float):
    """A wall-and-floor panorama ``span`` px wide: plain, but with texture to track.

    Why not uniform: real rooms have gradients and blotches, and a panning camera must
    show the scenery moving.
    """
    if look.scenery == "cluttered":
        return _cluttered_backdrop(p, look, span, gy, deck)
    rng = np.random.default_rng(p.seed + 104729)
    w, h = int(math.ceil(span)), p.height
    wall = np.array(look.wall, float)
    yy = np.linspace(0.0, 1.0, h)[:, None, None]
    img = np.broadcast_to(wall * (0.9 + 0.15 * yy), (h, w, 3)).copy()
    blotch = cv2.resize(rng.normal(0, 1, (max(h // 60, 2), max(w // 60, 2))).astype(np.float32),
                        (w, h), interpolation=cv2.INTER_CUBIC)
    img += 10.0 * blotch[..., None]
    floor_top = int(gy + deck)  # a treadmill deck raises the belt above the room floor
    img[floor_top:] = np.array(look.floor, float) * (1.0 + 0.1 * yy[floor_top:] - 0.05)
    for x in np.arange(rng.uniform(0, 220), w, 220 + rng.uniform(0, 120)):
        cv2.line(img, (int(x), 0), (int(x), floor_top), _scale(look.wall, 0.82), 2)  # panel seams
    for x in np.arange(rng.uniform(0, 90), w, 90):
        cv2.line(img, (int(x), floor_top), (int(x - 0.3 * (h - floor_top)), h),
                 _scale(look.floor, 0.85), 1)  # floor boards, receding
    skirting = _scale(look.wall, 0.7)
    cv2.rectangle(img, (0, floor_top - int(0.012 * h)), (w, floor_top), skirting, -1)
    if deck == 0:
        cv2.line(img, (0, int(round(gy))), (w, int(round(gy))), (50, 45, 45), 2)  # ground line
    return np.clip(img, 0, 255).astype(np.uint8)


def _cluttered_backdrop(p: GaitParams, look: _Look, span: float, gy: float, deck: float):
    """A busy place: a grainy, blotchy wall with striped banners, posters, shelves, poles and
    balls (some in skin and clothing colours); a grass or asphalt floor."""
    rng = _look_rng(p.seed, "clutter")
    w, h = int(math.ceil(span)), p.height
    floor_top = int(gy + deck)
    img = np.empty((h, w, 3), np.float32)
    img[:] = look.wall
    img += _texture(rng, h, w, cell=3, amp=12.0) + _texture(rng, h, w, cell=45, amp=22.0)
    palette = _CLOTH + _SKIN + [_scale(look.wall, 0.6), _scale(look.wall, 1.2)]

    def colour() -> tuple:
        return tuple(int(v) for v in palette[int(rng.integers(len(palette)))])

    for x in np.arange(rng.uniform(0, 300), w, rng.uniform(350, 550)):  # striped banners
        x0 = int(x)
        x1 = min(int(x0 + rng.uniform(120, 260)), w)
        y0, y1 = int(rng.uniform(0.05, 0.4) * floor_top), int(rng.uniform(0.6, 1.0) * floor_top)
        img[y0:y1, x0:x1] = _stripes(y1 - y0, x1 - x0, colour(), colour(), int(rng.integers(8, 24)),
                                     float(rng.choice([0.0, 0.6, -0.6])))
    for _ in range(int(w / 70)):  # posters, shelves, balls and poles
        kind = int(rng.integers(4))
        x, y = int(rng.uniform(0, w)), int(rng.uniform(0, floor_top))
        if kind in (0, 1):  # a poster, or a long thin shelf
            wide = int(rng.integers(30, 160) if kind == 0 else rng.integers(80, 300))
            tall = int(rng.integers(30, 200) if kind == 0 else rng.integers(6, 16))
            cv2.rectangle(img, (x, y), (x + wide, y + tall), colour(), -1)
        elif kind == 2:
            cv2.circle(img, (x, y), int(rng.integers(10, 45)), colour(), -1, cv2.LINE_AA)
        else:
            angle = rng.uniform(-1.2, 1.2)
            length = rng.uniform(0.1, 0.5) * h
            end = (int(x + length * math.sin(angle)), int(y + length * math.cos(angle)))
            cv2.line(img, (x, y), end, colour(), int(rng.integers(4, 14)), cv2.LINE_AA)
    img[floor_top:] = _floor_texture(rng, look, h - floor_top, w)
    if deck == 0:
        cv2.line(img, (0, int(round(gy))), (w, int(round(gy))), _scale(look.floor, 0.6), 2)  # kerb
    return np.clip(img, 0, 255).astype(np.uint8)


def _stripes(h: int, w: int, a: tuple, b: tuple, period: int, slant: float) -> np.ndarray:
    """An (h, w, 3) patch of stripes ``period`` px apart, leaning by ``slant`` (dx per dy)."""
    yy, xx = np.mgrid[0:h, 0:w]
    band = ((xx - slant * yy) // max(period // 2, 1)) % 2 == 0
    return np.where(band[..., None], np.array(a, np.float32), np.array(b, np.float32))


def _texture(rng: np.random.Generator, h: int, w: int, cell: int, amp: float) -> np.ndarray:
    """Smooth random texture (h, w, 3) with features about ``cell`` px across: mostly
    brightness, a little colour, like dirt, wear and print on real surfaces."""
    shape = (max(h // cell, 2), max(w // cell, 2))
    small = rng.normal(0.0, amp, shape + (1,)) + rng.normal(0.0, 0.3 * amp, shape + (3,))
    return cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


def _floor_texture(rng: np.random.Generator, look: _Look, h: int, w: int) -> np.ndarray:
    """Grass (blades) or asphalt (grit and pale stones) under the runner."""
    floor = np.empty((h, w, 3), np.float32)
    floor[:] = look.floor
    if h <= 0:
        return floor
    floor += _texture(rng, h, w, cell=2, amp=16.0) + _texture(rng, h, w, cell=30, amp=12.0)
    count = int(w * h / (40 if look.floor_kind == "grass" else 400))
    xs, ys = rng.uniform(0, w, count), rng.uniform(0, h, count)
    for x, y, k in zip(xs, ys, rng.uniform(0.6, 1.4, count)):
        if look.floor_kind == "grass":
            tip = (int(x + rng.uniform(-4, 4)), int(y - rng.uniform(4, 12)))
            cv2.line(floor, (int(x), int(y)), tip, _scale(look.floor, k), 1)
        else:
            stone = _scale((175, 172, 168), k)
            cv2.circle(floor, (int(x), int(y)), int(rng.integers(1, 3)), stone, -1)
    return floor


def _draw_treadmill(img, p: GaitParams, m: _Model, gy: float, cam: float, s: float) -> None:
    """Belt deck around the runner; belt marks are fixed in the world so they slide at belt speed."""
    H = m.H
    cx = 0.5 * p.width
    x0, x1 = cx - 1.25 * m.L, cx + 1.25 * m.L
    deck = TREADMILL_DECK * H
    cv2.rectangle(img, (int(x0 * s), int(gy * s)), (int(x1 * s), int((gy + deck) * s)),
                  (150, 150, 155), -1)
    cv2.rectangle(img, (int(x0 * s), int(gy * s)), (int(x1 * s), int((gy + 0.025 * H) * s)),
                  (45, 45, 50), -1)
    spacing = 0.3 * m.L
    first = math.ceil((x0 + cam) / spacing) * spacing
    for wx in np.arange(first, x1 + cam, spacing):
        x = (wx - cam) * s
        cv2.line(img, (int(x), int(gy * s)), (int(x), int((gy + 0.025 * H) * s)),
                 (85, 85, 92), max(int(2 * s), 1))
    for x in (x0, x1):
        cv2.circle(img, (int(x * s), int((gy + 0.012 * H) * s)), int(0.014 * H * s),
                   (110, 110, 115), -1, cv2.LINE_AA)
    cv2.line(img, (int(x0 * s), int(gy * s)), (int(x1 * s), int(gy * s)), (30, 30, 30),
             max(int(s), 1))


def _draw_occluder(img, p: GaitParams, m: _Model, gy: float, s: float) -> None:
    top = gy - 0.36 * m.H  # just below the hips: both legs vanish, the trunk stays
    cv2.rectangle(img, (0, int(top * s)), (int(p.width * s), int((gy + 0.03 * m.H) * s)),
                  (128, 128, 128), -1)


# --------------------------------------------------------------------------- output


SUBFRAMES = 7  # renders averaged over the exposure of a motion-blurred frame


@dataclass(frozen=True)
class _Exposure:
    """How each frame is exposed and stored, drawn per seed from the look."""

    shutter: float = 0.0  # exposure, in frame intervals
    glare: float = 0.0
    jpeg_quality: int | None = None


def _pick_exposure(seed: int, style: LookStyle) -> _Exposure:
    rng = _look_rng(seed, "exposure")
    quality = None if style.jpeg_quality is None else int(rng.integers(style.jpeg_quality[0],
                                                                       style.jpeg_quality[1] + 1))
    return _Exposure(shutter=float(rng.uniform(*style.shutter)), glare=style.glare,
                     jpeg_quality=quality)


def _exposure_offsets(shutter: float, fps: float) -> np.ndarray:
    """Sub-frame times around each frame time; the frame's truth sits mid-exposure."""
    if shutter <= 0:
        return np.zeros(1)
    return (np.arange(SUBFRAMES) / (SUBFRAMES - 1) - 0.5) * shutter / fps


def _margins(p: GaitParams, view: np.ndarray) -> tuple[int, int]:
    """Extra px on each side of the steady camera's frame that a moving view can look into."""
    if np.array_equal(view, _identity_views(len(view))):
        return 0, 0
    corners = np.array([[0, 0], [p.width, 0], [0, p.height], [p.width, p.height]], float)
    inv = np.array([cv2.invertAffineTransform(v) for v in view])
    seen = np.einsum("nij,kj->nki", inv[:, :, :2], corners) + inv[:, None, :, 2]
    mx = max(0.0, -seen[..., 0].min(), seen[..., 0].max() - p.width)
    my = max(0.0, -seen[..., 1].min(), seen[..., 1].max() - p.height)
    return int(math.ceil(mx)) + 2, int(math.ceil(my)) + 2


def _frames(p: GaitParams, m: _Model, view: np.ndarray, look: _Look, exposure: _Exposure):
    """Yield the rendered RGB frames.

    The scene is drawn on a canvas: the steady camera's frame, grown by the margins a moving
    view (hand-held, zoom) looks into, then warped into the frame.
    """
    mx, my = _margins(p, view)
    canvas = replace(p, width=p.width + 2 * mx, height=p.height + 2 * my)
    times = _frame_times(p)
    offsets = _exposure_offsets(exposure.shutter, p.fps)
    shots = _steady_tracks(p, m, (times[:, None] + offsets[None, :]).ravel())
    gy = float(shots["ground_y"]) + my
    cams = shots["camera_x"] - mx
    treadmill = p.setting == "treadmill"
    pano_x0 = float(cams.min())
    span = float(cams.max() - pano_x0) + canvas.width + 4
    pano = _backdrop(canvas, look, span, gy, TREADMILL_DECK * m.H if treadmill else 0.0)
    warp = view.copy()
    warp[:, :, 2] -= np.einsum("nij,j->ni", view[:, :, :2], np.array([mx, my], float))
    moving = (mx, my) != (0, 0)
    rng = np.random.default_rng(p.seed + 15485863)
    joints = _points(shots)
    for i, t in enumerate(times):
        occluded = p.occlusion is not None and p.occlusion[0] <= t < p.occlusion[1]
        exposed = []
        for k in range(i * len(offsets), (i + 1) * len(offsets)):
            J = {n: shots[n][k] + np.array([mx, my], float) for n in joints} if moving else \
                {n: shots[n][k] for n in joints}
            exposed.append(_draw_scene(canvas, m, look, pano, pano_x0, gy, J, float(cams[k]),
                                       occluded))
        frame = exposed[0] if len(exposed) == 1 else _average(exposed)
        if moving:
            frame = cv2.warpAffine(frame, warp[i], (p.width, p.height), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
        if exposure.glare:
            frame = _glare(frame, exposure.glare)
        if p.noise > 0:
            grain = rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(p.noise)
            frame = np.clip(frame + grain, 0, 255).astype(np.uint8)
        if exposure.jpeg_quality is not None:
            frame = _jpeg(frame, exposure.jpeg_quality)
        yield frame


def _draw_scene(canvas: GaitParams, m: _Model, look: _Look, pano, pano_x0: float, gy: float,
                J: dict, cam: float, occluded: bool) -> np.ndarray:
    """One exposure of the scene on the canvas, at the canvas's size."""
    s = SUPERSAMPLE
    # Sub-pixel crop: the scenery glides smoothly under a panning camera; a treadmill's
    # room stands still (only the belt moves).
    off = cam - pano_x0 if canvas.camera == "panning" else 0.0
    bg = cv2.getRectSubPix(pano, (canvas.width, canvas.height), (off + 0.5 * canvas.width - 0.5,
                                                                0.5 * canvas.height - 0.5))
    big = cv2.resize(bg, (canvas.width * s, canvas.height * s), interpolation=cv2.INTER_LINEAR)
    if canvas.setting == "treadmill":
        _draw_treadmill(big, canvas, m, gy, cam, s)
    _draw_runner(_Pen(big, s, m.H, m.f), J, m, look, canvas.facing)
    if occluded:
        _draw_occluder(big, canvas, m, gy, s)
    return cv2.resize(big, (canvas.width, canvas.height), interpolation=cv2.INTER_AREA)


def _average(exposures: list[np.ndarray]) -> np.ndarray:
    return np.round(np.mean(np.stack(exposures), axis=0)).astype(np.uint8)


def _glare(frame: np.ndarray, strength: float) -> np.ndarray:
    """Veiling glare: light from a bright background scatters in the lens and washes the
    dark runner toward the brightness around them."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(w // 8, 1), max(h // 8, 1)), interpolation=cv2.INTER_AREA)
    veil = cv2.GaussianBlur(small.astype(np.float32), (0, 0), max(w, h) / 8 / 12)
    veil = cv2.resize(veil, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip((1.0 - strength) * frame + strength * veil, 0, 255).astype(np.uint8)


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """A round trip through a JPEG: 8x8 blocks, ringing and smeared chroma."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def render_frames(params: GaitParams) -> Iterator[np.ndarray]:
    """Yield the clip's RGB frames (height x width x 3, uint8) as rendered, before encoding."""
    m, tracks = _simulate(params)
    style = LOOK_STYLES[params.look]
    return _frames(params, m, tracks["view"], _pick_look(params.seed, style),
                   _pick_exposure(params.seed, style))


def _write_h264(frames, path: Path, p: GaitParams, crf: int, fps: float) -> None:
    """Browser-playable H.264 (yuv420p, faststart) with PyAV; OpenCV's wheels cannot."""
    import av  # imported here so truth_for() works without FFmpeg bindings

    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = p.width, p.height, "yuv420p"
        # No macroblock tree: with it, x264 gave different frames now and then for the same input,
        # so a benchmark rerun did not see the same clip (phones' hardware encoders have none).
        stream.options = {"crf": str(crf), "preset": "medium", "x264-params": "no-mbtree=1"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _sidecar(out_path: Path, suffix: str) -> Path:
    return out_path.with_name(out_path.stem + suffix)


def render_clip(params: GaitParams, out_path, *, crf: int = 28, playback_fps: float | None = None) -> dict:
    """Render the clip to ``out_path`` (mp4) and write ``<stem>.truth.json`` and
    ``<stem>.joints.npz`` beside it. Returns the truth dict (its times are the run's own).

    ``playback_fps`` below ``params.fps`` saves it as a phone saves slow motion: filmed at
    ``params.fps``, played at ``playback_fps``."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    m, tracks = _simulate(params)
    truth = _truth(params, m, tracks)
    crf = max(crf, LOOK_STYLES[params.look].min_crf)  # a compressed look stays compressed
    _write_h264(render_frames(params), out_path, params, crf, playback_fps or params.fps)
    joints_path = _sidecar(out_path, ".joints.npz")
    np.savez_compressed(joints_path, **tracks)
    truth["joints_px"] = joints_path.name
    _sidecar(out_path, ".truth.json").write_text(json.dumps(truth, indent=2))
    return truth


# A backward jog filmed in a phone's 120 fps slow-motion mode: render it with playback_fps=30.
SLOW_MOTION_RUN = GaitParams(duration_s=2.5, width=640, height=360, fps=120.0)
