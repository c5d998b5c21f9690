"""The public entry point: ``analyze(path) -> Report``. CLI and app are thin shells over it."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from formcheck.analysis.rules import Evidence
from formcheck.analysis.scenery import scenery_motion
from formcheck.config import Thresholds, load_thresholds
from formcheck.engine import Engine
from formcheck.errors import NoPersonError
from formcheck.io.files import part_path
from formcheck.io.video import VideoFile
from formcheck.io.writer import H264Writer
from formcheck.outputs.render import ANNOTATED_VIDEO, Annotator
from formcheck.outputs.report import Report, VideoRecord, output_stem
from formcheck.parallel import find_people, render_video
from formcheck.pose.facing import faces_right

# progress(stage, done, total): stage is "pose" or "video"
Progress = Callable[[str, int, int], None]


@dataclass
class Outputs:
    video: bool = True
    json: bool = True
    csv: bool = True


def output_paths(clip: Path, out_dir: Path | None) -> dict[str, Path]:
    folder = Path(out_dir) if out_dir else clip.parent
    stem = output_stem(clip)
    return {"video": folder / f"{stem}.formcheck.mp4", "json": folder / f"{stem}.formcheck.json",
            "csv": folder / f"{stem}.formcheck.csv"}


def analyze(path: str | Path, out_dir: str | Path | None = None, *, outputs: Outputs | None = None,
            thresholds: Thresholds | None = None, config: str | Path | None = None, slowmo: float = 1.0,
            model: str | Path | None = None, progress: Progress | None = None, fps: float | None = None) -> Report:
    """Analyse one clip and write the outputs asked for (default: none).

    ``fps`` overrides the frame rate the file states (or lacks); ``slowmo`` applies on top.

    Raises a ``formcheck.errors.FormcheckError`` subclass with a user-facing
    message for anything the user can fix (bad file, no runner, bad config...).
    """
    return analyze_with_evidence(path, out_dir, outputs=outputs, thresholds=thresholds, config=config,
                                 slowmo=slowmo, model=model, progress=progress, fps=fps)[0]


def analyze_with_evidence(path: str | Path, out_dir: str | Path | None = None, *, outputs: Outputs | None = None,
                          thresholds: Thresholds | None = None, config: str | Path | None = None,
                          slowmo: float = 1.0, model: str | Path | None = None, progress: Progress | None = None,
                          fps: float | None = None) -> tuple[Report, Evidence]:
    """``analyze``, also returning the evidence behind the report (clean pose, gait events,
    angles), e.g. to draw key frames with the skeleton."""
    path = Path(path)
    outputs = outputs or Outputs(video=False, json=False, csv=False)
    thresholds = thresholds or load_thresholds(config)
    report, evidence = _analyse_clip(path, thresholds, slowmo, model, progress, fps)
    _write_outputs(report, evidence, path, out_dir, outputs, slowmo, progress)
    return report, evidence


def _analyse_clip(path: Path, thresholds: Thresholds, slowmo: float, model, progress,
                  fps: float | None = None) -> tuple[Report, Evidence]:
    libraries = threading.Thread(target=_import_analysis_libraries, name="formcheck-imports", daemon=True)

    def look() -> bool:  # then, while the pose runs, the analysis libraries are imported
        mirror = faces_right(video, model)
        libraries.start()
        return mirror

    with VideoFile(path, slowmo=slowmo, fps=fps) as video:
        info = video.info
        # all cores when it pays (one landmarker per process); the plain sequential loop otherwise
        # the facing look runs while the worker processes start up
        people = find_people(video, model, progress, mirror=look)
        time_scale = video.slowmo  # the slow-motion factor and any --fps correction
    if not any(len(found) for found in people.found):
        raise NoPersonError(f"No person was found in {path.name}. Film the runner side-on "
                            "with the whole body in view and good light.")
    if libraries.is_alive():
        libraries.join()
    engine = Engine(thresholds)  # the live check's engine, fed the frames the workers read
    for found, t_ms, index in zip(people.found, people.t_ms, people.index):
        engine.take(found, t_ms, index, people.width, people.height)
    return engine.finish(VideoRecord(**info.to_dict(), slowmo=slowmo),
                         scenery=lambda pose, leg_px: scenery_motion(path, pose, leg_px, time_scale))


def _import_analysis_libraries() -> None:
    """The analysis needs scipy.signal, which takes seconds to import. Imported while the pose
    runs, it costs a share of two busy cores instead of a wait once the poses are in (a later
    import of the same module waits for this one)."""
    import scipy.ndimage  # noqa: F401
    import scipy.signal  # noqa: F401


def _write_outputs(report: Report, evidence: Evidence, path: Path, out_dir, outputs: Outputs, slowmo: float,
                   progress) -> None:
    """Write the outputs asked for, all or nothing: each goes to a part file beside its target,
    and only once all are written are they renamed into place. A failure (a full disk, say)
    leaves the previous run's outputs as they were, and no part files."""
    targets = output_paths(path, out_dir)
    wanted = [kind for kind in ("video", "csv", "json") if getattr(outputs, kind)]
    parts = {kind: part_path(targets[kind]) for kind in wanted}
    report.outputs = {kind: str(targets[kind]) for kind in wanted}
    try:
        if outputs.video:
            write_annotated_video(path, parts["video"], report, evidence, slowmo, progress)
        if outputs.csv:
            report.write_csv(parts["csv"])
        if outputs.json:
            report.write_json(parts["json"])
        for kind in wanted:
            os.replace(parts[kind], targets[kind])
    except BaseException:
        for part in parts.values():
            part.unlink(missing_ok=True)
        report.outputs.clear()
        raise


