"""formcheck in the browser: ``streamlit run app.py``.

Three tabs:

* **Upload review**: drop a side-view clip (or try a sample), watch the progress,
  then see the annotated video, a verdict per coaching cue (with buttons that jump
  the video to the frames that show it), plots, a per-step table and downloads.
* **Live treadmill check**: webcam through streamlit-webrtc; each newest frame gets
  the pose, skeleton and per-cue traffic lights from a rolling 10 s analysis
  (``formcheck.live.session.LiveSession``, the same analysis code as for clips).
* **History**: every analysed clip and live session (``formcheck.outputs.history``), with a
  trend per cue.

Environment variables:

* ``FORMCHECK_HISTORY``: history file (default ``~/.local/share/formcheck/history.sqlite``).
* ``FORMCHECK_SAMPLE_DIR``: folder of sample clips (default ``sample_videos/`` next to this file).
* ``FORMCHECK_ICE_LOOPBACK=1``: TEST-ONLY. Makes aiortc offer 127.0.0.1 as its ICE host
  candidate so a browser on the same machine can connect with loopback only (for the
  browser tests in a network namespace). Never set it for real use.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from formcheck import __version__
from formcheck.app.turns import Turns
from formcheck.coaching.cues import CUES, editable_thresholds
from formcheck.config import Thresholds, load_thresholds
from formcheck.errors import ConfigError, FormcheckError, InputError, VideoError
from formcheck.io.native_logs import filter_native_logs
from formcheck.outputs import figures
from formcheck.outputs.html_report import build_html
from formcheck.outputs.report import score_text
from formcheck.outputs.steps import frame_times, step_table, unit_lines

ROOT = Path(__file__).resolve().parent
VIDEO_TYPES = ["mp4", "mov", "avi", "mkv", "webm"]
MAX_UPLOAD_MB = 400  # also server.maxUploadSize in .streamlit/config.toml
DEFAULT_MAX_DURATION_S = 180
RESULTS_KEPT = 4  # analysed clips kept in memory/temp per browser session
ANALYSES_AT_ONCE = 1  # one analysis already keeps every core busy: more at once only slows them all
STATUS_STYLE = {  # status -> (label, streamlit colour)
    "pass": ("PASS", "green"),
    "caution": ("CAUTION", "orange"),
    "fail": ("FAIL", "red"),
    "unknown": ("UNKNOWN", "gray"),
}


def sample_dir() -> Path:
    return Path(os.environ.get("FORMCHECK_SAMPLE_DIR") or ROOT / "sample_videos")


def sample_clips() -> list[Path]:
    folder = sample_dir()
    return sorted(folder.glob("*.mp4")) if folder.is_dir() else []


def upload_limit_mb() -> int:
    """The smaller of our own limit and Streamlit's server.maxUploadSize."""
    try:
        server = int(st.get_option("server.maxUploadSize"))
    except Exception:  # noqa: BLE001 - option missing in some test harnesses
        server = MAX_UPLOAD_MB
    return min(server, MAX_UPLOAD_MB)


# ---------------------------------------------------------------------------
# Settings (sidebar)


@dataclass
class Settings:
    height_m: float | None = None
    belt_kmh: float | None = None
    slowmo: float = 1.0
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    thresholds: Thresholds = field(default_factory=Thresholds)
    save_history: bool = True
    config_error: str | None = None

    def analysis_key(self) -> str:
        """What changes the analysis (not the display units)."""
        return json.dumps([self.slowmo, [getattr(self.thresholds, f) for f in self.thresholds.__dataclass_fields__]])


def sidebar() -> Settings:
    sb = st.sidebar
    sb.header("Settings")
    s = Settings()
    sb.caption("Optional, to show metres and km/h as well as leg lengths.")
    height = sb.number_input("Runner height (m)", min_value=0.0, max_value=2.5, value=0.0, step=0.01,
                             format="%.2f", help="0 = unknown. Leg length is taken as 0.53 × height "
                             "(an anthropometric approximation).")
    belt = sb.number_input("Treadmill belt speed (km/h)", min_value=0.0, max_value=30.0, value=0.0, step=0.1,
                           format="%.1f", help="0 = unknown or overground.")
    s.height_m = height or None
    s.belt_kmh = belt or None
    s.slowmo = sb.number_input("Slow-motion factor", min_value=0.05, max_value=16.0, value=1.0, step=0.5,
                               help="Capture fps ÷ playback fps. A 120 fps slow-motion clip played at 30 fps "
                                    "is 4. Leave at 1 for normal clips.")
    s.max_duration_s = sb.number_input("Longest clip to analyse (s)", min_value=5, max_value=1800,
                                       value=DEFAULT_MAX_DURATION_S, step=15,
                                       help="Longer clips are refused; trim them to the part you want checked.")
    s.save_history = sb.checkbox("Save results to history", value=True)
    with sb.expander("Thresholds"):
        s.thresholds, s.config_error = _threshold_settings()
    return s


