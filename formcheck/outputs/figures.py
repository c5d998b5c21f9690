"""The plots of a report, one function per figure, shared by the app and the HTML report.

Built on matplotlib's object API (``Figure``), not pyplot: no backend is chosen and no
global figure list is kept, so the threaded Streamlit server can draw them safely.
Inputs are plain data: ``per_frame`` maps a column name to a (T,) sequence (NaN or ""
where unmeasured), ``contacts`` are the report's contact dicts.
"""

from __future__ import annotations

import io
from typing import Iterable, NamedTuple

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from formcheck.config import Thresholds
from formcheck.cues import CUES
from formcheck.outputs.report import score_text

STATUS_HEX = {"pass": "#2e9e44", "caution": "#e69500", "fail": "#d33c3c", "unknown": "#8a8a8a"}
FOOT_HEX = {"left": "#1f77b4", "right": "#d62728"}
LINE_HEX = "#1f4e79"


class Verdict(NamedTuple):
    """One cue's result as the score figure shows it."""

    title: str
    status: str
    scored: bool


def png(fig: Figure, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def column(per_frame: dict, name: str) -> np.ndarray | None:
    """A per-frame column as floats (a CSV read back gives strings, "" where unmeasured)."""
    if name not in per_frame:
        return None
    return np.array([np.nan if v in ("", None) else float(v) for v in per_frame[name]], dtype=float)


def _figure(height: float = 2.8, width: float = 6.0) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots()


def band_over_time(per_frame: dict, name: str, pass_band, caution_band, ylabel: str, title: str) -> Figure | None:
    """An angle over time with the target band shaded (and the caution band around it)."""
    t, y = column(per_frame, "time_s"), column(per_frame, name)
    if t is None or y is None:
        return None
    fig, ax = _figure()
    ax.axhspan(*caution_band, color=STATUS_HEX["caution"], alpha=0.12, label="caution")
    ax.axhspan(*pass_band, color=STATUS_HEX["pass"], alpha=0.2, label="target")
    ax.plot(t, y, color=LINE_HEX, lw=1.2, label=ylabel)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    return fig


def trunk_lean(per_frame: dict, th: Thresholds) -> Figure | None:
    return band_over_time(per_frame, "trunk_lean_deg", th.trunk_lean_pass, th.trunk_lean_caution,
                          "trunk lean (°)", "Trunk lean (+ = toward the chest)")


def elbow(per_frame: dict, th: Thresholds) -> Figure | None:
    return band_over_time(per_frame, "elbow_angle_deg", th.elbow_pass, th.elbow_caution, "elbow angle (°)",
                          "Elbow angle, near arm")


def feet(per_frame: dict, contacts: list[dict]) -> Figure | None:
    """Each foot's height above the ground, its contacts marked L / R."""
    t = column(per_frame, "time_s")
    heights = {foot: column(per_frame, f"{foot}_foot_height_leg") for foot in FOOT_HEX}
    if t is None or all(h is None for h in heights.values()):
        return None
    fig, ax = _figure()
    frame_pos = {int(float(f)): i for i, f in enumerate(per_frame.get("frame", []))}
    for foot, h in heights.items():
        if h is None:
            continue
        ax.plot(t, h, color=FOOT_HEX[foot], lw=1, label=f"{foot} foot")
        for c in contacts:
            i = frame_pos.get(c["frame"])
            if c["foot"] == foot and i is not None:
                y = h[i] if np.isfinite(h[i]) else 0.0
                ax.plot(t[i], y, "v", color=FOOT_HEX[foot], ms=6)
                ax.annotate(foot[0].upper(), (t[i], y), textcoords="offset points", xytext=(0, 6),
                            ha="center", fontsize=7, color=FOOT_HEX[foot])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("height (leg lengths)")
    ax.set_title("Foot height above the ground, contacts marked L / R", fontsize=10)
    ax.legend(loc="upper right", fontsize=7)
    return fig


def cadence(contacts: list[dict], th: Thresholds, cadence_spm: float | None) -> Figure:
    """Steps per minute from one contact to the next, and per stride, against the target."""
    fig, ax = _figure()
    times = np.array([c["time_s"] for c in contacts])
    if len(times) > 1:
        dt = np.diff(times)
        ok = (dt > 0.15) & (dt < 1.5)
        mid = (times[1:] + times[:-1]) / 2
        ax.plot(mid[ok], 60.0 / dt[ok], "o", color="#7a9cc6", ms=3, label="per step")
        if len(times) > 2:  # a stride (two steps) averages out the left/right timing jitter
            dt2 = times[2:] - times[:-2]
            ok2 = (dt2 > 0.3) & (dt2 < 3.0)
            ax.plot(times[1:-1][ok2], 120.0 / dt2[ok2], "-", color=LINE_HEX, lw=1.5, label="per stride")
    ax.axhspan(th.cadence_pass, max(th.cadence_pass + 40, 220), color=STATUS_HEX["pass"], alpha=0.15,
               label="target")
    if cadence_spm:
        ax.axhline(cadence_spm, color="black", ls="--", lw=1, label=f"clip {cadence_spm:.0f}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("steps/min")
    ax.set_title("Cadence per step", fontsize=10)
    ax.legend(loc="lower right", fontsize=7, ncol=4)
    return fig


def score(verdicts: list[Verdict], score_value: int | None) -> Figure:
    """Where each cue landed (fail / caution / pass), and the score they add up to."""
    position = {"fail": 0.0, "caution": 0.5, "pass": 1.0}
    fig, ax = _figure(height=0.3 * len(verdicts) + 1.0)
    for y, v in enumerate(reversed(verdicts)):
        ax.plot([0, 1], [y, y], color="#e3e3e3", lw=6, solid_capstyle="round", zorder=1)
        if v.status in position:
            ax.scatter([position[v.status]], [y], s=90, color=STATUS_HEX[v.status], zorder=3)
        else:
            ax.text(0.5, y, "not judged", ha="center", va="center", fontsize=7, color="#777777")
        if not v.scored:
            ax.text(1.06, y, "not scored", va="center", fontsize=6, color="#777777")
    ax.set_yticks(range(len(verdicts)), [v.title for v in reversed(verdicts)], fontsize=7)
    ax.set_xticks([0, 0.5, 1], ["fail", "caution", "pass"], fontsize=8)
    ax.set_xlim(-0.08, 1.3)
    ax.set_ylim(-0.7, len(verdicts) - 0.3)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.set_title(f"Score {score_text(score_value)}\n(per judged cue: pass = 1, caution = ½, fail = 0)", fontsize=9)
    return fig


def report_figures(report: dict, per_frame: dict, th: Thresholds) -> list[tuple[str, Figure]]:
    """Every plot of one report (its JSON form, as written or read back) that has data to show, named."""
    contacts = report.get("contacts", [])
    verdicts = [Verdict(r["title"], r["status"], CUES[r["id"]].scored if r["id"] in CUES else False)
                for r in report.get("rules", [])]
    figs = [("trunk_lean", trunk_lean(per_frame, th)), ("elbow", elbow(per_frame, th)),
            ("feet", feet(per_frame, contacts)), ("cadence", cadence(contacts, th, report.get("cadence_spm"))),
            ("score", score(verdicts, report.get("score")))]
    return [(name, fig) for name, fig in figs if fig is not None]


class TrendPoint(NamedTuple):
    session: int  # position in time, 1 = the oldest session
    value: float
    status: str


def trends(scores: list[int | None], cues: Iterable[tuple[str, list[TrendPoint]]]) -> Figure:
    """The score per session, then one small plot per cue measured in the history."""
    cues = list(cues)
    n, ncols = len(cues) + 1, 3
    nrows = (n + ncols - 1) // ncols
    fig = Figure(figsize=(11, 2.3 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    axes[0].plot(range(1, len(scores) + 1), [np.nan if s is None else s for s in scores], "o-", color=LINE_HEX)
    axes[0].set_title("Score", fontsize=9)
    axes[0].set_ylim(0, 100)
    for ax, (title, points) in zip(axes[1:], cues, strict=False):
        x = [p.session for p in points]
        ax.plot(x, [p.value for p in points], "-", color="#999999", lw=1)
        ax.scatter(x, [p.value for p in points], c=[STATUS_HEX.get(p.status, STATUS_HEX["unknown"]) for p in points],
                   s=25, zorder=3)
        ax.set_title(title, fontsize=9)
    for ax in axes[:n]:
        ax.set_xlabel("session (oldest → newest)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlim(0.5, len(scores) + 0.5)
        if len(scores) <= 10:
            ax.set_xticks(range(1, len(scores) + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    for ax in axes[n:]:
        ax.axis("off")
    return fig
