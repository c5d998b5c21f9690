"""The Report: what formcheck found, as a dataclass with JSON, CSV and text forms."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from formcheck.analysis.rules import Finding
from formcheck.coaching.coach import Coaching
from formcheck.io.files import atomic_write, atomic_write_text


def output_stem(clip: Path) -> str:
    """What a clip's outputs are named after: ``run.mp4`` -> ``run``; any other video keeps its
    extension (``run.mov`` -> ``run.mov``), so two clips of one name in one folder never
    overwrite each other's outputs."""
    return clip.stem if clip.suffix.lower() == ".mp4" else clip.name


def score_text(score: int | None) -> str:
    """'85/100', or 'not enough to score' when too few cues could be judged."""
    return "not enough to score" if score is None else f"{score}/100"


SCHEMA_VERSION = 1  # of the JSON form; bump when a field is removed, renamed or changes meaning
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")  # the JSON form's contract, shipped with formcheck


STATUS_MARK = {"pass": "PASS", "caution": "CAUTION", "fail": "FAIL", "unknown": "?"}


@dataclass(frozen=True)
class VideoRecord:
    """What was analysed: a clip (its stored metadata and the time scale used) or a live session."""

    path: str
    fps: float | None = None
    frames: int | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    rotation: int | None = None
    fps_source: str | None = None  # "container", "assumed" (no plausible rate in the file) or "set" (--fps)
    slowmo: float | None = None  # the slow-motion factor the user gave
    live: bool = False
    seen_s: float | None = None  # live: from the first to the last frame with the runner
    started: str | None = None  # live: local start time, ISO 8601
    slow_motion_suspected: bool = False
    slow_motion_factor_estimate: float | None = None  # the whole clip's, when it is evenly slowed
    speed_ramp_suspected: bool = False  # part of the clip slowed: slow_motion_suspected, with no one factor

    @property
    def portrait(self) -> bool:
        return (self.height or 0) > (self.width or 1)

    def to_dict(self) -> dict:
        """Unknown facts are left out; the slow-motion verdict is always there."""
        always = ("path", "slow_motion_suspected", "slow_motion_factor_estimate")
        return {k: v for k, v in asdict(self).items() if k in always or (v is not None and v is not False)}


@dataclass(frozen=True)
class RunnerRecord:
    """The person analysed."""

    facing: str  # "left" / "right": the way the chest points in the picture
    near_side: str  # the body side nearer the camera, whose arm and foot are judged
    leg_length_px: float | None
    detected_fraction: float  # of the frames, 0..1
    people_in_view: int  # most people seen at once
    position: str  # where in the picture, in words

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ContactRecord:
    """One foot's touch-down."""

    foot: str
    frame: int  # in the video's own numbering
    time_s: float
    strike: str  # "forefoot", "flat", "heel" or "uncertain"
    foot_pitch_deg: float | None
    contact_time_s: float | None  # None: the take-off was not seen clearly
    step_length_leg: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MetricSummary:
    """The spread of one measure over the clip (None when nothing was measured)."""

    median: float | None
    p10: float | None
    p90: float | None
    unit: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Metrics:
    trunk_lean_deg: MetricSummary
    elbow_angle_deg: MetricSummary
    step_length_leg: MetricSummary
    contact_time_s: MetricSummary
    vertical_oscillation_leg: MetricSummary
    duty_factor: float | None  # share of a stride each foot is on the ground

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) if f.name == "duty_factor" else getattr(self, f.name).to_dict()
                for f in fields(self)}


@dataclass
class Report:
    formcheck_version: str
    video: VideoRecord
    runner: RunnerRecord
    direction: str
    setting: str
    gait_type: str
    cadence_spm: float | None
    contacts: list[ContactRecord]
    metrics: Metrics
    rules: list[Finding]
    score: int | None  # None: too few cues judged to score (see rules.score)
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # output kind ("video", "json", "csv") -> path
    # Per-frame table (column -> (T,) array); written to CSV, not to JSON.
    per_frame: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # Ranked fixes, confidence, capture tips and session plan; None if not computed.
    coaching: Coaching | None = None

    def rule(self, rule_id: str) -> Finding:
        return next(f for f in self.rules if f.id == rule_id)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "formcheck_version": self.formcheck_version,
            "video": self.video.to_dict(),
            "runner": self.runner.to_dict(),
            "direction": self.direction,
            "setting": self.setting,
            "gait_type": self.gait_type,
            "cadence_spm": _num(self.cadence_spm),
            "contacts": [c.to_dict() for c in self.contacts],
            "metrics": self.metrics.to_dict(),
            "rules": [f.to_dict() for f in self.rules],
            "score": self.score,
            "warnings": self.warnings,
            "outputs": self.outputs,
            **({"coaching": self.coaching.to_dict()} if self.coaching is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def write_json(self, path: str | Path) -> Path:
        return atomic_write_text(path, self.to_json())

    def write_csv(self, path: str | Path) -> Path:
        columns = list(self.per_frame)
        rows = zip(*(self.per_frame[c] for c in columns))

        def write(f):
            writer = csv.writer(f)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(v) for v in row])

        return atomic_write(path, write, newline="")

    @property
    def motion(self) -> str:
        """'backward run', 'forward walk', 'standing'; a part that could not be told is said so."""
        if self.gait_type == "stand":
            return "standing"
        known = self.direction != "unknown", self.gait_type != "unknown"
        if all(known):
            return f"{self.direction} {self.gait_type}"
        if any(known):
            return f"{self.direction}, walk or run unknown" if known[0] else f"{self.gait_type}, direction unknown"
        return "motion unknown"

    def summary(self) -> str:
        """A short human summary for the terminal."""
        cad = f"{self.cadence_spm:.0f} steps/min" if self.cadence_spm else "not measured"
        lines = [f"{Path(self.video.path).name}: {self.motion}, {self.setting}, "
                 f"facing {self.runner.facing}; cadence {cad}; score {score_text(self.score)}"]
        for f in self.rules:
            value = "" if f.value is None else f" {f.value:.2f} {f.unit}".rstrip()
            lines.append(f"  {STATUS_MARK[f.status]:<8}{f.title}:{value} (target {f.target}). {f.cue}")
        if self.coaching and self.coaching.fixes:
            lines.append("Fix first:")
            lines += [f"  {i}. {fix.cue} Drill: {fix.drill}" for i, fix in enumerate(self.coaching.fixes, 1)]
        lines += [f"  tip: {tip}" for tip in (self.coaching.capture.tips if self.coaching else [])]
        lines += [f"  note: {w}" for w in self.warnings]
        return "\n".join(lines)


def _num(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 3)


def _cell(v):
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else f"{v:.4g}"
    return v


def metric_summary(values, unit: str) -> MetricSummary:
    """Median and 10th/90th percentiles of the finite values (None when there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return MetricSummary(None, None, None, unit)
    return MetricSummary(_num(np.median(v)), _num(np.percentile(v, 10)), _num(np.percentile(v, 90)), unit)