def _threshold_settings() -> tuple[Thresholds, str | None]:
    toml = st.file_uploader("Load a thresholds TOML", type=["toml"], key="thresholds_toml",
                            help="A [thresholds] table with any of the fields in formcheck/config.py.")
    base, error, tag = Thresholds(), None, "default"
    if toml is not None:
        data = toml.getvalue()
        tag = hashlib.sha1(data).hexdigest()[:8]
        try:
            base = load_thresholds_bytes(data, toml.name)
        except ConfigError as exc:
            error = str(exc)
            st.error(error)
    overrides = {}
    for editable in editable_thresholds():
        name, label, lo, hi = editable.name, editable.label, editable.low, editable.high
        default = getattr(base, name)
        key = f"th_{name}_{tag}"  # new widgets (with the file's values) when another file is loaded
        if isinstance(default, tuple):
            value = st.slider(label, min_value=lo, max_value=hi, value=(float(default[0]), float(default[1])),
                              step=0.5, key=key)
        else:
            value = st.number_input(label, min_value=lo, max_value=hi, value=float(default), key=key,
                                    step=0.01 if hi <= 2 else 1.0)
        if value != default:
            overrides[name] = value
    if st.button("Reset to defaults", key="th_reset"):
        for k in [k for k in st.session_state if str(k).startswith("th_") and k != "th_reset"]:
            del st.session_state[k]
        st.rerun()
    try:
        return (load_thresholds_bytes(toml.getvalue(), toml.name, **overrides) if toml is not None and not error
                else load_thresholds(None, **overrides)), error
    except ConfigError as exc:
        st.error(str(exc))
        return base, str(exc)


def load_thresholds_bytes(data: bytes, name: str, **overrides) -> Thresholds:
    with tempfile.TemporaryDirectory(prefix="formcheck-config-") as tmp:
        path = Path(tmp) / (Path(name).name or "thresholds.toml")
        path.write_bytes(data)
        try:
            return load_thresholds(path, **overrides)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(path), Path(name).name)) from exc


# ---------------------------------------------------------------------------
# Analysis (no rendering here, so tests can call it directly)


@dataclass
class Result:
    key: str
    source: str  # file name shown to the user
    report: object  # formcheck.Report
    workdir: Path
    video_path: Path | None
    json_text: str
    csv_bytes: bytes
    elapsed_s: float
    history_id: int | None = None
    history_error: str | None = None
    figures: dict = field(default_factory=dict)  # thresholds repr -> [(name, png bytes)]
    key_frames: list = field(default_factory=list)  # [(caption, JPEG bytes)] with the skeleton, for history/HTML


def check_upload(name: str, size_bytes: int, limit_mb: int | None = None) -> None:
    """Raise InputError for a file the app will not take (wrong type or too big)."""
    limit_mb = limit_mb or upload_limit_mb()
    ext = Path(name).suffix.lower().lstrip(".")
    if ext not in VIDEO_TYPES:
        raise InputError(f"'{name}' is not a video file this app takes: upload one of "
                         f"{', '.join('.' + t for t in VIDEO_TYPES)}.")
    if size_bytes > limit_mb * 1024 * 1024:
        raise InputError(f"'{name}' is {size_bytes / 1024 / 1024:.0f} MB; the limit is {limit_mb} MB. "
                         "Trim the clip to the running part or export it at a lower resolution.")
    if size_bytes == 0:
        raise InputError(f"'{name}' is empty (0 bytes). Upload the clip again.")


def check_duration(path: Path, max_duration_s: float, slowmo: float = 1.0) -> None:
    """Raise VideoError for an unreadable clip, InputError for one longer than the limit."""
    from formcheck.io.video import probe

    info = probe(path)
    if info.duration_s > max_duration_s:
        raise InputError(f"'{path.name}' is {info.duration_s:.0f} s long; this app analyses clips of up to "
                         f"{max_duration_s:.0f} s (see the sidebar). Trim it to the part you want checked.")
    if info.frames < 10:
        raise VideoError(f"'{path.name}' has only {info.frames} frames; film at least a few strides.")


def file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def analyse_clip(path: Path, settings: Settings, progress=None, source: str | None = None,
                 workdir: Path | None = None) -> Result:
    """Check the clip, analyse it and write the annotated video, JSON and CSV into ``workdir``.

    Raises FormcheckError subclasses with a user-facing message.
    """
    from formcheck import Outputs
    from formcheck.api import analyze_with_evidence

    path = Path(path)
    check_duration(path, settings.max_duration_s, settings.slowmo)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="formcheck-app-"))
    t0 = time.monotonic()
    report, evidence = analyze_with_evidence(path, workdir, outputs=Outputs(video=True, json=True, csv=True),
                                             thresholds=settings.thresholds, slowmo=settings.slowmo,
                                             progress=progress)
    outputs = report.outputs
    video = Path(outputs["video"]) if outputs.get("video") else None
    return Result(key="", source=source or path.name, report=report, workdir=workdir,
                  video_path=video if video and video.exists() else None,
                  json_text=Path(outputs["json"]).read_text(encoding="utf-8"),
                  csv_bytes=Path(outputs["csv"]).read_bytes(), elapsed_s=time.monotonic() - t0,
                  key_frames=session_key_frames(path, evidence, report, settings.slowmo))


def session_key_frames(path: Path, evidence, report, slowmo: float) -> list[tuple[str, bytes]]:
    """Up to three small JPEG stills with the skeleton (the top fixes' frames); none if they cannot be read."""
    from formcheck.outputs.html_report import key_frames

    try:
        return key_frames(path, evidence, (report.coaching or {}).get("fixes", []), slowmo, fmt=".jpg")
    except Exception:  # noqa: BLE001 - stills are an extra: never lose the analysis over them
        return []