def write_annotated_video(src: Path, dst: Path, report: Report, evidence: Evidence, slowmo: float = 1.0,
                          progress: Progress | None = None) -> Path:
    """Re-read the clip and write the annotated H.264 copy (frames are streamed, not kept)."""
    title = report.motion
    # all cores when it pays: parts encoded in parallel, then joined without re-encoding
    if render_video(src, dst, evidence, report.rules, title, slowmo, progress):
        return dst
    annotator = Annotator(evidence, report.rules, title=title)
    position = {int(f): i for i, f in enumerate(evidence.pose.frame_index)}
    with VideoFile(src, slowmo=slowmo) as video:
        info = video.info
        fps = info.fps
        with H264Writer(dst, fps=fps, width=info.width, height=info.height, **ANNOTATED_VIDEO) as writer:
            for frame in video:
                i = position.get(frame.index)
                if i is not None:
                    annotator.draw(frame.bgr, i)
                writer.write(frame.bgr)
                if progress is not None:
                    progress("video", frame.index + 1, info.frames)
    return dst


def report_from_clip(clip: str | Path, out_dir: str | Path | None = None, *, config: str | Path | None = None,
                     slowmo: float = 1.0, model: str | Path | None = None, progress=None) -> Path:
    """Analyse a clip and write its HTML report with key frames."""
    import numpy as np

    from formcheck.coaching.coach import session_guidance
    from formcheck.outputs.html_report import build_html, history_baseline, html_path, key_frames
    from formcheck.io.files import atomic_write_text

    clip = Path(clip)
    th = load_thresholds(config)
    report, evidence = analyze_with_evidence(clip, thresholds=th, slowmo=slowmo, model=model, progress=progress)
    d = report.to_dict()
    t = evidence.pose.t_s
    minutes = float(t[-1] - t[0]) / 60 if len(t) > 1 else 0.0
    intervals = None
    if minutes >= 1.0:  # a whole session rather than a short clip: show its intervals and its length
        from formcheck.coaching.intervals import segment

        intervals = [s.to_dict() for s in segment(evidence.pose, clean=False)]
        if d.get("coaching"):
            d["coaching"]["sessions"] = session_guidance(session_minutes=minutes)
    frames = key_frames(clip, evidence, report.coaching.fixes if report.coaching else [], slowmo)
    per_frame = {k: np.asarray(v).tolist() for k, v in report.per_frame.items()}
    out = html_path(clip, out_dir)
    atomic_write_text(out, build_html(d, per_frame, frames, th, intervals, baseline=history_baseline()))
    return out
