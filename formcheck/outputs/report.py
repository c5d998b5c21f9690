"""The Report: what formcheck found, as a dataclass with JSON, CSV and text forms."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from formcheck.analysis.rules import Finding
from formcheck.errors import OutputError


def score_text(score: int | None) -> str:
    """'85/100', or 'not enough to score' when too few cues could be judged."""
    return "not enough to score" if score is None else f"{score}/100"


SCHEMA_VERSION = 1  # of the JSON form; bump when a field is removed, renamed or changes meaning
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")  # the JSON form's contract, shipped with formcheck


STATUS_MARK = {"pass": "PASS", "caution": "CAUTION", "fail": "FAIL", "unknown": "?"}


@dataclass
class Report:
    formcheck_version: str
    video: dict
    runner: dict
    direction: str
    setting: str
    gait_type: str
    cadence_spm: float | None
    contacts: list[dict]
    metrics: dict
    rules: list[Finding]
    score: int | None  # None: too few cues judged to score (see rules.score)
    warnings: list[str] = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    # Per-frame table (column -> (T,) array); written to CSV, not to JSON.
    per_frame: dict = field(default_factory=dict, repr=False)
    # Ranked fixes, confidence, capture tips and session plan (formcheck.coaching.coach); None if not computed.
    coaching: dict | None = None

    def rule(self, rule_id: str) -> Finding:
        return next(f for f in self.rules if f.id == rule_id)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "formcheck_version": self.formcheck_version,
            "video": self.video,
            "runner": self.runner,
            "direction": self.direction,
            "setting": self.setting,
            "gait_type": self.gait_type,
            "cadence_spm": _num(self.cadence_spm),
            "contacts": self.contacts,
            "metrics": self.metrics,
            "rules": [f.to_dict() for f in self.rules],
            "score": self.score,
            "warnings": self.warnings,
            "outputs": self.outputs,
            **({"coaching": self.coaching} if self.coaching is not None else {}),
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

    def summary(self) -> str:
        """A short human summary for the terminal."""
        cad = f"{self.cadence_spm:.0f} steps/min" if self.cadence_spm else "not measured"
        lines = [f"{Path(self.video['path']).name}: {self.direction} {self.gait_type}, {self.setting}, "
                 f"facing {self.runner.get('facing', '?')}; cadence {cad}; score {score_text(self.score)}"]
        for f in self.rules:
            value = "" if f.value is None else f" {f.value:.2f} {f.unit}".rstrip()
            lines.append(f"  {STATUS_MARK[f.status]:<8}{f.title}:{value} (target {f.target}). {f.cue}")
        fixes = (self.coaching or {}).get("fixes", [])
        if fixes:
            lines.append("Fix first:")
            lines += [f"  {i}. {fix['cue']} Drill: {fix['drill']}" for i, fix in enumerate(fixes, 1)]
        lines += [f"  tip: {tip}" for tip in (self.coaching or {}).get("capture", {}).get("tips", [])]
        lines += [f"  note: {w}" for w in self.warnings]
        return "\n".join(lines)


def _num(x):
    return None if x is None or not np.isfinite(x) else round(float(x), 3)


def _cell(v):
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else f"{v:.4g}"
    return v


def metric_summary(values, unit: str) -> dict:
    """{"median","p10","p90","unit"} of the finite values (None when there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"median": None, "p10": None, "p90": None, "unit": unit}
    return {"median": _num(np.median(v)), "p10": _num(np.percentile(v, 10)),
            "p90": _num(np.percentile(v, 90)), "unit": unit}


def atomic_write(path: str | Path, write, mode: str = "w", **open_kwargs) -> Path:
    """Write through a temporary file in the same folder, renamed on success only."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"Cannot write to {path.parent}: {exc.strerror}.") from exc
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; reports are meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise OutputError(f"Could not write {path}: {exc.strerror}.") from exc
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text), encoding="utf-8")