class ProgressDisplay:
    """analyze()'s progress(stage, done, total) -> a progress bar with frames, fps and time left."""

    POSE_SHARE = 0.8  # finding the pose is most of the work; drawing the video is the rest

    def __init__(self, container=None):
        self.bar = (container or st).progress(0.0, text="Opening the clip…")
        self.started: dict[str, float] = {}
        self.last_update = 0.0
        self.pose_fps: float | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        self.started.setdefault(stage, now)
        if now - self.last_update < 0.25 and done < total:
            return
        self.last_update = now
        total = max(total, done, 1)
        elapsed = now - self.started[stage]
        fps = done / elapsed if elapsed > 0 else 0.0
        if stage == "pose":
            self.pose_fps = fps or None
            fraction = self.POSE_SHARE * done / total
            # the video pass re-reads and draws every frame: about 3x faster than pose finding here
            left = (total - done) / fps + total / (3 * fps) if fps else None
            label = "Finding the runner's pose"
        else:
            fraction = self.POSE_SHARE + (1 - self.POSE_SHARE) * done / total
            left = (total - done) / fps if fps else None
            label = "Drawing the annotated video"
        eta = f"about {left:.0f} s left" if left is not None else "estimating time left"
        self.bar.progress(min(fraction, 1.0), text=f"{label}: frame {done} of {total} · {fps:.1f} fps · {eta}")

    def done(self) -> None:
        self.bar.empty()


def _remember(result: Result) -> None:
    results: dict = st.session_state.setdefault("results", {})
    results[result.key] = result
    while len(results) > RESULTS_KEPT:  # forget the oldest, and its files
        old = results.pop(next(iter(results)))
        if old.key != result.key:
            shutil.rmtree(old.workdir, ignore_errors=True)


@st.cache_resource
def analysis_turns() -> Turns:
    """One queue for the whole server: cached resources are shared by every browser session."""
    return Turns(ANALYSES_AT_ONCE)


def review_clip(path: Path, source: str, settings: Settings, sha: str | None = None) -> Result | None:
    """Analyse (or fetch from the session cache) and show one clip. Every error becomes an
    error panel; the app keeps serving."""
    try:
        path = Path(path)
        key = f"{sha or file_sha(path)}:{settings.analysis_key()}"
        result = st.session_state.get("results", {}).get(key)
        if result is None:
            with st.status(f"Analysing {source}…", expanded=True) as status:
                progress = ProgressDisplay()
                try:
                    # every update says expanded=True: one without it clears `expanded`, which collapses the
                    # status (and, arriving in the same render as its creation, keeps it shut from the start)
                    with analysis_turns().turn(lambda waited: status.update(
                            label=f"Waiting for another analysis on this server to finish ({waited:.0f} s)…",
                            expanded=True)):
                        status.update(label=f"Analysing {source}…", expanded=True)
                        result = analyse_clip(path, settings, progress=progress, source=source)
                except BaseException:
                    status.update(label=f"Could not analyse {source}", state="error", expanded=False)
                    raise
                progress.done()
                status.update(label=f"Analysed {source} in {result.elapsed_s:.0f} s", state="complete",
                              expanded=False)
            result.key = key
            if settings.save_history:
                _save_history(result)
            _remember(result)
        st.session_state["current"] = key
        show_results(result, settings)
        return result
    except FormcheckError as exc:
        st.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - the app must keep serving
        show_unexpected(exc, f"analysing {source}")
    return None


def _save_history(result: Result) -> None:
    from formcheck.outputs import history

    try:
        result.history_id = history.save(result.report, result.source, kind="clip", key_frames=result.key_frames)
    except (FormcheckError, OSError) as exc:
        result.history_error = str(exc)


def show_unexpected(exc: BaseException, doing: str) -> None:
    st.error(f"Something went wrong while {doing} ({type(exc).__name__}). The app is still running: "
             "try again or with another clip, and report the problem if it persists.")
    with st.expander("Technical details"):
        st.code("".join(traceback.format_exception(exc))[-4000:])


# ---------------------------------------------------------------------------
# Results


def status_badge(status: str) -> str:
    label, colour = STATUS_STYLE.get(status, STATUS_STYLE["unknown"])
    return f":{colour}-background[**{label}**]"


