"""Draw the analysis on video frames: skeleton, angles where measured, contacts, verdict panel.

Pure drawing on numpy images (OpenCV); it knows nothing about files.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from formcheck import pose as P
from formcheck.analysis.kinematics import SIDE
from formcheck.analysis.rules import Evidence, Finding
from formcheck.coaching.intervals import TimerState
from formcheck.cues import CUES

STATUS_BGR = {"pass": (80, 200, 60), "caution": (0, 190, 255), "fail": (60, 60, 230), "unknown": (160, 160, 160)}
NEAR_BGR, FAR_BGR, TRUNK_BGR = (255, 220, 80), (150, 120, 60), (255, 255, 255)
FOOT_BGR = {"left": (255, 160, 60), "right": (60, 160, 255)}
CONTACT_SHOW_S = 0.25  # how long a contact marker stays on screen
PANEL_DIM = 0.35  # the panel darkens what is behind it to this fraction
# H.264 settings of the annotated video. Against superfast at crf 23 (measured on the treadmill
# clip): the same PSNR (37.2 dB) and no visible difference, half the encode time, 1.4x the size.
ANNOTATED_VIDEO = {"preset": "ultrafast", "crf": 28}


class Annotator:
    """Draws one analysed runner; ``draw(bgr, i)`` annotates series index ``i`` in place."""

    def __init__(self, evidence: Evidence, findings: list[Finding], title: str = ""):
        self.ev = evidence
        self.findings = [f for f in findings if CUES[f.id].on_video]
        self.title = title
        self._contacts_by_frame = {c.frame: c for c in evidence.gait.contacts}
        self._panels: dict[tuple, np.ndarray] = {}  # the panel's fixed lines, drawn once per layout

    def draw(self, bgr: np.ndarray, i: int) -> np.ndarray:
        scale = max(bgr.shape[:2]) / 1000.0
        xy = self.ev.pose.xy[i]
        if np.isfinite(xy[[P.LEFT_HIP, P.RIGHT_HIP]]).all():
            draw_skeleton(bgr, xy, self.ev.gait.near_side, scale)
            self._draw_angles(bgr, i, scale)
        self._draw_contacts(bgr, i, scale)
        self._draw_panel(bgr, scale, self._live_values(i))
        return bgr

    def _draw_panel(self, bgr: np.ndarray, scale: float, values: list[str]) -> None:
        """``draw_panel`` at a third of the cost: the title and the cues never change, so their
        text is drawn once on black and laid over each dimmed box; only the values are drawn."""
        title = [self.title] if self.title else []
        n_lines = len(title) + len(values)
        key = (bgr.shape, n_lines)
        fixed = self._panels.get(key)
        if fixed is None:
            fixed = np.zeros((*_panel_size(bgr.shape, scale, n_lines, len(self.findings)), 3), np.uint8)
            _panel_text(fixed, title, n_lines, self.findings, scale)
            self._panels[key] = fixed
        roi = _dim_panel(bgr, scale, n_lines, len(self.findings))
        cv2.max(roi, fixed, dst=roi)  # light text over a dimmed box: max is the blend
        _panel_text(bgr, values, n_lines, [], scale, first=len(title))

    def _live_values(self, i: int) -> list[str]:
        lean, elbow = self.ev.trunk_lean[i], self.ev.elbow[i]
        t = self.ev.pose.t_s[i]
        values = [f"t {t:5.2f} s"]
        if np.isfinite(lean):
            values.append(f"lean {lean:+.0f} deg")
        if np.isfinite(elbow):
            values.append(f"elbow {elbow:.0f} deg")
        return values

    def _draw_angles(self, bgr, i, scale):
        xy = self.ev.pose.xy[i]
        hips, shoulders = P.hip_centre(xy), P.shoulder_centre(xy)
        if np.isfinite(shoulders).all():
            _line(bgr, hips, shoulders, TRUNK_BGR, 3 * scale)
            # vertical reference from the hips, so the lean is visible
            top = hips - np.array([0, np.linalg.norm(shoulders - hips)])
            _line(bgr, hips, top, (200, 200, 200), 1.5 * scale)
            _label(bgr, f"{self.ev.trunk_lean[i]:+.0f}", (shoulders + hips) / 2 + [12 * scale, 0], scale)
        elbow = xy[SIDE[self.ev.gait.near_side]["elbow"]]
        if np.isfinite(elbow).all() and np.isfinite(self.ev.elbow[i]):
            _label(bgr, f"{self.ev.elbow[i]:.0f}", elbow + [10 * scale, 0], scale)

    def _draw_contacts(self, bgr, i, scale):
        t_now = self.ev.pose.t_s[i]
        for c in self.ev.gait.contacts:
            if 0 <= t_now - c.time_s <= CONTACT_SHOW_S:
                s = SIDE[c.foot]
                foot = np.nanmean(self.ev.pose.xy[c.frame, [s["heel"], s["toe"]]], axis=0)
                if np.isfinite(foot).all():
                    centre = _pt(foot)
                    cv2.circle(bgr, centre, int(14 * scale), FOOT_BGR[c.foot], max(1, int(3 * scale)), cv2.LINE_AA)
                    _label(bgr, f"{c.foot[0].upper()} {c.strike}", foot + [16 * scale, 18 * scale], scale)


def draw_skeleton(bgr: np.ndarray, xy: np.ndarray, near_side: str, scale: float) -> None:
    # points rounded and checked once per frame, not once per bone end (this runs on every frame)
    finite = np.isfinite(xy).all(axis=1).tolist()
    pts = [tuple(p) for p in np.round(np.nan_to_num(xy)).astype(int).tolist()]
    thickness, radius = max(1, int(round(3 * scale))), max(2, int(4 * scale))
    for a, b, colour in _bones(near_side):
        if finite[a] and finite[b]:
            cv2.line(bgr, pts[a], pts[b], colour, thickness, cv2.LINE_AA)
    for idx in range(11, P.N_LANDMARKS):
        if finite[idx]:
            cv2.circle(bgr, pts[idx], radius, (255, 255, 255), -1, cv2.LINE_AA)


@functools.lru_cache(maxsize=2)
def _bones(near_side: str) -> list[tuple[int, int, tuple[int, int, int]]]:
    """Each skeleton bone with its colour: far-side bones darker."""
    far_points = set(SIDE["right" if near_side == "left" else "left"].values())
    return [(a, b, FAR_BGR if a in far_points or b in far_points else NEAR_BGR) for a, b in P.SKELETON]


def draw_panel(bgr: np.ndarray, findings: list[Finding], scale: float, extra: list[str], title: str = "") -> None:
    """A translucent box top-left: one traffic light per cue plus live values."""
    lines = ([title] if title else []) + extra
    _dim_panel(bgr, scale, len(lines), len(findings))
    _panel_text(bgr, lines, len(lines), findings, scale)


def _line_height(scale: float) -> int:
    return int(24 * scale) + 6


def _panel_size(shape: tuple, scale: float, n_lines: int, n_findings: int) -> tuple[int, int]:
    """(height, width) of the panel's box, within a frame of ``shape``."""
    height = _line_height(scale) * (n_findings + n_lines) + 10
    width = int(330 * scale) + 40
    return min(height, shape[0]), min(width, shape[1])


