"""Progress between sessions (pure, no I/O): two sessions side by side, and backward running
against the runner's own forward-running baseline.

Both work on report dicts (``Report.to_dict()``, the JSON file, or a history entry's
``report``), so they judge stored sessions as well as fresh ones.

* ``compare_sessions(before, after)``: per cue, both values, the change, and whether it
  improved. "Better" means a better status, or (same status) a value clearly closer to
  the pass band or, inside it, clearly further the good way for one-sided cues.
* ``baseline_checks(backward, forward)``: backward cadence should be at least the forward
  cadence, and backward steps shorter than forward ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from formcheck.analysis.rules import Finding
from formcheck.coaching.coach import severity
from formcheck.config import Thresholds
from formcheck.cues import CUES

BETTER, WORSE, SAME, NOT_COMPARABLE = "better", "worse", "about the same", "not comparable"
STATUS_RANK = {"fail": 0, "caution": 1, "pass": 2}
CADENCE_TOLERANCE_SPM = 2.0  # cadence measurements of two clips differ by about this much


@dataclass
class CueChange:
    rule_id: str
    title: str
    unit: str
    before: float | None
    after: float | None
    before_status: str
    after_status: str
    change: float | None  # after - before
    verdict: str  # BETTER | WORSE | SAME | NOT_COMPARABLE

    def to_dict(self) -> dict:
        return asdict(self)


def _finding(rule: dict) -> Finding:
    return Finding(rule["id"], rule.get("title", rule["id"]), rule.get("status", "unknown"), rule.get("value"),
                   rule.get("unit", ""), rule.get("target", ""), rule.get("cue", ""))


def _distance_outside(f: Finding, th: Thresholds) -> float:
    """How far outside the pass band, without the status floor ``severity`` adds for ranking."""
    return severity(replace(f, status="pass"), th)


def cue_verdict(before: Finding, after: Finding, th: Thresholds | None = None) -> str:
    """Did this cue improve from ``before`` to ``after``?"""
    th = th or Thresholds()
    if before.value is None or after.value is None or before.status not in STATUS_RANK \
            or after.status not in STATUS_RANK:
        return NOT_COMPARABLE
    if STATUS_RANK[after.status] != STATUS_RANK[before.status]:
        return BETTER if STATUS_RANK[after.status] > STATUS_RANK[before.status] else WORSE
    spec = CUES.get(before.id)
    if spec is None or spec.better is None:  # judged by status only (backward running, descriptive contact time)
        return SAME
    tol = spec.meaningful_change
    sev_b, sev_a = _distance_outside(before, th), _distance_outside(after, th)
    if sev_b > 0 or sev_a > 0:  # outside the band: closer to it is better
        scale = abs(after.value - before.value)
        if scale < tol:
            return SAME
        return BETTER if sev_a < sev_b else WORSE if sev_a > sev_b else SAME
    if spec.better == 0:
        middle = spec.band_middle(th)
        gain = abs(before.value - middle) - abs(after.value - middle)
    else:
        gain = spec.better * (after.value - before.value)
    return SAME if abs(gain) < tol else BETTER if gain > 0 else WORSE


def compare_sessions(before: dict, after: dict, th: Thresholds | None = None) -> list[CueChange]:
    """Each cue of two reports side by side, in the later report's order (cues only one has come last)."""
    rules_b = {r["id"]: r for r in before.get("rules", [])}
    rules_a = {r["id"]: r for r in after.get("rules", [])}
    order = list(rules_a) + [rid for rid in rules_b if rid not in rules_a]
    out = []
    for rid in order:
        b, a = rules_b.get(rid), rules_a.get(rid)
        fb = _finding(b) if b else Finding(rid, a["title"], "unknown", None, a.get("unit", ""), "", "")
        fa = _finding(a) if a else Finding(rid, b["title"], "unknown", None, b.get("unit", ""), "", "")
        change = None if fb.value is None or fa.value is None else fa.value - fb.value
        out.append(CueChange(rid, (a or b).get("title", rid), (a or b).get("unit", ""), fb.value, fa.value,
                             fb.status, fa.status, change, cue_verdict(fb, fa, th)))
    return out


def improvement_summary(changes: list[CueChange]) -> str:
    """One line: how many cues got better, worse, stayed."""
    counts = {v: sum(c.verdict == v for c in changes) for v in (BETTER, WORSE, SAME)}
    return f"{counts[BETTER]} better, {counts[WORSE]} worse, {counts[SAME]} about the same"


# ---------------------------------------------------------------------------
# The forward-running baseline


@dataclass
class BaselineCheck:
    id: str  # "cadence" | "step_length"
    title: str
    backward: float | None
    forward: float | None
    unit: str
    ok: bool | None  # None: not measured in one of the two
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def step_length_leg(report: dict) -> float | None:
    """The session's typical step length in leg lengths (the metric's median, else the rule's value)."""
    median = ((report.get("metrics") or {}).get("step_length_leg") or {}).get("median")
    if median is not None:
        return float(median)
    rule = next((r for r in report.get("rules", []) if r["id"] == "step_length"), None)
    return None if rule is None or rule.get("value") is None else float(rule["value"])


def _cadence_check(back: float | None, fwd: float | None) -> BaselineCheck:
    title = "Backward cadence at least your forward cadence"
    if back is None or fwd is None:
        return BaselineCheck("cadence", title, back, fwd, "steps/min", None,
                             "Cadence was not measured in " + ("this session." if back is None else "the baseline."))
    if back >= fwd - CADENCE_TOLERANCE_SPM:
        return BaselineCheck("cadence", title, back, fwd, "steps/min", True,
                             f"{back:.0f} steps/min backwards vs {fwd:.0f} forwards: quick steps, as backward "
                             "running should be.")
    return BaselineCheck("cadence", title, back, fwd, "steps/min", False,
                         f"{back:.0f} steps/min backwards is slower than your {fwd:.0f} forwards: take quicker, "
                         "shorter steps when you run backwards.")


def _step_check(back: float | None, fwd: float | None) -> BaselineCheck:
    title = "Backward steps shorter than forward steps"
    if back is None or fwd is None or fwd <= 0:
        return BaselineCheck("step_length", title, back, fwd, "leg lengths", None,
                             "Step length was not measured in " + ("this session." if back is None else "the baseline."))
    share = back / fwd
    if back < fwd:
        return BaselineCheck("step_length", title, back, fwd, "leg lengths", True,
                             f"{back:.2f} leg lengths backwards, {share:.0%} of your {fwd:.2f} forwards: "
                             "shorter steps, good.")
    return BaselineCheck("step_length", title, back, fwd, "leg lengths", False,
                         f"{back:.2f} leg lengths backwards is not shorter than your {fwd:.2f} forwards: "
                         "shorten your backward steps; you cannot see where you land.")


def baseline_checks(backward: dict, forward: dict) -> list[BaselineCheck]:
    """Backward running against the runner's own forward running. Empty when ``backward`` is not a
    backward session (there is nothing to compare then)."""
    if backward.get("direction") != "backward":
        return []
    return [_cadence_check(backward.get("cadence_spm"), forward.get("cadence_spm")),
            _step_check(step_length_leg(backward), step_length_leg(forward))]
