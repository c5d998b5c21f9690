"""Showing one analysed clip: headline numbers, fixes, video and verdicts, plots, steps and downloads."""

from __future__ import annotations

import functools
from pathlib import Path

import streamlit as st

from formcheck import __version__
from formcheck.app.baseline import show_baseline
from formcheck.app.clip_analysis import Result
from formcheck.app.errors import show_unexpected
from formcheck.app.login import visitor_history
from formcheck.app.settings import Settings, use_slowmo
from formcheck.app.state import Jump, app_state
from formcheck.app.text import plain
from formcheck.app.verdicts import render_verdict
from formcheck.coaching.coach import Coaching
from formcheck.config import Thresholds
from formcheck.errors import FormcheckError
from formcheck.outputs import figures
from formcheck.outputs.html_report import build_html, history_baseline
from formcheck.outputs.report import ContactRecord, output_stem, score_text
from formcheck.outputs.steps import frame_times, step_table, unit_lines


def annotated_frame(video: Path, index: int):
    """One frame (BGR) of the annotated video, or None."""
    from formcheck.io.video import VideoFile

    try:
        with VideoFile(video, start=index, max_frames=1) as clip:
            return next((f.bgr for f in clip), None)
    except FormcheckError:
        return None


def show_results(result: Result, settings: Settings) -> None:
    """One analysed clip, top to bottom: headline and fixes, the video beside the verdicts, then plots,
    steps and downloads."""
    d = result.report.to_dict()
    _headline(result, settings)
    show_fixes(result.report.coaching)
    show_baseline(d, result.history_id)
    _video_and_verdicts(result, d["rules"])
    _plots(result, settings.thresholds)
    _steps(result.report.contacts)
    _downloads(result, d, settings.thresholds)


def _headline(result: Result, settings: Settings) -> None:
    report = result.report
    st.subheader(f"{plain(result.source)}: {report.motion}, {report.setting}")
    cols = st.columns(4)
    cols[0].metric("Score", score_text(report.score))
    cols[1].metric("Cadence", f"{report.cadence_spm:.0f} steps/min" if report.cadence_spm else "–")
    lean = report.metrics.trunk_lean_deg.median
    elbow = report.metrics.elbow_angle_deg.median
    cols[2].metric("Trunk lean", f"{lean:+.0f}°" if lean is not None else "–")
    cols[3].metric("Elbow angle", f"{elbow:.0f}°" if elbow is not None else "–")
    step = report.metrics.step_length_leg.median
    for line in unit_lines(step, report.cadence_spm, settings.height_m, settings.belt_kmh):
        st.caption(line)
    if report.direction == "forward":
        st.warning("This clip shows forward running. formcheck judges backward-running form, so read the "
                   "cues with that in mind.")
    for w in report.warnings:
        st.caption(f"Note: {w}")
    factor = report.video.slow_motion_factor_estimate
    if report.video.slow_motion_suspected and factor:
        st.button(f"Analyse again as {factor:g}x slow motion", key=f"slowmo_{result.clip_sha[:16]}",
                  on_click=_analyse_again_as_slow_motion, args=(factor, result),
                  help="Sets the sidebar's slow-motion factor; set the exact one there if you know it.")
    if result.history_error:
        st.warning(f"Not saved to history: {plain(result.history_error)}")


def _analyse_again_as_slow_motion(factor: float, flagged: Result) -> None:
    use_slowmo(factor)
    app_state.superseded = flagged


def _video_and_verdicts(result: Result, rules: list[dict]) -> None:
    report = result.report
    jump_key = result.clip_sha[:16]  # a jump outlives a change of thresholds
    portrait = report.video.portrait
    video_col, verdict_col = st.columns([2, 3] if portrait else [3, 2])
    with video_col:
        _video(result.video_path, app_state.jumps.get(jump_key))
    with verdict_col:
        st.markdown("#### Verdict per cue")
        frame_to_s, _ = frame_times(report)
        for rule in rules:
            render_verdict(rule, jump_key=jump_key, frame_to_s=frame_to_s, prefix=result.key[:12])


