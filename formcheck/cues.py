"""One description per coaching cue: what every part of formcheck knows about it.

Rules (analysis/rules.py) measure and judge; everything else about a cue lives here and is read by
the rules, coaching, progress, the video panel, the live check and the app: its title and
unit, the body part a fix works on, whether it counts toward the score, whether it is shown
on the video and live, which landmarks it reads, its advice and drill, how far outside its
pass band a value lies, the smallest change worth calling progress, and the thresholds a
user may edit. Adding a cue is one ``Cue`` here, one rule function, and their tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from formcheck.config import Thresholds

# Landmark groups a cue reads; the near side is filled in per runner (coach.finding_confidence).
ARM = ("shoulder", "elbow", "wrist")
FOOT = ("ankle", "heel", "toe")


@dataclass(frozen=True)
class Editable:
    """A threshold the app's sidebar lets a user change, with the widget's range."""
    name: str  # Thresholds field
    label: str
    low: float
    high: float


@dataclass(frozen=True)
class Cue:
    id: str
    title: str
    unit: str
    body_part: str | None  # what a fix works on; None: the cue describes, it is never a fix
    landmarks: tuple[str, ...]  # what it reads: visibility sets its confidence
    why: str = ""  # why it matters for backward running
    drill: str = ""
    scored: bool = True  # counts toward the 0-100 score
    on_video: bool = True  # a line in the annotated video's panel
    live: bool = True  # a light in the live check (rolling windows are too short for some)
    timing: bool = False  # read from contact timing: needs a frame rate well above the contact time
    # how far outside the pass band, in units of the band's tolerance (0 inside)
    outside: Callable[[float, Thresholds], float] | None = None
    meaningful_change: float = 0.0  # the smallest change between two clips worth calling a change
    better: int | None = None  # inside the pass band: +1 higher is better, -1 lower, 0 nearer the middle; None: by status only
    band_middle: Callable[[Thresholds], float] | None = None  # for better == 0
    editable: tuple[Editable, ...] = ()


def _outside_band(value: float, band: tuple[float, float]) -> float:
    lo, hi = band
    return max(lo - value, value - hi, 0.0) / (hi - lo)


def _above(value: float, limit: float, tolerance: float) -> float:
    return max(value - limit, 0.0) / max(tolerance, 1e-6)


def _below(value: float, limit: float, tolerance: float) -> float:
    return max(limit - value, 0.0) / max(tolerance, 1e-6)


_CUES = (
    Cue("direction", "Backward running", "duty", None, FOOT, scored=False, timing=True),
    Cue("trunk_lean", "Slight forward lean", "deg", "trunk", ("shoulders", "hips"),
        why="Leaning back puts your weight behind your feet, toward ground you cannot see: you lose balance "
            "easily and load the lower back. A slight lean toward the chest keeps you over the forefoot.",
        drill="Planks and side planks, 3 x 30 s each, 2-3 times a week, to hold the trunk in a slight forward lean.",
        outside=lambda v, th: _outside_band(v, th.trunk_lean_pass),
        meaningful_change=2.0, better=0, band_middle=lambda th: sum(th.trunk_lean_pass) / 2,
        editable=(Editable("trunk_lean_pass", "Trunk lean, pass band (°)", -10.0, 40.0),)),
    Cue("trunk_stability", "Stable upper body", "deg range", "trunk", ("shoulders", "hips"),
        why="A rocking trunk shifts your balance every step, and balance matters more when you cannot see "
            "where you are going.",
        drill="Side planks (3 x 20-30 s a side) and Russian twists (3 x 15 a side) for a quiet, braced core.",
        outside=lambda v, th: _above(v, th.trunk_range_pass, th.trunk_range_fail - th.trunk_range_pass),
        meaningful_change=1.0, better=-1),
    Cue("elbow_angle", "Elbows near 90°", "deg", "arms", ARM,
        why="Bent, relaxed arms (about 90°) swing quickly and help you keep balance and rhythm; straight or "
            "clenched arms slow the swing and tense the shoulders.",
        drill="Standing arm-swing drill: elbows at 90°, hands loose, 3 x 30 s; add Russian twists (3 x 15 a side) "
              "for trunk rotation control.",
        outside=lambda v, th: _outside_band(v, th.elbow_pass),
        meaningful_change=5.0, better=0, band_middle=lambda th: sum(th.elbow_pass) / 2,
        editable=(Editable("elbow_pass", "Elbow angle, pass band (°)", 30.0, 180.0),)),
    Cue("arm_leg_opposition", "Arms swing opposite to legs", "r", "arms", ("shoulder", "elbow", "ankle", "hip"),
        why="Each arm swinging with the opposite leg balances the rotation of the hips; same-side swing "
            "makes you twist and wobble.",
        drill="Walk backwards slowly with an exaggerated opposite-arm swing, 3 x 30 s, then jog; Russian twists "
              "(3 x 15 a side) for rotation control.",
        outside=lambda v, th: _below(v, th.opposition_r_pass, th.opposition_r_pass - th.same_side_r_fail),
        meaningful_change=0.05, better=1),
    Cue("cadence", "Quick steps (cadence)", "steps/min", "legs", FOOT, timing=True,
        why="Quick, short steps keep your feet under you, so you can stop or react quickly and the knee "
            "takes less load per step.",
        drill="Calf raises (3 x 15) for springy ankles; jog backwards counting quick light steps for 20 s at a time.",
        outside=lambda v, th: _below(v, th.cadence_pass, th.cadence_pass - th.cadence_caution),
        meaningful_change=3.0, better=1,
        editable=(Editable("cadence_pass", "Cadence, pass from (steps/min)", 100.0, 240.0),
                  Editable("cadence_caution", "Cadence, caution from (steps/min)", 100.0, 240.0))),
    Cue("step_length", "Short steps", "leg lengths", "legs", FOOT + ("hip",), timing=True,
        why="Long steps backward reach into ground you cannot see and raise the load on knee and ankle at "
            "landing; short steps keep you balanced.",
        drill="Reverse lunges (3 x 10 a leg) for control over the landing leg; jog backwards with deliberately "
              "short steps.",
        outside=lambda v, th: _above(v, th.step_length_pass, th.step_length_caution - th.step_length_pass),
        meaningful_change=0.03, better=-1,
        editable=(Editable("step_length_pass", "Step length, pass up to (leg lengths)", 0.2, 2.0),)),
    Cue("overreach", "Foot lands close behind the body", "leg lengths", "legs", FOOT + ("hip",), timing=True,
        why="A foot that lands far behind the hips brakes every step and loads the knee; landing close "
            "under the body keeps the knee-friendly benefit of backward running.",
        drill="Reverse lunges (3 x 10 a leg), then 20 s jogs placing the foot just behind the hips.",
        outside=lambda v, th: _above(v, th.overreach_pass, th.overreach_caution - th.overreach_pass),
        meaningful_change=0.03, better=-1,
        editable=(Editable("overreach_pass", "Overreach, pass up to (leg lengths)", 0.0, 1.0),)),
    Cue("forefoot_contact", "Land on the forefoot", "deg", "legs", ("heel", "toe"), timing=True,
        why="Backward running lands on the front of the foot so the calf absorbs the landing; a heel landing "
            "backwards jars the knee and is easy to trip on.",
        drill="Calf raises (3 x 15, slow down), then walk backwards on the balls of the feet for 1 min.",
        outside=lambda v, th: _below(v, th.forefoot_pitch_pass, th.forefoot_pitch_pass - th.heel_pitch_fail),
        meaningful_change=2.0, better=1),
    Cue("heel_drag", "No heel dragging", "fraction of swing", "legs", ("heel", "toe"), timing=True,
        why="A dragging heel catches on uneven ground, and going backwards you will not see the kerb or "
            "root that trips you.",
        drill="Hip bridges (3 x 12) and reverse lunges (3 x 10 a leg); walk backwards lifting the feet a little higher.",
        outside=lambda v, th: _above(v, th.drag_fraction_fail, th.drag_fraction_fail),
        meaningful_change=0.05, better=-1),
    Cue("vertical_oscillation", "Not too bouncy", "leg lengths", "legs", ("hip",) + FOOT,
        why="Bouncing wastes energy and makes each landing harder on the knees; stay low and push back "
            "along the ground.",
        drill="Hip bridges (3 x 12) and calf raises (3 x 15) for a strong, quiet push.",
        outside=lambda v, th: _above(v, th.oscillation_pass, th.oscillation_caution - th.oscillation_pass),
        meaningful_change=0.01, better=-1,
        editable=(Editable("oscillation_pass", "Hip bounce, pass up to (leg lengths)", 0.0, 0.5),)),
    Cue("head_check", "Look over the shoulder now and then", "checks/20 s", "head", ("head",), live=False,
        why="You cannot see where you are going: a glance over the shoulder every 20 s or so keeps you "
            "safe from obstacles and other people.",
        drill="On every walk-backwards interval, glance over alternating shoulders every 10 steps, then face "
              "forward again.",
        outside=lambda v, th: max(1.0 - v, 0.0),
        meaningful_change=0.5, better=1),
    Cue("contact_time", "Ground contact time", "s", None, FOOT, scored=False, on_video=False, live=False,
        timing=True, meaningful_change=0.02),
)

CUES: dict[str, Cue] = {c.id: c for c in _CUES}


def editable_thresholds() -> list[Editable]:
    """Every threshold the app lets a user edit, in cue order."""
    return [e for c in _CUES for e in c.editable]
