"""The live treadmill tab: the webcam through streamlit-webrtc, rolling readings, the session summary."""

from __future__ import annotations

import html
import os
import time

import streamlit as st

from formcheck.app.login import visitor_history
from formcheck.app.plan import interval_timer_settings, timer_markdown
from formcheck.app.settings import Settings
from formcheck.app.state import LiveSummary, app_state
from formcheck.app.turns import Slots
from formcheck.app.verdicts import render_verdict
from formcheck.app.webrtc import LiveHolder, has_server_runtime, patch_ice_for_tests
from formcheck.outputs.report import score_text

INTRO = ("Put the camera side-on to the treadmill, whole body in view, then press **START**. "
         "Each new camera frame gets the pose and a traffic light per cue, judged on the last "
         "10 seconds (the same analysis as for clips); frames that arrive while one is being "
         "processed are skipped so the picture stays current. Press **STOP** to get a summary, "
         "which is saved to history.")


def live_tab(settings: Settings) -> None:
    st.markdown(INTRO)
    rounds = interval_timer_settings()
    pose_every = _pose_every_choice()
    try:
        from streamlit_webrtc import WebRtcMode, webrtc_streamer
    except ImportError:
        st.error("The live check needs streamlit-webrtc: pip install streamlit-webrtc")
        return
    if not has_server_runtime():
        st.info("The live check needs the Streamlit server: start the app with `streamlit run app.py`.")
        return
    patch_ice_for_tests()
    holder = app_state.live_holder
    holder.thresholds = settings.thresholds
    holder.apply_timer(rounds)
    holder.pose_every = int(pose_every)
    holder.slots = live_slots()
    holder.history = visitor_history() if settings.save_history else None
    video_col, info_col = st.columns([3, 2])
    with video_col:
        ctx = webrtc_streamer(
            key="formcheck-live",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration={"iceServers": []},  # same machine or LAN; no STUN/TURN servers are contacted
            media_stream_constraints={"video": True, "audio": False},  # the camera's own size and shape
            queued_video_frames_callback=holder.on_frames,
            on_video_ended=holder.on_ended,
            async_processing=True,
            video_html_attrs={"autoPlay": True, "controls": True, "muted": True, "style": {"width": "100%"}},
        )
    playing = bool(ctx.state.playing)
    if holder.was_playing and not playing:
        _finish_session(holder)
    holder.was_playing = playing
    if playing:
        holder.accepting = True
        _show_readings_until_rerun(holder, info_col)
    with info_col:
        show_live_summary()


def _pose_every_choice() -> int:
    return st.selectbox(
        "Find the pose on", [1, 2, 3], key="live_pose_every",
        format_func=lambda n: "every frame" if n == 1 else f"every {n}{'nd' if n == 2 else 'rd'} frame (slow computer)",
        help="If the picture stutters or the fps shown drop well below the camera's, the pose model is too much "
             "for this computer: every 2nd frame halves its work and still gives 15 poses a second at 30 fps. "
             "Applies from the next START.")


def _finish_session(holder: LiveHolder) -> None:
    """STOP was pressed: keep the session's summary for the page (saved by the holder, which may
    have finished it already when the camera track ended)."""
    holder.finish()
    app_state.live_summary = LiveSummary(*holder.last)


@st.cache_resource
def live_slots() -> Slots:
    """Live checks on the whole server: each keeps a core busy (a landmarker on every frame), and one
    core is left for the uploads' analyses."""
    return Slots(max(1, (os.cpu_count() or 1) - 1))


def _show_readings_until_rerun(holder: LiveHolder, info_col) -> None:
    with info_col:
        st.markdown("##### Now")
        stats_box = st.empty()
    while True:  # refreshed until the next rerun (STOP or any other widget) interrupts it
        stats_box.markdown(live_stats_markdown(holder))
        time.sleep(0.5)


def show_live_summary() -> None:
    summary = app_state.live_summary
    if summary:
        report, message = summary
        if report is None:
            st.warning(message or "The live session was too short to judge.")
        else:
            cadence = f"{report.cadence_spm:.0f} steps/min" if report.cadence_spm else "not measured"
            st.success(f"Session summary ({report.video.duration_s or 0:.0f} s): {report.direction} "
                       f"{report.gait_type}, cadence {cadence}, score {score_text(report.score)}. {message or ''}")
            for rule in report.to_dict()["rules"]:
                render_verdict(rule)


def live_stats_markdown(holder: LiveHolder) -> str:
    session = holder.session
    if holder.error:
        return f":red[Live processing problem: {html.escape(holder.error)}]"
    if session is None:
        return "Connecting… waiting for the first camera frame."
    s = session.snapshot()
    lines = timer_markdown(s) + [s.timing(), f"frames processed: {s.frames} · stale frames skipped: {s.dropped}", ""]
    readings = s.readings()
    if readings:
        lines.append(f"Rolling {s.window_s:.0f} s:")
        lines += [f"- {reading}" for reading in readings]
    else:
        lines.append(s.advice() or "Waiting for the first analysis…")
    return "\n".join(line if line.startswith("-") or not line else line + "  " for line in lines)
