"""Accuracy benchmark: the real pipeline (video in, report out) against known truth.

    python benchmarks/accuracy.py            # full grid + every look + real clips
    python benchmarks/accuracy.py --quick    # a handful of clips
    python benchmarks/accuracy.py --real-only   # the real clips only
    python benchmarks/accuracy.py --looks-only --looks blur,handheld   # some looks only

Synthetic clips come from tests/support/synthetic.py (a rendered mannequin with exact
truth); real clips from ../shared/videos against hand-annotated truth (tests/truth),
as filmed and as reversed and mirrored copies (reversing flips direction and
keeps cadence, mirroring flips facing and keeps every metric).

The looks section renders a few grid clips under each of the renderer's looks (shoes,
baggy clothes, clutter, backlight, motion blur, compression, a hand-held camera, zoom)
and prints one table and one target verdict per look, so a pipeline tuned to the plain
mannequin shows where it breaks. Where synthetic and real clips disagree, real decides.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the synthetic runner is test material, not part of formcheck

from support.synthetic import LOOKS, GaitParams, render_clip  # noqa: E402

import formcheck  # noqa: E402
from formcheck.config import Thresholds  # noqa: E402
from formcheck.outputs.report import ContactRecord  # noqa: E402

SHARED = ROOT.parent / "shared" / "videos"
TOLERANCE_FRAMES = 2
# The targets hold at 30 fps and above with the runner fully in view; these clips are
# measured and shown, but outside the targets.
OUTSIDE_TARGETS = {"fps24": "24 fps", "occluded": "legs hidden for 0.6 s"}
# Grid clips rendered under every look: both settings and camera kinds, both facings and
# directions, and a heel strike, so every target is judged under each look.
LOOK_CLIPS = ("good_bw_left", "heel_strike", "overground_bw", "panning_fw_right", "forward_right")


def grid(quick: bool = False) -> list[tuple[str, GaitParams]]:
    """Named parameter sets, each varying one thing from a good backward jog."""
    base = GaitParams()
    variants = {
        "good_bw_left": {},
        "good_bw_right": dict(facing="right"),
        "forward_left": dict(direction="forward"),
        "forward_right": dict(direction="forward", facing="right"),
        "overground_bw": dict(setting="overground"),
        "overground_fw_right": dict(setting="overground", direction="forward", facing="right"),
        "panning_bw": dict(setting="overground", camera="panning"),
        "cadence_150": dict(cadence_spm=150, step_length_leg=0.9),
        "cadence_200": dict(cadence_spm=200, step_length_leg=0.6),
        "long_steps": dict(cadence_spm=150, step_length_leg=1.25),
        "walk_bw": dict(duty_factor=0.62, cadence_spm=110, step_length_leg=0.5),
        "lean_back": dict(trunk_lean_deg=-5),
        "upright": dict(trunk_lean_deg=1),
        "lean_18": dict(trunk_lean_deg=18),
        "straight_arms": dict(elbow_angle_deg=160),
        "elbow_120": dict(elbow_angle_deg=120),
        "elbow_60": dict(elbow_angle_deg=60),
        "same_side_arms": dict(arm_swing="same"),
        "heel_strike": dict(strike="heel"),
        "flat_strike": dict(strike="flat"),
        "heel_drag": dict(heel_drag=True),
        "fps60": dict(fps=60),
        "fps120": dict(fps=120, duration_s=3.0),
        "fps24": dict(fps=24),
        "portrait": dict(width=540, height=960),
        "small_640x360": dict(width=640, height=360, seed=5),
        "far_runner": dict(body_height_frac=0.45, seed=11),
        "panning_fw_right": dict(setting="overground", camera="panning", direction="forward", facing="right"),
        "occluded": dict(occlusion=(2.0, 2.6)),
        "noise": dict(noise=8.0, seed=3),
        "bouncy": dict(bounce_leg=0.16),
        "seed7": dict(seed=7),
    }
    if quick:
        keep = ["good_bw_left", "forward_right", "heel_strike", "straight_arms"]
        variants = {k: variants[k] for k in keep}
    return [(name, dataclasses.replace(base, **kw)) for name, kw in variants.items()]


# ---------------------------------------------------------------------------
# Comparing one report with its truth


def match_contacts(found: list[ContactRecord], truth: list[dict], tol: int = TOLERANCE_FRAMES) -> dict:
    """Greedy one-to-one matching of contacts by frame within ±tol."""
    used: set[int] = set()
    hits = same_foot = 0
    errors = []
    for t in truth:
        best = None
        for i, f in enumerate(found):
            d = abs(f.frame - t["frame"])
            if i not in used and d <= tol and (best is None or d < abs(found[best].frame - t["frame"])):
                best = i
        if best is not None:
            used.add(best)
            hits += 1
            same_foot += found[best].foot == t["foot"]
            errors.append(found[best].frame - t["frame"])
    return {"truth": len(truth), "found": len(found), "hits": hits, "same_foot": same_foot,
            "spurious": len(found) - len(used), "frame_errors": errors}


def expected_status(rule_id: str, truth: dict, th: Thresholds) -> str | None:
    """The verdict the truth values imply under RULES.md thresholds (None: not derivable)."""
    def band(v, p, c):
        return "pass" if p[0] <= v <= p[1] else "caution" if c[0] <= v <= c[1] else "fail"

    running = truth["duty_factor"] < 0.5
    if rule_id == "trunk_lean":
        return band(truth["trunk_lean_deg"], th.trunk_lean_pass, th.trunk_lean_caution)
    if rule_id == "elbow_angle":
        return band(truth["elbow_angle_deg"], th.elbow_pass, th.elbow_caution)
    if rule_id == "cadence" and running:
        c = truth["cadence_spm"]
        return "pass" if c >= th.cadence_pass else "caution" if c >= th.cadence_caution else "fail"
    if rule_id == "step_length" and running:
        s = truth["step_length_leg"]
        return "pass" if s <= th.step_length_pass else "caution" if s <= th.step_length_caution else "fail"
    if rule_id == "forefoot_contact" and truth["strike"] != "flat":
        return "pass" if truth["strike"] == "forefoot" else "fail"
    if rule_id == "heel_drag":
        return "fail" if truth["heel_drag"] else "pass"
    if rule_id == "arm_leg_opposition":
        return "pass" if truth["arm_swing"] == "opposite" else "fail"
    if rule_id == "direction":
        if truth["direction"] == "forward":
            return "fail"
        return "pass" if running else "caution"
    return None


def compare(report, truth: dict, th: Thresholds) -> dict:
    near = truth["near_foot"]
    m = report.metrics
    strikes = [c.strike for c in report.contacts if c.foot == near]
    strike_verdict = max(set(strikes), key=strikes.count) if strikes else "none"
    view = truth.get("in_view_frames")
    true_contacts = [c for c in truth["contacts"] if view is None or view[0] <= c["frame"] <= view[1]]
    row = {
        "direction_ok": report.direction == truth["direction"],
        "setting_ok": report.setting == truth["setting"],
        "facing_ok": report.runner.facing == truth["facing"],
        "contacts": match_contacts(report.contacts, true_contacts),
        "cadence_err_pct": _pct(report.cadence_spm, truth["cadence_spm"]),
        "step_err_pct": _pct(m.step_length_leg.median, truth["step_length_leg"]),
        "lean_err_deg": _diff(m.trunk_lean_deg.median, truth["trunk_lean_deg"]),
        "elbow_err_deg": _diff(report.rule("elbow_angle").value, truth["elbow_angle_deg"]),
        "strike_truth": truth["strike"], "strike_found": strike_verdict,
        "drag_truth": truth["heel_drag"], "drag_found": report.rule("heel_drag").status == "fail",
        "rules": {},
    }
    for f in report.rules:
        want = expected_status(f.id, truth, th)
        if want is not None:
            row["rules"][f.id] = (want, f.status)
    return row


def _pct(found, truth):
    return None if found is None else 100.0 * (found - truth) / truth


def _diff(found, truth):
    return None if found is None else found - truth


# ---------------------------------------------------------------------------
# Real clips (metamorphic truth)


def real_clip_rows(workdir: Path) -> list[str]:
    """Every real clip with a hand-annotated truth file, as filmed, reversed and mirrored."""
    from support import real_truth as RT
    from support.clips import transformed_clip

    lines, met = [RT.TABLE_HEADER], []
    for path in RT.truth_files():
        clip = SHARED / RT.load(path).clip
        if not clip.exists():
            lines.append(f"| {clip.name} | missing from {SHARED} |")
            continue
        for variant in RT.VARIANTS:
            source = clip if variant == "filmed" else transformed_clip(
                clip, workdir / f"{clip.stem}.{variant}.mp4", reverse=variant == "reversed",
                mirror=variant == "mirrored")
            try:
                result = RT.judge_report(formcheck.analyze(source), RT.load(path, variant))
            except formcheck.FormcheckError as exc:
                lines.append(f"| {clip.stem} | {variant} | error: {exc} |")
                met.append(False)
                continue
            lines.append(result.row())
            met.append(not result.misses())
            print(lines[-1], flush=True)
    lines.append(f"{sum(met)}/{len(met)} clip copies meet every target")
    return lines


# ---------------------------------------------------------------------------


def summarise(rows: dict[str, dict]) -> list[str]:
    lines = []
    n = len(rows)

    def frac(key):
        return sum(r[key] for r in rows.values()) / n

    lines.append(f"clips: {n}")
    lines.append(f"direction correct {frac('direction_ok'):.0%}, setting correct {frac('setting_ok'):.0%}, "
                 f"facing correct {frac('facing_ok'):.0%}   (target 100 %)")
    truth = sum(r["contacts"]["truth"] for r in rows.values())
    hits = sum(r["contacts"]["hits"] for r in rows.values())
    found = sum(r["contacts"]["found"] for r in rows.values())
    spurious = sum(r["contacts"]["spurious"] for r in rows.values())
    same = sum(r["contacts"]["same_foot"] for r in rows.values())
    lines.append(f"contacts within ±{TOLERANCE_FRAMES} frames: {hits}/{truth} = {hits / max(truth, 1):.1%} "
                 f"(target ≥ 95 %); spurious {spurious}/{found} = {spurious / max(found, 1):.1%} (≤ 5 %); "
                 f"foot labelled right {same}/{max(hits, 1)} = {same / max(hits, 1):.1%}")
    for key, unit, target in [("cadence_err_pct", "%", 2), ("step_err_pct", "%", 10), ("lean_err_deg", "°", 3),
                              ("elbow_err_deg", "°", 10)]:
        vals = np.array([abs(r[key]) for r in rows.values() if r[key] is not None])
        missing = n - len(vals)
        if len(vals):
            worst = max(rows, key=lambda k: abs(rows[k][key]) if rows[k][key] is not None else -1)
            lines.append(f"{key:<16} median {np.median(vals):5.2f}{unit}  worst {vals.max():5.2f}{unit} ({worst})"
                         f"  within ±{target}{unit}: {np.mean(vals <= target):.0%}"
                         + (f"  not measured: {missing}" if missing else ""))
    strike_rows = [r for r in rows.values() if r["strike_truth"] in ("forefoot", "heel")]
    ok = sum(r["strike_found"] == r["strike_truth"] for r in strike_rows)
    lines.append(f"strike (near foot, forefoot vs heel): {ok}/{len(strike_rows)} correct (target ≥ 90 %)")
    drag = [(r["drag_truth"], r["drag_found"]) for r in rows.values()]
    lines.append(f"heel drag: flagged {sum(f for t, f in drag if t)}/{sum(t for t, _ in drag)} drag clips, "
                 f"{sum(f for t, f in drag if not t)}/{sum(not t for t, _ in drag)} false alarms")
    verdicts: dict[str, list] = {}
    for r in rows.values():
        for rule_id, pair in r["rules"].items():
            verdicts.setdefault(rule_id, []).append(pair)
    agree = sum(w == g for pairs in verdicts.values() for w, g in pairs)
    total = sum(len(p) for p in verdicts.values())
    lines.append(f"rule verdicts agreeing with truth: {agree}/{total} = {agree / max(total, 1):.1%} (target ≥ 95 %)")
    for rule_id, pairs in sorted(verdicts.items()):
        wrong = [f"{w}->{g}" for w, g in pairs if w != g]
        lines.append(f"  {rule_id:<20} {len(pairs) - len(wrong)}/{len(pairs)}" + (f"  misses: {', '.join(wrong)}" if wrong else ""))
    return lines


# ---------------------------------------------------------------------------
# Looks: the same gait under different filming conditions


def look_clips(names: list[str], look: str) -> list[tuple[str, GaitParams]]:
    by_name = dict(grid())
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown grid clips: {', '.join(unknown)}")
    return [(name, dataclasses.replace(by_name[name], look=look)) for name in names]


LOOK_TABLE_HEADER = ("| look | clip | contacts ±2 frames / truth | spurious | strike truth -> found | "
                     "cadence error | direction | facing | setting |\n"
                     "|---|---|---|---|---|---|---|---|---|")


def look_row(look: str, name: str, row: dict | None, error: str | None = None) -> str:
    if row is None:
        return f"| {look} | {name} | error: {error} | | | | | | |"
    c = row["contacts"]
    cad = "-" if row["cadence_err_pct"] is None else f"{row['cadence_err_pct']:+.2f} %"

    def ok(key: str) -> str:
        return "right" if row[key] else "WRONG"

    return (f"| {look} | {name} | {c['hits']}/{c['truth']} | {c['spurious']}/{c['found']} | "
            f"{row['strike_truth']} -> {row['strike_found']} | {cad} | {ok('direction_ok')} | "
            f"{ok('facing_ok')} | {ok('setting_ok')} |")


def look_verdict(look: str, rows: dict[str, dict | None]) -> str:
    """One line per look: the synthetic targets, each met or missed (a failed clip misses all)."""
    done = [r for r in rows.values() if r is not None]
    failed = len(rows) - len(done)
    truth = sum(r["contacts"]["truth"] for r in done)
    hits = sum(r["contacts"]["hits"] for r in done)
    found = sum(r["contacts"]["found"] for r in done)
    spurious = sum(r["contacts"]["spurious"] for r in done)
    judged = [r for r in done if r["strike_truth"] in ("forefoot", "heel")]
    strikes = sum(r["strike_found"] == r["strike_truth"] for r in judged)
    cadence = [abs(r["cadence_err_pct"]) for r in done if r["cadence_err_pct"] is not None]
    right = {key: sum(r[f"{key}_ok"] for r in done) for key in ("direction", "facing", "setting")}
    misses = [f"{failed} clip(s) failed"] if failed else []
    if hits < 0.95 * truth or not truth:
        misses.append(f"contacts {hits / max(truth, 1):.1%} < 95 %")
    if spurious > 0.05 * found:
        misses.append(f"spurious {spurious / max(found, 1):.1%} > 5 %")
    if judged and strikes < 0.9 * len(judged):
        misses.append(f"strike {strikes}/{len(judged)} < 90 %")
    if len(cadence) < len(done) or any(v > 2.0 for v in cadence):
        misses.append(f"cadence {sum(v <= 2.0 for v in cadence)}/{len(rows)} within ±2 %")
    misses += [f"{key} {n}/{len(rows)}" for key, n in right.items() if n < len(rows)]
    worst = f"{max(cadence):.2f} %" if cadence else "-"
    return (f"| {look} | {len(rows)} | {hits}/{truth} = {hits / max(truth, 1):.1%} | "
            f"{spurious}/{found} = {spurious / max(found, 1):.1%} | {strikes}/{len(judged)} | {worst} | "
            f"{right['direction']}/{len(rows)}, {right['facing']}/{len(rows)}, {right['setting']}/{len(rows)} | "
            + ("met" if not misses else "MISSED: " + "; ".join(misses)) + " |")


LOOK_SUMMARY_HEADER = ("| look | clips | contacts ±2 frames (≥ 95 %) | spurious (≤ 5 %) | strike (≥ 90 %) | "
                       "cadence worst (±2 %) | direction, facing, setting (all) | targets |\n"
                       "|---|---|---|---|---|---|---|---|")


def run_looks(looks: list[str], names: list[str], workdir: Path, th: Thresholds) -> list[str]:
    """Every chosen clip under every chosen look: a table per look, then one line per look."""
    verdicts = []
    for look in looks:
        started = time.time()
        rows: dict[str, dict | None] = {}
        lines = [f"== look: {look} ==", LOOK_TABLE_HEADER]
        for name, params in look_clips(names, look):
            path = workdir / f"{name}.{look}.mp4"
            truth = render_clip(params, path)
            try:
                rows[name] = compare(formcheck.analyze(path), truth, th)
                lines.append(look_row(look, name, rows[name]))
            except formcheck.FormcheckError as exc:
                rows[name] = None
                lines.append(look_row(look, name, None, str(exc)))
            path.unlink()
        verdicts.append(look_verdict(look, rows))
        print("\n".join(lines + [LOOK_SUMMARY_HEADER.splitlines()[0], LOOK_SUMMARY_HEADER.splitlines()[1],
                                 verdicts[-1], f"({time.time() - started:.0f} s)"]), flush=True)
    return ["== looks: synthetic targets per look ==", LOOK_SUMMARY_HEADER, *verdicts]


def _names(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    if value == "all":
        return list(allowed)
    if value == "none":
        return []
    names = [v for v in value.split(",") if v]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(allowed)})")
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-real", action="store_true", help="skip the real clips")
    parser.add_argument("--real-only", action="store_true", help="only the real clips")
    parser.add_argument("--verbose", action="store_true", help="one line per clip")
    parser.add_argument("--only", help="comma-separated clip names from the grid")
    parser.add_argument("--looks", help=f"comma-separated looks to run the look clips under, 'all' or "
                                        f"'none' (default: all, {', '.join(LOOKS)}; none with --only)")
    parser.add_argument("--look-clips", default=",".join(LOOK_CLIPS),
                        help="comma-separated grid clips rendered under each look (default: %(default)s)")
    parser.add_argument("--looks-only", action="store_true", help="only the looks section")
    args = parser.parse_args(argv)
    looks = [] if args.real_only else _names(args.looks or ("none" if args.only else "all"), LOOKS, "looks")
    look_names = args.look_clips.split(",")
    if args.quick:
        look_names = look_names[:3]
    th = Thresholds()
    started = time.time()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        chosen = [] if args.real_only or args.looks_only else grid(args.quick)
        if args.only:
            chosen = [(n, p) for n, p in chosen if n in args.only.split(",")]
        for name, params in chosen:
            truth = render_clip(params, tmp / f"{name}.mp4")
            report = formcheck.analyze(tmp / f"{name}.mp4")
            rows[name] = compare(report, truth, th)
            if args.verbose:
                r = rows[name]
                print(f"{name:<20} dir {r['direction_ok']} set {r['setting_ok']} contacts {r['contacts']['hits']}/"
                      f"{r['contacts']['truth']} spurious {r['contacts']['spurious']} cad {r['cadence_err_pct']} "
                      f"step {r['step_err_pct']} lean {r['lean_err_deg']} elbow {r['elbow_err_deg']} "
                      f"strike {r['strike_truth']}->{r['strike_found']} rules {r['rules']}", flush=True)
        if rows:
            print("== synthetic clips at 30 fps and above, runner fully in view (the targets) ==")
            print("\n".join(summarise({k: r for k, r in rows.items() if k not in OUTSIDE_TARGETS})))
        for name, why in OUTSIDE_TARGETS.items():
            if name in rows:
                print(f"== outside the targets: {name} ({why}) ==")
                print("\n".join(summarise({name: rows[name]})[1:]))
        if looks:
            print("\n".join(run_looks(looks, look_names, tmp, th)), flush=True)
        if not args.no_real and not args.looks_only:
            print("== real clips, against hand-annotated truth (tests/truth) ==")
            print("\n".join(real_clip_rows(tmp)))
    print(f"total time {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
