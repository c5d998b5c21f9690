"""One self-contained, shareable HTML report: inline CSS, images as base64 PNG, no external URLs.

Sections: summary, ranked fixes (with why and drill), the comparison with the runner's
forward-running baseline (from the history), capture tips, session guidance and the
beginner plan, plots (trunk lean and elbow angle with their target bands, foot heights with
contacts), key frames with the skeleton (when the video is at hand), all findings, and the
per-step table. It opens offline in any browser.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from pathlib import Path

import numpy as np

from formcheck.analysis.rules import Finding
from formcheck.coaching.coach import BEGINNER_PLAN, STRETCH_NOTE, Fix, plan_minutes, rank_fixes, session_guidance
from formcheck.config import Thresholds
from formcheck.errors import InputError
from formcheck.outputs import figures
from formcheck.io.files import atomic_write_text
from formcheck.outputs.report import output_stem, score_text

SECTIONS = ["summary", "fixes", "baseline", "capture", "sessions", "plots", "key-frames", "findings", "steps"]
STATUS_COLOUR = {"pass": "#2e9e4a", "caution": "#e0a000", "fail": "#d03030", "unknown": "#888888"}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#222}
main{max-width:980px;margin:0 auto;padding:1.2rem}
h1{font-size:1.5rem;margin:.2rem 0} h2{font-size:1.2rem;margin:1.6rem 0 .6rem;border-bottom:2px solid #ddd}
section{background:#fff;border-radius:8px;padding:.4rem 1rem 1rem;margin:1rem 0;box-shadow:0 1px 3px #0001}
table{border-collapse:collapse;width:100%;font-size:.9rem} th,td{padding:.3rem .5rem;border-bottom:1px solid #eee;text-align:left}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:1rem;color:#fff;font-size:.8rem;font-weight:600}
.fix{border-left:5px solid #d03030;padding:.3rem .8rem;margin:.6rem 0;background:#fdf6f6}
.fix.caution{border-color:#e0a000;background:#fffbef}
.muted{color:#666;font-size:.9rem} img{max-width:100%;height:auto;border-radius:6px}
.frames{display:flex;flex-wrap:wrap;gap:.6rem} .frames figure{margin:0;flex:1 1 280px}
figcaption{font-size:.85rem;color:#555}
"""


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _badge(status: str, looks_like: str | None = None) -> str:
    """A coloured label; ``looks_like`` borrows a cue status's colour for another word."""
    colour = STATUS_COLOUR.get(looks_like or status, "#888")
    return f'<span class="badge" style="background:{colour}">{_e(status)}</span>'


def _num(v, digits: int = 2) -> str:
    if v is None:
        return "–"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return _e(v)
    return f"{v:.{digits}f}" if np.isfinite(v) else "–"


def png_data_uri(png: bytes) -> str:
    """A data URI for PNG or (key frames kept in the history) JPEG bytes."""
    mime = "image/jpeg" if png[:3] == b"\xff\xd8\xff" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(png).decode("ascii")


def _img(png: bytes, alt: str) -> str:
    return f'<img src="{png_data_uri(png)}" alt="{_e(alt)}">'


# ---------------------------------------------------------------------------
# Key frames from the video


