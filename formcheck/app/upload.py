"""The upload tab: a dropped clip or a sample, checked, kept on disk for the session and reviewed."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import streamlit as st

from formcheck.app.clip_analysis import Result
from formcheck.app.errors import show_unexpected
from formcheck.app.review import review_clip
from formcheck.app.session_files import discard
from formcheck.app.settings import Settings
from formcheck.app.state import ActiveClip, SavedUpload, app_state
from formcheck.app.text import plain
from formcheck.errors import FormcheckError, InputError, OutputError
from formcheck.io.files import content_sha256

VIDEO_TYPES = ["mp4", "mov", "avi", "mkv", "webm"]
MAX_UPLOAD_MB = 400  # also server.maxUploadSize in .streamlit/config.toml


def sample_dir(default: Path) -> Path:
    """FORMCHECK_SAMPLE_DIR, else ``default`` (the entry passes the folder beside app.py)."""
    return Path(os.environ.get("FORMCHECK_SAMPLE_DIR") or default)


def sample_clips(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.mp4")) if folder.is_dir() else []


def upload_limit_mb() -> int:
    """The smaller of our own limit and Streamlit's server.maxUploadSize."""
    try:
        server = int(st.get_option("server.maxUploadSize"))
    except Exception:  # noqa: BLE001 - option missing in some test harnesses
        server = MAX_UPLOAD_MB
    return min(server, MAX_UPLOAD_MB)


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


def upload_tab(settings: Settings, default_samples: Path) -> None:
    limit = upload_limit_mb()
    st.markdown("Film the runner **side-on**, whole body in view, camera still. "
                f"Video files ({', '.join(VIDEO_TYPES)}) up to **{limit} MB** and "
                f"**{settings.max_duration_s:.0f} s**.")
    uploaded = st.file_uploader("Drop a clip here", type=VIDEO_TYPES, key="clip_upload",
                                help=f"Up to {limit} MB. 60 fps or more gives better contact timing.")
    samples = sample_dir(default_samples)
    clips = sample_clips(samples)
    if clips:
        st.caption("No clip at hand? Try a sample:")
        cols = st.columns(min(len(clips), 4))
        for i, clip in enumerate(clips):
            if cols[i % len(cols)].button(f"Try sample: {clip.stem}", key=f"sample_{clip.name}"):
                app_state.active = ActiveClip("sample", clip.name, path=str(clip))
    else:
        st.caption(f"No sample clips found in {samples}.")

    if uploaded is not None and app_state.upload_id != uploaded.file_id:
        app_state.upload_id = uploaded.file_id
        app_state.active = ActiveClip("upload", uploaded.name, file_id=uploaded.file_id)
    active = app_state.active
    if active and active.kind == "upload" and (uploaded is None or uploaded.file_id != active.file_id):
        active = None  # the upload was removed
    if not active:
        return
    if active.kind == "sample":
        review_clip(Path(active.path), active.name, settings)
    else:
        handle_upload(uploaded.name, uploaded.size, uploaded.getbuffer(), settings, file_id=uploaded.file_id)


def handle_upload(name: str, size: int, data, settings: Settings, file_id: str | None = None) -> Result | None:
    """Validate an uploaded file, store it in a temp folder and review it (errors -> error panel)."""
    try:
        check_upload(name, size)
        saved = app_state.upload_files
        if file_id is None or file_id not in saved:
            for old in saved.values():  # one upload on disk per session
                discard(Path(old.path).parent)
            saved.clear()
            path = _store(name, data)
            saved[file_id or name] = SavedUpload(str(path), content_sha256(path))
        entry = saved[file_id or name]
    except FormcheckError as exc:
        st.error(plain(exc))
        return None
    except Exception as exc:  # noqa: BLE001
        show_unexpected(exc, f"reading {name}")
        return None
    return review_clip(Path(entry.path), name, settings, sha=entry.sha)


def _store(name: str, data) -> Path:
    """Write the upload into this session's folder, straight from Streamlit's buffer (no second copy in
    memory). A full disk is said so, and leaves nothing behind."""
    folder = app_state.files.new_folder("upload-")
    path = folder / (Path(name).name or "clip.mp4")
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        discard(folder)
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise OutputError("The server's disk is full, so the clip could not be stored. Try again later, "
                              "or ask whoever runs the server to free some space.") from exc
        raise
    return path


def review_path(path: str | Path, settings: Settings | None = None) -> Result | None:
    """Run a file on disk through the same checks as an upload (for tests and scripts)."""
    path = Path(path)
    size = path.stat().st_size if path.exists() else 0
    data = path.read_bytes() if path.exists() else b""
    return handle_upload(path.name, size, data, settings or Settings())
