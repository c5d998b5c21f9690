"""Hand-annotated truth for the real clips (tests/truth/*.json), and a report scored against it.

Shared by the tests and benchmarks/accuracy.py. A clip played backward or mirrored has truth
derived from the filmed one: reversed, frame f becomes N-1-f, a contact's toe-off becomes its
touch-down (running and walking leave the ground from the toes, so the reversed landing is toes
first) and the direction flips; mirrored, only the facing flips.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from formcheck.outputs.report import ContactRecord

TRUTH_DIR = Path(__file__).resolve().parents[1] / "truth"
TOLERANCE_FRAMES = 2
VARIANTS = ("filmed", "reversed", "mirrored")


@dataclass(frozen=True)
class TrueContact:
    side: str  # near | far
    touch_down: int | None  # None: landed before the clip (reversed: the original's toe-off was not seen)
    toe_off: int | None
    strike: str  # heel | flat | forefoot | unclear
    clear: bool


@dataclass(frozen=True)
class ClipTruth:
    clip: str
    variant: str
    fps: float
    frames: int
    setting: str
    camera: tuple[str, ...]
    time: str  # real_time | slow_motion | mixed (a speed ramp: real-time and slowed parts)
    slowmo_factor: float | None
    facing: str
    direction: str
    gait: str
    judged: tuple[int, int]
    contacts: tuple[TrueContact, ...]

    @property
    def touch_downs(self) -> list[TrueContact]:
        return sorted((c for c in self.contacts if c.touch_down is not None), key=lambda c: c.touch_down)

    @property
    def cadence_clip_spm(self) -> float | None:
        """Steps per minute of clip time: touch-downs over the frames they span."""
        downs = [c.touch_down for c in self.touch_downs]
        if len(downs) < 3:
            return None
        return 60.0 * self.fps * (len(downs) - 1) / (downs[-1] - downs[0])

    @property
    def real_time(self) -> bool:
        return self.time == "real_time"

    @property
    def slow_motion(self) -> bool:
        return self.time == "slow_motion"


def truth_files() -> list[Path]:
    return sorted(TRUTH_DIR.glob("*.json"))


def load(path: Path, variant: str = "filmed") -> ClipTruth:
    raw = json.loads(path.read_text())
    camera = raw["camera"] if isinstance(raw["camera"], list) else [raw["camera"]]
    truth = ClipTruth(
        clip=raw["clip"], variant="filmed", fps=float(raw["fps"]), frames=int(raw["frames"]),
        setting=raw["setting"], camera=tuple(camera), time=raw["time"],
        slowmo_factor=raw.get("slowmo_factor"), facing=raw["facing"], direction=raw["direction"],
        gait=raw["gait"], judged=tuple(raw["judged_frames"]),
        contacts=tuple(TrueContact(c["side"], c["touch_down"], c.get("toe_off"), c.get("strike", "unclear"),
                                   bool(c.get("clear", False))) for c in raw["contacts"]))
    return derive(truth, variant)


def derive(truth: ClipTruth, variant: str) -> ClipTruth:
    if variant == "filmed":
        return truth
    if variant == "mirrored":
        return replace(truth, variant=variant, facing={"left": "right", "right": "left"}[truth.facing])
    if variant != "reversed":
        raise ValueError(variant)
    last = truth.frames - 1
    flip = lambda f: None if f is None else last - f  # noqa: E731
    contacts = tuple(TrueContact(c.side, flip(c.toe_off), flip(c.touch_down), "forefoot", c.clear)
                     for c in truth.contacts)
    return replace(truth, variant=variant, contacts=contacts, judged=(last - truth.judged[1], last - truth.judged[0]),
                   direction={"forward": "backward", "backward": "forward"}[truth.direction])


@dataclass
class ContactScore:
    truth: int  # touch-downs annotated in the judged frames
    matched: int  # found within the tolerance
    found: int  # found in the judged frames
    spurious: int  # found, matching no annotated contact
    strike_judged: int  # near foot, clearly visible, strike annotated
    strike_agreed: int  # heel first or not, as annotated

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else float("nan")

    @property
    def spurious_rate(self) -> float:
        return self.spurious / self.found if self.found else 0.0

    @property
    def strike_agreement(self) -> float:
        return self.strike_agreed / self.strike_judged if self.strike_judged else float("nan")


def score_contacts(found: list[ContactRecord], truth: ClipTruth, tol: int = TOLERANCE_FRAMES) -> ContactScore:
    """Match the report's contacts to the annotated touch-downs,
    either foot, nearest first, each used once."""
    first, last = truth.judged
    in_range = [c for c in found if first - tol <= c.frame <= last + tol]
    annotated = [c for c in truth.touch_downs if first <= c.touch_down <= last]
    pairs = sorted((abs(f.frame - t.touch_down), i, j) for i, f in enumerate(in_range)
                   for j, t in enumerate(annotated) if abs(f.frame - t.touch_down) <= tol)
    used_found, used_truth, match = set(), set(), {}
    for _, i, j in pairs:
        if i not in used_found and j not in used_truth:
            used_found.add(i), used_truth.add(j)
            match[j] = in_range[i]
    # a found contact inside a stance whose touch-down is unknown (before the clip) is not spurious
    unknown_spans = [(0 if c.touch_down is None else c.touch_down, c.toe_off) for c in truth.contacts
                     if c.touch_down is None and c.toe_off is not None]
    spurious = sum(1 for i, f in enumerate(in_range) if i not in used_found
                   and not any(a - tol <= f.frame <= b + tol for a, b in unknown_spans))
    strike_cases = [(j, t) for j, t in enumerate(annotated)
                    if t.side == "near" and t.clear and t.strike in ("heel", "flat", "forefoot")]
    agreed = sum(1 for j, t in strike_cases if j in match
                 and (match[j].strike == "heel") == (t.strike == "heel")
                 and match[j].strike != "uncertain")
    return ContactScore(len(annotated), len(match), len(in_range), spurious, len(strike_cases), agreed)


CADENCE_TOLERANCE = 0.03
CONTACT_RECALL_TARGET, SPURIOUS_TARGET, STRIKE_TARGET = 0.90, 0.05, 0.90


@dataclass
class RealClipResult:
    """One real clip (one variant) judged against its truth, with the issue's targets."""
    truth: ClipTruth
    direction: str
    facing: str
    setting: str
    gait: str
    cadence_spm: float | None
    slow_motion_suspected: bool
    contacts: ContactScore

    @property
    def cadence_error(self) -> float | None:
        true = self.truth.cadence_clip_spm
        return None if self.cadence_spm is None or not true else self.cadence_spm / true - 1.0

    def misses(self) -> list[str]:
        t, misses = self.truth, []
        for name, got, want in (("direction", self.direction, t.direction), ("facing", self.facing, t.facing),
                                ("setting", self.setting, t.setting), ("gait", self.gait, t.gait)):
            if got != want:
                misses.append(f"{name} {got} (truth {want})")
        if not t.real_time and t.gait == "run" and not self.slow_motion_suspected:
            misses.append("slow motion not flagged")
        if t.real_time and self.slow_motion_suspected:
            misses.append("real-time clip flagged as slow motion")
        if t.real_time and t.cadence_clip_spm:
            err = self.cadence_error
            if err is None or abs(err) > CADENCE_TOLERANCE:
                misses.append("cadence " + ("not measured" if err is None else f"{err:+.1%}"))
        c = self.contacts
        if t.real_time and t.fps >= 25 and c.truth:
            if c.recall < CONTACT_RECALL_TARGET:
                misses.append(f"contacts {c.matched}/{c.truth}")
            if c.spurious_rate > SPURIOUS_TARGET:
                misses.append(f"spurious {c.spurious}/{c.found}")
        if c.strike_judged and c.strike_agreement < STRIKE_TARGET:
            misses.append(f"strike {c.strike_agreed}/{c.strike_judged}")
        return misses

    def row(self) -> str:
        t, c = self.truth, self.contacts
        cad = "-" if self.cadence_spm is None else f"{self.cadence_spm:.1f}"
        true_cad = "-" if not t.cadence_clip_spm else f"{t.cadence_clip_spm:.1f}"
        err = "" if self.cadence_error is None else f" ({self.cadence_error:+.1%})"
        strike = f"{c.strike_agreed}/{c.strike_judged}" if c.strike_judged else "-"
        misses = self.misses()
        return (f"| {t.clip.removesuffix('.mp4')} | {t.variant} | {t.time.replace('_', ' ')} | {self.direction} | "
                f"{self.facing} | {self.setting} | {self.gait} | {'yes' if self.slow_motion_suspected else 'no'} | "
                f"{cad} / {true_cad}{err} | {c.matched}/{c.truth} | {c.spurious}/{c.found} | {strike} | "
                f"{'; '.join(misses) if misses else 'all met'} |")


TABLE_HEADER = ("| clip | copy | time | direction | facing | setting | gait | slow motion flagged | "
                "cadence / truth (clip time) | contacts ±2 frames | spurious | strike | targets |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def judge_report(report, truth: ClipTruth) -> RealClipResult:
    return RealClipResult(truth, report.direction, report.runner.facing, report.setting, report.gait_type,
                          report.cadence_spm, bool(report.video.slow_motion_suspected),
                          score_contacts(report.contacts, truth))