def _video(video_path: Path | None, jump: Jump | None) -> None:
    if video_path is None:
        st.info("The annotated video was not written.")
        return
    start = jump.seconds if jump else 0.0
    # st.video seeks in whole seconds; the exact frame is shown as a still below it.
    st.video(str(video_path), start_time=int(start))
    if jump is not None:
        st.caption(f"The video now starts at {int(start)} s (players seek in whole seconds). "
                   f"The exact frame {jump.frame} ({start:.2f} s):")
        still = annotated_frame(video_path, jump.frame)
        if still is not None:
            st.image(still, channels="BGR", width="stretch")


def _plots(result: Result, th: Thresholds) -> None:
    st.markdown("#### Plots")
    try:
        pngs = figure_pngs(result, th)
        c1, c2 = st.columns(2)
        for i, (_name, png) in enumerate(pngs):
            (c1 if i % 2 == 0 else c2).image(png, width="stretch")
    except Exception as exc:  # noqa: BLE001 - a plot must not hide the verdicts
        show_unexpected(exc, "drawing the plots")


def _steps(contacts: list[ContactRecord]) -> None:
    st.markdown("#### Steps")
    steps = step_table(contacts)
    if steps:
        st.dataframe(steps, hide_index=True, width="stretch")
    else:
        st.info("No foot contacts were found.")


def _downloads(result: Result, d: dict, th: Thresholds) -> None:
    st.markdown("#### Downloads")
    stem = output_stem(Path(result.source))
    c1, c2, c3, c4 = st.columns(4)
    if result.video_path is not None:
        # callables: read or built when clicked, not on every rerun of the page
        c1.download_button("Annotated video (MP4)", data=result.video_path.read_bytes,
                           file_name=f"{stem}.formcheck.mp4", mime="video/mp4", key=f"dl_v_{result.key[:12]}")
    c2.download_button("Report (JSON)", data=result.json_text, file_name=f"{stem}.formcheck.json",
                       mime="application/json", key=f"dl_j_{result.key[:12]}")
    c3.download_button("Per-frame data (CSV)", data=result.csv_bytes, file_name=f"{stem}.formcheck.csv",
                       mime="text/csv", key=f"dl_c_{result.key[:12]}")
    html_page = functools.partial(_shareable_html, d, result.report.per_frame, result.key_frames, th)
    c4.download_button("Shareable report (HTML)", data=html_page, file_name=f"{stem}.formcheck.html",
                       mime="text/html", key=f"dl_h_{result.key[:12]}")
    st.caption(f"formcheck {__version__} · analysed in {result.elapsed_s:.0f} s"
               + (f" · saved to history as session {result.history_id}" if result.history_id else ""))


def show_fixes(coaching: Coaching | None) -> None:
    """The ranked fixes first: what a coach would say before the numbers."""
    if coaching is None:
        return
    if coaching.fixes:
        st.markdown("#### Fix first")
        for i, fix in enumerate(coaching.fixes, 1):
            st.markdown(f"**{i}. {fix.cue}**  \n{fix.why}  \n*Drill:* {fix.drill}")
    else:
        st.success("No form faults to fix on this clip.")
    for tip in coaching.capture.tips:
        st.caption(f"Filming tip: {tip}")


def figure_pngs(result: Result, th: Thresholds) -> list[tuple[str, bytes]]:
    """The plots as PNG bytes, drawn once per result and thresholds (reruns reuse them)."""
    key = repr(th)
    if key not in result.figures:
        drawn = figures.report_figures(result.report.to_dict(), result.report.per_frame, th)
        result.figures = {key: [(name, figures.png(fig)) for name, fig in drawn]}  # only the latest thresholds
    return result.figures[key]


def _shareable_html(d: dict, per_frame: dict, key_frames, thresholds: Thresholds) -> str:
    return build_html(d, per_frame=per_frame, frames=key_frames, thresholds=thresholds,
                      baseline=history_baseline(visitor_history()))
