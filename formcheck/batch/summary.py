"""A batch's summary: one row per clip in ``summary.csv`` and ``summary.html``, with each athlete's
trend over their clips in the page."""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from formcheck.batch.clips import BatchClip, clip_date
from formcheck.batch.job import ANALYSED, BAD_INPUT, FAILED, NOT_RUN, ClipResult
from formcheck.cues import CUES
from formcheck.io.files import atomic_write_text
from formcheck.outputs import figures
from formcheck.outputs.html_report import CSS, _badge, _e, _img, _num
from formcheck.outputs.report import score_text

COLUMNS = ["clip", "athlete", "recorded", "status", "error", "direction", "setting", "gait", "cadence_spm", "score"]
# a clip's status, coloured as a cue's
BATCH_COLOURS = {ANALYSED: "pass", BAD_INPUT: "caution", FAILED: "fail", NOT_RUN: "unknown"}
CUE_COLUMNS = [f"{cue}_{part}" for cue in CUES for part in ("status", "value")]


@dataclass(frozen=True)
class SummaryRow:
    clip: str
    athlete: str | None
    recorded: str  # the clip file's date, which orders an athlete's trend
    status: str
    error: str | None = None
    direction: str | None = None
    setting: str | None = None
    gait: str | None = None
    cadence_spm: float | None = None
    score: int | None = None
    cues: dict[str, tuple[str, float | None]] = field(default_factory=dict)  # cue id -> (status, value)
    outputs: dict[str, str] = field(default_factory=dict)  # output kind -> path

    def cells(self) -> dict[str, object]:
        cells = {name: getattr(self, name) for name in COLUMNS}
        cells["cadence_spm"] = None if self.cadence_spm is None else round(self.cadence_spm, 1)
        for cue in CUES:
            status, value = self.cues.get(cue, (None, None))
            cells[f"{cue}_status"] = status
            cells[f"{cue}_value"] = None if value is None else round(value, 3)
        return cells


def summary_row(clip: BatchClip, result: ClipResult) -> SummaryRow:
    date = clip_date(clip.path)
    recorded = date.isoformat(timespec="seconds") if date else ""
    if result.status != ANALYSED or result.report is None:
        return SummaryRow(str(clip.path), clip.athlete, recorded, result.status, result.error)
    report = result.report
    cues = {rule["id"]: (rule.get("status"), rule.get("value")) for rule in report.get("rules", [])}
    return SummaryRow(str(clip.path), clip.athlete, recorded, ANALYSED, None, report.get("direction"),
                      report.get("setting"), report.get("gait_type"), report.get("cadence_spm"), report.get("score"),
                      cues, dict(report.get("outputs", {})))


def write_csv(rows: list[SummaryRow], path: Path) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS + CUE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_csv_cells(row) for row in rows)
    return atomic_write_text(path, out.getvalue())


def _csv_cells(row: SummaryRow) -> dict[str, object]:
    return {k: "" if v is None else v for k, v in row.cells().items()}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# -- the page -------------------------------------------------------------------------------------

def status_counts(rows: list[SummaryRow]) -> str:
    """'3 analysed, 1 bad input', in the order the statuses first appear."""
    return ", ".join(f"{n} {status}" for status, n in Counter(r.status for r in rows).items())


def write_html(rows: list[SummaryRow], path: Path, plan: str) -> Path:
    head = status_counts(rows)
    cue_heads = "".join(f"<th>{_e(CUES[c].title)}</th>" for c in CUES)
    body = "".join(_html_row(row, path.parent) for row in rows)
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>formcheck batch summary</title>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{CSS}"
            ".wide{overflow-x:auto} td.err{color:#a02020;max-width:22rem}</style></head><body><main>"
            f"<h1>formcheck batch summary</h1><p class=muted>{len(rows)} clips: {_e(head)}. {_e(plan)}</p>"
            f"<section class=wide><h2>Clips</h2><table><tr><th>Clip</th><th>Athlete</th><th>Status</th><th>Direction"
            f"</th><th>Setting</th><th>Gait</th><th>Cadence (steps/min)</th><th>Score</th>{cue_heads}</tr>{body}"
            f"</table></section>{_trends(rows)}</main></body></html>")
    return atomic_write_text(path, page)


def _html_row(row: SummaryRow, folder: Path) -> str:
    name = _e(Path(row.clip).name)
    link = row.outputs.get("video") or row.outputs.get("json")
    clip = f"<a href='{_e(_relative(link, folder))}'>{name}</a>" if link else name
    status_badge = _badge(row.status, BATCH_COLOURS.get(row.status))
    if row.status != ANALYSED:
        return (f"<tr><td>{clip}</td><td>{_e(row.athlete)}</td><td>{status_badge}</td>"
                f"<td class=err colspan={5 + len(CUES)}>{_e(row.error)}</td></tr>")
    cues = "".join(f"<td>{_badge(status or 'unknown')} {_num(value)}</td>"
                   for status, value in (row.cues.get(c, (None, None)) for c in CUES))
    score = score_text(row.score)
    return (f"<tr><td>{clip}</td><td>{_e(row.athlete)}</td><td>{status_badge}</td><td>{_e(row.direction)}</td>"
            f"<td>{_e(row.setting)}</td><td>{_e(row.gait)}</td><td>{_num(row.cadence_spm, 0)}</td><td>{_e(score)}</td>"
            f"{cues}</tr>")


def _relative(target: str, folder: Path) -> str:
    try:
        return os.path.relpath(target, folder)
    except ValueError:  # another drive (Windows)
        return Path(target).as_uri()


def _trends(rows: list[SummaryRow]) -> str:
    """Each athlete's score and cues over their analysed clips, oldest clip first."""
    by_athlete: dict[str, list[SummaryRow]] = {}
    for row in rows:
        if row.athlete and row.status == ANALYSED:
            by_athlete.setdefault(row.athlete, []).append(row)
    parts = []
    for athlete, own in sorted(by_athlete.items()):
        own.sort(key=lambda r: (r.recorded, r.clip))
        order = ", ".join(f"{i}. {Path(r.clip).name} ({r.recorded[:10]})" for i, r in enumerate(own, 1))
        if len(own) < 2:
            parts.append(f"<h3>{_e(athlete)}</h3><p class=muted>One clip ({_e(order)}): a trend needs two.</p>")
            continue
        cues = [(CUES[c].title, [figures.TrendPoint(i, r.cues[c][1], r.cues[c][0] or "unknown")
                                 for i, r in enumerate(own, 1) if c in r.cues and r.cues[c][1] is not None])
                for c in CUES]
        fig = figures.trends([r.score for r in own], [(title, points) for title, points in cues if points])
        parts.append(f"<h3>{_e(athlete)}</h3>{_img(figures.png(fig), f'trends of {athlete}')}"
                     f"<p class=muted>Clips by date: {_e(order)}</p>")
    return f"<section><h2>Trends per athlete</h2>{''.join(parts)}</section>" if parts else ""