def _dim_panel(bgr: np.ndarray, scale: float, n_lines: int, n_findings: int) -> np.ndarray:
    """Darken the panel's box in place; returns it (a view of ``bgr``)."""
    height, width = _panel_size(bgr.shape, scale, n_lines, n_findings)
    roi = bgr[:height, :width]
    cv2.convertScaleAbs(roi, dst=roi, alpha=PANEL_DIM)  # in place, no float copy of the box
    return roi


def _panel_text(bgr: np.ndarray, lines: list[str], n_lines: int, findings: list[Finding], scale: float,
                first: int = 0) -> None:
    """Text lines from line number ``first``, then the cues below all ``n_lines`` lines."""
    line_h = _line_height(scale)
    for k, text in enumerate(lines, first + 1):
        _text(bgr, text, (10, k * line_h), scale, (255, 255, 255))
    y = (n_lines + 1) * line_h
    for f in findings:
        cv2.circle(bgr, (18, y - line_h // 3), max(4, int(8 * scale)), STATUS_BGR[f.status], -1, cv2.LINE_AA)
        _text(bgr, f.title, (34, y), scale, (235, 235, 235))
        y += line_h


def _pt(p) -> tuple[int, int]:
    return int(round(p[0])), int(round(p[1]))


def _line(bgr, a, b, colour, thickness):
    if np.isfinite(a).all() and np.isfinite(b).all():
        cv2.line(bgr, _pt(a), _pt(b), colour, max(1, int(round(thickness))), cv2.LINE_AA)


def _text(bgr, text, org, scale, colour):
    cv2.putText(bgr, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale + 0.15, colour,
                max(1, int(round(1.5 * scale))), cv2.LINE_AA)


def _label(bgr, text, at, scale):
    """A value beside the joint or foot it measures, readable on any background."""
    _outlined(bgr, text, _pt(at), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale + 0.15, (255, 255, 255),
              max(1, int(round(1.5 * scale))))


# ---------------------------------------------------------------------------
# The interval timer on the picture: big enough to read from a treadmill a few metres away.

TIMER_BAND_SHARE = 0.26  # banner height / picture height
PHASE_BGR = {"walk_backward": (170, 110, 30), "run_backward": (40, 80, 220), "walk_forward": (60, 150, 50),
             "run_forward": (30, 150, 200)}
DONE_BGR = (110, 110, 110)


def _fit_scale(text: str, font: int, height_px: float, max_width_px: float, thickness: int) -> float:
    """Font scale that makes ``text`` ``height_px`` tall, shrunk if needed to fit ``max_width_px``."""
    (w, h), _ = cv2.getTextSize(text.replace("·", "-"), font, 1.0, thickness)
    scale = height_px / max(h, 1)
    return min(scale, max_width_px / max(w, 1)) if w * scale > max_width_px else scale


def _outlined(img: np.ndarray, text: str, org: tuple[int, int], font: int, scale: float, colour,
              thickness: int) -> None:
    """Text with a dark rim (the same glyphs shifted, since a thicker stroke would also widen them)."""
    text = text.replace("·", "-")  # the drawing fonts are ASCII only
    rim = max(1, thickness)
    for dx, dy in ((-rim, 0), (rim, 0), (0, -rim), (0, rim), (-rim, -rim), (rim, rim), (-rim, rim), (rim, -rim)):
        cv2.putText(img, text, (org[0] + dx, org[1] + dy), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    cv2.putText(img, text, org, font, scale, colour, thickness, cv2.LINE_AA)


def draw_timer_banner(band: np.ndarray, state: TimerState, on_plan: bool | None = None,
                      plan_check: str = "") -> None:
    """Fill ``band`` (a strip of the output image, drawn in place) with the timer: the current phase
    and its time left in big letters, then what comes next (counted down in the last seconds), then
    whether the runner follows the plan. A change is announced by the strip lighting up in the new
    phase's colour for a few seconds; a bar shows how much of the phase is done."""
    h, w = band.shape[:2]
    if h < 12 or w < 40:
        return
    colour = DONE_BGR if state.phase is None else PHASE_BGR.get(state.phase.kind, DONE_BGR)
    band[:] = colour if state.announcing else tuple(int(c * 0.45) for c in colour)
    font = cv2.FONT_HERSHEY_DUPLEX
    pad = max(4, int(0.03 * h))
    big = max(1, int(round(h / 40)))
    headline = ("NOW: " if state.announcing and state.phase is not None else "") + state.headline()
    clock = "" if state.phase is None else state.clock()
    line1_h = 0.42 * h
    # phase and clock share one size, shrunk together when the phase name is long or the picture narrow
    scale = _fit_scale(f"{headline}    {clock}", font, line1_h, w - 2 * pad, big)
    (cw, _), _ = cv2.getTextSize(clock, font, scale, big)
    y1 = pad + int(line1_h)
    _outlined(band, headline, (pad, y1), font, scale, (255, 255, 255), big)
    if clock:
        _outlined(band, clock, (w - cw - pad, y1), font, scale, (255, 255, 255), big)
    small = max(1, big // 2)
    detail = state.detail()
    y2 = y1 + pad + int(0.17 * h)
    _outlined(band, detail, (pad, y2), font, _fit_scale(detail, font, 0.17 * h, w - 2 * pad, small),
              (0, 255, 255) if state.counting_down else (255, 255, 255), small)
    if plan_check:
        y3 = y2 + pad + int(0.13 * h)
        _outlined(band, plan_check, (pad, y3), font, _fit_scale(plan_check, font, 0.13 * h, w - 2 * pad, small),
                  (120, 255, 120) if on_plan else (0, 170, 255), small)
    if state.phase is not None:  # progress through this phase
        done = 1.0 - state.time_left_s / max(state.phase.duration_s, 1e-6)
        bar = max(3, int(0.06 * h))
        band[h - bar:, :] = (40, 40, 40)
        band[h - bar:, : int(round(w * min(max(done, 0.0), 1.0)))] = (255, 255, 255)


# ---------------------------------------------------------------------------
# Stills (key frames for the HTML report and the history)

# Key frames are small (480 px wide) and shared as stills, so the skeleton is drawn after
# scaling, thick, in bright colours over a black outline: it reads on any background.
KEY_NEAR_BGR, KEY_FAR_BGR, KEY_OUTLINE_BGR = (0, 235, 255), (255, 190, 0), (0, 0, 0)


def draw_key_frame_skeleton(bgr: np.ndarray, xy: np.ndarray, near_side: str) -> None:
    """A clearly visible skeleton on a (downscaled) frame, in place; ``xy`` in this frame's pixels."""
    line = max(3, int(round(bgr.shape[1] / 110)))  # about 4 px at 480 px wide
    segments = [(xy[a], xy[b], KEY_FAR_BGR if colour == FAR_BGR else KEY_NEAR_BGR)
                for a, b, colour in _bones(near_side) if np.isfinite(xy[[a, b]]).all()]
    segments.sort(key=lambda s: s[2] == KEY_NEAR_BGR)  # the near side on top
    for thickness, use_outline in ((line + 4, True), (line, False)):
        for a, b, colour in segments:
            cv2.line(bgr, _pt(a), _pt(b), KEY_OUTLINE_BGR if use_outline else colour, thickness, cv2.LINE_AA)
    for idx in range(11, P.N_LANDMARKS):
        if np.isfinite(xy[idx]).all():
            cv2.circle(bgr, _pt(xy[idx]), line + 2, KEY_OUTLINE_BGR, -1, cv2.LINE_AA)
            cv2.circle(bgr, _pt(xy[idx]), line, (255, 255, 255), -1, cv2.LINE_AA)


def key_frame_still(bgr: np.ndarray, xy: np.ndarray | None, near_side: str, width: int = 480) -> np.ndarray:
    """A copy of the frame at most ``width`` px wide with the skeleton drawn on it (none if ``xy`` is None);
    ``xy`` in the full frame's pixels."""
    scale = min(1.0, width / bgr.shape[1])
    if scale < 1:
        still = cv2.resize(bgr, (width, int(round(bgr.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    else:
        still = bgr.copy()
    if xy is not None:
        draw_key_frame_skeleton(still, xy * scale, near_side)
    return still