def key_frame_choice(evidence, fixes: list[Fix], max_frames: int = 3) -> list[tuple[int, str]]:
    """[(decode frame index, caption)]: the first frame of each top fix, else a few contacts, else mid clip."""
    wanted = [(int(fix.frames[0]), fix.title) for fix in fixes if fix.frames]
    if not wanted:
        wanted = [(int(evidence.pose.frame_index[c.frame]), f"{c.foot} foot contact ({c.strike})")
                  for c in evidence.gait.contacts[:max_frames]]
    if not wanted and len(evidence.pose):
        wanted = [(int(evidence.pose.frame_index[len(evidence.pose) // 2]), "mid clip")]
    return wanted[:max_frames]


def key_frames(video_path: str | Path, evidence, fixes: list[Fix], slowmo: float = 1.0,
               max_frames: int = 3, width: int = 480, fmt: str = ".png") -> list[tuple[str, bytes]]:
    """[(caption, image bytes)] of the frames that show the top fixes (or a few contacts), skeleton
    drawn; ``fmt`` ".png" for the HTML report, ".jpg" for small copies kept in the history."""
    import cv2

    from formcheck.io.video import VideoFile
    from formcheck.outputs.render import key_frame_still

    position = {int(f): i for i, f in enumerate(evidence.pose.frame_index)}
    out = []
    for frame_no, caption in key_frame_choice(evidence, fixes, max_frames):
        with VideoFile(video_path, slowmo=slowmo, start=frame_no, stop=frame_no + 1) as video:
            frame = next(iter(video), None)
        if frame is None:
            continue
        i = position.get(frame_no)
        bgr = key_frame_still(frame.bgr, None if i is None else evidence.pose.xy[i], evidence.gait.near_side, width)
        params = [cv2.IMWRITE_JPEG_QUALITY, 80] if fmt == ".jpg" else []
        ok, data = cv2.imencode(fmt, bgr, params)
        if ok:
            out.append((f"{caption} — frame {frame_no}, {frame.t_ms / 1000:.2f} s", data.tobytes()))
    return out


# ---------------------------------------------------------------------------
# The page


def _coaching(report: dict, th: Thresholds) -> dict:
    """The report's coaching block, or one rebuilt from its findings (older JSON files)."""
    if report.get("coaching"):
        return report["coaching"]
    findings = [Finding(r["id"], r["title"], r["status"], r["value"], r["unit"], r["target"], r["cue"],
                        r.get("frames", [])) for r in report.get("rules", [])]
    plan = dict(BEGINNER_PLAN, minutes=list(plan_minutes()))
    return {"fixes": [f.to_dict() for f in rank_fixes(findings, th)], "confidence": {},
            "capture": {"ok": True, "tips": [], "measures": {}}, "sessions": session_guidance(),
            "plan": plan, "stretches": STRETCH_NOTE}


def build_html(report: dict, per_frame: dict | None = None, frames: list[tuple[str, bytes]] | None = None,
               thresholds: Thresholds | None = None, intervals: list[dict] | None = None,
               baseline: dict | None = None) -> str:
    """The whole page as one string. ``report`` is ``Report.to_dict()`` (or the JSON file's content);
    ``baseline`` the report of the runner's forward-running baseline, if one is set."""
    th = thresholds or Thresholds()
    per_frame = per_frame or {}
    coaching = _coaching(report, th)
    name = Path(str(report.get("video", {}).get("path", "clip"))).name
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
             f"<title>formcheck report: {_e(name)}</title><style>{CSS}</style></head><body><main>"]
    parts.append(_summary(report, name))
    parts.append(_fixes(coaching))
    parts.append(_baseline(report, baseline))
    parts.append(_capture(coaching, report))
    parts.append(_sessions(coaching, intervals))
    parts.append(_plots(per_frame, report, th))
    parts.append(_frames(frames))
    parts.append(_findings(report, coaching))
    parts.append(_steps(report))
    parts.append(f'<p class="muted">Made by formcheck {_e(report.get("formcheck_version", ""))}. '
                 "Thresholds are defaults from published studies and heuristics; see RULES.md.</p>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{body}</section>'


def _summary(report: dict, name: str) -> str:
    cad = report.get("cadence_spm")
    runner = report.get("runner", {})
    body = (f"<h1>{_e(name)}</h1><p><b>{_e(report.get('direction'))} {_e(report.get('gait_type'))}</b>, "
            f"{_e(report.get('setting'))}, facing {_e(runner.get('facing', '?'))}; "
            f"cadence {_num(cad, 0) if cad else 'not measured'} steps/min; "
            f"score <b>{_e(score_text(report.get('score')))}</b>.</p>")
    warns = report.get("warnings") or []
    if warns:
        body += "<ul>" + "".join(f"<li class=\"muted\">{_e(w)}</li>" for w in warns) + "</ul>"
    return _section("summary", "Summary", body)


def _fixes(coaching: dict) -> str:
    fixes = coaching.get("fixes", [])
    notes = "".join(f"<p><b>Note:</b> {_e(n)}</p>" for n in coaching.get("notes", []))
    if not fixes:
        body = "<p>No fixes needed: every judged cue is in its target band. Keep it up.</p>"
    else:
        items = []
        for n, f in enumerate(fixes, 1):
            conf = f.get("confidence")
            items.append(
                f'<div class="fix {_e(f["status"])}"><p><b>{n}. {_e(f["title"])}</b> {_badge(f["status"])} '
                f'<span class="muted">({_e(f["body_part"])}; measured {_num(f.get("value"))} {_e(f.get("unit"))}, '
                f'target {_e(f.get("target"))}'
                + (f"; confidence {float(conf):.0%}" if conf is not None else "") + ")</span></p>"
                f"<p><b>Cue:</b> {_e(f['cue'])}</p><p><b>Why:</b> {_e(f['why'])}</p>"
                f"<p><b>Drill:</b> {_e(f['drill'])}</p></div>")
        body = "".join(items)
    body += f'<p class="muted">{_e(coaching.get("stretches", STRETCH_NOTE))}</p>'
    return _section("fixes", "Top fixes", notes + body)


def _baseline(report: dict, baseline: dict | None) -> str:
    """Backward running against the runner's own forward running (see formcheck.coaching.progress)."""
    from formcheck.coaching.progress import baseline_checks

    title = "Against your forward running"
    if report.get("direction") == "forward":
        return _section("baseline", title, "<p>This clip is forward running. Mark it as your forward-running "
                        "baseline (the app's History tab) and later backward sessions are compared with it.</p>")
    if baseline is None:
        return _section("baseline", title, '<p class="muted">No forward-running baseline yet: analyse a clip of '
                        "your normal running and mark it as your baseline in the app's History tab. Backward "
                        "cadence should then be at least your forward cadence, and backward steps shorter.</p>")
    checks = baseline_checks(report, baseline)
    if not checks:
        return _section("baseline", title, '<p class="muted">This clip is not clearly backward running, so it '
                        "is not compared with your forward baseline.</p>")
    mark = {True: _badge("pass"), False: _badge("caution"), None: _badge("unknown")}
    rows = "".join(f"<tr><td>{_e(c.title)}</td><td>{mark[c.ok]}</td><td>{_num(c.backward)} {_e(c.unit)}</td>"
                   f"<td>{_num(c.forward)} {_e(c.unit)}</td><td>{_e(c.message)}</td></tr>" for c in checks)
    source = Path(str((baseline.get("video") or {}).get("path", "baseline"))).name
    return _section("baseline", title,
                    f'<p class="muted">Baseline: {_e(source)}, forward running.</p>'
                    f"<table><tr><th>check</th><th></th><th>backwards</th><th>forwards</th><th></th></tr>{rows}</table>")


def _capture(coaching: dict, report: dict) -> str:
    cap = coaching.get("capture", {})
    tips = cap.get("tips", [])
    body = ("<p>The footage is good for judging form.</p>" if not tips else
            "<p>To get more reliable numbers next time:</p><ul>" + "".join(f"<li>{_e(t)}</li>" for t in tips) + "</ul>")
    body += ('<p class="muted">Best results: side on, camera at hip height, the whole body in frame, '
             "60 fps or more.</p>")
    return _section("capture", "Filming", body)


def _sessions(coaching: dict, intervals: list[dict] | None) -> str:
    s = coaching.get("sessions", {})
    plan = coaching.get("plan", {})
    body = "".join(f"<p>{_e(line)}</p>" for line in s.get("advice", []))
    body += "".join(f"<p><b>Note:</b> {_e(n)}</p>" for n in s.get("notes", []))
    steps = plan.get("steps", [])
    if steps:
        rows = "".join(f"<tr><td>{_e(a)}</td><td>{_e(_dur(d))}</td></tr>" for a, d in steps)
        minutes = plan.get("minutes")
        body += (f"<h3>{_e(plan.get('title', 'Plan'))}</h3><p>{_e(plan.get('note', ''))}</p>"
                 f"<table><tr><th>activity</th><th>time</th></tr>{rows}</table>"
                 + (f'<p class="muted">About {_num(minutes[0], 0)}-{_num(minutes[1], 0)} minutes in all.</p>'
                   if minutes else ""))
    if intervals:
        rows = "".join(f"<tr><td>{_num(i['start_s'], 1)}-{_num(i['end_s'], 1)} s</td><td>{_e(i['label'])}</td>"
                       f"<td>{_num(i.get('cadence_spm'), 0)}</td></tr>" for i in intervals)
        body += f"<h3>Intervals in this clip</h3><table><tr><th>time</th><th>activity</th><th>steps/min</th></tr>{rows}</table>"
    return _section("sessions", "Sessions", body)


def _dur(seconds: float) -> str:
    seconds = float(seconds)
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _plots(per_frame: dict, report: dict, th: Thresholds) -> str:
    """The app's plots of this report, inline."""
    drawn = figures.report_figures(report, per_frame, th) if per_frame else []
    body = "".join(_img(figures.png(fig, dpi=90), _PLOT_ALT[name]) for name, fig in drawn) or \
        '<p class="muted">No per-frame data (the CSV next to the JSON report was not found).</p>'
    return _section("plots", "Over time", body)


_PLOT_ALT = {"trunk_lean": "trunk lean over time with its target band",
             "elbow": "elbow angle over time with its target band",
             "feet": "foot heights with contacts", "cadence": "cadence per step and per stride",
             "score": "where each cue landed, and the score"}


def _frames(frames: list[tuple[str, bytes]] | None) -> str:
    if not frames:
        body = '<p class="muted">No key frames: make the report from the video to include them.</p>'
    else:
        body = '<div class="frames">' + "".join(
            f"<figure>{_img(png, caption)}<figcaption>{_e(caption)}</figcaption></figure>" for caption, png in frames
        ) + "</div>"
    return _section("key-frames", "Key frames", body)


def _findings(report: dict, coaching: dict) -> str:
    conf = coaching.get("confidence", {})

    def confidence(rule: dict) -> str:
        if rule.get("status") == "unknown":
            return "not judged"
        return f"{float(conf[rule['id']]):.0%}" if rule["id"] in conf else "–"

    def value(rule: dict) -> str:
        return "–" if rule.get("value") is None else f"{_num(rule['value'])} {_e(rule.get('unit'))}"

    rows = "".join(
        f"<tr><td>{_e(r['title'])}</td><td>{_badge(r['status'])}</td><td>{value(r)}</td>"
        f"<td>{_e(r.get('target'))}</td><td>{confidence(r)}</td><td>{_e(r.get('cue'))}</td></tr>"
        for r in report.get("rules", []))
    return _section("findings", "All findings",
                    f"<table><tr><th>cue</th><th>status</th><th>value</th><th>target</th><th>confidence</th>"
                    f"<th>advice</th></tr>{rows}</table>")


def _steps(report: dict) -> str:
    contacts = report.get("contacts", [])
    if not contacts:
        return _section("steps", "Steps", "<p class=\"muted\">No foot contacts were found.</p>")
    rows = "".join(
        f"<tr><td>{n}</td><td>{_e(c.get('foot'))}</td><td>{_num(c.get('time_s'))}</td><td>{_e(c.get('frame'))}</td>"
        f"<td>{_e(c.get('strike'))}</td><td>{_num(c.get('foot_pitch_deg'), 1)}</td><td>{_num(c.get('contact_time_s'), 3)}</td></tr>"
        for n, c in enumerate(contacts, 1))
    return _section("steps", "Steps", "<table><tr><th>#</th><th>foot</th><th>time (s)</th><th>frame</th><th>strike</th>"
                    f"<th>foot pitch (deg)</th><th>contact (s)</th></tr>{rows}</table>")


# ---------------------------------------------------------------------------
# Files


def html_path(source: str | Path, out_dir: str | Path | None = None) -> Path:
    """``run.mp4`` or ``run.formcheck.json`` -> ``run.formcheck.html`` (next to it or in out_dir)."""
    source = Path(source)
    if source.name.endswith(".formcheck.json"):
        stem = source.name[: -len(".formcheck.json")]
    else:
        stem = output_stem(source)
    return Path(out_dir or source.parent) / f"{stem}.formcheck.html"


def read_csv_columns(path: str | Path) -> dict:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    return {name: [r[i] if i < len(r) else "" for r in body] for i, name in enumerate(header)}


def report_from_json(json_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the HTML for a saved JSON report; the per-frame CSV next to it (if any) gives the plots."""
    json_path = Path(json_path)
    try:
        report = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{json_path.name} is not a formcheck JSON report: {exc}.") from exc
    if not isinstance(report, dict) or "rules" not in report:
        raise InputError(f"{json_path.name} is not a formcheck JSON report (no 'rules').")
    csv_path = json_path.with_suffix(".csv")
    per_frame = read_csv_columns(csv_path) if csv_path.exists() else {}
    try:
        page = build_html(report, per_frame, baseline=history_baseline())
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        # a file edited by hand or by another program: a field of the wrong shape
        raise InputError(f"{json_path.name} is not a formcheck JSON report as 'analyze' writes it "
                         f"(a field has the wrong type: {type(exc).__name__}).") from exc
    out = html_path(json_path, out_dir)
    atomic_write_text(out, page)
    return out


def history_baseline(store=None) -> dict | None:
    """The forward-running baseline's report from ``store`` (default: the default history), if one is set
    (never an error: the report is made without it when the history cannot be read)."""
    from formcheck.errors import FormcheckError
    from formcheck.outputs import history

    try:
        entry = (store or history.History()).baseline()
    except (FormcheckError, OSError):
        return None
    return entry["report"] if entry else None