def format_value(value, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit in ("steps/min",):
        return f"{value:.0f} {unit}"
    if unit in ("deg", "deg range"):
        return f"{value:.0f}° {'range' if unit == 'deg range' else ''}".strip()
    return f"{value:.2f} {unit}".strip()


def _jump(state_key: str, seconds: float, frame: int) -> None:
    st.session_state[state_key] = seconds
    st.session_state[f"{state_key}_frame"] = frame


def annotated_frame(video: Path, index: int):
    """One frame (BGR) of the annotated video, or None."""
    from formcheck.io.video import VideoFile

    try:
        with VideoFile(video, start=index, max_frames=1) as clip:
            return next((f.bgr for f in clip), None)
    except FormcheckError:
        return None


def show_results(result: Result, settings: Settings) -> None:
    report = result.report
    d = report.to_dict()
    start_key = f"start_{result.key[:16]}"
    start = float(st.session_state.get(start_key, 0.0))
    _, fps = frame_times(report)

    st.subheader(f"{result.source}: {report.direction} {report.gait_type}, {report.setting}")
    cols = st.columns(4)
    cols[0].metric("Score", score_text(report.score))
    cols[1].metric("Cadence", f"{report.cadence_spm:.0f} steps/min" if report.cadence_spm else "–")
    lean = report.metrics["trunk_lean_deg"]["median"]
    elbow = report.metrics["elbow_angle_deg"]["median"]
    cols[2].metric("Trunk lean", f"{lean:+.0f}°" if lean is not None else "–")
    cols[3].metric("Elbow angle", f"{elbow:.0f}°" if elbow is not None else "–")
    for line in unit_lines(report, settings.height_m, settings.belt_kmh):
        st.caption(line)
    if report.direction == "forward":
        st.warning("This clip shows forward running. formcheck judges backward-running form, so read the "
                   "cues with that in mind.")
    for w in report.warnings:
        st.caption(f"Note: {w}")
    if result.history_error:
        st.warning(f"Not saved to history: {result.history_error}")
    show_fixes(report.coaching or {})
    show_baseline(d, result.history_id)

    portrait = report.video.get("height", 0) > report.video.get("width", 1)
    video_col, verdict_col = st.columns([2, 3] if portrait else [3, 2])
    with video_col:
        if result.video_path is not None:
            # st.video seeks in whole seconds; the exact frame is shown as a still below it.
            st.video(str(result.video_path), start_time=int(start))
            jumped = st.session_state.get(f"{start_key}_frame")
            if jumped is not None:
                st.caption(f"The video now starts at {int(start)} s (players seek in whole seconds). "
                           f"The exact frame {jumped} ({start:.2f} s):")
                still = annotated_frame(result.video_path, int(jumped))
                if still is not None:
                    st.image(still, channels="BGR", width="stretch")
        else:
            st.info("The annotated video was not written.")
    with verdict_col:
        st.markdown("#### Verdict per cue")
        frame_to_s, _ = frame_times(report)
        for rule in d["rules"]:
            render_verdict(rule, jump_key=start_key, frame_to_s=frame_to_s, prefix=result.key[:12])

    st.markdown("#### Plots")
    try:
        pngs = figure_pngs(result, settings.thresholds)
        c1, c2 = st.columns(2)
        for i, (_name, png) in enumerate(pngs):
            (c1 if i % 2 == 0 else c2).image(png, width="stretch")
    except Exception as exc:  # noqa: BLE001 - a plot must not hide the verdicts
        show_unexpected(exc, "drawing the plots")

    st.markdown("#### Steps")
    steps = step_table(d["contacts"])
    if steps:
        st.dataframe(steps, hide_index=True, width="stretch")
    else:
        st.info("No foot contacts were found.")

    st.markdown("#### Downloads")
    stem = Path(result.source).stem
    c1, c2, c3, c4 = st.columns(4)
    if result.video_path is not None:
        # callables: read or built when clicked, not on every rerun of the page
        c1.download_button("Annotated video (MP4)", data=result.video_path.read_bytes,
                           file_name=f"{stem}.formcheck.mp4", mime="video/mp4", key=f"dl_v_{result.key[:12]}")
    c2.download_button("Report (JSON)", data=result.json_text, file_name=f"{stem}.formcheck.json",
                       mime="application/json", key=f"dl_j_{result.key[:12]}")
    c3.download_button("Per-frame data (CSV)", data=result.csv_bytes, file_name=f"{stem}.formcheck.csv",
                       mime="text/csv", key=f"dl_c_{result.key[:12]}")
    html = functools.partial(_shareable_html, d, report.per_frame, result.key_frames, settings.thresholds)
    c4.download_button("Shareable report (HTML)", data=html, file_name=f"{stem}.formcheck.html",
                       mime="text/html", key=f"dl_h_{result.key[:12]}")
    st.caption(f"formcheck {__version__} · analysed in {result.elapsed_s:.0f} s"
               + (f" · saved to history as session {result.history_id}" if result.history_id else ""))


def show_fixes(coaching: dict) -> None:
    """The ranked fixes first: what a coach would say before the numbers."""
    fixes = coaching.get("fixes", [])
    if fixes:
        st.markdown("#### Fix first")
        for i, fix in enumerate(fixes, 1):
            st.markdown(f"**{i}. {fix['cue']}**  \n{fix['why']}  \n*Drill:* {fix['drill']}")
    elif coaching:
        st.success("No form faults to fix on this clip.")
    for tip in coaching.get("capture", {}).get("tips", []):
        st.caption(f"Filming tip: {tip}")


def render_verdict(rule: dict, jump_key: str | None = None, frame_to_s: dict | None = None,
                   prefix: str = "") -> None:
    with st.container(border=True):
        value = format_value(rule.get("value"), rule.get("unit", ""))
        st.markdown(f"{status_badge(rule['status'])} **{rule['title']}**: {value}  \n"
                    f"Target: {rule['target']}  \n{rule['cue']}")
        frames = {}  # label -> frame: frames a few ms apart get one button
        for f in rule.get("frames") or []:
            t = (frame_to_s or {}).get(int(f))
            if t is not None:
                frames.setdefault(f"{t:.1f} s", (int(f), t))
        if jump_key and frames:
            row = st.container(horizontal=True, vertical_alignment="center", gap="small")
            row.markdown(":gray[See it at:]", width="content")
            for label, (f, t) in list(frames.items())[:4]:
                row.button(label, key=f"jump_{prefix}_{rule['id']}_{f}", on_click=_jump, args=(jump_key, t, f),
                           help=f"Jump the video to frame {f}")


def figure_pngs(result: Result, th: Thresholds) -> list[tuple[str, bytes]]:
    """The plots as PNG bytes, drawn once per result and thresholds (reruns reuse them)."""
    key = repr(th)
    if key not in result.figures:
        report = result.report
        verdicts = [figures.Verdict(f.title, f.status, CUES[f.id].scored) for f in report.rules]
        drawn = figures.report_figures(report.per_frame, report.contacts, verdicts, report.score,
                                       report.cadence_spm, th)
        result.figures = {key: [(name, figures.png(fig)) for name, fig in drawn]}  # only the latest thresholds
    return result.figures[key]


# ---------------------------------------------------------------------------
# Upload tab


def upload_tab(settings: Settings) -> None:
    limit = upload_limit_mb()
    st.markdown("Film the runner **side-on**, whole body in view, camera still. "
                f"Video files ({', '.join(VIDEO_TYPES)}) up to **{limit} MB** and "
                f"**{settings.max_duration_s:.0f} s**.")
    uploaded = st.file_uploader("Drop a clip here", type=VIDEO_TYPES, key="clip_upload",
                                help=f"Up to {limit} MB. 60 fps or more gives better contact timing.")
    clips = sample_clips()
    if clips:
        st.caption("No clip at hand? Try a sample:")
        cols = st.columns(min(len(clips), 4))
        for i, clip in enumerate(clips):
            if cols[i % len(cols)].button(f"Try sample: {clip.stem}", key=f"sample_{clip.name}"):
                st.session_state["active"] = {"kind": "sample", "path": str(clip), "name": clip.name}
    else:
        st.caption(f"No sample clips found in {sample_dir()}.")

    if uploaded is not None and st.session_state.get("upload_id") != uploaded.file_id:
        st.session_state["upload_id"] = uploaded.file_id
        st.session_state["active"] = {"kind": "upload", "file_id": uploaded.file_id, "name": uploaded.name}
    active = st.session_state.get("active")
    if active and active["kind"] == "upload" and (uploaded is None or uploaded.file_id != active["file_id"]):
        active = None  # the upload was removed
    if not active:
        return
    if active["kind"] == "sample":
        review_clip(Path(active["path"]), active["name"], settings)
    else:
        handle_upload(uploaded.name, uploaded.size, uploaded.getbuffer(), settings, file_id=uploaded.file_id)


def handle_upload(name: str, size: int, data, settings: Settings, file_id: str | None = None) -> Result | None:
    """Validate an uploaded file, store it in a temp folder and review it (errors -> error panel)."""
    try:
        check_upload(name, size)
        saved: dict = st.session_state.setdefault("upload_files", {})
        if file_id is None or file_id not in saved:
            folder = Path(tempfile.mkdtemp(prefix="formcheck-upload-"))
            path = folder / (Path(name).name or "clip.mp4")
            path.write_bytes(bytes(data))
            for old in saved.values():  # one upload on disk per session
                shutil.rmtree(Path(old["path"]).parent, ignore_errors=True)
            saved.clear()
            saved[file_id or name] = {"path": str(path), "sha": file_sha(path)}
        entry = saved[file_id or name]
    except FormcheckError as exc:
        st.error(str(exc))
        return None
    except Exception as exc:  # noqa: BLE001
        show_unexpected(exc, f"reading {name}")
        return None
    return review_clip(Path(entry["path"]), name, settings, sha=entry["sha"])


def review_path(path: str | Path, settings: Settings | None = None) -> Result | None:
    """Run a file on disk through the same checks as an upload (for tests and scripts)."""
    path = Path(path)
    size = path.stat().st_size if path.exists() else 0
    data = path.read_bytes() if path.exists() else b""
    return handle_upload(path.name, size, data, settings or Settings())


# ---------------------------------------------------------------------------
# Live tab


def _patch_ice_for_tests() -> None:
    """TEST-ONLY (FORMCHECK_ICE_LOOPBACK=1): offer 127.0.0.1 as the ICE host candidate.

    aioice leaves loopback out of its host candidates, so in a network namespace that
    has only loopback (the browser tests) the server would offer none and ICE fails.
    """
    if os.environ.get("FORMCHECK_ICE_LOOPBACK") != "1":
        return
    import aioice.ice

    if getattr(aioice.ice.get_host_addresses, "_formcheck_loopback", False):
        return

    def loopback_only(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    loopback_only._formcheck_loopback = True
    aioice.ice.get_host_addresses = loopback_only


def _has_server_runtime() -> bool:
    """False under streamlit.testing's AppTest (a mocked runtime, where webrtc cannot work)."""
    try:
        from streamlit.runtime.runtime import Runtime

        return Runtime.exists() and hasattr(Runtime.instance(), "_session_mgr") and \
            type(Runtime.instance()).__name__ == "Runtime"
    except Exception:  # noqa: BLE001
        return False


class LiveHolder:
    """Bridges the webrtc worker thread (frames) and the script thread (page, summary).

    Kept in st.session_state; the frame callback creates the LiveSession lazily on the
    first frame so the pose model is only loaded when someone starts the camera.
    """

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.session = None
        self.thresholds = Thresholds()
        self.was_playing = False
        self.error: str | None = None
        self.clock = None
        self.dropped = 0
        self.accepting = True  # False from STOP until the page sees the next start
        self.timer_rounds: int | None = None  # the interval timer's rounds; None = no timer
        self.pose_every = 1  # pose on every Nth frame (from the next START)
        self.key_frames: list = []  # the last finished session's stills

    def new_timer(self):
        from formcheck.coaching.intervals import IntervalTimer

        return IntervalTimer(self.timer_rounds) if self.timer_rounds else None

    def apply_timer(self, rounds: int | None) -> None:
        """Switch the timer on (from the next frame), off, or to another number of rounds."""
        with self.lock:
            changed = rounds != self.timer_rounds
            self.timer_rounds = rounds
            if changed and self.session is not None:
                self.session.set_interval_timer(self.new_timer())

    def ensure(self):
        from formcheck.live.session import LiveSession, StreamClock

        with self.lock:
            if self.session is None:
                if not self.accepting:
                    return None  # a last frame after STOP: do not start a new session for it
                self.error = None
                self.session = LiveSession(thresholds=self.thresholds, background=True, source="browser camera",
                                           interval_timer=self.new_timer(), pose_every=self.pose_every)
                self.clock = StreamClock()
                self.dropped = 0
            return self.session

    async def on_frames(self, frames):
        """streamlit-webrtc queued-frames callback: process only the newest frame, drop the rest."""
        import av

        frame = frames[-1]
        try:
            session = self.ensure()
            if session is None:
                return [frame]
            self.dropped += len(frames) - 1
            bgr = frame.to_ndarray(format="bgr24")
            t_ms, lag_ms = self.clock.stamp(frame.time)
            annotated = session.process(bgr, t_ms, lag_ms=lag_ms, dropped=self.dropped)
            out = av.VideoFrame.from_ndarray(annotated, format="bgr24")
        except FormcheckError as exc:  # e.g. the pose model is missing: its message is for the user
            self.error = str(exc)
            self.accepting = False  # do not retry on every frame; START again retries
            return [frame]
        except Exception as exc:  # noqa: BLE001 - keep the stream alive; show the problem on the page
            self.error = f"{type(exc).__name__}: {exc}"
            out = frame
            return [out]
        out.pts, out.time_base = frame.pts, frame.time_base
        return [out]

    def finish(self):
        """Summarise and close the current session; returns (report or None, message or None)."""
        with self.lock:
            session, self.session = self.session, None
            self.accepting = False
        if session is None:
            return None, None
        try:
            return session.summary(), None
        except FormcheckError as exc:
            return None, str(exc)
        finally:
            self.key_frames = session.key_frames()  # stills for the history, with the summary
            session.close()


def live_tab(settings: Settings) -> None:
    st.markdown("Put the camera side-on to the treadmill, whole body in view, then press **START**. "
                "Each new camera frame gets the pose and a traffic light per cue, judged on the last "
                "10 seconds (the same analysis as for clips); frames that arrive while one is being "
                "processed are skipped so the picture stays current. Press **STOP** to get a summary, "
                "which is saved to history.")
    rounds = interval_timer_settings()
    pose_every = st.selectbox(
        "Find the pose on", [1, 2, 3], key="live_pose_every",
        format_func=lambda n: "every frame" if n == 1 else f"every {n}{'nd' if n == 2 else 'rd'} frame (slow computer)",
        help="If the picture stutters or the fps shown drop well below the camera's, the pose model is too much "
             "for this computer: every 2nd frame halves its work and still gives 15 poses a second at 30 fps. "
             "Applies from the next START.")
    try:
        from streamlit_webrtc import WebRtcMode, webrtc_streamer
    except ImportError:
        st.error("The live check needs streamlit-webrtc: pip install streamlit-webrtc")
        return
    if not _has_server_runtime():
        st.info("The live check needs the Streamlit server: start the app with `streamlit run app.py`.")
        return
    _patch_ice_for_tests()
    holder: LiveHolder = st.session_state.setdefault("live_holder", LiveHolder())
    holder.thresholds = settings.thresholds
    holder.apply_timer(rounds)
    holder.pose_every = int(pose_every)
    video_col, info_col = st.columns([3, 2])
    with video_col:
        ctx = webrtc_streamer(
            key="formcheck-live",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration={"iceServers": []},  # same machine or LAN; no STUN/TURN servers are contacted
            media_stream_constraints={"video": True, "audio": False},  # the camera's own size and shape
            queued_video_frames_callback=holder.on_frames,
            async_processing=True,
            video_html_attrs={"autoPlay": True, "controls": True, "muted": True, "style": {"width": "100%"}},
        )
    playing = bool(ctx.state.playing)
    if holder.was_playing and not playing:
        report, message = holder.finish()
        st.session_state["live_summary"] = (report, message)
        if report is not None and settings.save_history:
            from formcheck.outputs import history

            try:
                sid = history.save(report, "live camera", kind="live", key_frames=holder.key_frames)
                st.session_state["live_summary"] = (report, f"Saved to history as session {sid}.")
            except (FormcheckError, OSError) as exc:
                st.session_state["live_summary"] = (report, f"Not saved to history: {exc}")
    holder.was_playing = playing
    if playing:
        holder.accepting = True

    if playing:
        with info_col:
            st.markdown("##### Now")
            stats_box = st.empty()
        while True:  # refreshed until the next rerun (STOP or any other widget) interrupts it
            stats_box.markdown(live_stats_markdown(holder))
            time.sleep(0.5)
    with info_col:
        show_live_summary()


def interval_timer_settings() -> int | None:
    """The optional interval timer: off, or the beginner plan with 4 or 5 rounds. Returns the rounds."""
    from formcheck.coaching.coach import BEGINNER_PLAN
    from formcheck.coaching.intervals import plan_phases

    cols = st.columns([2, 1])
    on = cols[0].toggle("Interval timer (beginner plan)", key="live_timer",
                        help="Shows the current interval, its time left and the next one in big letters on "
                             "the picture, and whether you are doing what the interval asks. It starts with "
                             "the next camera frame.")
    rounds = cols[1].radio("Rounds", [4, 5], horizontal=True, key="live_timer_rounds", disabled=not on)
    if not on:
        return None
    minutes = plan_phases(rounds=rounds)[-1].end_s / 60
    st.caption(f"{BEGINNER_PLAN['note']} With {rounds} rounds: about {minutes:.0f} minutes.")
    return int(rounds)


def timer_markdown(s) -> list[str]:
    """The interval timer's lines for the page (the picture shows the same in big letters)."""
    t = s.timer
    if t is None:
        return []
    if t.finished:
        return [f"**Intervals: plan done.** {t.detail()}", ""]
    lines = [f"**Interval: {t.phase.activity}, {t.clock()} left**", t.detail()]
    if s.plan_check:
        lines.append(f":{'green' if s.on_plan else 'orange'}[{s.plan_check}]")
    return lines + [""]


def show_live_summary() -> None:
    summary = st.session_state.get("live_summary")
    if summary:
        report, message = summary
        if report is None:
            st.warning(message or "The live session was too short to judge.")
        else:
            cadence = f"{report.cadence_spm:.0f} steps/min" if report.cadence_spm else "not measured"
            st.success(f"Session summary ({report.video.get('duration_s', 0):.0f} s): {report.direction} "
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


# ---------------------------------------------------------------------------
# History tab


def history_tab() -> None:
    from formcheck.outputs import history

    try:
        store = history.History()
        sessions = store.list_sessions()
        baseline_id = store.baseline_id()
    except FormcheckError as exc:
        st.error(str(exc))
        return
    st.caption(f"History file: {store.path}")
    if not sessions:
        st.info("No sessions yet. Analyse a clip or run a live check; results are saved here.")
        return
    rows = [{"id": s["id"], "date": s["created_at"].replace("T", " ")[:16], "source": s["source"],
             "kind": s["kind"], "direction": s["direction"],
             "cadence": None if s["cadence_spm"] is None else round(s["cadence_spm"]),
             "score": s["score"], "baseline": "forward baseline" if s["id"] == baseline_id else ""}
            for s in sessions]
    st.dataframe(rows, hide_index=True, width="stretch")

    st.markdown("#### Trends")
    if len(sessions) < 2:
        st.caption("Trends need two or more sessions; here is the first one.")
    try:
        fig = trend_figure(store)
        if fig is not None:
            st.image(figures.png(fig, dpi=100), width="stretch")
    except Exception as exc:  # noqa: BLE001
        show_unexpected(exc, "drawing the trends")

    labels = {s["id"]: f"#{s['id']} {s['created_at'][:16].replace('T', ' ')} {s['source']} ({s['kind']})"
              for s in sessions}
    st.markdown("#### Before and after")
    if len(sessions) < 2:
        st.caption("Two sessions are compared side by side here once you have two.")
    else:
        ids = list(labels)  # newest first: by default the latest session against the one before it
        c1, c2 = st.columns(2)
        before = c1.selectbox("Before", ids, index=1, format_func=labels.get, key="cmp_before")
        after = c2.selectbox("After", ids, index=0, format_func=labels.get, key="cmp_after")
        try:
            show_comparison(store, before, after)
        except Exception as exc:  # noqa: BLE001
            show_unexpected(exc, "comparing the sessions")

    st.markdown("#### One session")
    chosen = st.selectbox("Session", list(labels), format_func=labels.get, key="history_pick")
    if chosen is not None:
        entry = store.get(chosen)
        if entry:
            rep = entry["report"]
            st.markdown(f"**{entry['source']}**: {rep.get('direction')} {rep.get('gait_type')}, "
                        f"score {score_text(rep.get('score'))}")
            show_baseline(rep, chosen, key_prefix="hist")
            for rule in rep.get("rules", []):
                render_verdict(rule)
            show_key_frames(store.key_frames(chosen))
            st.download_button("Report (JSON)", data=json.dumps(rep, indent=2),
                               file_name=f"formcheck-session-{chosen}.json", mime="application/json",
                               key=f"hist_dl_{chosen}")
            if st.button("Delete this session", key=f"hist_del_{chosen}"):
                store.delete(chosen)
                st.rerun()


VERDICT_MARK = {"better": "✅ better", "worse": "⚠️ worse", "about the same": "= about the same",
                "not comparable": "– not comparable"}


def comparison_rows(changes) -> list[dict]:
    """The before/after table: one row per cue, values in the cue's own units."""
    rows = []
    for c in changes:
        change = "–" if c.change is None else format_value(c.change, c.unit).replace("not measured", "–")
        if c.change is not None and c.change > 0:
            change = "+" + change
        rows.append({"cue": c.title, "before": format_value(c.before, c.unit),
                     "after": format_value(c.after, c.unit), "change": change,
                     "verdict": VERDICT_MARK.get(c.verdict, c.verdict),
                     "status": f"{c.before_status} → {c.after_status}"})
    return rows


def show_comparison(store, before_id: int, after_id: int) -> None:
    """Two sessions side by side: each cue's value in both, the change and whether it improved,
    then their key frames."""
    from formcheck.coaching.progress import compare_sessions, improvement_summary

    if before_id == after_id:
        st.info("Pick two different sessions to compare.")
        return
    before, after = store.get(before_id), store.get(after_id)
    if before is None or after is None:
        st.warning("One of these sessions is no longer in the history.")
        return
    changes = compare_sessions(before["report"], after["report"])
    st.markdown(f"**#{before_id} → #{after_id}: {improvement_summary(changes)}** "
                f"(score {score_text(before['report'].get('score'))} → {score_text(after['report'].get('score'))})")
    st.dataframe(comparison_rows(changes), hide_index=True, width="stretch")
    cols = st.columns(2)
    for col, entry, label in ((cols[0], before, "Before"), (cols[1], after, "After")):
        with col:
            st.markdown(f"**{label}: #{entry['id']} {entry['source']}** ({entry['created_at'][:10]})")
            show_key_frames(store.key_frames(entry["id"]))


def show_key_frames(frames: list[tuple[str, bytes]]) -> None:
    if not frames:
        st.caption("No key frames were stored with this session.")
    for caption, jpeg in frames:
        st.image(jpeg, caption=caption, width="stretch")


def _shareable_html(d: dict, per_frame: dict, key_frames, thresholds: Thresholds) -> str:
    return build_html(d, per_frame=per_frame, frames=key_frames, thresholds=thresholds, baseline=_baseline_report())


def _baseline_report() -> dict | None:
    from formcheck.outputs.html_report import history_baseline

    return history_baseline()


def _set_baseline(session_id: int | None) -> None:
    """Button callback: mark (or, with None, clear) the forward-running baseline."""
    from formcheck.outputs import history

    try:
        store = history.History()
        store.set_baseline(session_id) if session_id is not None else store.clear_baseline()
    except FormcheckError as exc:
        st.session_state["baseline_error"] = str(exc)


def show_baseline(report: dict, history_id: int | None, key_prefix: str = "res") -> None:
    """A forward session: offer it as the baseline. A backward one: compare it with the baseline
    (backward cadence at least the forward cadence, backward steps shorter)."""
    from formcheck.coaching.progress import baseline_checks
    from formcheck.outputs import history

    if st.session_state.get("baseline_error"):
        st.error(st.session_state.pop("baseline_error"))
    try:
        base = history.History().baseline()
    except FormcheckError:
        return
    if report.get("direction") != "backward":
        if history_id is None:
            return
        if base is not None and base["id"] == history_id:
            st.caption("This is your forward-running baseline: backward sessions are compared with it.")
            st.button("Clear the baseline", key=f"{key_prefix}_clear_baseline_{history_id}", on_click=_set_baseline,
                      args=(None,))
        elif report.get("direction") == "forward":
            st.button("Use this as my forward-running baseline", key=f"{key_prefix}_baseline_{history_id}",
                      on_click=_set_baseline, args=(history_id,),
                      help="Backward sessions are then compared with it: backward cadence should be at least "
                           "your forward cadence, and backward steps shorter.")
        return
    if base is None:
        st.caption("Compare with your own running: analyse a clip of your normal forward running and mark it "
                   "as your baseline (here or in the History tab).")
        return
    checks = baseline_checks(report, base["report"])
    st.markdown("##### Against your forward running")
    for c in checks:
        show = st.success if c.ok else st.warning if c.ok is False else st.info
        show(f"**{c.title}**: {c.message}")
    st.caption(f"Baseline: session #{base['id']}, {base['source']}.")


def trend_figure(store):
    """The score and every measured cue over the sessions, oldest first; None with no sessions."""
    sessions = store.list_sessions()[::-1]
    order = {s["id"]: i + 1 for i, s in enumerate(sessions)}
    cues = []
    for rid, title in store.rule_ids():
        measured = [p for p in store.trend(rid) if p["value"] is not None]
        if measured:
            cues.append((f"{title} ({measured[0]['unit']})",
                         [figures.TrendPoint(order.get(p["session_id"], 0), p["value"], p["status"]) for p in measured]))
    if not cues and not sessions:
        return None
    return figures.trends([s["score"] for s in sessions], cues)


# ---------------------------------------------------------------------------


def main() -> None:
    filter_native_logs()  # the server's own stderr stays; only native libraries' chatter goes
    st.set_page_config(page_title="formcheck: backward-running form", layout="wide")
    st.title("formcheck")
    st.caption("Checks backward-running (retro-running) form from a side-view video.")
    settings = sidebar()
    tab_upload, tab_live, tab_history = st.tabs(["Upload review", "Live treadmill check", "History"])
    with tab_upload:
        try:
            upload_tab(settings)
        except Exception as exc:  # noqa: BLE001
            show_unexpected(exc, "showing the upload page")
    with tab_history:  # before the live tab: the live page keeps its script run busy while playing
        try:
            history_tab()
        except Exception as exc:  # noqa: BLE001
            show_unexpected(exc, "showing the history")
    with tab_live:
        try:
            live_tab(settings)
        except Exception as exc:  # noqa: BLE001
            show_unexpected(exc, "running the live check")


if __name__ == "__main__":
    main()
