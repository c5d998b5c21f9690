"""Per-step numbers shown beside a report: the step table, frame times, metres and km/h.

Plain data in, plain data out (no Streamlit), so the app's pages stay drawing only.
"""

from __future__ import annotations

import numpy as np

from formcheck.outputs.report import ContactRecord

LEG_PER_HEIGHT = 0.53  # leg length (hip to ankle) ~ 0.53 x standing height: an anthropometric approximation


def unit_lines(step: float | None, cadence: float | None, height_m: float | None, belt_kmh: float | None) -> list[str]:
    """Step length and speed in metres and km/h, from the step length in leg lengths and the
    cadence, with the runner's height and/or the belt speed."""
    lines = []
    if height_m:
        leg = LEG_PER_HEIGHT * height_m
        lines.append(f"Leg length ≈ {leg:.2f} m (0.53 × height {height_m:.2f} m, an approximation).")
        if step:
            step_m = step * leg
            text = f"Step length ≈ {step_m:.2f} m"
            if cadence:
                text += f", speed ≈ {step_m * cadence / 60 * 3.6:.1f} km/h"
            lines.append(text + " (from your height).")
    if belt_kmh and cadence:
        step_m = belt_kmh / 3.6 / (cadence / 60)
        text = f"Step length = {step_m:.2f} m from the belt speed ({belt_kmh:.1f} km/h) and cadence"
        if step:
            text += f"; that makes your leg length ≈ {step_m / step:.2f} m"
        lines.append(text + ".")
    return lines


def frame_times(report) -> tuple[dict[int, float], float]:
    """decode frame index -> seconds into the annotated video (which plays at the file's fps)."""
    fps = float(report.video.fps or 30.0)
    frames = np.asarray(report.per_frame.get("frame", []), dtype=int)
    return {int(f): f / fps for f in frames}, fps


def step_table(contacts: list[ContactRecord]) -> list[dict]:
    """One row per foot contact, with the step time and cadence since the previous one."""
    rows = []
    prev_t = None
    for i, c in enumerate(contacts):
        step_s = None if prev_t is None else c.time_s - prev_t
        rows.append({"step": i + 1, "foot": c.foot, "time (s)": round(c.time_s, 2),
                     "strike": c.strike,
                     "foot pitch (°)": None if c.foot_pitch_deg is None else round(c.foot_pitch_deg, 1),
                     "contact time (s)": None if c.contact_time_s is None else round(c.contact_time_s, 3),
                     "step length (L)": c.step_length_leg,
                     "step time (s)": None if step_s is None else round(step_s, 3),
                     "cadence (steps/min)": None if not step_s else round(60.0 / step_s)})
        prev_t = c.time_s
    return rows
